/**
 * Carries out a rollout plan against the Machines API: every existing machine it touches leased for the whole run,
 * every started machine held to the health gate, machines on a host that refuses the update replaced, and on
 * failure every machine changed put back on the last configuration released successfully, with only what was
 * verified reported as restored.
 */
import type { Machine, MachineRequest } from "../clients/fly-machines";
import { isApiError } from "../clients/http";
import type { EngineDeps } from "./deps";
import { HealthTiming, awaitHealthy, describeChecks, isHealthGateFailure } from "./health";
import { LeaseSet, LeaseTiming, takeLeases } from "./leases";
import { CREATE_TOKEN_KEY, FlyMachineConfig, countChecks } from "./machine-config";
import { MachineStep, RolloutPlan, isWarm } from "./rollout-plan";

export interface RolloutTiming extends HealthTiming {
  lease: LeaseTiming;
  /** flyctl's pauses in a blue-green switch, for Fly's proxy to notice: before cordoning blues, and before stopping them. */
  proxyPauseMs: number;
}

export function rolloutTiming(timeScale: number, waitTimeoutSeconds: number): RolloutTiming {
  const second = 1000 * timeScale;
  return {
    healthTimeoutMs: waitTimeoutSeconds * second,
    pollMs: second,
    maxPollMs: 2 * second,
    secondMs: second,
    smokeMs: 10 * second,
    proxyPauseMs: 10 * second,
    // flyctl's: a 13 s lease refreshed every 4 s, so a crashed run blocks the next one for seconds only.
    lease: { ttlSeconds: 13, refreshMs: 4 * second, waitMs: 120 * second, pollMs: second, secondMs: second },
  };
}

export interface Rollout {
  app: string;
  region: string;
  desired: FlyMachineConfig;
  plan: RolloutPlan;
  /** The machines the release manages, as read before the rollout. */
  fleet: Machine[];
  minSecretsVersion?: number;
  /** The config of the last release that succeeded (from the release's state): what a failed rollout goes back to. */
  lastGood?: FlyMachineConfig;
}

export interface RolloutResult {
  /** The machines left running the release, sorted. */
  machines: string[];
}

type Undo = { kind: "updated"; before: Machine } | { kind: "created"; id: string };

/** Host-side refusals flyctl answers by replacing the machine rather than failing (only machines without volumes). */
const BAD_HOST = [/could not reserve resource for machine/i, /deploys to this host are temporarily disabled/i, /host (is )?unavailable/i];

export function isBadHostError(err: unknown): boolean {
  return isApiError(err) && err.status >= 400 && BAD_HOST.some((re) => re.test(err.message));
}

/** A create may have happened even though its answer was lost: a timeout, a dropped connection or a 5xx. */
function isAmbiguous(err: unknown): boolean {
  return isApiError(err) && (err.status === 0 || err.status === 408 || err.status >= 500);
}

/**
 * Creates a machine exactly once: it is tagged with a token in its metadata, and after an ambiguous failure the
 * app's machines are searched for that token before creating again.
 */
export async function createOnce(deps: EngineDeps, app: string, req: MachineRequest): Promise<Machine> {
  const { randomUUID } = require("crypto") as typeof import("crypto");
  const token = randomUUID();
  const body = { ...req, config: { ...req.config, metadata: { ...req.config.metadata, [CREATE_TOKEN_KEY]: token } } };
  for (let attempt = 1; ; attempt++) {
    try {
      return await deps.client.createMachine(app, body);
    } catch (err) {
      if (!isAmbiguous(err) || attempt >= 4) throw err;
      const found = (await deps.client.listMachines(app)).find((m) => m.config?.metadata?.[CREATE_TOKEN_KEY] === token);
      if (found) {
        deps.log(`the create of machine ${found.id} was answered with an error (${(err as Error).message}), but it exists; using it`);
        return found;
      }
      await deps.sleep(250 * attempt);
    }
  }
}

