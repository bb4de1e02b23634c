/**
 * A PR preview's own database and user inside the development cluster. It lives as long as the PR stack, survives
 * commits that leave the migrations alone, and is dropped and recreated when the migration set changes, so every
 * schema change is applied to a clean database. A stack destroy drops both.
 */
import * as pulumi from "@pulumi/pulumi";
import { clusterEndpoints, connectionUrl, createFlyPostgresClient } from "../clients/fly-postgres";
import { changedKeys, isUnknown } from "../dynamic-support";

interface Inputs {
  stack: string;
  clusterId: string;
  databaseName: string;
  username: string;
  /** Absent while unknown: then the database is kept as it is. */
  migrationsHash?: string;
}

interface Outputs extends Inputs {
  databaseUrl: string;
  migrationDatabaseUrl: string;
}

export interface MpgDatabaseArgs {
  /** Development's cluster id. */
  clusterId: pulumi.Input<string>;
  /** @example "pr_42" */
  databaseName: pulumi.Input<string>;
  /** Owner of the database, used in both URLs. @example "pr_42" */
  username: pulumi.Input<string>;
  /** Content hash of the migrations folder (see `hashMigrations`); a change recreates the database. */
  migrationsHash?: pulumi.Input<string | undefined>;
}

const PG_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const LOCATION: Array<keyof Inputs> = ["clusterId", "databaseName", "username"];

class MpgDatabaseProvider implements pulumi.dynamic.ResourceProvider {
  async check(olds: Partial<Inputs>, news: Partial<Inputs>): Promise<pulumi.dynamic.CheckResult<Inputs>> {
    // An unknown hash keeps the one the database was built from, so no diff (and no recreation) follows from it.
    const inputs: Inputs = {
      stack: news.stack ?? "",
      clusterId: news.clusterId ?? "",
      databaseName: news.databaseName ?? "",
      username: news.username ?? "",
      migrationsHash: news.migrationsHash ?? olds.migrationsHash,
    };
    if (inputs.migrationsHash === undefined) delete inputs.migrationsHash;
    const failures: pulumi.dynamic.CheckFailure[] = [];
    for (const key of ["databaseName", "username"] as const) {
      if (!isUnknown(inputs[key]) && !PG_NAME.test(inputs[key])) {
        failures.push({ property: key, reason: `"${inputs[key]}" must be a lowercase Postgres name (letters, digits, underscores), e.g. "pr_42"` });
      }
    }
    if (!inputs.clusterId) failures.push({ property: "clusterId", reason: "development's MPG cluster id is required" });
    return { inputs, failures };
  }

  async diff(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.DiffResult> {
    const replaces = changedKeys(olds, news, LOCATION);
    // A first known hash is only recorded: the database already holds whatever the migrations built.
    if (olds.migrationsHash !== undefined && news.migrationsHash !== undefined && olds.migrationsHash !== news.migrationsHash) {
      replaces.push("migrationsHash");
    }
    const changes = replaces.length > 0 || changedKeys(olds, news, ["migrationsHash"]).length > 0;
    // The replacement reuses the same names, so the old database must be gone first.
    return { changes, replaces, deleteBeforeReplace: true };
  }

  async create(inputs: Inputs): Promise<pulumi.dynamic.CreateResult<Outputs>> {
    const client = createFlyPostgresClient();
    const cluster = await client.getCluster(inputs.clusterId);
    if (!cluster || cluster.status !== "ready") {
      throw new Error(`Cannot create PR database "${inputs.databaseName}" for stack "${inputs.stack}": development's MPG cluster "${inputs.clusterId}" is ${cluster ? `"${cluster.status}"` : "missing"}. Deploy the development stack (its mpgCluster output) and check \`fly mpg status ${inputs.clusterId}\`.`);
    }
    // Both steps adopt what exists: a run that died after creating them left the same names behind.
    await client.ensureDatabase(inputs.clusterId, inputs.databaseName);
    await client.ensureUser(inputs.clusterId, inputs.username, "schema_admin");
    return { id: `${inputs.clusterId}/${inputs.databaseName}`, outs: await urls(inputs) };
  }

  async read(id: string, props: Outputs): Promise<pulumi.dynamic.ReadResult<Outputs>> {
    const client = createFlyPostgresClient();
    const cluster = await client.getCluster(props.clusterId);
    if (!cluster || !(await client.listDatabases(props.clusterId)).includes(props.databaseName)) return { id: "", props };
    return { id, props: await urls(props) };
  }

  async update(_id: string, _olds: Outputs, news: Inputs): Promise<pulumi.dynamic.UpdateResult<Outputs>> {
    return { outs: await urls(news) };
  }

  async delete(_id: string, props: Outputs): Promise<void> {
    // Each step treats "already gone" (404, or the cluster itself gone) as done, so a repeated destroy succeeds.
    const client = createFlyPostgresClient();
    await client.deleteDatabase(props.clusterId, props.databaseName);
    await client.deleteUser(props.clusterId, props.username);
  }
}

async function urls(inputs: Inputs): Promise<Outputs> {
  const client = createFlyPostgresClient();
  const cluster = await client.getCluster(inputs.clusterId);
  const creds = await client.getCredentials(inputs.clusterId, inputs.username);
  const { pooler, direct } = cluster ? clusterEndpoints(cluster, creds) : {};
  if (!pooler || !direct) {
    throw new Error(`MPG cluster "${inputs.clusterId}" reports no ${pooler ? "direct" : "pooler"} endpoint, so PR database "${inputs.databaseName}" (stack "${inputs.stack}") cannot be connected. Check \`fly mpg status ${inputs.clusterId}\`.`);
  }
  return {
    ...inputs,
    databaseUrl: connectionUrl(pooler, creds, inputs.databaseName),
    migrationDatabaseUrl: connectionUrl(direct, creds, inputs.databaseName),
  };
}

const provider = new MpgDatabaseProvider();

/** A PR stack's database and user in development's cluster; `databaseUrl` and `migrationDatabaseUrl` are secret. */
export class MpgDatabase extends pulumi.dynamic.Resource {
  declare readonly clusterId: pulumi.Output<string>;
  declare readonly databaseName: pulumi.Output<string>;
  declare readonly username: pulumi.Output<string>;
  declare readonly databaseUrl: pulumi.Output<string>;
  declare readonly migrationDatabaseUrl: pulumi.Output<string>;

  constructor(name: string, args: MpgDatabaseArgs, opts: pulumi.CustomResourceOptions = {}) {
    const props = {
      stack: pulumi.getStack(),
      clusterId: args.clusterId,
      databaseName: args.databaseName,
      username: args.username,
      migrationsHash: args.migrationsHash,
      databaseUrl: undefined,
      migrationDatabaseUrl: undefined,
    };
    const secrets = ["databaseUrl", "migrationDatabaseUrl", ...(opts.additionalSecretOutputs ?? [])];
    super(provider, name, props, { ...opts, additionalSecretOutputs: secrets }, "fly", "MpgDatabase");
  }
}
