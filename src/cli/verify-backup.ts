/**
 * `npm run verify-backup -- <env> [--backup <id>]`: proves the environment's latest backup restores. Restores it into
 * a scratch cluster, runs the image's check command against it in a temporary machine, records the result in a
 * `backup-verification` issue, and destroys the machine and the scratch cluster on every path (a re-run removes what
 * a killed run left). The environment's own cluster is only read (its backup list).
 */
import { PostgresBackup } from "../clients/fly-postgres";
import { PlatformConfig } from "../config";
import { VerificationResult, actionsRunUrl, describeCheckExit } from "../data-jobs/backup-report";
import { jobLeftovers, runJob } from "../data-jobs/job-machine";
import { Leftovers, cleanUpRun, leftoverPlan, removeLeftovers } from "../data-jobs/leftovers";
import { clustersNamed, jobConnection, pickBackup, restoreInto, runStamp } from "../data-jobs/restored-cluster";
import { RunInterrupted, createRunGuard } from "../data-jobs/run-guard";
import { DeploymentRecordData } from "../deployment-record-format";
import { LONG_LIVED_STACKS } from "../stacks";
import { CliIo, CommandSpec, UsageError, expectPositionals, formatHelp, parseCommand, runAsMain } from "./args";
import { DataJobDeps, realDataJobDeps } from "./data-job-deps";
import { readStackConfig } from "./stack-file";

const JOB = "verify-backup";
const RESTORE_TIMEOUT_MS = 60 * 60_000;
const CHECK_TIMEOUT_MS = 30 * 60_000;

export const VERIFY_BACKUP: CommandSpec = {
  name: JOB,
  usage: "<env> [--backup <id>] [--dry-run]",
  summary: "Restore <env>'s latest backup into a scratch cluster, check it in a temporary machine, record the result.",
  args: [{ name: "env", help: "development, staging or production" }],
  options: { backup: { type: "string", placeholder: "<id>", help: "Verify this backup instead of the newest completed one." } },
  notes: [
    "Steps: remove leftovers of earlier runs (clusters renewa-verify-<env>-*, machines with metadata renewa_job=verify-backup);",
    "restore the backup into a NEW scratch cluster; run renewa:dataCheckCommand from the image <env> runs, without app",
    "secrets, against it (database answers, schema at the migration the release before the backup recorded, row counts",
    "of renewa:dataCheckTables); destroy the machine and the scratch cluster; record the result in an issue labelled",
    "backup-verification. Exit 1 when the backup does not restore or a check fails. <env>'s own cluster is never written.",
  ],
  examples: ["production --dry-run", "production", "staging --backup bk-0123"],
};

/** The schema version the backup should have: the head recorded by the newest release before the backup started. */
export function expectedHead(records: DeploymentRecordData[], backupStarted: string | undefined): { head: string | null; release?: number } | undefined {
  const before = records
    .filter((r) => r.migrations && (!backupStarted || r.recordedAt <= backupStarted))
    .sort((a, b) => b.releaseVersion - a.releaseVersion)[0];
  return before ? { head: before.migrations!.head, release: before.releaseVersion } : undefined;
}

/** What a verification works from, read before anything is touched. */
interface VerifyPlan {
  cfg: PlatformConfig;
  env: string;
  source: string;
  image: string;
  backup: PostgresBackup;
  /** The schema version the backup should be at, when a record says. */
  expected?: { head: string | null; release?: number };
  run: string;
  leftovers: Leftovers;
  /** One line per thing the check machine checks. */
  checked: string[];
}

export async function verifyBackup(argv: string[], deps: DataJobDeps): Promise<number> {
  const { io } = deps;
  const parsed = parseCommand(VERIFY_BACKUP, argv);
  if (parsed.help) {
    io.out(formatHelp(VERIFY_BACKUP));
    return 0;
  }
  const [env] = expectPositionals(VERIFY_BACKUP, parsed);
  if (!(LONG_LIVED_STACKS as readonly string[]).includes(env)) {
    throw new UsageError(`"${env}" has no cluster or backups of its own: expected one of ${LONG_LIVED_STACKS.join(", ")}.`);
  }
  const plan = await readPlan(deps, env, parsed.values.backup as string | undefined);
  printPlan(io, plan);
  if (parsed.dryRun) {
    io.out("Dry run: nothing was changed.");
    return 0;
  }
  await removeLeftovers(deps.pg, deps.machines, plan.leftovers);
  const result = await verify(deps, plan);
  io.out(`${result.passed ? "PASS" : "FAIL"}: backup ${plan.backup.id} of ${env}${result.passed ? ` restored in ${result.restoreSeconds} s and passed every check.` : `: ${result.failure}`}`);
  try {
    io.out(`Recorded: ${await deps.report(plan.cfg, result)}`);
  } catch (err) {
    io.err(`The result could not be recorded in ${plan.cfg.githubOwner}/${plan.cfg.githubRepository}: ${(err as Error).message}`);
    return 1;
  }
  if (result.notRemoved) io.err(`Exit 1: the backup ${result.passed ? "passed, but" : "failed, and"} ${result.notRemoved.length} thing(s) the run created are still there (above).`);
  return result.passed && !result.notRemoved ? 0 : 1;
}

