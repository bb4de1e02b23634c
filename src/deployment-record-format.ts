/**
 * The deployment-record issue: a readable summary for people, and a machine-readable JSON block between
 * `<!-- deployment-record -->` markers for the rollback command. Pure, so the provider, the rollback command and the
 * tests share one format. Plain checks only (no schema objects), because the provider captures these functions and
 * everything they reference is serialized with it.
 */

import type { RecordedMigrations } from "./migrations/rollback-safety";

export const RECORD_LABEL = "deployment-record";
/** One colour and description wherever the label is made (the development stack, or the record provider first). */
export const RECORD_LABEL_COLOR = "5319e7";
export const RECORD_LABEL_DESCRIPTION = "Deploy record: image digest and pre-deploy backup (rollback source)";
export const RECORD_SCHEMA = 1;
const OPEN = "<!-- deployment-record -->";
const CLOSE = "<!-- /deployment-record -->";

/** One successful release of one app, as written to GitHub. */
export interface DeploymentRecordData {
  schema: number;
  /** Idempotency key: one record per app and release version. */
  key: string;
  app: string;
  stack: string;
  /** GitHub environment the stack deploys through (development, staging, production, pr-preview). */
  environment: string;
  digest: string;
  imageRef?: string;
  previousDigest: string | null;
  /** Pre-deploy backup id from the Database component; null when no backup was taken. */
  backupId: string | null;
  releaseVersion: number;
  commit: string;
  recordedAt: string;
  /** Production deployed a digest staging had not run (renewa:allowUnverifiedPromotion). */
  override: boolean;
  /** Which migrations this release applied, their phase, and the schema version after it; absent in older records. */
  migrations?: RecordedMigrations;
  /** Contract migrations a pinned rollback went back across (renewa:allowContractRollback); absent when none. */
  contractRollback?: string[];
}

/** The idempotency key of a release: `<app>@v<releaseVersion>`. */
export function recordKey(app: string, releaseVersion: number): string {
  return `${app}@v${releaseVersion}`;
}

/** The per-environment label that lets one environment's records be listed without the search index. */
export function environmentLabel(stack: string): string {
  return `env:${stack.startsWith("pr-") ? "pr" : stack}`;
}

function short(digest: string): string {
  return digest.replace(/^sha256:/, "").slice(0, 12);
}

/** Renders a record as an issue title and body. */
export function formatRecord(r: DeploymentRecordData): { title: string; body: string } {
  const flags = `${r.override ? " [UNVERIFIED OVERRIDE]" : ""}${r.contractRollback?.length ? " [CONTRACT ROLLBACK OVERRIDE]" : ""}`;
  const title = `Deployed ${r.app} v${r.releaseVersion} (${short(r.digest)})${flags}`;
  const row = (k: string, v: string) => `| ${k} | ${v} |`;
  const code = (v: string | null) => (v ? `\`${v}\`` : "none");
  const lines = [
    `Release **v${r.releaseVersion}** of \`${r.app}\` rolled out successfully to **${r.environment}** (stack \`${r.stack}\`).`,
    "",
    "| Field | Value |",
    "|---|---|",
    row("Environment", r.environment),
    row("Stack", `\`${r.stack}\``),
    row("Digest", code(r.digest)),
    ...(r.imageRef ? [row("Image", code(r.imageRef))] : []),
    row("Previous digest", code(r.previousDigest)),
    row("Pre-deploy backup", code(r.backupId)),
    row("Release version", String(r.releaseVersion)),
    row("Commit", code(r.commit)),
    row("Recorded at", r.recordedAt),
    row("Promotion override", r.override ? "**yes**: production deployed a digest staging had not run" : "no"),
    ...(r.migrations
      ? [
          row("Schema version", code(r.migrations.head)),
          row("Migrations applied", r.migrations.applied.length ? r.migrations.applied.map((m) => `\`${m.name}\` (${m.phase})`).join(", ") : "none"),
        ]
      : []),
    ...(r.contractRollback?.length ? [row("Contract rollback override", `**yes**: went back across ${r.contractRollback.map((m) => `\`${m}\``).join(", ")}`)] : []),
    "",
    r.previousDigest
      ? `Roll back (Path A, image only): \`npm run rollback -- ${r.stack}\` re-promotes the previous successful digest.`
      : "No previous digest: this was the first release of this app.",
    "Written by the platform's `pulumi up`; the block below is read by `npm run rollback`. Do not edit it.",
    "",
    OPEN,
    "```json",
    JSON.stringify(r, null, 2),
    "```",
    CLOSE,
  ];
  return { title, body: lines.join("\n") };
}

/** Thrown when an issue claims to be a record but its block cannot be read. */
export class RecordFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RecordFormatError";
  }
}

