/**
 * `npm run refresh-staging [--backup <id>] [--yes]`: staging on a fresh, scrubbed copy of production's data.
 * Restores production's latest backup into a NEW cluster in production's organization, scrubs personal data in a
 * temporary machine running the image's scrub command, checks the scrub, gives every user of the copy a new password,
 * then re-points staging at it through Path B (`npm run repoint`'s stack-file edit and `pulumi up`). A failure at any
 * step leaves staging on its old cluster and removes what the run created; the old cluster is kept and named.
 */
import * as fs from "fs";
import { isApiError } from "../clients/http";
import { jobLeftovers, runJob } from "../data-jobs/job-machine";
import { cleanUpRun, leftoverPlan, removeLeftovers } from "../data-jobs/leftovers";
import { clustersNamed, jobConnection, pickBackup, restoreInto, runStamp } from "../data-jobs/restored-cluster";
import { createRunGuard } from "../data-jobs/run-guard";
import { CliIo, CommandSpec, UsageError, confirm, expectPositionals, formatHelp, parseCommand, runAsMain } from "./args";
import { runUp } from "./promote";
import { repoint } from "./repoint";
import { stackFilePath, readStackConfig } from "./stack-file";
import { DataJobDeps, realDataJobDeps } from "./verify-backup";

const JOB = "refresh-staging";
const PREFIX = "renewa-staging-refresh-";
const RESTORE_TIMEOUT_MS = 60 * 60_000;
const SCRUB_TIMEOUT_MS = 60 * 60_000;

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

export async function refreshStaging(argv: string[], deps: DataJobDeps): Promise<number> {
  const { io, pg, machines } = deps;
  const parsed = parseCommand(REFRESH_STAGING, argv);
  if (parsed.help) {
    io.out(formatHelp(REFRESH_STAGING));
    return 0;
  }
  expectPositionals(REFRESH_STAGING, parsed);
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
  const backup = await pickBackup(pg, prod.mpgClusterId!, parsed.values.backup as string | undefined);
  const run = runStamp(deps.now());
  const name = `${PREFIX}${run}`;
  const { remove, unsure } = await refreshLeftovers(deps, prod.org, oldCluster, [inFile, prod.mpgClusterId!]);
  const leftovers = { app: prod.appName, clusters: remove, machines: await jobLeftovers(machines, prod.appName, JOB) };

  io.out(`Staging data refresh plan (production's data stays in org ${prod.org}: its clusters and the scrub machine)`);
  io.out(`  backup: ${backup.id} (${backup.type ?? "?"}, finished ${backup.finished_at ?? "?"}) of production's cluster ${prod.mpgClusterId}`);
  for (const line of leftoverPlan(leftovers)) io.out(line);
  io.out(`  1. restore it into a NEW cluster ${name} (org ${prod.org}, ${prod.region})`);
  io.out(`  2. machine ${JOB}-scrub-${run} in app ${prod.appName}, image ${image}, without app secrets: \`${prod.scrubCommand}\``);
  io.out(`  3. machine ${JOB}-verify-${run}, same image: \`${prod.scrubCheckCommand}\` (must find no row matching what the scrub removes)`);
  io.out(`  4. new passwords for every user of the new cluster (production's passwords never reach staging)`);
  io.out(`  5. Pulumi.staging.yaml: renewa:mpgClusterId ${inFile} → <the new cluster's id>; pulumi up -s staging`);
  if (inFile !== oldCluster) io.out(`     (staging runs on ${oldCluster}, not yet in the file: a refresh whose pull request is not merged; both are kept)`);
  io.out(`  6. keep the old cluster ${oldCluster}; the output says how to remove it once staging is confirmed`);
  for (const c of unsure) io.out(`  note: cluster ${c.id} (${c.name}) is an older refresh copy nothing points at; remove it by hand if unneeded.`);
  if (parsed.dryRun) {
    io.out("Dry run: nothing was changed.");
    return 0;
  }
  if (!parsed.values.yes && !(await confirm(io, `Replace staging's data with a scrubbed copy of production backup ${backup.id}?`, "staging"))) {
    io.out("Aborted: nothing was changed.");
    return 1;
  }

  await removeLeftovers(pg, machines, leftovers);
  const guard = createRunGuard(deps.signals, io.err);
  const file = stackFilePath(deps.workDir, "staging");
  const before = fs.readFileSync(file, "utf8");
  let repointed = false;
  let newCluster = "";
  try {
    const restored = await restoreInto(pg, guard, { sourceId: prod.mpgClusterId!, backup, name, timeoutMs: RESTORE_TIMEOUT_MS, now: deps.now, log: io.out });
    const copy = restored.cluster;
    newCluster = copy.id;
    const url = await jobConnection(pg, copy, "renewa-scrub", "writer");
    const job = (step: "scrub" | "verify", command: string) =>
      runJob(machines, guard, { app: prod.appName, region: prod.region, image, job: JOB, run, name: `${JOB}-${step}-${run}`, command, env: { DATABASE_URL: url }, timeoutMs: SCRUB_TIMEOUT_MS }, deps.now);
    const scrub = await job("scrub", prod.scrubCommand);
    if (scrub.exitCode !== 0) throw new Error(`the scrub \`${prod.scrubCommand}\` failed (exit code ${scrub.exitCode ?? "none"}; logs: fly logs -a ${prod.appName} -i ${scrub.machineId}).`);
    const check = await job("verify", prod.scrubCheckCommand);
    if (check.exitCode !== 0) {
      throw new Error(`the scrub check \`${prod.scrubCheckCommand}\` found rows that still match what the scrub removes (exit code ${check.exitCode ?? "none"}; logs: fly logs -a ${prod.appName} -i ${check.machineId}). The copy is not fit for staging.`);
    }
    io.out("scrubbed and checked; new passwords for the copy's users …");
    await pg.deleteUser(copy.id, "renewa-scrub");
    for (const u of await pg.listUsers(copy.id)) await rotate(deps, copy.id, u.username);
    guard.checkpoint();

    // Not cut by a signal: an interrupted `pulumi up` would leave staging between two clusters.
    await guard.shielded(async () => {
      try {
        await repoint(["staging", copy.id], { io, runner: deps.runner, workDir: deps.workDir });
        repointed = true;
      } catch (err) {
        await moveBack(deps, file, before, oldCluster, copy.id, restored.keep, err as Error);
      }
    });
    restored.keep();
  } catch (err) {
    await cleanUpRun(guard, io.out, io.err);
    if (!repointed) io.err(`staging still uses ${oldCluster}.`);
    throw err;
  }
  guard.done();
  io.out(`Staging now runs on a scrubbed copy of production backup ${backup.id}: cluster ${newCluster}.`);
  io.out(`The previous staging cluster ${oldCluster} is kept. Once staging is confirmed, remove it: fly mpg destroy ${oldCluster}`);
  return 0;
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
    throw new Error(`re-pointing staging at ${newCluster} failed (${cause.message}), and moving it back to ${oldCluster} failed too (${(err as Error).message}). Pulumi.staging.yaml names ${oldCluster} again; cluster ${newCluster} is KEPT because staging may be using it. Run \`pulumi up -s staging\`, then \`fly mpg destroy ${newCluster}\`.`, { cause });
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
