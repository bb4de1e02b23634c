/**
 * The pre-deploy backup: a full backup of the environment's cluster, taken when (and only when) the migration set
 * changes, and finished before the release_command that depends on it runs migrations. Its id goes into the
 * deployment record as the Path B restore point. Backups are never deleted by Pulumi: Fly's retention owns them.
 */
import * as pulumi from "@pulumi/pulumi";
import { createFlyPostgresClient } from "../clients/fly-postgres";
import { changedKeys, isUnknown, wireSafe } from "../dynamic-support";

interface Inputs {
  stack: string;
  clusterId: string;
  migrationsHash: string;
  type: "full" | "incr" | "diff";
  timeoutSeconds: number;
}

interface Outputs extends Inputs {
  backupId: string;
  startedAt: string;
  /** True when a backup that was already running was used instead of starting another (the API's 409). */
  reused: boolean;
  /** False once Fly no longer lists the backup (its retention expired it): it is no longer a restore point. */
  available: boolean;
}

export interface MpgBackupArgs {
  /** The cluster to back up. */
  clusterId: pulumi.Input<string>;
  /** Content hash of the migrations folder; a new hash takes a new backup. */
  migrationsHash: pulumi.Input<string>;
  /** Backup type. @default "full" */
  type?: pulumi.Input<"full" | "incr" | "diff">;
  /** How long to wait for the backup to finish. @default 1800 */
  timeoutSeconds?: pulumi.Input<number>;
}

class MpgBackupProvider implements pulumi.dynamic.ResourceProvider {
  async check(_olds: Partial<Inputs>, news: Partial<Inputs>): Promise<pulumi.dynamic.CheckResult<Inputs>> {
    const inputs: Inputs = {
      stack: news.stack ?? "",
      clusterId: news.clusterId ?? "",
      migrationsHash: news.migrationsHash ?? "",
      type: news.type ?? "full",
      timeoutSeconds: news.timeoutSeconds ?? 1800,
    };
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!inputs.migrationsHash) failures.push({ property: "migrationsHash", reason: "required; without a known hash no backup resource should be declared" });
    if (!isUnknown(inputs.type) && !["full", "incr", "diff"].includes(inputs.type)) failures.push({ property: "type", reason: `"${inputs.type}" is not full, incr or diff` });
    if (!(inputs.timeoutSeconds > 0)) failures.push({ property: "timeoutSeconds", reason: "must be more than 0 seconds" });
    return { inputs, failures };
  }

  async diff(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.DiffResult> {
    // Never a replace: a new migrations hash takes the next backup in an update, so the resource can be protected in
    // production (the engine refuses to replace a protected resource). A re-pointed cluster (Path B) is itself a
    // restore, so it is recorded without taking another.
    return { changes: changedKeys(olds, news, ["stack", "clusterId", "migrationsHash", "type", "timeoutSeconds"]).length > 0, replaces: [] };
  }

  async create(inputs: Inputs): Promise<pulumi.dynamic.CreateResult<Outputs>> {
    const outs = await takeBackup(inputs);
    return { id: outs.backupId, outs };
  }

  async update(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.UpdateResult<Outputs>> {
    if (olds.migrationsHash !== news.migrationsHash) return { outs: await takeBackup(news) };
    return { outs: wireSafe({ ...news, backupId: olds.backupId, startedAt: olds.startedAt, reused: olds.reused, available: olds.available ?? true }) };
  }

  /**
   * Refresh asks Fly whether the backup is still listed. One that retention expired stays in state (a new backup is
   * taken only for new migrations), marked unavailable, so nobody restores from an id that no longer exists.
   */
  async read(id: string, props: Outputs): Promise<pulumi.dynamic.ReadResult<Outputs>> {
    const backups = await createFlyPostgresClient().listBackups(props.clusterId);
    const available = backups.some((b) => b.id === props.backupId);
    return { id, props: available === (props.available ?? true) ? props : { ...props, available } };
  }

  async delete(): Promise<void> {
    // Retained: a backup is the restore point of a past release, and Fly's retention decides when it expires.
  }
}

/** Takes a backup and waits for it; the resource's outputs with its id. */
async function takeBackup(inputs: Inputs): Promise<Outputs> {
  try {
    const backup = await createFlyPostgresClient().createBackup(inputs.clusterId, inputs.type, inputs.timeoutSeconds * 1000);
    return wireSafe({ ...inputs, backupId: backup.id, startedAt: backup.started_at ?? "", reused: backup.reused, available: true });
  } catch (err) {
    throw new Error(`Pre-deploy backup of MPG cluster "${inputs.clusterId}" for stack "${inputs.stack}" failed, so the release (migrations) did not run: ${(err as Error).message}`, { cause: err });
  }
}

const provider = new MpgBackupProvider();

/** A backup of an MPG cluster taken when `migrationsHash` changes; `backupId` is the restore point. */
export class MpgBackup extends pulumi.dynamic.Resource {
  declare readonly backupId: pulumi.Output<string>;
  declare readonly startedAt: pulumi.Output<string>;
  declare readonly reused: pulumi.Output<boolean>;
  declare readonly migrationsHash: pulumi.Output<string>;

  constructor(name: string, args: MpgBackupArgs, opts: pulumi.CustomResourceOptions = {}) {
    const props = {
      stack: pulumi.getStack(),
      clusterId: args.clusterId,
      migrationsHash: args.migrationsHash,
      type: args.type,
      timeoutSeconds: args.timeoutSeconds,
      backupId: undefined,
      startedAt: undefined,
      reused: undefined,
    };
    super(provider, name, props, opts, "fly", "MpgBackup");
  }
}
