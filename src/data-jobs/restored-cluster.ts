/**
 * Restoring a backup into a NEW cluster for a data job, and reaching it: MPG restore always forks a new cluster and
 * leaves the source alone, so nothing here ever writes to the environment's own cluster. The job's credentials are
 * a user created on the new cluster for the run, with a password rotated there: a physical restore copies the
 * source's roles with their passwords, and those must not end up in a job machine's config.
 */
import {
  PostgresBackup,
  PostgresCluster,
  clusterEndpoints,
  connectionUrl,
  createFlyPostgresClient,
  latestCompletedBackup,
} from "../clients/fly-postgres";
import type { RunGuard } from "./run-guard";

export type FlyPostgresClient = ReturnType<typeof createFlyPostgresClient>;

/** The database the app uses in a long-lived stack's cluster (the Database component's default). */
export const APP_DATABASE = "fly-db";

/** `20261201t080000`: sortable, and valid in cluster and machine names. */
export function runStamp(now: number): string {
  return new Date(now).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "").toLowerCase();
}

/** The backup to restore: `wanted` if given (it must have completed), else the newest completed one. */
export async function pickBackup(pg: FlyPostgresClient, clusterId: string, wanted: string | undefined): Promise<PostgresBackup> {
  const backups = await pg.listBackups(clusterId);
  const backup = wanted ? backups.find((b) => b.id === wanted) : latestCompletedBackup(backups);
  if (!backup) {
    throw new Error(
      wanted
        ? `backup ${wanted} is not in cluster ${clusterId}'s backup list (\`fly mpg backup list ${clusterId} --all\`).`
        : `cluster ${clusterId} has no completed backup (${backups.length} listed). Check \`fly mpg backup list ${clusterId}\`; \`fly mpg backup create ${clusterId}\` takes one.`,
    );
  }
  if (latestCompletedBackup([backup]) !== backup) throw new Error(`backup ${backup.id} of cluster ${clusterId} is "${backup.status}", not completed; pick a completed one.`);
  return backup;
}

export interface Restored {
  cluster: PostgresCluster;
  /** From the restore request to the cluster being ready. */
  restoreMs: number;
}

/**
 * Restores `backup` of `sourceId` into a new cluster named `name` and waits until it is ready. The new cluster is
 * registered for removal before anything is awaited, so a failure or signal from here on removes it.
 */
export async function restoreInto(
  pg: FlyPostgresClient,
  guard: RunGuard,
  opts: { sourceId: string; backup: PostgresBackup; name: string; timeoutMs: number; now: () => number; log: (l: string) => void },
): Promise<Restored & { keep: () => void }> {
  guard.checkpoint();
  const started = opts.now();
  let created: PostgresCluster;
  try {
    created = await pg.restore(opts.sourceId, opts.backup.id, opts.name);
  } catch (err) {
    throw new Error(`backup ${opts.backup.id} of cluster ${opts.sourceId} failed to restore: ${(err as Error).message}`, { cause: err });
  }
  if (created.id === opts.sourceId) {
    // Never register the source for removal, whatever the API answered.
    throw new Error(`restore of backup ${opts.backup.id} answered with the source cluster's own id ${opts.sourceId}; stopping without touching it.`);
  }
  const keep = guard.onCleanup(`cluster ${created.id} (restored from ${opts.backup.id})`, () => pg.deleteCluster(created.id));
  if (created.name && created.name !== opts.name) {
    opts.log(`note: Fly named the new cluster "${created.name}", not "${opts.name}"; a later run cannot find it by name if this run is killed. Its id is ${created.id}.`);
  }
  opts.log(`restoring backup ${opts.backup.id} into new cluster ${created.id} …`);
  const settled = await guard.race(pg.waitForClusterSettled(created.id, opts.timeoutMs));
  if (settled?.status !== "ready") {
    throw new Error(`backup ${opts.backup.id} of cluster ${opts.sourceId} failed to restore: new cluster ${created.id} is ${settled ? `"${settled.status}"` : "gone"} after ${Math.round((opts.now() - started) / 1000)} s, not ready.`);
  }
  return { cluster: settled, restoreMs: opts.now() - started, keep };
}

/** A connection string for a user of the run's own, with a password that exists only on this cluster. */
export async function jobConnection(pg: FlyPostgresClient, cluster: PostgresCluster, username: string, role: string): Promise<string> {
  await pg.ensureUser(cluster.id, username, role);
  const creds = await pg.rotatePassword(cluster.id, username);
  const { direct, pooler } = clusterEndpoints(cluster);
  const endpoint = direct ?? pooler;
  if (!endpoint) throw new Error(`new cluster ${cluster.id} is ready but reports no endpoint; check \`fly mpg status ${cluster.id}\`.`);
  return connectionUrl(endpoint, creds, APP_DATABASE);
}

/** Clusters of the org whose name starts with `prefix`, not being deleted, and none of `protect` (stacks' own clusters). */
export async function clustersNamed(pg: FlyPostgresClient, org: string, prefix: string, protect: string[]): Promise<PostgresCluster[]> {
  return (await pg.listClusters(org)).filter((c) => (c.name ?? "").startsWith(prefix) && !["deleting", "deleted"].includes(c.status) && !protect.includes(c.id));
}
