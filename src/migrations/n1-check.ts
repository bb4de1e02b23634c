/**
 * The N-1 check of a release's migrations (the job of the app's `check-migration-n1.sh`), from SQL text alone.
 *
 * The previous image must keep working after its successor's migrations ran. The app's code diff is not available
 * here, so "what the app stops using" is read from the migrations themselves: expand → migrate → contract means the
 * release that moves the app off a table or column carries the expand/migrate migrations that add its replacement
 * or copy its data, and only a LATER release may contract it. The rules, for the release's new files (those not in
 * the base):
 *   1. A released migration (in the base) is never edited or deleted: Atlas has applied it, and a changed checksum or a
 *      missing file breaks every environment that ran it.
 *   2. An expand or migrate file is additive: a DROP or RENAME in a file marked `renewa:phase expand|migrate` is refused.
 *   3. A contract file may not remove (drop or rename) anything an expand or migrate file of the SAME release mentions:
 *      that release is the one that stops using it, so its predecessor still uses it. Ship the contract one release
 *      later. A column counts as mentioned when the file names both its table and the column.
 * Every finding names the file and line of the statement and, for rule 3, the line that still uses the object.
 */
import { MigrationPhase, MigrationsManifest, classifyMigration } from "./manifest";
import { Removal, findRemovals, stripComments } from "./sql-removals";

export interface MigrationSource {
  name: string;
  sql: string;
}

export interface N1Finding {
  file: string;
  line: number;
  message: string;
}

/** The first line of `sql` that names the removed object (for a column: a line naming it, in a file naming its table). */
function mentionLine(sql: string, r: Removal): number | undefined {
  const code = stripComments(sql);
  const word = (w: string) => new RegExp(String.raw`(?<![A-Za-z0-9_$])"?${w.replace(/[$]/g, "\\$")}"?(?![A-Za-z0-9_$])`, "i");
  if (!word(r.object).test(code)) return undefined;
  const target = word(r.column ?? r.object);
  const index = code.split("\n").findIndex((l) => target.test(l));
  return index < 0 ? undefined : index + 1;
}

const what = (r: Removal) => (r.column ? `column ${r.object}.${r.column}` : `${r.kind} ${r.object}`);

/**
 * Checks a release: `files` is the whole migrations folder (name order), `base` the manifest of the release before it
 * (what environments already ran), or undefined to treat every file as new.
 */
export function checkN1(files: MigrationSource[], base: MigrationsManifest | undefined, sha256: (sql: string) => string): N1Finding[] {
  const findings: N1Finding[] = [];
  const released = new Map((base?.files ?? []).map((f) => [f.name, f]));
  const present = new Set(files.map((f) => f.name));
  for (const f of base?.files ?? []) {
    if (!present.has(f.name)) findings.push({ file: f.name, line: 1, message: "a released migration was deleted; environments that ran it keep its effects and Atlas reports the folder as out of sync. Restore the file and undo its effect in a new migration." });
  }
  const fresh: Array<MigrationSource & { phase: MigrationPhase }> = [];
  for (const f of files) {
    const old = released.get(f.name);
    if (old) {
      if (old.sha256 !== sha256(f.sql)) findings.push({ file: f.name, line: 1, message: "a released migration was edited (its sha256 differs from the base); environments already applied the old text. Put the change in a new migration." });
      continue;
    }
    try {
      fresh.push({ ...f, phase: classifyMigration(f.name, f.sql).phase });
    } catch (err) {
      const line = f.sql.split("\n").findIndex((l) => /renewa:phase/.test(l)) + 1;
      findings.push({ file: f.name, line: Math.max(line, 1), message: `${(err as Error).message.replace(`${f.name}: `, "")}; mark it expand, migrate or contract.` });
    }
  }
  for (const f of fresh.filter((x) => x.phase !== "contract")) {
    for (const r of findRemovals(f.sql)) {
      findings.push({ file: f.name, line: r.line, message: `${r.verb} of ${what(r)} in a file marked ${f.phase}: expand and migrate are additive, so the previous image keeps working. Move it to a contract migration (-- renewa:phase contract) in a later release.` });
    }
  }
  const users = fresh.filter((x) => x.phase !== "contract");
  for (const f of fresh.filter((x) => x.phase === "contract")) {
    for (const r of findRemovals(f.sql)) {
      for (const u of users) {
        const line = mentionLine(u.sql, r);
        if (line === undefined) continue;
        findings.push({
          file: f.name,
          line: r.line,
          message: `${r.verb} of ${what(r)} in the same release whose ${u.phase} migration ${u.name}:${line} still uses it, so the previous image still depends on it (N-1). Ship ${f.name} in a later release, after this one is everywhere.`,
        });
      }
    }
  }
  return findings.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}
