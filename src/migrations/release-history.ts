/**
 * The release history the program hands ImagePromotion for its contract-migration guard: this stack's deployment
 * records, read from GitHub (GITHUB_TOKEN at call time) only when `renewa:imageDigest` pins a digest on staging or
 * production, the one case where an `up` can go back to an older image. Development's pin is the new build.
 */
import * as pulumi from "@pulumi/pulumi";
import { githubRecordReader } from "../cli/record-reader";
import type { PlatformConfig } from "../config";
import type { ReleaseHistoryEntry } from "./rollback-safety";

export async function loadReleaseHistory(cfg: PlatformConfig): Promise<ReleaseHistoryEntry[] | undefined> {
  if (!cfg.imageDigest || (cfg.kind !== "staging" && cfg.kind !== "production")) return undefined;
  if (!process.env.GITHUB_TOKEN) {
    // As with writing records: without a token the records cannot be read (offline synth, a local run without one).
    // `npm run rollback` reads them itself and refuses without them; a bare `up` warns instead of guessing.
    await pulumi.log.warn(
      `stack ${cfg.stack}: renewa:imageDigest pins ${cfg.imageDigest}, but GITHUB_TOKEN is not set, so the deployment records cannot say whether contract migrations ran since it was released. The contract-migration guard is skipped for this run.`,
    );
    return undefined;
  }
  try {
    return (await githubRecordReader({ owner: cfg.githubOwner, repository: cfg.githubRepository }).list(cfg.stack)).records;
  } catch (err) {
    throw new Error(
      `stack ${cfg.stack}: renewa:imageDigest pins ${cfg.imageDigest}, and the deployment records in ${cfg.githubOwner}/${cfg.githubRepository} that say whether contract migrations ran since it was released cannot be read: ${(err as Error).message} Export a GITHUB_TOKEN that can read issues and run again.`,
      { cause: err },
    );
  }
}
