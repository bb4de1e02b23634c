/**
 * The release engine: what `fly deploy --image` does, for the machines this program manages.
 *
 * The order of a release:
 *   1. Read the app's machines and take only those flyctl would manage (v2 platform, the app's process group, not
 *      being destroyed); say which others are left alone. Leftovers of an interrupted run are set apart.
 *   2. Compare each machine's live config with the declared one, field by field: the ones that match, are routed
 *      and healthy are current and not touched. Nothing to do: stop here, with no mutating call.
 *   3. Record the release on api.fly.io (its version, and the app's full config as `definition`). If api.fly.io
 *      cannot record it, fail before anything changed.
 *   4. Destroy the leftovers of an interrupted run (release_command machines, canaries, never-routed greens).
 *   5. Run `release_command` in a one-off machine on the new image when the image or what it migrates changed;
 *      a non-zero exit stops the release before any app machine changes.
 *   6. Roll out by strategy (rolling, canary, bluegreen, immediate), with every touched machine leased and every
 *      started machine health-gated; on failure, put back what this run changed on the last successful release.
 *   7. Retire surplus machines (a failure there is a warning: the release already serves), and close the record
 *      as complete, failed or interrupted.
 *
 * Files: plan (rollout-plan), execution (rollout), leases, health gate (health), ownership and drift (fleet),
 * release_command, the release record and its definition (release-record, app-definition), machine config.
 */
import { Machine, createFlyMachinesClient } from "../clients/fly-machines";
import { FlyReleasesClient, createFlyReleasesClient } from "../clients/fly-releases";
import { timeScale } from "../clients/http";
import { parseImageRef } from "../image-ref";
import { buildAppDefinition } from "./app-definition";
import type { EngineDeps } from "./deps";
import { classifyFleet, configDrift, machineDigest } from "./fleet";
import { MachineSettings, buildMachineConfig, buildReleaseCommandConfig, withSettingsDefaults } from "./machine-config";
import { runReleaseCommand } from "./release-command";
import { closeReleaseRecord, openReleaseRecord } from "./release-record";
import { executeRollout, rolloutTiming } from "./rollout";
import { Strategy, isNoop, isWarm, planRollout } from "./rollout-plan";

export interface ReleaseInputs {
  app: string;
  /** `registry.fly.io/<repository>@sha256:<digest>`; absent keeps the image the release already runs. */
  image?: string;
  digest?: string;
  machine: MachineSettings;
  machineCount: number;
  strategy: Strategy;
  maxUnavailable: number;
  releaseCommand?: string;
  backupId?: string;
  minSecretsVersion?: number;
  /** What the release_command migrates; a change re-runs it even on the same image. */
  migrationTarget?: string;
  waitTimeoutSeconds: number;
  releaseCommandTimeoutSeconds: number;
}

export interface ReleaseState extends ReleaseInputs {
  previousDigest?: string;
  /** Absent until a release has run: there is nothing to record or promote yet. */
  releaseVersion?: number;
  releaseId: string;
  machines: Array<{ id: string; image: string }>;
  /** Digests this release rolled out successfully, newest first, at most 20. */
  history: string[];
  /** Where the live machines differ from the declared config (filled by `read`); empty when they match. */
  drift: string[];
}

const HISTORY_LIMIT = 20;

function mostCommon(values: Array<string | undefined>): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0];
}

export function machinesOut(fleet: Machine[]): Array<{ id: string; image: string }> {
  return fleet.map((m) => ({ id: m.id, image: m.config?.image ?? "" })).sort((a, b) => (a.id < b.id ? -1 : 1));
}

function declaredConfig(s: ReleaseInputs | ReleaseState, image: string) {
  const stamp = { id: (s as ReleaseState).releaseId ?? "", version: (s as ReleaseState).releaseVersion ?? 0 };
  // Defaults again: state written before a default existed lacks it.
  return buildMachineConfig(withSettingsDefaults(s.machine), image, stamp, s.minSecretsVersion);
}

