import * as pulumi from "@pulumi/pulumi";
import { isPrAppName } from "../src/clients/fly-machines";
import { AppSecrets } from "../src/providers/app-secrets";
import { FlyApp } from "../src/providers/fly-app";
import { Release } from "../src/providers/release";

export interface AppArgs {
  /**
   * The Fly app name, unique across Fly.io.
   * @example "renewa-app-staging"
   */
  appName: string;
  /**
   * Fly organization slug the app lives in.
   * @example "renewa"
   */
  org: string;
  /**
   * Region of the machines and of the release_command machine.
   * @default "fra"
   * @example "fra"
   */
  region: "fra";
  /**
   * The image to roll out, by digest. When undefined no Release is created, and a Release that resolves to undefined
   * keeps the image it runs: an `up` never changes the running image by itself.
   * @default undefined
   * @example "registry.fly.io/renewa-app-development@sha256:4f2c…(64 hex)"
   */
  image?: pulumi.Input<string | undefined>;
  /**
   * VM size of every app machine (fly.toml `[[vm]]`); memory is a multiple of 256.
   * @example { cpuKind: "shared", cpus: 1, memoryMb: 1024 }
   */
  machine: { cpuKind: "shared" | "performance"; cpus: number; memoryMb: number };
  /**
   * How many app machines run the release.
   * @default 2
   * @example 2
   */
  machineCount: number;
  /**
   * How machines move to a new image: `rolling` (at most `maxUnavailable` at a time), `canary` (one new machine
   * proves the image healthy first, then rolling), `bluegreen` (a healthy copy of the fleet before traffic
   * switches), or `immediate` (all at once, still health-gated).
   * @default "rolling"
   * @example "bluegreen"
   */
  strategy: "rolling" | "canary" | "bluegreen" | "immediate";
  /**
   * Rolling batch size: a machine count (≥ 1) or a fraction of the fleet (< 1).
   * @default 1
   * @example 0.33
   */
  maxUnavailable: number;
  /**
   * Runs once per new image in a one-off machine before any app machine changes; a non-zero exit stops the release.
   * It migrates with the app's DATABASE_URL_MIGRATION secret, which it sees as DATABASE_URL.
   * @default undefined
   * @example "bun run db:migrate"
   */
  releaseCommand?: string;
  /**
   * The HTTP health check every machine must pass before the rollout moves on.
   * @example { path: "/health", intervalSeconds: 15, timeoutSeconds: 2, gracePeriodSeconds: 10 }
   */
  healthCheck: { path: string; intervalSeconds: number; timeoutSeconds: number; gracePeriodSeconds: number };
  /**
   * What Fly's proxy does with idle machines.
   * @default "stop"
   * @example "suspend"
   */
  autoStop: "off" | "stop" | "suspend";
  /**
   * Machines the proxy keeps running even when idle.
   * @default 1
   * @example 0
   */
  minMachinesRunning: number;
  /**
   * Plain (non-secret) environment of every machine; secrets arrive as Fly secrets.
   * @default {}
   * @example { NODE_ENV: "production", LOG_LEVEL: "info" }
   */
  env: Record<string, string>;
  /**
   * Identity of what the release_command migrates (the migrations hash; for a PR also its database's cluster). A
   * change re-runs the release_command even when the image is the same: a PR's database is recreated empty when its
   * migrations change or development's cluster is re-pointed.
   * @default undefined
   * @example "sha256:9f86d0…"
   */
  migrationTarget?: pulumi.Input<string | undefined>;
  /**
   * The pre-deploy backup id, recorded with the release.
   * @default undefined
   * @example backup.backupId
   */
  backupId?: pulumi.Input<string | undefined>;
  /**
   * PR preview apps only: Fly secrets to stage, delivered with the next rollout. Any other app throws, because
   * Infisical's sync owns the secrets of development, staging and production.
   * @default undefined
   * @example { DATABASE_URL: database.databaseUrl }
   */
  stagedSecrets?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /**
   * Protect the Fly app from deletion (production): only an unprotected stack destroy may delete it.
   * @default false
   * @example true
   */
  protect: boolean;
  /**
   * Resources the release waits for, e.g. the Infisical sync, so new secrets land before machines roll.
   * @default []
   * @example [secretSync]
   */
  releaseDependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * A Fly app and what runs in it: the app (adopted if it exists, with its shared IPv4 and IPv6), the release of an
 * image to its machines, and on PR previews the staged secrets. The app costs nothing; machines bill while running.
 *
 * @example
 * const app = new App("staging", {
 *   appName: "renewa-app-staging", org: "renewa", region: "fra", image, machineCount: 2, strategy: "rolling",
 *   maxUnavailable: 1, machine: { cpuKind: "shared", cpus: 1, memoryMb: 1024 }, autoStop: "stop", minMachinesRunning: 1,
 *   healthCheck: { path: "/health", intervalSeconds: 15, timeoutSeconds: 2, gracePeriodSeconds: 10 }, env: {}, protect: false,
 * });
 * export const url = app.appUrl;
 */
export class App extends pulumi.ComponentResource {
  readonly flyApp: FlyApp;
  readonly release?: Release;
  readonly secrets?: AppSecrets;
  readonly appName: pulumi.Output<string>;
  /** `https://<app>.fly.dev`. */
  readonly appUrl: pulumi.Output<string>;
  /** The digest the machines run; undefined until a release exists. */
  readonly digest: pulumi.Output<string | undefined>;
  /** The full image reference the machines run (`registry.fly.io/<repository>@<digest>`). */
  readonly imageRef: pulumi.Output<string | undefined>;
  readonly previousDigest: pulumi.Output<string | undefined>;
  readonly releaseVersion: pulumi.Output<number | undefined>;
  /** Digests rolled out successfully, newest first (at most 20); promotion checks read it. */
  readonly history: pulumi.Output<string[]>;
  readonly machines: pulumi.Output<Array<{ id: string; image: string }>>;

