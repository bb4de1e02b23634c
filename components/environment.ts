import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "../src/config";
import { formatImageRef } from "../src/image-ref";
import type { ReleaseHistoryEntry } from "../src/migrations/rollback-safety";
import { DeploymentRecord } from "../src/providers/deployment-record";
import { HUMAN_MANAGED_SECRETS } from "../src/providers/infisical-secrets";
import { App } from "./app";
import { Cache } from "./cache";
import { Database } from "./database";
import { GithubEnvironment } from "./github-environment";
import { ImagePromotion } from "./image-promotion";
import { SecretSync } from "./secret-sync";
import { Storage } from "./storage";

export interface EnvironmentArgs {
  /**
   * The stack's validated configuration (`loadConfig()`).
   * @example loadConfig()
   */
  config: PlatformConfig;
  /**
   * This stack's releases from its deployment records, for the contract-migration guard on a pinned digest.
   * @default undefined (no guard)
   * @example loadReleaseHistory(config)
   */
  releaseHistory?: Promise<ReleaseHistoryEntry[] | undefined>;
}

/**
 * One environment of the platform: the Fly app and its release, the Managed Postgres database, the Infisical → Fly
 * secret sync, Tigris storage, Upstash cache, the GitHub environment and the deployment record. PR stacks leave out
 * the sync (their secrets are staged on the app) and the GitHub environment (development's stack owns `pr-preview`).
 *
 * @example
 * const env = new Environment("renewa", { config: loadConfig() });
 * export const appUrl = env.app.appUrl;
 */
export class Environment extends pulumi.ComponentResource {
  readonly app: App;
  readonly database: Database;
  readonly promotion: ImagePromotion;
  /** The image's migrations manifest and source commit after this update, for the next stage's promotion. */
  readonly migrations: pulumi.Output<PlatformConfig["migrations"]>;
  readonly sourceCommit: pulumi.Output<string | undefined>;
  /** The image to roll out in this update; undefined keeps the running one (the release remembers it). */
  readonly imageRef: pulumi.Output<string | undefined>;

