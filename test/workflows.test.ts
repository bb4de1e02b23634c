/**
 * The GitHub Actions workflows this project ships, parsed as YAML: this repository's own (`.github/workflows/`, the
 * reusable ones among them) and the callers renewa/renewa-one adds (`app-repo/.github/workflows/`). The rules are
 * asserted on the parsed structure: triggers, jobs, environments, permissions, concurrency, which token and which
 * credentials each job gets, and what runs before Pulumi.
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { GITHUB_ENVIRONMENTS } from "../components/github-environment";
import { defaultsFor } from "../src/config";
import { PROMOTION_PATHS } from "../src/promotion";
import { HUMAN_MANAGED_SECRETS } from "../src/providers/infisical-secrets";

const ROOT = path.resolve(__dirname, "..");
const HERE = ".github/workflows";
const APP = "app-repo/.github/workflows";

type Step = { id?: string; name?: string; if?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string>; "working-directory"?: string };
type Job = {
  name?: string;
  steps?: Step[];
  uses?: string;
  with?: Record<string, unknown>;
  permissions?: Record<string, string>;
  needs?: string | string[];
  if?: string;
  environment?: string | { name: string; url?: string };
  env?: Record<string, string>;
  concurrency?: { group: string; "cancel-in-progress": boolean };
  "timeout-minutes"?: number;
  outputs?: Record<string, string>;
};
type Workflow = { name: string; on: Record<string, any>; permissions?: Record<string, string>; env?: Record<string, string>; jobs: Record<string, Job>; concurrency?: unknown };

const files = (dir: string) => fs.readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith(".yml")).map((f) => `${dir}/${f}`);
const text = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");
const load = (file: string): Workflow => parse(text(file));
const ALL = [...files(HERE), ...files(APP)];
const wf = (file: string) => load(file);
const jobs = (w: Workflow) => Object.entries(w.jobs);
const stepsRun = (job: Job) => (job.steps ?? []).map((s) => s.run ?? "").join("\n");
const isReusable = (w: Workflow) => Object.keys(w.on).includes("workflow_call");
const envName = (job: Job) => (typeof job.environment === "string" ? job.environment : job.environment?.name);
/** Jobs whose steps start Pulumi (pulumi up/preview, or an operator command that does). */
const runsPulumi = (job: Job) =>
  /\bpulumi (up|preview)\b|npm run (promote|rollback|repoint|preview-env)\b/.test(stepsRun(job)) ||
  (job.steps ?? []).some((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.command);
/** Every step env value a job's steps get, merged. */
const stepEnv = (job: Job) => Object.assign({}, ...(job.steps ?? []).map((s) => s.env ?? {})) as Record<string, string>;
const pulumiStep = (job: Job) => (job.steps ?? []).find((s) => /\bpulumi (up|preview)\b|npm run (promote|preview-env) /.test(s.run ?? "") || (s.uses?.startsWith("pulumi/actions@") && s.with?.command))!;
/** The caller jobs of renewa-one that call one of this repository's reusable workflows. */
const callsOf = (reusable: string) =>
  files(APP).flatMap((f) => jobs(wf(f)).filter(([, j]) => j.uses === `renewa/renewa-platform/${HERE}/${reusable}@main`).map(([name, j]) => ({ file: f, name, job: j })));

describe("two repositories: what runs where", () => {
  it("nothing triggered in this repository deploys: its only own workflow checks PRs; every deploy job is a reusable workflow renewa-one calls", () => {
    for (const file of files(HERE)) {
      const w = wf(file);
      if (isReusable(w)) {
        expect(Object.keys(w.on), file).toEqual(["workflow_call"]);
        expect(callsOf(path.basename(file)).length, `${file} is called from renewa-one`).toBeGreaterThan(0);
        continue;
      }
      expect(Object.keys(w.on).sort(), file).toEqual(["merge_group", "pull_request"]);
      for (const [name, job] of jobs(w)) {
        expect(/\bpulumi up\b|npm run (promote|rollback|repoint|preview-env)\b/.test(stepsRun(job)), `${file} ${name} deploys`).toBe(false);
        expect(GITHUB_ENVIRONMENTS as readonly string[], `${file} ${name}`).not.toContain(envName(job));
      }
    }
  });

  it("production has its approval gate: the job that runs the promotion's pulumi up runs in renewa-one's environment, which the program declares with reviewers", () => {
    const promote = wf(`${HERE}/promote.yml`).jobs.promote;
    expect(promote.environment).toBe("${{ needs.plan.outputs.to }}");
    expect(stepsRun(promote)).toMatch(/npm run promote -- "\$FROM" "\$TO"/);
    // Called from renewa-one, so the environment (and its required reviewers) is renewa-one's: the repository the
    // GithubEnvironment component manages (renewa:githubRepository, default renewa-one).
    const [caller] = callsOf("promote.yml");
    expect(caller.file).toBe(`${APP}/promote-image.yml`);
    expect(defaultsFor({ stack: "production", kind: "production" }).githubRepository).toBe("renewa-one");
    // Every environment a deploy job names is one the program declares (and protects, for production). The plan's
    // dry run only reads stack outputs, in the hand-made `promotion-plan` environment (backend settings only).
    expect(envName(wf(`${HERE}/promote.yml`).jobs.plan)).toBe("promotion-plan");
    for (const file of files(HERE).filter((f) => isReusable(wf(f)))) {
      for (const [name, job] of jobs(wf(file)).filter(([, j]) => runsPulumi(j) && !/--dry-run/.test(stepsRun(j)))) {
        const env = envName(job)!;
        expect(env === "${{ needs.plan.outputs.to }}" || (GITHUB_ENVIRONMENTS as readonly string[]).includes(env), `${file} ${name}: ${env}`).toBe(true);
      }
    }
  });

  it("the image is built where its Dockerfile is: build-image checks out the calling app repository at the commit it reports, on the app's merges and PRs", () => {
    const build = wf(`${HERE}/build-image.yml`).jobs.build;
    const checkout = build.steps!.find((s) => s.uses?.startsWith("actions/checkout@"))!;
    expect(checkout.with).toMatchObject({ ref: "${{ inputs.source-commit }}" });
    expect(checkout.with?.repository).toBeUndefined(); // the caller's repository: renewa-one
    expect(build.steps!.find((s) => s.uses?.startsWith("docker/build-push-action@"))!.with).toMatchObject({ context: ".", push: true });
    const callers = callsOf("build-image.yml");
    expect(callers.map((c) => c.file).sort()).toEqual([`${APP}/main-deploy.yml`, `${APP}/pr-preview.yml`]);
    expect(wf(`${APP}/main-deploy.yml`).on.push).toEqual({ branches: ["main"] });
    expect(wf(`${APP}/pr-preview.yml`).on.pull_request.types).toEqual(["opened", "synchronize", "reopened"]);
  });

  it("the digest, its migrations manifest and its source commit reach pulumi up without hand copying", () => {
    const build = wf(`${HERE}/build-image.yml`);
    expect(Object.keys(build.on.workflow_call.outputs).sort()).toEqual(["digest", "migrations", "source-commit"]);
    expect(stepsRun(build.jobs.build)).toContain('npm run --silent migrations-manifest -- "$MIGRATIONS_DIR"');
    for (const { file, job } of [...callsOf("deploy-development.yml"), ...callsOf("preview-env.yml").filter((c) => c.job.with?.action === "up")]) {
      expect(job.with, file).toMatchObject({
        digest: "${{ needs.build.outputs.digest }}",
        "source-commit": "${{ needs.build.outputs.source-commit }}",
        migrations: "${{ needs.build.outputs.migrations }}",
      });
    }
    const deploy = wf(`${HERE}/deploy-development.yml`).jobs.deploy;
    const run = pulumiStep(deploy).run!;
    for (const key of ["imageDigest", "migrations", "sourceCommit"]) expect(run).toMatch(new RegExp(`pulumi config set renewa:${key} "\\$\\w+" --stack development`));
    expect(pulumiStep(wf(`${HERE}/preview-env.yml`).jobs["preview-env"]).run).toMatch(/args\+=\(--migrations "\$RUNNER_TEMP\/migrations.json"\)[\s\S]*npm run preview-env -- "\$\{args\[@\]\}"/);
  });

  it("PR previews are keyed by the app's pull requests: renewa-one's PR events start and clean them up with its PR number", () => {
    const calls = callsOf("preview-env.yml");
    expect(calls.map((c) => [c.file, c.job.with?.action])).toEqual([
      [`${APP}/pr-cleanup.yml`, "destroy"],
      [`${APP}/pr-preview.yml`, "up"],
    ]);
    for (const c of calls) expect(c.job.with?.["pr-number"], c.file).toBe("${{ github.event.pull_request.number }}");
    expect(Object.keys(wf(`${APP}/pr-cleanup.yml`).on)).toEqual(["pull_request_target"]);
    expect(wf(`${APP}/pr-cleanup.yml`).on.pull_request_target.types).toEqual(["closed"]);
    // This repository's own pull requests never touch a pr-<N> stack.
    for (const [, job] of jobs(wf(`${HERE}/preview.yml`))) expect(stepsRun(job)).not.toContain("preview-env");
  });

  it("PR previews get every human-managed secret: fetched from Infisical into the step that runs preview-env up", () => {
    const step = pulumiStep(wf(`${HERE}/preview-env.yml`).jobs["preview-env"]);
    const names = /for name in ([A-Z_ ]+); do/.exec(step.run!)![1].trim().split(/\s+/);
    expect(names).toEqual(HUMAN_MANAGED_SECRETS);
    expect(step.run).toContain("/api/v3/secrets/raw");
    expect(step.run).toContain('echo "::add-mask::$value"');
  });
});

describe("credentials that fit", () => {
  const deployJobs = () =>
    files(HERE)
      .filter((f) => isReusable(wf(f)))
      // The plan's dry run reads stack outputs only; it gets no deploy credentials.
      .flatMap((f) => jobs(wf(f)).filter(([, j]) => runsPulumi(j) && !/--dry-run/.test(stepsRun(j))).map(([name, job]) => ({ file: f, name, job })));

  it("the program's GITHUB_TOKEN is a GitHub App installation token minted for the job, never the workflow's GITHUB_TOKEN", () => {
    for (const file of ALL) {
      for (const [name, job] of jobs(wf(file))) {
        const env = { ...(job.env ?? {}), ...stepEnv(job) };
        if (env.GITHUB_TOKEN !== undefined) expect(env.GITHUB_TOKEN, `${file} ${name}`).toBe("${{ steps.github-token.outputs.token }}");
      }
    }
    for (const { file, name, job } of deployJobs()) {
      const mint = job.steps!.find((s) => s.id === "github-token")!;
      expect(mint.uses, `${file} ${name}`).toMatch(/^actions\/create-github-app-token@/);
      expect(String(mint.with?.repositories).split(","), `${file} ${name}`).toEqual(["renewa-platform", "renewa-one"]);
      expect(pulumiStep(job).env?.GITHUB_TOKEN, `${file} ${name}`).toBe("${{ steps.github-token.outputs.token }}");
      expect(job.steps!.indexOf(mint)).toBeLessThan(job.steps!.indexOf(pulumiStep(job)));
    }
  });

  it("each job's App token asks for exactly the permissions its stack needs", () => {
    const perms = (file: string, job: string) =>
      Object.fromEntries(
        Object.entries(wf(file).jobs[job].steps!.find((s) => s.uses?.startsWith("actions/create-github-app-token@"))!.with ?? {})
          .filter(([k]) => k.startsWith("permission-"))
          .map(([k, v]) => [k.slice("permission-".length), v]),
      );
    // development: environments (and their secrets), the ci-gate ruleset, the record label and records.
    expect(perms(`${HERE}/deploy-development.yml`, "deploy")).toEqual({ contents: "read", administration: "write", environments: "write", issues: "write" });
    // staging/production: their environment (reviewers: teams resolved by slug) and records.
    expect(perms(`${HERE}/promote.yml`, "promote")).toEqual({ contents: "read", environments: "write", issues: "write", members: "read" });
    // PR stacks: records only.
    expect(perms(`${HERE}/preview-env.yml`, "preview-env")).toEqual({ contents: "read", issues: "write" });
    expect(perms(`${HERE}/promote.yml`, "plan")).toEqual({ contents: "read" });
    expect(perms(`${HERE}/build-image.yml`, "build")).toEqual({ contents: "read" });
  });

  it("CI-infrastructure secrets come from the environment of the job that needs them, FLY_MPG_TOKEN included", () => {
    const plan = wf(`${HERE}/promote.yml`).jobs.plan;
    expect(pulumiStep(plan).env!.FLY_API_TOKEN).toBeUndefined();
    expect(pulumiStep(plan).env!.GITHUB_TOKEN).toBeUndefined();
    for (const { file, name, job } of deployJobs()) {
      expect(envName(job), `${file} ${name}`).toBeDefined();
      expect(job.env, `${file} ${name}: no credentials in the job's env (npm ci would see them)`).toBeUndefined();
      const env = pulumiStep(job).env!;
      expect(env.FLY_API_TOKEN, `${file} ${name}`).toBe("${{ secrets.FLY_API_TOKEN }}");
      for (const v of ["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) expect(env[v], `${file} ${name} ${v}`).toBe(`\${{ secrets.${v} }}`);
      expect(env.PULUMI_BACKEND_URL).toBe("${{ vars.PULUMI_BACKEND_URL }}");
    }
    // Infisical through the job's OIDC token (the EU instance), never a stored Infisical secret.
    const setup = parse(text(".github/actions/platform-setup/action.yml"));
    expect(setup.inputs["infisical-domain"].default).toBe("https://eu.infisical.com");
    expect(setup.runs.steps.find((s: Step) => s.run?.includes("oidc-auth/login")).run).toContain("::add-mask::");
    for (const { file, name, job } of deployJobs()) {
      expect(job.permissions?.["id-token"], `${file} ${name}`).toBe("write");
      expect(job.steps!.find((s) => s.uses === "./.github/actions/platform-setup")?.with, `${file} ${name}`).toEqual({ "infisical-identity-id": "${{ vars.INFISICAL_IDENTITY_ID }}" });
    }
    // The stacks that write GitHub environment secrets get FLY_MPG_TOKEN to write.
    expect(pulumiStep(wf(`${HERE}/deploy-development.yml`).jobs.deploy).env!.FLY_MPG_TOKEN).toBe("${{ secrets.FLY_MPG_TOKEN }}");
    expect(pulumiStep(wf(`${HERE}/promote.yml`).jobs.promote).env!.FLY_MPG_TOKEN).toBe("${{ secrets.FLY_MPG_TOKEN }}");
  });

  it("pull-request code gets read-only credentials only, and none on forks or Dependabot PRs", () => {
    const w = wf(`${HERE}/preview.yml`);
    const preview = w.jobs.preview;
    expect(preview.if).toContain("github.event.pull_request.head.repo.full_name == github.repository");
    expect(preview.if).toContain("github.actor != 'dependabot[bot]'");
    expect(preview.environment).toBe("platform-preview");
    const env = pulumiStep(preview).env!;
    expect(env.FLY_API_TOKEN).toBe("${{ secrets.FLY_READONLY_TOKEN }}");
    expect(env.UPSTASH_API_KEY).not.toMatch(/secrets\./); // Upstash has no read-only key: a placeholder
    const mint = preview.steps!.find((s) => s.id === "github-token")!;
    expect(mint.with).toMatchObject({ "app-id": "${{ vars.RENEWA_PREVIEW_APP_ID }}", "private-key": "${{ secrets.RENEWA_PREVIEW_APP_PRIVATE_KEY }}" });
    expect(preview.steps!.find((s) => s.uses === "./.github/actions/platform-setup")!.with).toEqual({ "infisical-identity-id": "${{ vars.INFISICAL_READONLY_IDENTITY_ID }}" });
    expect(pulumiStep(preview).with).toMatchObject({ command: "preview", refresh: false });
    // The test job runs PR code too: no secrets at all.
    expect(JSON.stringify(w.jobs.test)).not.toMatch(/secrets\./);
    // The app's PR builds: same rule for forks and Dependabot.
    const build = wf(`${APP}/pr-preview.yml`).jobs.build;
    expect(build.if).toContain("github.event.pull_request.head.repo.full_name == github.repository");
    expect(build.if).toContain("github.actor != 'dependabot[bot]'");
    // Install scripts never run: npm ci everywhere is --ignore-scripts where credentials exist.
    const setup = parse(text(".github/actions/platform-setup/action.yml"));
    expect(setup.runs.steps.find((s: Step) => s.run?.startsWith("npm ci")).run).toContain("--ignore-scripts");
  });

  it("ci-gate reports on every PR (forks and Dependabot included) and in the merge queue", () => {
    for (const file of [`${HERE}/preview.yml`, `${APP}/pr-preview.yml`]) {
      const w = wf(file);
      expect(Object.keys(w.on), file).toContain("merge_group");
      const gate = w.jobs["ci-gate"];
      expect(gate.if).toBe("always()");
      expect([...(gate.needs as string[])].sort()).toEqual(Object.keys(w.jobs).filter((j) => j !== "ci-gate").sort());
      expect(gate.steps![0].env!.RESULTS).toBe("${{ join(needs.*.result, ' ') }}");
      expect(stepsRun(gate)).toMatch(/success\|skipped\) ;;[\s\S]*exit 1/);
    }
  });

  it("the backend settings are checked before Pulumi starts, in every job that runs it", () => {
    for (const file of files(HERE)) {
      for (const [name, job] of jobs(wf(file)).filter(([, j]) => runsPulumi(j))) {
        const steps = job.steps!;
        const check = steps.findIndex((s) => (s.run ?? "").includes("npm run --silent check-backend"));
        expect(check, `${file} ${name}`).toBeGreaterThanOrEqual(0);
        const first = steps.findIndex((s) => s === pulumiStep(job));
        // In the same step (first command) or a step before.
        expect(check, `${file} ${name}`).toBeLessThanOrEqual(first);
        if (check === first) expect(steps[check].run!.indexOf("check-backend")).toBeLessThan(steps[check].run!.search(/pulumi (up|config)|npm run (promote|preview-env)/));
      }
    }
  });
});

describe("approvals that hold", () => {
  it("the digest the reviewers approved is the digest that ships: the plan resolves it, the approved job expects it", () => {
    const w = wf(`${HERE}/promote.yml`);
    const plan = w.jobs.plan;
    expect(plan.outputs).toMatchObject({ digest: "${{ steps.plan.outputs.digest }}", to: "${{ steps.path.outputs.to }}" });
    expect(pulumiStep(plan).run).toMatch(/--dry-run --plan-output "\$GITHUB_OUTPUT"/);
    const promote = w.jobs.promote;
    expect(promote.needs).toBe("plan");
    expect(promote.name).toContain("${{ needs.plan.outputs.digest }}");
    expect(pulumiStep(promote).env!.APPROVED_DIGEST).toBe("${{ needs.plan.outputs.digest }}");
    expect(pulumiStep(promote).run).toContain('--expect-digest "$APPROVED_DIGEST"');
    // The plan maps exactly the dispatch's choices to stacks.
    expect(wf(`${APP}/promote-image.yml`).on.workflow_dispatch.inputs.promotion_path).toMatchObject({ type: "choice", required: true, options: [...PROMOTION_PATHS] });
    for (const p of PROMOTION_PATHS) expect(stepsRun(plan)).toContain(`"${p}")`);
  });

  it("a promotion awaiting approval is never cancelled: per-stack concurrency without cancel-in-progress, and no second promotion queues behind it", () => {
    const w = wf(`${HERE}/promote.yml`);
    expect(w.jobs.promote.concurrency).toEqual({ group: "pulumi-${{ needs.plan.outputs.to }}", "cancel-in-progress": false });
    const guard = w.jobs.plan.steps!.find((s) => s.name === "No other promotion to this stage is waiting")!;
    expect(guard.run).toMatch(/for status in waiting pending queued/);
    expect(w.jobs.plan.steps!.indexOf(guard)).toBeLessThan(w.jobs.plan.steps!.findIndex((s) => s.id === "plan"));
    expect(w.jobs.plan.permissions).toEqual({ contents: "read", actions: "read" });
    // The guard matches runs by their title, which the caller sets.
    expect((wf(`${APP}/promote-image.yml`) as unknown as { "run-name": string })["run-name"]).toBe("promote ${{ inputs.promotion_path }}");
    // Every deploy job serializes on its stack and never cancels one in progress.
    expect(wf(`${HERE}/deploy-development.yml`).jobs.deploy.concurrency).toEqual({ group: "pulumi-development", "cancel-in-progress": false });
    expect(wf(`${HERE}/preview-env.yml`).jobs["preview-env"].concurrency).toEqual({ group: "pulumi-pr-${{ inputs.pr-number }}", "cancel-in-progress": false });
  });

  it("a pin does not depend on a pull request: no job pushes branches or opens PRs, and none can write contents", () => {
    for (const file of ALL) {
      for (const [name, job] of jobs(wf(file))) {
        expect(stepsRun(job), `${file} ${name}`).not.toMatch(/git push|gh pr create/);
        expect(job.permissions?.contents ?? "read", `${file} ${name}`).toBe("read");
        // Only this repository's preview comments on its PR.
        if (!(file === `${HERE}/preview.yml` && name === "preview")) expect(job.permissions?.["pull-requests"], `${file} ${name}`).toBeUndefined();
      }
    }
  });
});

describe("workflow hygiene", () => {
  it("deploys only from main: every deploying entry point checks the ref", () => {
    expect(wf(`${HERE}/deploy-development.yml`).jobs.deploy.if).toBe("github.ref == 'refs/heads/main'");
    expect(wf(`${HERE}/promote.yml`).jobs.plan.if).toBe("github.ref == 'refs/heads/main'");
    expect(wf(`${APP}/main-deploy.yml`).jobs.deploy.if).toContain("github.ref == 'refs/heads/main'");
    // And the code that deploys is always the platform's main, never a caller's branch.
    for (const file of ALL) {
      for (const [name, job] of jobs(wf(file))) {
        if (job.uses?.startsWith("renewa/renewa-platform/")) expect(job.uses, `${file} ${name}`).toMatch(/@main$/);
        for (const s of job.steps ?? []) {
          if (s.uses?.startsWith("actions/checkout@") && s.with?.repository) expect(s.with.ref, `${file} ${name}`).toBe("main");
        }
      }
    }
  });

  it("cleanup runs the base branch's code: pull_request_target, no checkout of the PR, the platform's main", () => {
    const w = wf(`${APP}/pr-cleanup.yml`);
    expect(Object.keys(w.on)).toEqual(["pull_request_target"]);
    expect(JSON.stringify(w)).not.toMatch(/head\.sha|head\.ref|refs\/pull/);
    expect(w.jobs.cleanup.uses).toBe(`renewa/renewa-platform/${HERE}/preview-env.yml@main`);
  });

  it("timeout-minutes on every job that runs steps, least privilege per job, read-only at the top", () => {
    for (const file of ALL) {
      const w = wf(file);
      expect(w.permissions, file).toEqual({ contents: "read" });
      expect(JSON.stringify(w.env ?? {}), `${file}: no credentials in the workflow-wide env (they go to the steps that need them)`).not.toMatch(/secrets\./);
      for (const [name, job] of jobs(w)) {
        expect(job.permissions, `${file} ${name} declares its permissions`).toBeDefined();
        if (job.steps) expect(job["timeout-minutes"], `${file} ${name}`).toBeGreaterThan(0);
        if (job.permissions?.["id-token"] === "write") {
          const usesOidc = job.uses !== undefined || (job.steps ?? []).some((s) => s.uses === "./.github/actions/platform-setup");
          expect(usesOidc, `${file} ${name} needs id-token only for Infisical`).toBe(true);
        }
      }
    }
  });

  it("single-manifest image digests: no attestations in the push, and the pushed digest is checked to be one manifest", () => {
    const build = wf(`${HERE}/build-image.yml`).jobs.build;
    const push = build.steps!.find((s) => s.uses?.startsWith("docker/build-push-action@"))!;
    expect(push.with).toMatchObject({ provenance: false, sbom: false });
    const check = build.steps!.find((s) => s.name === "The digest is a single image manifest")!;
    expect(build.steps!.indexOf(check)).toBeGreaterThan(build.steps!.indexOf(push));
    expect(check.run).toContain("imagetools inspect --raw");
    expect(check.run).toMatch(/application\/vnd\.oci\.image\.manifest\.v1\+json\|application\/vnd\.docker\.distribution\.manifest\.v2\+json\) ;;/);
  });

  it("actions are pinned by commit, with the version in a comment", () => {
    for (const file of [...ALL, ".github/actions/platform-setup/action.yml"]) {
      const doc = parse(text(file));
      const steps: Step[] = doc.runs?.steps ?? Object.values(doc.jobs as Record<string, Job>).flatMap((j) => j.steps ?? []);
      const lines = text(file).split("\n");
      for (const s of steps.filter((x) => x.uses && !x.uses.startsWith("./"))) {
        expect(s.uses, file).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
        const line = lines.find((l) => l.includes(`uses: ${s.uses}`))!;
        expect(line, file).toMatch(new RegExp(`uses: ${s.uses!.replace(/[/.]/g, "\\$&")} # v\\d+\\.\\d+\\.\\d+$`));
      }
      // One version per action across the project.
    }
    const pins = new Map<string, Set<string>>();
    for (const file of [...ALL, ".github/actions/platform-setup/action.yml"]) {
      for (const m of text(file).matchAll(/uses: ([\w.-]+\/[\w.-]+)@([0-9a-f]{40})/g)) (pins.get(m[1]) ?? pins.set(m[1], new Set()).get(m[1])!).add(m[2]);
    }
    for (const [action, shas] of pins) expect(shas.size, action).toBe(1);
  });
});
