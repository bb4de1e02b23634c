import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { checkMigrations } from "../src/cli/check-migrations";
import { buildManifest, classifyMigration } from "../src/migrations/manifest";
import { findRemovals } from "../src/migrations/sql-removals";
import { runTs } from "./harness/engine";
import { recordingIo } from "./fakes/stack-runner";

function folder(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "renewa-n1-"));
  for (const [name, sql] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), sql);
  return dir;
}

const RELEASED = {
  "20260101000000_users.sql": "CREATE TABLE users (id bigint primary key, email text, legacy_name text);\n",
  "20260201000000_add_email_normalized.sql": "-- renewa:phase expand\nALTER TABLE users ADD COLUMN email_normalized text;\n",
};

describe("findRemovals", () => {
  it("finds drops and renames of tables and columns, with their lines, ignoring comments", () => {
    const sql = [
      "-- DROP TABLE not_this_one;",
      "DROP TABLE IF EXISTS public.sessions, \"audit_log\";",
      "ALTER TABLE users",
      "  DROP COLUMN legacy_name,",
      "  DROP CONSTRAINT users_email_key;",
      "ALTER TABLE users RENAME COLUMN email TO email_old;",
      "ALTER TABLE accounts RENAME TO customers;",
      "/* ALTER TABLE x DROP COLUMN y; */",
    ].join("\n");
    expect(findRemovals(sql)).toEqual([
      { kind: "table", object: "sessions", verb: "drop", line: 2 },
      { kind: "table", object: "audit_log", verb: "drop", line: 2 },
      { kind: "column", object: "users", column: "legacy_name", verb: "drop", line: 4 },
      { kind: "column", object: "users", column: "email", verb: "rename", line: 6 },
      { kind: "table", object: "accounts", verb: "rename", line: 7 },
    ]);
  });
});

describe("npm run check-migrations (N-1)", () => {
  it("--help runs through the npm script's entry point and states the rules", () => {
    const res = runTs("src/cli/check-migrations.ts", ["--help"]);
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/^Usage: npm run check-migrations -- <dir> \[--base <dir-or-manifest.json>\]/);
    expect(res.stdout).toContain("contract file may not drop or rename what an expand/migrate file of the same release");
  });

  it("rejects a missing folder or a bad base before reading anything else", async () => {
    const out = recordingIo();
    await expect(checkMigrations(["/nonexistent/migrations"], out.io)).rejects.toThrow(/is not a folder/);
    const dir = folder(RELEASED);
    const bad = path.join(dir, "manifest.json");
    fs.writeFileSync(bad, JSON.stringify({ hash: "nope", files: [] }));
    await expect(checkMigrations([dir, "--base", bad], out.io)).rejects.toThrow(/is not a migrations manifest: hash: sha256: followed by 64/);
  });

  it("passes a contract that removes what an EARLIER release stopped using", async () => {
    const base = folder(RELEASED);
    const head = folder({ ...RELEASED, "20260301000000_drop_legacy_name.sql": "-- renewa:phase contract\nALTER TABLE users DROP COLUMN legacy_name;\n" });
    const out = recordingIo();
    expect(await checkMigrations([head, "--base", base], out.io)).toBe(0);
    expect(out.text()).toBe("check-migrations: 1 new migration(s) of 3 checked against the base; N-1 safe.");
  });

  it("refuses a contract in the same release as the migrate that moves off the column, with file and line", async () => {
    const base = folder(RELEASED);
    const head = folder({
      ...RELEASED,
      "20260301000000_backfill.sql": "-- renewa:phase migrate\nUPDATE users\n   SET email_normalized = lower(email);\n",
      "20260301000001_drop_email.sql": "-- renewa:phase contract\n\nALTER TABLE users DROP COLUMN email;\n",
    });
    const out = recordingIo();
    expect(await checkMigrations([head, "--base", base], out.io)).toBe(1);
    expect(out.errors).toEqual([
      `${path.join(head, "20260301000001_drop_email.sql")}:3: drop of column users.email in the same release whose migrate migration 20260301000000_backfill.sql:3 still uses it, so the previous image still depends on it (N-1). Ship 20260301000001_drop_email.sql in a later release, after this one is everywhere.`,
    ]);
    expect(out.text()).toContain("1 problem(s) in 2 new migration(s) of 4; the release is refused.");
  });

  it("refuses a DROP or RENAME in an expand file, and an unmarked destructive file is a contract", async () => {
    const head = folder({
      "20260101000000_users.sql": "-- renewa:phase expand\nCREATE TABLE users (id bigint);\nALTER TABLE users RENAME TO people;\n",
      "20260101000001_add.sql": "ALTER TABLE orders ADD COLUMN note text;\n",
      "20260101000002_drop.sql": "DROP TABLE orders;\n",
    });
    const out = recordingIo();
    expect(await checkMigrations([head], out.io)).toBe(1);
    expect(out.errors[0]).toMatch(/20260101000000_users\.sql:3: rename of table users in a file marked expand/);
    // The unmarked DROP is classified contract, and the same release's expand still uses orders.
    expect(out.errors[1]).toMatch(/20260101000002_drop\.sql:1: drop of table orders in the same release whose expand migration 20260101000001_add\.sql:1/);
  });

  it("reports an unknown phase marker at its line, and classifies an unmarked RENAME … TO as contract", async () => {
    const head = folder({
      "20260101000000_a.sql": "CREATE TABLE a (id bigint);\n-- renewa:phase contracts\n",
      "20260101000001_b.sql": "ALTER TABLE a RENAME id TO a_id;\n",
    });
    const out = recordingIo();
    expect(await checkMigrations([head], out.io)).toBe(1);
    expect(out.errors[0]).toMatch(/20260101000000_a\.sql:2: renewa:phase "contracts" is not one of expand, migrate, contract; mark it expand, migrate or contract\./);
    // The manifest agrees with the check on what is destructive, so Path A sees the rename as a contract too.
    expect(classifyMigration("b.sql", "ALTER TABLE a RENAME id TO a_id;\n").phase).toBe("contract");
    expect(classifyMigration("c.sql", "ALTER TABLE a ADD COLUMN note text;\n").phase).toBe("expand");
  });

  it("refuses an edited or deleted released migration, against a manifest base", async () => {
    const base = folder(RELEASED);
    const manifestFile = path.join(os.tmpdir(), `renewa-n1-manifest-${process.pid}.json`);
    fs.writeFileSync(manifestFile, JSON.stringify(buildManifest(base)));
    const head = folder({ "20260101000000_users.sql": "CREATE TABLE users (id bigint primary key);\n" });
    const out = recordingIo();
    expect(await checkMigrations([head, "--base", manifestFile], out.io)).toBe(1);
    expect(out.errors.join("\n")).toMatch(/20260101000000_users\.sql:1: a released migration was edited/);
    expect(out.errors.join("\n")).toMatch(/20260201000000_add_email_normalized\.sql:1: a released migration was deleted/);
  });
});
