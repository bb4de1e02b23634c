/**
 * Typed client for Fly's Machines API: apps, IPs, machines, leases, wait, events and (PR apps only) secrets.
 * No Pulumi import: providers build one inside each method, scripts and the benchmark use it directly.
 */
import { isRetryableStatus } from "../retry";
import { createRateLimiter, flyRateKey, scaleLimit } from "../rate-limit";
import type { FlyMachineConfig } from "../release/machine-config";
import { ApiError, HttpClient, TransportOptions, createHttpClient, isApiError, timeScale } from "./http";
import { flyAuthorization, flyErrorText, flyMachinesBaseUrl } from "./fly-auth";

export interface FlyAppInfo {
  id: string;
  name: string;
  status?: string;
  organization?: { name?: string; slug?: string };
}

export interface IpAssignment {
  ip: string;
  region?: string;
  service_name?: string;
  shared?: boolean;
  created_at?: string;
}

export interface CheckStatus {
  name: string;
  status: "passing" | "warning" | "critical" | string;
  output?: string;
}

export interface MachineEvent {
  id?: string;
  type: string;
  status?: string;
  timestamp: number;
  /** Exit details arrive as `exit_event`, or (release machines, older hosts) inside `MonitorEvent`. */
  request?: { exit_event?: ExitEvent; MonitorEvent?: { exit_event?: ExitEvent }; restart_count?: number };
}

export interface ExitEvent {
  exit_code?: number;
  oom_killed?: boolean;
  requested_stop?: boolean;
  restarting?: boolean;
}

export interface Machine {
  id: string;
  name?: string;
  state: string;
  region?: string;
  instance_id?: string;
  config?: FlyMachineConfig;
  image_ref?: { registry?: string; repository?: string; tag?: string; digest?: string };
  checks?: CheckStatus[];
  events?: MachineEvent[];
  host_status?: string;
  cordoned?: boolean;
}

export interface MachineRequest {
  config: FlyMachineConfig;
  region?: string;
  name?: string;
  skip_launch?: boolean;
  skip_service_registration?: boolean;
  lease_ttl?: number;
  min_secrets_version?: number;
  current_version?: string;
  /** Start without the app's secrets (data jobs get only what their config names). */
  skip_secrets?: boolean;
}

export interface Lease {
  nonce: string;
  expires_at?: number;
  owner?: string;
  version?: string;
}

export type WaitState = "started" | "stopped" | "suspended" | "destroyed" | "failed";

/** The only apps whose Fly secrets this program may write: PR preview apps. Everywhere else Infisical's sync owns them. */
export const PR_APP_PATTERN = /^renewa-app-pr-[1-9][0-9]*$/;
export type PrAppName = string & { readonly __brand: "PrAppName" };

export function isPrAppName(name: string): boolean {
  return PR_APP_PATTERN.test(name);
}

/** The only way to get a `PrAppName`, so writing secrets to a development, staging or production app does not compile. */
export function prAppName(name: string): PrAppName {
  if (!PR_APP_PATTERN.test(name)) {
    throw new Error(
      `"${name}" is not a PR preview app (renewa-app-pr-<number>). Fly secrets of development, staging and production apps are owned by Infisical's sync; set them in Infisical.`,
    );
  }
  return name as PrAppName;
}

export interface FlyClientOptions extends TransportOptions {
  baseUrl?: string;
}

/** The wait endpoint blocks for at most this many seconds; longer waits are loops of it. */
export const MAX_WAIT_SECONDS = 60;

/** Thrown by `waitForState` at the caller's deadline; recognise it by `name`. */
export interface WaitTimeoutError extends Error {
  name: "WaitTimeoutError";
  machineId: string;
  state: string;
}

export type FlyMachinesClient = ReturnType<typeof createFlyMachinesClient>;

