/**
 * The data-safety workflows, parsed as YAML: backup-verify.yml (scheduled) and refresh-staging.yml (manual) run the
 * program's commands from main only, with pinned actions, time limits and the least permissions they need.
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");
const text = (name: string) => fs.readFileSync(path.join(ROOT, ".github/workflows", name), "utf8");
const workflow = (name: string) => parse(text(name));
const FILES = ["backup-verify.yml", "refresh-staging.yml", "check-migrations.yml"];
const DEPLOYING = ["backup-verify.yml", "refresh-staging.yml"];

const caller = (name: string) => parse(fs.readFileSync(path.join(ROOT, "app-repo/.github/workflows", name), "utf8"));

describe("data-safety workflows", () => {
  it("pin every action by commit SHA with its version in a comment, and are read-only at the top", () => {
    for (const file of FILES) {
      const uses = [...text(file).matchAll(/^\s*(?:-\s*)?uses:\s*(\S+)(.*)$/gm)];
      expect(uses.length, file).toBeGreaterThan(0);
      for (const m of uses) {
        if (m[1].startsWith("./")) continue;
        expect(m[1], file).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
        expect(m[2], file).toMatch(/^\s+# v\d+\.\d+\.\d+$/);
      }
      expect(workflow(file).permissions, file).toEqual({ contents: "read" });
    }
  });

  it("are reusable workflows renewa-one calls, run only from main, with a time limit, and never flyctl", () => {
    for (const file of DEPLOYING) {
      expect(Object.keys(workflow(file).on), file).toEqual(["workflow_call"]);
      expect(caller(file).jobs[Object.keys(caller(file).jobs)[0]].uses).toBe(`renewa/renewa-platform/.github/workflows/${file}@main`);
      for (const [name, job] of Object.entries<any>(workflow(file).jobs)) {
        expect(job.if, `${file} ${name}`).toContain("github.ref == 'refs/heads/main'");
        expect(job["timeout-minutes"], `${file} ${name}`).toBeGreaterThan(0);
        const command = job.steps.find((s: any) => /npm run (verify-backup|refresh-staging)/.test(s.run ?? ""));
        expect(command.env.FLY_API_TOKEN).toBe("${{ secrets.FLY_API_TOKEN }}");
        // GitHub is reached with the job's App token, never the workflow's GITHUB_TOKEN.
        expect(command.env.GITHUB_TOKEN).toBe("${{ steps.github-token.outputs.token }}");
      }
      expect(text(file)).not.toMatch(/\bfly(ctl)?\s+(deploy|secrets|mpg)/);
    }
  });

  it("backup-verify: nightly in renewa-one, every long-lived stack one job each, in a reviewer-less environment", () => {
    const call = caller("backup-verify.yml");
    expect(call.on.schedule).toEqual([{ cron: "30 3 * * *" }]);
    expect(call.on.workflow_dispatch.inputs.stack.options).toEqual(["all", "development", "staging", "production"]);
    const job = workflow("backup-verify.yml").jobs.verify;
    expect(job.strategy.matrix.stack).toContain(`fromJSON('["production","staging","development"]')`);
    expect(job.strategy["fail-fast"]).toBe(false);
    expect(job.permissions).toEqual({ contents: "read", "id-token": "write" });
    expect(job.environment).toBe("backup-verify");
    const token = job.steps.find((s: any) => s.id === "github-token");
    expect(token.with).toMatchObject({ "permission-contents": "read", "permission-issues": "write" });
    expect(job.steps.map((s: any) => s.run).filter(Boolean).join("\n")).toContain('npm run verify-backup -- "$STACK"');
  });

  it("refresh-staging: by hand in renewa-one, in staging's environment, one deploy of staging at a time; the cluster id change is shown to commit", () => {
    expect(Object.keys(caller("refresh-staging.yml").on)).toEqual(["workflow_dispatch"]);
    const job = workflow("refresh-staging.yml").jobs.refresh;
    expect(job.environment).toBe("staging");
    expect(job.concurrency).toEqual({ group: "pulumi-staging", "cancel-in-progress": false });
    expect(job.permissions).toEqual({ contents: "read", "id-token": "write" });
    const runs = job.steps.map((s: any) => s.run ?? "");
    expect(runs.join("\n")).toContain('npm run refresh-staging -- --yes ${BACKUP_ID:+--backup "$BACKUP_ID"}');
    expect(runs.join("\n")).toContain("git diff -- Pulumi.staging.yaml");
    expect(runs.join("\n")).not.toMatch(/git push|gh pr create/);
  });

  it("check-migrations.yml is called by the app repository, reads only, and runs this project's main", () => {
    const wf = workflow("check-migrations.yml");
    expect(Object.keys(wf.on)).toEqual(["workflow_call"]);
    expect(Object.keys(caller("check-migrations.yml").on).sort()).toEqual(["merge_group", "pull_request"]);
    expect(wf.on.workflow_call.inputs["migrations-path"]).toMatchObject({ type: "string", default: "migrations" });
    const job = wf.jobs.n1;
    expect(job.permissions).toEqual({ contents: "read" });
    expect(job["timeout-minutes"]).toBeGreaterThan(0);
    expect(job.env.FLY_API_TOKEN).toBeUndefined();
    const platform = job.steps.find((s: any) => s.with?.repository === "renewa/renewa-platform");
    expect(platform.with.ref).toBe("main");
    const check = job.steps.find((s: any) => s.name === "N-1 check");
    expect(check.run).toContain('npm run --silent check-migrations -- "../app/$MIGRATIONS" --base "../base/$MIGRATIONS"');
    expect(check.run).toContain("::error file=");
  });
});
