/**
 * A reference to an environment's existing Managed Postgres cluster. Pulumi validates the cluster and derives the
 * connection strings from it, but never creates or deletes it: clusters are made by `fly mpg create`/`restore`, and a
 * stack destroy only forgets the reference. Re-pointing (Path B, after `fly mpg restore`) is an update of `clusterId`.
 */
import * as pulumi from "@pulumi/pulumi";
import { clusterEndpoints, connectionUrl, createFlyPostgresClient } from "../clients/fly-postgres";
import { isApiError } from "../clients/http";
import { changedKeys, isUnknown, refuseImport, wireSafe } from "../dynamic-support";
import { REGION } from "../stacks";

interface Inputs {
  stack: string;
  clusterId: string;
  org: string;
  databaseName: string;
  appUser: string;
  migrationUser: string;
  readyTimeoutSeconds: number;
}

interface Outputs extends Inputs {
  clusterName: string;
  status: string;
  databaseUrl: string;
  migrationDatabaseUrl: string;
}

export interface MpgClusterArgs {
  /** The cluster's id, as `fly mpg list` shows it (stack config `renewa:mpgClusterId`). */
  clusterId: pulumi.Input<string>;
  /** Fly org slug the cluster must belong to (checked when Fly reports the cluster's organization). @example "renewa" */
  org: pulumi.Input<string>;
  /** Database the app uses. @default "fly-db" (the database MPG creates with a cluster) */
  databaseName?: pulumi.Input<string>;
  /** User in DATABASE_URL (pooled). @default "fly-user" */
  appUser?: pulumi.Input<string>;
  /** User in DATABASE_URL_MIGRATION (direct). @default "fly-user" */
  migrationUser?: pulumi.Input<string>;
  /** How long to wait for a cluster that is still creating (a fresh restore). @default 900 */
  readyTimeoutSeconds?: pulumi.Input<number>;
}

const CLUSTER_ID = /^[a-z0-9][a-z0-9-]{5,62}$/;
const PG_NAME = /^[a-z_][a-z0-9_-]{0,62}$/;
const IDENTITY: Array<keyof Inputs> = ["stack", "clusterId", "org", "databaseName", "appUser", "migrationUser"];

class MpgClusterProvider implements pulumi.dynamic.ResourceProvider {
  async check(_olds: Partial<Inputs>, news: Partial<Inputs>): Promise<pulumi.dynamic.CheckResult<Inputs>> {
    const inputs: Inputs = {
      stack: news.stack ?? "",
      clusterId: news.clusterId ?? "",
      org: news.org ?? "",
      databaseName: news.databaseName ?? "fly-db",
      appUser: news.appUser ?? "fly-user",
      migrationUser: news.migrationUser ?? "fly-user",
      readyTimeoutSeconds: news.readyTimeoutSeconds ?? 900,
    };
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!isUnknown(inputs.clusterId) && !CLUSTER_ID.test(inputs.clusterId)) {
      failures.push({
        property: "clusterId",
        reason: `"${inputs.clusterId}" is not an MPG cluster id (lowercase letters, digits and dashes, as \`fly mpg list\` shows). Set it with \`pulumi config set renewa:mpgClusterId <id> -s ${inputs.stack}\`.`,
      });
    }
    for (const key of ["databaseName", "appUser", "migrationUser"] as const) {
      if (!isUnknown(inputs[key]) && !PG_NAME.test(inputs[key])) failures.push({ property: key, reason: `"${inputs[key]}" is not a Postgres name` });
    }
    if (!(inputs.readyTimeoutSeconds >= 0)) failures.push({ property: "readyTimeoutSeconds", reason: "must be 0 or more seconds" });
    // A mistyped id (the likely Path B slip) should already fail `pulumi preview`. Status is left to create/update:
    // a fresh restore is still creating while it is previewed.
    if (failures.length === 0 && !isUnknown(inputs.clusterId)) {
      const cluster = await createFlyPostgresClient().getCluster(inputs.clusterId);
      const where = `MPG cluster "${inputs.clusterId}" (renewa:mpgClusterId on stack "${inputs.stack}")`;
      if (!cluster) failures.push({ property: "clusterId", reason: `${where} does not exist or has been deleted; check \`fly mpg list\`` });
      else if (cluster.region !== REGION) failures.push({ property: "clusterId", reason: `${where} is in region "${cluster.region}", not ${REGION}` });
    }
    return { inputs, failures };
  }

  async diff(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.DiffResult> {
    // Nothing here is ever replaced: a new clusterId re-points the reference, and the old cluster is left alone.
    return { changes: changedKeys(olds, news, [...IDENTITY, "readyTimeoutSeconds"]).length > 0, replaces: [] };
  }

  async create(inputs: Inputs): Promise<pulumi.dynamic.CreateResult<Outputs>> {
    return { id: `mpg-${inputs.stack}`, outs: await resolveCluster(inputs) };
  }

  async read(id: string, props: Outputs): Promise<pulumi.dynamic.ReadResult<Outputs>> {
    const cluster = await createFlyPostgresClient().getCluster(props.clusterId);
    if (!cluster) return { id: "", props };
    if (cluster.status !== "ready") return { id, props: { ...props, status: cluster.status } };
    // No waiting during a refresh, but the stored timeout is an input: keep it, or every refresh makes an update.
    const live = await resolveCluster({ ...props, readyTimeoutSeconds: 0 });
    return { id, props: { ...live, readyTimeoutSeconds: props.readyTimeoutSeconds } };
  }

  async update(_id: string, _olds: Outputs, news: Inputs): Promise<pulumi.dynamic.UpdateResult<Outputs>> {
    return { outs: await resolveCluster(news) };
  }

  async delete(): Promise<void> {
    // Retained on purpose: the cluster holds the environment's data and outlives any stack that points at it.
  }
}

