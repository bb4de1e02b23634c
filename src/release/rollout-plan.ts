/**
 * Which machines a release touches, in which order, for each strategy. Pure: the rollout engine reads the fleet,
 * asks for a plan and carries it out, so the ordering rules are tested without any API.
 */

export const STRATEGIES = ["rolling", "canary", "bluegreen", "immediate"] as const;
export type Strategy = (typeof STRATEGIES)[number];

export interface FleetMachine {
  id: string;
  state: string;
  /** Already runs the release's image and machine config, routed and healthy. */
  current: boolean;
  /** Its host is unreachable: replaced by a new machine rather than updated (as flyctl does). */
  badHost?: boolean;
}

export interface MachineStep {
  id: string;
  /**
   * Start the machine after the update. Machines that were stopped by autostop stay stopped (as flyctl keeps them),
   * except one when no running machine would otherwise prove the new image healthy.
   */
  launch: boolean;
  /** Replace with a new machine in the same region instead of updating in place. */
  replace: boolean;
}

export interface RolloutPlan {
  strategy: Strategy;
  /**
   * In-place updates, in order, run as a sliding pool: at most `inFlight` at a time, the next one starting as soon
   * as one has passed the health gate (no barrier between batches).
   */
  updates: MachineStep[];
  inFlight: number;
  /** Canary: one new, unrouted machine proves the image healthy (then is destroyed) before any machine changes. */
  canary: boolean;
  /** Machines to create with the new config (bluegreen: the green machines, one per retired blue plus any missing). */
  create: number;
  /** Bluegreen: the blue machines, destroyed only once every green machine is healthy. */
  retire: string[];
  /** Surplus machines, destroyed after the rollout succeeded. */
  destroy: string[];
}

/** States in which a machine is serving (or trying to), so an update must keep it up and prove it healthy. */
const WARM_STATES = ["started", "starting", "replacing", "failed"];

export function isWarm(state: string): boolean {
  return WARM_STATES.includes(state);
}

/** `max_unavailable` as flyctl reads it: ≥ 1 is a machine count, < 1 a fraction of the fleet (rounded up). */
export function batchSize(total: number, maxUnavailable: number): number {
  const size = maxUnavailable >= 1 ? Math.floor(maxUnavailable) : Math.ceil(total * maxUnavailable);
  return Math.max(1, size);
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Surplus machines: outdated before current (so they are never updated just to be destroyed), stopped before running. */
function pickSurplus(fleet: FleetMachine[], count: number): Set<string> {
  const rank = (m: FleetMachine) => (m.current ? 2 : 0) + (isWarm(m.state) ? 1 : 0);
  const ordered = [...fleet].sort((a, b) => rank(a) - rank(b) || -byId(a, b));
  return new Set(ordered.slice(0, Math.max(0, count)).map((m) => m.id));
}

export function planRollout(input: {
  fleet: FleetMachine[];
  desiredCount: number;
  strategy: Strategy;
  maxUnavailable: number;
}): RolloutPlan {
  const { fleet, desiredCount, strategy, maxUnavailable } = input;
  const surplus = pickSurplus(fleet, fleet.length - desiredCount);
  const destroy = fleet.filter((m) => surplus.has(m.id)).sort(byId).map((m) => m.id);
  const kept = fleet.filter((m) => !surplus.has(m.id));
  const outdated = kept.filter((m) => !m.current).sort(byId);
  const create = Math.max(0, desiredCount - fleet.length);

  if (strategy === "bluegreen") {
    return { strategy, updates: [], inFlight: 1, canary: false, create: outdated.length + create, retire: outdated.map((m) => m.id), destroy };
  }

  const step = (m: FleetMachine, launch: boolean) => ({ id: m.id, launch, replace: !!m.badHost });
  const warm = outdated.filter((m) => isWarm(m.state)).map((m) => step(m, true));
  const cold = outdated.filter((m) => !isWarm(m.state)).map((m) => step(m, false));
  // With nothing running to prove the image, the first stopped machine is started for the health gate.
  if (warm.length === 0 && cold.length > 0) warm.push({ ...cold.shift()!, launch: true });

  const updates = [...warm, ...cold];
  const inFlight = strategy === "immediate" ? Math.max(1, updates.length) : batchSize(warm.length, maxUnavailable);
  // flyctl skips the canary on a first deploy: with nothing serving, there is nothing for it to protect.
  const canary = strategy === "canary" && updates.length > 0 && fleet.length > 0;
  return { strategy, updates, inFlight, canary, create, retire: [], destroy };
}

export function isNoop(plan: RolloutPlan): boolean {
  return plan.updates.length === 0 && plan.create === 0 && plan.retire.length === 0 && plan.destroy.length === 0;
}

/**
 * The fewest health-gated waits the plan needs one after another: the floor for its wall time is this many times a
 * machine's boot-and-health latency.
 */
export function sequentialSteps(plan: RolloutPlan): number {
  if (plan.strategy === "bluegreen") return plan.create > 0 ? 1 : 0;
  const gated = Math.ceil(plan.updates.filter((s) => s.launch).length / plan.inFlight);
  return (plan.canary ? 1 : 0) + gated + (plan.create > 0 ? 1 : 0);
}
