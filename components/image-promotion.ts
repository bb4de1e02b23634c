import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DIGEST_PATTERN, FLY_REGISTRY, formatImageRef } from "../src/image-ref";
import { MigrationsManifest } from "../src/migrations/manifest";
import { ReleaseHistoryEntry, guardContractRollback } from "../src/migrations/rollback-safety";
import { PromotionDecision, PromotionError, PromotionSource, decidePromotion, stackReferenceName } from "../src/promotion";
import { StackInfo, promotionSource } from "../src/stacks";

export interface ImagePromotionArgs {
  /**
   * The stack being deployed.
   * @example "staging"
   */
  stack: string;
  /**
   * Kind of the stack; decides where the digest comes from.
   * @example "production"
   */
  kind: StackInfo["kind"];
  /**
   * The stage whose `imageDigest` output this stack takes. Must match the promotion chain: staging ← development,
   * production ← staging; development and PR stacks have none.
   * @default undefined (development and PR stacks)
   * @example "development"
   */
  promoteFrom?: "development" | "staging";
  /**
   * `renewa:imageDigest`. On development and PR stacks the digest CI built; on staging and production a pin that
   * replaces promotion (Path A rollback). Production still checks a pinned digest against staging's history.
   * @default undefined (promote, or deploy nothing)
   * @example "sha256:4f2c…(64 hex)"
   */
  pinnedDigest?: string;
  /**
   * Repository in registry.fly.io that holds the image; the registry is org-scoped, so every stage reuses CI's.
   * @example "renewa-app-development"
   */
  imageRepository: string;
  /**
   * Production only: deploy a digest staging has not run successfully. Surfaces as `override: true`.
   * @default false
   * @example true
   */
  allowUnverified: boolean;
  /**
   * Organization part of the stack reference `<org>/<project>/<stack>`.
   * @default pulumi.getOrganization(): the Pulumi Cloud org, or "organization" on s3:// and file:// backends (the
   * DIY backends' fixed org name), so the default works on every backend.
   * @example "renewa"
   */
  stackOrg?: string;
  /**
   * Pulumi project of the source stacks (this project: every stage is a stack of it).
   * @example "renewa-platform"
   */
  project: string;
  /**
   * `renewa:followSource`: drop a pin kept from an earlier run (this stack's `pinnedDigest` output) and follow
   * `promoteFrom` again. Without it a pin holds across runs until a promotion moves it on.
   * @default false
   * @example true
   */
  followSource?: boolean;
  /**
   * `renewa:expectedDigest`: the digest a reviewer approved. Any other decision fails before anything changes.
   * @default undefined (no expectation)
   * @example "sha256:4f2c…(64 hex)"
   */
  expectedDigest?: string;
  /**
   * `renewa:migrations`: the manifest of the image this run deploys. On a promotion it must match the source
   * stack's `migrations` output (the promote command copies it from there).
   * @default undefined (the stack keeps the manifest it ran before)
   */
  migrations?: MigrationsManifest;
  /**
   * `renewa:sourceCommit`: the app repository's commit of the image this run deploys; on a promotion it must match
   * the source stack's `sourceCommit` output.
   * @default undefined (the source stack's, or the one this stack ran before)
   * @example "3f1c…(40 hex)"
   */
  sourceCommit?: string;
  /**
   * This stack's releases as its deployment records tell them (digest, release version, migrations applied). With
   * it, a digest released before a contract migration that has run since is refused during preview.
   * @default undefined (no migration guard)
   * @example loadReleaseHistory(cfg)
   */
  releaseHistory?: ReleaseHistoryEntry[] | Promise<ReleaseHistoryEntry[] | undefined>;
  /**
   * `renewa:allowContractRollback`: the one digest that may go back across contract migrations anyway. Loud, and the
   * crossed migrations surface as `contractRollback` for the deployment record.
   * @default undefined
   * @example "sha256:4f2c…(64 hex)"
   */
  allowContractRollback?: string;
}

/** What travels with a digest from stage to stage, as stack outputs. */
interface Identity {
  digest?: string;
  migrations?: MigrationsManifest;
  sourceCommit?: string;
}

/** A decision, the pin in force after it, and the identity of the image it deploys (or keeps). */
export interface PromotionOutcome extends PromotionDecision {
  /** Contract migrations the digest goes back across, allowed by `allowContractRollback`; empty otherwise. */
  contractRollback: string[];
  pin?: string;
  migrations?: MigrationsManifest;
  sourceCommit?: string;
}