  constructor(name: string, args: EnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
    // Nothing may change while the promotion is refused (production's gate, a digest missing from the registry), so
    // every resource but the promotion's own lookups waits for its checked decision.
    let decided: pulumi.Output<pulumi.Resource[]> | undefined;
    const waitForPromotion: pulumi.ResourceTransformation = (a) => {
      if (!decided || !(a.resource instanceof pulumi.CustomResource)) return undefined;
      const deps = a.opts.dependsOn === undefined ? [] : Array.isArray(a.opts.dependsOn) ? a.opts.dependsOn : [a.opts.dependsOn];
      return { props: a.props, opts: { ...a.opts, dependsOn: [...(deps as pulumi.Input<pulumi.Resource>[]), decided as unknown as pulumi.Resource] } };
    };
    // Production protects every resource, not only those that hold data: `pulumi destroy` deletes the unprotected ones
    // (the secret sync, Infisical's secrets, the GitHub environment's secrets) before it stops at the first protected.
    const protectAll: pulumi.ResourceTransformation = (a) => {
      if (!args.config.protect || !(a.resource instanceof pulumi.CustomResource)) return undefined;
      return a.opts.protect === undefined ? { props: a.props, opts: { ...a.opts, protect: true } } : undefined;
    };
    super("renewa:platform:Environment", name, {}, { ...opts, transformations: [...(opts?.transformations ?? []), waitForPromotion, protectAll] });
    const c = args.config;

    this.promotion = this.createPromotion(name, c, args.releaseHistory);
    decided = this.promotion.digest.apply((): pulumi.Resource[] => []);
    this.imageRef = this.promotion.digest.apply((d) => (d ? formatImageRef(c.imageRepository, d) : undefined));
    this.migrations = this.promotion.migrations;
    this.sourceCommit = this.promotion.sourceCommit;
    // The hash must be known when the program runs (it decides whether a pre-deploy backup is declared), so it comes
    // from config: CI sets renewa:migrations with the digest, and `npm run promote` copies the source stage's.
    const migrationsHash = c.migrations?.hash;
    this.database = this.createDatabase(name, c, migrationsHash);
    const storage = new Storage(`${name}-storage`, { bucketName: c.tigrisBucket, org: c.org, protect: c.protect }, { parent: this });
    const cache = new Cache(`${name}-cache`, { databaseName: c.upstashDatabase, protect: c.protect }, { parent: this });
    const infraSecrets = pulumi.secret(
      pulumi
        .all([this.database.databaseUrl, this.database.migrationDatabaseUrl, storage.secrets, cache.secrets])
        .apply(([databaseUrl, migrationUrl, tigris, upstash]): Record<string, string> => ({
          DATABASE_URL: databaseUrl,
          DATABASE_URL_MIGRATION: migrationUrl,
          ...tigris,
          ...upstash,
        })),
    );

    // The release must wait for the sync (new secrets land before machines roll), while the sync needs the app to
    // exist first; the app is created inside App before its release, so the sync is handed over once it exists.
    let handOverSync: (deps: pulumi.Resource[]) => void = () => undefined;
    const syncDone = new Promise<pulumi.Resource[]>((resolve) => (handOverSync = resolve));
    // A PR's database is recreated empty when its migrations or development's cluster change; a long-lived stack's
    // database keeps its data (a Path B restore is taken as is), so only its migrations count.
    const migrationTarget =
      c.kind === "pr"
        ? pulumi.interpolate`${this.database.clusterId}/${this.database.databaseName}#${migrationsHash ?? ""}`
        : migrationsHash;
    this.app = this.createApp(name, c, migrationTarget, c.kind === "pr" ? this.prSecrets(infraSecrets) : undefined, syncDone);
    if (c.kind === "pr") {
      handOverSync([]);
    } else {
      handOverSync([this.createSecretSync(name, c, infraSecrets)]);
      this.createGithubEnvironment(name, c);
    }
    this.createDeploymentRecord(name, c);

    this.registerOutputs({
      appName: c.appName,
      appUrl: this.app.appUrl,
      imageDigest: this.app.digest,
      databaseClusterId: this.database.clusterId,
    });
  }

  /**
   * A PR app gets no Infisical sync, so every secret it needs is staged on it: the infrastructure ones, and the
   * human-managed ones, which the PR workflow fetches from Infisical (OIDC) into the environment of `pulumi up` for
   * that one step. They go to state only inside AppSecrets' secret input (encrypted); its outputs keep digests.
   */
  private prSecrets(infra: pulumi.Output<Record<string, string>>): pulumi.Output<Record<string, string>> {
    const human = Object.fromEntries(HUMAN_MANAGED_SECRETS.filter((k) => process.env[k]).map((k) => [k, process.env[k]!]));
    const missing = HUMAN_MANAGED_SECRETS.filter((k) => !process.env[k]);
    if (missing.length) {
      void pulumi.log.warn(`PR preview without ${missing.join(", ")}: not in the environment of \`pulumi up\`, so not staged on the app. The PR workflow fetches them from Infisical.`, this);
    }
    return pulumi.secret(infra.apply((values) => ({ ...values, ...human })));
  }

  private createPromotion(name: string, c: PlatformConfig, releaseHistory: EnvironmentArgs["releaseHistory"]): ImagePromotion {
    return new ImagePromotion(
      `${name}-image`,
      {
        stack: c.stack,
        kind: c.kind,
        promoteFrom: c.promoteFrom === "production" ? undefined : c.promoteFrom,
        pinnedDigest: c.imageDigest,
        imageRepository: c.imageRepository,
        allowUnverified: c.allowUnverifiedPromotion,
        stackOrg: c.stackOrg,
        project: pulumi.getProject(),
        releaseHistory,
        allowContractRollback: c.allowContractRollback,
        followSource: c.followSource,
        expectedDigest: c.expectedDigest,
        migrations: c.migrations,
        sourceCommit: c.sourceCommit,
      },
      { parent: this },
    );
  }

