/**
 * `npm run migrations-manifest -- <dir>`: prints the migrations manifest of a folder as JSON (the app repository's
 * CI runs it on the commit it builds the image from). The JSON is what `renewa:migrations` takes and what
 * `npm run preview-env -- up … --migrations <file>` reads.
 */
import * as fs from "fs";
import { buildManifest } from "../migrations/manifest";
import { CliIo, CommandSpec, UsageError, expectPositionals, formatHelp, parseCommand, runAsMain } from "./args";

export const MIGRATIONS_MANIFEST: CommandSpec = {
  name: "migrations-manifest",
  usage: "<dir>",
  summary: "Print the migrations manifest (hash, and each file's phase and skip-on environments) of a folder as JSON.",
  args: [{ name: "dir", help: "the migrations folder, e.g. ../renewa-one/migrations" }],
  options: {},
  notes: ["The hash decides the pre-deploy backup and the PR database recreation; see src/migrations/manifest.ts."],
  examples: ["../renewa-one/migrations", "app/migrations > migrations.json"],
};

export async function migrationsManifest(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(MIGRATIONS_MANIFEST, argv);
  if (parsed.help) {
    io.out(formatHelp(MIGRATIONS_MANIFEST));
    return 0;
  }
  const [dir] = expectPositionals(MIGRATIONS_MANIFEST, parsed);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a folder.`);
  io.out(JSON.stringify(buildManifest(dir)));
  return 0;
}

if (require.main === module) {
  runAsMain("migrations-manifest", migrationsManifest);
}
