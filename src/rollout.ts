/**
 * Carries out a rollout plan against the Machines API: every machine change under a lease, every started machine
 * held to the health gate (started, then every check passing), and on failure the machines already changed put back
 * on their previous config before the error is thrown.
 */
import { CheckStatus, Machine } from "./clients/fly-machines";
import { isApiError } from "./clients/http";
import { FlyMachineConfig, countChecks } from "./machine-config";
import type { EngineDeps } from "./release-command";
import { MachineStep, RolloutPlan, isWarm } from "./rollout-plan";

export interface RolloutTiming {
  /** Per machine: from the update until it is started and healthy (flyctl's wait_timeout). */
  healthTimeoutMs: number;
  /** How long to wait out a lease someone else holds. */
  leaseWaitMs: number;
  pollMs: number;
  maxPollMs: number;
  /** Real ms in one Fly second, for grace periods stated in seconds. */
  secondMs: number;
  leaseTtlSeconds: number;
}

export function rolloutTiming(timeScale: number, waitTimeoutSeconds: number): RolloutTiming {
  const second = 1000 * timeScale;
  return {
    healthTimeoutMs: waitTimeoutSeconds * second,
    leaseWaitMs: 120 * second,
    pollMs: second,
    maxPollMs: 2 * second,
    secondMs: second,
    // Long enough that a health wait rarely needs a refresh; short enough that a crashed run blocks the next for a minute at most.
    leaseTtlSeconds: 60,
  };
}

export interface Rollout {
  app: string;
  region: string;
  desired: FlyMachineConfig;
  plan: RolloutPlan;
  /** App machines as read before the rollout. */
  fleet: Machine[];
  minSecretsVersion?: number;
}

type Undo = { kind: "updated"; before: Machine } | { kind: "created"; id: string };

interface HealthGateFailure extends Error {
  machineId: string;
  checks: CheckStatus[];
}

// A plain Error with fields rather than a subclass: Pulumi serializes classes into ES5-style constructors, and an
// ES5-style subclass of Error loses its message.
function healthGateFailure(machineId: string, checks: CheckStatus[], reason: string): HealthGateFailure {
  return Object.assign(new Error(reason), { name: "HealthGateFailure", machineId, checks });
}

function describeChecks(checks: CheckStatus[]): string {
  if (checks.length === 0) return "no check results yet";
  return checks.map((c) => `${c.name}: ${c.status}${c.output ? `: ${c.output}` : ""}`).join("; ");
}

function graceMs(config: FlyMachineConfig, secondMs: number): number {
  const periods = (config.services ?? []).flatMap((s) => s.checks ?? []).concat(Object.values(config.checks ?? {}));
  return Math.max(0, ...periods.map((c) => Number(/^(\d+(?:\.\d+)?)s$/.exec(c.grace_period ?? "")?.[1] ?? 0) * secondMs));
}

