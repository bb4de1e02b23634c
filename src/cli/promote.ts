/**
 * `npm run promote -- <from> <to> [--digest sha256:…]`: moves an image one stage forward (the promote-image
 * workflow runs this). Without --digest the target follows the source stack's `imageDigest` output (any earlier pin
 * is removed); with --digest the target is pinned to that digest. Either way the deploy is a `pulumi up` of the
 * target, so production's gate, the registry check and the deployment record all apply.
 */
import { PromotionError, assertDigest, checkProductionGate, validatePromotionPath } from "../promotion";
import { CliIo, CommandSpec, asUsage, expectPositionals, formatHelp, parseCommand, runAsMain } from "./args";
import { RunResult, StackRunner, createLocalStackRunner } from "./stack-runner";
import { readStackConfig } from "./stack-file";

export const PROMOTE: CommandSpec = {
  name: "promote",
  usage: "<from> <to> [--digest sha256:…] [--dry-run]",
  summary: "Promote an image one stage forward: development → staging, or staging → production.",
  args: [
    { name: "from", help: "development or staging" },
    { name: "to", help: "the next stage: staging or production" },
  ],
  options: {
    digest: { type: "string", placeholder: "sha256:…", help: "Pin this digest on <to> instead of taking <from>'s current one." },
  },
  notes: [
    "Steps: check the path; remove (or set, with --digest) renewa:imageDigest on <to>; pulumi up <to>.",
    "Production only accepts digests staging has rolled out successfully (renewa:allowUnverifiedPromotion overrides).",
  ],
  examples: ["development staging", "staging production", `staging production --digest sha256:${"0".repeat(64)} --dry-run`],
};

export interface PromoteDeps {
  io: CliIo;
  runner: StackRunner;
  /** Project directory: Pulumi.yaml and the Pulumi.<stack>.yaml files. */
  workDir: string;
}

export async function promote(argv: string[], deps: PromoteDeps): Promise<number> {
  const { io, runner } = deps;
  const parsed = parseCommand(PROMOTE, argv);
  if (parsed.help) {
    io.out(formatHelp(PROMOTE));
    return 0;
  }
  const [fromArg, toArg] = expectPositionals(PROMOTE, parsed);
  const { from, to } = asUsage(() => validatePromotionPath(fromArg, toArg));
  const pinned = parsed.values.digest as string | undefined;
  if (pinned !== undefined) asUsage(() => assertDigest(pinned, "--digest"));
  const target = readStackConfig(deps.workDir, to);

  // Read-only look at the source, so the plan names the digest and production's gate fails before any change.
  const source = await runner.outputs(from);
  const digest = pinned ?? (source?.imageDigest as string | undefined);
  if (!digest) {
    throw new PromotionError(`${from} has no imageDigest output${source ? "" : ` (stack ${from} not found)`}, so there is nothing to promote. Deploy ${from} first, or pass --digest.`);
  }
  if (to === "production") {
    const staging = pinned ? await runner.outputs("staging") : source;
    checkProductionGate(digest, staging?.releasedDigests as string[] | undefined, target.allowUnverifiedPromotion);
  }

  io.out(`Promotion plan: ${from} → ${to}`);
  io.out(`  image:  ${digest} (${pinned ? "pinned with --digest" : `${from}'s imageDigest output`})`);
  io.out(`  1. ${pinned ? `pulumi config set renewa:imageDigest ${pinned} -s ${to}` : `pulumi config rm renewa:imageDigest -s ${to}${target.imageDigest ? ` (removes the pin on ${target.imageDigest})` : " (no pin to remove)"}`}`);
  io.out(`  2. pulumi up -s ${to} (${to} rolls out the image, then writes its deployment record)`);
  if (parsed.dryRun) {
    io.out("Dry run: nothing was changed.");
    return 0;
  }

  if (pinned) await runner.setConfig(to, "renewa:imageDigest", pinned);
  else if (target.imageDigest) await runner.removeConfig(to, "renewa:imageDigest");
  const result = await runUp(runner, to, io);
  io.out(`Promoted ${from} → ${to}: ${to} now runs ${result.outputs.imageDigest ?? digest} (release v${result.outputs.releaseVersion ?? "?"}; ${describeChanges(result)}).`);
  if (pinned || target.imageDigest) {
    io.out(`Pulumi.${to}.yaml changed (renewa:imageDigest ${pinned ? "set" : "removed"}); commit it so the next \`pulumi up\` from main keeps this.`);
  }
  io.out(
    to === "staging"
      ? "Next: verify staging, then `npm run promote -- staging production` (needs a production reviewer's approval in CI)."
      : "Next: watch production; if it misbehaves, `npm run rollback -- production` re-promotes the previous digest (Path A).",
  );
  return 0;
}

/** Runs `pulumi up`, streaming its output, and fails with what to do when it does not succeed. */
export async function runUp(runner: StackRunner, stack: string, io: CliIo): Promise<RunResult> {
  let result: RunResult;
  try {
    result = await runner.up(stack, (text) => io.out(text.replace(/\n$/, "")));
  } catch (err) {
    throw new Error(`pulumi up on ${stack} failed: ${(err as Error).message}\nThe output above shows which resource failed. Nothing was rolled back automatically; fix the cause and re-run, or roll back with \`npm run rollback -- ${stack}\`.`);
  }
  if (result.result !== "succeeded") throw new Error(`pulumi up on ${stack} finished with result "${result.result}"; see the output above.`);
  return result;
}

export function describeChanges(result: RunResult): string {
  const parts = Object.entries(result.changes).filter(([, n]) => n > 0).map(([op, n]) => `${n} ${op}`);
  return parts.length ? parts.join(", ") : "no changes";
}


if (require.main === module) {
  runAsMain("promote", (argv, io) => promote(argv, { io, runner: createLocalStackRunner(process.cwd()), workDir: process.cwd() }));
}
