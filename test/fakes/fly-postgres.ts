/**
 * Fly Managed Postgres (`/v1/postgres…` on the Machines API) as an in-memory fake, shaped after Fly's OpenAPI spec:
 * `{data: …}` envelopes, `{error}` bodies, clusters that pass through creating → ready, backups that run for a few
 * polls (and a 409 while one runs), and restore/fork that create a NEW cluster id. Mounts onto a given HttpFake so it
 * can share a server with the Machines fake.
 */
import { ResourceSpec, ServedProvider, serveProvider } from "../harness/engine";
import { FakeRequest, FakeResponse, HttpFake } from "./http-fake";

export interface FakeMpgUser {
  role: string;
  password: string;
}

export interface FakeMpgBackup {
  id: string;
  type: string;
  status: "running" | "completed" | "failed";
  started_at: string;
  finished_at?: string;
  /** GETs of the backup list left before it finishes. */
  pollsLeft: number;
}

export interface FakeMpgCluster {
  id: string;
  name: string;
  org: string;
  status: string;
  region: string;
  /** GETs of the cluster left while it is "creating" before it turns ready. */
  pollsUntilReady: number;
  users: Map<string, FakeMpgUser>;
  databases: Set<string>;
  backups: FakeMpgBackup[];
  created_at?: string;
  /** The cluster a restore or fork copied. */
  source?: string;
}

export interface FlyPostgresFakeOptions {
  /** Mount onto this server instead of starting a new one. */
  fake?: HttpFake;
  /** Authorization header every MPG route requires (e.g. "FlyV1 fm2_…"); undefined accepts anything. */
  authorization?: string;
  /** Backup-list GETs a backup stays running. @default 2 */
  backupPolls?: number;
  /** Cluster GETs a restored or forked cluster stays creating. @default 2 */
  restorePolls?: number;
}

export interface FlyPostgresState {
  clusters: Map<string, FakeMpgCluster>;
  /** What a restored or forked cluster settles in once it stops creating: "failed" is a backup that does not restore. */
  restoreOutcome: "ready" | "failed";
  /** Adds a ready cluster in fra with user fly-user and database fly-db unless told otherwise. */
  addCluster(c: Partial<Omit<FakeMpgCluster, "users" | "databases">> & { id: string; users?: Record<string, FakeMpgUser>; databases?: string[] }): FakeMpgCluster;
}

let serial = 0;
const stamp = () => new Date(Date.UTC(2026, 0, 1) + ++serial * 1000).toISOString();

export function passwordFor(clusterId: string, username: string): string {
  return `SECRETPW-${clusterId}-${username}-${++serial}`;
}

