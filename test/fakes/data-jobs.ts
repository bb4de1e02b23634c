/**
 * The data-job commands' test bed: one server with the MPG fake and the Machines fake (job machines exit with the
 * code `jobs.exit` chooses), clients on it with Fly time scaled down, a FakeStackRunner with the stacks' outputs,
 * in-memory deployment records and a report sink. Signals come from an EventEmitter the test fires.
 */
import { EventEmitter } from "events";
import { createFlyMachinesClient } from "../../src/clients/fly-machines";
import { createFlyPostgresClient } from "../../src/clients/fly-postgres";
import type { DataJobDeps } from "../../src/cli/data-job-deps";
import type { VerificationResult } from "../../src/data-jobs/backup-report";
import type { DeploymentRecordData } from "../../src/deployment-record-format";
import { FlyMachinesFake, createFlyMachinesFake } from "./fly-machines";
import { FlyPostgresState, createFlyPostgresFake } from "./fly-postgres";
import { HttpFake } from "./http-fake";
import { FakeStackRunner, recordingIo } from "./stack-runner";
import { tempProject } from "../fixtures/stack-files";

export const TOKEN = "fm2_data-jobs-test-token";
export const PROD_IMAGE = `registry.fly.io/renewa-app-development@sha256:${"e".repeat(64)}`;
export const STAGING_IMAGE = `registry.fly.io/renewa-app-development@sha256:${"d".repeat(64)}`;

export interface DataJobBed {
  fake: HttpFake;
  pgState: FlyPostgresState;
  fly: FlyMachinesFake;
  /** Decides each job machine's exit code from its config; undefined never exits (a job that hangs). */
  jobs: { exit: (config: any) => number | undefined; configs: any[] };
  stop(): Promise<void>;
}

export async function startDataJobBed(): Promise<DataJobBed> {
  const { fake, state: pgState } = await createFlyPostgresFake({ authorization: `FlyV1 ${TOKEN}`, backupPolls: 1, restorePolls: 2 });
  const jobs: DataJobBed["jobs"] = { exit: () => 0, configs: [] };
  const fly = await createFlyMachinesFake({
    fake,
    secondMs: 5,
    releaseCommandMs: 5,
    jobExitCode: (config) => {
      if (!config?.metadata?.renewa_job) return undefined;
      jobs.configs.push(config);
      return jobs.exit(config);
    },
  });
  process.env.FLY_API_TOKEN = TOKEN;
  process.env.FLY_MACHINES_API_URL = fake.url;
  return { fake, pgState, fly, jobs, stop: () => fly.stop() };
}

/** Fresh state: the three stacks' clusters (production's with one completed backup) and apps, no faults. */
export function resetBed(bed: DataJobBed): void {
  bed.fake.clearFaults();
  bed.fake.log.length = 0;
  bed.pgState.clusters.clear();
  bed.pgState.restoreOutcome = "ready";
  bed.fly.state.apps.clear();
  bed.jobs.exit = () => 0;
  bed.jobs.configs.length = 0;
  for (const env of ["development", "staging", "production"]) {
    const c = bed.pgState.addCluster({ id: `renewa-${env}-mpg` });
    c.backups.push({ id: `bk-${env}-1`, type: "full", status: "completed", started_at: "2026-06-05T01:00:00.000Z", finished_at: "2026-06-05T01:10:00.000Z", pollsLeft: 0 });
    bed.fly.addApp(`renewa-app-${env}`);
  }
}

export function dataJobDeps(bed: DataJobBed, records: DeploymentRecordData[] = []) {
  const runner = new FakeStackRunner({
    staging: { outputs: { imageRef: STAGING_IMAGE, imageDigest: `sha256:${"d".repeat(64)}` } },
    production: { outputs: { imageRef: PROD_IMAGE, imageDigest: `sha256:${"e".repeat(64)}` } },
  });
  const out = recordingIo();
  const reports: VerificationResult[] = [];
  const signals = new EventEmitter();
  const deps: DataJobDeps = {
    io: out.io,
    runner,
    workDir: tempProject(),
    records: () => ({ list: async () => ({ records: records as Array<DeploymentRecordData & { issueNumber: number; issueUrl: string }>, unreadable: [] }) }),
    pg: createFlyPostgresClient({ timeScale: 0.001 }),
    machines: createFlyMachinesClient({ baseUrl: bed.fake.url, timeScale: 0.001 }),
    report: async (_cfg, result) => (reports.push(result), `https://github.com/renewa/renewa-one/issues/${reports.length}`),
    now: Date.now,
    signals,
  };
  return { deps, runner, out, reports, signals };
}
