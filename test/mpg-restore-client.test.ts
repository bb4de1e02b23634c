/**
 * The MPG client calls the data jobs add: picking the latest completed backup, restore into a NEW cluster (with the
 * name sent along), cluster deletion that is safe to repeat, and password rotation, against the fake on a real socket.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createFlyPostgresClient, latestCompletedBackup } from "../src/clients/fly-postgres";
import { createFlyPostgresFake, FlyPostgresState } from "./fakes/fly-postgres";
import { HttpFake } from "./fakes/http-fake";

const TOKEN = "fm2_sentinel-mpg-restore-token";
let fake: HttpFake;
let state: FlyPostgresState;
const client = () => createFlyPostgresClient({ timeScale: 0.001, backoff: { baseMs: 5, capMs: 20, maxRetries: 2 } });

beforeAll(async () => {
  ({ fake, state } = await createFlyPostgresFake({ authorization: `FlyV1 ${TOKEN}`, restorePolls: 2 }));
  process.env.FLY_API_TOKEN = TOKEN;
  process.env.FLY_MACHINES_API_URL = fake.url;
});
afterAll(async () => fake?.stop());
beforeEach(() => {
  state.clusters.clear();
  state.restoreOutcome = "ready";
  fake.clearFaults();
  fake.log.length = 0;
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
    const pg = client();
    const copy = await pg.restore(source.id, "bk-1", "renewa-verify-production-x");
    expect(copy.id).not.toBe(source.id);
    expect(copy).toMatchObject({ name: "renewa-verify-production-x", status: "creating" });
    expect(fake.calls("POST /v1/postgres/:id/restore")[0].body).toEqual({ backup_id: "bk-1", name: "renewa-verify-production-x" });
    expect((await pg.waitForClusterSettled(copy.id, 5_000))?.status).toBe("ready");
    expect(source.status).toBe("ready");
    await expect(pg.restore(source.id, "bk-missing")).rejects.toThrow(/POST \/v1\/postgres\/renewa-production-mpg\/restore: 404 Backup bk-missing not found/);
  });

  it("deleteCluster is safe to repeat: a deleted (410) or unknown (404) cluster is already gone", async () => {
    state.addCluster({ id: "scratch-cluster-1" });
    const pg = client();
    expect(await pg.deleteCluster("scratch-cluster-1")).toBe(true);
    expect(await pg.deleteCluster("scratch-cluster-1")).toBe(false);
    expect(await pg.deleteCluster("never-existed-1")).toBe(false);
  });

  it("rotatePassword returns the new password, and retries a 503", async () => {
    const c = state.addCluster({ id: "scratch-cluster-2" });
    const before = c.users.get("fly-user")!.password;
    fake.inject({ route: "POST /v1/postgres/:id/users/:user/rotate_password", nth: [1], status: 503 });
    const creds = await client().rotatePassword(c.id, "fly-user");
    expect(creds.username).toBe("fly-user");
    expect(creds.password).toBe(c.users.get("fly-user")!.password);
    expect(creds.password).not.toBe(before);
  });
});