/** Reads the JSON block of a record body. Undefined when the body has no block; throws when the block is broken. */
export function parseRecord(body: string | null | undefined): DeploymentRecordData | undefined {
  if (!body) return undefined;
  const start = body.indexOf(OPEN);
  if (start < 0) return undefined;
  const end = body.indexOf(CLOSE, start);
  if (end < 0) throw new RecordFormatError(`record block opened with ${OPEN} but never closed with ${CLOSE}`);
  const fenced = /```json\s*\n([\s\S]*?)\n```/.exec(body.slice(start + OPEN.length, end));
  if (!fenced) throw new RecordFormatError("record block has no ```json fence");
  let data: unknown;
  try {
    data = JSON.parse(fenced[1]);
  } catch (err) {
    throw new RecordFormatError(`record block is not valid JSON: ${(err as Error).message}`);
  }
  return validateRecord(data);
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

function validateRecord(data: unknown): DeploymentRecordData {
  if (!data || typeof data !== "object" || Array.isArray(data)) throw new RecordFormatError("record block is not a JSON object");
  const d = data as Record<string, unknown>;
  const problems: string[] = [];
  const str = (k: string) => typeof d[k] === "string" && (d[k] as string).length > 0 || problems.push(`${k} must be a non-empty string`);
  const strOrNull = (k: string) => d[k] === null || typeof d[k] === "string" || problems.push(`${k} must be a string or null`);
  if (d.schema !== RECORD_SCHEMA) problems.push(`schema must be ${RECORD_SCHEMA} (got ${JSON.stringify(d.schema)})`);
  ["key", "app", "stack", "environment", "commit", "recordedAt"].forEach(str);
  ["previousDigest", "backupId"].forEach(strOrNull);
  if (typeof d.digest !== "string" || !DIGEST.test(d.digest)) problems.push("digest must be sha256:<64 hex>");
  if (typeof d.previousDigest === "string" && !DIGEST.test(d.previousDigest)) problems.push("previousDigest must be sha256:<64 hex> or null");
  if (!Number.isInteger(d.releaseVersion) || (d.releaseVersion as number) < 1) problems.push("releaseVersion must be a positive integer");
  if (typeof d.override !== "boolean") problems.push("override must be a boolean");
  if (d.imageRef !== undefined && typeof d.imageRef !== "string") problems.push("imageRef must be a string");
  if (d.migrations !== undefined) problems.push(...migrationsProblems(d.migrations));
  if (d.contractRollback !== undefined && !(Array.isArray(d.contractRollback) && d.contractRollback.every((m) => typeof m === "string"))) {
    problems.push("contractRollback must be an array of migration names");
  }
  if (problems.length) throw new RecordFormatError(`record block is invalid: ${problems.join("; ")}`);
  return d as unknown as DeploymentRecordData;
}

function migrationsProblems(m: unknown): string[] {
  const o = m as Partial<RecordedMigrations> | null;
  if (!o || typeof o !== "object") return ["migrations must be an object"];
  const problems: string[] = [];
  if (typeof o.hash !== "string") problems.push("migrations.hash must be a string");
  if (o.head !== null && typeof o.head !== "string") problems.push("migrations.head must be a string or null");
  const phases = ["expand", "migrate", "contract"];
  if (!Array.isArray(o.applied) || !o.applied.every((a) => a && typeof a.name === "string" && phases.includes(a.phase))) {
    problems.push("migrations.applied must be a list of {name, phase: expand|migrate|contract}");
  }
  return problems;
}
