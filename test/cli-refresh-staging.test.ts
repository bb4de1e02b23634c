/**
 * `npm run refresh-staging` against the MPG and Machines fakes and a fake stack runner: the plan, a refresh that
 * re-points staging through Path B, and the faults (a scrub that leaves a match, a failing `pulumi up`, an
 * interruption, leftovers of a killed run). A failure always leaves staging on its old cluster.
 */
import * as fs from "fs";
import * as path from "path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { refreshStaging } from "../src/cli/refresh-staging";
import { runTs } from "./harness/engine";
import { DataJobBed, PROD_IMAGE, dataJobDeps, resetBed, startDataJobBed } from "./fakes/data-jobs";
import { STACK_FILES, tempProject } from "./fixtures/stack-files";

let bed: DataJobBed;
beforeAll(async () => (bed = await startDataJobBed()));
afterAll(() => bed.stop());
beforeEach(() => resetBed(bed));

const stagingFile = (workDir: string) => fs.readFileSync(path.join(workDir, "Pulumi.staging.yaml"), "utf8");
const copies = () => [...bed.pgState.clusters.values()].filter((c) => c.source === "renewa-production-mpg");
const liveCopies = () => copies().filter((c) => c.status !== "deleted").map((c) => c.id);
const jobMachines = () => bed.fly.machines("renewa-app-production");

