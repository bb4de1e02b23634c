/**
 * Fly Managed Postgres through the Machines API (`/v1/postgres…`), the surface in Fly's current OpenAPI spec and in
 * fly-go. FLY_API_TOKEN is read at each call (MPG accepts only macaroon tokens, sent as `FlyV1 …`). Every read is
 * tolerant of the two shapes seen in the wild: `{data: X}` (the spec) and a bare `X`; and of the older `postgresv2`
 * credential fields (`user`, `pgbouncer_uri`), because the route is new and its shapes are not settled.
 */
import { flyAuthorization, flyErrorText, flyMachinesBaseUrl } from "./fly-auth";
import { HttpClientOptions, createHttpClient, isApiError, timeScale } from "./http";

export type PostgresClusterStatus = "creating" | "initializing" | "ready" | "deleting" | "deleted" | "failed";

export interface PostgresEndpoint {
  host: string;
  port: number;
}

export interface PostgresCluster {
  id: string;
  name?: string;
  status: PostgresClusterStatus | string;
  region?: string;
  plan?: string;
  organization?: { slug?: string };
  endpoints?: { primary?: { direct?: PostgresEndpoint; pooler?: PostgresEndpoint } };
  attached_apps?: Array<{ name: string }>;
  /** RFC 3339; in the cluster list. */
  created_at?: string;
}

export interface PostgresUser {
  username: string;
  role?: "schema_admin" | "writer" | "reader" | string;
}

export interface PostgresUserCredentials {
  username: string;
  password: string;
  /** Only the older `postgresv2` shape carries these. */
  dbname?: string;
  pgbouncerUri?: string;
}

export interface PostgresBackup {
  id: string;
  type?: "full" | "incr" | "diff" | string;
  status?: string;
  started_at?: string;
  finished_at?: string;
  size_bytes?: number;
}

export type FlyPostgresClientOptions = Partial<HttpClientOptions>;

/** Pause between status polls (cluster readiness, backups), as `fly mpg create` polls; scaled by RENEWA_TIME_SCALE. */
const POLL_MS = 5_000;

/**
 * The spec's only example status is "completed"; the other words are what backup tooling commonly reports. Plain
 * arrays inside the function, because a module-level Set does not survive a dynamic provider's serialization.
 */
export function backupState(status: string | undefined): "done" | "failed" | "running" {
  const s = (status ?? "").toLowerCase();
  if (["completed", "complete", "succeeded", "success", "done"].includes(s)) return "done";
  if (["failed", "error", "errored", "cancelled", "canceled"].includes(s)) return "failed";
  return "running";
}

function data<T>(body: unknown): T {
  return (body && typeof body === "object" && "data" in body ? (body as { data: T }).data : body) as T;
}

function parseEndpoint(raw: unknown): PostgresEndpoint | undefined {
  const e = raw as { host?: string; port?: number | string } | undefined;
  if (!e?.host) return undefined;
  return { host: e.host, port: Number(e.port ?? 5432) };
}

/** The pooled (PgBouncer) and direct endpoints of a cluster, from `endpoints.primary` or a flat `endpoints`. */
export function clusterEndpoints(cluster: PostgresCluster, creds?: PostgresUserCredentials): { pooler?: PostgresEndpoint; direct?: PostgresEndpoint } {
  const eps = cluster.endpoints as Record<string, any> | undefined;
  const node = eps?.primary ?? eps;
  let pooler = parseEndpoint(node?.pooler);
  const direct = parseEndpoint(node?.direct);
  if (!pooler && creds?.pgbouncerUri) {
    const u = new URL(creds.pgbouncerUri);
    pooler = { host: u.hostname, port: Number(u.port || 5432) };
  }
  return { pooler, direct };
}

/** `postgres://user:password@host:port/database`, each part percent-encoded. */
export function connectionUrl(endpoint: PostgresEndpoint, creds: { username: string; password: string }, database: string): string {
  const e = encodeURIComponent;
  return `postgres://${e(creds.username)}:${e(creds.password)}@${endpoint.host}:${endpoint.port}/${e(database)}`;
}

