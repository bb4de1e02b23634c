/**
 * The image rollout: release_command first, then the fleet moved to the new image with the chosen strategy, each
 * machine health-gated and the changed ones put back if one fails. Machines carry flyctl's metadata, so `fly status`
 * and a later `fly deploy` treat them as their own. Deleting the resource leaves the machines running: they go with
 * the app.
 */
import * as pulumi from "@pulumi/pulumi";
import { Machine, createFlyMachinesClient } from "../clients/fly-machines";
import { isApiError, timeScale } from "../clients/http";
import { isUnknown, wireSafe } from "../dynamic-support";
import { parseImageRef } from "../image-ref";
import {
  MachineSettings,
  MachineSettingsInput,
  RELEASE_COMMAND_GROUP,
  buildMachineConfig,
  buildReleaseCommandConfig,
  splitCommand,
  stableJson,
  validateMachineSettings,
  withSettingsDefaults,
} from "../machine-config";
import { EngineDeps, runReleaseCommand } from "../release-command";
import { closeReleaseRecord, openReleaseRecord } from "../release-record";
import { executeRollout, rolloutTiming } from "../rollout";
import { STRATEGIES, Strategy, isNoop, isWarm, planRollout } from "../rollout-plan";

interface Inputs {
  app: string;
  /** `registry.fly.io/<repository>@sha256:<digest>`; undefined keeps the image the release already runs. */
  image?: string;
  digest?: string;
  machine: MachineSettings;
  machineCount: number;
  strategy: Strategy;
  maxUnavailable: number;
  releaseCommand?: string;
  migrationDatabaseUrl?: string;
  backupId?: string;
  minSecretsVersion?: number;
  /** What the release_command migrates (see ReleaseArgs); a change re-runs it even on the same image. */
  migrationTarget?: string;
  waitTimeoutSeconds: number;
  releaseCommandTimeoutSeconds: number;
}

interface Outputs extends Inputs {
  previousDigest?: string;
  /** Undefined until a release has run: there is nothing to record or promote yet. */
  releaseVersion?: number;
  /** api.fly.io's release id; empty when that API was unavailable. */
  releaseId: string;
  machines: Array<{ id: string; image: string }>;
  /** Digests this release rolled out successfully, newest first, at most 20. */
  history: string[];
}

export interface ReleaseArgs {
  /** The Fly app to release to; a different app is a new release (replace). */
  app: pulumi.Input<string>;
  /** The image by digest; a tag is refused. Undefined keeps the image this release already runs. */
  image: pulumi.Input<string | undefined>;
  /** Machine settings (guest, health check, env, autostop…) turned into Fly machine config. */
  machine: pulumi.Input<MachineSettingsInput>;
  machineCount: pulumi.Input<number>;
  /** @default "rolling" */
  strategy?: pulumi.Input<Strategy>;
  /** Rolling batch size: ≥ 1 machines, < 1 a fraction of the fleet. @default 1 */
  maxUnavailable?: pulumi.Input<number>;
  /** Run in a one-off machine on the new image before any app machine changes (migrations). */
  releaseCommand?: pulumi.Input<string | undefined>;
  /** DATABASE_URL for the release_command (secret). */
  migrationDatabaseUrl?: pulumi.Input<string | undefined>;
  /** The pre-deploy backup, recorded with the release. */
  backupId?: pulumi.Input<string | undefined>;
  /** Fly secrets version machines must boot with (from AppSecrets). */
  minSecretsVersion?: pulumi.Input<number | undefined>;
  /**
   * Identity of what the release_command migrates: the migrations hash, and for a PR also its database's cluster. A
   * change re-runs the release_command on the same image, because a PR's database is recreated empty when its
   * migrations change or development's cluster is re-pointed.
   */
  migrationTarget?: pulumi.Input<string | undefined>;
  /** Per machine, from update to healthy. @default 300 */
  waitTimeoutSeconds?: pulumi.Input<number>;
  /** @default 300 */
  releaseCommandTimeoutSeconds?: pulumi.Input<number>;
}

