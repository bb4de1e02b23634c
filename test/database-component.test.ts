/**
 * The Database component under Pulumi's mock runtime: which children each kind of stack gets (cluster reference and
 * backup, or a PR database), their names, parents and protection, and outputs awaited properly (secrets stay secret).
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import type { DatabaseArgs } from "../components/database";
import { idle, promiseOf, settle, useRecorder } from "./harness/resource-recorder";

const TOKEN = "fm2_sentinel-component-token-8e2b";
const HASH = `sha256:${"a".repeat(64)}`;

/** What the dynamic providers would return, keyed by their type token. */
function outputsFor(type: string, inputs: Record<string, any>): Record<string, unknown> {
  switch (type) {
    case "pulumi-nodejs:dynamic/fly:MpgCluster":
      return { databaseName: inputs.databaseName ?? "fly-db", databaseUrl: `postgres://u:SECRETPW@pgbouncer.${inputs.clusterId}/fly-db`, migrationDatabaseUrl: `postgres://u:SECRETPW@direct.${inputs.clusterId}/fly-db` };
    case "pulumi-nodejs:dynamic/fly:MpgBackup":
      return { backupId: `bk-${inputs.clusterId}` };
    case "pulumi-nodejs:dynamic/fly:MpgDatabase":
      return { databaseUrl: `postgres://pr:SECRETPW@pgbouncer/${inputs.databaseName}`, migrationDatabaseUrl: `postgres://pr:SECRETPW@direct/${inputs.databaseName}` };
    default:
      return {};
  }
}

const recorder = useRecorder({ stack: "staging", env: { FLY_API_TOKEN: TOKEN }, outputs: (type, _name, inputs) => outputsFor(type, inputs) });
let Database: typeof import("../components/database").Database;
let validateDatabaseArgs: typeof import("../components/database").validateDatabaseArgs;
beforeAll(async () => {
  ({ Database, validateDatabaseArgs } = await import("../components/database"));
});

/** The dynamic-provider children registered so far, in registration order. */
const children = () => recorder.registrations.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/"));

/** Builds the component and waits for it, its children and all its outputs. */
async function build(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
  const db = new Database(name, args, opts);
  await settle(db);
  const [clusterId, databaseUrl, migrationDatabaseUrl, backupId, databaseName, urlSecret, migrationSecret, urn] = await Promise.all([
    promiseOf(db.clusterId),
    promiseOf(db.databaseUrl),
    promiseOf(db.migrationDatabaseUrl),
    promiseOf(db.backupId),
    promiseOf(db.databaseName),
    pulumi.isSecret(db.databaseUrl),
    pulumi.isSecret(db.migrationDatabaseUrl),
    promiseOf(db.urn),
  ]);
  return { db, urn, out: { clusterId, databaseUrl, migrationDatabaseUrl, backupId, databaseName }, urlSecret, migrationSecret };
}

const staging: DatabaseArgs = { kind: "staging", clusterId: "renewa-staging-mpg", org: "renewa", migrationsHash: HASH, protect: false };

describe("validateDatabaseArgs", () => {
  it("names each problem's field", () => {
    expect(validateDatabaseArgs(staging)).toEqual([]);
    expect(validateDatabaseArgs({ ...staging, kind: "pr" })).toEqual(["`prNumber` must be a positive integer when `kind` is pr"]);
    expect(validateDatabaseArgs({ ...staging, prNumber: 4 })).toEqual(["`prNumber` is only for `kind` pr"]);
    expect(validateDatabaseArgs({ ...staging, org: "", clusterId: "", migrationsHash: "abc" })).toEqual([
      "`org` is required",
      "`clusterId` is required",
      "`migrationsHash` must be `sha256:<64 hex>` as `hashMigrations` returns",
    ]);
  });

  it("stops the constructor before any child exists", async () => {
    expect(() => new Database("bad", { ...staging, kind: "pr" })).toThrow(/Database "bad":\n {2}- `prNumber`/);
    await idle();
    expect(recorder.registrations.filter((r) => r.type !== "renewa:fly:Database")).toEqual([]);
  });
});

describe("Database", () => {
  it("on a long-lived stack references the cluster and takes a backup for a known hash", async () => {
    const { urn, out, urlSecret, migrationSecret } = await build("stg-db", staging);
    const [cluster, backup] = children();
    expect(children().map((r) => [r.type, r.name])).toEqual([
      ["pulumi-nodejs:dynamic/fly:MpgCluster", "stg-db-cluster"],
      ["pulumi-nodejs:dynamic/fly:MpgBackup", "stg-db-backup"],
    ]);
    expect(cluster.inputs).toMatchObject({ stack: "staging", clusterId: "renewa-staging-mpg", org: "renewa" });
    expect(backup.inputs).toMatchObject({ clusterId: "renewa-staging-mpg", migrationsHash: HASH });
    for (const r of [cluster, backup]) expect(r.parent).toBe(urn);
    // The engine stores the URLs encrypted because the resource itself declares them secret.
    expect(cluster.additionalSecretOutputs).toEqual(["databaseUrl", "migrationDatabaseUrl"]);
    expect(out).toEqual({
      clusterId: "renewa-staging-mpg",
      databaseUrl: "postgres://u:SECRETPW@pgbouncer.renewa-staging-mpg/fly-db",
      migrationDatabaseUrl: "postgres://u:SECRETPW@direct.renewa-staging-mpg/fly-db",
      backupId: "bk-renewa-staging-mpg",
      databaseName: "fly-db",
    });
    expect([urlSecret, migrationSecret]).toEqual([true, true]);
    for (const r of children()) expect(r.inputs.__provider).not.toContain(TOKEN);
  });

  it("takes no backup while the hash is unknown, and protects the reference and the backup alike", async () => {
    const noHash = await build("prod-db", { ...staging, kind: "production", clusterId: "renewa-production-mpg", migrationsHash: undefined, protect: true });
    expect(recorder.registrations.some((r) => r.type.endsWith(":MpgBackup"))).toBe(false);
    expect(noHash.out.backupId).toBeUndefined();
    expect(recorder.named("prod-db-cluster").protect).toBe(true);

    // The backup too: a new migrations hash takes the next backup in place (never a replace), so protection costs
    // nothing, and a production destroy cannot remove it from state before reaching the cluster.
    await build("prod2-db", { ...staging, kind: "production", protect: true }, { protect: true });
    expect(recorder.named("prod2-db-cluster").protect).toBe(true);
    expect(recorder.named("prod2-db-backup").protect).toBe(true);
  });

  it("on a PR stack creates pr_<N> in development's cluster, with no reference and no backup", async () => {
    const { urn, out, urlSecret } = await build("pr-db", { kind: "pr", prNumber: 42, clusterId: "renewa-development-mpg", org: "renewa", migrationsHash: HASH, protect: false });
    expect(children().map((r) => [r.type, r.name])).toEqual([["pulumi-nodejs:dynamic/fly:MpgDatabase", "pr-db-pr-database"]]);
    expect(children()[0].inputs).toMatchObject({ clusterId: "renewa-development-mpg", databaseName: "pr_42", username: "pr_42", migrationsHash: HASH });
    expect(recorder.named("pr-db-pr-database")).toMatchObject({ parent: urn, additionalSecretOutputs: ["databaseUrl", "migrationDatabaseUrl"] });
    expect(out).toMatchObject({ clusterId: "renewa-development-mpg", databaseName: "pr_42", backupId: undefined });
    expect(out.databaseUrl).toBe("postgres://pr:SECRETPW@pgbouncer/pr_42");
    expect(urlSecret).toBe(true);
  });
});