export async function createFlyPostgresFake(opts: FlyPostgresFakeOptions = {}): Promise<{ fake: HttpFake; state: FlyPostgresState }> {
  const fake = opts.fake ?? (await new HttpFake().start());
  const clusters = new Map<string, FakeMpgCluster>();
  const backupPolls = opts.backupPolls ?? 2;
  const restorePolls = opts.restorePolls ?? 2;

  const state: FlyPostgresState = {
    clusters,
    restoreOutcome: "ready",
    addCluster(c) {
      const cluster: FakeMpgCluster = {
        name: c.id,
        org: "renewa",
        status: "ready",
        region: "fra",
        pollsUntilReady: 0,
        backups: [],
        created_at: stamp(),
        ...c,
        users: new Map(Object.entries(c.users ?? { "fly-user": { role: "schema_admin", password: passwordFor(c.id, "fly-user") } })),
        databases: new Set(c.databases ?? ["fly-db"]),
      };
      clusters.set(cluster.id, cluster);
      return cluster;
    },
  };

  const err = (status: number, error: string): FakeResponse => ({ status, body: { error } });
  const view = (c: FakeMpgCluster) => ({
    id: c.id,
    name: c.name,
    status: c.status,
    region: c.region,
    plan: "basic",
    organization: { slug: c.org },
    endpoints:
      c.status === "ready"
        ? { primary: { direct: { host: `direct.${c.id}.flympg.net`, port: 5432 }, pooler: { host: `pgbouncer.${c.id}.flympg.net`, port: 5432 } } }
        : undefined,
    attached_apps: [],
  });

  /** Wraps a handler with the auth check and the cluster lookup (404 unknown, 410 deleted). */
  const withCluster = (fn: (c: FakeMpgCluster, req: FakeRequest) => FakeResponse) => (req: FakeRequest): FakeResponse => {
    if (opts.authorization !== undefined && req.headers.authorization !== opts.authorization) return err(401, "unauthorized");
    const c = clusters.get(req.params.id);
    if (!c) return err(404, "Cluster not found");
    if (c.status === "deleted" || c.status === "deleting") return err(410, "This cluster has been deleted");
    return fn(c, req);
  };

  const copyCluster = (source: FakeMpgCluster, name: string | undefined): FakeMpgCluster => {
    const id = `${source.id.slice(0, 40)}-r${++serial}`;
    const copy = state.addCluster({ id, name: name ?? `${source.name}-restore`, org: source.org, region: source.region, status: "creating", pollsUntilReady: restorePolls });
    // A physical restore brings roles and their passwords along.
    copy.users = new Map([...source.users].map(([u, v]) => [u, { ...v }]));
    copy.databases = new Set(source.databases);
    copy.source = source.id;
    return copy;
  };

  fake
    .route("GET", "/v1/postgres", (req) => ({
      status: 200,
      body: {
        data: [...clusters.values()]
          .filter((c) => c.org === req.query.get("org_slug") && (req.query.get("include_deleted") === "true" || c.status !== "deleted"))
          .map((c) => ({ id: c.id, name: c.name, status: c.status, region: c.region, plan: "basic", created_at: c.created_at })),
      },
    }))
    .route("GET", "/v1/postgres/:id", withCluster((c) => {
      if (c.status === "creating" && --c.pollsUntilReady <= 0) c.status = c.source ? state.restoreOutcome : "ready";
      return { status: 200, body: { data: view(c) } };
    }))
    .route("DELETE", "/v1/postgres/:id", withCluster((c) => ((c.status = "deleted"), { status: 202 })))
    .route("GET", "/v1/postgres/:id/users", withCluster((c) => ({ status: 200, body: { data: [...c.users].map(([username, u]) => ({ username, role: u.role })) } })))
    .route("POST", "/v1/postgres/:id/users", withCluster((c, req) => {
      const { username, role } = req.body ?? {};
      if (!username || !["schema_admin", "writer", "reader"].includes(role)) return err(422, "username or role missing, or role invalid");
      if (c.users.has(username)) return err(409, "User already exists");
      c.users.set(username, { role, password: passwordFor(c.id, username) });
      return { status: 201, body: { data: { username, role } } };
    }))
    .route("DELETE", "/v1/postgres/:id/users/:user", withCluster((c, req) => (c.users.delete(req.params.user) ? { status: 204 } : err(404, "User not found"))))
    .route("GET", "/v1/postgres/:id/users/:user/credentials", withCluster((c, req) => {
      const u = c.users.get(req.params.user);
      return u ? { status: 200, body: { data: { username: req.params.user, password: u.password } } } : err(404, "User not found");
    }))
    .route("POST", "/v1/postgres/:id/users/:user/rotate_password", withCluster((c, req) => {
      const u = c.users.get(req.params.user);
      if (!u) return err(404, "User not found");
      u.password = passwordFor(c.id, req.params.user);
      return { status: 200, body: { data: { username: req.params.user, password: u.password } } };
    }))
    .route("GET", "/v1/postgres/:id/databases", withCluster((c) => ({ status: 200, body: { data: [...c.databases].map((name) => ({ name })) } })))
    .route("POST", "/v1/postgres/:id/databases", withCluster((c, req) => {
      const name = req.body?.name;
      if (!name) return err(422, "name is required");
      if (c.databases.has(name)) return err(400, `database "${name}" already exists`);
      c.databases.add(name);
      return { status: 201, body: { data: { name } } };
    }))
    .route("DELETE", "/v1/postgres/:id/databases/:db", withCluster((c, req) =>
      c.databases.delete(req.params.db) ? { status: 200, body: { data: { name: req.params.db } } } : err(404, "Database not found"),
    ))
    .route("GET", "/v1/postgres/:id/backups", withCluster((c) => {
      for (const b of c.backups) {
        if (b.status === "running" && --b.pollsLeft <= 0) {
          b.status = "completed";
          b.finished_at = stamp();
        }
      }
      return { status: 200, body: { data: c.backups.map(({ pollsLeft: _p, ...b }) => ({ ...b, size_bytes: 1024 })) } };
    }))
    .route("POST", "/v1/postgres/:id/backups", withCluster((c, req) => {
      if (c.backups.some((b) => b.status === "running")) return err(409, "A backup is currently running");
      c.backups.push({ id: `bk-${c.id}-${++serial}`, type: req.body?.type ?? "full", status: "running", started_at: stamp(), pollsLeft: backupPolls });
      return { status: 202 };
    }))
    .route("POST", "/v1/postgres/:id/restore", withCluster((c, req) => {
      const backupId = req.body?.backup_id;
      if (!backupId) return err(422, "backup_id is required");
      if (!c.backups.some((b) => b.id === backupId)) return err(404, `Backup ${backupId} not found for cluster ${c.id}`);
      return { status: 201, body: { data: view(copyCluster(c, req.body?.name)) } };
    }))
    .route("POST", "/v1/postgres/:id/fork", withCluster((c, req) => {
      if (c.status !== "ready") return err(409, "The source cluster is not ready to be forked yet");
      return { status: 201, body: { data: view(copyCluster(c, req.body?.name ?? `${c.name}-fork`)) } };
    }));
  return { fake, state };
}

/**
 * The MPG provider tests' set-up: the fake (every route requiring `FlyV1 <token>`), `resource`'s provider serialized
 * with only the token in the program's environment, and a provider process holding the token and the fake's URL,
 * with waits scaled down. Stop with `closeAll(host, fake)`.
 */
export async function startMpgProvider(
  token: string,
  resource: Omit<ResourceSpec, "env">,
  fakeOptions: Omit<FlyPostgresFakeOptions, "fake" | "authorization"> = {},
): Promise<ServedProvider & { fake: HttpFake; state: FlyPostgresState }> {
  const { fake, state } = await createFlyPostgresFake({ authorization: `FlyV1 ${token}`, ...fakeOptions });
  const served = await serveProvider({ ...resource, env: { FLY_API_TOKEN: token } }, { FLY_API_TOKEN: token, FLY_MACHINES_API_URL: fake.url, RENEWA_TIME_SCALE: "0.001" });
  return { ...served, fake, state };
}

/** Between tests: no faults, and only the given clusters (fresh: ready, in fra, with fly-user and fly-db). */
export function resetMpg(fake: HttpFake, state: FlyPostgresState, ...clusters: string[]): void {
  fake.clearFaults();
  state.clusters.clear();
  for (const id of clusters) state.addCluster({ id });
}
