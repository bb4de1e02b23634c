/**
 * The Fly.io app connection and the Fly.io secret sync through their serialized providers: the token goes to
 * Infisical only (state keeps a hash), connections and syncs are adopted by name, a sync is triggered and waited for
 * (pending → running → succeeded), failures carry Infisical's message, and Fly secrets Infisical does not hold survive.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createHash } from "crypto";
import { ProviderHost, closeAll, serializeResources, startProviderHost } from "./harness/engine";
import { createInfisicalFake, InfisicalState } from "./fakes/infisical";
import { HttpFake } from "./fakes/http-fake";

const TOKEN = "sentinel-infisical-token-c4f1";
const FLY_TOKEN = "fm2_sentinel-fly-token-for-infisical-19ab";
const PROJECT_ID = "2f1c6a3e-5b7d-4e8f-9a0b-1c2d3e4f5a6b";
const APP = "renewa-app-staging";
const CONN_INPUTS = { stack: "staging", name: APP, description: "Managed by Pulumi (renewa-platform)" };

let fake: HttpFake;
let state: InfisicalState;
let connProvider: string;
let syncProvider: string;
let host: ProviderHost;

const sha = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;
const syncInputs = (connectionId: string, secretsVersion = "v1") => ({
  stack: "staging",
  name: APP,
  project: "renewa-one",
  environment: "staging",
  secretPath: "/",
  connectionId,
  appName: APP,
  appId: APP,
  secretsVersion,
  timeoutSeconds: 5,
});

beforeAll(async () => {
  ({ fake, state } = await createInfisicalFake({ tokens: [TOKEN] }));
  const env = { INFISICAL_TOKEN: TOKEN, FLY_API_TOKEN: FLY_TOKEN };
  [connProvider, syncProvider] = serializeResources(
    [
      { module: "src/providers/infisical-app-connection.ts", exportName: "InfisicalFlyConnection", name: "s-connection", args: { name: APP }, stack: "staging" },
      {
        module: "src/providers/infisical-sync.ts",
        exportName: "InfisicalFlySync",
        name: "s-sync",
        args: { name: APP, project: "renewa-one", environment: "staging", connectionId: "c", appName: APP, secretsVersion: "v1" },
        stack: "staging",
      },
    ],
    env,
  ).map((s) => s.provider);
  host = await startProviderHost({ ...env, INFISICAL_API_URL: fake.url, RENEWA_TIME_SCALE: "0.001" });
});
afterAll(() => closeAll(host, fake));
beforeEach(() => {
  state.folders.clear();
  state.connections.clear();
  state.syncs.clear();
  state.flyApps.clear();
  fake.clearFaults();
});

describe("InfisicalFlyConnection provider", () => {
  it("serializes without either token", () => {
    for (const p of [connProvider, syncProvider]) {
      expect(p).not.toContain(TOKEN);
      expect(p).not.toContain(FLY_TOKEN);
    }
  });

  it("create sends the Fly token as FlyV1 and keeps only its hash", async () => {
    const res = await host.call(connProvider, "create", CONN_INPUTS);
    expect(fake.calls("POST /api/v1/app-connections/flyio").at(-1)!.body).toEqual({
      name: APP,
      description: CONN_INPUTS.description,
      method: "access-token",
      credentials: { accessToken: `FlyV1 ${FLY_TOKEN}` },
    });
    expect(res.outs).toEqual({ ...CONN_INPUTS, connectionId: res.id, credentialsHash: sha(`FlyV1 ${FLY_TOKEN}`) });
    expect(state.connections.get(res.id)!.accessToken).toBe(`FlyV1 ${FLY_TOKEN}`);
  });

  it("adopts a connection of the same name, updating its token", async () => {
    state.connections.set("existing", { id: "existing", name: APP, accessToken: "FlyV1 fm2_old" });
    const posts = fake.calls("POST /api/v1/app-connections/flyio").length;
    const res = await host.call(connProvider, "create", CONN_INPUTS);
    expect(res.id).toBe("existing");
    expect(fake.calls("POST /api/v1/app-connections/flyio")).toHaveLength(posts);
    expect(state.connections.get("existing")!.accessToken).toBe(`FlyV1 ${FLY_TOKEN}`);
  });

  it("diff sees a rotated token; update sends it", async () => {
    const { id, outs } = await host.call(connProvider, "create", CONN_INPUTS);
    expect(await host.call(connProvider, "diff", id, outs, CONN_INPUTS)).toEqual({ changes: false, replaces: [] });
    const rotated = await startProviderHost({ INFISICAL_TOKEN: TOKEN, FLY_API_TOKEN: "fm2_rotated-token", INFISICAL_API_URL: fake.url });
    try {
      expect(await rotated.call(connProvider, "diff", id, outs, CONN_INPUTS)).toEqual({ changes: true, replaces: [] });
      const updated = await rotated.call(connProvider, "update", id, outs, CONN_INPUTS);
      expect(updated.outs.credentialsHash).toBe(sha("FlyV1 fm2_rotated-token"));
      expect(state.connections.get(id)!.accessToken).toBe("FlyV1 fm2_rotated-token");
    } finally {
      await rotated.close();
    }
  });

  it("refuses a token Infisical would not accept, without echoing it", async () => {
    const legacy = await startProviderHost({ INFISICAL_TOKEN: TOKEN, FLY_API_TOKEN: "sentinel-personal-token", INFISICAL_API_URL: fake.url });
    try {
      const err: Error = await legacy.call(connProvider, "create", CONN_INPUTS).catch((e) => e);
      expect(err.message).toMatch(/FLY_API_TOKEN is not a macaroon token.*fly tokens create deploy/);
      expect(err.message).not.toContain("sentinel-personal-token");
    } finally {
      await legacy.close();
    }
  });

  it("an Infisical error echoing the Fly token does not carry it", async () => {
    fake.inject({ route: "POST /api/v1/app-connections/flyio", status: 400, body: { statusCode: 400, error: "Bad Request", message: `Invalid credentials: FlyV1 ${FLY_TOKEN}` } });
    const err: Error = await host.call(connProvider, "create", CONN_INPUTS).catch((e) => e);
    expect(err.message).toMatch(/^POST \/api\/v1\/app-connections\/flyio: 400 Invalid credentials: \[redacted\] \(request id /);
    expect(err.message).not.toContain(FLY_TOKEN);
  });

  it("read and delete: gone is gone, and deleting twice is fine", async () => {
    const { id, outs } = await host.call(connProvider, "create", CONN_INPUTS);
    expect((await host.call(connProvider, "read", id, outs)).id).toBe(id);
    await host.call(connProvider, "delete", id, outs);
    await host.call(connProvider, "delete", id, outs);
    expect(state.connections.size).toBe(0);
    expect((await host.call(connProvider, "read", id, outs)).id).toBe("");
  });
});

describe("InfisicalFlySync provider", () => {
  async function connection(): Promise<string> {
    return (await host.call(connProvider, "create", CONN_INPUTS)).id;
  }

  it("check defaults the folder, app id and timeout", async () => {
    const { inputs } = await host.call(syncProvider, "check", {}, { stack: "staging", name: APP, project: "renewa-one", environment: "staging", connectionId: "c", appName: APP, secretsVersion: "v1" });
    expect(inputs).toEqual({ ...syncInputs("c"), timeoutSeconds: 300 });
  });

  it("create makes the sync (auto-sync, autoRedeploy, no deletions), waits for it, and keeps other Fly secrets", async () => {
    state.folder(PROJECT_ID, "staging", "/").set("JWT_SECRET", "SENTINELVALUE-jwt");
    state.flyApps.set(APP, { secrets: { AWS_ACCESS_KEY_ID: "tid_from_extension" }, redeploys: 0 });
    const inputs = syncInputs(await connection());
    const res = await host.call(syncProvider, "create", inputs);
    const body = fake.calls("POST /api/v1/secret-syncs/flyio").at(-1)!.body;
    expect(body).toMatchObject({
      name: APP,
      projectId: PROJECT_ID,
      environment: "staging",
      secretPath: "/",
      isAutoSyncEnabled: true,
      syncOptions: { initialSyncBehavior: "overwrite-destination", disableSecretDeletion: true, autoRedeploy: true },
      destinationConfig: { appId: APP, appName: APP },
    });
    expect(body.syncOptions).not.toHaveProperty("keySchema");
    expect(res.outs).toMatchObject({ ...inputs, syncId: res.id, projectId: PROJECT_ID, syncStatus: "succeeded", autoRedeploy: true });
    expect(state.flyApps.get(APP)!.secrets).toEqual({ AWS_ACCESS_KEY_ID: "tid_from_extension", JWT_SECRET: "SENTINELVALUE-jwt" });
    expect(JSON.stringify(res)).not.toContain("SENTINELVALUE");
  });

  it("adopts a sync of the same name instead of failing on a duplicate", async () => {
    const connectionId = await connection();
    const first = await host.call(syncProvider, "create", syncInputs(connectionId));
    const again = await host.call(syncProvider, "create", syncInputs(connectionId));
    expect(again.id).toBe(first.id);
    expect(state.syncs.size).toBe(1);
    expect(fake.calls(`PATCH /api/v1/secret-syncs/flyio/:id`).at(-1)!.body.syncOptions.disableSecretDeletion).toBe(true);
  });

  it("a replace that names the same project by id instead of slug keeps the sync, because delete runs first", async () => {
    const inputs = syncInputs(await connection());
    const { id, outs } = await host.call(syncProvider, "create", inputs);
    const news = { ...inputs, project: PROJECT_ID };
    const diff = await host.call(syncProvider, "diff", id, outs, news);
    expect(diff.replaces).toEqual(["project"]);
    // The engine's replace: the old resource is deleted first only when diff asks for it.
    let created: { id: string };
    if (diff.deleteBeforeReplace) {
      await host.call(syncProvider, "delete", id, outs);
      created = await host.call(syncProvider, "create", news);
    } else {
      created = await host.call(syncProvider, "create", news);
      await host.call(syncProvider, "delete", id, outs);
    }
    expect([...state.syncs.keys()]).toEqual([created.id]);
  });

  it("a new secretsVersion triggers a sync and waits for the new job; the same version does nothing", async () => {
    const inputs = syncInputs(await connection());
    const { id, outs } = await host.call(syncProvider, "create", inputs);
    expect(await host.call(syncProvider, "diff", id, outs, inputs)).toEqual({ changes: false, replaces: [] });
    const news = { ...inputs, secretsVersion: "v2" };
    expect(await host.call(syncProvider, "diff", id, outs, news)).toEqual({ changes: true, replaces: [] });
    state.folder(PROJECT_ID, "staging", "/").set("DATABASE_URL", "postgres://new");
    const triggers = fake.calls("POST /api/v1/secret-syncs/flyio/:id/sync-secrets").length;
    const updated = await host.call(syncProvider, "update", id, outs, news);
    expect(fake.calls("POST /api/v1/secret-syncs/flyio/:id/sync-secrets").length).toBe(triggers + 1);
    expect(updated.outs.secretsVersion).toBe("v2");
    expect(updated.outs.lastSyncedAt > outs.lastSyncedAt).toBe(true);
    expect(state.flyApps.get(APP)!.secrets.DATABASE_URL).toBe("postgres://new");
  });

  it("a failed sync fails the update with Infisical's message", async () => {
    const inputs = syncInputs(await connection());
    const { id, outs } = await host.call(syncProvider, "create", inputs);
    state.failNextSync = "Fly.io API: app renewa-app-staging not found";
    await expect(host.call(syncProvider, "update", id, outs, { ...inputs, secretsVersion: "v2" })).rejects.toThrow(
      /Infisical secret sync "renewa-app-staging" .* to Fly app renewa-app-staging failed for stack "staging": Fly.io API: app renewa-app-staging not found/,
    );
  });

  it("gives up after the deadline with the last status", async () => {
    const inputs = syncInputs(await connection());
    const { id, outs } = await host.call(syncProvider, "create", inputs);
    fake.inject({ route: "GET /api/v1/secret-syncs/flyio/:id", delayMs: 30 });
    await expect(host.call(syncProvider, "update", id, outs, { ...inputs, secretsVersion: "v2", timeoutSeconds: 0.01 })).rejects.toThrow(
      /did not finish within 0 s \(status "(pending|running)"/,
    );
  });

  it("retries a 429 on the trigger", async () => {
    const inputs = syncInputs(await connection());
    const { id, outs } = await host.call(syncProvider, "create", inputs);
    const route = "POST /api/v1/secret-syncs/flyio/:id/sync-secrets";
    const n = fake.calls(route).length;
    fake.inject({ route, nth: [n + 1], status: 429, headers: { "retry-after": "0" } });
    await host.call(syncProvider, "update", id, outs, { ...inputs, secretsVersion: "v2" });
    expect(fake.calls(route).slice(n).map((c) => c.status)).toEqual([429, 200]);
  });

  it("delete keeps the app's secrets, and deleting twice is fine", async () => {
    state.folder(PROJECT_ID, "staging", "/").set("JWT_SECRET", "x");
    const inputs = syncInputs(await connection());
    const { id, outs } = await host.call(syncProvider, "create", inputs);
    await host.call(syncProvider, "delete", id, outs);
    await host.call(syncProvider, "delete", id, outs);
    expect(fake.calls("DELETE /api/v1/secret-syncs/flyio/:id").at(-2)!.path).toBe(`/api/v1/secret-syncs/flyio/${id}`);
    expect(state.syncs.size).toBe(0);
    expect(state.flyApps.get(APP)!.secrets).toEqual({ JWT_SECRET: "x" });
    expect((await host.call(syncProvider, "read", id, outs)).id).toBe("");
  });

  it("never prints a token or a value", () => {
    expect(host.output()).not.toContain(TOKEN);
    expect(host.output()).not.toContain(FLY_TOKEN);
    expect(host.output()).not.toContain("SENTINELVALUE");
  });
});
