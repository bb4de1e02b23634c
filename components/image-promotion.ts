import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DIGEST_PATTERN, FLY_REGISTRY, formatImageRef } from "../src/image-ref";
import { ReleaseHistoryEntry, contractMigrationsSince, contractRollbackMessage } from "../src/migrations/rollback-safety";
import { PromotionDecision, PromotionError, PromotionSource, decidePromotion, stackReferenceName } from "../src/promotion";
import { LongLivedStack, StackInfo, promotionSource } from "../src/stacks";

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

type Decision = PromotionDecision & { contractRollback: string[] };

/**
 * Decides which image digest a stack deploys and proves it exists in registry.fly.io before anything rolls out.
 * Staging takes development's `imageDigest` output, production takes staging's, unless `renewa:imageDigest` pins one;
 * production refuses a digest staging has not rolled out successfully. The registry lookup is an invoke, so it runs
 * during `pulumi preview` and a mistyped digest fails the PR check.
 *
 * FLY_API_TOKEN is read from the environment when the program runs and handed to an explicit docker provider as a
 * secret (`x` / token is how registry.fly.io authenticates), so state only ever holds it encrypted.
 *
 * @example
 * const promotion = new ImagePromotion("app-image", {
 *   stack: cfg.stack, kind: cfg.kind, promoteFrom: cfg.promoteFrom, pinnedDigest: cfg.imageDigest,
 *   imageRepository: cfg.imageRepository, allowUnverified: cfg.allowUnverifiedPromotion,
 *   stackOrg: cfg.stackOrg, project: pulumi.getProject(),
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
  /** Contract migrations the digest goes back across, allowed by `allowContractRollback`; empty otherwise. */
  public readonly contractRollback: pulumi.Output<string[]>;

  constructor(name: string, args: ImagePromotionArgs, opts?: pulumi.ComponentResourceOptions) {
    validateArgs(args);
    super("renewa:release:ImagePromotion", name, {}, opts);

    const from = args.promoteFrom;
    // Production reads staging even when pinned: the gate applies to every digest production deploys.
    const needsReference = from !== undefined && (args.pinnedDigest === undefined || args.kind === "production");
    let sourceDigest: pulumi.Output<string | undefined> = pulumi.output(undefined);
    let released: pulumi.Output<string[] | undefined> = pulumi.output(undefined);
    if (needsReference) {
      const ref = this.createSourceReference(name, from, args);
      sourceDigest = ref.getOutput("imageDigest") as pulumi.Output<string | undefined>;
      if (args.kind === "production") released = ref.getOutput("releasedDigests") as pulumi.Output<string[] | undefined>;
    }

    const promotion = pulumi.all([sourceDigest, released]).apply(([s, r]) =>
      decidePromotion({
        stack: args.stack,
        kind: args.kind,
        pinnedDigest: args.pinnedDigest,
        sourceDigest: s ?? undefined,
        stagingReleased: r ?? undefined,
        allowUnverified: args.allowUnverified,
      }),
    );
    // Plain data, not part of the resource graph: a refused promotion fails exactly as without it, and the history
    // (a GitHub read) is awaited only for a digest that passed. A failed read surfaces there, not as a stray rejection.
    const history = Promise.resolve(args.releaseHistory);
    history.catch(() => undefined);
    const decision = promotion.apply(async (d) => guardMigrations(args, d, (await history) ?? []));
    const verified = this.verifyInRegistry(name, decision, args);

    this.digest = verified.apply((d) => d.digest);
    this.imageRef = verified.apply((d) => (d.digest ? formatImageRef(args.imageRepository, d.digest) : undefined));
    this.source = verified.apply((d) => d.source);
    this.override = verified.apply((d) => d.override);
    this.contractRollback = verified.apply((d) => d.contractRollback);
    this.registerOutputs({ digest: this.digest, imageRef: this.imageRef, source: this.source, override: this.override, contractRollback: this.contractRollback });
  }

  private createSourceReference(name: string, from: LongLivedStack, args: ImagePromotionArgs): pulumi.StackReference {
    const org = args.stackOrg ?? pulumi.getOrganization();
    return new pulumi.StackReference(
      `${name}-${from}`,
      { name: stackReferenceName(org, args.project, from) },
      { parent: this },
    );
  }

  /** Looks the digest up in registry.fly.io; a miss stops preview with the stack, digest and what to check. */
  private verifyInRegistry(
    name: string,
    decision: pulumi.Output<Decision>,
    args: ImagePromotionArgs,
  ): pulumi.Output<Decision> {
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

/**
 * Refuses a digest released before a contract migration that has run since, unless `allowContractRollback` names
 * exactly this digest. Runs inside the decision, so `pulumi preview` fails before anything changes.
 */
function guardMigrations(args: ImagePromotionArgs, d: PromotionDecision, history: ReleaseHistoryEntry[]): Decision {
  const crossings = d.digest ? contractMigrationsSince(history, d.digest) : [];
  if (!crossings.length) return { ...d, contractRollback: [] };
  if (args.allowContractRollback !== d.digest) throw new PromotionError(contractRollbackMessage(args.stack, d.digest!, crossings));
  const names = crossings.map((c) => c.migration);
  return { ...d, contractRollback: names, note: `${d.note} CONTRACT ROLLBACK OVERRIDE: ${d.digest} goes back across ${names.join(", ")} (renewa:allowContractRollback); it may fail on the current schema.` };
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
  if (args.allowContractRollback !== undefined && !DIGEST_PATTERN.test(args.allowContractRollback)) {
    throw new PromotionError(`ImagePromotion for stack ${args.stack}: \`allowContractRollback\` "${args.allowContractRollback}" is not sha256:<64 hex>.`);
  }
  if (!args.imageRepository) throw new PromotionError(`ImagePromotion for stack ${args.stack}: \`imageRepository\` is empty.`);
  if (args.allowUnverified && args.kind !== "production") {
    throw new PromotionError(`ImagePromotion for stack ${args.stack}: \`allowUnverified\` only applies to production.`);
  }
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split("\n").find((l) => l.trim()) ?? "unknown error";
}
