/** What the release engine needs from outside: the Machines API client, a clock, and where progress goes. */
import type { FlyMachinesClient } from "../clients/fly-machines";

export interface EngineDeps {
  client: FlyMachinesClient;
  log: (message: string) => void;
  /** Something the operator should act on, though the release went on (or succeeded). */
  warn: (message: string) => void;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** The machine's last log lines, newest last; empty when the logs cannot be read. */
  logLines: (machineId: string) => Promise<string[]>;
  /** Registers work to do if the run is stopped (SIGINT/SIGTERM), such as handing leases back; returns its removal. */
  onInterrupt: (cleanup: () => Promise<void>) => () => void;
}

/** " Last log lines: …" for an error message, or nothing when there are none. */
export async function logTail(deps: EngineDeps, machineId: string): Promise<string> {
  const lines = await deps.logLines(machineId).catch(() => [] as string[]);
  return lines.length ? ` Last log lines of ${machineId}:\n  ${lines.join("\n  ")}` : "";
}
