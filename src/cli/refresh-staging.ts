/**
 * `npm run refresh-staging [--backup <id>] [--yes]`: staging on a fresh, scrubbed copy of production's data.
 * Restores production's latest backup into a NEW cluster in production's organization, scrubs personal data in a
 * temporary machine running the image's scrub command, checks the scrub, gives every user of the copy a new password,
 * then re-points staging at it through Path B (`npm run repoint`'s stack-file edit and `pulumi up`). A failure at any
 * step leaves staging on its old cluster and removes what the run created; the old cluster is kept and named.
 */
import * as fs from "fs";
import { PostgresBackup, PostgresCluster } from "../clients/fly-postgres";
import { isApiError } from "../clients/http";
import { PlatformConfig } from "../config";
import { jobLeftovers, runJob } from "../data-jobs/job-machine";
import { Leftovers, cleanUpRun, leftoverPlan, removeLeftovers } from "../data-jobs/leftovers";
import { clustersNamed, jobConnection, pickBackup, restoreInto, runStamp } from "../data-jobs/restored-cluster";
import { RunGuard, createRunGuard } from "../data-jobs/run-guard";
import { CliIo, CommandSpec, UsageError, confirm, expectPositionals, formatHelp, parseCommand, runAsMain } from "./args";
import { runUp } from "./promote";
import { repoint } from "./repoint";
import { stackFilePath, readStackConfig } from "./stack-file";
import { DataJobDeps, realDataJobDeps } from "./data-job-deps";

const JOB = "refresh-staging";
const PREFIX = "renewa-staging-refresh-";
const RESTORE_TIMEOUT_MS = 60 * 60_000;
const SCRUB_TIMEOUT_MS = 60 * 60_000;
const SCRUB_USER = "renewa-scrub";

export const REFRESH_STAGING: CommandSpec = {
  name: JOB,
  usage: "[--backup <id>] [--yes] [--dry-run]",
  summary: "Put staging on a scrubbed copy of production's latest backup (a new cluster), through Path B.",
  args: [],
  options: {
    backup: { type: "string", placeholder: "<id>", help: "Use this production backup instead of the newest completed one." },
    yes: { type: "boolean", help: "Do not ask for confirmation (CI)." },
  },
  notes: [
    `Steps: remove leftovers of killed runs (clusters ${PREFIX}* newer than staging's, machines with metadata`,
    "renewa_job=refresh-staging); restore production's backup into a NEW cluster (production's org); in renewa-app-production,",
    "without app secrets, run renewa:scrubCommand then renewa:scrubCheckCommand from production's image against it; new",
    "passwords for its users; set renewa:mpgClusterId in Pulumi.staging.yaml; pulumi up -s staging (DATABASE_URL and",
    "DATABASE_URL_MIGRATION move in Infisical; the sync redeploys). The old staging cluster is kept: the output names it.",
  ],
  examples: ["--dry-run", "--yes"],
};

/** What a refresh works from, read before anything is touched. */
interface RefreshPlan {
  prod: PlatformConfig;
  /** The cluster id in Pulumi.staging.yaml. */
  inFile: string;
  /** The cluster staging runs on (its databaseClusterId output), kept whatever happens. */
  oldCluster: string;
  image: string;
  backup: PostgresBackup;
  run: string;
  leftovers: Leftovers;
  /** Older refresh copies nothing points at: named, never removed. */
  unsure: PostgresCluster[];
}

export async function refreshStaging(argv: string[], deps: DataJobDeps): Promise<number> {
  const { io } = deps;
  const parsed = parseCommand(REFRESH_STAGING, argv);
  if (parsed.help) {
    io.out(formatHelp(REFRESH_STAGING));
    return 0;
  }
  expectPositionals(REFRESH_STAGING, parsed);
  const plan = await readPlan(deps, parsed.values.backup as string | undefined);
  printPlan(io, plan);
  if (parsed.dryRun) {
    io.out("Dry run: nothing was changed.");
    return 0;
  }
  if (!parsed.values.yes && !(await confirm(io, `Replace staging's data with a scrubbed copy of production backup ${plan.backup.id}?`, "staging"))) {
    io.out("Aborted: nothing was changed.");
    return 1;
  }
  await removeLeftovers(deps.pg, deps.machines, plan.leftovers);
  const newCluster = await refresh(deps, plan);
  io.out(`Staging now runs on a scrubbed copy of production backup ${plan.backup.id}: cluster ${newCluster}.`);
  io.out(`The previous staging cluster ${plan.oldCluster} is kept. Once staging is confirmed, remove it: fly mpg destroy ${plan.oldCluster}`);
  return 0;
}

