import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { repoint } from "../src/cli/repoint";
import { setConfigValue } from "../src/cli/stack-file";
import { runTs } from "./harness/engine";
import { FakeStackRunner, recordingIo } from "./fakes/stack-runner";
import { STACK_FILES, tempProject } from "./fixtures/stack-files";

function setup() {
  const runner = new FakeStackRunner({ production: {}, staging: {} });
  const out = recordingIo();
  const workDir = tempProject();
  const read = (stack: string) => fs.readFileSync(path.join(workDir, `Pulumi.${stack}.yaml`), "utf8");
  return { runner, out, workDir, read, deps: { io: out.io, runner, workDir } };
}

describe("npm run repoint", () => {
  it("--help runs through the npm script's entry point", () => {
    const res = runTs("src/cli/repoint.ts", ["--help"]);
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/^Usage: npm run repoint -- <env> <cluster-id> \[--dry-run\]/);
    expect(res.stdout).toContain("fly mpg restore");
  });

  it("rejects bad arguments and leaves the file alone", async () => {
    const { runner, read, deps } = setup();
    await expect(repoint(["production"], deps)).rejects.toThrow(/expected 2 argument\(s\) \(<env> <cluster-id>\), got "production"/);
    await expect(repoint(["pr-3", "abcdef-123"], deps)).rejects.toThrow(/"pr-3" has no cluster of its own/);
    await expect(repoint(["production", "Bad_ID"], deps)).rejects.toThrow(/cluster id "Bad_ID" is invalid: expected a Fly MPG cluster id/);
    expect(read("production")).toBe(STACK_FILES["Pulumi.production.yaml"]);
    expect(runner.calls).toEqual([]);
  });

  it("--dry-run shows the one-line change and writes nothing", async () => {
    const { runner, out, read, deps } = setup();
    expect(await repoint(["production", "renewa-prod-restored-0612", "--dry-run"], deps)).toBe(0);
    expect(out.lines).toContain("     line 4 -   renewa:mpgClusterId: renewa-production-mpg");
    expect(out.lines).toContain("     line 4 +   renewa:mpgClusterId: renewa-prod-restored-0612");
    expect(out.text()).toContain("Dry run: nothing was changed.");
    expect(read("production")).toBe(STACK_FILES["Pulumi.production.yaml"]);
    expect(runner.calls).toEqual([]);
  });

  it("edits only the cluster id, keeping comments, then runs up", async () => {
    const { runner, out, read, deps } = setup();
    expect(await repoint(["staging", "renewa-staging-mpg-0612"], deps)).toBe(0);
    const before = STACK_FILES["Pulumi.staging.yaml"].split("\n");
    const after = read("staging").split("\n");
    expect(after).toHaveLength(before.length);
    const changed = after.map((l, i) => [before[i], l]).filter(([a, b]) => a !== b);
    // The trailing comment on the same line survives too.
    expect(changed).toEqual([["  renewa:mpgClusterId: renewa-staging-mpg # staging cluster", "  renewa:mpgClusterId: renewa-staging-mpg-0612 # staging cluster"]]);
    expect(runner.calls).toEqual([{ op: "up", stack: "staging" }]);
    expect(out.text()).toContain("Wrote renewa:mpgClusterId: renewa-staging-mpg-0612 to Pulumi.staging.yaml (was renewa-staging-mpg).");
    expect(out.text()).toMatch(/Next: commit Pulumi.staging.yaml; update the env → cluster map .*delete renewa-staging-mpg only after that/);
  });

  it("repeating it is a no-op that says so", async () => {
    const { runner, out, deps } = setup();
    await repoint(["staging", "renewa-staging-mpg"], deps);
    expect(out.text()).toContain("staging already points at renewa-staging-mpg");
    expect(runner.calls).toEqual([]);
  });

  it("setConfigValue adds a missing key and keeps comments", () => {
    const { text, previous } = setConfigValue("# top\nconfig:\n  # keep me\n  renewa:machineCount: 2\n", "renewa:mpgClusterId", "abcdef-1");
    expect(previous).toBeUndefined();
    expect(text).toContain("# top");
    expect(text).toContain("# keep me");
    expect(text).toContain("renewa:mpgClusterId: abcdef-1");
  });
});