/** Runs `fn` over `items` with at most `size` at once, starting the next as soon as one finishes; stops at the first failure. */
async function slidingPool<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const item = items[next++];
      await fn(item).catch((err) => (failure ??= { err }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
  if (failure) throw failure.err;
}

async function all<T>(tasks: Array<Promise<T>>): Promise<T[]> {
  const settled = await Promise.allSettled(tasks);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

export async function executeRollout(deps: EngineDeps, timing: RolloutTiming, r: Rollout): Promise<RolloutResult> {
  const { client, log, now, sleep } = deps;
  const { app, desired, plan } = r;
  const before = new Map(r.fleet.map((m) => [m.id, m]));
  const undo: Undo[] = [];
  const replaced = new Map<string, string>();
  const total = plan.updates.length + plan.create;
  let position = 0;
  const label = (id: string) => `machine ${++position} of ${total} (${id})`;
  const gate = (id: string, version?: string, config = desired) => awaitHealthy(deps, timing, app, config, id, version);
  const request = (config: FlyMachineConfig, extra: Partial<MachineRequest> = {}): MachineRequest => ({
    config,
    ...(r.minSecretsVersion !== undefined ? { min_secrets_version: r.minSecretsVersion } : {}),
    ...extra,
  });

  if (plan.strategy === "bluegreen" && plan.create > 0) {
    const images = new Set(r.fleet.map((m) => m.config?.image ?? ""));
    if (images.size > 1) {
      throw new Error(
        `Blue-green deploy of ${desired.image} to app ${app} refused: its machines run ${images.size} different images (${[...images].join(", ")}), ` +
          'as after an interrupted rolling deploy. Nothing was changed. Finish with strategy "rolling" first (as flyctl requires).',
      );
    }
    if (countChecks(desired) === 0) {
      throw new Error(`Blue-green deploy to app ${app} refused: it needs at least one health check to know the green machines are healthy. Nothing was changed.`);
    }
  }

  const leases: LeaseSet = await takeLeases(deps, app, [...plan.updates.map((s) => s.id), ...plan.retire, ...plan.destroy], timing.lease);

  async function createHealthy(config: FlyMachineConfig, extra: Partial<MachineRequest>, what: string): Promise<string> {
    const created = await createOnce(deps, app, request(config, { region: r.region, ...extra }));
    undo.push({ kind: "created", id: created.id });
    log(`created ${what} (${created.id})`);
    await gate(created.id, created.instance_id, config);
    return created.id;
  }

  /** Swaps a machine on a bad host for a new one in its region: the new one healthy first, then the old destroyed. */
  async function replace(step: MachineStep, why: string): Promise<void> {
    const old = before.get(step.id)!;
    log(`machine ${step.id} cannot be updated on its host (${why}); replacing it with a new machine in ${old.region ?? r.region}`);
    const created = await createOnce(deps, app, request(desired, { region: old.region ?? r.region, skip_launch: !step.launch }));
    const undoCreate: Undo = { kind: "created", id: created.id };
    undo.push(undoCreate);
    if (step.launch) await gate(created.id, created.instance_id);
    await client.destroyMachine(app, step.id, { force: true, nonce: leases.nonce(step.id) });
    leases.forget(step.id);
    replaced.set(step.id, created.id);
    // The old machine is gone: undoing now means putting its successor back, not destroying the fleet's capacity.
    undo[undo.indexOf(undoCreate)] = { kind: "updated", before: { ...old, id: created.id } };
    log(`machine ${step.id} replaced by ${created.id}`);
  }

  async function updateOne(step: MachineStep): Promise<void> {
    if (step.replace) return replace(step, "its host is unreachable");
    log(`updating ${label(step.id)} to ${desired.image}${step.launch ? "" : " (stays stopped)"}`);
    undo.push({ kind: "updated", before: before.get(step.id)! });
    let updated: Machine;
    try {
      updated = await client.updateMachine(app, step.id, request(desired, { skip_launch: !step.launch }), leases.nonce(step.id));
    } catch (err) {
      if (!isBadHostError(err)) throw err;
      undo.pop();
      return replace(step, (err as Error).message);
    }
    if (!step.launch) return;
    await gate(step.id, updated.instance_id);
    // Left cordoned by an interrupted switch or by hand: it serves again only once it is healthy on the release.
    if (before.get(step.id)!.cordoned) await client.uncordonMachine(app, step.id, leases.nonce(step.id));
  }

  /** Out of routing (unless already cordoned), stopped, destroyed. */
  async function retire(id: string, cordoned: boolean): Promise<void> {
    const nonce = leases.nonce(id);
    if (!cordoned) await client.cordonMachine(app, id, nonce);
    await client.stopMachine(app, id, nonce);
    await client.waitForState(app, id, "stopped", now() + timing.healthTimeoutMs);
    await client.destroyMachine(app, id, { nonce });
    leases.forget(id);
    log(`destroyed machine ${id}`);
  }

  /** Undoes what this run changed; returns one line per machine saying only what was verified. */
  async function revert(): Promise<string[]> {
    return Promise.all(
      undo.map(async (u): Promise<string> => {
        if (u.kind === "created") {
          return client
            .destroyMachine(app, u.id, { force: true })
            .then(() => `${u.id}: created by this run, destroyed`)
            .catch((err) => `${u.id}: created by this run, could not be destroyed: ${(err as Error).message}`);
        }
        const id = u.before.id;
        // The last successful release, else the machine's own config if it was not already on the failing image.
        const target = r.lastGood ?? (u.before.config?.image !== desired.image ? u.before.config : undefined);
        if (!target) return `${id}: left on ${desired.image}; there is no earlier successful release to go back to`;
        const warm = isWarm(u.before.state);
        try {
          const back = await client.updateMachine(app, id, request(target, { skip_launch: !warm }), leases.nonce(id));
          if (!warm) return `${id}: back on ${target.image} (stopped, as it was)`;
          await gate(id, back.instance_id, target);
          return `${id}: back on ${target.image}, started and healthy`;
        } catch (err) {
          return `${id}: put back on ${target.image} was not verified: ${(err as Error).message}`;
        }
      }),
    );
  }

  const created: string[] = [];
  try {
    try {
      if (plan.strategy === "bluegreen") {
        const tag = `${desired.metadata?.fly_release_version ?? "release"}-${now()}`;
        const green = { ...desired, metadata: { ...desired.metadata, fly_bluegreen_deployment_tag: tag } };
        const greens = Array.from({ length: plan.create }, (_, i) => createHealthy(green, { skip_service_registration: true }, `green machine ${i + 1} of ${plan.create}, not yet routed`));
        created.push(...(await all(greens)));
        if (created.length > 0) {
          log(`all ${created.length} green machine(s) healthy; routing traffic to them`);
          await all(created.map((id) => client.uncordonMachine(app, id)));
        }
      } else {
        if (plan.canary) {
          const canary = { ...desired, metadata: { ...desired.metadata, fly_canary: "true" }, dns: { skip_registration: true } };
          const id = await createHealthy(canary, { skip_service_registration: true }, "canary machine, not routed");
          await client.destroyMachine(app, id, { force: true });
          undo.pop();
          log(`canary machine ${id} was healthy on ${desired.image} and is destroyed; rolling out`);
        }
        await slidingPool(plan.updates, plan.inFlight, updateOne);
        const missing = Array.from({ length: plan.create }, () => createHealthy(desired, {}, label("new")));
        created.push(...(await all(missing)));
      }
    } catch (err) {
      const what = isHealthGateFailure(err) && err.checks.length > 0 ? `${err.message} (${describeChecks(err.checks)})` : (err as Error).message;
      if (undo.length > 0) log(`rolling back ${undo.length} machine(s) changed by this run`);
      const lines = await revert();
      const undone = lines.length === 0 ? "No machine had been changed." : `What this run changed, and where it is now:\n  ${lines.join("\n  ")}`;
      const logs = isHealthGateFailure(err) ? `\nLogs: fly logs -a ${app} -i ${err.machineId}` : "";
      throw new Error(`Rollout of ${desired.image} to app ${app} failed: ${what}\n${undone}${logs}`, { cause: err });
    }

    // From here the new release serves traffic; what is left only tidies up, and the next run retires what remains.
    const blues = plan.retire;
    const cordoned = new Set<string>();
    if (blues.length > 0) {
      await sleep(timing.proxyPauseMs);
      const results = await Promise.allSettled(blues.map((id) => client.cordonMachine(app, id, leases.nonce(id)).then(() => cordoned.add(id))));
      results.forEach((c, i) => c.status === "rejected" && log(`could not cordon blue machine ${blues[i]}: ${(c.reason as Error).message}`));
      await sleep(timing.proxyPauseMs);
    }
    const surplus = [...blues, ...plan.destroy];
    if (surplus.length > 0) log(`retiring ${surplus.length} machine(s): ${surplus.join(", ")}`);
    const retired = await Promise.allSettled(surplus.map((id) => retire(id, cordoned.has(id))));
    const stuck = surplus.filter((_, i) => retired[i].status === "rejected");
    if (stuck.length > 0) {
      const why = (retired.find((x) => x.status === "rejected") as PromiseRejectedResult).reason as Error;
      deps.warn(`${desired.image} serves app ${app}, but ${stuck.length} surplus machine(s) were not retired (${stuck.join(", ")}): ${why.message}. The next \`pulumi up\` retires them.`);
    }
    const kept = r.fleet.map((m) => replaced.get(m.id) ?? m.id).filter((id) => !surplus.includes(id));
    return { machines: [...kept, ...created].sort() };
  } finally {
    await leases.releaseAll();
  }
}
