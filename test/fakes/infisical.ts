/**
 * Infisical as an in-memory fake: universal-auth login, projects, v4 secrets (incl. batch upsert) and v3 raw routes,
 * the Fly.io app connection, and Fly.io secret syncs whose jobs go pending → running → succeeded|failed over
 * successive GETs and write into a recorded map of each Fly app's secrets. Faults go through HttpFake.inject.
 */
import { createHash, randomUUID } from "crypto";
import { FakeRequest, FakeResponse, HttpFake } from "./http-fake";

export interface FakeSync {
  id: string;
  name: string;
  projectId: string;
  connectionId: string;
  environment: string;
  secretPath: string;
  isAutoSyncEnabled: boolean;
  syncOptions: Record<string, unknown>;
  destinationConfig: { appId?: string; appName?: string };
  syncStatus: string | null;
  lastSyncJobId: string | null;
  lastSyncMessage: string | null;
  lastSyncedAt: string | null;
  /** Queued jobs; the head advances one stage per GET of the sync. */
  jobs: Array<{ id: string; stage: number }>;
}

export interface InfisicalFakeOptions {
  fake?: HttpFake;
  /** Access tokens accepted as Bearer. */
  tokens?: string[];
  /** Universal-auth identity that logs in to a fresh token. */
  universalAuth?: { clientId: string; clientSecret: string };
  projects?: Array<{ id: string; slug: string }>;
  /** Serve only the legacy v3 raw secret routes, as an older self-hosted Infisical would. */
  v3Only?: boolean;
  /** A secret-approval policy covers every environment: batch writes answer `{approval}` and write nothing. */
  approvalPolicy?: boolean;
  /** A server from before Feb 2026: secret syncs silently drop `syncOptions.autoRedeploy` and `destinationConfig.appName`. */
  legacySyncOptions?: boolean;
}

export interface InfisicalState {
  /** "projectId|environment|path" → name → value. */
  folders: Map<string, Map<string, string>>;
  connections: Map<string, { id: string; name: string; description?: string; accessToken: string }>;
  syncs: Map<string, FakeSync>;
  /** What each Fly app's secrets are after the syncs ran, and how often autoRedeploy restarted it. */
  flyApps: Map<string, { secrets: Record<string, string>; redeploys: number }>;
  /** The next sync job fails with this message. */
  failNextSync?: string;
  folder(projectId: string, environment: string, secretPath?: string): Map<string, string>;
}

let clock = 0;
const stamp = () => new Date(Date.UTC(2026, 0, 1) + ++clock * 1000).toISOString();