  constructor(name: string, args: AppArgs, opts?: pulumi.ComponentResourceOptions) {
    validateAppArgs(args);
    super(__pulumiType, name, {}, opts);

    this.flyApp = new FlyApp(`${name}-app`, { name: args.appName, org: args.org }, { parent: this, protect: args.protect });
    this.secrets = args.stagedSecrets === undefined ? undefined : this.createSecrets(name, args);
    this.release = args.image === undefined ? undefined : this.createRelease(name, args);

    this.appName = this.flyApp.name;
    this.appUrl = pulumi.interpolate`https://${this.flyApp.name}.fly.dev`;
    const none = pulumi.output(undefined);
    this.digest = this.release?.digest ?? none;
    this.imageRef = this.release?.image ?? none;
    this.previousDigest = this.release?.previousDigest ?? none;
    this.releaseVersion = this.release?.releaseVersion ?? none;
    this.history = this.release?.history ?? pulumi.output([]);
    this.machines = this.release?.machines ?? pulumi.output([]);

    this.registerOutputs({
      appName: this.appName,
      appUrl: this.appUrl,
      digest: this.digest,
      imageRef: this.imageRef,
      previousDigest: this.previousDigest,
      releaseVersion: this.releaseVersion,
      history: this.history,
      machines: this.machines,
    });
  }

  private createSecrets(name: string, args: AppArgs): AppSecrets {
    return new AppSecrets(`${name}-secrets`, { app: this.flyApp.name, values: pulumi.secret(args.stagedSecrets!) }, { parent: this });
  }

  private createRelease(name: string, args: AppArgs): Release {
    return new Release(
      `${name}-release`,
      {
        app: this.flyApp.name,
        image: args.image!,
        machine: {
          region: args.region,
          guest: args.machine,
          healthCheck: args.healthCheck,
          env: args.env,
          autoStop: args.autoStop,
          minMachinesRunning: args.minMachinesRunning,
        },
        machineCount: args.machineCount,
        strategy: args.strategy,
        maxUnavailable: args.maxUnavailable,
        releaseCommand: args.releaseCommand,
        backupId: args.backupId,
        minSecretsVersion: this.secrets?.version,
        migrationTarget: args.migrationTarget,
      },
      { parent: this, dependsOn: [this.flyApp, ...(this.secrets ? [this.secrets] : []), ...(args.releaseDependsOn ?? [])] },
    );
  }
}

/** Argument rules checked before any resource is declared; exported for tests. */
export function validateAppArgs(args: AppArgs): void {
  if (args.stagedSecrets !== undefined && !isPrAppName(args.appName)) {
    throw new Error(
      `App "${args.appName}": \`stagedSecrets\` is only allowed on PR preview apps (renewa-app-pr-<number>). ` +
        "Development, staging and production get their Fly secrets from Infisical's sync; put them in Infisical instead.",
    );
  }
  if (!Number.isInteger(args.machineCount) || args.machineCount < 1) {
    throw new Error(`App "${args.appName}": \`machineCount\` must be an integer ≥ 1, got ${args.machineCount}.`);
  }
}

const __pulumiType = "renewa:fly:App";