/** What `read` reports: the live digest, count and machines, and the drift from the declared config. */
export async function readLive(props: ReleaseState): Promise<ReleaseState> {
  const all = await createFlyMachinesClient().listMachines(props.app);
  const fleet = classifyFleet(all, props.machine?.processGroup ?? "app").managed;
  const desired = props.image && props.machine ? declaredConfig(props, props.image) : undefined;
  const drift = desired ? fleet.flatMap((m) => configDrift(m.config, desired).map((d) => `machine ${m.id}: ${d}`)) : [];
  const { digest: _stored, ...rest } = props;
  const digest = mostCommon(fleet.map(machineDigest));
  return { ...rest, ...(digest ? { digest } : {}), machineCount: fleet.length, machines: machinesOut(fleet), drift };
}

interface Interruptible {
  deps: EngineDeps;
  releases: FlyReleasesClient;
  hooks: Set<() => Promise<void>>;
  /** From now on every Machines API call but handing a lease back fails, so a stopped run changes nothing more. */
  abort: () => void;
}

function engineDeps(app: string, log: EngineDeps["log"], warn: EngineDeps["warn"]): Interruptible {
  const scale = timeScale();
  const releases = createFlyReleasesClient({ timeScale: scale });
  const hooks = new Set<() => Promise<void>>();
  const raw = createFlyMachinesClient({ timeScale: scale });
  let aborted = false;
  const client = new Proxy(raw, {
    get: (target, key: keyof typeof raw) => (...args: unknown[]) =>
      aborted && key !== "releaseLease" ? Promise.reject(new Error("the release was interrupted")) : (target[key] as (...a: unknown[]) => unknown)(...args),
  });
  const deps: EngineDeps = {
    client,
    log,
    warn,
    now: Date.now,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    logLines: async (id) => (await releases.machineLogs(app, id)).slice(-10),
    onInterrupt(cleanup) {
      hooks.add(cleanup);
      return () => hooks.delete(cleanup);
    },
  };
  return { deps, releases, hooks, abort: () => (aborted = true) };
}