export function createFlyPostgresClient(options: FlyPostgresClientOptions = {}) {
  const http = createHttpClient({
    service: "Fly Machines API",
    baseUrl: flyMachinesBaseUrl(),
    authorization: flyAuthorization,
    requestIdHeaders: ["fly-request-id", "x-request-id"],
    errorText: flyErrorText,
    ...options,
  });
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.now ?? Date.now;
  const pollMs = POLL_MS * (options.timeScale ?? timeScale());
  const base = (id: string) => `/v1/postgres/${encodeURIComponent(id)}`;

  /** Runs `fn`; a 404 (or 410, "cluster deleted") becomes `undefined`. */
  async function orMissing<T>(fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      if (isApiError(err, 404) || isApiError(err, 410)) return undefined;
      throw err;
    }
  }

  const client = {
    async listClusters(org: string): Promise<PostgresCluster[]> {
      const res = await http.request("GET", "/v1/postgres", { query: { org_slug: org } });
      return data<PostgresCluster[]>(res.body) ?? [];
    },

    /** The cluster, or undefined when Fly says it does not exist (404) or was deleted (410). */
    async getCluster(id: string): Promise<PostgresCluster | undefined> {
      return orMissing(async () => data<PostgresCluster>((await http.request("GET", base(id))).body));
    },

    /** Polls while the cluster is creating or initializing (a fresh restore); returns it in whatever state it settles. */
    async waitForClusterSettled(id: string, timeoutMs: number): Promise<PostgresCluster | undefined> {
      const deadline = now() + timeoutMs;
      for (;;) {
        const cluster = await client.getCluster(id);
        if (!cluster || !["creating", "initializing"].includes(cluster.status) || now() >= deadline) return cluster;
        await sleep(pollMs);
      }
    },

    async listUsers(id: string): Promise<PostgresUser[]> {
      return data<PostgresUser[]>((await http.request("GET", `${base(id)}/users`)).body) ?? [];
    },

    /** Creates a user; an existing one (409) is kept as it is. Returns whether it was created. */
    async ensureUser(id: string, username: string, role: string): Promise<boolean> {
      try {
        await http.request("POST", `${base(id)}/users`, { body: { username, role } });
        return true;
      } catch (err) {
        if (isApiError(err, 409)) return false;
        throw err;
      }
    },

    /** Deletes a user; false when it (or the cluster) was already gone. */
    async deleteUser(id: string, username: string): Promise<boolean> {
      return (await orMissing(() => http.request("DELETE", `${base(id)}/users/${encodeURIComponent(username)}`))) !== undefined;
    },

    async getCredentials(id: string, username: string): Promise<PostgresUserCredentials> {
      const res = await http.request("GET", `${base(id)}/users/${encodeURIComponent(username)}/credentials`);
      const body = res.body as Record<string, any>;
      const c = (body?.data ?? body?.credentials ?? body) as Record<string, string>;
      return { username: c.username ?? c.user ?? username, password: c.password, dbname: c.dbname, pgbouncerUri: c.pgbouncer_uri };
    },

    async listDatabases(id: string): Promise<string[]> {
      const list = data<Array<{ name: string }>>((await http.request("GET", `${base(id)}/databases`)).body) ?? [];
      return list.map((d) => d.name);
    },

    /**
     * Creates a database unless it exists. The spec documents no "already exists" status (only 400/422 for bad names),
     * so any refusal is checked against the list before it counts as a failure.
     */
    async ensureDatabase(id: string, name: string): Promise<boolean> {
      try {
        await http.request("POST", `${base(id)}/databases`, { body: { name } });
        return true;
      } catch (err) {
        if (isApiError(err) && [400, 409, 422].includes(err.status) && (await client.listDatabases(id)).includes(name)) return false;
        throw err;
      }
    },

    async deleteDatabase(id: string, name: string): Promise<boolean> {
      return (await orMissing(() => http.request("DELETE", `${base(id)}/databases/${encodeURIComponent(name)}`))) !== undefined;
    },

    async listBackups(id: string): Promise<PostgresBackup[]> {
      return data<PostgresBackup[]>((await http.request("GET", `${base(id)}/backups`)).body) ?? [];
    },

    /**
     * Starts a backup and waits for it to finish. The POST answers 202 with no body, so the new backup is found by
     * listing before and after. A 409 means one is already running: that one started before anything this run does to
     * the schema, so it is as good a pre-deploy backup as a new one, and it is waited for instead.
     */
    async createBackup(id: string, type: string, timeoutMs: number): Promise<PostgresBackup & { reused: boolean }> {
      const before = new Set((await client.listBackups(id)).map((b) => b.id));
      let reused = false;
      try {
        await http.request("POST", `${base(id)}/backups`, { body: { type } });
      } catch (err) {
        if (!isApiError(err, 409)) throw err;
        reused = true;
      }
      const deadline = now() + timeoutMs;
      let target: string | undefined;
      for (;;) {
        const backups = await client.listBackups(id);
        // A reused backup may already have finished by the first look; then it is the newest one.
        target ??= reused
          ? (backups.find((b) => backupState(b.status) === "running") ?? newest(backups))?.id
          : newest(backups.filter((b) => !before.has(b.id)))?.id;
        const mine = backups.find((b) => b.id === target);
        if (mine && backupState(mine.status) === "done") return { ...mine, reused };
        if (mine && backupState(mine.status) === "failed") {
          throw new Error(`Backup ${mine.id} of MPG cluster ${id} failed (status "${mine.status}"). See \`fly mpg backup list ${id}\`.`);
        }
        if (now() >= deadline) {
          const what = mine ? `backup ${mine.id} is still "${mine.status}"` : "the new backup never appeared in the backup list";
          throw new Error(`Timed out after ${Math.round(timeoutMs / 1000)} s waiting for a backup of MPG cluster ${id}: ${what}. Check \`fly mpg backup list ${id}\`, then run \`pulumi up\` again.`);
        }
        await sleep(pollMs);
      }
    },

    /**
     * Restores a backup into a NEW cluster (Path B); the source is untouched. `name` is sent as flyctl's postgresv2
     * restore sends it; the Machines API spec declares only `backup_id`, so whether it is honoured there is
     * unconfirmed: callers compare the returned name and keep the id, which is what they clean up by.
     */
    async restore(id: string, backupId: string, name?: string): Promise<PostgresCluster> {
      const body = name ? { backup_id: backupId, name } : { backup_id: backupId };
      return data<PostgresCluster>((await http.request("POST", `${base(id)}/restore`, { body })).body);
    },

    /** Deletes a cluster (Fly removes it asynchronously); false when it was already gone (404, or 410 "deleted"). */
    async deleteCluster(id: string): Promise<boolean> {
      return (await orMissing(() => http.request("DELETE", base(id)))) !== undefined;
    },

    /**
     * Gives the user a new password and returns it; its existing sessions end. Safe to repeat (a second rotation
     * just gives another password, and only the answer's is used), so it is retried like a read.
     */
    async rotatePassword(id: string, username: string): Promise<PostgresUserCredentials> {
      const res = await http.request("POST", `${base(id)}/users/${encodeURIComponent(username)}/rotate_password`, { body: { kill_sessions: true }, idempotent: true });
      const c = (data<Record<string, string>>(res.body) ?? {}) as Record<string, string>;
      return { username: c.username ?? username, password: c.password };
    },
  };
  return client;
}

/** The newest backup that finished successfully (by finish time, else start time); undefined when none has. */
export function latestCompletedBackup(backups: PostgresBackup[]): PostgresBackup | undefined {
  const when = (b: PostgresBackup) => b.finished_at ?? b.started_at ?? "";
  return backups.filter((b) => backupState(b.status) === "done").sort((a, b) => when(b).localeCompare(when(a)))[0];
}

function newest(backups: PostgresBackup[]): PostgresBackup | undefined {
  return [...backups].sort((a, b) => (b.started_at ?? "").localeCompare(a.started_at ?? ""))[0];
}
