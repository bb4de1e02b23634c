/**
 * The backup-verification result as a GitHub issue of its own, against the issues fake: labels created once,
 * PASS/FAIL in the title, what was restored, how long it took, what was checked and why it failed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { actionsRunUrl, describeCheckExit, reportVerification } from "../src/data-jobs/backup-report";
import { GithubIssuesFake, createGithubIssuesFake } from "./fakes/github-issues";

const TOKEN = "ghs_backup-report-token";
let github: GithubIssuesFake;
beforeAll(async () => {
  github = await createGithubIssuesFake({ token: TOKEN });
  process.env.GITHUB_TOKEN = TOKEN;
  process.env.GITHUB_API_URL = github.fake.url;
});
afterAll(async () => {
  delete process.env.GITHUB_TOKEN;
  delete process.env.GITHUB_API_URL;
  await github.stop();
});

const base = { stack: "production", sourceCluster: "renewa-production-mpg", backupId: "bk-9", backupFinishedAt: "2026-06-05T01:10:00Z", checked: ["the database answers", "schema at 007_orders.sql"] };

describe("backup verification report", () => {
  it("writes a labelled issue per run, PASS and FAIL alike", async () => {
    const repo = { owner: "renewa", repository: "renewa-one" };
    const url = await reportVerification(repo, { ...base, scratchCluster: "renewa-production-mpg-r4", restoreSeconds: 412, passed: true, runUrl: "https://github.com/renewa/renewa-platform/actions/runs/7" });
    expect(url).toMatch(/\/issues\/1$/);
    await reportVerification(repo, { ...base, passed: false, failure: "backup bk-9 of cluster renewa-production-mpg failed to restore: 400 corrupt" });
    const [pass, fail] = github.issues;
    expect(pass.title).toBe("Backup verification production: PASS (backup bk-9)");
    expect(pass.labels).toEqual(["backup-verification", "env:production"]);
    expect(pass.body).toContain("| Restore time | 412 s |");
    expect(pass.body).toContain("| Scratch cluster (destroyed) | `renewa-production-mpg-r4` |");
    expect(pass.body).toContain("- schema at 007_orders.sql");
    expect(pass.body).toContain("| Run | https://github.com/renewa/renewa-platform/actions/runs/7 |");
    expect(fail.title).toBe("Backup verification production: FAIL (backup bk-9)");
    expect(fail.body).toContain("| Result | **fail**: backup bk-9 of cluster renewa-production-mpg failed to restore: 400 corrupt |");
    expect(fail.body).toContain("| Scratch cluster (destroyed) | none (restore did not start) |");
    expect([...github.labels.keys()].sort()).toEqual(["backup-verification", "env:production"]);
  });

  it("names the check command's exit codes, and the Actions run from its variables", () => {
    expect(describeCheckExit(4)).toMatch(/row counts are implausible/);
    expect(describeCheckExit(9)).toBe("the check failed (exit code 9)");
    expect(describeCheckExit(undefined)).toBe("the check machine ended without an exit event");
    expect(actionsRunUrl({ GITHUB_SERVER_URL: "https://github.com", GITHUB_REPOSITORY: "renewa/renewa-platform", GITHUB_RUN_ID: "7" })).toBe("https://github.com/renewa/renewa-platform/actions/runs/7");
    expect(actionsRunUrl({})).toBeUndefined();
  });
});