/**
 * Decides which image digest a stack deploys and proves it exists in registry.fly.io before anything rolls out.
 * Staging takes development's `imageDigest` output, production takes staging's, unless `renewa:imageDigest` pins one;
 * production refuses a digest staging has not rolled out successfully. The registry lookup is an invoke, so it runs
 * during `pulumi preview` and a mistyped digest fails the PR check.
 *
 * A pin is kept in the stack's own outputs (`pinnedDigest`, read back through a StackReference to this stack), so
 * it holds on every later `up` from any checkout until `followSource` or a new pin moves it; nobody commits a file.
 * The digest's migrations manifest and source commit travel with it the same way (`migrations`, `sourceCommit`).
 *
 * FLY_API_TOKEN is read from the environment when the program runs and handed to an explicit docker provider as a
 * secret (`x` / token is how registry.fly.io authenticates), so state only ever holds it encrypted.
 *
 * @example
 * const promotion = new ImagePromotion("app-image", {
 *   stack: cfg.stack, kind: cfg.kind, promoteFrom: cfg.promoteFrom, pinnedDigest: cfg.imageDigest,
 *   imageRepository: cfg.imageRepository, allowUnverified: cfg.allowUnverifiedPromotion,
 *   stackOrg: cfg.stackOrg, project: pulumi.getProject(), followSource: cfg.followSource,
 *   expectedDigest: cfg.expectedDigest, migrations: cfg.migrations, sourceCommit: cfg.sourceCommit,
 * });
 * export const imageDigest = promotion.digest;
 */
export class ImagePromotion extends pulumi.ComponentResource {
  /** The digest to deploy; undefined when there is nothing to deploy and the running image stays. */
  public readonly digest: pulumi.Output<string | undefined>;
  /** `registry.fly.io/<repository>@<digest>`, or undefined with `digest`. */
  public readonly imageRef: pulumi.Output<string | undefined>;
  /** Where the digest came from: `renewa:imageDigest`, the previous stage, or nowhere. */
  public readonly source: pulumi.Output<PromotionSource>;
  /** True when production deploys a digest staging has not run, because `allowUnverified` was set. */
  public readonly override: pulumi.Output<boolean>;
  /** The pin in force after this run (staging/production); undefined while the stack follows `promoteFrom`. */
  public readonly pin: pulumi.Output<string | undefined>;
  /** The migrations manifest of the image the stack runs after this update. */
  public readonly migrations: pulumi.Output<MigrationsManifest | undefined>;
  /** The app repository's commit of that image. */
  public readonly sourceCommit: pulumi.Output<string | undefined>;
  /** Contract migrations the digest goes back across, allowed by `allowContractRollback`; empty otherwise. */
  public readonly contractRollback: pulumi.Output<string[]>;

  constructor(name: string, args: ImagePromotionArgs, opts?: pulumi.ComponentResourceOptions) {
    validateArgs(args);
    super("renewa:release:ImagePromotion", name, {}, opts);

    const from = args.promoteFrom;
    // This stack's own last outputs: a pin and the identity of the running image survive runs that name neither.
    const own = this.createReference(`${name}-self`, args.stack, args);
    const ownPin = own.getOutput("pinnedDigest") as pulumi.Output<string | undefined>;
    const ownIdentity = identityOf(own);
    // Production reads staging even when pinned: the gate applies to every digest production deploys.
    let source: pulumi.Output<Identity> = pulumi.output({});
    let released: pulumi.Output<string[] | undefined> = pulumi.output(undefined);
    if (from !== undefined) {
      const ref = this.createReference(`${name}-${from}`, from, args);
      source = identityOf(ref);
      if (args.kind === "production") released = ref.getOutput("releasedDigests") as pulumi.Output<string[] | undefined>;
    }

    // The digest (and production's gate) waits only for what it needs, so a refusal comes as early as it can.
    const decision = pulumi
      .all([source, released, needsOwnPin(args) ? ownPin : pulumi.output(undefined)])
      .apply(([s, r, p]) => decideDigest(args, { sourceDigest: s.digest, stagingReleased: r ?? undefined, ownPin: p ?? undefined }));
    // The release history is plain data, not part of the resource graph: a refused promotion fails as it would without
    // it, and the history (a GitHub read) is awaited only for a digest that passed. A failed read surfaces there.
    const history = Promise.resolve(args.releaseHistory);
    history.catch(() => undefined);
    const guarded = decision.apply(async (d) => {
      const { crossed, note } = guardContractRollback(args.stack, d.digest, (await history) ?? [], args.allowContractRollback);
      return { ...d, contractRollback: crossed, note: note ? `${d.note} ${note}` : d.note };
    });
    const outcome = pulumi
      .all([guarded, source, ownIdentity])
      .apply(([d, s, o]): PromotionOutcome => ({ ...d, ...identityFor(args, d, s, o), digest: d.digest }));
    const verified = this.verifyInRegistry(name, outcome, args);

    this.digest = verified.apply((d) => d.digest);
    this.imageRef = verified.apply((d) => (d.digest ? formatImageRef(args.imageRepository, d.digest) : undefined));
    this.source = verified.apply((d) => d.source);
    this.override = verified.apply((d) => d.override);
    this.pin = verified.apply((d) => d.pin);
    this.migrations = verified.apply((d) => d.migrations);
    this.sourceCommit = verified.apply((d) => d.sourceCommit);
    this.contractRollback = verified.apply((d) => d.contractRollback);
    this.registerOutputs({ digest: this.digest, imageRef: this.imageRef, source: this.source, override: this.override, pin: this.pin, contractRollback: this.contractRollback });
  }

