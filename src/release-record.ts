/**
 * The release record on api.fly.io around a rollout, as flyctl keeps one, so `fly releases` lists releases made here.
 * Records are bookkeeping: when that API is unavailable (or the token may not use it) the rollout goes on, with the
 * version derived from the machines' `fly_release_version` (highest + 1) and an empty release id.
 */
import { createFlyReleasesClient } from "./clients/fly-releases";
import type { EngineDeps } from "./release-command";

export interface OpenRelease {
  /** api.fly.io's release id; empty when the record could not be created. */
  id: string;
  version: number;
  /** The PATCH to "running", awaited before the final status so the two PATCHes stay in order. */
  running: Promise<void>;
}

export async function openReleaseRecord(
  deps: EngineDeps,
  release: { app: string; image: string; strategy: string; region: string; releaseCommand?: string },
  derivedVersion: number,
): Promise<OpenRelease> {
  const releases = createFlyReleasesClient();
  try {
    const created = await releases.createRelease({
      app: release.app,
      image: release.image,
      strategy: release.strategy,
      definition: { app: release.app, primary_region: release.region, deploy: { strategy: release.strategy, release_command: release.releaseCommand } },
    });
    const running = releases.updateRelease(created.id, "running").catch((err) => deps.log(`could not mark release ${created.id} running: ${(err as Error).message}`));
    return { id: created.id, version: created.version, running };
  } catch (err) {
    deps.log(`could not record the release on api.fly.io (${(err as Error).message}); continuing as v${derivedVersion}`);
    return { id: "", version: derivedVersion, running: Promise.resolve() };
  }
}

export async function closeReleaseRecord(deps: EngineDeps, record: OpenRelease, status: "complete" | "failed", metadata: Record<string, unknown>): Promise<void> {
  await record.running;
  if (!record.id) return;
  await createFlyReleasesClient()
    .updateRelease(record.id, status, metadata)
    .catch((err) => deps.log(`could not mark release ${record.id} ${status}: ${(err as Error).message}`));
}
