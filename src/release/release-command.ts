/**
 * Runs `release_command` (migrations) the way flyctl does, before any app machine changes: a one-off machine on the
 * new image that destroys itself when the command exits; its exit event says whether the release may go on.
 * Booting (image pull included) and the run have their own limits; a run that outlives its limit is left to finish
 * and destroy itself, never killed mid-migration.
 */
import type { Machine, MachineEvent } from "../clients/fly-machines";
import { isApiError } from "../clients/http";
import { EngineDeps, logTail } from "./deps";
import { exitDetails } from "./health";
import type { FlyMachineConfig } from "./machine-config";
import { createOnce } from "./rollout";

export interface ReleaseCommandRun {
  app: string;
  region: string;
  command: string;
  config: FlyMachineConfig;
  minSecretsVersion?: number;
  /** Release-command machines a previous, interrupted run left behind. */
  leftovers: Machine[];
  /** From create until the machine runs (boot and image pull). */
  startTimeoutMs: number;
  /** From running until it exits. */
  runTimeoutMs: number;
  secondMs: number;
}

/** The exit code of the machine's last run: the newest `exit` event, in either shape Fly reports it. */
export function lastExitCode(events: MachineEvent[]): number | undefined {
  const exit = [...events].sort((a, b) => b.timestamp - a.timestamp).find((e) => e.type === "exit");
  return exit ? exitDetails(exit)?.exit_code : undefined;
}

const RUNNING = ["started", "starting", "replacing"];

export async function runReleaseCommand(deps: EngineDeps, run: ReleaseCommandRun): Promise<void> {
  const { client, log, now } = deps;
  const running = run.leftovers.filter((m) => RUNNING.includes(m.state));
  if (running.length > 0) {
    const ids = running.map((m) => m.id).join(", ");
    throw new Error(
      `a release_command machine of an earlier run is still running on app ${run.app} (${ids}) and may be in the middle of a migration; ` +
        `no app machine was changed. Wait for it to finish (fly logs -a ${run.app} -i ${running[0].id}), then run \`pulumi up\` again.`,
    );
  }
  for (const m of run.leftovers) {
    log(`destroying release_command machine ${m.id} left over from an interrupted release`);
    await client.destroyMachine(run.app, m.id, { force: true });
  }
  log(`running release_command \`${run.command}\` on the new image`);
  // Created already launched: one call instead of flyctl's create-stopped, wait, start.
  const machine = await createOnce(deps, run.app, {
    config: run.config,
    region: run.region,
    ...(run.minSecretsVersion !== undefined ? { min_secrets_version: run.minSecretsVersion } : {}),
  });
  const logs = `fly logs -a ${run.app} -i ${machine.id}`;
  const s = (ms: number) => Math.round(ms / run.secondMs);

  // A machine just created may not be visible to wait yet (404): ask again, as flyctl does, until the start limit.
  const startBy = now() + run.startTimeoutMs;
  for (;;) {
    try {
      await client.waitForState(run.app, machine.id, ["started", "stopped", "destroyed"], startBy);
      break;
    } catch (err) {
      if ((err as Error)?.name === "WaitTimeoutError") {
        throw new Error(
          `release_command machine ${machine.id} of app ${run.app} did not start within ${s(run.startTimeoutMs)} s (image pull and boot); ` +
            `no app machine was changed. It destroys itself if it ever runs and exits. Logs: ${logs}`,
          { cause: err },
        );
      }
      if (!isApiError(err, 404)) throw err;
      await deps.sleep(run.secondMs);
    }
  }
  try {
    await client.waitForState(run.app, machine.id, "destroyed", now() + run.runTimeoutMs);
  } catch (err) {
    if ((err as Error)?.name !== "WaitTimeoutError") throw err;
    throw new Error(
      `release_command \`${run.command}\` for app ${run.app} did not finish within ${s(run.runTimeoutMs)} s; machine ${machine.id} may still be running it ` +
        `and destroys itself when it exits (it was not killed mid-migration). No app machine was changed. Logs: ${logs}.${await logTail(deps, machine.id)}`,
      { cause: err },
    );
  }
  const events = await client.listEvents(run.app, machine.id).catch((err) => {
    if (isApiError(err, 404)) return [] as MachineEvent[];
    throw err;
  });
  const code = lastExitCode(events);
  if (code === undefined) {
    throw new Error(`release_command machine ${machine.id} of app ${run.app} was destroyed without an exit event; no app machine was changed. Logs: ${logs}`);
  }
  if (code !== 0) {
    throw new Error(
      `release_command \`${run.command}\` for app ${run.app} exited with code ${code} on machine ${machine.id}; ` +
        `the release was stopped before any app machine changed. Logs: ${logs}.${await logTail(deps, machine.id)}`,
    );
  }
  log(`release_command finished (exit code 0) on machine ${machine.id}`);
}