  private createReference(resourceName: string, stack: string, args: ImagePromotionArgs): pulumi.StackReference {
    const org = args.stackOrg ?? pulumi.getOrganization();
    return new pulumi.StackReference(resourceName, { name: stackReferenceName(org, args.project, stack) }, { parent: this });
  }

  /** Looks the digest up in registry.fly.io; a miss stops preview with the stack, digest and what to check. */
  private verifyInRegistry(
    name: string,
    decision: pulumi.Output<PromotionOutcome>,
    args: ImagePromotionArgs,
  ): pulumi.Output<PromotionOutcome> {
    const token = process.env.FLY_API_TOKEN;
    const provider = new docker.Provider(
      `${name}-registry`,
      {
        // Only registry reads happen here; CI runners and operators need no Docker daemon for them.
        disableDockerDaemonCheck: true,
        registryAuth: token ? [{ address: FLY_REGISTRY, username: "x", password: pulumi.secret(token) }] : [],
      },
      { parent: this },
    );
    return decision.apply(async (d) => {
      (d.override || d.contractRollback.length ? pulumi.log.warn : pulumi.log.info)(d.note, this);
      if (!d.digest) return d;
      const ref = formatImageRef(args.imageRepository, d.digest);
      if (!token) {
        throw new PromotionError(
          `stack ${args.stack}: cannot check that ${ref} exists: FLY_API_TOKEN is not set. Export a Fly token that can read the org's registry (CI: secrets.FLY_API_TOKEN) and run again.`,
        );
      }
      let found: docker.GetRegistryImageResult;
      try {
        found = await docker.getRegistryImage({ name: ref }, { provider, parent: this });
      } catch (err) {
        throw new PromotionError(
          [
            `stack ${args.stack}: image ${ref} (${d.source}) was not found in ${FLY_REGISTRY}: ${firstLine(err)}`,
            `Check the digest for typos and that CI pushed it to repository "${args.imageRepository}" (renewa:imageRepository); nothing was deployed.`,
          ].join("\n"),
        );
      }
      if (found.sha256Digest && found.sha256Digest !== d.digest) {
        throw new PromotionError(`stack ${args.stack}: ${FLY_REGISTRY} answered ${found.sha256Digest} for ${ref}; refusing to deploy an image whose digest does not match.`);
      }
      return d;
    });
  }
}

function identityOf(ref: pulumi.StackReference): pulumi.Output<Identity> {
  return pulumi
    .all([ref.getOutput("imageDigest"), ref.getOutput("migrations"), ref.getOutput("sourceCommit")])
    .apply(([digest, migrations, sourceCommit]) => ({ digest: digest ?? undefined, migrations: migrations ?? undefined, sourceCommit: sourceCommit ?? undefined }));
}

/** Whether the decision needs the pin kept in this stack's own outputs (only a follower without a new instruction). */
function needsOwnPin(args: ImagePromotionArgs): boolean {
  return args.promoteFrom !== undefined && args.pinnedDigest === undefined && !args.followSource;
}

/**
 * Exported for testing: which digest, and the pin in force after it. A pin holds until `followSource` (or a new
 * pin); the approved digest must be the one decided. Throws PromotionError before anything changes.
 */
export function decideDigest(
  args: ImagePromotionArgs,
  seen: { sourceDigest?: string; stagingReleased?: string[]; ownPin?: string },
): PromotionDecision & { pin?: string } {
  const pin = args.pinnedDigest ?? (needsOwnPin(args) ? seen.ownPin : undefined);
  const decision = decidePromotion({
    stack: args.stack,
    kind: args.kind,
    pinnedDigest: pin,
    sourceDigest: seen.sourceDigest,
    stagingReleased: seen.stagingReleased,
    allowUnverified: args.allowUnverified,
  });
  if (args.expectedDigest !== undefined && decision.digest !== args.expectedDigest) {
    throw new PromotionError(
      `stack ${args.stack}: the approved digest is ${args.expectedDigest} (renewa:expectedDigest) but this update would deploy ${decision.digest ?? "nothing"} (${decision.source}). ${args.promoteFrom ?? "The source"} moved on after the approval; nothing was changed. Start a new promotion and approve the digest it shows.`,
    );
  }
  return { ...decision, pin: decision.source === "pinned" && args.promoteFrom !== undefined ? pin : undefined };
}

