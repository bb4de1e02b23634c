/**
 * What Path A needs to know about migrations, as pure functions over deployment records: which migrations a release
 * applied (written into its record), and which contract migrations ran since a digest was released (read back by
 * `npm run rollback` and by ImagePromotion for a pinned digest). Only type imports: the deployment-record provider
 * captures `recordedMigrations`, so nothing here may hold a schema object or other module state.
 */
import type { MigrationPhase, MigrationsManifest } from "./manifest";
import { PromotionError } from "../promotion";

/** The migrations part of a deployment record. */
export interface RecordedMigrations {
  /** The manifest hash of the released image's migrations. */
  hash: string;
  /** The environment's schema version after the release: the newest migration applied there. null: none yet. */
  head: string | null;
  /** What this release applied, in Atlas order: files newer than the previous release's head, not skipped here. */
  applied: Array<{ name: string; phase: MigrationPhase }>;
}

/** The record fields the guard reads; DeploymentRecordData has them all. */
export interface ReleaseHistoryEntry {
  digest: string;
  releaseVersion: number;
  backupId: string | null;
  migrations?: RecordedMigrations;
  issueNumber?: number;
}

/** A contract migration that ran after the release a rollback would return to. */
export interface ContractCrossing {
  migration: string;
  /** The release that applied it. */
  release: ReleaseHistoryEntry;
}

/** The name `renewa:atlas:skip-on` uses for a stack: development, staging, production, or pr for any preview. */
export function skipOnName(stack: string): string {
  return stack.startsWith("pr-") ? "pr" : stack;
}

/**
 * The record of a release: Atlas applies pending files in name order, so the release applied every file (not skipped
 * on this stack) newer than the previous head. The head never moves back: an older image's release command finds
 * nothing to apply, and the schema stays where it was.
 */
export function recordedMigrations(manifest: MigrationsManifest, stack: string, previousHead: string | null | undefined): RecordedMigrations {
  const env = skipOnName(stack);
  const here = manifest.files.filter((f) => !f.skipOn.includes(env));
  const applied = here.filter((f) => previousHead == null || f.name > previousHead).map((f) => ({ name: f.name, phase: f.phase }));
  const last = here.length ? here[here.length - 1].name : null;
  const head = previousHead != null && (last === null || previousHead > last) ? previousHead : last;
  return { hash: manifest.hash, head, applied };
}

/**
 * Contract migrations applied by releases after the newest release of `digest`, oldest first. Empty when the digest
 * was never released here (nothing is known about it) or nothing was contracted since.
 */
export function contractMigrationsSince(history: readonly ReleaseHistoryEntry[], digest: string): ContractCrossing[] {
  const target = history.filter((r) => r.digest === digest).sort((a, b) => b.releaseVersion - a.releaseVersion)[0];
  if (!target) return [];
  return history
    .filter((r) => r.releaseVersion > target.releaseVersion)
    .sort((a, b) => a.releaseVersion - b.releaseVersion)
    .flatMap((release) => (release.migrations?.applied ?? []).filter((m) => m.phase === "contract").map((m) => ({ migration: m.name, release })));
}

/** Why a rollback to `digest` is refused and what to do instead: one message for the command and the component. */
export function contractRollbackMessage(stack: string, digest: string, crossings: readonly ContractCrossing[]): string {
  const first = crossings[0].release;
  const list = crossings
    .map((c) => `  - ${c.migration}, run by release v${c.release.releaseVersion} (${c.release.digest}${c.release.issueNumber ? `, record #${c.release.issueNumber}` : ""})`)
    .join("\n");
  return [
    `${stack} refuses to go back to ${digest}: ${crossings.length} contract migration(s) ran since it was released, and removed what it may still use:`,
    list,
    "Instead:",
    `  - fix forward: build the fix and promote it (\`npm run promote\`); or`,
    `  - Path B, if the data must go back too: restore ${first.backupId ? `backup ${first.backupId} (taken before release v${first.releaseVersion}'s migrations)` : `the backup taken before release v${first.releaseVersion}`} into a new cluster (\`fly mpg restore\`), \`npm run repoint -- ${stack} <new-cluster-id>\`, then roll back.`,
    `To go back anyway (the old image may fail on the current schema): \`npm run rollback -- ${stack} --to ${digest} --allow-contract-rollback\`, which sets renewa:allowContractRollback to this digest and records the override in the deployment record.`,
  ].join("\n");
}

/**
 * The contract migrations a deploy of `digest` on `stack` goes back across, or a refusal: the crossing is allowed only
 * when `allowContractRollback` names exactly this digest (then the names go into the deployment record).
 */
export function guardContractRollback(
  stack: string,
  digest: string | undefined,
  history: readonly ReleaseHistoryEntry[],
  allowContractRollback: string | undefined,
): { crossed: string[]; note?: string } {
  const crossings = digest ? contractMigrationsSince(history, digest) : [];
  if (!crossings.length) return { crossed: [] };
  if (allowContractRollback !== digest) throw new PromotionError(contractRollbackMessage(stack, digest!, crossings));
  const crossed = crossings.map((c) => c.migration);
  return { crossed, note: `CONTRACT ROLLBACK OVERRIDE: ${digest} goes back across ${crossed.join(", ")} (renewa:allowContractRollback); it may fail on the current schema.` };
}
