/**
 * Promotion decisions as pure functions: which digest a stack deploys, where it came from, and whether production's
 * gate lets it through. No Pulumi import, so the ImagePromotion component, the operator commands and the tests share
 * one set of rules and one set of messages.
 */
import { DIGEST_PATTERN } from "./image-ref";
import { LongLivedStack, PROMOTION_CHAIN, StackInfo, promotionSource } from "./stacks";

export type PromotionSource = "pinned" | "promoted" | "none";

/** What a stack deploys. `digest` undefined means nothing to deploy: the running image stays. */
export interface PromotionDecision {
  digest?: string;
  source: PromotionSource;
  /** Production deploys a digest staging has not run successfully, because `allowUnverified` was set. */
  override: boolean;
  /** One line for the operator (logged by the component), e.g. why nothing is deployed. */
  note: string;
}

export interface PromotionInput {
  stack: string;
  kind: StackInfo["kind"];
  /** `renewa:imageDigest`, when set. */
  pinnedDigest?: string;
  /** The source stack's `imageDigest` output (staging ← development, production ← staging). */
  sourceDigest?: string;
  /** Staging's `releasedDigests` output (digests it rolled out successfully); production only. */
  stagingReleased?: readonly string[];
  allowUnverified: boolean;
}

/** A promotion that must not happen; the message names the stack, the digest and what to do. */
export class PromotionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PromotionError";
  }
}

/** Human labels of the two promotion paths, as the promote-image workflow offers them. */
export const PROMOTION_PATHS = ["development → staging", "staging → production"] as const;

/**
 * Checks that `from → to` is one step forward along development → staging → production. Promotion never skips a
 * stage (production only takes what staging ran) and never goes backwards (that is a rollback: `npm run rollback`).
 */
export function validatePromotionPath(from: string, to: string): { from: LongLivedStack; to: LongLivedStack } {
  const chain = PROMOTION_CHAIN.join(" → ");
  const fromIdx = (PROMOTION_CHAIN as readonly string[]).indexOf(from);
  const toIdx = (PROMOTION_CHAIN as readonly string[]).indexOf(to);
  if (fromIdx < 0 || toIdx < 0) {
    const bad = fromIdx < 0 ? from : to;
    throw new PromotionError(
      `"${bad}" is not a promotion stage; promotion moves images along ${chain}. PR stacks are never promoted from or to (they deploy their own build with \`npm run preview-env -- up <N>\`).`,
    );
  }
  if (toIdx <= fromIdx) {
    throw new PromotionError(
      `cannot promote ${from} → ${to}: promotion only goes forward along ${chain}. To put ${to} back on an older image, run \`npm run rollback -- ${to}\` (Path A).`,
    );
  }
  if (toIdx !== fromIdx + 1) {
    throw new PromotionError(
      `cannot promote ${from} → ${to}: promotion never skips a stage. Promote ${from} → ${PROMOTION_CHAIN[fromIdx + 1]} first, let it run there, then promote ${PROMOTION_CHAIN[fromIdx + 1]} → ${to}.`,
    );
  }
  return { from: from as LongLivedStack, to: to as LongLivedStack };
}

/** Parses the workflow's `promotion_path` choice ("development → staging"; "->" is accepted too). */
export function parsePromotionPath(path: string): { from: LongLivedStack; to: LongLivedStack } {
  const parts = path.split(/\s*(?:→|->)\s*/).map((p) => p.trim());
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new PromotionError(`promotion path "${path}" is not "<from> → <to>"; choose one of: ${PROMOTION_PATHS.join(", ")}.`);
  }
  return validatePromotionPath(parts[0], parts[1]);
}

export function assertDigest(value: string, what: string): string {
  if (!DIGEST_PATTERN.test(value)) {
    throw new PromotionError(
      `${what} "${value}" is not an image digest (expected sha256: followed by 64 lowercase hex digits; a tag or short hash is not a digest). Copy it from the build job or the deployment record.`,
    );
  }
  return value;
}

/**
 * Production's gate: a digest must have been rolled out successfully on staging first. `allowUnverified` lets an
 * operator through on purpose (a hotfix staging cannot run); the override is carried into the deployment record.
 */
export function checkProductionGate(
  digest: string,
  stagingReleased: readonly string[] | undefined,
  allowUnverified: boolean,
): { override: boolean } {
  if ((stagingReleased ?? []).includes(digest)) return { override: false };
  if (allowUnverified) return { override: true };
  const seen = stagingReleased?.length
    ? `staging has run ${stagingReleased.length} other digest(s), newest ${stagingReleased[0]}`
    : "staging reports no successful releases (its releasedDigests output is empty or missing)";
  throw new PromotionError(
    [
      `production refuses ${digest}: staging has not run it successfully (${seen}).`,
      `Promote it to staging first (\`npm run promote -- development staging --digest ${digest}\`), verify it there, then promote staging → production.`,
      `To deploy it anyway (deliberate override, recorded in the deployment record): \`pulumi config set renewa:allowUnverifiedPromotion true -s production\`, deploy, then remove the key.`,
    ].join("\n"),
  );
}

/** Decides what a stack deploys. Throws PromotionError when the rules forbid it. */
export function decidePromotion(input: PromotionInput): PromotionDecision {
  const from = promotionSource(input.kind);
  if (input.allowUnverified && input.kind !== "production") {
    throw new PromotionError(`stack ${input.stack}: allowUnverified only applies to production, which is the only gated stage.`);
  }
  if (input.pinnedDigest !== undefined) assertDigest(input.pinnedDigest, `stack ${input.stack}: renewa:imageDigest`);
  if (input.sourceDigest !== undefined) assertDigest(input.sourceDigest, `stack ${from ?? "source"}: output imageDigest`);

  let digest: string | undefined;
  let source: PromotionSource;
  let note: string;
  if (input.pinnedDigest) {
    digest = input.pinnedDigest;
    source = "pinned";
    note = from
      ? `${input.stack} is pinned to ${digest} by renewa:imageDigest; it does not follow ${from} until the pin is removed (\`npm run promote -- ${from} ${input.stack}\` removes it).`
      : `${input.stack} deploys ${digest} (renewa:imageDigest).`;
  } else if (from && input.sourceDigest) {
    digest = input.sourceDigest;
    source = "promoted";
    note = `${input.stack} takes ${digest} from ${from}'s imageDigest output.`;
  } else {
    source = "none";
    note = from
      ? `${input.stack}: ${from} has no imageDigest output yet, so there is nothing to promote; the running image stays. Deploy ${from} first.`
      : `${input.stack}: renewa:imageDigest is not set, so there is nothing to deploy; the running image stays. CI sets it (\`pulumi config set renewa:imageDigest sha256:… -s ${input.stack}\`).`;
  }

  let override = false;
  if (digest && input.kind === "production") override = checkProductionGate(digest, input.stagingReleased, input.allowUnverified).override;
  if (override) note += ` OVERRIDE: staging has not run ${digest}; deploying because renewa:allowUnverifiedPromotion is true.`;
  return { digest, source, override, note };
}

/** The stack reference name for a source stage: `<org>/<project>/<stack>`. */
export function stackReferenceName(org: string, project: string, stack: string): string {
  return `${org}/${project}/${stack}`;
}
