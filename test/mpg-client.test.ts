/**
 * The MPG client and the pure pieces around it: connection strings from both API shapes, the migrations hash, retries
 * on 429/503, the backup call's 202/409 handling, and restore/delete/rotate for the data jobs, against the fake.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { clusterEndpoints, connectionUrl, createFlyPostgresClient, latestCompletedBackup } from "../src/clients/fly-postgres";
import { hashMigrations } from "../src/migrations-hash";
import { createFlyPostgresFake, FlyPostgresState } from "./fakes/fly-postgres";
import { HttpFake } from "./fakes/http-fake";

const TOKEN = "fm2_sentinel-mpg-client-token";
let fake: HttpFake;
let state: FlyPostgresState;
const fast = () => createFlyPostgresClient({ timeScale: 0.001, backoff: { baseMs: 5, capMs: 20, maxRetries: 4 } });

beforeAll(async () => {
  ({ fake, state } = await createFlyPostgresFake({ authorization: `FlyV1 ${TOKEN}`, backupPolls: 2 }));
  process.env.FLY_API_TOKEN = TOKEN;
  process.env.FLY_MACHINES_API_URL = fake.url;
});
afterAll(async () => fake?.stop());
beforeEach(() => {
  state.clusters.clear();
  fake.clearFaults();
});

describe("connection strings", () => {
  const creds = { username: "fly-user", password: "p@ss/wörd" };

  it("takes the pooler for the app and the direct endpoint for migrations, from the spec's shape", () => {
    const eps = clusterEndpoints({
      id: "c1",
      status: "ready",
      endpoints: { primary: { direct: { host: "direct.c1.flympg.net", port: 5432 }, pooler: { host: "pgbouncer.c1.flympg.net", port: 6432 } } },
    });
    expect(connectionUrl(eps.pooler!, creds, "fly-db")).toBe("postgres://fly-user:p%40ss%2Fw%C3%B6rd@pgbouncer.c1.flympg.net:6432/fly-db");
    expect(connectionUrl(eps.direct!, creds, "fly-db")).toBe("postgres://fly-user:p%40ss%2Fw%C3%B6rd@direct.c1.flympg.net:5432/fly-db");
  });

  it("accepts a flat endpoints object and the postgresv2 pgbouncer_uri when the pooler is missing", () => {
    const flat = clusterEndpoints({ id: "c1", status: "ready", endpoints: { direct: { host: "d", port: 5432 } } as never }, {
      ...creds,
      pgbouncerUri: "postgres://x:y@pgbouncer.c1.flympg.net/fly-db",
    });
    expect(flat).toEqual({ direct: { host: "d", port: 5432 }, pooler: { host: "pgbouncer.c1.flympg.net", port: 5432 } });
    expect(clusterEndpoints({ id: "c1", status: "creating" })).toEqual({ pooler: undefined, direct: undefined });
  });
});

describe("hashMigrations", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "migrations-"));
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  };

  it("is stable, and changes with content, names and new files only", () => {
    write("20260101_init.sql", "create table a();");
    write("sub/20260102_b.sql", "create table b();");
    const first = hashMigrations(dir);
    expect(first).toMatch(/^sha256:[0-9a-f]{64}$/);
    fs.utimesSync(path.join(dir, "20260101_init.sql"), new Date(0), new Date(0));
    expect(hashMigrations(dir)).toBe(first);
    write("20260101_init.sql", "create table a(id int);");
    const changed = hashMigrations(dir);
    expect(changed).not.toBe(first);
    fs.renameSync(path.join(dir, "sub/20260102_b.sql"), path.join(dir, "sub/20260103_b.sql"));
    expect(hashMigrations(dir)).not.toBe(changed);
  });

  it("names the missing folder", () => {
    expect(() => hashMigrations(path.join(dir, "nope"))).toThrow(/nope does not exist or is not a folder/);
  });
});

describe("client", () => {
  it("sends FlyV1 auth and retries GETs on 429 and 503", async () => {
    state.addCluster({ id: "cluster-one" });
    const n = fake.calls("GET /v1/postgres/:id").length;
    fake.inject({ route: "GET /v1/postgres/:id", nth: [n + 1], status: 429, headers: { "retry-after": "0" } });
    fake.inject({ route: "GET /v1/postgres/:id", nth: [n + 2], status: 503 });
    const cluster = await fast().getCluster("cluster-one");
    expect(cluster?.status).toBe("ready");
    expect(fake.calls("GET /v1/postgres/:id").slice(n).map((c) => c.status)).toEqual([429, 503, 200]);
    expect(fake.calls().at(-1)!.headers.authorization).toBe(`FlyV1 ${TOKEN}`);
  });

  it("lists the org's clusters and a cluster's users", async () => {
    state.addCluster({ id: "cluster-one" });
    state.addCluster({ id: "cluster-two", org: "elsewhere" });
    expect((await fast().listClusters("renewa")).map((c) => c.id)).toEqual(["cluster-one"]);
    expect(fake.calls("GET /v1/postgres").at(-1)!.path).toBe("/v1/postgres");
    expect(await fast().listUsers("cluster-one")).toEqual([{ username: "fly-user", role: "schema_admin" }]);
  });

  it("returns undefined for a missing cluster and treats deleting a missing database or user as done", async () => {
    const client = fast();
    expect(await client.getCluster("no-such-cluster")).toBeUndefined();
    state.addCluster({ id: "cluster-one" });
    expect(await client.deleteDatabase("cluster-one", "pr_1")).toBe(false);
    expect(await client.deleteUser("cluster-one", "pr_1")).toBe(false);
    expect(await client.deleteDatabase("no-such-cluster", "pr_1")).toBe(false);
  });

  it("creates a backup (202, no body), finds it and waits until it completes", async () => {
    const c = state.addCluster({ id: "cluster-one" });
    c.backups.push({ id: "old", type: "full", status: "completed", started_at: "2025-12-01T00:00:00Z", pollsLeft: 0 });
    const backup = await fast().createBackup("cluster-one", "full", 5_000);
    expect(backup).toMatchObject({ status: "completed", reused: false, type: "full" });
    expect(backup.id).not.toBe("old");
    expect(fake.calls("POST /v1/postgres/:id/backups").at(-1)!.body).toEqual({ type: "full" });
  });

  it("on 409 waits for the backup that is already running instead of failing", async () => {
    const c = state.addCluster({ id: "cluster-one" });
    c.backups.push({ id: "running-one", type: "full", status: "running", started_at: "2026-01-01T00:00:00Z", pollsLeft: 3 });
    const backup = await fast().createBackup("cluster-one", "full", 5_000);
    expect(backup).toMatchObject({ id: "running-one", status: "completed", reused: true });
    expect(fake.calls("POST /v1/postgres/:id/backups").at(-1)!.status).toBe(409);
    expect(c.backups).toHaveLength(1);
  });

  it("fails a backup that does not finish in time, naming the cluster", async () => {
    state.addCluster({ id: "cluster-one" }).backups.push({ id: "stuck", type: "full", status: "running", started_at: "2026-01-01T00:00:00Z", pollsLeft: 1e9 });
    await expect(fast().createBackup("cluster-one", "full", 30)).rejects.toThrow(/Timed out .* MPG cluster cluster-one: backup stuck is still "running"/);
  });
});

describe("MPG restore, delete and rotate", () => {
  it("latestCompletedBackup skips running and failed backups and orders by finish time", () => {
    const b = (id: string, status: string, finished?: string) => ({ id, status, started_at: "2026-06-01T00:00:00Z", finished_at: finished });
    expect(latestCompletedBackup([b("a", "completed", "2026-06-01T01:00:00Z"), b("b", "running"), b("c", "failed", "2026-06-03T00:00:00Z"), b("d", "completed", "2026-06-02T00:00:00Z")])?.id).toBe("d");
    expect(latestCompletedBackup([b("b", "running")])).toBeUndefined();
  });

  it("restore sends backup_id and name and answers with a NEW cluster; the source is unchanged", async () => {
    const source = state.addCluster({ id: "renewa-production-mpg" });
    source.backups.push({ id: "bk-1", type: "full", status: "completed", started_at: "2026-06-01T00:00:00Z", pollsLeft: 0 });
    const pg = fast();
    const copy = await pg.restore(source.id, "bk-1", "renewa-verify-production-x");
    expect(copy.id).not.toBe(source.id);
    expect(copy).toMatchObject({ name: "renewa-verify-production-x", status: "creating" });
    expect(fake.calls("POST /v1/postgres/:id/restore").at(-1)!.body).toEqual({ backup_id: "bk-1", name: "renewa-verify-production-x" });
    expect((await pg.waitForClusterSettled(copy.id, 5_000))?.status).toBe("ready");
    expect(source.status).toBe("ready");
    await expect(pg.restore(source.id, "bk-missing")).rejects.toThrow(/POST \/v1\/postgres\/renewa-production-mpg\/restore: 404 Backup bk-missing not found/);
  });

  it("deleteCluster is safe to repeat: a deleted (410) or unknown (404) cluster is already gone", async () => {
    state.addCluster({ id: "scratch-cluster-1" });
    const pg = fast();
    expect(await pg.deleteCluster("scratch-cluster-1")).toBe(true);
    expect(await pg.deleteCluster("scratch-cluster-1")).toBe(false);
    expect(await pg.deleteCluster("never-existed-1")).toBe(false);
  });

  it("rotatePassword returns the new password, and retries a 503", async () => {
    const c = state.addCluster({ id: "scratch-cluster-2" });
    const before = c.users.get("fly-user")!.password;
    fake.inject({ route: "POST /v1/postgres/:id/users/:user/rotate_password", nth: [1], status: 503 });
    const creds = await fast().rotatePassword(c.id, "fly-user");
    expect(creds.username).toBe("fly-user");
    expect(creds.password).toBe(c.users.get("fly-user")!.password);
    expect(creds.password).not.toBe(before);
  });
});
