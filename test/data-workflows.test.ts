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

describe("data-safety workflows", () => {
  it("pin every action by commit SHA with its version in a comment, and start with no permissions", () => {
    for (const file of FILES) {
      const uses = [...text(file).matchAll(/^\s*(?:-\s*)?uses:\s*(\S+)(.*)$/gm)];
      expect(uses.length, file).toBeGreaterThan(0);
      for (const m of uses) {
        if (m[1].startsWith("./")) continue;
        expect(m[1], file).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
        expect(m[2], file).toMatch(/^\s+# v\d+\.\d+\.\d+$/);
      }
      expect(workflow(file).permissions, file).toEqual({});
    }
  });

  it("run only from main, with a time limit, and never flyctl", () => {
    for (const file of DEPLOYING) {
      for (const [name, job] of Object.entries<any>(workflow(file).jobs)) {
        expect(job.if, `${file} ${name}`).toContain("github.ref == 'refs/heads/main'");
        expect(job["timeout-minutes"], `${file} ${name}`).toBeGreaterThan(0);
        expect(job.env.FLY_API_TOKEN).toBe("${{ secrets.FLY_API_TOKEN }}");
      }
      expect(text(file)).not.toMatch(/\bfly(ctl)?\s+(deploy|secrets|mpg)/);
    }
  });

  it("backup-verify.yml verifies every long-lived stack nightly, one job each, and may only write issues", () => {
    const wf = workflow("backup-verify.yml");
    expect(wf.on.schedule).toEqual([{ cron: "30 3 * * *" }]);
    expect(wf.on.workflow_dispatch.inputs.stack.options).toEqual(["all", "development", "staging", "production"]);
    const job = wf.jobs.verify;
    expect(job.strategy.matrix.stack).toContain(`fromJSON('["production","staging","development"]')`);
    expect(job.strategy["fail-fast"]).toBe(false);
    expect(job.permissions).toEqual({ contents: "read", "id-token": "write", issues: "write" });
    expect(job.environment).toBeUndefined();
    expect(job.steps.map((s: any) => s.run).filter(Boolean)).toEqual(['npm run verify-backup -- "$STACK"']);
  });

  it("refresh-staging.yml deploys staging as one of its deploys and keeps the new cluster id through a PR", () => {
    const wf = workflow("refresh-staging.yml");
    expect(Object.keys(wf.on)).toEqual(["workflow_dispatch"]);
    const job = wf.jobs.refresh;
    expect(job.environment).toBe("staging");
    expect(job.concurrency).toEqual({ group: "deploy-staging", "cancel-in-progress": false });
    expect(job.permissions).toEqual({ contents: "write", "pull-requests": "write", "id-token": "write", issues: "write" });
    const runs = job.steps.map((s: any) => s.run ?? "");
    expect(runs).toContain('npm run refresh-staging -- --yes ${BACKUP_ID:+--backup "$BACKUP_ID"}');
    const keep = runs.find((r: string) => r.includes("gh pr create"));
    expect(keep).toContain("-- Pulumi.staging.yaml");
    expect(runs.indexOf(keep)).toBeGreaterThan(runs.findIndex((r: string) => r.startsWith("npm run refresh-staging")));
  });

  it("check-migrations.yml is called by the app repository, reads only, and runs this project's main", () => {
    const wf = workflow("check-migrations.yml");
    expect(Object.keys(wf.on)).toEqual(["workflow_call"]);
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
