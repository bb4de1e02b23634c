/**
 * A stable content hash of the migrations folder. It decides when a pre-deploy backup is taken and when a PR's
 * database is recreated, so it must change with any migration's content or name and with nothing else: paths are
 * relative with `/` separators and sorted, and file modes and timestamps are ignored.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

function filesUnder(root: string, dir = ""): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...filesUnder(root, rel));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

/** `sha256:<hex>` over every file's relative path and bytes, in sorted path order. */
export function hashMigrations(dir: string): string {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new Error(`Migrations folder ${dir} does not exist or is not a folder; pass the app repository's migrations folder.`);
  }
  const hash = createHash("sha256");
  for (const rel of filesUnder(dir).sort()) {
    const content = fs.readFileSync(path.join(dir, rel));
    // Length-prefixed so that no path/content split can collide with another.
    hash.update(`${Buffer.byteLength(rel)}:${rel}\n${content.length}:`);
    hash.update(content);
  }
  return `sha256:${hash.digest("hex")}`;
}