/** Carries out the plan; returns the app machines it leaves running the release (kept, updated and created). */
export async function executeRollout(deps: EngineDeps, timing: RolloutTiming, r: Rollout): Promise<string[]> {
  const { client, log, now, sleep } = deps;
  const { app, desired, plan } = r;
  const before = new Map(r.fleet.map((m) => [m.id, m]));
  const undo: Undo[] = [];
  const total = plan.batches.reduce((n, b) => n + b.length, 0) + plan.create;
  let position = 0;
  const label = (id: string) => `machine ${++position} of ${total} (${id})`;

  async function acquireLease(id: string): Promise<{ nonce: string; at: number }> {
    const deadline = now() + timing.leaseWaitMs;
    let delay = timing.pollMs;
    let told = false;
    for (;;) {
      try {
        const lease = await client.acquireLease(app, id, timing.leaseTtlSeconds, "pulumi release");
        return { nonce: lease.nonce, at: now() };
      } catch (err) {
        if (!isApiError(err, 409)) throw err;
        if (now() + delay > deadline) {
          throw new Error(
            `machine ${id} of app ${app} is leased by another deploy and the lease was not released within ${Math.round(timing.leaseWaitMs / timing.secondMs)} s. ` +
              `Let the other deploy finish, or clear the lease with \`fly machine leases clear ${id} -a ${app}\`, then run \`pulumi up\` again.`,
            { cause: err },
          );
        }
        if (!told) log(`machine ${id} is leased by another deploy; waiting for the lease to be released`);
        told = true;
        await sleep(delay);
        delay = Math.min(delay * 2, 5 * timing.secondMs);
      }
    }
  }

  async function releaseLease(id: string, lease: { nonce: string }): Promise<void> {
    // The lease expires on its own; failing to hand it back early must not fail a release that succeeded.
    await client.releaseLease(app, id, lease.nonce).catch((err) => log(`could not release the lease on machine ${id}: ${(err as Error).message}`));
  }

  async function awaitHealthy(id: string, version: string | undefined, lease?: { nonce: string; at: number }): Promise<void> {
    const deadline = now() + timing.healthTimeoutMs;
    const seconds = Math.round(timing.healthTimeoutMs / timing.secondMs);
    try {
      await client.waitForState(app, id, "started", deadline, version);
    } catch (err) {
      if ((err as Error).name !== "WaitTimeoutError") throw err;
      throw healthGateFailure(id, [], `machine ${id} did not start within ${seconds} s`);
    }
    const expected = countChecks(desired);
    if (expected === 0) return;
    log(`machine ${id} started; waiting for ${expected} health check(s) to pass`);
    // Fly runs the first check when the grace period ends and its result lands a moment later; polling before that
    // only spends API calls.
    const firstResult = graceMs(desired, timing.secondMs) + timing.secondMs / 4;
    await sleep(Math.min(firstResult, Math.max(0, deadline - now())));
    let delay = timing.pollMs;
    for (;;) {
      const m = await client.getMachine(app, id);
      const checks = m.checks ?? [];
      if (checks.length > 0 && checks.every((c) => c.status === "passing")) return;
      if (m.state === "failed" || m.state === "destroyed") {
        throw healthGateFailure(id, checks, `machine ${id} went to state "${m.state}" instead of passing its health checks`);
      }
      if (now() + delay > deadline) {
        throw healthGateFailure(id, checks, `machine ${id} did not pass its health checks within ${seconds} s`);
      }
      if (lease && now() - lease.at > (timing.leaseTtlSeconds * timing.secondMs) / 2) {
        await client.acquireLease(app, id, timing.leaseTtlSeconds, "pulumi release", lease.nonce);
        lease.at = now();
      }
      await sleep(delay);
      delay = Math.min(delay * 1.5, timing.maxPollMs);
    }
  }

  async function updateOne(step: MachineStep): Promise<void> {
    const previous = before.get(step.id)!;
    const lease = await acquireLease(step.id);
    try {
      log(`updating ${label(step.id)} to ${desired.image}${step.launch ? "" : " (stays stopped)"}`);
      undo.push({ kind: "updated", before: previous });
      const updated = await client.updateMachine(
        app,
        step.id,
        { config: desired, skip_launch: !step.launch, min_secrets_version: r.minSecretsVersion },
        lease.nonce,
      );
      if (step.launch) await awaitHealthy(step.id, updated.instance_id, lease);
    } finally {
      await releaseLease(step.id, lease);
    }
  }

  async function createOne(config: FlyMachineConfig, green: boolean): Promise<string> {
    const created = await client.createMachine(app, {
      config,
      region: r.region,
      min_secrets_version: r.minSecretsVersion,
      skip_service_registration: green || undefined,
    });
    undo.push({ kind: "created", id: created.id });
    log(`created ${label(created.id)}${green ? " (green, not yet routed)" : ""}`);
    await awaitHealthy(created.id, created.instance_id);
    return created.id;
  }

  /** Takes a machine out of service gracefully: out of routing, stopped, destroyed. */
  async function retire(id: string): Promise<void> {
    const lease = await acquireLease(id);
    try {
      await client.cordonMachine(app, id, lease.nonce);
      await client.stopMachine(app, id, lease.nonce);
      await client.waitForState(app, id, "stopped", now() + timing.healthTimeoutMs);
      await client.destroyMachine(app, id, { nonce: lease.nonce });
      log(`destroyed machine ${id}`);
    } catch (err) {
      if (isApiError(err, 404)) return;
      await releaseLease(id, lease);
      throw err;
    }
  }

  async function all<T>(tasks: Array<Promise<T>>): Promise<T[]> {
    const settled = await Promise.allSettled(tasks);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
  }

  async function revert(): Promise<string[]> {
    const problems: string[] = [];
    await Promise.all(
      undo.map(async (u) => {
        const id = u.kind === "created" ? u.id : u.before.id;
        try {
          if (u.kind === "created") return await client.destroyMachine(app, id, { force: true });
          const lease = await acquireLease(id);
          try {
            const warm = isWarm(u.before.state);
            const back = await client.updateMachine(
              app,
              id,
              { config: u.before.config!, skip_launch: !warm, min_secrets_version: r.minSecretsVersion },
              lease.nonce,
            );
            if (warm) await client.waitForState(app, id, "started", now() + timing.healthTimeoutMs, back.instance_id);
          } finally {
            await releaseLease(id, lease);
          }
        } catch (err) {
          problems.push(`${id}: ${(err as Error).message}`);
        }
      }),
    );
    return problems;
  }

  const created: string[] = [];
  try {
    if (plan.strategy === "bluegreen") {
      const tag = `${desired.metadata?.fly_release_version ?? "release"}-${now()}`;
      const green = { ...desired, metadata: { ...desired.metadata, fly_bluegreen_deployment_tag: tag } };
      created.push(...(await all(Array.from({ length: plan.create }, () => createOne(green, true)))));
      log(`all ${created.length} green machine(s) healthy; switching traffic`);
      await all(created.map((id) => client.uncordonMachine(app, id)));
    } else {
      for (const batch of plan.batches) await all(batch.map(updateOne));
      created.push(...(await all(Array.from({ length: plan.create }, () => createOne(desired, false)))));
    }
  } catch (err) {
    const failure = (err as Error)?.name === "HealthGateFailure" ? (err as HealthGateFailure) : undefined;
    const changed = undo.map((u) => (u.kind === "created" ? u.id : u.before.id));
    if (changed.length > 0) log(`rolling back: putting ${changed.length} machine(s) back on the previous config`);
    const problems = await revert();
    const what = failure ? `${failure.message} (${describeChecks(failure.checks)})` : (err as Error).message;
    const undone = changed.length === 0 ? "No machine had been changed." : `Machines put back on the previous config (created ones destroyed): ${changed.join(", ")}.`;
    const stuck = problems.length ? ` Could not put back: ${problems.join("; ")}.` : "";
    const logs = failure ? ` Logs: fly logs -a ${app} -i ${failure.machineId}` : "";
    throw new Error(`Rollout of ${desired.image} to app ${app} failed: ${what}. ${undone}${stuck}${logs}`, { cause: err });
  }

  // From here the new release serves traffic; a failure only leaves surplus machines, which the next run retires.
  const surplus = [...plan.retire, ...plan.destroy];
  if (surplus.length > 0) log(`retiring ${surplus.length} machine(s): ${surplus.join(", ")}`);
  await all(surplus.map(retire)).catch((err) => {
    throw new Error(
      `${desired.image} now serves app ${app}, but retiring the surplus machines (${surplus.join(", ")}) failed: ${(err as Error).message}. ` +
        "Run `pulumi up` again to retire them.",
      { cause: err },
    );
  });
  return [...r.fleet.map((m) => m.id).filter((id) => !surplus.includes(id)), ...created].sort();
}
