/**
 * The pre-deploy backup through the serialized provider: taken on create and on a new migrations hash only, waits
 * for completion, reuses a running backup on 409, records a re-pointed cluster without a new backup, and never
 * deletes anything.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ProviderHost, closeAll } from "./harness/engine";
import { FlyPostgresState, resetMpg, startMpgProvider } from "./fakes/fly-postgres";
import { HttpFake } from "./fakes/http-fake";

const TOKEN = "fm2_sentinel-mpg-backup-token-0d2e";
const CLUSTER = "renewa-production-mpg";
const HASH_A = `sha256:${"a".repeat(64)}`;
const HASH_B = `sha256:${"b".repeat(64)}`;
const CHECKED = { stack: "production", clusterId: CLUSTER, migrationsHash: HASH_A, type: "full", timeoutSeconds: 1800 };
const POST = "POST /v1/postgres/:id/backups";

let fake: HttpFake;
let state: FlyPostgresState;
let provider: string;
let host: ProviderHost;

beforeAll(async () => {
  ({ fake, state, provider, host } = await startMpgProvider(
    TOKEN,
    { module: "src/providers/mpg-backup.ts", exportName: "MpgBackup", name: "db-backup", args: { clusterId: CLUSTER, migrationsHash: HASH_A }, stack: "production" },
    { backupPolls: 3 },
  ));
});
afterAll(() => closeAll(host, fake));
beforeEach(() => resetMpg(fake, state, CLUSTER));

describe("MpgBackup provider", () => {
  it("serializes without the token", () => expect(provider).not.toContain(TOKEN));

  it("check defaults to a full backup and requires a hash", async () => {
    expect(await host.call(provider, "check", {}, { stack: "production", clusterId: CLUSTER, migrationsHash: HASH_A })).toEqual({ inputs: CHECKED, failures: [] });
    const res = await host.call(provider, "check", {}, { stack: "production", clusterId: CLUSTER, type: "weekly" });
    expect(res.failures.map((f: any) => f.property)).toEqual(["migrationsHash", "type"]);
  });

  it("create starts a backup, waits for it to complete and outputs its id", async () => {
    const res = await host.call(provider, "create", CHECKED);
    const backups = state.clusters.get(CLUSTER)!.backups;
    expect(backups).toHaveLength(1);
    expect(backups[0].status).toBe("completed");
    expect(res).toEqual({ id: backups[0].id, outs: { ...CHECKED, backupId: backups[0].id, startedAt: backups[0].started_at, reused: false, available: true } });

    // Refresh: while Fly lists the backup, read returns exactly what create stored; once retention expires it, the
    // backup stays in state marked unavailable (no new backup for the same migrations).
    expect(await host.call(provider, "read", res.id, res.outs)).toEqual({ id: res.id, props: res.outs });
    backups.length = 0;
    expect(await host.call(provider, "read", res.id, res.outs)).toEqual({ id: res.id, props: { ...res.outs, available: false } });
    expect(fake.calls(POST).map((c) => c.body)).toEqual([{ type: "full" }]);
  });

  it("diff: the same hash is no diff, a new hash takes the next backup in place, a re-pointed cluster is only recorded", async () => {
    const { outs } = await host.call(provider, "create", CHECKED);
    expect(await host.call(provider, "diff", outs.backupId, outs, CHECKED)).toEqual({ changes: false, replaces: [] });
    const next = { ...CHECKED, migrationsHash: HASH_B };
    expect(await host.call(provider, "diff", outs.backupId, outs, next)).toEqual({ changes: true, replaces: [] });
    const taken = await host.call(provider, "update", outs.backupId, outs, next);
    expect(taken.outs.backupId).not.toBe(outs.backupId);
    expect(taken.outs).toMatchObject({ migrationsHash: HASH_B, available: true, reused: false });
    const repointed = { ...CHECKED, clusterId: "renewa-production-restored" };
    expect(await host.call(provider, "diff", outs.backupId, outs, repointed)).toEqual({ changes: true, replaces: [] });
    const before = fake.calls(POST).length;
    const updated = await host.call(provider, "update", outs.backupId, outs, repointed);
    expect(updated.outs).toEqual({ ...outs, clusterId: "renewa-production-restored" });
    expect(fake.calls(POST).length).toBe(before);
  });

  it("on 409 uses the backup already running rather than failing the deploy", async () => {
    const cluster = state.clusters.get(CLUSTER)!;
    cluster.backups.push({ id: "nightly", type: "full", status: "running", started_at: "2026-01-01T02:00:00Z", pollsLeft: 2 });
    const res = await host.call(provider, "create", CHECKED);
    expect(fake.calls(POST).at(-1)!.status).toBe(409);
    expect(res.outs).toMatchObject({ backupId: "nightly", reused: true });
    expect(cluster.backups.map((b) => b.status)).toEqual(["completed"]);
  });

  it("a POST answered 429 is retried (the server did not act on it)", async () => {
    const n = fake.calls(POST).length;
    fake.inject({ route: POST, nth: [n + 1], status: 429, headers: { "retry-after": "0" } });
    const res = await host.call(provider, "create", CHECKED);
    expect(fake.calls(POST).slice(n).map((c) => c.status)).toEqual([429, 202]);
    expect(state.clusters.get(CLUSTER)!.backups.map((b) => b.id)).toEqual([res.id]);
  });

  it("a failed or slow backup stops the deploy with the cluster and stack named", async () => {
    state.clusters.get(CLUSTER)!.backups.push({ id: "stuck", type: "full", status: "running", started_at: "2026-01-01T02:00:00Z", pollsLeft: 1e9 });
    await expect(host.call(provider, "create", { ...CHECKED, timeoutSeconds: 0.05 })).rejects.toThrow(
      /Pre-deploy backup of MPG cluster "renewa-production-mpg" for stack "production" failed, so the release \(migrations\) did not run: Timed out/,
    );
    await expect(host.call(provider, "create", { ...CHECKED, clusterId: "missing-cluster" })).rejects.toThrow(/missing-cluster.*404 Cluster not found/);
  });

  it("delete keeps the backup and calls nothing", async () => {
    const { outs } = await host.call(provider, "create", CHECKED);
    const before = fake.log.length;
    await host.call(provider, "delete", outs.backupId, outs);
    await host.call(provider, "delete", outs.backupId, outs);
    expect(fake.log.length).toBe(before);
    expect(state.clusters.get(CLUSTER)!.backups).toHaveLength(1);
  });
});
