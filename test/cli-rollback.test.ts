import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { githubRecordReader } from "../src/cli/record-reader";
import { pickTarget, rollback } from "../src/cli/rollback";
import { DeploymentRecordData, formatRecord, recordKey } from "../src/deployment-record-format";
import { runTs } from "./harness/engine";
import { GithubIssuesFake, createGithubIssuesFake } from "./fakes/github-issues";
import { FakeStackRunner, recordingIo } from "./fakes/stack-runner";
import { tempProject } from "./fixtures/stack-files";

const A = `sha256:${"a".repeat(64)}`;
const B = `sha256:${"b".repeat(64)}`;
const C = `sha256:${"c".repeat(64)}`;
const TOKEN = "ghs_rollback-test-token";

function rec(stack: string, releaseVersion: number, digest: string, previousDigest: string | null): DeploymentRecordData {
  return {
    schema: 1,
    key: recordKey(`renewa-app-${stack}`, releaseVersion),
    app: `renewa-app-${stack}`,
    stack,
    environment: stack,
    digest,
    previousDigest,
    backupId: `bkp_v${releaseVersion}`,
    releaseVersion,
    commit: `${releaseVersion}`.repeat(40).slice(0, 40),
    recordedAt: `2026-06-0${releaseVersion}T10:00:00.000Z`,
    override: false,
  };
}

// production ran A (v1), then B (v2), then C (v3, running now). Staging ran all three.
const PRODUCTION = [rec("production", 3, C, B), rec("production", 2, B, A), rec("production", 1, A, null)];

let github: GithubIssuesFake;
beforeAll(async () => {
  github = await createGithubIssuesFake({ token: TOKEN });
  process.env.GITHUB_TOKEN = TOKEN;
  process.env.GITHUB_API_URL = github.fake.url;
  // Oldest first, as they were written; plus noise the reader must skip.
  for (const r of [...PRODUCTION].reverse()) github.seed({ ...formatRecord(r), labels: ["deployment-record", "env:production"] });
  github.seed({ ...formatRecord(rec("staging", 9, A, null)), labels: ["deployment-record", "env:staging"] });
  github.seed({ title: "broken", body: "<!-- deployment-record -->\n```json\n{oops\n```\n<!-- /deployment-record -->", labels: ["deployment-record", "env:production"] });
});
afterAll(async () => {
  delete process.env.GITHUB_TOKEN;
  delete process.env.GITHUB_API_URL;
  await github.stop();
});

function setup(answers?: string[]) {
  const runner = new FakeStackRunner({
    staging: { outputs: { imageDigest: C, releasedDigests: [C, B, A] } },
    production: { outputs: { imageDigest: C, releaseVersion: 3 } },
  });
  const out = recordingIo(answers);
  const deps = {
    io: out.io,
    runner,
    workDir: tempProject(),
    records: (cfg: { githubOwner: string; githubRepository: string }) =>
      githubRecordReader({ owner: cfg.githubOwner, repository: cfg.githubRepository }),
  };
  return { runner, out, deps };
}

