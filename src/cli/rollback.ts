/**
 * `npm run rollback -- <env> [--to sha256:…] [--yes]`: Path A. Finds the previous successful digest in the
 * environment's deployment records, shows what will change, asks for confirmation, then pins `renewa:imageDigest`
 * to it and runs `pulumi up`. The image goes back; the database does not (that is Path B: `npm run repoint`).
 */
import { PlatformConfig } from "../config";
import { DeploymentRecordData } from "../deployment-record-format";
import { contractMigrationsSince, contractRollbackMessage } from "../migrations/rollback-safety";
import { assertDigest, checkProductionGate } from "../promotion";
import { LONG_LIVED_STACKS } from "../stacks";
import { CliIo, CommandSpec, UsageError, asUsage, confirm, expectPositionals, formatHelp, parseCommand, runAsMain } from "./args";
import { describeChanges, upWithRunConfig } from "./promote";
import { RecordReader, githubRecordReader } from "./record-reader";
import { StackRunner, createLocalStackRunner } from "./stack-runner";
import { readStackConfig } from "./stack-file";

export const ROLLBACK: CommandSpec = {
  name: "rollback",
  usage: "<env> [--to sha256:…] [--yes] [--dry-run] [--allow-contract-rollback]",
  summary: "Path A: put <env> back on the previous successful image digest from its deployment records.",
  args: [{ name: "env", help: "development, staging or production" }],
  options: {
    to: {
      type: "string",
      placeholder: "sha256:…",
      help: "Roll back to this digest instead of the previous one. It must be in <env>'s records when there are any; without records, it is taken as given.",
    },
    yes: { type: "boolean", help: "Do not ask for confirmation (CI)." },
    "allow-contract-rollback": {
      type: "boolean",
      help: "Go back across contract migrations anyway (loud; recorded in the deployment record).",
    },
  },
  notes: [
    "Steps: read the deployment-record issues of <env> (GITHUB_TOKEN); pick the digest that ran before the running",
    "one first ran; confirm; pulumi up -s <env> with renewa:imageDigest <digest> set for that run only. The pin then",
    "holds in the stack's pinnedDigest output (every later up keeps it) until `npm run promote` moves <env> on.",
    "Only the image changes. Migrations are N-1 compatible, so the previous image runs on the current schema. To",
    "restore data, use Path B: fly mpg restore, then `npm run repoint -- <env> <new-cluster-id>`.",
    "Refused when a contract migration ran after the target was released (it removed what the target may use): the",
    "message names the migration and its release. --allow-contract-rollback overrides, setting renewa:allowContractRollback.",
  ],
  examples: ["production --dry-run", "staging", `production --to sha256:${"0".repeat(64)} --yes`],
};

export interface RollbackDeps {
  io: CliIo;
  runner: StackRunner;
  workDir: string;
  /** Where records are read from, given the stack's config (its githubOwner/githubRepository). */
  records: (cfg: PlatformConfig) => RecordReader;
}

