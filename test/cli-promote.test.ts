import { describe, expect, it } from "vitest";
import { UsageError } from "../src/cli/args";
import { promote } from "../src/cli/promote";
import { PromotionError } from "../src/promotion";
import { runTs } from "./harness/engine";
import { FakeStackRunner, recordingIo } from "./fakes/stack-runner";
import { tempProject } from "./fixtures/stack-files";

const A = `sha256:${"a".repeat(64)}`;
const B = `sha256:${"b".repeat(64)}`;

function setup(stacks: ConstructorParameters<typeof FakeStackRunner>[0], files: Record<string, string> = {}) {
  const runner = new FakeStackRunner(stacks);
  const out = recordingIo();
  return { runner, out, deps: { io: out.io, runner, workDir: tempProject(files) } };
}

describe("npm run promote", () => {
  it("--help runs through the npm script's entry point and explains the command", () => {
    const res = runTs("src/cli/promote.ts", ["--help"]);
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/^Usage: npm run promote -- <from> <to> \[--digest sha256:…\] \[--dry-run\]/);
    expect(res.stdout).toContain("--dry-run");
    expect(res.stdout).toContain("development → staging, or staging → production");
  });

  it("a bad path exits 2 with the reason and a pointer to --help", () => {
    const res = runTs("src/cli/promote.ts", ["development", "production"]);
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/promote: cannot promote development → production: promotion never skips a stage/);
    expect(res.stderr).toContain("Run `npm run promote -- --help` for usage.");
  });

  it("rejects wrong arguments before touching anything", async () => {
    const { runner, deps } = setup({});
    await expect(promote(["staging"], deps)).rejects.toThrow(/expected 2 argument\(s\) \(<from> <to>\), got "staging"/);
    await expect(promote(["staging", "development"], deps)).rejects.toThrow(/only goes forward.*rollback -- development/);
    await expect(promote(["development", "staging", "--digest", "abc"], deps)).rejects.toThrow(UsageError);
    await expect(promote(["development", "staging", "--force"], deps)).rejects.toThrow(/Unknown option '--force'/);
    expect(runner.calls).toEqual([]);
  });

  it("--dry-run prints the plan and changes nothing", async () => {
    const { runner, out, deps } = setup({ development: { outputs: { imageDigest: A } }, staging: {} });
    expect(await promote(["development", "staging", "--dry-run"], deps)).toBe(0);
    expect(out.text()).toContain(`image:  ${A} (development's imageDigest output)`);
    expect(out.text()).toContain("1. for this run: renewa:followSource, renewa:expectedDigest on staging (drops a pin kept from a rollback, if any)");
    expect(out.text()).toContain("Dry run: nothing was changed.");
    expect(runner.calls).toEqual([]);
  });

  it("development → staging removes a pin and runs up on staging", async () => {
    const { runner, out, deps } = setup(
      { development: { outputs: { imageDigest: A } }, staging: { config: { "renewa:imageDigest": B }, outputs: { imageDigest: B } } },
      { "Pulumi.staging.yaml": `config:\n  renewa:mpgClusterId: renewa-staging-mpg\n  renewa:imageDigest: ${B}\n` },
    );
    expect(await promote(["development", "staging"], deps)).toBe(0);
    expect(runner.calls).toEqual([
      { op: "removeConfig", stack: "staging", key: "renewa:imageDigest" },
      { op: "setConfig", stack: "staging", key: "renewa:followSource", value: "true" },
      { op: "setConfig", stack: "staging", key: "renewa:expectedDigest", value: A },
      { op: "up", stack: "staging" },
      { op: "removeConfig", stack: "staging", key: "renewa:followSource" },
      { op: "removeConfig", stack: "staging", key: "renewa:expectedDigest" },
    ]);
    // Nothing of the run is left in the stack's config: no file to commit.
    expect(runner.stacks.get("staging")!.config).toEqual({});
    expect(out.text()).toMatch(/Promoted development → staging: staging now runs sha256:a+ \(release v1; 1 update, 14 same\)/);
    expect(out.text()).toContain("Next: verify staging, then `npm run promote -- staging production`");
  });

  it("--digest pins the target", async () => {
    const { runner, deps } = setup({ development: { outputs: { imageDigest: A } }, staging: {} });
    expect(await promote(["development", "staging", "--digest", B], deps)).toBe(0);
    expect(runner.calls).toEqual([
      { op: "setConfig", stack: "staging", key: "renewa:imageDigest", value: B },
      { op: "setConfig", stack: "staging", key: "renewa:expectedDigest", value: B },
      { op: "up", stack: "staging" },
      { op: "removeConfig", stack: "staging", key: "renewa:imageDigest" },
      { op: "removeConfig", stack: "staging", key: "renewa:expectedDigest" },
    ]);
    // The pin is kept by the stack itself (its pinnedDigest output).
    expect(runner.stacks.get("staging")!.outputs.pinnedDigest).toBe(B);
  });

  it("carries the source's migrations manifest and source commit with the digest", async () => {
    const manifest = { hash: `sha256:${"1".repeat(64)}`, files: [] };
    const commit = "c".repeat(40);
    const { runner, out, deps } = setup({ development: { outputs: { imageDigest: A, migrations: manifest, sourceCommit: commit } }, staging: {} });
    expect(await promote(["development", "staging"], deps)).toBe(0);
    expect(runner.configAtUp).toEqual([
      {
        stack: "staging",
        config: { "renewa:followSource": "true", "renewa:expectedDigest": A, "renewa:migrations": JSON.stringify(manifest), "renewa:sourceCommit": commit },
      },
    ]);
    expect(out.text()).toContain(`source: commit ${commit}, migrations ${manifest.hash}`);
  });

  it("--expect-digest: a source that moved on after the approval fails before any change", async () => {
    const { runner, deps } = setup({ development: { outputs: { imageDigest: A } }, staging: {} });
    await expect(promote(["development", "staging", "--expect-digest", B], deps)).rejects.toThrow(
      new RegExp(`approved digest is ${B} but development now runs ${A}; nothing was changed`),
    );
    expect(runner.calls).toEqual([]);
    expect(await promote(["development", "staging", "--expect-digest", A], deps)).toBe(0);
    expect(runner.configAtUp[0].config["renewa:expectedDigest"]).toBe(A);
  });

  it("--plan-output writes the planned digest and source commit in GitHub's step-output format", async () => {
    const fs = await import("fs");
    const os = await import("os");
    const path = await import("path");
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "plan-")), "out");
    const { runner, deps } = setup({ development: { outputs: { imageDigest: A, sourceCommit: "d".repeat(40) } }, staging: {} });
    expect(await promote(["development", "staging", "--dry-run", "--plan-output", file], deps)).toBe(0);
    expect(fs.readFileSync(file, "utf8")).toBe(`digest=${A}\nsource_commit=${"d".repeat(40)}\n`);
    expect(runner.calls).toEqual([]);
  });

  it("production refuses a digest staging has not released, before any change", async () => {
    const { runner, deps } = setup({ staging: { outputs: { imageDigest: A, releasedDigests: [B] } }, production: {} });
    await expect(promote(["staging", "production"], deps)).rejects.toThrow(PromotionError);
    await expect(promote(["staging", "production"], deps)).rejects.toThrow(/production refuses sha256:a+/);
    expect(runner.calls).toEqual([]);
  });

  it("staging → production with a released digest deploys production", async () => {
    const { runner, out, deps } = setup({ staging: { outputs: { imageDigest: A, releasedDigests: [A] } }, production: {} });
    expect(await promote(["staging", "production"], deps)).toBe(0);
    expect(runner.calls.filter((c) => c.op === "up")).toHaveLength(1);
    expect(runner.stacks.get("production")!.outputs.imageDigest).toBe(A);
    expect(out.text()).toContain("npm run rollback -- production");
  });

  it("nothing to promote is an error that says what to do", async () => {
    const { runner, deps } = setup({ development: {}, staging: {} });
    await expect(promote(["development", "staging"], deps)).rejects.toThrow(/development has no imageDigest output.*Deploy development first, or pass --digest/);
    expect(runner.calls).toEqual([]);
  });

  it("a failed up is reported with what to do next", async () => {
    const { runner, deps } = setup({ development: { outputs: { imageDigest: A } }, staging: {} });
    runner.failNext = "health checks failed";
    await expect(promote(["development", "staging"], deps)).rejects.toThrow(/pulumi up on staging failed: [\s\S]*health checks failed[\s\S]*npm run rollback -- staging/);
  });
});
