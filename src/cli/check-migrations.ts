/**
 * `npm run check-migrations -- <dir> [--base <dir-or-manifest>]`: the N-1 CI check of the app's migrations (what
 * `check-migration-n1.sh` did), run by the app repository's CI against the base branch's migrations or the manifest of
 * the digest production runs. Read-only: it reads files and prints findings; exit 1 when a rule is broken.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { MigrationsManifest, buildManifest, migrationsManifestSchema } from "../migrations/manifest";
import { checkN1 } from "../migrations/n1-check";
import { CliIo, CommandSpec, UsageError, expectPositionals, formatHelp, parseCommand, runAsMain } from "./args";

export const CHECK_MIGRATIONS: CommandSpec = {
  name: "check-migrations",
  usage: "<dir> [--base <dir-or-manifest.json>]",
  summary: "N-1 check of a migrations folder: refuse a release that drops or renames what it also stops using.",
  args: [{ name: "dir", help: "the app's migrations folder (Atlas .sql files)" }],
  options: {
    base: {
      type: "string",
      placeholder: "<dir|file>",
      help: "What environments already ran: the base branch's migrations folder, or a migrations manifest (JSON).",
    },
  },
  notes: [
    "Rules for the files not in --base (without it, every file is new):",
    "  1. a released migration is never edited or deleted;",
    "  2. expand and migrate files are additive (no DROP, no RENAME);",
    "  3. a contract file may not drop or rename what an expand/migrate file of the same release still uses:",
    "     that release stops using it, so the previous image still needs it. Contract one release later.",
    "Phases come from `-- renewa:phase expand|migrate|contract`; a file without one that drops or renames is contract.",
    "Read-only: --dry-run changes nothing because nothing is ever changed.",
  ],
  examples: ["../renewa-one/migrations --base /tmp/main-migrations", "../renewa-one/migrations --base migrations-manifest.json"],
};

function readBase(base: string): MigrationsManifest {
  if (!fs.existsSync(base)) throw new UsageError(`--base ${base} does not exist: give the base branch's migrations folder or a manifest JSON file.`);
  if (fs.statSync(base).isDirectory()) return buildManifest(base);
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(base, "utf8"));
  } catch (err) {
    throw new UsageError(`--base ${base} is neither a folder nor JSON: ${(err as Error).message}`);
  }
  const parsed = migrationsManifestSchema.safeParse(json);
  if (!parsed.success) throw new UsageError(`--base ${base} is not a migrations manifest: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return parsed.data;
}

export async function checkMigrations(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(CHECK_MIGRATIONS, argv);
  if (parsed.help) {
    io.out(formatHelp(CHECK_MIGRATIONS));
    return 0;
  }
  const [dir] = expectPositionals(CHECK_MIGRATIONS, parsed);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a folder: give the app's migrations folder.`);
  const base = typeof parsed.values.base === "string" ? readBase(parsed.values.base) : undefined;
  const files = fs
    .readdirSync(dir)
    .filter((n) => n.endsWith(".sql"))
    .sort()
    .map((name) => ({ name, sql: fs.readFileSync(path.join(dir, name), "utf8") }));
  const sha256 = (sql: string) => createHash("sha256").update(Buffer.from(sql, "utf8")).digest("hex");
  const findings = checkN1(files, base, sha256);
  const fresh = files.filter((f) => !base?.files.some((b) => b.name === f.name)).length;
  for (const f of findings) io.err(`${path.join(dir, f.file)}:${f.line}: ${f.message}`);
  if (findings.length) {
    io.out(`check-migrations: ${findings.length} problem(s) in ${fresh} new migration(s) of ${files.length}; the release is refused.`);
    return 1;
  }
  io.out(`check-migrations: ${fresh} new migration(s) of ${files.length} checked${base ? " against the base" : " (no --base: every file is new)"}; N-1 safe.`);
  return 0;
}

if (require.main === module) runAsMain("check-migrations", (argv, io) => checkMigrations(argv, io));
