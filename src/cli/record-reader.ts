/**
 * Reads deployment records back from GitHub for the rollback command, behind an interface so tests use a fake.
 */
import { RepoRef, listIssuesByLabel } from "../clients/github-issues";
import { DeploymentRecordData, RECORD_LABEL, environmentLabel, parseRecord } from "../deployment-record-format";

export interface RecordListing {
  /** Records of the stack, newest release first. */
  records: Array<DeploymentRecordData & { issueNumber: number; issueUrl: string }>;
  /** Issues labelled as records whose block could not be read: shown to the operator, never used. */
  unreadable: Array<{ issueNumber: number; reason: string }>;
}

export interface RecordReader {
  list(stack: string): Promise<RecordListing>;
}

/** Records from the repository's `deployment-record` + `env:<stack>` issues (GITHUB_TOKEN from the environment). */
export function githubRecordReader(repo: RepoRef): RecordReader {
  return {
    async list(stack) {
      // Every page: an environment's oldest known-good digest may be behind hundreds of newer records.
      const issues = await listIssuesByLabel(repo, [RECORD_LABEL, environmentLabel(stack)]);
      const listing: RecordListing = { records: [], unreadable: [] };
      for (const issue of issues) {
        try {
          const record = parseRecord(issue.body);
          // PR stacks share one environment label; keep only this stack's records.
          if (record && record.stack === stack) listing.records.push({ ...record, issueNumber: issue.number, issueUrl: issue.html_url });
        } catch (err) {
          listing.unreadable.push({ issueNumber: issue.number, reason: (err as Error).message });
        }
      }
      listing.records.sort((a, b) => b.releaseVersion - a.releaseVersion);
      return listing;
    },
  };
}
