/**
 * Stack names and everything derived from them. Pure: no Pulumi runtime, so config validation, the operator commands
 * and tests share one definition of what a stack is.
 */

export const LONG_LIVED_STACKS = ["development", "staging", "production"] as const;
export type LongLivedStack = (typeof LONG_LIVED_STACKS)[number];

/** The promotion chain: each stage takes the digest its predecessor ran. */
export const PROMOTION_CHAIN: readonly LongLivedStack[] = ["development", "staging", "production"];

export const REGION = "fra";
export const APP_PREFIX = "renewa-app-";

export type StackInfo =
  | { stack: LongLivedStack; kind: LongLivedStack; prNumber?: undefined }
  | { stack: `pr-${number}`; kind: "pr"; prNumber: number };

export const STACK_NAME_HELP = 'development, staging, production, or pr-<N> with N a positive integer (e.g. "pr-42")';

/** Parses a stack name; undefined when it is not one of ours. */
export function parseStackName(stack: string): StackInfo | undefined {
  if ((LONG_LIVED_STACKS as readonly string[]).includes(stack)) {
    return { stack: stack as LongLivedStack, kind: stack as LongLivedStack };
  }
  const m = /^pr-([1-9][0-9]{0,8})$/.exec(stack);
  if (m) return { stack: stack as `pr-${number}`, kind: "pr", prNumber: Number(m[1]) };
  return undefined;
}

/** Fly app name: `renewa-app-<stack>` (for PRs, `renewa-app-pr-<N>`). */
export function appNameFor(stack: StackInfo): string {
  return `${APP_PREFIX}${stack.stack}`;
}

/** The stage a stack takes its digest from, if any. */
export function promotionSource(kind: StackInfo["kind"]): LongLivedStack | undefined {
  if (kind === "staging") return "development";
  if (kind === "production") return "staging";
  return undefined;
}

/** The GitHub environment a stack deploys through. */
export function githubEnvironmentFor(kind: StackInfo["kind"]): string {
  return kind === "pr" ? "pr-preview" : kind;
}