export function createFlyMachinesClient(options: FlyClientOptions = {}) {
  // Also the length of a Fly second for wait timeouts and rate-limit windows, so a scaled fake and client agree.
  const scale = options.timeScale ?? timeScale();
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.now ?? Date.now;
  const limiter = createRateLimiter(now, sleep);
  const http: HttpClient = createHttpClient({
    service: "Fly Machines API",
    baseUrl: options.baseUrl ?? flyMachinesBaseUrl(),
    authorization: flyAuthorization,
    requestIdHeaders: ["fly-request-id"],
    errorText: flyErrorText,
    backoff: options.backoff,
    timeScale: scale,
    fetch: options.fetch,
    sleep,
    random: options.random,
    now,
    onRetry: options.onRetry,
    beforeRequest: (method, path) => {
      const { key, limit } = flyRateKey(method, path);
      return limiter.acquire(key, scaleLimit(limit, scale));
    },
  });
  const enc = encodeURIComponent;
  const app = (name: string) => `/v1/apps/${enc(name)}`;
  const machine = (name: string, id: string) => `${app(name)}/machines/${enc(id)}`;
  const leaseHeader = (nonce?: string): Record<string, string> => (nonce ? { "fly-machine-lease-nonce": nonce } : {});
  const ignore404 = (err: unknown) => {
    if (!isApiError(err, 404)) throw err;
  };

  async function waitOnce(appName: string, id: string, state: string, seconds: number, version?: string): Promise<boolean> {
    try {
      // Not retried inside http.ts: a 408 here is the answer "not yet", and the caller's loop owns the deadline.
      await http.request("GET", `${machine(appName, id)}/wait`, {
        query: { state, timeout: seconds, version },
        idempotent: false,
        timeoutMs: seconds * 1000 * scale + 15_000,
      });
      return true;
    } catch (err) {
      // 408 is the endpoint's "not yet"; throttling, server errors and dropped connections only cost this round,
      // and the rate limiter keeps the next round from spinning.
      if (isApiError(err) && ((err as ApiError).status === 0 || isRetryableStatus((err as ApiError).status))) return false;
      throw err;
    }
  }

  return {
    /** The app, or undefined when no app has this name. A 403 means the name belongs to another organization. */
    async getApp(name: string): Promise<FlyAppInfo | undefined> {
      try {
        return (await http.request<FlyAppInfo>("GET", app(name))).body;
      } catch (err) {
        if (isApiError(err, 404)) return undefined;
        throw err;
      }
    },
    async createApp(args: { name: string; org: string; network?: string }): Promise<void> {
      // Only what the published spec declares (`CreateAppRequest`): `name`, not the older `app_name`.
      await http.request("POST", "/v1/apps", { body: { name: args.name, org_slug: args.org, network: args.network } });
    },
    async deleteApp(name: string): Promise<void> {
      await http.request("DELETE", app(name)).catch(ignore404);
    },
    async listIpAssignments(name: string): Promise<IpAssignment[]> {
      return (await http.request<{ ips?: IpAssignment[] }>("GET", `${app(name)}/ip_assignments`)).body?.ips ?? [];
    },
    async assignIp(name: string, type: "v4" | "v6" | "shared_v4" | "private_v6"): Promise<IpAssignment> {
      return (await http.request<IpAssignment>("POST", `${app(name)}/ip_assignments`, { body: { type } })).body;
    },
    async listMachines(name: string): Promise<Machine[]> {
      return (await http.request<Machine[]>("GET", `${app(name)}/machines`)).body ?? [];
    },
    async getMachine(name: string, id: string): Promise<Machine> {
      return (await http.request<Machine>("GET", machine(name, id))).body;
    },
    async createMachine(name: string, req: MachineRequest): Promise<Machine> {
      return (await http.request<Machine>("POST", `${app(name)}/machines`, { body: req })).body;
    },
    /** Replaces the whole config. Sending the same config twice converges on the same machine, so it may be retried. */
    async updateMachine(name: string, id: string, req: MachineRequest, nonce?: string): Promise<Machine> {
      return (await http.request<Machine>("POST", machine(name, id), { body: req, headers: leaseHeader(nonce), idempotent: true })).body;
    },
    async startMachine(name: string, id: string, nonce?: string): Promise<void> {
      await http.request("POST", `${machine(name, id)}/start`, { headers: leaseHeader(nonce), idempotent: true });
    },
    async stopMachine(name: string, id: string, nonce?: string): Promise<void> {
      await http.request("POST", `${machine(name, id)}/stop`, { body: {}, headers: leaseHeader(nonce), idempotent: true });
    },
    async cordonMachine(name: string, id: string, nonce?: string): Promise<void> {
      await http.request("POST", `${machine(name, id)}/cordon`, { headers: leaseHeader(nonce), idempotent: true });
    },
    async uncordonMachine(name: string, id: string, nonce?: string): Promise<void> {
      await http.request("POST", `${machine(name, id)}/uncordon`, { headers: leaseHeader(nonce), idempotent: true });
    },
    /**
     * Destroys the machine; one that is already gone counts as destroyed. `force` kills a running machine (the
     * spec's parameter; fly-go's `kill` is not in the spec, so it is not sent).
     */
    async destroyMachine(name: string, id: string, opts: { force?: boolean; nonce?: string } = {}): Promise<void> {
      const query = opts.force ? { force: true } : {};
      await http.request("DELETE", machine(name, id), { query, headers: leaseHeader(opts.nonce) }).catch(ignore404);
    },
    /** Takes the machine's lease; an ApiError with status 409 means someone else holds it. */
    async acquireLease(name: string, id: string, ttlSeconds: number, description: string, nonce?: string): Promise<Lease> {
      const res = await http.request<{ data?: Lease } & Lease>("POST", `${machine(name, id)}/lease`, {
        body: { ttl: ttlSeconds, description },
        headers: leaseHeader(nonce),
      });
      return res.body.data ?? res.body;
    },
    async releaseLease(name: string, id: string, nonce: string): Promise<void> {
      await http.request("DELETE", `${machine(name, id)}/lease`, { headers: leaseHeader(nonce) }).catch(ignore404);
    },
    /**
     * Blocks until the machine reaches `state` (or any of several), looping the wait endpoint (60 s per call at
     * most) until the caller's deadline (ms since epoch), then throws WaitTimeoutError. A machine that is gone
     * (404) has reached "destroyed" when that is all the caller waits for; otherwise the 404 is the caller's to judge
     * (a machine just created may not be visible yet).
     */
    async waitForState(name: string, id: string, states: WaitState | WaitState[], deadline: number, version?: string): Promise<void> {
      const state = [states].flat().join(",");
      for (;;) {
        const remainingMs = deadline - now();
        if (remainingMs <= 0) {
          const message = `machine ${id} of app ${name} did not reach "${state}" before the deadline`;
          // Not a subclass of Error: serialized into a dynamic provider, such a subclass loses its message.
          throw Object.assign(new Error(message), { name: "WaitTimeoutError" as const, machineId: id, state });
        }
        const seconds = Math.min(MAX_WAIT_SECONDS, Math.max(1, Math.ceil(remainingMs / (1000 * scale))));
        try {
          if (await waitOnce(name, id, state, seconds, version)) return;
        } catch (err) {
          if (isApiError(err, 404) && state === "destroyed") return;
          throw err;
        }
      }
    },
    async listEvents(name: string, id: string): Promise<MachineEvent[]> {
      return (await http.request<MachineEvent[]>("GET", `${machine(name, id)}/events`, { query: { limit: 50 } })).body ?? [];
    },
    async listSecrets(name: string): Promise<Array<{ name: string; digest?: string }>> {
      return (await http.request<{ secrets?: Array<{ name: string; digest?: string }> }>("GET", `${app(name)}/secrets`)).body?.secrets ?? [];
    },
    /**
     * Stages secrets (null unsets) and returns the secrets version to send as `min_secrets_version`. Takes only a
     * `PrAppName`, and checks again at run time because a brand is erased once compiled.
     */
    async setSecrets(name: PrAppName, values: Record<string, string | null>): Promise<{ version: number }> {
      prAppName(name);
      const res = await http.request<{ version?: number; Version?: number }>("POST", `${app(name)}/secrets`, {
        body: { values },
        idempotent: true,
      });
      return { version: res.body?.version ?? res.body?.Version ?? 0 };
    },
  };
}
