/**
 * Path A across a contract migration, through the whole program (test/harness/up.ts): staging releases D1, then D2
 * whose migrations contract a column; each deployment record says what it applied. Pinning D1 afterwards fails the
 * `up` before anything changes; renewa:allowContractRollback = D1 lets it through, and the new record says so.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRecord } from "../src/deployment-record-format";
import { buildManifest } from "../src/migrations/manifest";
import { Fakes, newStatePath, startFakes, up } from "./harness/up";

const REPO = "renewa-app-development";
const D1 = `sha256:${"3a".repeat(32)}`;
const D2 = `sha256:${"4b".repeat(32)}`;

let fakes: Fakes;
let statePath: string;
const dirs: Record<"v1" | "v2", string> = { v1: "", v2: "" };

function migrations(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "renewa-contract-"));
  for (const [name, sql] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), sql);
  return dir;
}
const records = () => fakes.github.issues.issues.filter((i) => i.labels.includes("deployment-record")).map((i) => ({ title: i.title, record: parseRecord(i.body)! }));
/** staging's up of development's `digest`, whose migrations (the app's folder `dir`) travel with it, as `promote` hands them over. */
const staging = (digest: string, dir: string, config: Record<string, string> = {}) => {
  const manifest = buildManifest(dir);
  return up(fakes, "staging", {
    statePath,
    config: { "renewa:migrations": JSON.stringify(manifest), ...config },
    stackOutputs: { development: { imageDigest: digest, migrations: manifest } },
  });
};

beforeAll(async () => {
  fakes = await startFakes({ timeScale: 0.01 });
  fakes.registry.push(REPO, D1);
  fakes.registry.push(REPO, D2);
  statePath = newStatePath();
  const users = "-- renewa:phase expand\nCREATE TABLE users (id bigint primary key, legacy_name text);\n";
  dirs.v1 = migrations({ "20260101000000_users.sql": users });
  dirs.v2 = migrations({ "20260101000000_users.sql": users, "20260201000000_drop_legacy_name.sql": "-- renewa:phase contract\nALTER TABLE users DROP COLUMN legacy_name;\n" });
});

afterAll(async () => {
  await fakes?.close();
  for (const dir of [...Object.values(dirs), path.dirname(statePath)]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("pinning a digest released before a contract migration", () => {
  it("records which migrations each release applied", async () => {
    expect((await staging(D1, dirs.v1)).ok).toBe(true);
    const second = await staging(D2, dirs.v2);
    expect(second.ok, second.errors.join("\n")).toBe(true);
    const [v1, v2] = records().map((r) => r.record);
    expect(v1.migrations).toMatchObject({ head: "20260101000000_users.sql", applied: [{ name: "20260101000000_users.sql", phase: "expand" }] });
    expect(v2.migrations).toMatchObject({ head: "20260201000000_drop_legacy_name.sql", applied: [{ name: "20260201000000_drop_legacy_name.sql", phase: "contract" }] });
  });

  it("fails the up before any change, naming the migration and the release that ran it", async () => {
    const marks = new Map(Object.values(fakes.servers).map((f) => [f, f.log.length]));
    const run = await staging(D2, dirs.v2, { "renewa:imageDigest": D1 });
    expect(run.ok).toBe(false);
    const text = run.errors.join("\n");
    expect(text).toContain(`staging refuses to go back to ${D1}: 1 contract migration(s) ran since it was released`);
    expect(text).toContain(`20260201000000_drop_legacy_name.sql, run by release v2 (${D2}`);
    for (const server of Object.values(fakes.servers)) {
      const writes = server.log.slice(marks.get(server)).filter((l) => l.method !== "GET" && l.method !== "HEAD");
      expect(writes.map((w) => `${w.method} ${w.path}`)).toEqual([]);
    }
    expect(records()).toHaveLength(2);
  });

  it("renewa:allowContractRollback = that digest deploys it and the record names the override", async () => {
    const run = await staging(D2, dirs.v2, { "renewa:imageDigest": D1, "renewa:allowContractRollback": D1 });
    expect(run.ok, run.errors.join("\n")).toBe(true);
    expect(run.outputs.imageDigest).toBe(D1);
    const v3 = records()[2];
    expect(v3.title).toContain("[CONTRACT ROLLBACK OVERRIDE]");
    expect(v3.record).toMatchObject({ digest: D1, contractRollback: ["20260201000000_drop_legacy_name.sql"] });
    // The older image applied nothing; the schema stays at the contract.
    expect(v3.record.migrations).toMatchObject({ head: "20260201000000_drop_legacy_name.sql", applied: [] });
  });
});