/** Runs one release; returns the state to store. `olds` is the last successful release's state, if any. */
export async function runRelease(
  inputs: ReleaseInputs,
  olds: ReleaseState | undefined,
  out: { log: (m: string) => void; warn: (m: string) => void },
): Promise<ReleaseState> {
  const { deps, releases, hooks, abort } = engineDeps(inputs.app, out.log, out.warn);
  const { client, log } = deps;
  const scale = timeScale();
  const all = await client.listMachines(inputs.app);
  const fleet = classifyFleet(all, inputs.machine.processGroup);
  if (fleet.ignored.length > 0) log(`leaving ${fleet.ignored.length} machine(s) alone, not this release's: ${fleet.ignored.map((i) => `${i.id} (${i.reason})`).join(", ")}`);
  const managed = fleet.managed;
  const knownVersion = Math.max(olds?.releaseVersion ?? 0, ...managed.map((m) => Number(m.config?.metadata?.fly_release_version) || 0));
  const keep = { ...(olds?.previousDigest ? { previousDigest: olds.previousDigest } : {}), ...(knownVersion ? { releaseVersion: knownVersion } : {}), releaseId: olds?.releaseId ?? "" };
  const state = (digest: string | undefined, rest: Partial<ReleaseState>): ReleaseState => {
    const { digest: _input, ...plain } = inputs;
    return { ...plain, ...(digest ? { digest } : {}), ...keep, machines: machinesOut(managed), history: olds?.history ?? [], drift: [], ...rest };
  };
  if (!inputs.image) {
    log("no image given: keeping the machines as they are");
    return state(mostCommon(managed.map(machineDigest)), {});
  }

  const image = inputs.image;
  const digest = parseImageRef(image).digest;
  const declared = declaredConfig(inputs, image);
  const healthy = (m: Machine) => !isWarm(m.state) || (m.state === "started" && (m.checks ?? []).every((c) => c.status === "passing"));
  const isCurrent = (m: Machine) => machineDigest(m) === digest && !m.cordoned && healthy(m) && configDrift(m.config, declared).length === 0;
  const plan = planRollout({
    fleet: managed.map((m) => ({ id: m.id, state: m.state, current: isCurrent(m), badHost: m.host_status === "unreachable" })),
    desiredCount: inputs.machineCount,
    strategy: inputs.strategy,
    maxUnavailable: inputs.maxUnavailable,
  });
  const history = [digest, ...(olds?.history ?? []).filter((d) => d !== digest)].slice(0, HISTORY_LIMIT);
  // A first known target is only recorded: the database it describes was migrated by the release that created it.
  const migrationsChanged = olds?.migrationTarget !== undefined && inputs.migrationTarget !== undefined && olds.migrationTarget !== inputs.migrationTarget;
  const leftovers = fleet.rolloutLeftovers;
  if (isNoop(plan) && !migrationsChanged && leftovers.length === 0) {
    log(`all ${managed.length} machine(s) already run ${digest} with this config; nothing to roll out`);
    return state(digest, { history });
  }
  for (const m of managed) {
    const drift = configDrift(m.config, declared).filter((d) => !d.startsWith("image"));
    if (drift.length > 0) log(`machine ${m.id} differs from the declared config: ${drift.join("; ")}`);
  }

  const definition = buildAppDefinition(inputs.machine, inputs);
  const record = await openReleaseRecord(deps, releases, { app: inputs.app, image, strategy: inputs.strategy, definition });
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = true;
    // flyctl's "interrupted": change nothing more, hand back the leases and close the record, with a second to do it.
    abort();
    const cleanup = Promise.allSettled([...hooks].map((h) => h()).concat(closeReleaseRecord(deps, releases, record, "interrupted")));
    void Promise.race([cleanup, new Promise((r) => setTimeout(r, 1000))]).then(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const previousDigest = mostCommon(managed.map(machineDigest).filter((d) => d !== digest)) ?? (olds?.digest !== digest ? olds?.digest : olds?.previousDigest);
  const desired = buildMachineConfig(inputs.machine, image, record, inputs.minSecretsVersion);
  const lastGood = olds?.image ? declaredConfig(olds, olds.image) : undefined;
  let ids: string[];
  try {
    for (const m of leftovers) {
      log(`destroying machine ${m.id}, left unrouted by an interrupted ${m.config?.metadata?.fly_canary ? "canary" : "blue-green"} deploy`);
      await client.destroyMachine(inputs.app, m.id, { force: true });
    }
    const newImage = managed.length === 0 || managed.some((m) => machineDigest(m) !== digest);
    if (inputs.releaseCommand && (newImage || migrationsChanged)) {
      await runReleaseCommand(deps, {
        app: inputs.app,
        region: inputs.machine.region,
        command: inputs.releaseCommand,
        config: buildReleaseCommandConfig(inputs.machine, { image, command: inputs.releaseCommand, release: record }),
        minSecretsVersion: inputs.minSecretsVersion,
        leftovers: fleet.releaseCommandLeftovers,
        startTimeoutMs: inputs.waitTimeoutSeconds * 1000 * scale,
        runTimeoutMs: inputs.releaseCommandTimeoutSeconds * 1000 * scale,
        secondMs: 1000 * scale,
      });
    }
    log(`rolling out ${digest} (${inputs.strategy}): ${plan.updates.length} to update, ${plan.create} to create, ${plan.retire.length + plan.destroy.length} to retire`);
    ({ machines: ids } = await executeRollout(deps, rolloutTiming(scale, inputs.waitTimeoutSeconds), {
      app: inputs.app,
      region: inputs.machine.region,
      desired,
      plan,
      fleet: managed,
      minSecretsVersion: inputs.minSecretsVersion,
      lastGood,
    }));
  } catch (err) {
    // A stopped run's record is closed as interrupted by the signal handler.
    if (!interrupted) await closeReleaseRecord(deps, releases, record, "failed", { error: (err as Error).message });
    throw err;
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
  await closeReleaseRecord(deps, releases, record, "complete", { extra: { digest, previous_digest: previousDigest ?? "", backup_id: inputs.backupId ?? "" } });
  const machines = ids.map((id) => ({ id, image }));
  log(`release v${record.version} complete: ${machines.length} machine(s) on ${digest}`);
  // No previous digest (a first release) leaves the key out: the engine's Struct conversion refuses undefined.
  const { previousDigest: _kept, ...done } = state(digest, { releaseVersion: record.version, releaseId: record.id, machines, history });
  return { ...done, ...(previousDigest ? { previousDigest } : {}) };
}
