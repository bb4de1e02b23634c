/**
 * The whole program under the `pulumi up` / `pulumi destroy` stand-in (test/harness/up.ts) for the stacks whose life
 * ends with a destroy: a PR preview (`pr-42`) from its first up to its teardown, production's protection against a
 * destroy, and production's promotion gate end to end. Each describe has its own fakes and state file; the tests
 * inside one build on each other, so they run in order.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildManifest } from "../src/migrations/manifest";
import { HUMAN_MANAGED_SECRETS } from "../src/providers/infisical-secrets";
import { passwordFor } from "./fakes/fly-postgres";
import { HttpFake, LoggedRequest } from "./fakes/http-fake";
import { Fakes, UpResult, newStatePath, startFakes, unsealed, up } from "./harness/up";

const REPO = "renewa-app-development";
const DEV_CLUSTER = "renewa-development-mpg";
const PROD_CLUSTER = "renewa-production-mpg";
const PR_APP = "renewa-app-pr-42";
const PR_DB = "pr_42";
const PR_BUCKET = "renewa-pr-42";
/** Another PR's database and user in development's cluster: a PR's destroy must leave them alone. */
const OTHER_PR_DB = "pr_7";
const D1 = `sha256:${"5e".repeat(32)}`;
const D2 = `sha256:${"7c".repeat(32)}`;
const D3 = `sha256:${"a1".repeat(32)}`;
const image = (digest: string) => `registry.fly.io/${REPO}@${digest}`;
const RELEASE_GROUP = "fly_app_release_command";

type Run = UpResult & { stdout: string; stderr: string };
type Marks = Map<HttpFake, number>;

/** Each fake's log length, so a test can look at exactly the calls one run made. */
function mark(fakes: Fakes): Marks {
  return new Map(Object.values(fakes.servers).map((f) => [f, f.log.length]));
}
function since(marks: Marks, server: HttpFake): LoggedRequest[] {
  return server.log.slice(marks.get(server) ?? 0);
}
/** A call that changes something: any non-GET REST call, and GraphQL mutations (Fly's GraphQL reads are POSTs too). */
function isMutating(c: LoggedRequest): boolean {
  if (c.method === "GET" || c.method === "HEAD") return false;
  if (c.path === "/graphql") return /^\s*mutation\b/.test(String(c.body?.query ?? ""));
  return true;
}
const describeCall = (c: LoggedRequest) => (c.path === "/graphql" ? `GraphQL ${c.body?.operationName ?? /^\s*mutation\s+(\w+)/.exec(c.body?.query)?.[1]}` : `${c.method} ${c.path}`);
/** Every mutating call each fake received since `marks`, by fake. */
function mutations(fakes: Fakes, marks: Marks): Record<string, string[]> {
  return Object.fromEntries(Object.entries(fakes.servers).map(([name, server]) => [name, since(marks, server).filter(isMutating).map(describeCall)]));
}
const NONE = { fly: [], infisical: [], github: [], registry: [] };

const registration = (run: UpResult, name: string) => run.registrations.find((r) => r.name === name);
const stateNames = (run: UpResult) => run.state.resources.map((r) => r.name);
const appMachines = (fakes: Fakes, app: string) => fakes.fly.machines(app).filter((m) => m.config?.metadata?.fly_process_group === "app");
const records = (fakes: Fakes) => fakes.github.issues.issues.filter((i) => i.labels.includes("deployment-record"));
const mpgCalls = (calls: LoggedRequest[], what: "databases" | "users") => calls.filter((c) => c.path.startsWith(`/v1/postgres/${DEV_CLUSTER}/${what}`) && c.method !== "GET");

/**
 * Production's stack file names a team of reviewers; the up harness answers user lookups (github getUser) only, so
 * production ups here take a user reviewer. Team lookups are tested in github-environment-component.test.ts.
 */
const PRODUCTION_REVIEWERS = { "renewa:productionReviewers": '["user:alice"]' };

