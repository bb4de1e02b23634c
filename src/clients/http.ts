/**
 * The one fetch wrapper every REST client builds on: timeouts, retries with backoff and jitter, Retry-After, and
 * errors that say which call failed and how. Written by hand because the libraries that do this (ofetch, got, ky)
 * are ESM-only or pull a second HTTP stack into every serialized dynamic provider; Node 20's global fetch is enough.
 * No Pulumi import here: clients must run inside a deserialized provider and in plain scripts alike.
 */
import {
  BackoffPolicy,
  DEFAULT_BACKOFF,
  backoffDelay,
  isRetryableNetworkError,
  isRetryableStatus,
  parseRetryAfter,
} from "../retry";

export type Query = Record<string, string | number | boolean | undefined>;

export interface RetryInfo {
  service: string;
  method: string;
  path: string;
  attempt: number;
  delayMs: number;
  reason: string;
}

/** The injectable parts of a client's transport: tests and benchmarks swap clock, randomness and fetch. */
export type TransportOptions = Pick<HttpClientOptions, "backoff" | "fetch" | "sleep" | "random" | "now" | "onRetry" | "timeScale">;

export interface HttpClientOptions {
  /** Human name of the API, used in errors: "Fly Machines API". */
  service: string;
  baseUrl: string;
  /** Headers sent with every request (an API version pin, say); a request's own headers win. */
  headers?: Record<string, string>;
  /** Value of the Authorization header, read at the moment of each call so tokens are never held. */
  authorization?: () => string | undefined;
  /** Response headers that carry the server's request id, first match wins. */
  requestIdHeaders?: string[];
  /** Pulls the server's error text out of an error body. */
  errorText?: (body: unknown) => string | undefined;
  timeoutMs?: number;
  backoff?: BackoffPolicy;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
  onRetry?: (info: RetryInfo) => void;
  /** Multiplies backoff delays (not the per-call timeout). @default timeScale(), i.e. RENEWA_TIME_SCALE */
  timeScale?: number;
  /** Awaited before every attempt; clients use it for rate-limit pacing. */
  beforeRequest?: (method: string, path: string) => Promise<void>;
}

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  /** Safe to send twice. Defaults to true for GET/HEAD/PUT/DELETE, false for POST/PATCH. */
  idempotent?: boolean;
  timeoutMs?: number;
  /**
   * Credentials carried in this request's body (a token handed to another service, a client secret): removed from
   * the error's message and body should the server echo them, as the Authorization header always is.
   */
  redact?: string[];
}

export interface HttpResponse<T> {
  status: number;
  body: T;
  headers: Headers;
  requestId?: string;
}

/** A failed API call. `status` is 0 when no HTTP response arrived. The message never contains credentials. */
export class ApiError extends Error {
  readonly service: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly body: unknown;
  readonly requestId?: string;

  constructor(args: {
    service: string;
    method: string;
    path: string;
    status: number;
    text: string;
    body?: unknown;
    requestId?: string;
    cause?: unknown;
  }) {
    const rid = args.requestId ? ` (request id ${args.requestId})` : "";
    const status = args.status === 0 ? "no response:" : `${args.status}`;
    const message = `${args.method} ${args.path}: ${status} ${args.text}${rid}`;
    super(message, { cause: args.cause });
    // Set again because a dynamic provider's serialized copy of this class calls Error as a plain function
    // (`__super.call(this, …)`), which leaves `this.message` unset and the engine would report "undefined".
    this.message = message;
    this.name = "ApiError";
    this.service = args.service;
    this.method = args.method;
    this.path = args.path;
    this.status = args.status;
    this.body = args.body;
    this.requestId = args.requestId;
  }
}

export function isApiError(err: unknown, status?: number): err is ApiError {
  // By name, not `instanceof Error`: in a dynamic provider's serialized copy, ApiError is a plain function whose
  // instances do not inherit from Error.
  return (
    typeof err === "object" &&
    err !== null &&
    (err as { name?: unknown }).name === "ApiError" &&
    (status === undefined || (err as ApiError).status === status)
  );
}

export interface HttpClient {
  readonly service: string;
  request<T = unknown>(method: string, path: string, options?: RequestOptions): Promise<HttpResponse<T>>;
}

function defaultErrorText(body: unknown): string | undefined {
  if (typeof body === "string") return body.slice(0, 500) || undefined;
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    for (const key of ["error", "message", "detail"]) {
      if (typeof b[key] === "string") return b[key] as string;
    }
    if (Array.isArray(b.errors) && b.errors.length > 0) {
      return b.errors.map((e) => (typeof e === "string" ? e : (e as { message?: string }).message)).join("; ");
    }
  }
  return undefined;
}

/** `text` with every given secret (and its bare token, without a `Bearer`/`FlyV1` scheme) replaced by `[redacted]`. */
export function redact(text: string, secrets: Array<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret) continue;
    const raw = secret.replace(/^(Bearer|FlyV1|Basic|token)\s+/i, "");
    for (const s of [secret, raw]) if (s.length >= 4) out = out.split(s).join("[redacted]");
  }
  return out;
}

