/**
 * The release record on api.fly.io around a rollout, as flyctl keeps one: `fly releases` lists it, and its
 * `definition` (the app's full configuration) is what flyctl reads as the app's config when there is no fly.toml.
 * The record also gives the release its version, so a rollout never starts without one: a version derived
 * locally would collide with the next `fly deploy`'s.
 */
import type { FlyReleasesClient } from "../clients/fly-releases";
import type { EngineDeps } from "./deps";

export interface OpenRelease {
  /** api.fly.io's release id. */
  id: string;
  version: number;
  /** The PATCH to "running", awaited before the final status so the two PATCHes stay in order. */
  running: Promise<void>;
}

export type FinalStatus = "complete" | "failed" | "interrupted";

/** Creates the record and marks it running; throws, before anything changed, when api.fly.io cannot record it. */
export async function openReleaseRecord(
  deps: EngineDeps,
  releases: FlyReleasesClient,
  release: { app: string; image: string; strategy: string; definition: Record<string, unknown> },
): Promise<OpenRelease> {
  let created;
  try {
    created = await releases.createRelease(release);
  } catch (err) {
    throw new Error(
      `could not record the release of ${release.image} on api.fly.io (${(err as Error).message}); nothing was changed on app ${release.app}. ` +
        "The release record gives the release its version and tells a later `fly deploy` the app's config; run `pulumi up` again when api.fly.io answers.",
      { cause: err },
    );
  }
  const running = releases.updateRelease(created.id, "running").catch((err) => deps.warn(`could not mark release ${created.id} running: ${(err as Error).message}`));
  return { id: created.id, version: created.version, running };
}

/** flyctl's final PATCH: the status, and `post_deployment_info` with the error of a failed release. */
export async function closeReleaseRecord(
  deps: EngineDeps,
  releases: FlyReleasesClient,
  record: OpenRelease,
  status: FinalStatus,
  details: { error?: string; extra?: Record<string, unknown> } = {},
): Promise<void> {
  await record.running;
  const metadata = { post_deployment_info: { ...(details.error ? { error: details.error } : {}) }, ...details.extra };
  await releases.updateRelease(record.id, status, metadata).catch((err) => deps.warn(`could not mark release ${record.id} ${status}: ${(err as Error).message}`));
}