async function readPlan(deps: DataJobDeps, env: string, wantedBackup: string | undefined): Promise<VerifyPlan> {
  const cfg = readStackConfig(deps.workDir, env);
  const source = cfg.mpgClusterId!;
  const image = (await deps.runner.outputs(env))?.imageRef as string | undefined;
  if (!image) throw new Error(`${env} has no imageRef output, so there is no image to run the check command from. Deploy ${env} first.`);
  const { records } = await deps.records(cfg).list(env);
  const backup = await pickBackup(deps.pg, source, wantedBackup);
  const expected = expectedHead(records, backup.started_at);
  const leftovers = {
    app: cfg.appName,
    clusters: await clustersNamed(deps.pg, cfg.org, `renewa-verify-${env}-`, [source]),
    machines: await jobLeftovers(deps.machines, cfg.appName, JOB),
  };
  const tables = Object.entries(cfg.dataCheckTables);
  const checked = [
    "the database answers",
    expected ? `schema at ${expected.head ?? "no migration"} (recorded by release v${expected.release}, the last before the backup)` : "schema version: no release before the backup recorded one, not checked",
    tables.length ? `row counts: ${tables.map(([t, n]) => `${t} ≥ ${n}`).join(", ")}` : "row counts: no renewa:dataCheckTables configured, not checked",
  ];
  return { cfg, env, source, image, backup, expected, run: runStamp(deps.now()), leftovers, checked };
}

function printPlan(io: CliIo, p: VerifyPlan): void {
  const { cfg, env, backup, run } = p;
  io.out(`Backup verification plan for ${env} (cluster ${p.source} is only read)`);
  io.out(`  backup: ${backup.id} (${backup.type ?? "?"}, finished ${backup.finished_at ?? "?"}) of cluster ${p.source}`);
  for (const line of leftoverPlan(p.leftovers)) io.out(line);
  io.out(`  1. restore it into a NEW scratch cluster renewa-verify-${env}-${run} (org ${cfg.org})`);
  io.out(`  2. machine ${JOB}-${env}-${run} in app ${cfg.appName}, image ${p.image}, without app secrets: \`${cfg.dataCheckCommand}\``);
  for (const c of p.checked) io.out(`       checks: ${c}`);
  io.out(`  3. destroy the machine and the scratch cluster (also when a step fails or the run is interrupted)`);
  io.out(`  4. record the result in an issue labelled backup-verification in ${cfg.githubOwner}/${cfg.githubRepository}`);
}

/** Restores, checks and cleans up; every failure becomes the result's `failure`, never an exception. */
async function verify(deps: DataJobDeps, p: VerifyPlan): Promise<VerificationResult> {
  const { io } = deps;
  const { cfg, env, backup, run } = p;
  const guard = createRunGuard(deps.signals, io.err);
  const result: VerificationResult = { stack: env, sourceCluster: p.source, backupId: backup.id, backupFinishedAt: backup.finished_at, checked: p.checked, passed: false, runUrl: actionsRunUrl() };
  try {
    const restored = await restoreInto(deps.pg, guard, { sourceId: p.source, backup, name: `renewa-verify-${env}-${run}`, timeoutMs: RESTORE_TIMEOUT_MS, now: deps.now, log: io.out });
    result.scratchCluster = restored.cluster.id;
    result.restoreSeconds = Math.round(restored.restoreMs / 1000);
    io.out(`restored in ${result.restoreSeconds} s; running the check …`);
    const url = await jobConnection(deps.pg, restored.cluster, "renewa-verify", "reader");
    const jobEnv = { DATABASE_URL: url, RENEWA_CHECK_EXPECT_MIGRATION: p.expected?.head ?? "", RENEWA_CHECK_TABLES: JSON.stringify(cfg.dataCheckTables) };
    const check = await runJob(deps.machines, guard, { app: cfg.appName, region: cfg.region, image: p.image, job: JOB, run, name: `${JOB}-${env}-${run}`, command: cfg.dataCheckCommand, env: jobEnv, timeoutMs: CHECK_TIMEOUT_MS }, deps.now);
    result.passed = check.exitCode === 0;
    if (!result.passed) result.failure = `${describeCheckExit(check.exitCode)} (machine ${check.machineId}; logs: fly logs -a ${cfg.appName} -i ${check.machineId})`;
  } catch (err) {
    result.failure = err instanceof RunInterrupted ? `${err.message}; the next run removes anything left` : (err as Error).message;
  } finally {
    const failed = await cleanUpRun(guard, io.out, io.err);
    if (failed.length) result.notRemoved = failed;
  }
  return result;
}

if (require.main === module) runAsMain(JOB, (argv, io) => verifyBackup(argv, realDataJobDeps(io)));
