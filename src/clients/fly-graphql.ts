/**
 * Fly's GraphQL API (`POST {FLY_API_URL}/graphql`), which is still the only way to manage add-ons such as Tigris
 * buckets. Built on the shared HTTP client; GraphQL's own failures (`errors[{message, path, extensions{code}}]`,
 * usually with HTTP 200) become the same ApiError, named after the operation. No Pulumi import: this runs inside
 * deserialized dynamic providers.
 */
import { ApiError, HttpClientOptions, createHttpClient, isApiError, redact, redactBody } from "./http";
import { flyApiBaseUrl, flyAuthorization, flyErrorText } from "./fly-auth";

export const FLY_GRAPHQL_SERVICE = "Fly GraphQL API";

export interface GraphqlErrorEntry {
  message: string;
  path?: Array<string | number>;
  extensions?: { code?: string };
}

export interface GraphqlRequestOptions {
  /**
   * True for a mutation that is not safe to repeat: it is retried only on 429 and refused connections, where the
   * server certainly did not act. Queries and repeat-safe mutations (delete) are retried on 5xx and timeouts too.
   */
  unsafeToRepeat?: boolean;
}

export interface FlyGraphql {
  request<T>(operationName: string, query: string, variables?: Record<string, unknown>, options?: GraphqlRequestOptions): Promise<T>;
}

/** Path shown in errors, so a failure names the operation: `POST /graphql (CreateAddOn): …`. */
function operationPath(operationName: string): string {
  return `/graphql (${operationName})`;
}

function describeError(e: GraphqlErrorEntry): string {
  const where = e.path?.length ? ` at ${e.path.join(".")}` : "";
  const code = e.extensions?.code ? ` [${e.extensions.code}]` : "";
  return `${e.message ?? "unknown error"}${where}${code}`;
}

/** The server's text inside an ApiError's message, without the call, status and request id around it. */
function apiErrorText(err: ApiError): string {
  const prefix = `${err.method} ${err.path}: ${err.status === 0 ? "no response:" : err.status} `;
  const text = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  return err.requestId ? text.replace(` (request id ${err.requestId})`, "") : text;
}

/** The GraphQL errors an ApiError from this client carries (empty for transport errors). */
export function graphqlErrors(err: unknown): GraphqlErrorEntry[] {
  if (!isApiError(err)) return [];
  const body = err.body as { errors?: unknown } | undefined;
  return Array.isArray(body?.errors) ? (body!.errors as GraphqlErrorEntry[]) : [];
}

/**
 * Whether a call failed only because `field` does not exist: Fly answers a missing top-level object with
 * `data.<field> = null` and NOT_FOUND errors on that path. Other errors alongside mean something else went wrong.
 */
export function isGraphqlNotFound(err: unknown, field: string): boolean {
  const errors = graphqlErrors(err);
  return (
    errors.length > 0 &&
    errors.every(
      (e) => (e.extensions?.code === "NOT_FOUND" || /not found|could not find/i.test(e.message ?? "")) && (!e.path || e.path[0] === field),
    )
  );
}

/** A Fly GraphQL client; FLY_API_TOKEN is read at each call, never stored. */
export function flyGraphql(overrides: Partial<HttpClientOptions> = {}): FlyGraphql {
  const http = createHttpClient({
    service: FLY_GRAPHQL_SERVICE,
    baseUrl: flyApiBaseUrl(),
    authorization: flyAuthorization,
    requestIdHeaders: ["fly-request-id", "x-request-id"],
    errorText: flyErrorText,
    ...overrides,
  });

  return {
    async request<T>(operationName: string, query: string, variables: Record<string, unknown> = {}, options: GraphqlRequestOptions = {}) {
      let res;
      try {
        res = await http.request<{ data?: T | null; errors?: GraphqlErrorEntry[] }>("POST", "/graphql", {
          body: { operationName, query, variables },
          idempotent: !options.unsafeToRepeat,
        });
      } catch (err) {
        if (!isApiError(err)) throw err;
        // Re-issued once with the operation in the path: every GraphQL call shares one URL, so without it the
        // message would not say which call failed.
        throw new ApiError({
          service: err.service,
          method: err.method,
          path: operationPath(operationName),
          status: err.status,
          text: apiErrorText(err),
          body: err.body,
          requestId: err.requestId,
          cause: err.cause,
        });
      }
      const errors = res.body?.errors;
      if (Array.isArray(errors) && errors.length > 0) {
        // GraphQL reports failures with HTTP 200, past the transport's redaction of error responses.
        const secrets = [flyAuthorization()];
        throw new ApiError({
          service: FLY_GRAPHQL_SERVICE,
          method: "POST",
          path: operationPath(operationName),
          status: res.status,
          text: redact(errors.map(describeError).join("; "), secrets),
          body: redactBody({ errors }, secrets),
          requestId: res.requestId,
        });
      }
      if (!res.body || res.body.data === undefined || res.body.data === null) {
        throw new ApiError({
          service: FLY_GRAPHQL_SERVICE,
          method: "POST",
          path: operationPath(operationName),
          status: res.status,
          text: "response has neither data nor errors",
          requestId: res.requestId,
        });
      }
      return res.body.data;
    },
  };
}
