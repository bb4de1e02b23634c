/**
 * MpgCluster's provider as the engine runs it (serialized in one process, called in another whose environment holds
 * only the token and the fake's URL): validation with errors that name the cluster and stack, connection strings,
 * re-pointing as an update, refresh, and a delete that never touches the cluster.
 */
import { UNKNOWN } from "../src/dynamic-support";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ProviderHost, closeAll } from "./harness/engine";
import { FlyPostgresState, resetMpg, startMpgProvider } from "./fakes/fly-postgres";
import { HttpFake } from "./fakes/http-fake";

const TOKEN = "fm2_sentinel-mpg-cluster-token-4b1d";
const INPUTS = { stack: "staging", clusterId: "renewa-staging-mpg", org: "renewa" };
const CHECKED = { ...INPUTS, databaseName: "fly-db", appUser: "fly-user", migrationUser: "fly-user", readyTimeoutSeconds: 900 };

let fake: HttpFake;
let state: FlyPostgresState;
let provider: string;
let host: ProviderHost;

beforeAll(async () => {
  ({ fake, state, provider, host } = await startMpgProvider(
    TOKEN,
    { module: "src/providers/mpg-cluster.ts", exportName: "MpgCluster", name: "db-cluster", args: { clusterId: INPUTS.clusterId, org: "renewa" }, stack: "staging" },
    { restorePolls: 2 },
  ));
});
afterAll(() => closeAll(host, fake));
beforeEach(() => resetMpg(fake, state));