describe("npm run refresh-staging", () => {
  it("--help runs through the npm script's entry point", () => {
    const res = runTs("src/cli/refresh-staging.ts", ["--help"]);
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/^Usage: npm run refresh-staging -- \[--backup <id>\] \[--yes\] \[--dry-run\]/);
  });

  it("refuses staging and production in different organizations before any API call", async () => {
    const { deps } = dataJobDeps(bed);
    deps.workDir = tempProject({ "Pulumi.staging.yaml": `${STACK_FILES["Pulumi.staging.yaml"]}  renewa:org: renewa-staging\n` });
    await expect(refreshStaging(["--yes"], deps)).rejects.toThrow(/different Fly organizations: a copy of production's data may not leave renewa/);
    await expect(refreshStaging(["extra"], deps)).rejects.toThrow(/expected 0 argument/);
    expect(bed.fake.log).toEqual([]);
  });

  it("--dry-run prints the backup, the new cluster, the machines and the config change, and changes nothing", async () => {
    const { deps, out, runner } = dataJobDeps(bed);
    expect(await refreshStaging(["--dry-run"], deps)).toBe(0);
    const text = out.text();
    expect(text).toContain("  backup: bk-production-1 (full, finished 2026-06-05T01:10:00.000Z) of production's cluster renewa-production-mpg");
    expect(text).toMatch(/1\. restore it into a NEW cluster renewa-staging-refresh-\d{8}t\d{6} \(org renewa, fra\)/);
    expect(text).toContain(`in app renewa-app-production, image ${PROD_IMAGE}, without app secrets: \`/app/scripts/scrub-personal-data.sh apply\``);
    expect(text).toContain("`/app/scripts/scrub-personal-data.sh verify` (must find no row matching what the scrub removes)");
    expect(text).toContain("5. Pulumi.staging.yaml: renewa:mpgClusterId renewa-staging-mpg → <the new cluster's id>; pulumi up -s staging");
    expect(text).toContain("Dry run: nothing was changed.");
    expect(bed.fake.mutatingCalls()).toEqual([]);
    expect(runner.calls).toEqual([]);
    expect(stagingFile(deps.workDir)).toBe(STACK_FILES["Pulumi.staging.yaml"]);
  });

  it("scrubs a copy of production's backup, checks it, and re-points staging at it, keeping the old cluster", async () => {
    const { deps, out, runner } = dataJobDeps(bed);
    expect(await refreshStaging(["--yes"], deps)).toBe(0);
    const [copy] = copies();
    expect(copy.status).toBe("ready");
    expect(stagingFile(deps.workDir)).toBe(STACK_FILES["Pulumi.staging.yaml"].replace("renewa-staging-mpg #", `${copy.id} #`));
    expect(runner.calls).toEqual([{ op: "up", stack: "staging" }]);
    // Scrub, then its check, from production's image, without app secrets, on the copy only.
    expect(bed.jobs.configs.map((c) => c.init.cmd)).toEqual([["/app/scripts/scrub-personal-data.sh", "apply"], ["/app/scripts/scrub-personal-data.sh", "verify"]]);
    for (const call of bed.fake.calls("POST /v1/apps/:app/machines")) {
      expect(call.path).toBe("/v1/apps/renewa-app-production/machines");
      expect(call.body.skip_secrets).toBe(true);
      expect(call.body.config.env.DATABASE_URL).toContain(`@direct.${copy.id}.flympg.net:5432/fly-db`);
    }
    // The run's user is gone and the copied users have passwords of their own.
    expect(copy.users.has("renewa-scrub")).toBe(false);
    expect(copy.users.get("fly-user")!.password).not.toBe(bed.pgState.clusters.get("renewa-production-mpg")!.users.get("fly-user")!.password);
    expect(bed.pgState.clusters.get("renewa-staging-mpg")!.status).toBe("ready");
    expect(out.text()).toContain(`Staging now runs on a scrubbed copy of production backup bk-production-1: cluster ${copy.id}.`);
    expect(out.text()).toContain("The previous staging cluster renewa-staging-mpg is kept. Once staging is confirmed, remove it: fly mpg destroy renewa-staging-mpg");
    expect(jobMachines()).toEqual([]);
  });

  it("a scrub that leaves a match stops before staging is touched and removes the copy", async () => {
    bed.jobs.exit = (config) => (config.init.cmd.includes("verify") ? 1 : 0);
    const { deps, out, runner } = dataJobDeps(bed);
    await expect(refreshStaging(["--yes"], deps)).rejects.toThrow(/the scrub check `\/app\/scripts\/scrub-personal-data.sh verify` found rows that still match what the scrub removes \(exit code 1/);
    expect(out.errors).toContain("staging still uses renewa-staging-mpg.");
    expect(runner.calls).toEqual([]);
    expect(stagingFile(deps.workDir)).toBe(STACK_FILES["Pulumi.staging.yaml"]);
    expect(liveCopies()).toEqual([]);
    expect(jobMachines()).toEqual([]);
  });

  it("a failing pulumi up puts staging back on its old cluster, then removes the copy", async () => {
    const { deps, runner } = dataJobDeps(bed);
    runner.failNext = "Infisical sync refused the new DATABASE_URL";
    await expect(refreshStaging(["--yes"], deps)).rejects.toThrow(/re-pointing staging at \S+ failed; staging is back on renewa-staging-mpg: pulumi up on staging failed/);
    expect(runner.calls).toEqual([{ op: "up", stack: "staging" }, { op: "up", stack: "staging" }]);
    expect(stagingFile(deps.workDir)).toBe(STACK_FILES["Pulumi.staging.yaml"]);
    expect(liveCopies()).toEqual([]);
  });

  it("when moving staging back fails too, the copy is kept (staging may use it) and the message says what to run", async () => {
    const { deps, runner, out } = dataJobDeps(bed);
    runner.up = async (stack) => {
      runner.calls.push({ op: "up", stack });
      throw new Error("code: 255\n stderr: error: the Pulumi backend is unreachable");
    };
    await expect(refreshStaging(["--yes"], deps)).rejects.toThrow(/moving it back to renewa-staging-mpg failed too [\s\S]*cluster \S+ is KEPT because staging may be using it\. Run `pulumi up -s staging`, then `fly mpg destroy \S+`/);
    expect(stagingFile(deps.workDir)).toBe(STACK_FILES["Pulumi.staging.yaml"]);
    expect(liveCopies()).toHaveLength(1);
    expect(out.errors.join("\n")).toMatch(/staging may be using \S+, which is kept\./);
  });

  it("a signal during pulumi up does not cut it: staging finishes moving to the copy, which is kept", async () => {
    const { deps, runner, signals, out } = dataJobDeps(bed);
    const up = runner.up.bind(runner);
    runner.up = async (stack, onOutput) => (signals.emit("SIGINT"), up(stack, onOutput));
    expect(await refreshStaging(["--yes"], deps)).toBe(0);
    expect(out.errors).toContain("SIGINT: stopping after the current step, then removing what this run created.");
    expect(liveCopies()).toHaveLength(1);
    expect(stagingFile(deps.workDir)).toContain(liveCopies()[0]);
    expect(signals.listenerCount("SIGINT")).toBe(0);
  });

  it("an interruption during the scrub removes the copy and the machine; the re-run converges", async () => {
    const { deps, signals, runner, out } = dataJobDeps(bed);
    bed.jobs.exit = () => (setTimeout(() => signals.emit("SIGTERM"), 10), undefined);
    await expect(refreshStaging(["--yes"], deps)).rejects.toThrow("interrupted by SIGTERM");
    expect(out.text()).toMatch(/removed cluster \S+ \(restored from bk-production-1\)/);
    expect(liveCopies()).toEqual([]);
    expect(jobMachines()).toEqual([]);
    expect(runner.calls).toEqual([]);

    bed.jobs.exit = () => 0;
    const again = dataJobDeps(bed);
    again.deps.workDir = deps.workDir;
    expect(await refreshStaging(["--yes"], again.deps)).toBe(0);
    expect(liveCopies()).toHaveLength(1);
  });

  it("never removes the copy staging runs on while the pull request that names it is not merged", async () => {
    const first = dataJobDeps(bed);
    expect(await refreshStaging(["--yes"], first.deps)).toBe(0);
    const [running] = copies();
    // A second refresh from main: the stack file still names the old cluster, the stack's output names the copy.
    const second = dataJobDeps(bed);
    second.runner.stacks.get("staging")!.outputs.databaseClusterId = running.id;
    expect(await refreshStaging(["--yes"], second.deps)).toBe(0);
    expect(running.status).toBe("ready");
    expect(second.out.text()).toContain(`(staging runs on ${running.id}, not yet in the file: a refresh whose pull request is not merged; both are kept)`);
    expect(second.out.text()).toContain(`The previous staging cluster ${running.id} is kept.`);
  });

  it("a re-run removes a killed run's copy and machine, but never an older copy a finished refresh kept", async () => {
    const killed = bed.pgState.addCluster({ id: "renewa-production-mpg-r901", name: "renewa-staging-refresh-20270101t000000", created_at: "2027-01-01T00:00:00.000Z" });
    const kept = bed.pgState.addCluster({ id: "renewa-production-mpg-r900", name: "renewa-staging-refresh-20250101t000000", created_at: "2025-01-01T00:00:00.000Z" });
    const stray = bed.fly.addMachine("renewa-app-production", { image: PROD_IMAGE, metadata: { renewa_job: "refresh-staging" } });
    const { deps, out } = dataJobDeps(bed);
    expect(await refreshStaging(["--yes"], deps)).toBe(0);
    expect(out.text()).toContain(`0. remove cluster ${killed.id} (renewa-staging-refresh-20270101t000000), left by a run that did not finish`);
    expect(out.text()).toContain(`note: cluster ${kept.id} (renewa-staging-refresh-20250101t000000) is an older refresh copy nothing points at`);
    expect(killed.status).toBe("deleted");
    expect(kept.status).toBe("ready");
    expect(stray.state).toBe("destroyed");
  });
});
