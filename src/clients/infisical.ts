/**
 * Infisical's REST API: projects, v4 secrets, the Fly.io app connection and the Fly.io secret sync. Credentials are
 * read when a client is built inside a provider method: INFISICAL_TOKEN (an access token), or INFISICAL_CLIENT_ID +
 * INFISICAL_CLIENT_SECRET for a universal-auth login. The access token lives only as long as that one client.
 * Secret values are sent, never logged, and lists are requested with `viewSecretValue=false` so none come back.
 */
import { HttpClient, HttpClientOptions, RequestOptions, createHttpClient, isApiError, requireEnv, timeScale } from "./http";
import { assertFlyToken, assertSyncOptionsKept, assertWritten } from "./infisical-checks";

export const INFISICAL_API_DEFAULT = "https://eu.infisical.com";

export function infisicalBaseUrl(): string {
  return process.env.INFISICAL_API_URL || INFISICAL_API_DEFAULT;
}

export interface SecretLocation {
  projectId: string;
  environment: string;
  secretPath: string;
}

export type FlySyncStatus = "pending" | "running" | "succeeded" | "failed";

export interface FlySecretSync {
  id: string;
  name: string;
  projectId: string;
  connectionId: string;
  isAutoSyncEnabled?: boolean;
  environment?: { slug: string } | null;
  folder?: { path: string } | null;
  destinationConfig?: { appId?: string; appName?: string };
  syncOptions?: { disableSecretDeletion?: boolean; autoRedeploy?: boolean; keySchema?: string };
  syncStatus?: FlySyncStatus | null;
  lastSyncJobId?: string | null;
  lastSyncMessage?: string | null;
  lastSyncedAt?: string | null;
}

export interface FlySecretSyncConfig {
  name: string;
  projectId: string;
  connectionId: string;
  environment: string;
  secretPath: string;
  appId: string;
  appName: string;
  description?: string;
}

export interface FlyAppConnection {
  id: string;
  name: string;
  credentialsHash?: string;
}

export type InfisicalClientOptions = Partial<HttpClientOptions>;

/** Pause between sync-status polls; scaled by RENEWA_TIME_SCALE. */
const POLL_MS = 2_000;

/** Infisical's errors are Fastify's: `{statusCode, error: "Not Found", message: "<the useful part>", reqId}`. */
function infisicalErrorText(body: unknown): string | undefined {
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    if (typeof b.message === "string") return b.message;
    if (typeof b.error === "string") return b.error;
  }
  return typeof body === "string" && body ? body.slice(0, 500) : undefined;
}

