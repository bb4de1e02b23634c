/**
 * The GitHub Actions workflows, parsed as YAML: triggers, inputs, permissions, the ci-gate wiring, and that jobs run
 * the program's own commands rather than flyctl.
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { PROMOTION_PATHS } from "../src/promotion";

const ROOT = path.resolve(__dirname, "..");
const load = (file: string) => parse(fs.readFileSync(path.join(ROOT, file), "utf8"));
const workflow = (name: string) => load(`.github/workflows/${name}`);
const WORKFLOWS = ["preview.yml", "deploy-development.yml", "promote-image.yml", "pr-preview.yml", "pr-cleanup.yml"];

type Step = { name?: string; if?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> };
type Job = { steps?: Step[]; permissions?: Record<string, string>; needs?: string | string[]; if?: string; environment?: unknown; env?: Record<string, string> };
const jobs = (wf: { jobs: Record<string, Job> }) => Object.entries(wf.jobs);
const runs = (job: Job) => (job.steps ?? []).map((s) => s.run ?? "").join("\n");
const usesSetup = (job: Job) => (job.steps ?? []).some((s) => s.uses === "./.github/actions/platform-setup");

describe("workflows", () => {
  it("preview.yml previews every long-lived stack on each PR and posts the summary on the PR", () => {
    const wf = workflow("preview.yml");
    expect(Object.keys(wf.on)).toEqual(["pull_request"]);
    const preview = wf.jobs.preview as Job & { strategy: { matrix: { stack: string[] } } };
    expect(preview.strategy.matrix.stack).toEqual(["development", "staging", "production"]);
    const step = preview.steps!.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
    expect(step.with).toMatchObject({ command: "preview", "stack-name": "${{ matrix.stack }}", "comment-on-pr": true });
    expect(preview.permissions).toMatchObject({ "id-token": "write", "pull-requests": "write" });
    expect(runs(wf.jobs.test)).toMatch(/npm run typecheck[\s\S]*npm test/);
  });

  it("ci-gate needs every other job, always runs, and fails unless each passed or was skipped", () => {
    const wf = workflow("preview.yml");
    const gate = wf.jobs["ci-gate"] as Job;
    const others = Object.keys(wf.jobs).filter((j) => j !== "ci-gate");
    expect([...(gate.needs as string[])].sort()).toEqual(others.sort());
    expect(gate.if).toBe("always()");
    expect(gate.steps![0].env!.RESULTS).toBe("${{ join(needs.*.result, ' ') }}");
    expect(runs(gate)).toMatch(/success\|skipped\) ;;/);
    expect(runs(gate)).toMatch(/exit 1/);
  });

  it("deploy-development.yml deploys the digest CI built to development on push to main", () => {
    const wf = workflow("deploy-development.yml");
    expect(wf.on.push).toEqual({ branches: ["main"] });
    expect(wf.jobs.build.steps.find((s: Step) => s.uses?.startsWith("docker/build-push-action@")).with.push).toBe(true);
    const deploy = wf.jobs.deploy as Job;
    expect(deploy.needs).toBe("build");
    expect(deploy.env!.DIGEST).toContain("needs.build.outputs.digest");
    expect(runs(deploy)).toContain('pulumi config set renewa:imageDigest "$DIGEST" --stack development');
    expect(runs(deploy)).toMatch(/pulumi up --yes .*--stack development/);
    expect(deploy.permissions).toMatchObject({ "id-token": "write", issues: "write" });
  });

  it("promote-image.yml takes promotion_path and an optional digest, and runs npm run promote in the target's environment", () => {
    const wf = workflow("promote-image.yml");
    const inputs = wf.on.workflow_dispatch.inputs;
    expect(inputs.promotion_path).toMatchObject({ type: "choice", required: true, options: [...PROMOTION_PATHS] });
    expect(inputs.image_digest).toMatchObject({ type: "string", required: false });
    const promote = wf.jobs.promote as Job;
    expect(promote.environment).toBe("${{ needs.plan.outputs.to }}");
    expect(runs(promote)).toContain('npm run promote -- "$FROM" "$TO" ${IMAGE_DIGEST:+--digest "$IMAGE_DIGEST"}');
    expect(runs(wf.jobs.plan)).toContain("--dry-run");
    // The plan job maps exactly the workflow's choices to stacks.
    for (const p of PROMOTION_PATHS) expect(runs(wf.jobs.plan)).toContain(`"${p}")`);
    expect(promote.permissions).toMatchObject({ "id-token": "write", issues: "write" });
  });

  it("pr-preview.yml and pr-cleanup.yml run preview-env up/destroy for the PR number", () => {
    const up = workflow("pr-preview.yml");
    expect(up.on.pull_request.types).toEqual(["opened", "synchronize", "reopened"]);
    expect(runs(up.jobs.deploy)).toContain('npm run preview-env -- up "$PR_NUMBER" --digest "$DIGEST"');
    const down = workflow("pr-cleanup.yml");
    expect(down.on.pull_request.types).toEqual(["closed"]);
    expect(runs(down.jobs.cleanup)).toContain('npm run preview-env -- destroy "$PR_NUMBER"');
    // One concurrency group per PR across both, so a cleanup never races a deploy.
    expect(up.concurrency.group).toBe(down.concurrency.group);
    expect(down.concurrency["cancel-in-progress"]).toBe(false);
  });

  it("every job that runs the program logs in to Infisical with OIDC and gets credentials from secrets", () => {
    const setup = load(".github/actions/platform-setup/action.yml");
    const login = setup.runs.steps.find((s: Step) => s.run?.includes("oidc-auth/login"));
    expect(setup.inputs["infisical-domain"].default).toBe("https://eu.infisical.com");
    expect(login.run).toContain("ACTIONS_ID_TOKEN_REQUEST_URL");
    expect(login.run).toContain("::add-mask::");
    for (const file of WORKFLOWS) {
      const wf = workflow(file);
      expect(wf.env.PULUMI_ACCESS_TOKEN, file).toBe("${{ secrets.PULUMI_ACCESS_TOKEN }}");
      expect(wf.env.PULUMI_BACKEND_URL, file).toBe("${{ vars.PULUMI_BACKEND_URL }}");
      for (const [name, job] of jobs(wf).filter(([, j]) => usesSetup(j))) {
        expect(job.permissions?.["id-token"], `${file} ${name}`).toBe("write");
        // A plan-only job (dry run) reads stack outputs and gets no deploy credentials.
        if (/--dry-run/.test(runs(job))) {
          expect(job.env?.FLY_API_TOKEN, `${file} ${name}`).toBeUndefined();
          continue;
        }
        expect(job.env?.FLY_API_TOKEN ?? wf.env.FLY_API_TOKEN, `${file} ${name}`).toBe("${{ secrets.FLY_API_TOKEN }}");
        expect(job.env?.GITHUB_TOKEN ?? wf.env.GITHUB_TOKEN, `${file} ${name}`).toBe("${{ secrets.GITHUB_TOKEN }}");
      }
    }
  });

  it("jobs use the program's own commands, never flyctl deploy or flyctl secrets set", () => {
    for (const file of WORKFLOWS) {
      const text = fs.readFileSync(path.join(ROOT, ".github/workflows", file), "utf8");
      expect(text, file).not.toMatch(/fly(ctl)?\s+(deploy|secrets\s+set)/);
      for (const [name, job] of jobs(workflow(file)).filter(([, j]) => usesSetup(j))) {
        const viaNpm = /npm run (promote|rollback|repoint|preview-env) /.test(runs(job));
        const viaPulumi = /pulumi (up|preview) /.test(runs(job)) || (job.steps ?? []).some((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.command);
        expect(viaNpm || viaPulumi, `${file} ${name} runs the program`).toBe(true);
      }
    }
  });

  it("actions are pinned by major version", () => {
    const files = [...WORKFLOWS.map((f) => `.github/workflows/${f}`), ".github/actions/platform-setup/action.yml"];
    for (const file of files) {
      const uses = [...fs.readFileSync(path.join(ROOT, file), "utf8").matchAll(/uses:\s*(\S+)/g)].map((m) => m[1]);
      for (const u of uses.filter((x) => !x.startsWith("./"))) expect(u, file).toMatch(/^[\w.-]+\/[\w.-]+@v\d+$/);
    }
  });
});

describe("promote-image.yml keeps pins", () => {
  it("opens a pull request with the pinned stack file when a digest was given, so the next up does not undo it", () => {
    const job = workflow("promote-image.yml").jobs.promote as Job & { steps: Step[] };
    const keep = job.steps.find((s) => s.name === "Keep the pin in the stack file")!;
    expect(keep.if).toBe("${{ inputs.image_digest != '' }}");
    expect(keep.run).toContain('git commit -m "Pin $TO to $IMAGE_DIGEST" -- "Pulumi.$TO.yaml"');
    expect(keep.run).toContain("gh pr create");
    expect(job.steps.indexOf(keep)).toBeGreaterThan(job.steps.findIndex((s) => (s.run ?? "").startsWith("npm run promote")));
    expect(job.permissions).toMatchObject({ contents: "write", "pull-requests": "write" });
  });
});