/**
 * Exported for testing: what travels with the decided digest. A promotion carries the source's manifest and commit
 * and refuses config that disagrees with them (or a new image whose manifest it was not given, since the pre-deploy
 * backup needs it); a run that deploys nothing new keeps what the stack ran before. Throws PromotionError.
 */
export function identityFor(args: ImagePromotionArgs, decision: PromotionDecision, source: Identity, own: Identity): Identity {
  if (decision.source === "promoted") {
    if (args.migrations && source.migrations && args.migrations.hash !== source.migrations.hash) {
      throw new PromotionError(`stack ${args.stack}: renewa:migrations (hash ${args.migrations.hash}) is not the manifest ${args.promoteFrom} runs with ${decision.digest} (hash ${source.migrations.hash}); nothing was changed. Promote with \`npm run promote\`, which copies it.`);
    }
    // The backup decision needs the hash while the program runs, so it comes from config; a new image whose source
    // has a manifest must bring it, or its migrations would run with no pre-deploy backup.
    if (!args.migrations && source.migrations && decision.digest !== own.digest) {
      throw new PromotionError(`stack ${args.stack}: ${args.promoteFrom} runs ${decision.digest} with migrations ${source.migrations.hash}, but this update was not given them (renewa:migrations), so no pre-deploy backup could be taken; nothing was changed. Promote with \`npm run promote -- ${args.promoteFrom} ${args.stack}\`, which hands them over.`);
    }
    if (args.sourceCommit && source.sourceCommit && args.sourceCommit !== source.sourceCommit) {
      throw new PromotionError(`stack ${args.stack}: renewa:sourceCommit ${args.sourceCommit} is not the commit ${args.promoteFrom} built ${decision.digest} from (${source.sourceCommit}); nothing was changed.`);
    }
    return { digest: decision.digest, migrations: args.migrations ?? source.migrations, sourceCommit: args.sourceCommit ?? source.sourceCommit };
  }
  const fresh = args.pinnedDigest !== undefined && args.pinnedDigest !== own.digest;
  const keep = fresh ? {} : own;
  return { digest: decision.digest, migrations: args.migrations ?? keep.migrations, sourceCommit: args.sourceCommit ?? keep.sourceCommit };
}

/** Exported for testing: argument checks that need no runtime. */
export function validateArgs(args: ImagePromotionArgs): void {
  const expected = promotionSource(args.kind);
  if (args.promoteFrom !== expected) {
    throw new PromotionError(
      `ImagePromotion for stack ${args.stack}: \`promoteFrom\` is ${args.promoteFrom ?? "unset"} but a ${args.kind} stack ${expected ? `promotes from ${expected}` : "promotes from nothing"} (development → staging → production).`,
    );
  }
  if (args.pinnedDigest !== undefined && !DIGEST_PATTERN.test(args.pinnedDigest)) {
    throw new PromotionError(`ImagePromotion for stack ${args.stack}: \`pinnedDigest\` "${args.pinnedDigest}" is not sha256:<64 hex>.`);
  }
  if (!args.imageRepository) throw new PromotionError(`ImagePromotion for stack ${args.stack}: \`imageRepository\` is empty.`);
  if (args.allowUnverified && args.kind !== "production") {
    throw new PromotionError(`ImagePromotion for stack ${args.stack}: \`allowUnverified\` only applies to production.`);
  }
  if (args.followSource && args.pinnedDigest !== undefined) {
    throw new PromotionError(`ImagePromotion for stack ${args.stack}: \`followSource\` and \`pinnedDigest\` contradict each other.`);
  }
  if ((args.followSource || args.expectedDigest !== undefined) && args.promoteFrom === undefined) {
    throw new PromotionError(`ImagePromotion for stack ${args.stack}: \`followSource\` and \`expectedDigest\` apply only to stacks that promote from another.`);
  }
  if (args.allowContractRollback !== undefined && !DIGEST_PATTERN.test(args.allowContractRollback)) {
    throw new PromotionError(`ImagePromotion for stack ${args.stack}: \`allowContractRollback\` "${args.allowContractRollback}" is not sha256:<64 hex>.`);
  }
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split("\n").find((l) => l.trim()) ?? "unknown error";
}