/** A 404 for an unknown route (a deployment without v4 secret routes), as opposed to "project not found". */
function isMissingRoute(err: unknown): boolean {
  return isApiError(err, 404) && /\broute\b/i.test(err.message);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createInfisicalClient(options: InfisicalClientOptions = {}) {
  const baseUrl = infisicalBaseUrl();
  let accessToken = process.env.INFISICAL_TOKEN || undefined;
  const common = {
    baseUrl,
    requestIdHeaders: ["x-request-id"],
    errorText: infisicalErrorText,
    ...options,
  };
  const http: HttpClient = createHttpClient({ service: "Infisical API", ...common, authorization: () => `Bearer ${accessToken}` });
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.now ?? Date.now;
  const pollMs = POLL_MS * (options.timeScale ?? timeScale());

  async function login(): Promise<void> {
    if (accessToken) return;
    const clientId = requireEnv("INFISICAL_CLIENT_ID", "log in to Infisical with universal auth (or export INFISICAL_TOKEN instead)");
    const clientSecret = requireEnv("INFISICAL_CLIENT_SECRET", "log in to Infisical with universal auth (or export INFISICAL_TOKEN instead)");
    const anonymous = createHttpClient({ service: "Infisical API", ...common });
    // A login that reached the server but lost its answer is safe to repeat: it only mints another token.
    const res = await anonymous.request<{ accessToken: string }>("POST", "/api/v1/auth/universal-auth/login", {
      body: { clientId, clientSecret },
      idempotent: true,
      redact: [clientSecret],
    });
    accessToken = res.body.accessToken;
  }

  async function call<T>(method: string, path: string, req?: RequestOptions): Promise<T> {
    await login();
    return (await http.request<T>(method, path, req)).body;
  }

  const syncs = "/api/v1/secret-syncs/flyio";
  const connections = "/api/v1/app-connections/flyio";

  const client = {
    /** A project id from a slug or an id. */
    async resolveProjectId(project: string): Promise<string> {
      if (UUID.test(project)) return project;
      const body = await call<{ projects?: Array<{ id: string; slug: string }> }>("GET", "/api/v1/projects");
      const found = (body.projects ?? []).find((p) => p.slug === project || p.id === project);
      if (!found) {
        throw new Error(`Infisical project "${project}" not found at ${baseUrl} (or the machine identity is not a member of it). Add the identity to the project with a role that can manage secrets and secret syncs.`);
      }
      return found.id;
    },

    /** Names of the secrets in a folder; values are not requested. Falls back to v3 raw where v4 is not served. */
    async listSecretKeys(loc: SecretLocation): Promise<string[]> {
      try {
        const body = await call<{ secrets: Array<{ secretKey: string }> }>("GET", "/api/v4/secrets", {
          query: { ...loc, viewSecretValue: false, expandSecretReferences: false },
        });
        return body.secrets.map((s) => s.secretKey);
      } catch (err) {
        if (!isMissingRoute(err)) throw err;
        // v3 also defaults viewSecretValue to true: ask for names only here too.
        const body = await call<{ secrets: Array<{ secretKey: string }> }>("GET", "/api/v3/secrets/raw", {
          query: { workspaceId: loc.projectId, environment: loc.environment, secretPath: loc.secretPath, expandSecretReferences: false, viewSecretValue: false },
        });
        return body.secrets.map((s) => s.secretKey);
      }
    },

    /**
     * Creates or updates secrets in one call (v4 batch `mode: "upsert"`). v3 has no upsert, so on a deployment without
     * v4 the names are listed and split into a batch update and a batch create.
     */
    async upsertSecrets(loc: SecretLocation, secrets: Record<string, string>): Promise<void> {
      const items = Object.entries(secrets).map(([secretKey, secretValue]) => ({ secretKey, secretValue }));
      if (items.length === 0) return;
      try {
        // Upsert writes the same values again on a repeat, so a lost answer may be retried.
        const written = await call("PATCH", "/api/v4/secrets/batch", { body: { ...loc, mode: "upsert", secrets: items }, idempotent: true });
        assertWritten(written, `${items.length} secret(s)`, loc, baseUrl);
        return;
      } catch (err) {
        if (!isMissingRoute(err)) throw err;
        const existing = new Set(await client.listSecretKeys(loc));
        const v3 = { workspaceId: loc.projectId, environment: loc.environment, secretPath: loc.secretPath };
        const update = items.filter((i) => existing.has(i.secretKey));
        const create = items.filter((i) => !existing.has(i.secretKey));
        if (update.length) assertWritten(await call("PATCH", "/api/v3/secrets/batch/raw", { body: { ...v3, secrets: update }, idempotent: true }), `${update.length} secret(s)`, loc, baseUrl);
        if (create.length) assertWritten(await call("POST", "/api/v3/secrets/batch/raw", { body: { ...v3, secrets: create } }), `${create.length} secret(s)`, loc, baseUrl);
      }
    },

    /** Deletes the named secrets that exist; names already gone are skipped. */
    async deleteSecrets(loc: SecretLocation, keys: string[]): Promise<void> {
      const present = new Set(await client.listSecretKeys(loc));
      const secrets = keys.filter((k) => present.has(k)).map((secretKey) => ({ secretKey }));
      if (secrets.length === 0) return;
      try {
        assertWritten(await call("DELETE", "/api/v4/secrets/batch", { body: { ...loc, secrets } }), `the deletion of ${secrets.length} secret(s)`, loc, baseUrl);
      } catch (err) {
        if (!isMissingRoute(err)) throw err;
        const v3 = { workspaceId: loc.projectId, environment: loc.environment, secretPath: loc.secretPath };
        assertWritten(await call("DELETE", "/api/v3/secrets/batch/raw", { body: { ...v3, secrets } }), `the deletion of ${secrets.length} secret(s)`, loc, baseUrl);
      }
    },

    async getFlyConnectionByName(name: string): Promise<FlyAppConnection | undefined> {
      try {
        return (await call<{ appConnection: FlyAppConnection }>("GET", `${connections}/connection-name/${encodeURIComponent(name)}`)).appConnection;
      } catch (err) {
        if (isApiError(err, 404)) return undefined;
        throw err;
      }
    },

    async getFlyConnection(id: string): Promise<FlyAppConnection | undefined> {
      try {
        return (await call<{ appConnection: FlyAppConnection }>("GET", `${connections}/${id}`)).appConnection;
      } catch (err) {
        if (isApiError(err, 404)) return undefined;
        throw err;
      }
    },

    async createFlyConnection(name: string, description: string, accessToken: string): Promise<FlyAppConnection> {
      assertFlyToken(accessToken);
      const body = { name, description, method: "access-token", credentials: { accessToken } };
      return (await call<{ appConnection: FlyAppConnection }>("POST", connections, { body, redact: [accessToken] })).appConnection;
    },

    async updateFlyConnection(id: string, patch: { name?: string; description?: string; accessToken?: string }): Promise<FlyAppConnection> {
      if (patch.accessToken !== undefined) assertFlyToken(patch.accessToken);
      const body = {
        name: patch.name,
        description: patch.description,
        credentials: patch.accessToken ? { accessToken: patch.accessToken } : undefined,
      };
      const redact = patch.accessToken ? [patch.accessToken] : [];
      return (await call<{ appConnection: FlyAppConnection }>("PATCH", `${connections}/${id}`, { body, idempotent: true, redact })).appConnection;
    },

    async deleteFlyConnection(id: string): Promise<void> {
      try {
        await call("DELETE", `${connections}/${id}`);
      } catch (err) {
        if (!isApiError(err, 404)) throw err;
      }
    },

    async getFlySync(id: string): Promise<FlySecretSync | undefined> {
      try {
        return (await call<{ secretSync: FlySecretSync }>("GET", `${syncs}/${id}`)).secretSync;
      } catch (err) {
        if (isApiError(err, 404)) return undefined;
        throw err;
      }
    },

    async getFlySyncByName(name: string, projectId: string): Promise<FlySecretSync | undefined> {
      try {
        return (await call<{ secretSync: FlySecretSync }>("GET", `${syncs}/sync-name/${encodeURIComponent(name)}`, { query: { projectId } })).secretSync;
      } catch (err) {
        if (isApiError(err, 404)) return undefined;
        throw err;
      }
    },

    async createFlySync(config: FlySecretSyncConfig): Promise<FlySecretSync> {
      const sync = (await call<{ secretSync: FlySecretSync }>("POST", syncs, { body: syncBody(config) })).secretSync;
      return assertSyncOptionsKept(sync, config, baseUrl);
    },

    async updateFlySync(id: string, config: FlySecretSyncConfig): Promise<FlySecretSync> {
      const { projectId: _projectId, ...patch } = syncBody(config);
      const sync = (await call<{ secretSync: FlySecretSync }>("PATCH", `${syncs}/${id}`, { body: patch, idempotent: true })).secretSync;
      return assertSyncOptionsKept(sync, config, baseUrl);
    },

    /** Deletes the sync but leaves the app's secrets in place (`removeSecrets=false`): the app keeps running. */
    async deleteFlySync(id: string): Promise<void> {
      try {
        await call("DELETE", `${syncs}/${id}`, { query: { removeSecrets: false } });
      } catch (err) {
        if (!isApiError(err, 404)) throw err;
      }
    },

    /**
     * Queues a sync job and waits for it. The job is told apart from earlier ones by `lastSyncJobId`/`lastSyncedAt`
     * changing, because right after the trigger the status may still read "succeeded" from the previous run.
     */
    async syncAndWait(id: string, timeoutMs: number): Promise<FlySecretSync> {
      const before = await client.getFlySync(id);
      if (!before) throw new Error(`Infisical secret sync ${id} no longer exists; run \`pulumi refresh\` so Pulumi recreates it.`);
      await call("POST", `${syncs}/${id}/sync-secrets`, { idempotent: true });
      const deadline = now() + timeoutMs;
      for (;;) {
        const sync = await client.getFlySync(id);
        const fresh = sync && (sync.lastSyncJobId !== before.lastSyncJobId || sync.lastSyncedAt !== before.lastSyncedAt);
        if (sync && fresh && (sync.syncStatus === "succeeded" || sync.syncStatus === "failed")) return sync;
        if (now() >= deadline) {
          throw new Error(`Infisical secret sync "${before.name}" (${id}) did not finish within ${Math.round(timeoutMs / 1000)} s (status "${sync?.syncStatus ?? "unknown"}", last message: ${sync?.lastSyncMessage ?? "none"}). Check the sync in Infisical, then run \`pulumi up\` again.`);
        }
        await sleep(pollMs);
      }
    },
  };
  return client;
}

/**
 * The sync's settings. `disableSecretDeletion: true` rather than a `keySchema`: with `{{secretKey}}` every Fly secret
 * matches and a sync would unset those Infisical does not hold (Tigris and Upstash extension secrets, anything set
 * with flyctl); a prefixed schema would protect them only by renaming every synced variable the app reads. The cost:
 * a secret removed from Infisical stays on the app until `fly secrets unset` removes it.
 */
function syncBody(c: FlySecretSyncConfig) {
  return {
    name: c.name,
    projectId: c.projectId,
    connectionId: c.connectionId,
    environment: c.environment,
    secretPath: c.secretPath,
    description: c.description,
    isAutoSyncEnabled: true,
    syncOptions: { initialSyncBehavior: "overwrite-destination", disableSecretDeletion: true, autoRedeploy: true },
    destinationConfig: { appId: c.appId, appName: c.appName },
  };
}