export async function rollback(argv: string[], deps: RollbackDeps): Promise<number> {
  const { io, runner } = deps;
  const parsed = parseCommand(ROLLBACK, argv);
  if (parsed.help) {
    io.out(formatHelp(ROLLBACK));
    return 0;
  }
  const [env] = expectPositionals(ROLLBACK, parsed);
  if (!(LONG_LIVED_STACKS as readonly string[]).includes(env)) {
    throw new UsageError(`"${env}" cannot be rolled back: expected one of ${LONG_LIVED_STACKS.join(", ")}. A PR preview redeploys with \`npm run preview-env -- up <N> --digest …\`.`);
  }
  const wanted = parsed.values.to as string | undefined;
  if (wanted !== undefined) asUsage(() => assertDigest(wanted, "--to"));
  const cfg = readStackConfig(deps.workDir, env);

  const { records, unreadable } = await deps.records(cfg).list(env);
  for (const u of unreadable) io.err(`warning: issue #${u.issueNumber} is labelled deployment-record but unreadable (${u.reason}); ignored.`);
  if (records.length === 0 && wanted === undefined) {
    throw new Error(`no deployment records for ${env} in ${cfg.githubOwner}/${cfg.githubRepository} (issues labelled deployment-record and env:${env}); without them there is no known-good digest. Pass --to with a digest you know ${env} ran.`);
  }
  const running = ((await runner.outputs(env))?.imageDigest as string | undefined) ?? records[0]?.digest;
  const current = records.find((r) => r.digest === running);
  // Without records nothing can vouch for --to, so it is taken as the operator's word (the registry check and
  // production's gate still apply in the update); with records it must be one of them.
  const target = records.length === 0 ? unrecordedTarget(env, wanted!, running, io) : pickTarget(env, records, running!, wanted);
  if (env === "production") {
    const staging = await runner.outputs("staging");
    checkProductionGate(target.digest, staging?.releasedDigests as string[] | undefined, cfg.allowUnverifiedPromotion);
  }

  const crossings = contractMigrationsSince(records, target.digest);
  const override = Boolean(parsed.values["allow-contract-rollback"]);
  if (crossings.length && !override) throw new Error(contractRollbackMessage(env, target.digest, crossings));

  io.out(`Rollback plan for ${env} (Path A: image only; the database is not touched)`);
  io.out(`  running now:  ${running ?? "nothing"}${current ? ` (${describe(current)})` : " (no record of it)"}`);
  io.out(`  roll back to: ${target.digest} (${describe(target)})`);
  if (current?.backupId) io.out(`  pre-deploy backup of the running release: ${current.backupId} (for Path B, if data must go back too)`);
  const steps = [
    `for this run: renewa:imageDigest ${target.digest} on ${env} (the stack keeps it as its pinnedDigest output)`,
    `pulumi up -s ${env}; then remove the run's config (nothing to commit)`,
  ];
  if (crossings.length) {
    for (const c of crossings) io.err(`WARNING: going back across contract migration ${c.migration} (release v${c.release.releaseVersion}); ${target.digest} may fail on the current schema.`);
    steps.unshift(`for this run: renewa:allowContractRollback ${target.digest} (--allow-contract-rollback; recorded in the deployment record)`);
  }
  steps.forEach((step, i) => io.out(`  ${i + 1}. ${step}`));
  if (parsed.dryRun) {
    io.out("Dry run: nothing was changed.");
    return 0;
  }
  if (!parsed.values.yes && !(await confirm(io, `Roll ${env} back to ${target.digest}?`, env))) {
    io.out("Aborted: nothing was changed.");
    return 1;
  }

  // The pin outlives this run in the stack's pinnedDigest output, so the stack file is left as it was.
  const sourceCommit = /^[0-9a-f]{40}$/.test(target.commit) ? target.commit : undefined;
  const runConfig = {
    "renewa:imageDigest": target.digest,
    "renewa:sourceCommit": sourceCommit,
    ...(crossings.length ? { "renewa:allowContractRollback": target.digest } : {}),
  };
  const result = await upWithRunConfig(runner, env, runConfig, io);
  io.out(`Rolled back ${env} to ${target.digest} (release v${result.outputs.releaseVersion ?? "?"}; ${describeChanges(result)}).`);
  io.out(`${env} is now pinned to it (stack output pinnedDigest): every later \`pulumi up\`, from main or any checkout, keeps the rollback; there is no file to commit.`);
  io.out(
    env === "development"
      ? "Next: the next push to main deploys a new build and replaces the pin."
      : `Next: when a fix is ready, \`npm run promote -- ${env === "staging" ? "development staging" : "staging production"}\` removes the pin.`,
  );
  return 0;
}

/**
 * The digest that ran before the running digest first ran: the newest record older than the running digest's
 * earliest record. After a rollback (A → B → C, back to B) a second rollback therefore goes to A, not back to C.
 * With `wanted`, that digest's newest record, if the environment ever ran it. Exported for tests.
 */
export function pickTarget(
  env: string,
  records: DeploymentRecordData[],
  running: string,
  wanted: string | undefined,
): DeploymentRecordData {
  if (wanted !== undefined) {
    if (wanted === running) throw new UsageError(`${env} already runs ${wanted}; nothing to roll back.`);
    const match = records.find((r) => r.digest === wanted);
    if (!match) {
      throw new UsageError(`${wanted} is not in ${env}'s deployment records, so ${env} never ran it successfully. Rollback only returns to known-good digests; use \`npm run promote\` for a new one.`);
    }
    return match;
  }
  // Records are newest first, so the running digest's earliest record is its last index.
  const firstRun = records.map((r) => r.digest).lastIndexOf(running);
  const previous = records.slice(firstRun + 1).find((r) => r.digest !== running);
  if (!previous) {
    throw new Error(`${env} has no successful digest older than ${running} in its deployment records: there is nothing to roll back to. Pass --to with a digest from an earlier record if you know one.`);
  }
  return previous;
}

/** A --to digest when the environment has no records at all: a record-shaped stand-in, said out loud. */
function unrecordedTarget(env: string, digest: string, running: string | undefined, io: CliIo): DeploymentRecordData {
  if (digest === running) throw new UsageError(`${env} already runs ${digest}; nothing to roll back.`);
  io.err(`warning: ${env} has no deployment records, so nothing confirms that ${env} ran ${digest}; rolling back to it on your word.`);
  return { schema: 1, key: "", app: "", stack: env, environment: env, digest, previousDigest: null, backupId: null, releaseVersion: 0, commit: "unknown", recordedAt: "no record", override: false };
}

function describe(r: DeploymentRecordData & { issueNumber?: number }): string {
  if (!r.key) return "no deployment record";
  return `release v${r.releaseVersion}, ${r.recordedAt}, commit ${r.commit.slice(0, 12)}${r.issueNumber ? `, issue #${r.issueNumber}` : ""}`;
}


if (require.main === module) {
  runAsMain("rollback", (argv, io) =>
    rollback(argv, {
      io,
      runner: createLocalStackRunner(process.cwd()),
      workDir: process.cwd(),
      records: (cfg) => githubRecordReader({ owner: cfg.githubOwner, repository: cfg.githubRepository }),
    }),
  );
}