/** An error body with the secrets taken out; JSON bodies go through their text so nested fields are covered too. */
export function redactBody(body: unknown, secrets: Array<string | undefined>): unknown {
  if (typeof body === "string") return redact(body, secrets);
  if (body === undefined || body === null || typeof body !== "object") return body;
  const text = JSON.stringify(body);
  const clean = redact(text, secrets);
  if (clean === text) return body;
  try {
    return JSON.parse(clean);
  } catch {
    return clean;
  }
}

/**
 * `RENEWA_TIME_SCALE` (default 1): one factor for every client-side wait (retry backoff, status polls, Fly rate-limit
 * pacing and Fly-side timeouts), so tests and the benchmark run against fakes faster than real time. Read when a
 * client is built, which is inside provider methods, never at module load.
 */
export function timeScale(): number {
  const raw = process.env.RENEWA_TIME_SCALE;
  const scale = raw ? Number(raw) : 1;
  if (!(scale > 0 && scale <= 1)) throw new Error(`RENEWA_TIME_SCALE must be a number in (0, 1], got "${raw}".`);
  return scale;
}

export function buildUrl(baseUrl: string, path: string, query?: Query): string {
  const url = new URL(baseUrl.replace(/\/+$/, "") + path);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  return url.toString();
}

export function createHttpClient(options: HttpClientOptions): HttpClient {
  const doFetch = options.fetch ?? globalThis.fetch;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const base = options.backoff ?? DEFAULT_BACKOFF;
  const scale = options.timeScale ?? timeScale();
  const policy = { ...base, baseMs: base.baseMs * scale, capMs: base.capMs * scale };
  const errorText = options.errorText ?? defaultErrorText;

  async function request<T>(method: string, path: string, req: RequestOptions = {}): Promise<HttpResponse<T>> {
    const idempotent = req.idempotent ?? !["POST", "PATCH"].includes(method);
    const url = buildUrl(options.baseUrl, path, req.query);
    const auth = options.authorization?.();
    const headers: Record<string, string> = { accept: "application/json", ...(options.headers ?? {}), ...(req.headers ?? {}) };
    if (auth) headers.authorization = auth;
    if (req.body !== undefined) headers["content-type"] = "application/json";
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);

    for (let attempt = 0; ; attempt++) {
      await options.beforeRequest?.(method, path);
      let res: Response;
      try {
        res = await doFetch(url, {
          method,
          headers,
          body,
          signal: AbortSignal.timeout(req.timeoutMs ?? options.timeoutMs ?? 30_000),
        });
      } catch (err) {
        // A connection refused never reached the server, so even a POST may go again.
        const refused = (err as { cause?: { code?: string } })?.cause?.code === "ECONNREFUSED";
        const retryable = isRetryableNetworkError(err) && (idempotent || refused);
        if (retryable && attempt < policy.maxRetries) {
          const delayMs = backoffDelay(attempt, policy, random);
          options.onRetry?.({ service: options.service, method, path, attempt, delayMs, reason: networkReason(err) });
          await sleep(delayMs);
          continue;
        }
        throw new ApiError({
          service: options.service,
          method,
          path,
          status: 0,
          text: `${networkReason(err)} calling ${options.service} after ${attempt + 1} attempt(s)`,
          cause: err,
        });
      }

      const requestId = (options.requestIdHeaders ?? ["x-request-id"]).map((h) => res.headers.get(h)).find(Boolean) ?? undefined;
      const parsed = await readBody(res);
      if (res.ok) return { status: res.status, body: parsed as T, headers: res.headers, requestId };

      // 429 means the server did not act on the request, so any method may be repeated.
      const retryable = isRetryableStatus(res.status) && (idempotent || res.status === 429);
      if (retryable && attempt < policy.maxRetries) {
        const retryAfter = parseRetryAfter(res.headers.get("retry-after"), now());
        const delayMs = backoffDelay(attempt, policy, random, retryAfter);
        options.onRetry?.({ service: options.service, method, path, attempt, delayMs, reason: `${res.status}` });
        await sleep(delayMs);
        continue;
      }
      const secrets = [auth, ...(req.redact ?? [])];
      const text = redact(errorText(parsed) ?? res.statusText ?? "error", secrets);
      throw new ApiError({
        service: options.service,
        method,
        path,
        status: res.status,
        text,
        body: redactBody(parsed, secrets),
        requestId,
      });
    }
  }

  return { service: options.service, request };
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function networkReason(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError") return "timed out";
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? "network error";
}

/** Reads a variable at call time and explains what to do when it is missing. */
export function requireEnv(name: string, purpose: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set. It is needed to ${purpose}; export it in the shell or CI job that runs Pulumi (it is never read from stack config).`);
  }
  return value;
}
