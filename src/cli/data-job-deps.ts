/**
 * What the data-job commands (verify-backup, refresh-staging) work with, as parameters so tests drive them with the
 * fakes: the stack runner and files, deployment records, the MPG and Machines clients, where results are recorded,
 * the clock and the signals that interrupt a run.
 */
import { FlyMachinesClient, createFlyMachinesClient } from "../clients/fly-machines";
import { createFlyPostgresClient } from "../clients/fly-postgres";
import { PlatformConfig } from "../config";
import { VerificationResult, reportVerification } from "../data-jobs/backup-report";
import { FlyPostgresClient } from "../data-jobs/restored-cluster";
import { SignalSource } from "../data-jobs/run-guard";
import { CliIo } from "./args";
import { RecordReader, githubRecordReader } from "./record-reader";
import { StackRunner, createLocalStackRunner } from "./stack-runner";

export interface DataJobDeps {
  io: CliIo;
  runner: StackRunner;
  workDir: string;
  records: (cfg: PlatformConfig) => RecordReader;
  pg: FlyPostgresClient;
  machines: FlyMachinesClient;
  /** Records a verification result where the team looks; returns where. */
  report: (cfg: PlatformConfig, result: VerificationResult) => Promise<string>;
  now: () => number;
  /** Where SIGINT/SIGTERM come from (the process). */
  signals?: SignalSource;
}

/** The real collaborators: clients on the environment's credentials, records and reports on GitHub. */
export function realDataJobDeps(io: CliIo): DataJobDeps {
  return {
    io,
    runner: createLocalStackRunner(process.cwd()),
    workDir: process.cwd(),
    records: (cfg) => githubRecordReader({ owner: cfg.githubOwner, repository: cfg.githubRepository }),
    pg: createFlyPostgresClient(),
    machines: createFlyMachinesClient(),
    report: (cfg, result) => reportVerification({ owner: cfg.githubOwner, repository: cfg.githubRepository }, result),
    now: Date.now,
    signals: process,
  };
}
