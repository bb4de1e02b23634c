/**
 * The drops and renames in a migration's SQL, with their lines: what a contract migration removes. Shared by the
 * manifest's phase classification and the N-1 check, so both agree on what counts as destructive.
 */

/** What one destructive statement removes. */
export interface Removal {
  kind: "table" | "column" | "view" | "type" | "schema";
  /** The table (for a column) or the object itself, unquoted, without schema. */
  object: string;
  column?: string;
  verb: "drop" | "rename";
  line: number;
}

/** Blanks out SQL comments (`--` lines and block comments) but keeps every newline, so offsets map to lines. */
export function stripComments(sql: string): string {
  return sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, " "));
}

export const lineAt = (text: string, index: number) => text.slice(0, index).split("\n").length;
const IDENT = String.raw`(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)(?:\.(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*))?`;
const bare = (ident: string) => ident.split(".").pop()!.replace(/"/g, "").toLowerCase();

/** Every drop and rename in a migration's SQL, with its line. */
export function findRemovals(sql: string): Removal[] {
  const code = stripComments(sql);
  const out: Removal[] = [];
  const drop = new RegExp(String.raw`\bdrop\s+(table|view|materialized\s+view|type|schema)\s+(?:if\s+exists\s+)?(${IDENT}(?:\s*,\s*${IDENT})*)`, "gi");
  for (const m of code.matchAll(drop)) {
    const kind = m[1].toLowerCase().endsWith("view") ? "view" : (m[1].toLowerCase() as Removal["kind"]);
    for (const name of m[2].split(",")) out.push({ kind, object: bare(name.trim()), verb: "drop", line: lineAt(code, m.index!) });
  }
  const alter = new RegExp(String.raw`\balter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?(${IDENT})([^;]*)`, "gi");
  for (const m of code.matchAll(alter)) {
    const table = bare(m[1]);
    const body = m[2];
    const at = (offset: number) => lineAt(code, m.index! + m[0].length - body.length + offset);
    const dropColumn = new RegExp(String.raw`\bdrop\s+(?!constraint\b)(?:column\s+)?(?:if\s+exists\s+)?(${IDENT})`, "gi");
    for (const d of body.matchAll(dropColumn)) out.push({ kind: "column", object: table, column: bare(d[1]), verb: "drop", line: at(d.index!) });
    const renameTable = /\brename\s+to\s+/i.exec(body);
    if (renameTable) out.push({ kind: "table", object: table, verb: "rename", line: at(renameTable.index) });
    const renameColumn = new RegExp(String.raw`\brename\s+(?!to\b)(?:column\s+)?(${IDENT})\s+to\b`, "gi");
    for (const r of body.matchAll(renameColumn)) out.push({ kind: "column", object: table, column: bare(r[1]), verb: "rename", line: at(r.index!) });
  }
  return out.sort((a, b) => a.line - b.line);
}
