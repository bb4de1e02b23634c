/**
 * Path B (break-glass restore) end to end against the MPG and Infisical fakes sharing one server: `fly mpg restore`
 * forks a new cluster, the engineer puts its id in Pulumi.production.yaml and runs `pulumi up`. The MpgCluster diff is
 * an in-place update of clusterId; the update yields URLs on the new cluster; InfisicalSecrets upserts exactly the two
 * database keys; the sync is triggered and the app receives the new values and is redeployed. Nothing is deleted.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFlyPostgresClient } from "../src/clients/fly-postgres";
import { ProviderHost, SerializedResource, closeAll, serializeResource, serializeResources, startProviderHost } from "./harness/engine";
import { createFlyPostgresFake, FlyPostgresState } from "./fakes/fly-postgres";
import { createInfisicalFake, InfisicalState } from "./fakes/infisical";
import { HttpFake } from "./fakes/http-fake";

const FLY_TOKEN = "fm2_sentinel-path-b-fly-token-2a9f";
const INF_TOKEN = "sentinel-path-b-infisical-token-6c0e";
const PROJECT_ID = "2f1c6a3e-5b7d-4e8f-9a0b-1c2d3e4f5a6b";
const OLD = "renewa-production-mpg";
const APP = "renewa-app-production";
const HUMAN = ["JWT_SECRET", "ENCRYPTION_KEY", "SENTRY_DSN_BACKEND", "BIRD_API_KEY", "HUBSPOT_CLIENT_SECRET", "SEVDESK_API_TOKEN"];

let fake: HttpFake;
let mpg: FlyPostgresState;
let infisical: InfisicalState;
let host: ProviderHost;
const env = { FLY_API_TOKEN: FLY_TOKEN, INFISICAL_TOKEN: INF_TOKEN };
const clusterSpec = (clusterId: string) => ({ module: "src/providers/mpg-cluster.ts", exportName: "MpgCluster", name: "prod-MpgCluster", args: { clusterId, org: "renewa" }, stack: "production" });
// The program's resources before the restore, serialized in one process as one `pulumi up` would.
let cluster: SerializedResource;
let secrets: SerializedResource;
let conn: SerializedResource;
let sync: SerializedResource;

beforeAll(async () => {
  [cluster, secrets, conn, sync] = serializeResources(
    [
      clusterSpec(OLD),
      { module: "src/providers/infisical-secrets.ts", exportName: "InfisicalSecrets", name: "prod-InfisicalSecrets", args: { project: "renewa-one", environment: "prod", secrets: {} }, secretArgs: ["secrets"], stack: "production" },
      { module: "src/providers/infisical-app-connection.ts", exportName: "InfisicalFlyConnection", name: "prod-InfisicalFlyConnection", args: { name: APP }, stack: "production" },
      {
        module: "src/providers/infisical-sync.ts",
        exportName: "InfisicalFlySync",
        name: "prod-InfisicalFlySync",
        args: { name: APP, project: "renewa-one", environment: "prod", connectionId: "x", appName: APP, secretsVersion: "x" },
        stack: "production",
      },
    ],
    env,
  );
  ({ fake, state: mpg } = await createFlyPostgresFake({ authorization: `FlyV1 ${FLY_TOKEN}`, restorePolls: 3 }));
  ({ state: infisical } = await createInfisicalFake({ fake, tokens: [INF_TOKEN] }));
  host = await startProviderHost({ ...env, FLY_MACHINES_API_URL: fake.url, INFISICAL_API_URL: fake.url, RENEWA_TIME_SCALE: "0.001" });
  process.env.FLY_API_TOKEN = FLY_TOKEN;
  process.env.FLY_MACHINES_API_URL = fake.url;
});
afterAll(() => closeAll(host, fake));

describe("Path B: re-point production at a restored cluster", () => {
  it("runs from `fly mpg restore` to the app holding the new DATABASE_URL, changing only what must change", async () => {
    // Before: production runs on OLD, with a completed backup; Infisical holds the human secrets.
    mpg.addCluster({ id: OLD }).backups.push({ id: "bk-before-bad-migration", type: "full", status: "completed", started_at: "2026-01-01T00:00:00Z", pollsLeft: 0 });
    const folder = infisical.folder(PROJECT_ID, "prod", "/");
    for (const name of HUMAN) folder.set(name, `SENTINELVALUE-${name}`);

    const c1 = (await host.call(cluster.provider, "check", {}, cluster.news)).inputs;
    const clusterOuts = (await host.call(cluster.provider, "create", c1)).outs;

    const secretsOf = (outs: any) => ({ DATABASE_URL: outs.databaseUrl, DATABASE_URL_MIGRATION: outs.migrationDatabaseUrl, TIGRIS_SECRET_ACCESS_KEY: "tsec_SENTINELVALUE" });
    const s1 = (await host.call(secrets.provider, "check", {}, { ...secrets.news, secrets: secretsOf(clusterOuts) })).inputs;
    const secretsOuts = (await host.call(secrets.provider, "create", s1)).outs;

    const connOuts = (await host.call(conn.provider, "create", (await host.call(conn.provider, "check", {}, conn.news)).inputs)).outs;

    const y1 = (await host.call(sync.provider, "check", {}, { ...sync.news, connectionId: connOuts.connectionId, secretsVersion: secretsOuts.secretsHash })).inputs;
    const created = await host.call(sync.provider, "create", y1);
    const syncOuts = created.outs;
    expect(infisical.flyApps.get(APP)!.secrets.DATABASE_URL).toContain(`pgbouncer.${OLD}.`);
    const redeploysBefore = infisical.flyApps.get(APP)!.redeploys;

    // 1. The engineer restores: a NEW cluster id; the old cluster is untouched.
    const restored = await createFlyPostgresClient().restore(OLD, "bk-before-bad-migration");
    expect(restored.id).not.toBe(OLD);
    expect(restored.status).toBe("creating");

    // 2. Pulumi.production.yaml gets renewa:mpgClusterId = the new id; `pulumi preview` shows one in-place update.
    const repointed = serializeResource({ ...clusterSpec(restored.id), env });
    const c2 = (await host.call(repointed.provider, "check", c1, repointed.news)).inputs;
    const changedInputs = Object.keys(c2).filter((k) => JSON.stringify(c2[k]) !== JSON.stringify(c1[k]));
    expect(changedInputs).toEqual(["clusterId"]);
    expect(await host.call(repointed.provider, "diff", "mpg-production", clusterOuts, c2)).toEqual({ changes: true, replaces: [] });

    // 3. `pulumi up`: the update waits for the restore to be ready and derives URLs on the new cluster.
    const clusterOuts2 = (await host.call(repointed.provider, "update", "mpg-production", clusterOuts, c2)).outs;
    expect(clusterOuts2.status).toBe("ready");
    expect(clusterOuts2.databaseUrl).toContain(`@pgbouncer.${restored.id}.flympg.net:5432/fly-db`);
    expect(clusterOuts2.migrationDatabaseUrl).toContain(`@direct.${restored.id}.flympg.net:5432/fly-db`);

    // 4. InfisicalSecrets: exactly the two database keys are upserted.
    const s2 = (await host.call(secrets.provider, "check", s1, { ...secrets.news, secrets: secretsOf(clusterOuts2) })).inputs;
    expect(await host.call(secrets.provider, "diff", "id", secretsOuts, s2)).toEqual({ changes: true, replaces: [] });
    const batches = fake.calls("PATCH /api/v4/secrets/batch").length;
    const secretsOuts2 = (await host.call(secrets.provider, "update", "id", secretsOuts, s2)).outs;
    const written = fake.calls("PATCH /api/v4/secrets/batch").slice(batches);
    expect(written.map((c) => c.body.secrets.map((s: any) => s.secretKey).sort())).toEqual([["DATABASE_URL", "DATABASE_URL_MIGRATION"]]);
    expect(secretsOuts2.secretsHash).not.toBe(secretsOuts.secretsHash);
    expect(folder.get("DATABASE_URL")).toBe(clusterOuts2.databaseUrl);

    // 5. The sync is re-run (an update, not a replace) and the app holds the new values and was redeployed.
    const y2 = (await host.call(sync.provider, "check", y1, { ...y1, secretsVersion: secretsOuts2.secretsHash })).inputs;
    expect(await host.call(sync.provider, "diff", created.id, syncOuts, y2)).toEqual({ changes: true, replaces: [] });
    const triggers = fake.calls("POST /api/v1/secret-syncs/flyio/:id/sync-secrets").length;
    await host.call(sync.provider, "update", created.id, syncOuts, y2);
    expect(fake.calls("POST /api/v1/secret-syncs/flyio/:id/sync-secrets").length).toBe(triggers + 1);
    const app = infisical.flyApps.get(APP)!;
    expect(app.secrets.DATABASE_URL).toBe(clusterOuts2.databaseUrl);
    expect(app.secrets.DATABASE_URL_MIGRATION).toBe(clusterOuts2.migrationDatabaseUrl);
    expect(app.secrets.JWT_SECRET).toBe("SENTINELVALUE-JWT_SECRET");
    expect(app.redeploys).toBeGreaterThan(redeploysBefore);

    // Nothing was deleted: no cluster, database, user or secret sync removal anywhere.
    expect(fake.log.filter((c) => c.method === "DELETE")).toEqual([]);
    expect(mpg.clusters.get(OLD)!.status).toBe("ready");

    // No value or token reached anything but the fakes.
    const printed = host.output();
    for (const needle of [FLY_TOKEN, INF_TOKEN, "SENTINELVALUE", "SECRETPW"]) {
      expect(printed).not.toContain(needle);
      for (const p of [cluster.provider, secrets.provider, conn.provider, sync.provider]) expect(p).not.toContain(needle);
      expect(JSON.stringify([secretsOuts2, connOuts, syncOuts])).not.toContain(needle);
    }
  });
});