const HISTORY_LIMIT = 20;
const DIFF_KEYS: Array<keyof Inputs> = [
  "image", "digest", "machine", "machineCount", "strategy", "maxUnavailable", "releaseCommand", "migrationDatabaseUrl",
  "backupId", "minSecretsVersion", "migrationTarget", "waitTimeoutSeconds", "releaseCommandTimeoutSeconds",
];

function machineDigest(m: Machine): string | undefined {
  return m.image_ref?.digest || /@(sha256:[0-9a-f]{64})$/.exec(m.config?.image ?? "")?.[1];
}

function mostCommon(values: Array<string | undefined>): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0];
}

function appFleet(all: Machine[], group: string): Machine[] {
  return all.filter((m) => m.state !== "destroyed" && (m.config?.metadata?.fly_process_group ?? "app") === group);
}

function machinesOut(fleet: Machine[]): Array<{ id: string; image: string }> {
  return fleet.map((m) => ({ id: m.id, image: m.config?.image ?? "" })).sort((a, b) => (a.id < b.id ? -1 : 1));
}

class ReleaseProvider implements pulumi.dynamic.ResourceProvider {
  async check(olds: Partial<Inputs>, news: Partial<Inputs>): Promise<pulumi.dynamic.CheckResult<Inputs>> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const image = news.image ?? olds.image;
    let digest = image;
    if (image && !isUnknown(image)) {
      try {
        digest = parseImageRef(image).digest;
      } catch (err) {
        failures.push({ property: "image", reason: (err as Error).message });
      }
    }
    const machine = isUnknown(news.machine) ? (news.machine as MachineSettings) : withSettingsDefaults((news.machine ?? {}) as MachineSettingsInput);
    if (!isUnknown(machine)) failures.push(...validateMachineSettings(machine));
    const inputs: Inputs = {
      app: news.app ?? "",
      ...(image ? { image, digest } : {}),
      machine,
      machineCount: news.machineCount ?? 1,
      strategy: news.strategy ?? "rolling",
      maxUnavailable: news.maxUnavailable ?? 1,
      ...(news.releaseCommand ? { releaseCommand: news.releaseCommand } : {}),
      ...(news.migrationDatabaseUrl ? { migrationDatabaseUrl: news.migrationDatabaseUrl } : {}),
      ...(news.backupId ? { backupId: news.backupId } : {}),
      ...(news.minSecretsVersion !== undefined ? { minSecretsVersion: news.minSecretsVersion } : {}),
      ...(news.migrationTarget ? { migrationTarget: news.migrationTarget } : {}),
      waitTimeoutSeconds: news.waitTimeoutSeconds ?? 300,
      releaseCommandTimeoutSeconds: news.releaseCommandTimeoutSeconds ?? 300,
    };
    const fail = (property: string, reason: string) => failures.push({ property, reason });
    if (!isUnknown(inputs.app) && !inputs.app) fail("app", "`app` is required.");
    if (!isUnknown(inputs.machineCount) && !(Number.isInteger(inputs.machineCount) && inputs.machineCount >= 1)) fail("machineCount", "`machineCount` must be an integer ≥ 1.");
    if (!isUnknown(inputs.strategy) && !STRATEGIES.includes(inputs.strategy)) fail("strategy", `\`strategy\` must be one of ${STRATEGIES.join(", ")}.`);
    if (!isUnknown(inputs.maxUnavailable) && !(inputs.maxUnavailable > 0)) fail("maxUnavailable", "`maxUnavailable` must be > 0 (a count ≥ 1 or a fraction < 1).");
    if (inputs.releaseCommand && !isUnknown(inputs.releaseCommand)) {
      try {
        splitCommand(inputs.releaseCommand);
      } catch (err) {
        fail("releaseCommand", (err as Error).message);
      }
    }
    for (const k of ["waitTimeoutSeconds", "releaseCommandTimeoutSeconds"] as const) if (!(inputs[k] > 0)) fail(k, `\`${k}\` must be > 0.`);
    return { inputs, failures };
  }

  async diff(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.DiffResult> {
    const replaces = olds.app !== news.app ? ["app"] : [];
    const changed = DIFF_KEYS.filter((k) => stableJson(olds[k] ?? null) !== stableJson(news[k] ?? null));
    return { changes: replaces.length + changed.length > 0, replaces };
  }

  async create(inputs: Inputs): Promise<pulumi.dynamic.CreateResult<Outputs>> {
    return { id: inputs.app, outs: wireSafe(await release(inputs, undefined)) };
  }

  async update(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.UpdateResult<Outputs>> {
    return { outs: wireSafe(await release(news, olds)) };
  }

  /** The live image and machine count, so `pulumi refresh` shows a hand-made deploy as drift. */
  async read(id: string, props?: Outputs): Promise<pulumi.dynamic.ReadResult<Outputs>> {
    const client = createFlyMachinesClient();
    let fleet: Machine[];
    try {
      fleet = appFleet(await client.listMachines(props?.app ?? id), props?.machine?.processGroup ?? "app");
    } catch (err) {
      if (isApiError(err, 404)) return {};
      throw err;
    }
    const outs = { ...(props as Outputs), digest: mostCommon(fleet.map(machineDigest)), machineCount: fleet.length, machines: machinesOut(fleet) };
    return { id, props: wireSafe(outs) };
  }

  async delete(): Promise<void> {
    // Nothing to undo: the machines belong to the app and stay until FlyApp is deleted with the stack.
  }
}

async function release(inputs: Inputs, olds: Outputs | undefined): Promise<Outputs> {
  const scale = timeScale();
  const client = createFlyMachinesClient({ timeScale: scale });
  const log = (message: string) => pulumi.log.info(`${inputs.app}: ${message}`);
  const deps: EngineDeps = { client, log, now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
  const all = await client.listMachines(inputs.app);
  const fleet = appFleet(all, inputs.machine.processGroup);
  const releaseVersion = Math.max(olds?.releaseVersion ?? 0, ...fleet.map((m) => Number(m.config?.metadata?.fly_release_version) || 0));
  const keep = { previousDigest: olds?.previousDigest, releaseVersion: releaseVersion || undefined, releaseId: olds?.releaseId ?? "" };
  if (!inputs.image) {
    log("no image given: keeping the machines as they are");
    // A fresh app has no digest and no release yet; "" or 0 here would read as a bad digest downstream.
    const digest = mostCommon(fleet.map(machineDigest));
    return { ...inputs, digest, ...keep, machines: machinesOut(fleet), history: olds?.history ?? [] };
  }

  const image = inputs.image;
  const digest = parseImageRef(image).digest;
  const hash = buildMachineConfig(inputs.machine, image, { id: "", version: 0 }, inputs.minSecretsVersion).metadata!.renewa_config_hash;
  // A running machine whose checks are not passing (say, one a crashed run updated but never saw healthy) goes
  // through the health gate again rather than count as done.
  const healthy = (m: Machine) => !isWarm(m.state) || (m.state === "started" && (m.checks ?? []).every((c) => c.status === "passing"));
  const isCurrent = (m: Machine) => machineDigest(m) === digest && m.config?.metadata?.renewa_config_hash === hash && healthy(m);
  const plan = planRollout({
    fleet: fleet.map((m) => ({ id: m.id, state: m.state, current: isCurrent(m) })),
    desiredCount: inputs.machineCount,
    strategy: inputs.strategy,
    maxUnavailable: inputs.maxUnavailable,
  });
  const history = [digest, ...(olds?.history ?? []).filter((d) => d !== digest)].slice(0, HISTORY_LIMIT);
  // A first known target is only recorded: the database it describes was migrated by the release that created it.
  const migrationsChanged = olds?.migrationTarget !== undefined && inputs.migrationTarget !== undefined && olds.migrationTarget !== inputs.migrationTarget;
  if (isNoop(plan) && !migrationsChanged) {
    log(`all ${fleet.length} machine(s) already run ${digest} with this config; nothing to roll out`);
    return { ...inputs, digest, ...keep, machines: machinesOut(fleet), history };
  }

  const previousDigest = mostCommon(fleet.map(machineDigest).filter((d) => d !== digest)) ?? (olds?.digest !== digest ? olds?.digest : olds?.previousDigest);
  const record = await openReleaseRecord(
    deps,
    { app: inputs.app, image, strategy: inputs.strategy, region: inputs.machine.region, releaseCommand: inputs.releaseCommand },
    releaseVersion + 1,
  );
  const desired = buildMachineConfig(inputs.machine, image, record, inputs.minSecretsVersion);
  let ids: string[] = [];
  try {
    const newImage = fleet.length === 0 || fleet.some((m) => machineDigest(m) !== digest);
    if (inputs.releaseCommand && (newImage || migrationsChanged)) {
      await runReleaseCommand(deps, {
        app: inputs.app,
        region: inputs.machine.region,
        command: inputs.releaseCommand,
        config: buildReleaseCommandConfig(inputs.machine, { image, command: inputs.releaseCommand, release: record, databaseUrl: inputs.migrationDatabaseUrl }),
        minSecretsVersion: inputs.minSecretsVersion,
        leftovers: all.filter((m) => m.config?.metadata?.fly_process_group === RELEASE_COMMAND_GROUP && m.state !== "destroyed"),
        timeoutMs: inputs.releaseCommandTimeoutSeconds * 1000 * scale,
      });
    }
    log(`rolling out ${digest} (${inputs.strategy}): ${plan.batches.length} batch(es), ${plan.create} to create, ${plan.retire.length + plan.destroy.length} to retire`);
    ids = await executeRollout(deps, rolloutTiming(scale, inputs.waitTimeoutSeconds), {
      app: inputs.app,
      region: inputs.machine.region,
      desired,
      plan,
      fleet,
      minSecretsVersion: inputs.minSecretsVersion,
    });
  } catch (err) {
    await closeReleaseRecord(deps, record, "failed", { error: (err as Error).message });
    throw err;
  }
  await closeReleaseRecord(deps, record, "complete", { digest, previous_digest: previousDigest, backup_id: inputs.backupId });
  const machines = ids.map((id) => ({ id, image }));
  log(`release v${record.version} complete: ${machines.length} machine(s) on ${digest}`);
  return { ...inputs, digest, previousDigest, releaseVersion: record.version, releaseId: record.id, machines, history };
}

const provider = new ReleaseProvider();

/** Rolls an image out to a Fly app's machines (what `fly deploy --image` does), with release_command first. */
export class Release extends pulumi.dynamic.Resource {
  /** The image reference rolled out (kept from the last release when the input resolves to undefined). */
  declare readonly image: pulumi.Output<string | undefined>;
  declare readonly digest: pulumi.Output<string>;
  declare readonly previousDigest: pulumi.Output<string | undefined>;
  declare readonly releaseVersion: pulumi.Output<number | undefined>;
  declare readonly releaseId: pulumi.Output<string>;
  declare readonly machines: pulumi.Output<Array<{ id: string; image: string }>>;
  declare readonly history: pulumi.Output<string[]>;

  constructor(name: string, args: ReleaseArgs, opts?: pulumi.CustomResourceOptions) {
    const props = { ...args, digest: undefined, previousDigest: undefined, releaseVersion: undefined, releaseId: undefined, machines: undefined, history: undefined };
    const additionalSecretOutputs = [...(opts?.additionalSecretOutputs ?? []), "migrationDatabaseUrl"];
    super(provider, name, props, { ...opts, additionalSecretOutputs }, "fly", "Release");
  }
}