/** Validates the cluster (exists, in fra, ready, has the database and users) and derives both connection strings. */
async function resolveCluster(inputs: Inputs): Promise<Outputs> {
  const { stack, clusterId: id } = inputs;
  const where = `MPG cluster "${id}" (renewa:mpgClusterId on stack "${stack}")`;
  const fix = `Check \`fly mpg list\`, then set the right id with \`pulumi config set renewa:mpgClusterId <id> -s ${stack}\`.`;
  const client = createFlyPostgresClient();
  const cluster = await client.waitForClusterSettled(id, inputs.readyTimeoutSeconds * 1000);
  if (!cluster) throw new Error(`${where} does not exist or has been deleted. ${fix}`);
  if (cluster.status !== "ready") {
    const waiting = ["creating", "initializing"].includes(cluster.status);
    throw new Error(
      waiting
        ? `${where} is still "${cluster.status}" after ${inputs.readyTimeoutSeconds} s. Wait until \`fly mpg status ${id}\` shows ready, then run \`pulumi up\` again.`
        : `${where} is "${cluster.status}", not ready. ${fix}`,
    );
  }
  const org = cluster.organization?.slug;
  if (org && inputs.org && org !== inputs.org) {
    throw new Error(`${where} belongs to Fly org "${org}", not "${inputs.org}". ${fix}`);
  }
  if (cluster.region !== REGION) {
    throw new Error(`${where} is in region "${cluster.region}", but this platform runs only in ${REGION}. Restore or create the cluster in ${REGION}. ${fix}`);
  }
  const databases = await client.listDatabases(id);
  if (!databases.includes(inputs.databaseName)) {
    throw new Error(`${where} has no database "${inputs.databaseName}" (it has: ${databases.join(", ") || "none"}). Create it with \`fly mpg databases create ${id} --name ${inputs.databaseName}\`.`);
  }
  const credentials = async (username: string) => {
    try {
      return await client.getCredentials(id, username);
    } catch (err) {
      if (!isApiError(err, 404)) throw err;
      throw new Error(`${where} has no user "${username}". Create it with \`fly mpg users create ${id} --username ${username} --role schema_admin\` (or writer for the app user).`);
    }
  };
  const appCreds = await credentials(inputs.appUser);
  const migrationCreds = inputs.migrationUser === inputs.appUser ? appCreds : await credentials(inputs.migrationUser);
  const { pooler, direct } = clusterEndpoints(cluster, appCreds);
  if (!pooler || !direct) {
    // Migrations need a session of their own, which a transaction-mode pooler does not give, so no fallback to it.
    throw new Error(`${where} reports no ${pooler ? "direct" : "pooler"} endpoint, so its connection strings cannot be derived. Check \`fly mpg status ${id}\`.`);
  }
  return wireSafe({
    ...inputs,
    clusterName: cluster.name ?? id,
    status: cluster.status,
    databaseUrl: connectionUrl(pooler, appCreds, inputs.databaseName),
    migrationDatabaseUrl: connectionUrl(direct, migrationCreds, inputs.databaseName),
  });
}

const provider = new MpgClusterProvider();

/**
 * The environment's Managed Postgres cluster, referenced by id. Outputs the app's pooled `databaseUrl` and the
 * direct `migrationDatabaseUrl`, both secret.
 */
export class MpgCluster extends pulumi.dynamic.Resource {
  declare readonly clusterId: pulumi.Output<string>;
  declare readonly clusterName: pulumi.Output<string>;
  declare readonly status: pulumi.Output<string>;
  declare readonly databaseName: pulumi.Output<string>;
  declare readonly databaseUrl: pulumi.Output<string>;
  declare readonly migrationDatabaseUrl: pulumi.Output<string>;

  constructor(name: string, args: MpgClusterArgs, opts: pulumi.CustomResourceOptions = {}) {
    refuseImport("MpgCluster", name, opts, "Nothing to import: the cluster is only referenced, never created or deleted. Remove the import option, set `renewa:mpgClusterId` to the cluster's id and run `pulumi up`.");
    const props = {
      stack: pulumi.getStack(),
      clusterId: args.clusterId,
      org: args.org,
      databaseName: args.databaseName,
      appUser: args.appUser,
      migrationUser: args.migrationUser,
      readyTimeoutSeconds: args.readyTimeoutSeconds,
      clusterName: undefined,
      status: undefined,
      databaseUrl: undefined,
      migrationDatabaseUrl: undefined,
    };
    const secrets = ["databaseUrl", "migrationDatabaseUrl", ...(opts.additionalSecretOutputs ?? [])];
    super(provider, name, props, { ...opts, additionalSecretOutputs: secrets }, "fly", "MpgCluster");
  }
}
