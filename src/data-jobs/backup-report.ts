/**
 * The result of a backup verification, as a GitHub issue of its own next to the deployment records (labels
 * `backup-verification` and `env:<stack>`), so a failed restore is as visible as a deploy. Also the contract of the
 * check command that comes with the image: its exit codes.
 */
import { RepoRef, createIssue, ensureLabel } from "../clients/github-issues";
import { environmentLabel } from "../deployment-record-format";

export const VERIFICATION_LABEL = "backup-verification";

/** What the image's check command (`renewa:dataCheckCommand`) answers with its exit code. */
export const CHECK_EXIT_CODES: Record<number, string> = {
  0: "passed",
  2: "the database did not answer",
  3: "the schema is not at the expected migration",
  4: "row counts are implausible (a table that matters has fewer rows than configured)",
};

export function describeCheckExit(code: number | undefined): string {
  if (code === undefined) return "the check machine ended without an exit event";
  return CHECK_EXIT_CODES[code] ?? `the check failed (exit code ${code})`;
}

export interface VerificationResult {
  stack: string;
  sourceCluster: string;
  backupId: string;
  backupFinishedAt?: string;
  scratchCluster?: string;
  restoreSeconds?: number;
  /** One line per thing checked. */
  checked: string[];
  passed: boolean;
  /** Why it failed. */
  failure?: string;
  /** Where the run can be seen (the workflow run), if known. */
  runUrl?: string;
  /** What the run created but could not remove; the next run removes it. */
  notRemoved?: string[];
}

export function formatVerification(r: VerificationResult): { title: string; body: string } {
  const row = (k: string, v: string) => `| ${k} | ${v} |`;
  return {
    title: `Backup verification ${r.stack}: ${r.passed ? "PASS" : "FAIL"} (backup ${r.backupId})`,
    body: [
      `Backup \`${r.backupId}\` of \`${r.sourceCluster}\` (stack \`${r.stack}\`) **${r.passed ? "restored and passed its checks" : "FAILED"}**.`,
      "",
      "| Field | Value |",
      "|---|---|",
      row("Stack", `\`${r.stack}\``),
      row("Source cluster (untouched)", `\`${r.sourceCluster}\``),
      row("Backup", `\`${r.backupId}\`${r.backupFinishedAt ? ` (finished ${r.backupFinishedAt})` : ""}`),
      row("Scratch cluster (destroyed)", r.scratchCluster ? `\`${r.scratchCluster}\`` : "none (restore did not start)"),
      row("Restore time", r.restoreSeconds === undefined ? "n/a" : `${r.restoreSeconds} s`),
      row("Result", r.passed ? "pass" : `**fail**: ${r.failure ?? "unknown"}`),
      ...(r.runUrl ? [row("Run", r.runUrl)] : []),
      ...(r.notRemoved?.length ? [row("Not removed (the next run removes it)", r.notRemoved.join("; "))] : []),
      "",
      "Checked:",
      ...r.checked.map((c) => `- ${c}`),
      "",
      "Written by `npm run verify-backup`.",
    ].join("\n"),
  };
}

/** Records the result; returns the issue's URL. GITHUB_TOKEN (issues: write) is read at call time. */
export async function reportVerification(repo: RepoRef, r: VerificationResult): Promise<string> {
  const env = environmentLabel(r.stack);
  await ensureLabel(repo, { name: VERIFICATION_LABEL, color: "0e8a16", description: "Result of a restore test of an MPG backup" });
  await ensureLabel(repo, { name: env, color: "c5def5", description: `Deployment records of ${env.slice(4)}` });
  const issue = await createIssue(repo, { ...formatVerification(r), labels: [VERIFICATION_LABEL, env] });
  return issue.html_url;
}

/** The GitHub Actions run, from the variables Actions sets. */
export function actionsRunUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: id } = env;
  return server && repo && id ? `${server}/${repo}/actions/runs/${id}` : undefined;
}
