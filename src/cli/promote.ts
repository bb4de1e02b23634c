/**
 * `npm run promote -- <from> <to> [--digest sha256:…] [--expect-digest sha256:…]`: moves an image one stage forward
 * (the promote-image workflow runs this). Without --digest the target follows the source stack's `imageDigest`
 * output again (a pin kept from a rollback is dropped); with --digest the target is pinned to that digest, and the
 * pin holds (in the stack's `pinnedDigest` output) until a later promotion. Either way the deploy is a `pulumi up` of
 * the target, so production's gate, the registry check and the deployment record all apply. The digest's migrations
 * manifest and source commit are copied from the source stack's outputs, and everything set for the run is removed
 * afterwards: nothing is left in Pulumi.<to>.yaml to commit.
 */
import * as fs from "fs";
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
    "expect-digest": {
      type: "string",
      placeholder: "sha256:…",
      help: "The digest a reviewer approved: fail before any change when <from> now runs another (CI passes the plan's).",
    },
    "plan-output": {
      type: "string",
      placeholder: "file",
      help: "Append digest=, source_commit= and migrations_hash= lines to this file (CI: $GITHUB_OUTPUT).",
    },
  },
  notes: [
    "Steps: check the path; for this run only, set renewa:followSource (or renewa:imageDigest, with --digest),",
    "renewa:expectedDigest and the source's renewa:migrations / renewa:sourceCommit on <to>; pulumi up <to>; remove them.",
    "Production only accepts digests staging has rolled out successfully (renewa:allowUnverifiedPromotion overrides).",
  ],
  examples: [
    "development staging",
    "staging production",
    `staging production --digest sha256:${"0".repeat(64)} --dry-run`,
    `staging production --expect-digest sha256:${"0".repeat(64)}`,
  ],
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
  const expected = parsed.values["expect-digest"] as string | undefined;
  if (expected !== undefined) asUsage(() => assertDigest(expected, "--expect-digest"));
  const target = readStackConfig(deps.workDir, to);

  // Read-only look at the source, so the plan names the digest and production's gate fails before any change.
  const source = await runner.outputs(from);
  const digest = pinned ?? (source?.imageDigest as string | undefined);
  if (!digest) {
    throw new PromotionError(`${from} has no imageDigest output${source ? "" : ` (stack ${from} not found)`}, so there is nothing to promote. Deploy ${from} first, or pass --digest.`);
  }
  if (expected !== undefined && expected !== digest) {
    throw new PromotionError(`the approved digest is ${expected} but ${pinned ? "--digest" : `${from} now runs`} ${digest}; nothing was changed. Start a new promotion and approve the digest it shows.`);
  }
  // The manifest and commit belong to the source's digest; a pin of another digest has neither at hand.
  const identity = digest === source?.imageDigest ? { migrations: source.migrations, sourceCommit: source.sourceCommit as string | undefined } : {};
  if (to === "production") {
    const staging = pinned ? await runner.outputs("staging") : source;
    checkProductionGate(digest, staging?.releasedDigests as string[] | undefined, target.allowUnverifiedPromotion);
  }

  io.out(`Promotion plan: ${from} → ${to}`);
  io.out(`  image:  ${digest} (${pinned ? "pinned with --digest" : `${from}'s imageDigest output`})`);
  if (identity.sourceCommit) io.out(`  source: commit ${identity.sourceCommit}${identity.migrations ? `, migrations ${(identity.migrations as { hash: string }).hash}` : ""}`);
  const run: Record<string, string | undefined> = {
    [pinned ? "renewa:imageDigest" : "renewa:followSource"]: pinned ?? "true",
    "renewa:expectedDigest": digest,
    "renewa:migrations": identity.migrations ? JSON.stringify(identity.migrations) : undefined,
    "renewa:sourceCommit": identity.sourceCommit,
  };
  io.out(`  1. for this run: ${Object.entries(run).filter(([, v]) => v !== undefined).map(([k]) => k).join(", ")} on ${to}${pinned ? " (a pin: it holds until a promotion without --digest)" : " (drops a pin kept from a rollback, if any)"}`);
  io.out(`  2. pulumi up -s ${to} (${to} rolls out the image, then writes its deployment record); then remove the run's config`);
  writePlanOutput(parsed.values["plan-output"] as string | undefined, { digest, source_commit: identity.sourceCommit, migrations_hash: (identity.migrations as { hash?: string } | undefined)?.hash });
  if (parsed.dryRun) {
    io.out("Dry run: nothing was changed.");
    return 0;
  }

  // A pin committed to the stack file by hand (the old way) would contradict followSource; the outputs keep pins now.
  if (!pinned && target.imageDigest) await runner.removeConfig(to, "renewa:imageDigest");
  const result = await upWithRunConfig(runner, to, run, io);
  io.out(`Promoted ${from} → ${to}: ${to} now runs ${result.outputs.imageDigest ?? digest} (release v${result.outputs.releaseVersion ?? "?"}; ${describeChanges(result)}).`);
  if (pinned) io.out(`${to} is pinned to ${pinned} (stack output pinnedDigest): later \`pulumi up\` runs keep it, from any checkout, until \`npm run promote -- ${from} ${to}\`.`);
  io.out(
    to === "staging"
      ? "Next: verify staging, then `npm run promote -- staging production` (needs a production reviewer's approval in CI)."
      : "Next: watch production; if it misbehaves, `npm run rollback -- production` re-promotes the previous digest (Path A).",
  );
  return 0;
}

/**
 * `pulumi up` with config that belongs to this one run (a digest to deploy, the approved digest, the image's
 * manifest): set first, removed afterwards whether the update succeeded or not, so the stack file is left as it was.
 * What must outlive the run (a pin, the running image's manifest) the program keeps in its stack outputs.
 */
export async function upWithRunConfig(runner: StackRunner, stack: string, values: Record<string, string | undefined>, io: CliIo): Promise<RunResult> {
  const keys = Object.keys(values).filter((k) => values[k] !== undefined);
  for (const key of keys) await runner.setConfig(stack, key, values[key]!);
  try {
    return await runUp(runner, stack, io);
  } finally {
    for (const key of keys) await runner.removeConfig(stack, key);
  }
}

/** Appends `key=value` lines (GitHub Actions' step output format) for the values that are known. */
function writePlanOutput(file: string | undefined, values: Record<string, string | undefined>): void {
  if (!file) return;
  const lines = Object.entries(values).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}\n`);
  fs.appendFileSync(file, lines.join(""));
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
