/**
 * The whole program under a `pulumi up` stand-in (test/harness/up.ts): src/index.ts is evaluated for the staging stack
 * with the mock runtime while the mock monitor runs every dynamic provider in one provider process, as the engine
 * would, against one set of fakes. This exercises what the per-provider tests cannot: outputs feeding inputs across
 * components, dependsOn ordering, secrets kept secret end to end, and what a second, third and fourth `up` change.
 * The runs build on each other (one state file), so the tests run in order.
 */
import * as fs from "fs";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpFake, LoggedRequest } from "./fakes/http-fake";
import { Fakes, INFISICAL_PROJECT_ID, SENTINELS, UpResult, isSealed, newStatePath, startFakes, unsealed, up } from "./harness/up";

const APP = "renewa-app-staging";
const REPO = "renewa-app-development";
const OLD_CLUSTER = "renewa-staging-mpg";
const RESTORED = "renewa-staging-restored";
const D1 = `sha256:${"5e".repeat(32)}`;
const D2 = `sha256:${"7c".repeat(32)}`;
const image = (digest: string) => `registry.fly.io/${REPO}@${digest}`;
const RELEASE_GROUP = "fly_app_release_command";

let fakes: Fakes;
let statePath: string;
const runs: Array<UpResult & { stdout: string; stderr: string; stateText: string }> = [];

/** Each fake's log length, so a test can look at exactly the calls one `up` made. */
function mark(): Map<HttpFake, number> {
  return new Map(Object.values(fakes.servers).map((f) => [f, f.log.length]));
}
function since(marks: Map<HttpFake, number>, server: HttpFake): LoggedRequest[] {
  return server.log.slice(marks.get(server) ?? 0);
}

async function runUp(opts: { digest: string; config?: Record<string, string> }) {
  const result = await up(fakes, "staging", { statePath, config: opts.config, stackOutputs: { development: { imageDigest: opts.digest } } });
  const run = { ...result, stateText: fs.readFileSync(statePath, "utf8") };
  runs.push(run);
  if (!run.ok) throw new Error(`pulumi up failed:\n${run.errors.join("\n")}\n${run.stderr.slice(-3000)}`);
  return run;
}

const resource = (run: UpResult, name: string) => {
  const found = run.state.resources.find((r) => r.name === name);
  if (!found) throw new Error(`no ${name} in state: ${run.state.resources.map((r) => r.name).join(", ")}`);
  return found;
};
const registration = (run: UpResult, name: string) => run.registrations.find((r) => r.name === name)!;
const folder = () => fakes.infisical.state.folder(INFISICAL_PROJECT_ID, "staging", "/");
const appMachines = () => fakes.fly.machines(APP).filter((m) => m.config?.metadata?.fly_process_group === "app");
const releaseCommandMachines = () => [...fakes.fly.state.apps.get(APP)!.machines.values()].filter((m) => m.config?.metadata?.fly_process_group === RELEASE_GROUP);
const records = () => fakes.github.issues.issues.filter((i) => i.labels.includes("deployment-record"));
const createdMachines = (calls: LoggedRequest[]) => calls.filter((c) => c.route === "POST /v1/apps/:app/machines");

beforeAll(async () => {
  fakes = await startFakes({ timeScale: 0.01 });
  fakes.registry.push(REPO, D1);
  statePath = newStatePath();
});

afterAll(async () => {
  await fakes?.close();
  if (statePath) fs.rmSync(path.dirname(statePath), { recursive: true, force: true });
});

