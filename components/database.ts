import * as pulumi from "@pulumi/pulumi";
import { MpgBackup } from "../src/providers/mpg-backup";
import { MpgCluster } from "../src/providers/mpg-cluster";
import { MpgDatabase } from "../src/providers/mpg-database";

export interface DatabaseArgs {
  /**
   * Kind of stack. Long-lived stacks reference their own cluster; a PR stack gets a database of its own in
   * development's cluster.
   * @example "staging"
   */
  kind: "development" | "staging" | "production" | "pr";
  /**
   * The Managed Postgres cluster: the stack's `renewa:mpgClusterId`, or for a PR development's cluster id (read from
   * the development stack).
   * @example "renewa-production-mpg"
   */
  clusterId: pulumi.Input<string>;
  /**
   * Fly organization slug the cluster belongs to.
   * @example "renewa"
   */
  org: string;
  /**
   * The PR number; required for `kind: "pr"`, refused otherwise.
   * @default undefined
   * @example 42
   */
  prNumber?: number;
  /**
   * Content hash of the migrations folder (`hashMigrations`). A change takes a pre-deploy backup (long-lived stacks)
   * or recreates the PR database.
   * @default undefined (unknown: no backup is taken, a PR database is kept)
   * @example hashMigrations("../renewa-one/migrations")
   */
  migrationsHash?: string;
  /**
   * Protect the cluster reference (and a PR database) from `pulumi destroy`. Backups are never protected: a new one
   * replaces the record of the last.
   * @example true
   */
  protect: boolean;
  /**
   * Database the app uses in a long-lived stack's cluster.
   * @default "fly-db"
   */
  databaseName?: string;
}

/** Problems with the args, one line each; exported for tests. */
export function validateDatabaseArgs(args: DatabaseArgs): string[] {
  const problems: string[] = [];
  if (!["development", "staging", "production", "pr"].includes(args.kind)) problems.push(`\`kind\` "${args.kind}" is not development, staging, production or pr`);
  if (args.kind === "pr" && !(Number.isInteger(args.prNumber) && args.prNumber! > 0)) problems.push("`prNumber` must be a positive integer when `kind` is pr");
  if (args.kind !== "pr" && args.prNumber !== undefined) problems.push("`prNumber` is only for `kind` pr");
  if (!args.org) problems.push("`org` is required");
  if (args.clusterId === undefined || args.clusterId === "") problems.push("`clusterId` is required");
  if (args.migrationsHash !== undefined && !/^sha256:[0-9a-f]{64}$/.test(args.migrationsHash)) problems.push("`migrationsHash` must be `sha256:<64 hex>` as `hashMigrations` returns");
  return problems;
}

/**
 * The stack's Postgres: the environment's Managed Postgres cluster with a pre-deploy backup whenever the migrations
 * change, or for a PR stack its own database in development's cluster. Outputs the connection strings as secrets.
 *
 * @example
 * const db = new Database("renewa-db", { kind: "staging", clusterId: "renewa-staging-mpg", org: "renewa", migrationsHash, protect: false });
 * // db.databaseUrl → DATABASE_URL (pooled), db.migrationDatabaseUrl → DATABASE_URL_MIGRATION (direct), db.backupId
 */
export class Database extends pulumi.ComponentResource {
  /** The cluster the database lives in. */
  public readonly clusterId: pulumi.Output<string>;
  /** Secret: the app's pooled connection string (DATABASE_URL). */
  public readonly databaseUrl: pulumi.Output<string>;
  /** Secret: the direct connection string migrations use (DATABASE_URL_MIGRATION). */
  public readonly migrationDatabaseUrl: pulumi.Output<string>;
  /** The pre-deploy backup of this update, or the last one; undefined on PR stacks or while the hash is unknown. */
  public readonly backupId: pulumi.Output<string | undefined>;
  /** @example "fly-db", "pr_42" */
  public readonly databaseName: pulumi.Output<string>;

  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    const problems = validateDatabaseArgs(args);
    if (problems.length) throw new Error(`Database "${name}":\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    super("renewa:fly:Database", name, {}, opts);

    if (args.kind === "pr") {
      const db = this.createPrDatabase(name, args);
      this.clusterId = db.clusterId;
      this.databaseName = db.databaseName;
      this.databaseUrl = pulumi.secret(db.databaseUrl);
      this.migrationDatabaseUrl = pulumi.secret(db.migrationDatabaseUrl);
      this.backupId = pulumi.output(undefined);
    } else {
      const cluster = this.createClusterReference(name, args);
      const backup = args.migrationsHash === undefined ? undefined : this.createBackup(name, cluster, args.migrationsHash, args.protect);
      this.clusterId = cluster.clusterId;
      this.databaseName = cluster.databaseName;
      this.databaseUrl = pulumi.secret(cluster.databaseUrl);
      this.migrationDatabaseUrl = pulumi.secret(cluster.migrationDatabaseUrl);
      this.backupId = backup ? backup.backupId : pulumi.output(undefined);
    }

    this.registerOutputs({
      clusterId: this.clusterId,
      databaseUrl: this.databaseUrl,
      migrationDatabaseUrl: this.migrationDatabaseUrl,
      backupId: this.backupId,
      databaseName: this.databaseName,
    });
  }

  private createClusterReference(name: string, args: DatabaseArgs): MpgCluster {
    return new MpgCluster(
      `${name}-cluster`,
      { clusterId: args.clusterId, org: args.org, databaseName: args.databaseName },
      { parent: this, protect: args.protect },
    );
  }

  private createBackup(name: string, cluster: MpgCluster, migrationsHash: string, protect: boolean): MpgBackup {
    // Protected with the rest in production: a new hash takes the next backup in place, so nothing is ever replaced.
    return new MpgBackup(`${name}-backup`, { clusterId: cluster.clusterId, migrationsHash }, { parent: this, protect });
  }

  private createPrDatabase(name: string, args: DatabaseArgs): MpgDatabase {
    const pgName = `pr_${args.prNumber}`;
    return new MpgDatabase(
      `${name}-pr-database`,
      { clusterId: args.clusterId, databaseName: pgName, username: pgName, migrationsHash: args.migrationsHash },
      { parent: this, protect: args.protect },
    );
  }
}
