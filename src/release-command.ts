/**
 * Runs `release_command` (migrations) the way flyctl does, before any app machine changes: a one-off machine on the
 * new image that destroys itself when the command exits; its exit event says whether the release may go on.
 */
import { FlyMachinesClient, Machine, MachineEvent } from "./clients/fly-machines";
import type { FlyMachineConfig } from "./machine-config";

export interface ReleaseCommandRun {
  app: string;
  region: string;
  command: string;
  config: FlyMachineConfig;
  minSecretsVersion?: number;
  /** Release-command machines a previous, interrupted run left behind. */
  leftovers: Machine[];
  timeoutMs: number;
}

export interface EngineDeps {
  client: FlyMachinesClient;
  log: (message: string) => void;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

/** The exit code of the machine's last run: the newest `exit` event (Fly lists events newest first). */
export function lastExitCode(events: MachineEvent[]): number | undefined {
  const exit = [...events].sort((a, b) => b.timestamp - a.timestamp).find((e) => e.type === "exit");
  return exit?.request?.exit_event?.exit_code;
}

export async function runReleaseCommand(deps: EngineDeps, run: ReleaseCommandRun): Promise<void> {
  const { client, log } = deps;
  for (const m of run.leftovers) {
    log(`destroying release_command machine ${m.id} left over from an interrupted release`);
    await client.destroyMachine(run.app, m.id, { force: true });
  }
  log(`running release_command \`${run.command}\` on the new image`);
  // Created already launched: one call instead of flyctl's create-stopped, wait, start.
  const machine = await client.createMachine(run.app, {
    config: run.config,
    region: run.region,
    min_secrets_version: run.minSecretsVersion,
  });
  const logs = `fly logs -a ${run.app} -i ${machine.id}`;
  try {
    await client.waitForState(run.app, machine.id, "destroyed", deps.now() + run.timeoutMs);
  } catch (err) {
    if ((err as Error)?.name !== "WaitTimeoutError") throw err;
    await client.destroyMachine(run.app, machine.id, { force: true });
    throw new Error(
      `release_command \`${run.command}\` for app ${run.app} did not finish within ${Math.round(run.timeoutMs / 1000)} s; ` +
        `machine ${machine.id} was destroyed and no app machine was changed. Logs: ${logs}`,
      { cause: err },
    );
  }
  const code = lastExitCode(await client.listEvents(run.app, machine.id));
  if (code === undefined) {
    throw new Error(`release_command machine ${machine.id} of app ${run.app} was destroyed without an exit event; no app machine was changed. Logs: ${logs}`);
  }
  if (code !== 0) {
    throw new Error(
      `release_command \`${run.command}\` for app ${run.app} exited with code ${code} on machine ${machine.id}; ` +
        `the release was stopped before any app machine changed. Logs: ${logs}`,
    );
  }
  log(`release_command finished (exit code 0) on machine ${machine.id}`);
}