async function readPlan(deps: DataJobDeps, wantedBackup: string | undefined): Promise<RefreshPlan> {
  const prod = readStackConfig(deps.workDir, "production");
  const staging = readStackConfig(deps.workDir, "staging");
  if (prod.org !== staging.org) {
    throw new UsageError(`staging (org ${staging.org}) and production (org ${prod.org}) are in different Fly organizations: a copy of production's data may not leave ${prod.org}, and staging could not reach it there.`);
  }
  // What staging runs on may be ahead of the file (a refresh whose pull request is not merged yet): both are kept.
  const inFile = staging.mpgClusterId!;
  const oldCluster = ((await deps.runner.outputs("staging"))?.databaseClusterId as string | undefined) ?? inFile;
  const image = (await deps.runner.outputs("production"))?.imageRef as string | undefined;
  if (!image) throw new Error("production has no imageRef output, so there is no image with the scrub command. Deploy production first.");
  const backup = await pickBackup(deps.pg, prod.mpgClusterId!, wantedBackup);
  const { remove, unsure } = await refreshLeftovers(deps, prod.org, oldCluster, [inFile, prod.mpgClusterId!]);
  const leftovers = { app: prod.appName, clusters: remove, machines: await jobLeftovers(deps.machines, prod.appName, JOB) };
  return { prod, inFile, oldCluster, image, backup, run: runStamp(deps.now()), leftovers, unsure };
}

function printPlan(io: CliIo, p: RefreshPlan): void {
  const { prod, backup, run } = p;
  io.out(`Staging data refresh plan (production's data stays in org ${prod.org}: its clusters and the scrub machine)`);
  io.out(`  backup: ${backup.id} (${backup.type ?? "?"}, finished ${backup.finished_at ?? "?"}) of production's cluster ${prod.mpgClusterId}`);
  for (const line of leftoverPlan(p.leftovers)) io.out(line);
  io.out(`  1. restore it into a NEW cluster ${PREFIX}${run} (org ${prod.org}, ${prod.region})`);
  io.out(`  2. machine ${JOB}-scrub-${run} in app ${prod.appName}, image ${p.image}, without app secrets: \`${prod.scrubCommand}\``);
  io.out(`  3. machine ${JOB}-verify-${run}, same image: \`${prod.scrubCheckCommand}\` (must find no row matching what the scrub removes)`);
  io.out(`  4. new passwords for every user of the new cluster (production's passwords never reach staging)`);
  io.out(`  5. Pulumi.staging.yaml: renewa:mpgClusterId ${p.inFile} → <the new cluster's id>; pulumi up -s staging`);
  if (p.inFile !== p.oldCluster) io.out(`     (staging runs on ${p.oldCluster}, not yet in the file: a refresh whose pull request is not merged; both are kept)`);
  io.out(`  6. keep the old cluster ${p.oldCluster}; the output says how to remove it once staging is confirmed`);
  for (const c of p.unsure) io.out(`  note: cluster ${c.id} (${c.name}) is an older refresh copy nothing points at; remove it by hand if unneeded.`);
}

/** Makes the scrubbed copy and re-points staging at it; returns its id. On failure staging stays where it was. */
async function refresh(deps: DataJobDeps, p: RefreshPlan): Promise<string> {
  const { io } = deps;
  const guard = createRunGuard(deps.signals, io.err);
  const file = stackFilePath(deps.workDir, "staging");
  const before = fs.readFileSync(file, "utf8");
  let staging = `staging still uses ${p.oldCluster}.`;
  try {
    const restored = await restoreInto(deps.pg, guard, { sourceId: p.prod.mpgClusterId!, backup: p.backup, name: `${PREFIX}${p.run}`, timeoutMs: RESTORE_TIMEOUT_MS, now: deps.now, log: io.out });
    const copy = restored.cluster;
    await scrub(deps, guard, p, copy);
    // Not cut by a signal: an interrupted `pulumi up` would leave staging between two clusters.
    await guard.shielded(async () => {
      try {
        await repoint(["staging", copy.id], { io, runner: deps.runner, workDir: deps.workDir });
        staging = "";
      } catch (err) {
        staging = `staging may be using ${copy.id}, which is kept.`;
        await moveBack(deps, file, before, p.oldCluster, copy.id, restored.keep, err as Error);
      }
    });
    restored.keep();
    guard.done();
    return copy.id;
  } catch (err) {
    await cleanUpRun(guard, io.out, io.err);
    if (staging) io.err(staging);
    throw err;
  }
}

