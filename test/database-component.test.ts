/**
 * The Database component under Pulumi's mock runtime: which children each kind of stack gets (cluster reference and
 * backup, or a PR database), their names, parents and protection, and outputs awaited properly (secrets stay secret).
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DatabaseArgs } from "../components/database";

const TOKEN = "fm2_sentinel-component-token-8e2b";
const HASH = `sha256:${"a".repeat(64)}`;

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, any>;
}
interface Options {
  type: string;
  name: string;
  parent?: pulumi.Resource;
  protect?: boolean;
  additionalSecretOutputs?: string[];
}

const registered: Registered[] = [];
const options: Options[] = [];
let Database: typeof import("../components/database").Database;
let validateDatabaseArgs: typeof import("../components/database").validateDatabaseArgs;

/** What the dynamic providers would return, keyed by their type token. */
function outputsFor(type: string, inputs: Record<string, any>): Record<string, any> {
  const { __provider: _p, ...rest } = inputs;
  switch (type) {
    case "pulumi-nodejs:dynamic/fly:MpgCluster":
      return { ...rest, databaseName: rest.databaseName ?? "fly-db", databaseUrl: `postgres://u:SECRETPW@pgbouncer.${rest.clusterId}/fly-db`, migrationDatabaseUrl: `postgres://u:SECRETPW@direct.${rest.clusterId}/fly-db` };
    case "pulumi-nodejs:dynamic/fly:MpgBackup":
      return { ...rest, backupId: `bk-${rest.clusterId}` };
    case "pulumi-nodejs:dynamic/fly:MpgDatabase":
      return { ...rest, databaseUrl: `postgres://pr:SECRETPW@pgbouncer/${rest.databaseName}`, migrationDatabaseUrl: `postgres://pr:SECRETPW@direct/${rest.databaseName}` };
    default:
      return rest;
  }
}

beforeAll(async () => {
  process.env.FLY_API_TOKEN = TOKEN;
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: outputsFor(args.type, args.inputs) };
      },
      call(args) {
        throw new Error(`Mock call not implemented: ${args.token}`);
      },
    },
    "renewa-platform",
    "staging",
    false,
  );
  ({ Database, validateDatabaseArgs } = await import("../components/database"));
});

beforeEach(() => {
  registered.length = 0;
  options.length = 0;
});

function promiseOf<T>(o: pulumi.Output<T>): Promise<T> {
  return (o as unknown as { promise(): Promise<T> }).promise();
}

/** Builds the component with a transformation that records every child's options, then waits for all outputs. */
async function build(name: string, args: DatabaseArgs) {
  const record: pulumi.ResourceTransformation = ({ type, name: n, opts }) => {
    options.push({ type, name: n, parent: opts.parent, protect: opts.protect, additionalSecretOutputs: (opts as pulumi.CustomResourceOptions).additionalSecretOutputs });
    return undefined;
  };
  const db = new Database(name, args, { transformations: [record] });
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

  it("stops the constructor before any child exists", () => {
    expect(() => new Database("bad", { ...staging, kind: "pr" })).toThrow(/Database "bad":\n {2}- `prNumber`/);
    expect(registered.filter((r) => r.type !== "renewa:fly:Database")).toEqual([]);
  });
});

describe("Database", () => {
  it("on a long-lived stack references the cluster and takes a backup for a known hash", async () => {
    const { db, out, urlSecret, migrationSecret } = await build("stg-db", staging);
    const children = registered.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/"));
    expect(children.map((r) => [r.type, r.name])).toEqual([
      ["pulumi-nodejs:dynamic/fly:MpgCluster", "stg-db-cluster"],
      ["pulumi-nodejs:dynamic/fly:MpgBackup", "stg-db-backup"],
    ]);
    expect(children[0].inputs).toMatchObject({ stack: "staging", clusterId: "renewa-staging-mpg", org: "renewa" });
    expect(children[1].inputs).toMatchObject({ clusterId: "renewa-staging-mpg", migrationsHash: HASH });
    const childOptions = options.filter((x) => x.name !== "stg-db");
    expect(childOptions.map((o) => o.name)).toEqual(["stg-db-cluster", "stg-db-backup"]);
    for (const o of childOptions) expect(o.parent).toBe(db);
    // The engine stores the URLs encrypted because the resource itself declares them secret.
    expect(childOptions[0].additionalSecretOutputs).toEqual(["databaseUrl", "migrationDatabaseUrl"]);
    expect(out).toEqual({
      clusterId: "renewa-staging-mpg",
      databaseUrl: "postgres://u:SECRETPW@pgbouncer.renewa-staging-mpg/fly-db",
      migrationDatabaseUrl: "postgres://u:SECRETPW@direct.renewa-staging-mpg/fly-db",
      backupId: "bk-renewa-staging-mpg",
      databaseName: "fly-db",
    });
    expect([urlSecret, migrationSecret]).toEqual([true, true]);
    for (const r of children) expect(r.inputs.__provider).not.toContain(TOKEN);
  });

  it("takes no backup while the hash is unknown, and protects the reference but never the backup", async () => {
    const noHash = await build("prod-db", { ...staging, kind: "production", clusterId: "renewa-production-mpg", migrationsHash: undefined, protect: true });
    expect(registered.some((r) => r.type.endsWith(":MpgBackup"))).toBe(false);
    expect(noHash.out.backupId).toBeUndefined();
    expect(options.find((o) => o.name === "prod-db-cluster")!.protect).toBe(true);

    await build("prod2-db", { ...staging, kind: "production", protect: true });
    expect(options.find((o) => o.name === "prod2-db-backup")!.protect).toBe(false);
  });

  it("on a PR stack creates pr_<N> in development's cluster, with no reference and no backup", async () => {
    const { db, out, urlSecret } = await build("pr-db", { kind: "pr", prNumber: 42, clusterId: "renewa-development-mpg", org: "renewa", migrationsHash: HASH, protect: false });
    const children = registered.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/"));
    expect(children.map((r) => [r.type, r.name])).toEqual([["pulumi-nodejs:dynamic/fly:MpgDatabase", "pr-db-pr-database"]]);
    expect(children[0].inputs).toMatchObject({ clusterId: "renewa-development-mpg", databaseName: "pr_42", username: "pr_42", migrationsHash: HASH });
    expect(options.find((o) => o.name === "pr-db-pr-database")).toMatchObject({ parent: db, additionalSecretOutputs: ["databaseUrl", "migrationDatabaseUrl"] });
    expect(out).toMatchObject({ clusterId: "renewa-development-mpg", databaseName: "pr_42", backupId: undefined });
    expect(out.databaseUrl).toBe("postgres://pr:SECRETPW@pgbouncer/pr_42");
    expect(urlSecret).toBe(true);
  });
});
