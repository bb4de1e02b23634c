/**
 * api.fly.io's REST API (what flyctl calls "uiex"): release records, the entries `fly releases` lists, and a
 * machine's recent logs. flyctl creates one record per deploy and moves it through running → complete | failed |
 * interrupted; doing the same keeps Fly's dashboard history truthful for rollouts made by this program.
 */
import { TransportOptions, createHttpClient } from "./http";
import { flyApiBaseUrl, flyAuthorization, flyErrorText } from "./fly-auth";

export interface FlyRelease {
  id: string;
  version: number;
  status?: string;
  image_ref?: string;
}

export type ReleaseStatus = "running" | "complete" | "failed" | "interrupted";

export interface FlyReleasesClientOptions extends TransportOptions {
  baseUrl?: string;
}

export type FlyReleasesClient = ReturnType<typeof createFlyReleasesClient>;

export function createFlyReleasesClient(options: FlyReleasesClientOptions = {}) {
  const { baseUrl, ...transport } = options;
  const http = createHttpClient({
    service: "Fly API",
    baseUrl: baseUrl ?? flyApiBaseUrl(),
    authorization: flyAuthorization,
    requestIdHeaders: ["fly-request-id", "x-request-id"],
    errorText: flyErrorText,
    ...transport,
  });

  return {
    async createRelease(args: { app: string; image: string; strategy: string; definition: unknown }): Promise<FlyRelease> {
      const res = await http.request<{ release: FlyRelease }>("POST", "/api/v1/releases", {
        body: { app_name: args.app, image: args.image, strategy: args.strategy.toUpperCase(), definition: args.definition, build_id: 0 },
      });
      return res.body.release;
    },
    async updateRelease(id: string, status: ReleaseStatus, metadata?: Record<string, unknown>): Promise<void> {
      await http.request("PATCH", `/api/v1/releases/${encodeURIComponent(id)}`, { body: { status, metadata }, idempotent: true });
    },
    /** The newest log lines of one machine (`fly logs -i <id> --no-tail`), oldest first. */
    async machineLogs(app: string, machineId: string): Promise<string[]> {
      const res = await http.request<{ data?: Array<{ attributes?: { message?: string; timestamp?: string } }> }>(
        "GET",
        `/api/v1/apps/${encodeURIComponent(app)}/logs`,
        { query: { instance: machineId } },
      );
      return (res.body?.data ?? []).map((e) => e.attributes?.message ?? "").filter(Boolean);
    },
  };
}
