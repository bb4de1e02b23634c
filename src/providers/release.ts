/**
 * The image rollout as a resource: the engine in `src/release/` does the work (its entry file gives the order of a
 * release). `read` reports the live fleet and where its config drifted from the declared one, so `pulumi refresh`
 * and the next preview show hand-made changes. Deleting the resource leaves the machines running: they go with the
 * app.
 */
import * as pulumi from "@pulumi/pulumi";
import { isApiError } from "../clients/http";
import { isUnknown, wireSafe } from "../dynamic-support";
import { parseImageRef } from "../image-ref";
import { ReleaseInputs, ReleaseState, readLive, runRelease } from "../release";
import { MachineSettings, MachineSettingsInput, splitCommand, stableJson, validateMachineSettings, withSettingsDefaults } from "../release/machine-config";
import { STRATEGIES, Strategy } from "../release/rollout-plan";

type Inputs = ReleaseInputs;
type Outputs = ReleaseState;

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
  /**
   * Run in a one-off machine on the new image before any app machine changes (migrations). It gets the app's
   * DATABASE_URL_MIGRATION secret as DATABASE_URL; no connection string is ever put into a machine config.
   */
  releaseCommand?: pulumi.Input<string | undefined>;
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
  /** Per machine, from update to healthy; also the release_command machine's limit to boot. @default 300 */
  waitTimeoutSeconds?: pulumi.Input<number>;
  /** How long the release_command may run once started. @default 300 */
  releaseCommandTimeoutSeconds?: pulumi.Input<number>;
}

const DIFF_KEYS: Array<keyof Inputs> = [
  "image", "digest", "machine", "machineCount", "strategy", "maxUnavailable", "releaseCommand", "backupId",
  "minSecretsVersion", "migrationTarget", "waitTimeoutSeconds", "releaseCommandTimeoutSeconds",
];

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
    return { inputs: wireSafe(inputs), failures };
  }

  /** A changed input is an update; live config drift found by `read` (refresh) is one too, named in `drift`. */
  async diff(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.DiffResult> {
    const replaces = olds.app !== news.app ? ["app"] : [];
    const changed = DIFF_KEYS.filter((k) => stableJson(olds[k] ?? null) !== stableJson(news[k] ?? null));
    const drifted = (olds.drift ?? []).length > 0;
    return { changes: replaces.length + changed.length > 0 || drifted, replaces };
  }

  async create(inputs: Inputs): Promise<pulumi.dynamic.CreateResult<Outputs>> {
    return { id: inputs.app, outs: wireSafe(await runRelease(inputs, undefined, progress(inputs.app))) };
  }

  async update(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.UpdateResult<Outputs>> {
    return { outs: wireSafe(await runRelease(news, olds, progress(news.app))) };
  }

  /**
   * The live fleet: digest, count, machines and, field by field, where their config differs from the declared one.
   * With nothing changed outside Pulumi it returns exactly what create or update stored.
   */
  async read(id: string, props?: Outputs): Promise<pulumi.dynamic.ReadResult<Outputs>> {
    if (!props) return {};
    try {
      return { id, props: wireSafe(await readLive(props)) };
    } catch (err) {
      if (isApiError(err, 404)) return {};
      throw err;
    }
  }

  async delete(): Promise<void> {
    // Nothing to undo: the machines belong to the app and stay until FlyApp is deleted with the stack.
  }
}

function progress(app: string) {
  return { log: (m: string) => pulumi.log.info(`${app}: ${m}`), warn: (m: string) => pulumi.log.warn(`${app}: ${m}`) };
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
  /** Where the live machines differ from the declared config, as of the last refresh; empty when they match. */
  declare readonly drift: pulumi.Output<string[]>;

  constructor(name: string, args: ReleaseArgs, opts?: pulumi.CustomResourceOptions) {
    const outputs = { digest: undefined, previousDigest: undefined, releaseVersion: undefined, releaseId: undefined, machines: undefined, history: undefined, drift: undefined };
    super(provider, name, { ...args, ...outputs }, opts, "fly", "Release");
  }
}