function mustSucceed(run: Run, what: string): Run {
  if (!run.ok) throw new Error(`${what} failed:\n${run.errors.join("\n")}\n${run.stderr.slice(-3000)}`);
  return run;
}

/**
 * The migration URL a release_command machine migrates with: the app's DATABASE_URL_MIGRATION secret as last staged
 * before it, which its config references by name only (no connection string is ever in a machine config).
 */
function migrationUrlFor(calls: Array<{ method: string; path: string; route: string; body: any }>, job: { body: any }): string {
  expect(JSON.stringify(job.body.config)).not.toContain("flympg.net");
  expect(job.body.config.init.cmd[2]).toBe('DATABASE_URL="$DATABASE_URL_MIGRATION" exec "$@"');
  const staged = calls.slice(0, calls.indexOf(job as never)).filter((c) => c.method === "POST" && /\/v1\/apps\/[^/]+\/secrets$/.test(c.path) && c.body?.values?.DATABASE_URL_MIGRATION);
  return staged.at(-1)?.body.values.DATABASE_URL_MIGRATION ?? "";
}

describe("a PR preview (pr-42) from first up to destroy", () => {
  let fakes: Fakes;
  let statePath: string;
  let migrations: string;
  const stackOutputs = { development: { databaseClusterId: DEV_CLUSTER, imageDigest: D1 } };
  const prUp = async (digest: string) =>
    // As the app repository's PR workflow hands them over: the digest and the manifest of the commit it built.
    mustSucceed(await up(fakes, "pr-42", { statePath, stackOutputs, config: { "renewa:imageDigest": digest, "renewa:migrations": JSON.stringify(buildManifest(migrations)) } }), `up pr-42 (${digest})`);
  const cluster = () => fakes.mpg.clusters.get(DEV_CLUSTER)!;
  const prApp = () => fakes.fly.state.apps.get(PR_APP);

  beforeAll(async () => {
    fakes = await startFakes({
      clusters: [
        {
          id: DEV_CLUSTER,
          databases: ["fly-db", OTHER_PR_DB],
          users: {
            "fly-user": { role: "schema_admin", password: passwordFor(DEV_CLUSTER, "fly-user") },
            [OTHER_PR_DB]: { role: "schema_admin", password: passwordFor(DEV_CLUSTER, OTHER_PR_DB) },
          },
        },
      ],
      infisicalEnvironment: "dev",
    });
    for (const d of [D1, D2]) fakes.registry.push(REPO, d);
    // The human-managed app secrets, as the PR workflow fetches them from Infisical into the step that runs `up`.
    for (const name of HUMAN_MANAGED_SECRETS) fakes.env[name] = `pr-value-of-${name}`;
    statePath = newStatePath();
    // The app repository's migrations folder, which its CI turns into the manifest (npm run migrations-manifest).
    migrations = fs.mkdtempSync(path.join(os.tmpdir(), "renewa-migrations-"));
    fs.writeFileSync(path.join(migrations, "20250101000000_init.sql"), "CREATE TABLE customers (id bigint PRIMARY KEY);\n");
  });

  afterAll(async () => {
    await fakes?.close();
    if (statePath) fs.rmSync(path.dirname(statePath), { recursive: true, force: true });
    if (migrations) fs.rmSync(migrations, { recursive: true, force: true });
  });

  it("first up: the PR app on the digest, its own database and user in development's cluster, its own bucket, staged secrets; no sync, no GitHub environment", async () => {
    const before = mark(fakes);
    const run = await prUp(D1);
    const calls = (server: HttpFake) => since(before, server);

    // The app: one machine on the digest, rolled out with the immediate strategy.
    const app = prApp()!;
    expect(app.org).toBe("renewa");
    const machines = appMachines(fakes, PR_APP);
    expect(machines).toHaveLength(1);
    expect(machines[0].state).toBe("started");
    expect(machines[0].config.image).toBe(image(D1));
    expect(app.releases.map((r) => [r.version, r.status, r.strategy, r.image_ref])).toEqual([[1, "complete", "IMMEDIATE", image(D1)]]);
    expect(run.outputs).toMatchObject({ appName: PR_APP, imageDigest: D1, releaseVersion: 1, releasedDigests: [D1], databaseClusterId: DEV_CLUSTER, backupId: null });
    // Its own last outputs (what it runs, for a later up that names no digest), and development's cluster.
    expect(run.stackReferences).toEqual(["organization/renewa-platform/pr-42", "organization/renewa-platform/development"]);

    // Its own database and user inside development's cluster, which is only read, never changed.
    expect([...cluster().databases].sort()).toEqual(["fly-db", OTHER_PR_DB, PR_DB].sort());
    expect([...cluster().users.keys()].sort()).toEqual(["fly-user", OTHER_PR_DB, PR_DB].sort());
    expect(cluster().status).toBe("ready");
    expect(calls(fakes.servers.fly).filter((c) => c.method !== "GET" && c.path.startsWith("/v1/postgres/")).map((c) => `${c.method} ${c.path}`).sort()).toEqual(
      [`POST /v1/postgres/${DEV_CLUSTER}/databases`, `POST /v1/postgres/${DEV_CLUSTER}/users`].sort(),
    );

    // Its own Tigris bucket.
    expect([...fakes.graphql.addOns.keys()]).toEqual([PR_BUCKET]);
    const bucket = fakes.graphql.addOns.get(PR_BUCKET)!;

    // Secrets staged on the PR app in one call (one secrets version) that the machine boots with.
    const staged = calls(fakes.servers.fly).filter((c) => c.method === "POST" && c.path === `/v1/apps/${PR_APP}/secrets`);
    expect(staged).toHaveLength(1);
    const values = staged[0].body.values as Record<string, string>;
    expect(Object.keys(values).sort()).toEqual(
      [
        "DATABASE_URL", "DATABASE_URL_MIGRATION", "TIGRIS_ACCESS_KEY_ID", "TIGRIS_BUCKET_NAME", "TIGRIS_ENDPOINT_URL_S3", "TIGRIS_REGION", "TIGRIS_SECRET_ACCESS_KEY", "UPSTASH_REDIS_REST_TOKEN", "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_URL",
        ...HUMAN_MANAGED_SECRETS,
      ].sort(),
    );
    // Every human-managed secret the app needs, with the value the workflow fetched from Infisical.
    for (const name of HUMAN_MANAGED_SECRETS) expect(values[name]).toBe(`pr-value-of-${name}`);
    const password = encodeURIComponent(cluster().users.get(PR_DB)!.password);
    expect(values.DATABASE_URL).toBe(`postgres://${PR_DB}:${password}@pgbouncer.${DEV_CLUSTER}.flympg.net:5432/${PR_DB}`);
    expect(values.DATABASE_URL_MIGRATION).toMatch(new RegExp(`^postgres://${PR_DB}:[^@]+@direct\\.${DEV_CLUSTER}\\.flympg\\.net:5432/${PR_DB}$`));
    expect(values.TIGRIS_BUCKET_NAME).toBe(PR_BUCKET);
    expect(values.TIGRIS_ACCESS_KEY_ID).toBe(bucket.environment.AWS_ACCESS_KEY_ID);
    expect(values.TIGRIS_SECRET_ACCESS_KEY).toBe(bucket.environment.AWS_SECRET_ACCESS_KEY);
    expect(values.UPSTASH_REDIS_URL).toMatch(/^rediss:\/\/default:upstash-password-[0-9a-f]+@eu1-renewa-pr-42-[0-9a-f]+\.upstash\.io:6379$/);
    expect(values.UPSTASH_REDIS_REST_TOKEN).toMatch(/^upstash-rest-/);
    expect(app.secretsVersion).toBe(1);
    expect(machines[0].min_secrets_version).toBe(app.secretsVersion);
    // The secrets were staged before any machine was created, and release_command migrated the PR's own database.
    const flyCalls = calls(fakes.servers.fly);
    const createdMachines = flyCalls.filter((c) => c.route === "POST /v1/apps/:app/machines");
    expect(createdMachines.map((c) => c.body.config.metadata.fly_process_group)).toEqual([RELEASE_GROUP, "app"]);
    expect(flyCalls.indexOf(staged[0])).toBeLessThan(flyCalls.indexOf(createdMachines[0]));
    // The release_command reads the staged DATABASE_URL_MIGRATION secret; no connection string is in its config.
    expect(JSON.stringify(createdMachines[0].body.config)).not.toContain(values.DATABASE_URL_MIGRATION);
    expect(createdMachines[0].body.config.init.cmd[2]).toBe('DATABASE_URL="$DATABASE_URL_MIGRATION" exec "$@"');

    // No Infisical at all (no secrets, no sync), no GitHub environment or its secrets: the record is the only GitHub write.
    expect(calls(fakes.servers.infisical)).toEqual([]);
    expect(fakes.infisical.state.syncs.size).toBe(0);
    expect(run.registrations.filter((r) => /infisical|github:index|pulumi:providers:github/i.test(r.type))).toEqual([]);
    expect(calls(fakes.servers.github).filter((c) => c.path.includes("/environments/"))).toEqual([]);
    expect(records(fakes)).toHaveLength(1);
    expect(records(fakes)[0].body).toContain(`${PR_APP}@v1`);

    // State: the PR's resources, none protected (a PR stack goes with its destroy).
    expect(stateNames(run).sort()).toEqual(
      ["renewa-app-app", "renewa-app-release", "renewa-app-secrets", "renewa-cache-database", "renewa-db-pr-database", "renewa-image-registry", "renewa-record", "renewa-storage-bucket"].sort(),
    );
    expect(run.state.resources.filter((r) => r.protect)).toEqual([]);
  });

  it("second up with a new digest keeps the database and rolls the machine", async () => {
    const before = mark(fakes);
    const machineBefore = appMachines(fakes, PR_APP)[0];
    const run = await prUp(D2);
    const flyCalls = since(before, fakes.servers.fly);

    expect(registration(run, "renewa-db-pr-database")?.op).toBe("same");
    expect(mpgCalls(flyCalls, "databases")).toEqual([]);
    expect(mpgCalls(flyCalls, "users")).toEqual([]);
    expect([...cluster().databases].sort()).toEqual(["fly-db", OTHER_PR_DB, PR_DB].sort());
    // Nothing else about the PR changed: same secrets version, same bucket.
    expect(flyCalls.filter((c) => c.path === `/v1/apps/${PR_APP}/secrets` && c.method !== "GET")).toEqual([]);
    expect(registration(run, "renewa-storage-bucket")?.op).toBe("same");

    const machines = appMachines(fakes, PR_APP);
    expect(machines).toHaveLength(1);
    expect(machines[0].id).toBe(machineBefore.id);
    expect(machines[0].state).toBe("started");
    expect(machines[0].config.image).toBe(image(D2));
    expect(machines[0].config.metadata.fly_release_version).toBe("2");
    expect(machines[0].min_secrets_version).toBe(1);
    expect(prApp()!.releases.map((r) => [r.version, r.status, r.strategy])).toEqual([[1, "complete", "IMMEDIATE"], [2, "complete", "IMMEDIATE"]]);
    expect(registration(run, "renewa-app-release")?.op).toBe("update");
    expect(run.outputs).toMatchObject({ imageDigest: D2, previousDigest: D1, releaseVersion: 2, releasedDigests: [D2, D1] });
  });

  it("an up with changed migrations drops and recreates the PR database (and only it), before the release migrates it", async () => {
    fs.writeFileSync(path.join(migrations, "20250201000000_invoices.sql"), "CREATE TABLE invoices (id bigint PRIMARY KEY);\n");
    // The PR's next commit: new migrations and the image built with them.
    fakes.registry.push(REPO, D3);
    const before = mark(fakes);
    const run = await prUp(D3);
    const flyCalls = since(before, fakes.servers.fly);

    expect(registration(run, "renewa-db-pr-database")?.op).toBe("replace");
    // Delete before create: the replacement reuses the names. Only pr_42 is touched.
    const dbCalls = flyCalls.filter((c) => c.path.startsWith(`/v1/postgres/${DEV_CLUSTER}/`) && c.method !== "GET");
    expect(dbCalls.map((c) => `${c.method} ${c.path}`)).toEqual([
      `DELETE /v1/postgres/${DEV_CLUSTER}/databases/${PR_DB}`,
      `DELETE /v1/postgres/${DEV_CLUSTER}/users/${PR_DB}`,
      `POST /v1/postgres/${DEV_CLUSTER}/databases`,
      `POST /v1/postgres/${DEV_CLUSTER}/users`,
    ]);
    expect(dbCalls.filter((c) => c.method === "POST").map((c) => c.body.name ?? c.body.username)).toEqual([PR_DB, PR_DB]);
    expect([...cluster().databases].sort()).toEqual(["fly-db", OTHER_PR_DB, PR_DB].sort());
    expect([...cluster().users.keys()].sort()).toEqual(["fly-user", OTHER_PR_DB, PR_DB].sort());

    // release_command ran against the fresh database after it was recreated, then the machine rolled.
    const releaseCommand = flyCalls.find((c) => c.route === "POST /v1/apps/:app/machines" && c.body.config.metadata.fly_process_group === RELEASE_GROUP);
    expect(releaseCommand).toBeDefined();
    expect(flyCalls.indexOf(releaseCommand!)).toBeGreaterThan(flyCalls.indexOf(dbCalls[3]));
    expect(migrationUrlFor(flyCalls, releaseCommand!)).toContain(`@direct.${DEV_CLUSTER}.flympg.net:5432/${PR_DB}`);
    expect(appMachines(fakes, PR_APP).map((m) => m.config.image)).toEqual([image(D3)]);

    // The recreated user has a new password: the new URLs were staged and the machine boots with that version.
    const staged = flyCalls.filter((c) => c.method === "POST" && c.path === `/v1/apps/${PR_APP}/secrets`);
    expect(staged).toHaveLength(1);
    expect(staged[0].body.values.DATABASE_URL).toContain(`${PR_DB}:${encodeURIComponent(cluster().users.get(PR_DB)!.password)}@pgbouncer.`);
    expect(prApp()!.secretsVersion).toBe(2);
    expect(appMachines(fakes, PR_APP)[0].min_secrets_version).toBe(2);
    expect(unsealed(run.state.resources.find((r) => r.name === "renewa-db-pr-database")!.inputs).migrationsHash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  // A PR's database is recreated empty, with a new password, when its migrations change; with the same image the
  // release must still migrate it and boot the machine with the newly staged secrets.
  it("changed migrations with the same digest: the recreated database is migrated and the machine boots with the new secrets", async () => {
    fs.writeFileSync(path.join(migrations, "20250301000000_payments.sql"), "CREATE TABLE payments (id bigint PRIMARY KEY);\n");
    const before = mark(fakes);
    const run = await prUp(D3);
    const flyCalls = since(before, fakes.servers.fly);
    expect(registration(run, "renewa-db-pr-database")?.op).toBe("replace");
    expect(mpgCalls(flyCalls, "databases").map((c) => c.method)).toEqual(["DELETE", "POST"]);
    expect(prApp()!.secretsVersion).toBe(3);

    const releaseCommands = flyCalls.filter((c) => c.route === "POST /v1/apps/:app/machines" && c.body.config.metadata.fly_process_group === RELEASE_GROUP);
    expect(releaseCommands, "release_command re-ran against the recreated database").toHaveLength(1);
    expect(appMachines(fakes, PR_APP)[0].min_secrets_version, "the machine boots with the new secrets version").toBe(3);
  });

  it("destroy drops the PR's database and user, deletes its bucket and its app, and leaves development's cluster alone", async () => {
    const before = mark(fakes);
    const run = mustSucceed(await up(fakes, "pr-42", { statePath, destroy: true }), "destroy pr-42");

    // Everything left state; dependents went first (the record and the release before the app, the app's secrets
    // before the app), the bridged cache was dropped from state.
    expect(run.state.resources).toEqual([]);
    const order = run.deletes.map((d) => d.name);
    expect(order.sort()).toEqual(
      ["renewa-app-app", "renewa-app-release", "renewa-app-secrets", "renewa-cache-database", "renewa-db-pr-database", "renewa-image-registry", "renewa-record", "renewa-storage-bucket"].sort(),
    );
    const at = (name: string) => run.deletes.findIndex((d) => d.name === name);
    expect(at("renewa-record")).toBeLessThan(at("renewa-app-release"));
    expect(at("renewa-app-release")).toBeLessThan(at("renewa-app-app"));
    expect(at("renewa-app-secrets")).toBeLessThan(at("renewa-app-app"));
    expect(at("renewa-app-release")).toBeLessThan(at("renewa-db-pr-database"));

    // Exactly these writes: the staged secrets unset (AppSecrets' delete), the database and user dropped, the app
    // deleted (its machines with it), the bucket add-on deleted. Release, record and providers delete nothing.
    const changed = mutations(fakes, before);
    expect([...changed.fly].sort()).toEqual(
      [
        `POST /v1/apps/${PR_APP}/secrets`,
        `DELETE /v1/postgres/${DEV_CLUSTER}/databases/${PR_DB}`,
        `DELETE /v1/postgres/${DEV_CLUSTER}/users/${PR_DB}`,
        `DELETE /v1/apps/${PR_APP}`,
        "GraphQL TigrisDeleteAddOn",
      ].sort(),
    );
    expect(changed.fly.indexOf(`POST /v1/apps/${PR_APP}/secrets`)).toBeLessThan(changed.fly.indexOf(`DELETE /v1/apps/${PR_APP}`));
    // Nothing else in development's cluster was touched, and the cluster itself was not deleted.
    expect(changed.fly.filter((c) => c.includes("/v1/postgres/"))).toEqual([`DELETE /v1/postgres/${DEV_CLUSTER}/databases/${PR_DB}`, `DELETE /v1/postgres/${DEV_CLUSTER}/users/${PR_DB}`]);
    expect(cluster().status).toBe("ready");
    expect([...cluster().databases].sort()).toEqual(["fly-db", OTHER_PR_DB].sort());
    expect([...cluster().users.keys()].sort()).toEqual(["fly-user", OTHER_PR_DB].sort());
    // The bucket add-on and the app are gone.
    expect(fakes.graphql.addOns.get(PR_BUCKET)?.status ?? "deleted").toBe("deleted");
    expect(prApp()).toBeUndefined();
    // Infisical was never involved; the deployment record stays as history.
    expect(changed.infisical).toEqual([]);
    expect(changed.github).toEqual([]);
    expect(records(fakes).length).toBeGreaterThan(0);
  });

  it("a second destroy of the now empty stack is a no-op", async () => {
    const before = mark(fakes);
    const run = mustSucceed(await up(fakes, "pr-42", { statePath, destroy: true }), "second destroy pr-42");
    expect(run.deletes).toEqual([]);
    expect(run.state.resources).toEqual([]);
    for (const server of Object.values(fakes.servers)) expect(since(before, server)).toEqual([]);
  });
});

describe("production is protected from destroy", () => {
  let fakes: Fakes;
  let statePath: string;

  beforeAll(async () => {
    fakes = await startFakes({ clusters: [PROD_CLUSTER], infisicalEnvironment: "prod" });
    fakes.registry.push(REPO, D1);
    statePath = newStatePath();
  });
  afterAll(async () => {
    await fakes?.close();
    if (statePath) fs.rmSync(path.dirname(statePath), { recursive: true, force: true });
  });

  it("destroy after a first up fails naming the protected resources and deletes nothing anywhere", async () => {
    const first = mustSucceed(
      await up(fakes, "production", { statePath, stackOutputs: { staging: { imageDigest: D1, releasedDigests: [D1] } }, config: PRODUCTION_REVIEWERS }),
      "up production",
    );
    expect(first.outputs).toMatchObject({ appName: "renewa-app-production", imageDigest: D1, databaseClusterId: PROD_CLUSTER });
    // Every resource is protected in production, not only those holding data: the engine's destroy deletes whatever is
    // unprotected (the sync, Infisical's secrets, the GitHub secrets) before it reaches the first protected one.
    const unprotected = first.state.resources.filter((r) => r.custom && !r.protect);
    expect(unprotected.map((r) => r.name)).toEqual([]);
    const protectedNames = ["renewa-app-app", "renewa-db-cluster", "renewa-storage-bucket", "renewa-cache-database", "renewa-secrets-sync"];
    const stateBefore = fs.readFileSync(statePath, "utf8");

    const before = mark(fakes);
    const run = await up(fakes, "production", { statePath, destroy: true, config: PRODUCTION_REVIEWERS });
    expect(run.ok).toBe(false);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toMatch(/protected/);
    for (const name of protectedNames) expect(run.errors[0]).toContain(name);
    // Failed before anything was deleted: no provider call, no request to any fake, the state as it was.
    expect(run.deletes).toEqual([]);
    for (const server of Object.values(fakes.servers)) expect(since(before, server)).toEqual([]);
    expect(JSON.parse(fs.readFileSync(statePath, "utf8")).state).toEqual(JSON.parse(stateBefore).state);
    expect(fakes.fly.state.apps.has("renewa-app-production")).toBe(true);
    expect(appMachines(fakes, "renewa-app-production")).toHaveLength(3);
    expect(fakes.graphql.addOns.get("renewa-production")?.status ?? "active").not.toBe("deleted");
    expect(fakes.mpg.clusters.get(PROD_CLUSTER)!.status).toBe("ready");
  });
});

describe("production's promotion gate, end to end", () => {
  let fakes: Fakes;
  let statePath: string;
  let refused: Run;
  let refusedMarks: Marks;
  /** Staging's outputs: it runs D2 now but has only ever rolled out D1 successfully. */
  const staging = { staging: { imageDigest: D2, releasedDigests: [D1] } };

  beforeAll(async () => {
    fakes = await startFakes({ clusters: [PROD_CLUSTER], infisicalEnvironment: "prod" });
    for (const d of [D1, D2]) fakes.registry.push(REPO, d);
    statePath = newStatePath();
    refusedMarks = mark(fakes);
    refused = await up(fakes, "production", { statePath, stackOutputs: staging, config: PRODUCTION_REVIEWERS });
  });
  afterAll(async () => {
    await fakes?.close();
    if (statePath) fs.rmSync(path.dirname(statePath), { recursive: true, force: true });
  });

  it("an up whose staging digest is not in staging's releasedDigests fails with the gate's message and deploys no image", () => {
    expect(refused.ok).toBe(false);
    const text = refused.errors.join("\n");
    expect(text).toContain(`production refuses ${D2}: staging has not run it successfully`);
    expect(text).toContain("renewa:allowUnverifiedPromotion");
    // (The app itself may not exist: with the gate fixed, nothing is created at all.)
    expect([...(fakes.fly.state.apps.get("renewa-app-production")?.machines.values() ?? [])]).toEqual([]);
    expect(records(fakes)).toEqual([]);
    expect(registration(refused, "renewa-app-release")).toBeUndefined();
  });

  // Every resource of the environment waits for the promotion's checked decision, so a refusal changes nothing.
  it("the refused up makes zero mutating calls on every fake", () => {
    expect(mutations(fakes, refusedMarks)).toEqual(NONE);
  });

  it("the same up with renewa:allowUnverifiedPromotion=true succeeds and its deployment record carries the override", async () => {
    const run = mustSucceed(
      await up(fakes, "production", { statePath, stackOutputs: staging, config: { ...PRODUCTION_REVIEWERS, "renewa:allowUnverifiedPromotion": "true" } }),
      "up production with the override",
    );
    expect(run.outputs).toMatchObject({ imageDigest: D2, releaseVersion: 1 });
    expect(run.stdout + run.stderr).toMatch(/OVERRIDE: staging has not run/);
    expect(appMachines(fakes, "renewa-app-production").map((m) => m.config.image)).toEqual([image(D2), image(D2), image(D2)]);

    const record = run.state.resources.find((r) => r.name === "renewa-record")!;
    expect(unsealed(record.inputs).promotionOverride).toBe(true);
    expect(records(fakes)).toHaveLength(1);
    const issue = records(fakes)[0];
    expect(issue.labels).toEqual(["deployment-record", "env:production"]);
    expect(issue.title).toContain("[UNVERIFIED OVERRIDE]");
    expect(issue.body).toContain(D2);
    expect(issue.body).toMatch(/Promotion override.*\*\*yes\*\*/);
  });
});

describe("re-pointing development's cluster under an open PR preview", () => {
  const RESTORED = "renewa-development-restored";
  let fakes: Fakes;
  let statePath: string;
  const upWith = async (clusterId: string, what: string) =>
    mustSucceed(
      await up(fakes, "pr-42", { statePath, stackOutputs: { development: { databaseClusterId: clusterId, imageDigest: D1 } }, config: { "renewa:imageDigest": D1 } }),
      what,
    );

  beforeAll(async () => {
    fakes = await startFakes({ clusters: [DEV_CLUSTER, RESTORED], infisicalEnvironment: "dev" });
    fakes.registry.push(REPO, D1);
    statePath = newStatePath();
  });

  afterAll(async () => {
    await fakes?.close();
    if (statePath) fs.rmSync(path.dirname(statePath), { recursive: true, force: true });
  });

  it("recreates the PR's database in the new cluster, migrates it on the same image and boots the machine with its new secrets", async () => {
    await upWith(DEV_CLUSTER, "first up");
    // Copied: the fake's machine object changes in place.
    const machineBefore = { ...appMachines(fakes, PR_APP)[0] };
    const before = mark(fakes);
    const run = await upWith(RESTORED, "up after development's cluster was re-pointed");
    const flyCalls = since(before, fakes.servers.fly);

    expect(registration(run, "renewa-db-pr-database")?.op).toBe("replace");
    expect([...fakes.mpg.clusters.get(RESTORED)!.databases]).toContain(PR_DB);
    expect([...fakes.mpg.clusters.get(DEV_CLUSTER)!.databases]).not.toContain(PR_DB);

    // The new, empty database is migrated although the image did not change (no migrations folder is configured).
    const releaseCommands = flyCalls.filter((c) => c.route === "POST /v1/apps/:app/machines" && c.body.config.metadata.fly_process_group === RELEASE_GROUP);
    expect(releaseCommands).toHaveLength(1);
    expect(migrationUrlFor(flyCalls, releaseCommands[0])).toContain(`@direct.${RESTORED}.flympg.net:5432/${PR_DB}`);

    // The same machine, still on D1, now boots with the secrets that point at the new database.
    const machine = appMachines(fakes, PR_APP)[0];
    expect(machine.id).toBe(machineBefore.id);
    expect(machine.config.image).toBe(image(D1));
    expect(machine.min_secrets_version).toBe(fakes.fly.state.apps.get(PR_APP)!.secretsVersion);
    expect(machine.min_secrets_version).toBeGreaterThan(machineBefore.min_secrets_version ?? 0);
  });
});