  private createDatabase(name: string, c: PlatformConfig, migrationsHash: string | undefined): Database {
    const clusterId =
      c.kind === "pr"
        ? (this.developmentStack(name, c).requireOutput("databaseClusterId") as pulumi.Output<string>)
        : c.mpgClusterId!;
    return new Database(
      `${name}-db`,
      { kind: c.kind, clusterId, org: c.org, prNumber: c.prNumber, migrationsHash, protect: c.protect },
      { parent: this },
    );
  }

  private createApp(
    name: string,
    c: PlatformConfig,
    migrationTarget: pulumi.Input<string | undefined>,
    stagedSecrets: pulumi.Input<Record<string, string>> | undefined,
    releaseAfter: Promise<pulumi.Resource[]>,
  ): App {
    return new App(
      `${name}-app`,
      {
        appName: c.appName,
        org: c.org,
        region: c.region,
        image: this.imageRef,
        machine: c.machine,
        machineCount: c.machineCount,
        strategy: c.strategy,
        maxUnavailable: c.maxUnavailable,
        releaseCommand: c.releaseCommand,
        healthCheck: c.healthCheck,
        autoStop: c.autoStop,
        minMachinesRunning: c.minMachinesRunning,
        env: { ...c.env, PRIMARY_REGION: c.region, RENEWA_ENVIRONMENT: c.stack },
        backupId: this.database.backupId,
        migrationTarget,
        stagedSecrets,
        protect: c.protect,
        // Pulumi resolves a promise of resources in dependsOn when the release registers.
        releaseDependsOn: [releaseAfter as unknown as pulumi.Resource],
      },
      { parent: this },
    );
  }

  private createSecretSync(name: string, c: PlatformConfig, secrets: pulumi.Input<Record<string, string>>): SecretSync {
    return new SecretSync(
      `${name}-secrets`,
      {
        appName: c.appName,
        project: c.infisicalProject,
        environment: c.infisicalEnvironment!,
        secretPath: c.infisicalSecretPath,
        secrets,
        dependsOn: [this.app.flyApp],
      },
      { parent: this },
    );
  }

  private createGithubEnvironment(name: string, c: PlatformConfig): GithubEnvironment {
    return new GithubEnvironment(
      `${name}-github`,
      {
        owner: c.githubOwner,
        repository: c.githubRepository,
        environment: c.githubEnvironment as "development" | "staging" | "production",
        reviewers: c.kind === "production" ? c.productionReviewers : c.stagingReviewers,
        // The repository-wide pieces (ruleset, label, pr-preview environment) belong to one stack.
        manageRepository: c.kind === "development",
      },
      { parent: this },
    );
  }

  /** PR stacks share development's MPG cluster. */
  private developmentStack(name: string, c: PlatformConfig): pulumi.StackReference {
    return new pulumi.StackReference(`${name}-development`, { name: this.stackName(c, "development") }, { parent: this });
  }

  /** `<org>/<project>/<stack>`: Pulumi Cloud uses the real org; s3:// and file:// backends answer "organization". */
  private stackName(c: PlatformConfig, stack: string): string {
    return `${c.stackOrg ?? pulumi.getOrganization()}/${pulumi.getProject()}/${stack}`;
  }

  private createDeploymentRecord(name: string, c: PlatformConfig): void {
    new DeploymentRecord(
      `${name}-record`,
      {
        owner: c.githubOwner,
        repository: c.githubRepository,
        environment: c.stack,
        appName: c.appName,
        stack: c.stack,
        digest: this.app.digest,
        previousDigest: this.app.previousDigest,
        releaseVersion: this.app.releaseVersion,
        backupId: this.database.backupId,
        // The app repository's commit the image was built from, not this program's.
        commit: this.promotion.sourceCommit.apply((s) => s ?? "unknown"),
        promotionOverride: this.promotion.override,
        // The migrations that travel with the running image: the record says which of them this release applied.
        migrations: this.promotion.migrations,
        contractRollback: this.promotion.contractRollback,
      },
      { parent: this },
    );
  }
}
