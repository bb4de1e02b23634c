/**
 * Path A across migrations: `npm run rollback` refuses a digest released before a contract migration that has since
 * run, names the migration, its release and what to do instead, and `--allow-contract-rollback` overrides loudly.
 */
import { describe, expect, it } from "vitest";
import { rollback } from "../src/cli/rollback";
import { DeploymentRecordData, recordKey } from "../src/deployment-record-format";
import { contractMigrationsSince, recordedMigrations } from "../src/migrations/rollback-safety";
import { FakeStackRunner, recordingIo } from "./fakes/stack-runner";
import { tempProject } from "./fixtures/stack-files";

const A = `sha256:${"a".repeat(64)}`;
const B = `sha256:${"b".repeat(64)}`;
const C = `sha256:${"c".repeat(64)}`;
const HASH = `sha256:${"1".repeat(64)}`;
type Applied = Array<{ name: string; phase: "expand" | "migrate" | "contract" }>;

function rec(v: number, digest: string, applied: Applied): DeploymentRecordData & { issueNumber: number; issueUrl: string } {
  return {
    schema: 1,
    key: recordKey("renewa-app-production", v),
    app: "renewa-app-production",
    stack: "production",
    environment: "production",
    digest,
    previousDigest: null,
    backupId: `bkp_v${v}`,
    releaseVersion: v,
    commit: "f".repeat(40),
    recordedAt: `2026-06-0${v}T10:00:00.000Z`,
    override: false,
    migrations: { hash: HASH, head: applied.at(-1)?.name ?? null, applied },
    issueNumber: 10 + v,
    issueUrl: `https://github.com/renewa/renewa-one/issues/${10 + v}`,
  };
}

// A (v1) → B (v2: expand users.email_normalized) → C (v3: contract drops users.email). C runs now.
const RECORDS = [
  rec(3, C, [{ name: "003_drop_email.sql", phase: "contract" }]),
  rec(2, B, [{ name: "002_add_email_normalized.sql", phase: "expand" }]),
  rec(1, A, [{ name: "001_users.sql", phase: "expand" }]),
];

function setup(records = RECORDS) {
  const runner = new FakeStackRunner({
    staging: { outputs: { imageDigest: C, releasedDigests: [C, B, A] } },
    production: { outputs: { imageDigest: C, releaseVersion: 3 } },
  });
  const out = recordingIo();
  const deps = { io: out.io, runner, workDir: tempProject(), records: () => ({ list: async () => ({ records, unreadable: [] }) }) };
  return { runner, out, deps };
}

describe("rollback across a contract migration", () => {
  it("refuses, naming the migration, the release that ran it and what to do instead, before anything changes", async () => {
    const { runner, deps } = setup();
    const refusal = rollback(["production", "--dry-run"], deps);
    await expect(refusal).rejects.toThrow(
      `production refuses to go back to ${B}: 1 contract migration(s) ran since it was released, and removed what it may still use:\n  - 003_drop_email.sql, run by release v3 (${C}, record #13)`,
    );
    await expect(rollback(["production", "--yes"], deps)).rejects.toThrow(/fix forward[\s\S]*restore backup bkp_v3 \(taken before release v3's migrations\)[\s\S]*npm run repoint -- production <new-cluster-id>[\s\S]*--allow-contract-rollback/);
    expect(runner.calls).toEqual([]);
  });

  it("--allow-contract-rollback warns loudly, sets the digest-bound override, pins and deploys", async () => {
    const { runner, out, deps } = setup();
    expect(await rollback(["production", "--allow-contract-rollback", "--yes"], deps)).toBe(0);
    expect(out.errors).toContain(`WARNING: going back across contract migration 003_drop_email.sql (release v3); ${B} may fail on the current schema.`);
    expect(out.text()).toContain(`  1. for this run: renewa:allowContractRollback ${B} (--allow-contract-rollback; recorded in the deployment record)`);
    // Set for this one run (with the pin and the source commit), removed after it: nothing left to commit.
    const calls = runner.calls.map((c) => ("key" in c ? `${c.op} ${c.key}` : c.op));
    expect(calls).toEqual([
      "setConfig renewa:imageDigest",
      "setConfig renewa:sourceCommit",
      "setConfig renewa:allowContractRollback",
      "up",
      "removeConfig renewa:imageDigest",
      "removeConfig renewa:sourceCommit",
      "removeConfig renewa:allowContractRollback",
    ]);
    expect(runner.calls.find((c) => "key" in c && c.key === "renewa:allowContractRollback")).toMatchObject({ value: B });
  });

  it("a rollback across expand and migrate only needs no override", async () => {
    const records = [rec(3, C, [{ name: "003_backfill.sql", phase: "migrate" }]), ...RECORDS.slice(1)];
    const { runner, deps } = setup(records);
    expect(await rollback(["production", "--yes"], deps)).toBe(0);
    expect(runner.calls.map((c) => ("key" in c ? c.key : c.op))).not.toContain("renewa:allowContractRollback");
    expect(runner.calls.map((c) => c.op)).toContain("up");
  });

  it("counts every release after the target's newest one, including an earlier rollback", () => {
    // A → B → C (contract) → rolled back to B with the override (v4). Going to A crosses the contract; going forward to C does not.
    const history = [rec(4, B, []), ...RECORDS];
    expect(contractMigrationsSince(history, A).map((c) => c.migration)).toEqual(["003_drop_email.sql"]);
    expect(contractMigrationsSince(history, C)).toEqual([]);
    expect(contractMigrationsSince(history, `sha256:${"d".repeat(64)}`)).toEqual([]);
  });

  it("recordedMigrations: an older image's release applies nothing and the schema head stays", () => {
    const manifest = { hash: HASH, files: [{ name: "001_users.sql", sha256: "0".repeat(64), phase: "expand" as const, skipOn: [] }] };
    expect(recordedMigrations(manifest, "production", "003_drop_email.sql")).toEqual({ hash: HASH, head: "003_drop_email.sql", applied: [] });
    expect(recordedMigrations(manifest, "pr-7", null)).toEqual({ hash: HASH, head: "001_users.sql", applied: [{ name: "001_users.sql", phase: "expand" }] });
  });
});