describe("MpgCluster provider", () => {
  it("serializes without the token", () => {
    expect(provider).not.toContain(TOKEN);
    expect(provider.length).toBeLessThan(200_000);
  });

  it("check fills defaults and names a bad cluster id with the command that fixes it", async () => {
    state.addCluster({ id: INPUTS.clusterId, status: "creating", pollsUntilReady: 1e9 });
    expect(await host.call(provider, "check", {}, INPUTS)).toEqual({ inputs: CHECKED, failures: [] });
    const bad = await host.call(provider, "check", {}, { ...INPUTS, clusterId: "Bad_ID" });
    expect(bad.failures).toHaveLength(1);
    expect(bad.failures[0].property).toBe("clusterId");
    expect(bad.failures[0].reason).toContain("pulumi config set renewa:mpgClusterId <id> -s staging");
  });

  it("check (so preview) already refuses a cluster id Fly does not know, or one outside fra", async () => {
    const missing = await host.call(provider, "check", {}, { ...INPUTS, clusterId: "renewa-typo-mpg" });
    expect(missing.failures).toEqual([{ property: "clusterId", reason: 'MPG cluster "renewa-typo-mpg" (renewa:mpgClusterId on stack "staging") does not exist or has been deleted; check `fly mpg list`' }]);
    state.addCluster({ id: INPUTS.clusterId, region: "ams" });
    expect((await host.call(provider, "check", {}, INPUTS)).failures[0].reason).toContain('is in region "ams", not fra');
    const unknown = await host.call(provider, "check", {}, { ...INPUTS, clusterId: UNKNOWN });
    expect(unknown.failures).toEqual([]);
  });

  it("create derives the pooled app URL and the direct migration URL from the cluster and the user's credentials", async () => {
    const c = state.addCluster({ id: INPUTS.clusterId });
    const pw = c.users.get("fly-user")!.password;
    const res = await host.call(provider, "create", CHECKED);
    expect(res.id).toBe("mpg-staging");
    expect(res.outs).toEqual({
      ...CHECKED,
      clusterName: INPUTS.clusterId,
      status: "ready",
      databaseUrl: `postgres://fly-user:${pw}@pgbouncer.${INPUTS.clusterId}.flympg.net:5432/fly-db`,
      migrationDatabaseUrl: `postgres://fly-user:${pw}@direct.${INPUTS.clusterId}.flympg.net:5432/fly-db`,
    });
    expect(fake.mutatingCalls()).toEqual([]);
  });

  it("uses separate users for the app and for migrations when told to", async () => {
    state.addCluster({
      id: INPUTS.clusterId,
      users: { app: { role: "writer", password: "SECRETPW-app" }, migrator: { role: "schema_admin", password: "SECRETPW-mig" } },
    });
    const { outs } = await host.call(provider, "create", { ...CHECKED, appUser: "app", migrationUser: "migrator" });
    expect(outs.databaseUrl).toMatch(/^postgres:\/\/app:SECRETPW-app@pgbouncer\./);
    expect(outs.migrationDatabaseUrl).toMatch(/^postgres:\/\/migrator:SECRETPW-mig@direct\./);
  });

  it.each([
    ["a missing cluster", () => undefined, /MPG cluster "renewa-staging-mpg" \(renewa:mpgClusterId on stack "staging"\) does not exist.*pulumi config set renewa:mpgClusterId <id> -s staging/s],
    ["a cluster in another region", () => state.addCluster({ id: INPUTS.clusterId, region: "iad" }), /is in region "iad", but this platform runs only in fra/],
    ["a failed cluster", () => state.addCluster({ id: INPUTS.clusterId, status: "failed" }), /is "failed", not ready/],
    ["a cluster of another org", () => state.addCluster({ id: INPUTS.clusterId, org: "someone-else" }), /belongs to Fly org "someone-else", not "renewa"/],
    ["a missing database", () => state.addCluster({ id: INPUTS.clusterId, databases: ["postgres"] }), /has no database "fly-db" \(it has: postgres\).*fly mpg databases create/s],
    ["a missing user", () => state.addCluster({ id: INPUTS.clusterId, users: {} }), /has no user "fly-user".*fly mpg users create renewa-staging-mpg --username fly-user/s],
  ])("create fails clearly on %s", async (_what, arrange, message) => {
    arrange();
    await expect(host.call(provider, "create", CHECKED)).rejects.toThrow(message);
  });

  it("waits for a cluster that is still creating, and gives up with the status after the timeout", async () => {
    state.addCluster({ id: INPUTS.clusterId, status: "creating", pollsUntilReady: 3 });
    expect((await host.call(provider, "create", CHECKED)).outs.status).toBe("ready");
    state.clusters.clear();
    state.addCluster({ id: INPUTS.clusterId, status: "creating", pollsUntilReady: 1e9 });
    await expect(host.call(provider, "create", { ...CHECKED, readyTimeoutSeconds: 0 })).rejects.toThrow(
      /is still "creating" after 0 s\. Wait until `fly mpg status renewa-staging-mpg` shows ready/,
    );
  });

  it("retries 429 and 503 answers", async () => {
    state.addCluster({ id: INPUTS.clusterId });
    const n = fake.calls("GET /v1/postgres/:id/users/:user/credentials").length;
    fake.inject({ route: "GET /v1/postgres/:id/users/:user/credentials", nth: [n + 1], status: 503 });
    fake.inject({ route: "GET /v1/postgres/:id/users/:user/credentials", nth: [n + 2], status: 429, headers: { "retry-after": "0" } });
    expect((await host.call(provider, "create", CHECKED)).outs.status).toBe("ready");
    expect(fake.calls("GET /v1/postgres/:id/users/:user/credentials").slice(n).map((c) => c.status)).toEqual([503, 429, 200]);
  });

  it("diff: a new cluster id is an update, never a replace; nothing changed is no diff", async () => {
    const olds = { ...CHECKED, clusterName: "x", status: "ready", databaseUrl: "u", migrationDatabaseUrl: "m" };
    expect(await host.call(provider, "diff", "mpg-staging", olds, CHECKED)).toEqual({ changes: false, replaces: [] });
    expect(await host.call(provider, "diff", "mpg-staging", olds, { ...CHECKED, clusterId: "renewa-staging-restored" })).toEqual({ changes: true, replaces: [] });
  });

  it("read refreshes the status and drops a cluster that is gone", async () => {
    const c = state.addCluster({ id: INPUTS.clusterId });
    const { outs } = await host.call(provider, "create", CHECKED);
    // Nothing changed outside: exactly what create stored (a refresh must not turn into an update on the next up).
    const same = await host.call(provider, "read", "mpg-staging", outs);
    expect(same).toEqual({ id: "mpg-staging", props: outs });
    expect(await host.call(provider, "diff", "mpg-staging", same.props, CHECKED)).toEqual({ changes: false, replaces: [] });
    c.status = "deleting";
    expect(await host.call(provider, "read", "mpg-staging", outs)).toEqual({ id: "", props: outs });
    c.status = "initializing";
    expect((await host.call(provider, "read", "mpg-staging", outs)).props.status).toBe("initializing");
    state.clusters.delete(INPUTS.clusterId);
    expect((await host.call(provider, "read", "mpg-staging", outs)).id).toBe("");
  });

  it("delete forgets the reference without a single call to Fly, and can be repeated", async () => {
    state.addCluster({ id: INPUTS.clusterId });
    const { outs } = await host.call(provider, "create", CHECKED);
    const before = fake.log.length;
    await host.call(provider, "delete", "mpg-staging", outs);
    await host.call(provider, "delete", "mpg-staging", outs);
    expect(fake.log.length).toBe(before);
    expect(state.clusters.get(INPUTS.clusterId)!.status).toBe("ready");
  });

  it("never prints the token or a password", async () => {
    const c = state.addCluster({ id: INPUTS.clusterId });
    expect((await host.call(provider, "create", CHECKED)).outs.status).toBe("ready");
    const err: Error = await host.call(provider, "create", { ...CHECKED, appUser: "nobody" }).catch((e) => e);
    expect(err.message).toMatch(/has no user "nobody"/);
    expect(err.message).not.toContain(c.users.get("fly-user")!.password);
    expect(host.output()).not.toContain(TOKEN);
    expect(host.output()).not.toContain("SECRETPW");
  });
});