describe("npm run rollback", () => {
  it("--help runs through the npm script's entry point", () => {
    const res = runTs("src/cli/rollback.ts", ["--help"]);
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/^Usage: npm run rollback -- <env> \[--to sha256:…\] \[--yes\] \[--dry-run\]/);
    expect(res.stdout).toContain("Path B");
  });

  it("rejects bad arguments with the reason", async () => {
    const { runner, deps } = setup();
    await expect(rollback([], deps)).rejects.toThrow(/expected 1 argument\(s\) \(<env>\), got none/);
    await expect(rollback(["pr-4"], deps)).rejects.toThrow(/"pr-4" cannot be rolled back.*preview-env/);
    await expect(rollback(["production", "--to", "v12"], deps)).rejects.toThrow(/--to "v12" is not an image digest/);
    await expect(rollback(["production", "--to", `sha256:${"d".repeat(64)}`, "--yes"], deps)).rejects.toThrow(/not in production's deployment records/);
    expect(runner.calls).toEqual([]);
  });

  it("--dry-run finds the previous successful digest in the records and changes nothing", async () => {
    const { runner, out, deps } = setup();
    expect(await rollback(["production", "--dry-run"], deps)).toBe(0);
    const text = out.text();
    expect(text).toContain(`running now:  ${C} (release v3`);
    expect(text).toContain(`roll back to: ${B} (release v2, 2026-06-02T10:00:00.000Z, commit 222222222222, issue #2)`);
    expect(text).toContain("pre-deploy backup of the running release: bkp_v3");
    expect(text).toContain(`1. for this run: renewa:imageDigest ${B} on production (the stack keeps it as its pinnedDigest output)`);
    expect(text).toContain("Dry run: nothing was changed.");
    expect(out.errors.join("\n")).toMatch(/issue #5 is labelled deployment-record but unreadable \(record block is not valid JSON/);
    expect(runner.calls).toEqual([]);
  });

  it("asks for confirmation, and a wrong answer changes nothing", async () => {
    const { runner, out, deps } = setup(["yes"]);
    expect(await rollback(["production"], deps)).toBe(1);
    expect(out.questions[0]).toBe(`Roll production back to ${B}? Type "production" to continue: `);
    expect(out.text()).toContain("Aborted: nothing was changed.");
    expect(runner.calls).toEqual([]);
  });

  it("without a terminal it needs --yes", async () => {
    const { runner, deps } = setup();
    await expect(rollback(["production"], deps)).rejects.toThrow(/no terminal to ask on; re-run with --yes/);
    expect(runner.calls).toEqual([]);
  });

  it("confirmed, it pins the previous digest and runs up", async () => {
    const { runner, out, deps } = setup(["production"]);
    expect(await rollback(["production"], deps)).toBe(0);
    expect(runner.calls).toEqual([
      { op: "setConfig", stack: "production", key: "renewa:imageDigest", value: B },
      { op: "setConfig", stack: "production", key: "renewa:sourceCommit", value: "2".repeat(40) },
      { op: "up", stack: "production" },
      { op: "removeConfig", stack: "production", key: "renewa:imageDigest" },
      { op: "removeConfig", stack: "production", key: "renewa:sourceCommit" },
    ]);
    expect(out.text()).toMatch(/Rolled back production to sha256:b+ \(release v4; 1 update, 14 same\)/);
    expect(out.text()).toContain("there is no file to commit");
    expect(out.text()).toContain("`npm run promote -- staging production` removes the pin");
  });

  it("--to picks an older known-good digest, --yes skips the prompt", async () => {
    const { runner, deps } = setup();
    expect(await rollback(["production", "--to", A, "--yes"], deps)).toBe(0);
    expect(runner.calls[0]).toEqual({ op: "setConfig", stack: "production", key: "renewa:imageDigest", value: A });
  });

  it("pickTarget skips every record of the running digest", () => {
    const records = [rec("staging", 4, B, B), rec("staging", 3, B, A), rec("staging", 2, A, null)];
    expect(pickTarget("staging", records, B, undefined).digest).toBe(A);
    expect(() => pickTarget("staging", [rec("staging", 1, B, null)], B, undefined)).toThrow(/no successful digest older than/);
    expect(() => pickTarget("staging", records, B, B)).toThrow(/already runs/);
  });

  it("a second rollback goes further back, not forward to the digest just rolled back from", () => {
    // A → B → C, then rolled back to B (v4). Rolling back again must pick A.
    const records = [rec("production", 4, B, C), rec("production", 3, C, B), rec("production", 2, B, A), rec("production", 1, A, null)];
    expect(pickTarget("production", records, B, undefined).digest).toBe(A);
    // Running a digest without a record of its own (its record failed): the newest other record.
    expect(pickTarget("production", records, `sha256:${"e".repeat(64)}`, undefined).digest).toBe(B);
  });
});

describe("rollback pins that hold", () => {
  it("after a rollback, a later up (from main, no config) keeps the rolled-back digest until a promotion moves it on", async () => {
    const { runner, deps } = setup(["production"]);
    expect(await rollback(["production"], deps)).toBe(0);
    expect(runner.stacks.get("production")!.outputs).toMatchObject({ imageDigest: B, pinnedDigest: B });
    expect(runner.stacks.get("production")!.config).toEqual({});
    // A later `pulumi up -s production` from a fresh checkout of main: the stack file has no pin in it.
    await runner.up("production", () => undefined);
    expect(runner.stacks.get("production")!.outputs.imageDigest).toBe(B);
    // A promotion moves it on, and drops the pin.
    const { promote } = await import("../src/cli/promote");
    expect(await promote(["staging", "production"], { io: recordingIo().io, runner, workDir: deps.workDir })).toBe(0);
    expect(runner.stacks.get("production")!.outputs.imageDigest).toBe(C);
    expect(runner.stacks.get("production")!.outputs.pinnedDigest).toBeUndefined();
  });
});

describe("rollback --to and the records agree", () => {
  it("with no deployment records at all, the error's advice works: --to is taken on the operator's word", async () => {
    const { runner, out, deps } = setup();
    const none = { ...deps, records: () => ({ list: async () => ({ records: [], unreadable: [] }) }) };
    await expect(rollback(["production", "--yes"], none)).rejects.toThrow(/no deployment records for production .*Pass --to with a digest you know production ran/);
    expect(await rollback(["production", "--to", B, "--yes"], none)).toBe(0);
    expect(runner.configAtUp[0].config["renewa:imageDigest"]).toBe(B);
    expect(out.errors.join("\n")).toMatch(/production has no deployment records, so nothing confirms that production ran sha256:b+/);
    expect(out.text()).toContain(`roll back to: ${B} (no deployment record)`);
  });
});
