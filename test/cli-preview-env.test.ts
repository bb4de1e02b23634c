import { describe, expect, it } from "vitest";
import { previewEnv } from "../src/cli/preview-env";
import { runTs } from "./harness/engine";
import { FakeStackRunner, recordingIo } from "./fakes/stack-runner";

const A = `sha256:${"a".repeat(64)}`;

function setup(stacks: ConstructorParameters<typeof FakeStackRunner>[0] = {}) {
  const runner = new FakeStackRunner(stacks);
  const out = recordingIo();
  return { runner, out, deps: { io: out.io, runner } };
}

describe("npm run preview-env", () => {
  it("--help runs through the npm script's entry point", () => {
    const res = runTs("src/cli/preview-env.ts", ["--help"]);
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/^Usage: npm run preview-env -- up <N> \[--digest sha256:…\] \[--migrations <file>\] \[--source-commit <sha>\] \[--dry-run\] \| destroy <N> \[--dry-run\]/);
  });

  it("rejects bad arguments", async () => {
    const { runner, deps } = setup();
    await expect(previewEnv(["deploy", "4"], deps)).rejects.toThrow(/unknown action "deploy": expected up or destroy/);
    await expect(previewEnv(["up", "04"], deps)).rejects.toThrow(/"04" is not a pull request number/);
    await expect(previewEnv(["up", "pr-4"], deps)).rejects.toThrow(/"pr-4" is not a pull request number/);
    await expect(previewEnv(["destroy", "4", "--digest", A], deps)).rejects.toThrow(/--digest, --migrations and --source-commit only apply to up/);
    await expect(previewEnv(["up"], deps)).rejects.toThrow(/expected 2 argument\(s\)/);
    expect(runner.calls).toEqual([]);
  });

  it("up sets the PR's digest and runs up, then prints the URL", async () => {
    const { runner, out, deps } = setup();
    expect(await previewEnv(["up", "42", "--digest", A], deps)).toBe(0);
    expect(runner.calls).toEqual([
      { op: "setConfig", stack: "pr-42", key: "renewa:imageDigest", value: A },
      { op: "up", stack: "pr-42" },
      { op: "removeConfig", stack: "pr-42", key: "renewa:imageDigest" },
    ]);
    expect(out.text()).toContain(`Preview pr-42 is up: https://renewa-app-pr-42.fly.dev (${A}; 1 update, 14 same).`);
  });

  it("destroy tears the stack down, then removes it", async () => {
    const { runner, out, deps } = setup({ "pr-42": { outputs: { imageDigest: A } } });
    expect(await previewEnv(["destroy", "42"], deps)).toBe(0);
    expect(runner.calls).toEqual([
      { op: "destroy", stack: "pr-42" },
      { op: "removeStack", stack: "pr-42" },
    ]);
    expect(out.text()).toContain("Removed preview pr-42: 9 delete; stack deleted.");
  });

  it("destroy of a missing stack succeeds without calls (cleanup may run twice)", async () => {
    const { runner, out, deps } = setup();
    expect(await previewEnv(["destroy", "42"], deps)).toBe(0);
    expect(out.text()).toContain("Stack pr-42 does not exist: nothing to clean up.");
    expect(runner.calls).toEqual([]);
  });

  it("a failed destroy keeps the stack so nothing is orphaned", async () => {
    const { runner, deps } = setup({ "pr-42": {} });
    runner.failNext = "bucket not empty";
    await expect(previewEnv(["destroy", "42"], deps)).rejects.toThrow(/pulumi destroy on pr-42 failed[\s\S]*stack was kept/);
    expect(runner.calls.map((c) => c.op)).toEqual(["destroy"]);
  });

  it("up takes the build's migrations manifest and source commit for the run, validated first", async () => {
    const fs = await import("fs");
    const os = await import("os");
    const path = await import("path");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "manifest-"));
    const manifest = { hash: `sha256:${"2".repeat(64)}`, files: [{ name: "001_init.sql", sha256: "3".repeat(64), phase: "expand", skipOn: [] }] };
    fs.writeFileSync(path.join(dir, "good.json"), JSON.stringify(manifest));
    fs.writeFileSync(path.join(dir, "bad.json"), JSON.stringify({ hash: "nope" }));
    const commit = "e".repeat(40);
    const { runner, deps } = setup();
    await expect(previewEnv(["up", "42", "--digest", A, "--migrations", path.join(dir, "bad.json")], deps)).rejects.toThrow(/is not a migrations manifest: hash: sha256: followed by 64/);
    await expect(previewEnv(["up", "42", "--digest", A, "--source-commit", "abc"], deps)).rejects.toThrow(/not a full 40-hex commit/);
    expect(runner.calls).toEqual([]);
    expect(await previewEnv(["up", "42", "--digest", A, "--migrations", path.join(dir, "good.json"), "--source-commit", commit], deps)).toBe(0);
    expect(runner.configAtUp).toEqual([
      { stack: "pr-42", config: { "renewa:imageDigest": A, "renewa:migrations": JSON.stringify(manifest), "renewa:sourceCommit": commit } },
    ]);
    expect(runner.stacks.get("pr-42")!.config).toEqual({});
  });

  it("--dry-run prints the plan and changes nothing", async () => {
    const { runner, out, deps } = setup({ "pr-42": {} });
    expect(await previewEnv(["up", "42", "--digest", A, "--dry-run"], deps)).toBe(0);
    expect(await previewEnv(["destroy", "42", "--dry-run"], deps)).toBe(0);
    expect(out.text()).toContain(`1. for this run: renewa:imageDigest ${A} on pr-42`);
    expect(out.text()).toContain("2. pulumi stack rm pr-42 (its config and history)");
    expect(runner.calls).toEqual([]);
  });
});
