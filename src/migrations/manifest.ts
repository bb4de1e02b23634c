/**
 * The migrations manifest: what this program knows about the migrations that travel with an image.
 *
 * The application repository (renewa/renewa-one) owns the Atlas migrations folder; its CI builds the image and, from
 * the same commit, this manifest (`npm run migrations-manifest -- <dir>` here). The manifest then travels with the
 * image digest through development → staging → production, so every stage knows, without the folder:
 * - `hash`: the content hash that decides the pre-deploy backup and the PR database recreation;
 * - `files`: each migration's name, content hash, phase (expand → migrate → contract) and the environments its
 *   `renewa:atlas:skip-on` directive skips, which Path A needs to know whether an older image still fits the schema.
 *
 * In-file directives, SQL line comments anywhere in the file:
 *   -- renewa:phase expand|migrate|contract
 *   -- renewa:atlas:skip-on staging,production      (comma- or space-separated environment names)
 * A file without a phase directive is classified from its statements: one that drops or renames a table or column
 * is a contract migration (the previous image may still use what it removes); otherwise expand.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import { hashMigrations } from "../migrations-hash";
import { findRemovals } from "./sql-removals";

export const MIGRATION_PHASES = ["expand", "migrate", "contract"] as const;
export type MigrationPhase = (typeof MIGRATION_PHASES)[number];

const HEX64 = /^[0-9a-f]{64}$/;

export const migrationFileSchema = z.strictObject({
  /** File name inside the migrations folder, e.g. `20260301120000_drop_legacy_email.sql`; Atlas applies in name order. */
  name: z.string().regex(/^[A-Za-z0-9._-]+\.sql$/, "a migration file name ending in .sql"),
  /** sha256 of the file's bytes, hex. */
  sha256: z.string().regex(HEX64, "64 lowercase hex digits"),
  phase: z.enum(MIGRATION_PHASES),
  /** Environments (development, staging, production, pr) in which Atlas skips this file. */
  skipOn: z.array(z.string().regex(/^[a-z0-9-]+$/)),
});

export const migrationsManifestSchema = z.strictObject({
  /** `sha256:<hex>` over the whole folder, as `hashMigrations` computes it. */
  hash: z.string().regex(/^sha256:[0-9a-f]{64}$/, "sha256: followed by 64 lowercase hex digits"),
  /** Every migration, in the order Atlas applies them. */
  files: z.array(migrationFileSchema),
});

export type MigrationFile = z.infer<typeof migrationFileSchema>;
export type MigrationsManifest = z.infer<typeof migrationsManifestSchema>;

const PHASE_DIRECTIVE = /^\s*--\s*renewa:phase\s+(\S+)\s*$/im;
const SKIP_ON_DIRECTIVE = /^\s*--\s*renewa:atlas:skip-on\s+(.+?)\s*$/gim;
const DESTRUCTIVE = /\b(drop\s+(table|column|view|type|schema)|rename\s+(to|column)|alter\s+table\s+\S+\s+drop\b)/i;

/** Phase and skip-on of one migration's SQL text; `file` names it in errors. */
export function classifyMigration(file: string, sql: string): Pick<MigrationFile, "phase" | "skipOn"> {
  const phaseMatch = PHASE_DIRECTIVE.exec(sql);
  let phase: MigrationPhase;
  if (phaseMatch) {
    const given = phaseMatch[1].toLowerCase();
    if (!(MIGRATION_PHASES as readonly string[]).includes(given)) {
      throw new Error(`${file}: renewa:phase "${phaseMatch[1]}" is not one of ${MIGRATION_PHASES.join(", ")}`);
    }
    phase = given as MigrationPhase;
  } else {
    const code = sql.replace(/--.*$/gm, "");
    // Either test: the N-1 check's statement parser also catches `RENAME a TO b` and materialized views.
    phase = DESTRUCTIVE.test(code) || findRemovals(sql).length > 0 ? "contract" : "expand";
  }
  const skipOn = [...sql.matchAll(SKIP_ON_DIRECTIVE)].flatMap((m) => m[1].split(/[\s,]+/).filter(Boolean));
  return { phase, skipOn: [...new Set(skipOn)].sort() };
}

/** The manifest of a migrations folder: the `.sql` files in name order, classified, and the folder's hash. */
export function buildManifest(dir: string): MigrationsManifest {
  const hash = hashMigrations(dir);
  const files = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".sql"))
    .map((e) => e.name)
    .sort()
    .map((name) => {
      const bytes = fs.readFileSync(path.join(dir, name));
      return { name, sha256: createHash("sha256").update(bytes).digest("hex"), ...classifyMigration(name, bytes.toString("utf8")) };
    });
  return migrationsManifestSchema.parse({ hash, files });
}
