/**
 * The health gate every machine a release starts must pass: `started` (or a failure state, so a machine that dies
 * at boot does not burn the whole wait), no crash since the change (flyctl's smoke check: an exit, or restarts,
 * fail the step at once with the exit code and the machine's last log lines), then every check `passing`.
 */
import type { CheckStatus, Machine, MachineEvent } from "../clients/fly-machines";
import { EngineDeps, logTail } from "./deps";
import { FlyMachineConfig, countChecks } from "./machine-config";

export interface HealthTiming {
  /** Per machine: from the change until it is started and healthy (flyctl's wait_timeout). */
  healthTimeoutMs: number;
  pollMs: number;
  maxPollMs: number;
  /** Real ms in one Fly second, for grace periods stated in seconds. */
  secondMs: number;
  /** How long a machine without checks is watched for crashes after it started (flyctl: 10 s). */
  smokeMs: number;
}

export interface HealthGateFailure extends Error {
  machineId: string;
  checks: CheckStatus[];
}

// A plain Error with fields rather than a subclass: Pulumi serializes classes into ES5-style constructors, and an
// ES5-style subclass of Error loses its message.
export function healthGateFailure(machineId: string, checks: CheckStatus[], reason: string): HealthGateFailure {
  return Object.assign(new Error(reason), { name: "HealthGateFailure", machineId, checks });
}

export function isHealthGateFailure(err: unknown): err is HealthGateFailure {
  return (err as Error)?.name === "HealthGateFailure";
}

export function describeChecks(checks: CheckStatus[]): string {
  if (checks.length === 0) return "no check results yet";
  return checks.map((c) => `${c.name}: ${c.status}${c.output ? `: ${c.output}` : ""}`).join("; ");
}

/** The exit event's details, from either shape Fly uses (`exit_event`, or inside `MonitorEvent`). */
export function exitDetails(e: MachineEvent): { exit_code?: number; requested_stop?: boolean; restarting?: boolean } | undefined {
  return e.request?.exit_event ?? e.request?.MonitorEvent?.exit_event;
}

/** Exits not asked for since the change this rollout made (its `update` or `launch` event), newest first. */
export function crashesSinceChange(events: MachineEvent[]): MachineEvent[] {
  const out: MachineEvent[] = [];
  for (const e of [...events].sort((a, b) => b.timestamp - a.timestamp)) {
    if (e.type === "update" || e.type === "launch") break;
    if (e.type === "exit" && !exitDetails(e)?.requested_stop) out.push(e);
  }
  return out;
}

function graceMs(config: FlyMachineConfig, secondMs: number): number {
  const periods = (config.services ?? []).flatMap((s) => s.checks ?? []).concat(Object.values(config.checks ?? {}));
  return Math.max(0, ...periods.map((c) => Number(/^(\d+(?:\.\d+)?)s$/.exec(c.grace_period ?? "")?.[1] ?? 0) * secondMs));
}

const DOWN = ["stopped", "failed", "destroyed", "suspended"];

async function crashFailure(deps: EngineDeps, m: Machine, crashes: MachineEvent[]): Promise<HealthGateFailure> {
  const exit = crashes[0] ? exitDetails(crashes[0]) : undefined;
  const how = exit?.exit_code !== undefined ? `exited with code ${exit.exit_code}` : `went to state "${m.state}"`;
  const restarts = crashes.length > 1 ? ` (${crashes.length} exits since the update)` : "";
  return healthGateFailure(m.id, m.checks ?? [], `machine ${m.id} appears to be crashing: it ${how}${restarts}.${await logTail(deps, m.id)}`);
}

/** Resolves once the machine is started, not crashing and passing every check of `config`; throws a HealthGateFailure. */
export async function awaitHealthy(deps: EngineDeps, t: HealthTiming, app: string, config: FlyMachineConfig, id: string, version?: string): Promise<void> {
  const { client, now, sleep } = deps;
  const deadline = now() + t.healthTimeoutMs;
  const seconds = Math.round(t.healthTimeoutMs / t.secondMs);
  try {
    await client.waitForState(app, id, ["started", "stopped", "failed"], deadline, version);
  } catch (err) {
    if ((err as Error).name !== "WaitTimeoutError") throw err;
    throw healthGateFailure(id, [], `machine ${id} did not start within ${seconds} s`);
  }
  const expected = countChecks(config);
  if (expected > 0) deps.log(`machine ${id} started; waiting for ${expected} health check(s) to pass`);
  // Fly runs the first check when the grace period ends and its result lands a moment later; polling before that
  // only spends API calls. A crash by then is seen on that first look. Without checks, the machine is watched for
  // flyctl's smoke-check window and passes if it has not crashed.
  let delay = expected > 0 ? graceMs(config, t.secondMs) + t.secondMs / 4 : t.smokeMs;
  for (let first = true; ; first = false) {
    await sleep(Math.max(0, Math.min(delay, deadline - now())));
    const m = await client.getMachine(app, id);
    const crashes = crashesSinceChange(m.events ?? []);
    if (crashes.length > 0 || DOWN.includes(m.state)) throw await crashFailure(deps, m, crashes);
    const checks = m.checks ?? [];
    if (expected === 0 || (checks.length >= expected && checks.every((c) => c.status === "passing"))) return;
    // A result that lands just after the first look is caught within a quarter second, then the polls back off.
    delay = first ? t.pollMs / 4 : Math.min(delay * 1.5, t.maxPollMs);
    if (now() + delay > deadline) {
      throw healthGateFailure(id, checks, `machine ${id} did not pass its health checks within ${seconds} s`);
    }
  }
}