describe("pulumi up of the staging stack, end to end against the fakes", () => {
  let first: (typeof runs)[number];
  let firstCalls: Map<HttpFake, number>;

  it("first up creates everything and wires the components together", async () => {
    firstCalls = mark();
    first = await runUp({ digest: D1 });

    // The Fly app with two machines on the promoted digest, carrying flyctl's metadata.
    const app = fakes.fly.state.apps.get(APP);
    expect(app?.org).toBe("renewa");
    const machines = appMachines();
    expect(machines).toHaveLength(2);
    for (const m of machines) {
      expect(m.state).toBe("started");
      expect(m.config.image).toBe(image(D1));
      expect(m.config.metadata).toMatchObject({ fly_platform_version: "v2", fly_process_group: "app", fly_release_version: "1", fly_release_id: app!.releases[0].id });
    }
    expect(app!.releases.map((r) => [r.version, r.status, r.image_ref])).toEqual([[1, "complete", image(D1)]]);

    // release_command ran first, on the new image, and exited 0 before any app machine was created.
    const created = createdMachines(since(firstCalls, fakes.servers.fly));
    expect(created.map((c) => c.body.config.metadata.fly_process_group)).toEqual([RELEASE_GROUP, "app", "app"]);
    const [releaseCommand] = releaseCommandMachines();
    expect(releaseCommand.config.image).toBe(image(D1));
    expect(releaseCommand.events.find((e) => e.type === "exit")?.request?.exit_event?.exit_code).toBe(0);
    // …migrating with the app's DATABASE_URL_MIGRATION secret (checked in the folder below) as its DATABASE_URL,
    // with no connection string in its config.
    expect(releaseCommand.config.init.cmd[2]).toBe('DATABASE_URL="$DATABASE_URL_MIGRATION" exec "$@"');
    expect(JSON.stringify(releaseCommand.config)).not.toContain("flympg.net");

    // Infisical holds the infrastructure secrets derived from the cluster, the bucket and the cache.
    const f = folder();
    expect(f.get("DATABASE_URL")).toMatch(new RegExp(`^postgres(ql)?://fly-user:[^@]+@pgbouncer\\.${OLD_CLUSTER}\\.flympg\\.net:5432/fly-db`));
    expect(f.get("DATABASE_URL_MIGRATION")).toMatch(new RegExp(`@direct\\.${OLD_CLUSTER}\\.flympg\\.net:5432/fly-db`));
    const bucket = fakes.graphql.addOns.get("renewa-staging")!;
    expect(f.get("TIGRIS_BUCKET_NAME")).toBe("renewa-staging");
    expect(f.get("TIGRIS_ACCESS_KEY_ID")).toBe(bucket.environment.AWS_ACCESS_KEY_ID);
    expect(f.get("TIGRIS_SECRET_ACCESS_KEY")).toBe(bucket.environment.AWS_SECRET_ACCESS_KEY);
    expect(f.get("TIGRIS_ENDPOINT_URL_S3")).toBe("https://fly.storage.tigris.dev");
    expect(f.get("TIGRIS_REGION")).toBe("auto");
    expect(f.get("UPSTASH_REDIS_REST_URL")).toMatch(/^https:\/\/.+\.upstash\.io$/);
    expect(f.get("UPSTASH_REDIS_REST_TOKEN")).toMatch(/^upstash-rest-/);
    expect(f.get("UPSTASH_REDIS_URL")).toMatch(/^rediss:\/\/default:upstash-password-[0-9a-f]+@.+\.upstash\.io:6379$/);
    expect(f.get("JWT_SECRET")).toBe("human-managed-jwt_secret");

    // The Infisical → Fly sync exists, ran, and delivered the secrets to the app.
    const syncs = [...fakes.infisical.state.syncs.values()];
    expect(syncs.map((s) => [s.name, s.destinationConfig.appName, s.environment, s.syncStatus])).toEqual([[APP, APP, "staging", "succeeded"]]);
    expect(syncs[0].syncOptions).toMatchObject({ autoRedeploy: true });
    const delivered = fakes.infisical.state.flyApps.get(APP)!;
    expect(delivered.secrets.DATABASE_URL).toBe(f.get("DATABASE_URL"));
    expect(delivered.secrets.SEVDESK_API_TOKEN).toBe("human-managed-sevdesk_api_token");

    // One deployment record for release v1.
    expect(records()).toHaveLength(1);
    expect(records()[0].labels).toEqual(["deployment-record", "env:staging"]);
    expect(records()[0].body).toContain(D1);
    expect(records()[0].body).toContain(`${APP}@v1`);

    // The CI secrets of the staging GitHub environment, sealed with its key.
    expect(fakes.github.state.open("renewa/renewa-one/staging/FLY_API_TOKEN")).toBe(SENTINELS.FLY_API_TOKEN);
    expect(fakes.github.state.open("renewa/renewa-one/staging/FLY_MPG_TOKEN")).toBe(SENTINELS.FLY_MPG_TOKEN);

    expect(first.outputs).toMatchObject({
      appName: APP,
      appUrl: `https://${APP}.fly.dev`,
      imageDigest: D1,
      imageRef: image(D1),
      previousDigest: null,
      releaseVersion: 1,
      releasedDigests: [D1],
      databaseClusterId: OLD_CLUSTER,
    });
    // Its own last outputs (a pin, the running image's manifest and commit), and development's digest.
    expect(first.stackReferences).toEqual(["organization/renewa-platform/staging", "organization/renewa-platform/development"]);

    // Ordering: the sync waits for the app, the release for the sync, the record for the release.
    const at = (name: string) => registration(first, name);
    expect(at("renewa-secrets-sync").started).toBeGreaterThan(at("renewa-app-app").finished);
    expect(at("renewa-secrets-sync").started).toBeGreaterThan(at("renewa-secrets-secrets").finished);
    expect(at("renewa-app-release").started).toBeGreaterThan(at("renewa-secrets-sync").finished);
    expect(at("renewa-record").started).toBeGreaterThan(at("renewa-app-release").finished);
    expect(first.registrations.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/")).every((r) => r.op === "create")).toBe(true);
  });

  it("keeps every secret value secret in state", () => {
    // The release gets no connection string at all: its release_command reads DATABASE_URL_MIGRATION from Fly secrets.
    const { __provider: _text, ...releaseInputs } = resource(first, "renewa-app-release").inputs;
    expect(JSON.stringify([releaseInputs, resource(first, "renewa-app-release").outputs])).not.toMatch(/postgres(ql)?:\/\//);
    const cluster = resource(first, "renewa-db-cluster");
    expect(isSealed(cluster.outputs.databaseUrl)).toBe(true);
    expect(isSealed(cluster.outputs.migrationDatabaseUrl)).toBe(true);
    expect(isSealed(resource(first, "renewa-secrets-secrets").inputs.secrets)).toBe(true);
    expect(isSealed(resource(first, "renewa-storage-bucket").outputs.secretAccessKey)).toBe(true);
    expect(isSealed(resource(first, "renewa-cache-database").outputs.password)).toBe(true);
    // No value of an infrastructure secret appears in the state file in plain text.
    for (const [name, value] of folder()) {
      if (name.startsWith("TIGRIS_") && !/KEY/.test(name)) continue; // bucket name, endpoint, region are not secrets
      if (name === "UPSTASH_REDIS_REST_URL") continue;
      expect(first.stateText, name).not.toContain(value);
    }
    expect(unsealed(cluster.outputs.databaseUrl)).toBe(folder().get("DATABASE_URL"));
  });

  it("second up with nothing changed changes nothing anywhere", async () => {
    const before = mark();
    const issuesBefore = records().length;
    const second = await runUp({ digest: D1 });
    for (const [name, server] of Object.entries(fakes.servers)) {
      expect(
        since(before, server).filter((c) => c.method !== "GET" && c.method !== "HEAD").map((c) => `${c.method} ${c.path}`),
        name,
      ).toEqual([]);
    }
    const changed = second.registrations.filter((r) => r.op !== "same" && r.op !== "read").map((r) => `${r.op} ${r.name}`);
    expect(changed).toEqual([]);
    expect(second.deletes).toEqual([]);
    expect(records()).toHaveLength(issuesBefore);
    expect(second.outputs).toEqual(first.outputs);
  });

  it("Path B: re-pointing at the restored cluster updates in place, rewrites only the database URLs and re-syncs", async () => {
    const before = mark();
    const machinesBefore = appMachines().map((m) => [m.id, m.instance_id]);
    const redeploysBefore = fakes.infisical.state.flyApps.get(APP)!.redeploys;
    const third = await runUp({ digest: D1, config: { "renewa:mpgClusterId": RESTORED } });

    // The cluster reference is updated in place; nothing is replaced or deleted, in the program or in any fake.
    expect(registration(third, "renewa-db-cluster").op).toBe("update");
    expect(third.registrations.filter((r) => r.op === "replace" || r.op === "create")).toEqual([]);
    expect(third.deletes).toEqual([]);
    for (const server of Object.values(fakes.servers)) expect(since(before, server).filter((c) => c.method === "DELETE")).toEqual([]);
    const old = fakes.mpg.clusters.get(OLD_CLUSTER)!;
    expect(old.status).toBe("ready");
    expect([...old.databases]).toEqual(["fly-db"]);
    expect([...old.users.keys()]).toEqual(["fly-user"]);
    expect(since(before, fakes.servers.fly).filter((c) => c.path.startsWith(`/v1/postgres/${OLD_CLUSTER}`))).toEqual([]);

    // Infisical: exactly the two database keys were written, now on the restored cluster.
    const writes = since(before, fakes.servers.infisical).filter((c) => c.method !== "GET");
    const batches = writes.filter((c) => c.route === "PATCH /api/v4/secrets/batch");
    expect(batches.map((c) => c.body.secrets.map((s: { secretKey: string }) => s.secretKey).sort())).toEqual([["DATABASE_URL", "DATABASE_URL_MIGRATION"]]);
    expect(folder().get("DATABASE_URL")).toContain(`@pgbouncer.${RESTORED}.flympg.net:5432/fly-db`);
    expect(folder().get("DATABASE_URL_MIGRATION")).toContain(`@direct.${RESTORED}.flympg.net:5432/fly-db`);

    // The sync was triggered and the app carries the new URLs.
    expect(writes.filter((c) => c.route === "POST /api/v1/secret-syncs/flyio/:id/sync-secrets")).toHaveLength(1);
    const delivered = fakes.infisical.state.flyApps.get(APP)!;
    expect(delivered.secrets.DATABASE_URL).toBe(folder().get("DATABASE_URL"));
    expect(delivered.secrets.DATABASE_URL_MIGRATION).toBe(folder().get("DATABASE_URL_MIGRATION"));
    expect(delivered.redeploys).toBeGreaterThan(redeploysBefore);

    // No image rolled, no release_command ran, no new release or record.
    const flyWrites = since(before, fakes.servers.fly).filter((c) => c.method !== "GET");
    expect(flyWrites.map((c) => `${c.method} ${c.route}`)).toEqual([]);
    expect(appMachines().map((m) => [m.id, m.instance_id])).toEqual(machinesBefore);
    expect(releaseCommandMachines()).toHaveLength(1);
    expect(records()).toHaveLength(1);
    expect(third.outputs).toMatchObject({ databaseClusterId: RESTORED, imageDigest: D1, releaseVersion: 1, releasedDigests: [D1] });
  });

  it("promoting a new development digest runs release_command, rolls the machines and records the release", async () => {
    fakes.registry.push(REPO, D2);
    const before = mark();
    const fourth = await runUp({ digest: D2, config: { "renewa:mpgClusterId": RESTORED } });

    const created = createdMachines(since(before, fakes.servers.fly));
    expect(created[0]?.body.config.metadata.fly_process_group).toBe(RELEASE_GROUP);
    expect(created[0]?.body.config.image).toBe(image(D2));
    const latest = releaseCommandMachines().find((m) => m.config.image === image(D2))!;
    expect(latest.events.find((e) => e.type === "exit")?.request?.exit_event?.exit_code).toBe(0);
    expect(JSON.stringify(latest.config)).not.toContain("flympg.net");
    expect(folder().get("DATABASE_URL_MIGRATION")).toContain(`@direct.${RESTORED}.flympg.net`);

    const machines = appMachines();
    expect(machines).toHaveLength(2);
    for (const m of machines) {
      expect(m.state).toBe("started");
      expect(m.config.image).toBe(image(D2));
      expect(m.config.metadata.fly_release_version).toBe("2");
    }
    expect(fourth.outputs).toMatchObject({ imageDigest: D2, imageRef: image(D2), previousDigest: D1, releaseVersion: 2, releasedDigests: [D2, D1], databaseClusterId: RESTORED });

    expect(records()).toHaveLength(2);
    const newest = records()[1];
    expect(newest.body).toContain(`${APP}@v2`);
    expect(newest.body).toContain(D2);
    expect(newest.body).toContain(D1);
    expect(registration(fourth, "renewa-record").op).toBe("replace");
  });

  it("no credential reaches state, outputs, the program's output or the provider process's output", () => {
    expect(runs.length).toBeGreaterThanOrEqual(4);
    for (const run of runs) {
      const texts = [run.stateText, JSON.stringify(run.outputs), run.providerLog, run.stdout, run.stderr];
      for (const sentinel of Object.values(SENTINELS)) for (const t of texts) expect(t).not.toContain(sentinel);
      // Even decrypted, the state holds a credential in one place only: the docker provider's registry login
      // (FLY_API_TOKEN, handed over as a secret, as registry.fly.io needs it).
      const registry = resource(run, "renewa-image-registry");
      expect(isSealed(registry.inputs.registryAuth)).toBe(true);
      const rest = JSON.stringify(unsealed(run.state.resources.filter((r) => r !== registry)));
      for (const sentinel of Object.values(SENTINELS)) expect(rest).not.toContain(sentinel);
    }
  });
});

describe("a stack with nothing to deploy yet", () => {
  // Development without renewa:imageDigest, or staging before development has an imageDigest output: the release
  // has nothing to roll and no version yet, and the record has nothing to write; "" or 0 would fail the record's check
  // and read as a bad digest to the next stage.
  it("development without renewa:imageDigest on a fresh app: up succeeds, rolls nothing and records nothing", async () => {
    const dev = await startFakes({ clusters: ["renewa-development-mpg"], infisicalEnvironment: "dev" });
    const devState = newStatePath();
    try {
      const run = await up(dev, "development", { statePath: devState });
      expect(run.errors).toEqual([]);
      expect(run.outputs).toMatchObject({ imageDigest: null, imageRef: null, releaseVersion: null, releasedDigests: [] });
      expect(dev.fly.machines("renewa-app-development")).toEqual([]);
      expect(dev.github.issues.issues).toEqual([]);
    } finally {
      await dev.close();
      fs.rmSync(path.dirname(devState), { recursive: true, force: true });
    }
  });
});
