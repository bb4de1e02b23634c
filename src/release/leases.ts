/**
 * Machine leases held the way flyctl holds them during a deploy: a short lease (13 s) on every machine the rollout
 * will touch, all taken before any is changed, refreshed in the background every few seconds for as long as the
 * rollout runs, and handed back at the end whatever happened. A crashed run therefore blocks the next one for
 * seconds, not minutes, and a concurrent deploy cannot slip in between two steps.
 */
import { isApiError } from "../clients/http";
import type { EngineDeps } from "./deps";

export interface LeaseTiming {
  ttlSeconds: number;
  refreshMs: number;
  /** How long to wait out a lease someone else holds. */
  waitMs: number;
  pollMs: number;
  secondMs: number;
}

export interface LeaseSet {
  /** The nonce to send on calls to this machine (the latest one Fly returned). */
  nonce(id: string): string | undefined;
  /** Stops refreshing a machine that is gone (its lease went with it). */
  forget(id: string): void;
  /** Hands every lease back; never throws. */
  releaseAll(): Promise<void>;
}

const DESCRIPTION = "pulumi release";

async function acquire(deps: EngineDeps, app: string, id: string, t: LeaseTiming): Promise<string> {
  const deadline = deps.now() + t.waitMs;
  let delay = t.pollMs;
  let told = false;
  for (;;) {
    try {
      return (await deps.client.acquireLease(app, id, t.ttlSeconds, DESCRIPTION)).nonce;
    } catch (err) {
      if (!isApiError(err, 409)) throw err;
      if (deps.now() + delay > deadline) {
        throw new Error(
          `machine ${id} of app ${app} is leased by another deploy and the lease was not released within ${Math.round(t.waitMs / t.secondMs)} s. ` +
            `Let the other deploy finish, or clear the lease with \`fly machine leases clear ${id} -a ${app}\`, then run \`pulumi up\` again.`,
          { cause: err },
        );
      }
      if (!told) deps.log(`machine ${id} is leased by another deploy; waiting for the lease to be released`);
      told = true;
      await deps.sleep(delay);
      delay = Math.min(delay * 2, 5 * t.secondMs);
    }
  }
}

/** Takes the leases of `ids` (all or none) and keeps them fresh until `releaseAll`. */
export async function takeLeases(deps: EngineDeps, app: string, ids: string[], t: LeaseTiming): Promise<LeaseSet> {
  const held = new Map<string, string>();
  let inflight: Promise<unknown> = Promise.resolve();
  let timer: ReturnType<typeof setInterval> | undefined;
  const warned = new Set<string>();
  let unregister = () => {};

  const refreshAll = () =>
    Promise.all(
      [...held.entries()].map(async ([id, nonce]) => {
        try {
          const lease = await deps.client.acquireLease(app, id, t.ttlSeconds, DESCRIPTION, nonce);
          if (held.has(id)) held.set(id, lease.nonce || nonce);
        } catch (err) {
          if (warned.has(id)) return;
          warned.add(id);
          deps.log(`could not refresh the lease on machine ${id}: ${(err as Error).message}`);
        }
      }),
    );

  const set: LeaseSet = {
    nonce: (id) => held.get(id),
    forget(id) {
      held.delete(id);
    },
    async releaseAll() {
      unregister();
      if (timer) clearInterval(timer);
      timer = undefined;
      // A refresh still on the wire would take the lease again after it was handed back.
      await inflight.catch(() => undefined);
      const leases = [...held.entries()];
      held.clear();
      await Promise.all(
        leases.map(([id, nonce]) =>
          // The lease expires on its own; failing to hand it back early must not fail the release.
          deps.client.releaseLease(app, id, nonce).catch((err) => deps.log(`could not release the lease on machine ${id}: ${(err as Error).message}`)),
        ),
      );
    },
  };

  unregister = deps.onInterrupt(() => set.releaseAll());
  const results = await Promise.allSettled(ids.map(async (id) => held.set(id, await acquire(deps, app, id, t))));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await set.releaseAll();
    throw failed.reason;
  }
  let busy = false;
  timer = setInterval(() => {
    // A round still running (a slow API) is not queued behind: the next tick refreshes soon enough.
    if (busy) return;
    busy = true;
    inflight = refreshAll().finally(() => (busy = false));
  }, t.refreshMs);
  return set;
}