export async function createInfisicalFake(opts: InfisicalFakeOptions = {}): Promise<{ fake: HttpFake; state: InfisicalState }> {
  const fake = opts.fake ?? (await new HttpFake().start());
  const tokens = new Set(opts.tokens ?? []);
  const projects = opts.projects ?? [{ id: "2f1c6a3e-5b7d-4e8f-9a0b-1c2d3e4f5a6b", slug: "renewa-one" }];
  const state: InfisicalState = {
    folders: new Map(),
    connections: new Map(),
    syncs: new Map(),
    flyApps: new Map(),
    folder(projectId, environment, secretPath = "/") {
      const key = `${projectId}|${environment}|${secretPath}`;
      if (!state.folders.has(key)) state.folders.set(key, new Map());
      return state.folders.get(key)!;
    },
  };

  const fail = (statusCode: number, message: string): FakeResponse => ({ status: statusCode, body: { statusCode, error: statusCode === 404 ? "NotFound" : "BadRequest", message, reqId: "req-fake" } });
  const authed = (fn: (req: FakeRequest) => FakeResponse) => (req: FakeRequest): FakeResponse => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (!token || !tokens.has(token)) return fail(401, "Invalid token");
    return fn(req);
  };
  const project = (id: string | null) => projects.find((p) => p.id === id);
  /** The folder a secrets request addresses (v4 `projectId`, v3 `workspaceId`), or a 404. */
  const folderOf = (src: Record<string, any>): Map<string, string> | FakeResponse => {
    const id = src.projectId ?? src.workspaceId;
    if (!project(id)) return fail(404, `Project with ID '${id}' not found`);
    return state.folder(id, src.environment, src.secretPath ?? "/");
  };
  const query = (req: FakeRequest) => Object.fromEntries(req.query.entries());

  const runJob = (sync: FakeSync) => {
    const app = sync.destinationConfig.appName ?? sync.destinationConfig.appId ?? "";
    const target = state.flyApps.get(app) ?? { secrets: {}, redeploys: 0 };
    state.flyApps.set(app, target);
    if (state.failNextSync) {
      sync.syncStatus = "failed";
      sync.lastSyncMessage = state.failNextSync;
      state.failNextSync = undefined;
      return;
    }
    const source = state.folder(sync.projectId, sync.environment, sync.secretPath);
    if (!sync.syncOptions.disableSecretDeletion) for (const k of Object.keys(target.secrets)) if (!source.has(k)) delete target.secrets[k];
    for (const [k, v] of source) target.secrets[k] = v;
    if (sync.syncOptions.autoRedeploy) target.redeploys++;
    sync.syncStatus = "succeeded";
    sync.lastSyncMessage = "Secrets synced successfully";
  };
  const queueJob = (sync: FakeSync) => {
    sync.jobs.push({ id: randomUUID(), stage: 0 });
    sync.syncStatus = "pending";
  };
  const advance = (sync: FakeSync) => {
    const job = sync.jobs[0];
    if (!job) return;
    job.stage++;
    if (job.stage === 1) sync.syncStatus = "running";
    if (job.stage < 2) return;
    sync.jobs.shift();
    sync.lastSyncJobId = job.id;
    sync.lastSyncedAt = stamp();
    runJob(sync);
    if (sync.jobs.length) sync.syncStatus = "pending";
  };
  const autoSync = (projectId: string, environment: string, secretPath: string) => {
    for (const s of state.syncs.values()) {
      if (s.isAutoSyncEnabled && s.projectId === projectId && s.environment === environment && s.secretPath === secretPath) queueJob(s);
    }
  };
  const view = ({ jobs: _jobs, environment, secretPath, ...s }: FakeSync) => ({ ...s, environment: { slug: environment }, folder: { path: secretPath }, destination: "flyio" });
  const connectionView = (c: { id: string; name: string; accessToken: string }) => ({
    id: c.id,
    name: c.name,
    app: "flyio",
    method: "access-token",
    credentialsHash: createHash("sha256").update(`server-side:${c.accessToken}`).digest("hex"),
  });

  /** What Infisical answers when a policy turns a write into a change request (200, nothing written). */
  const approval = (src: Record<string, any>): FakeResponse => ({
    status: 200,
    body: { approval: { id: randomUUID(), policyId: randomUUID(), status: "open", slug: `${src.environment}-change`, isReplicated: false } },
  });
  /** Upserts (or, in `failOnNotFound` mode, updates) a batch and queues the auto-syncs of that folder. */
  const writeBatch = (src: Record<string, any>, mode: string): FakeResponse => {
    const folder = folderOf(src);
    if (!(folder instanceof Map)) return folder;
    if (opts.approvalPolicy) return approval(src);
    const items: Array<{ secretKey: string; secretValue: string }> = src.secrets ?? [];
    if (mode === "failOnNotFound") {
      const missing = items.filter((i) => !folder.has(i.secretKey)).map((i) => i.secretKey);
      if (missing.length) return fail(404, `Secret not found: ${missing.join(", ")}`);
    }
    if (mode === "create") {
      const existing = items.filter((i) => folder.has(i.secretKey)).map((i) => i.secretKey);
      if (existing.length) return fail(400, `Secret already exist: ${existing.join(", ")}`);
    }
    for (const i of items) folder.set(i.secretKey, i.secretValue);
    autoSync(src.projectId ?? src.workspaceId, src.environment, src.secretPath ?? "/");
    return { status: 200, body: { secrets: items.map((i) => ({ secretKey: i.secretKey, secretValueHidden: true })) } };
  };
  const deleteBatch = (src: Record<string, any>): FakeResponse => {
    const folder = folderOf(src);
    if (!(folder instanceof Map)) return folder;
    if (opts.approvalPolicy) return approval(src);
    for (const i of src.secrets ?? []) folder.delete(i.secretKey);
    autoSync(src.projectId ?? src.workspaceId, src.environment, src.secretPath ?? "/");
    return { status: 200, body: { secrets: src.secrets ?? [] } };
  };
  const listFolder = (src: Record<string, any>, showValues: boolean): FakeResponse => {
    const folder = folderOf(src);
    if (!(folder instanceof Map)) return folder;
    const secrets = [...folder].map(([secretKey, value]) => ({
      secretKey,
      secretValue: showValues ? value : "<hidden-by-infisical>",
      secretValueHidden: !showValues,
      secretPath: src.secretPath ?? "/",
      type: "shared",
    }));
    return { status: 200, body: { secrets, imports: [] } };
  };

  fake.route("POST", "/api/v1/auth/universal-auth/login", (req) => {
    const ua = opts.universalAuth;
    if (!ua || req.body?.clientId !== ua.clientId || req.body?.clientSecret !== ua.clientSecret) return fail(401, "Invalid credentials");
    const accessToken = `ua-token-${randomUUID()}`;
    tokens.add(accessToken);
    return { status: 200, body: { accessToken, expiresIn: 7200, accessTokenMaxTTL: 7200, tokenType: "Bearer" } };
  });
  fake.route("GET", "/api/v1/projects", authed(() => ({ status: 200, body: { projects: projects.map((p) => ({ ...p, name: p.slug })) } })));

  if (!opts.v3Only) {
    fake
      .route("GET", "/api/v4/secrets", authed((req) => listFolder(query(req), req.query.get("viewSecretValue") !== "false")))
      .route("PATCH", "/api/v4/secrets/batch", authed((req) => writeBatch(req.body, req.body?.mode ?? "failOnNotFound")))
      .route("DELETE", "/api/v4/secrets/batch", authed((req) => deleteBatch(req.body)));
  }
  fake
    // Like v4, v3 returns values unless told `viewSecretValue=false`.
    .route("GET", "/api/v3/secrets/raw", authed((req) => listFolder(query(req), req.query.get("viewSecretValue") !== "false")))
    .route("PATCH", "/api/v3/secrets/batch/raw", authed((req) => writeBatch(req.body, "failOnNotFound")))
    .route("POST", "/api/v3/secrets/batch/raw", authed((req) => writeBatch(req.body, "create")))
    .route("DELETE", "/api/v3/secrets/batch/raw", authed((req) => deleteBatch(req.body)));

  const conns = "/api/v1/app-connections/flyio";
  fake
    .route("POST", conns, authed((req) => {
      const { name, description, method, credentials } = req.body ?? {};
      if (method !== "access-token" || !/^FlyV1 /.test(credentials?.accessToken ?? "")) return fail(400, "Invalid Fly.io access token");
      if (credentials.accessToken.length > 1000) return fail(422, "body/credentials/accessToken String must contain at most 1000 character(s)");
      if ([...state.connections.values()].some((c) => c.name === name)) return fail(400, `An App Connection with the name "${name}" already exists`);
      const c = { id: randomUUID(), name, description, accessToken: credentials.accessToken };
      state.connections.set(c.id, c);
      return { status: 200, body: { appConnection: connectionView(c) } };
    }))
    .route("GET", `${conns}/connection-name/:name`, authed((req) => {
      const c = [...state.connections.values()].find((x) => x.name === req.params.name);
      return c ? { status: 200, body: { appConnection: connectionView(c) } } : fail(404, `Could not find App Connection with name ${req.params.name}`);
    }))
    .route("GET", `${conns}/:id`, authed((req) => {
      const c = state.connections.get(req.params.id);
      return c ? { status: 200, body: { appConnection: connectionView(c) } } : fail(404, `Could not find App Connection with ID ${req.params.id}`);
    }))
    .route("PATCH", `${conns}/:id`, authed((req) => {
      const c = state.connections.get(req.params.id);
      if (!c) return fail(404, `Could not find App Connection with ID ${req.params.id}`);
      const token = req.body?.credentials?.accessToken;
      if (token !== undefined && !/^FlyV1 /.test(token)) return fail(400, "Invalid Fly.io access token");
      if (token !== undefined && token.length > 1000) return fail(422, "body/credentials/accessToken String must contain at most 1000 character(s)");
      Object.assign(c, { name: req.body?.name ?? c.name, description: req.body?.description ?? c.description, accessToken: token ?? c.accessToken });
      return { status: 200, body: { appConnection: connectionView(c) } };
    }))
    .route("DELETE", `${conns}/:id`, authed((req) => {
      const c = state.connections.get(req.params.id);
      if (!c) return fail(404, `Could not find App Connection with ID ${req.params.id}`);
      state.connections.delete(c.id);
      return { status: 200, body: { appConnection: connectionView(c) } };
    }));

  const syncs = "/api/v1/secret-syncs/flyio";
  const applyConfig = (s: FakeSync, b: Record<string, any>) => {
    for (const k of ["name", "connectionId", "environment", "secretPath", "isAutoSyncEnabled", "syncOptions", "destinationConfig"] as const) {
      if (b[k] !== undefined) (s as any)[k] = b[k];
    }
    // zod's default object parsing strips keys the schema does not know, with no error.
    if (opts.legacySyncOptions) {
      const { autoRedeploy: _a, ...syncOptions } = s.syncOptions ?? {};
      const { appName: _n, ...destinationConfig } = s.destinationConfig ?? {};
      s.syncOptions = syncOptions;
      s.destinationConfig = destinationConfig;
    }
  };
  fake
    .route("POST", syncs, authed((req) => {
      const b = req.body ?? {};
      if (!project(b.projectId)) return fail(404, `Project with ID '${b.projectId}' not found`);
      if (!state.connections.has(b.connectionId)) return fail(404, `Could not find App Connection with ID ${b.connectionId}`);
      if ([...state.syncs.values()].some((s) => s.name === b.name && s.projectId === b.projectId)) return fail(400, `A Secret Sync with the name "${b.name}" already exists`);
      const s: FakeSync = { id: randomUUID(), projectId: b.projectId, isAutoSyncEnabled: true, syncStatus: null, lastSyncJobId: null, lastSyncMessage: null, lastSyncedAt: null, jobs: [] } as unknown as FakeSync;
      applyConfig(s, b);
      state.syncs.set(s.id, s);
      if (s.isAutoSyncEnabled) queueJob(s);
      return { status: 200, body: { secretSync: view(s) } };
    }))
    .route("GET", `${syncs}/sync-name/:name`, authed((req) => {
      const s = [...state.syncs.values()].find((x) => x.name === req.params.name && x.projectId === req.query.get("projectId"));
      return s ? { status: 200, body: { secretSync: view(s) } } : fail(404, `Could not find Fly.io Sync with name ${req.params.name}`);
    }))
    .route("GET", `${syncs}/:id`, authed((req) => {
      const s = state.syncs.get(req.params.id);
      if (!s) return fail(404, `Could not find Fly.io Sync with ID ${req.params.id}`);
      advance(s);
      return { status: 200, body: { secretSync: view(s) } };
    }))
    .route("PATCH", `${syncs}/:id`, authed((req) => {
      const s = state.syncs.get(req.params.id);
      if (!s) return fail(404, `Could not find Fly.io Sync with ID ${req.params.id}`);
      applyConfig(s, req.body ?? {});
      return { status: 200, body: { secretSync: view(s) } };
    }))
    .route("DELETE", `${syncs}/:id`, authed((req) => {
      const s = state.syncs.get(req.params.id);
      if (!s) return fail(404, `Could not find Fly.io Sync with ID ${req.params.id}`);
      if (req.query.get("removeSecrets") === "true") state.flyApps.delete(s.destinationConfig.appName ?? "");
      state.syncs.delete(s.id);
      return { status: 200, body: { secretSync: view(s) } };
    }))
    .route("POST", `${syncs}/:id/sync-secrets`, authed((req) => {
      const s = state.syncs.get(req.params.id);
      if (!s) return fail(404, `Could not find Fly.io Sync with ID ${req.params.id}`);
      queueJob(s);
      return { status: 200, body: { secretSync: view(s) } };
    }));
  return { fake, state };
}
