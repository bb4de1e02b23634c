/**
 * One-off machines for data jobs, run the way the release command runs: the image's own command in a machine that
 * destroys itself when the command exits, its exit event the verdict. Differences that keep data where it belongs:
 * - `skip_secrets`: the app's secrets (its own DATABASE_URL among them) never reach the machine; it gets only the
 *   connection string of the cluster the job is about, for a user created for this run;
 * - process group `renewa_data_job`, so the release engine never counts the machine in the app's fleet;
 * - metadata `renewa_job` and `renewa_run`, by which a later run finds and removes what a killed run left.
 */
import type { FlyMachinesClient, Machine } from "../clients/fly-machines";
import { splitCommand } from "../release/machine-config";
import { lastExitCode } from "../release/release-command";
import type { RunGuard } from "./run-guard";

export const DATA_JOB_GROUP = "renewa_data_job";

export interface JobSpec {
  app: string;
  region: string;
  image: string;
  /** `verify-backup` or `refresh-staging`: the metadata a re-run looks for. */
  job: string;
  run: string;
  /** Machine name, e.g. verify-backup-check-20261201t0800. */
  name: string;
  command: string;
  env: Record<string, string>;
  timeoutMs: number;
}

export interface JobResult {
  machineId: string;
  exitCode: number | undefined;
}

/** Machines a data job left in the app (any run), so a re-run can remove them. */
export async function jobLeftovers(client: FlyMachinesClient, app: string, job: string): Promise<Machine[]> {
  const all = await client.listMachines(app);
  return all.filter((m) => m.state !== "destroyed" && m.config?.metadata?.renewa_job === job);
}

/** Runs the job's command to its end and returns its exit code; the machine is removed on every path. */
export async function runJob(client: FlyMachinesClient, guard: RunGuard, spec: JobSpec, now: () => number): Promise<JobResult> {
  guard.checkpoint();
  const machine = await client.createMachine(spec.app, {
    name: spec.name,
    region: spec.region,
    skip_secrets: true,
    config: {
      image: spec.image,
      env: { ...spec.env, RENEWA_DATA_JOB: spec.job },
      init: { cmd: splitCommand(spec.command) },
      guest: { cpu_kind: "shared", cpus: 2, memory_mb: 1024 },
      restart: { policy: "no" },
      auto_destroy: true,
      dns: { skip_registration: true },
      metadata: { fly_process_group: DATA_JOB_GROUP, renewa_job: spec.job, renewa_run: spec.run },
    },
  });
  const forget = guard.onCleanup(`machine ${machine.id} (${spec.name}) of app ${spec.app}`, () => client.destroyMachine(spec.app, machine.id, { force: true }));
  try {
    await guard.race(client.waitForState(spec.app, machine.id, "destroyed", now() + spec.timeoutMs));
  } catch (err) {
    if ((err as Error)?.name !== "WaitTimeoutError") throw err;
    throw new Error(`${spec.name}: \`${spec.command}\` did not finish within ${Math.round(spec.timeoutMs / 1000)} s (machine ${machine.id}, app ${spec.app}; logs: fly logs -a ${spec.app} -i ${machine.id}).`, { cause: err });
  }
  const exitCode = lastExitCode(await client.listEvents(spec.app, machine.id));
  // It destroyed itself; the explicit destroy is for the paths above and is harmless here.
  await client.destroyMachine(spec.app, machine.id, { force: true });
  forget();
  return { machineId: machine.id, exitCode };
}
