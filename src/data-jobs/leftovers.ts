/**
 * What a killed data-job run left behind (its clusters by name, its machines by metadata), shown in the plan and
 * removed before the next run creates anything.
 */
import type { FlyMachinesClient, Machine } from "../clients/fly-machines";
import type { PostgresCluster } from "../clients/fly-postgres";
import type { FlyPostgresClient } from "./restored-cluster";
import type { RunGuard } from "./run-guard";

export interface Leftovers {
  /** The app the machines are in. */
  app: string;
  clusters: PostgresCluster[];
  machines: Machine[];
}

/** Plan lines, numbered 0: they come before the run's own steps. */
export function leftoverPlan(l: Leftovers): string[] {
  return [
    ...l.clusters.map((c) => `  0. remove cluster ${c.id} (${c.name ?? "?"}), left by a run that did not finish`),
    ...l.machines.map((m) => `  0. remove machine ${m.id} (${m.name ?? "?"}) of app ${l.app}, left by a run that did not finish`),
  ];
}

export async function removeLeftovers(pg: FlyPostgresClient, machines: FlyMachinesClient, l: Leftovers): Promise<void> {
  for (const c of l.clusters) await pg.deleteCluster(c.id);
  for (const m of l.machines) await machines.destroyMachine(l.app, m.id, { force: true });
}

/** Removes what the run registered; says, and returns, what could not be removed (the next run's leftovers). */
export async function cleanUpRun(guard: RunGuard, out: (line: string) => void, err: (line: string) => void): Promise<string[]> {
  out("cleaning up:");
  const failed = await guard.cleanup(out);
  for (const f of failed) err(`could not remove ${f}; the next run removes it (or remove it by hand).`);
  return failed;
}