/** Scrubs the copy and checks the scrub, as a user of the run's own; then new passwords for everyone on the copy. */
async function scrub(deps: DataJobDeps, guard: RunGuard, p: RefreshPlan, copy: PostgresCluster): Promise<void> {
  const { prod } = p;
  const url = await jobConnection(deps.pg, copy, SCRUB_USER, "writer");
  const job = (step: "scrub" | "verify", command: string) =>
    runJob(deps.machines, guard, { app: prod.appName, region: prod.region, image: p.image, job: JOB, run: p.run, name: `${JOB}-${step}-${p.run}`, command, env: { DATABASE_URL: url }, timeoutMs: SCRUB_TIMEOUT_MS }, deps.now);
  const scrubbed = await job("scrub", prod.scrubCommand);
  if (scrubbed.exitCode !== 0) throw new Error(`the scrub \`${prod.scrubCommand}\` failed (exit code ${scrubbed.exitCode ?? "none"}; logs: fly logs -a ${prod.appName} -i ${scrubbed.machineId}).`);
  const check = await job("verify", prod.scrubCheckCommand);
  if (check.exitCode !== 0) {
    throw new Error(`the scrub check \`${prod.scrubCheckCommand}\` found rows that still match what the scrub removes (exit code ${check.exitCode ?? "none"}; logs: fly logs -a ${prod.appName} -i ${check.machineId}). The copy is not fit for staging.`);
  }
  deps.io.out("scrubbed and checked; new passwords for the copy's users …");
  await deps.pg.deleteUser(copy.id, SCRUB_USER);
  for (const u of await deps.pg.listUsers(copy.id)) await rotate(deps, copy.id, u.username);
  guard.checkpoint();
}

/** A failed re-point: put the file back and staging on its old cluster; the new cluster goes only if that worked. */
async function moveBack(deps: DataJobDeps, file: string, before: string, oldCluster: string, newCluster: string, keep: () => void, cause: Error): Promise<never> {
  // Refused before the file was written: staging was never touched.
  if (fs.readFileSync(file, "utf8") === before) throw new Error(`re-pointing staging at ${newCluster} was refused; staging is still on ${oldCluster}: ${cause.message}`, { cause });
  fs.writeFileSync(file, before);
  try {
    await runUp(deps.runner, "staging", deps.io);
  } catch (err) {
    keep();
    throw new Error(`re-pointing staging at ${newCluster} failed (${cause.message}), and moving it back to ${oldCluster} failed too (${(err as Error).message}). Pulumi.staging.yaml is as it was; cluster ${newCluster} is KEPT because staging may be using it. Run \`pulumi up -s staging\`, then \`fly mpg destroy ${newCluster}\`.`, { cause });
  }
  throw new Error(`re-pointing staging at ${newCluster} failed; staging is back on ${oldCluster}: ${cause.message}`, { cause });
}

async function rotate(deps: DataJobDeps, cluster: string, username: string): Promise<void> {
  try {
    await deps.pg.rotatePassword(cluster, username);
  } catch (err) {
    // 400: a reserved or system user, which no app connects as.
    if (!isApiError(err, 400)) throw err;
  }
}

/**
 * Refresh clusters a killed run left: named like one, not what staging or production use, and created after
 * staging's current cluster (a finished refresh moves staging to its cluster, so a newer unused one never finished).
 * Older unused ones may be copies an earlier refresh kept on purpose: named, never removed.
 */
async function refreshLeftovers(deps: DataJobDeps, org: string, stagingCluster: string, alsoKeep: string[]) {
  const all = await deps.pg.listClusters(org);
  const since = all.find((c) => c.id === stagingCluster)?.created_at;
  const candidates = await clustersNamed(deps.pg, org, PREFIX, [stagingCluster, ...alsoKeep]);
  const remove = candidates.filter((c) => since !== undefined && (c.created_at ?? "") > since);
  return { remove, unsure: candidates.filter((c) => !remove.includes(c)) };
}

if (require.main === module) runAsMain(JOB, (argv, io: CliIo) => refreshStaging(argv, realDataJobDeps(io)));
