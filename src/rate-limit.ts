/**
 * Client-side pacing for Fly's documented per-action rate limits, as pure token buckets with an injectable clock so
 * tests can drive them without waiting. Pacing ourselves keeps a 16-machine rollout from spending its retry budget on
 * 429s the docs told us we would get.
 */

export interface BucketLimit {
  /** Tokens added per second (the sustained rate). */
  perSecond: number;
  /** Bucket size: how many calls may go back to back. */
  burst: number;
}

/** Fly's documented limits: 1 req/s per action per machine or app, bursts of 3; Get Machine 5/s, bursts of 10. */
export const FLY_ACTION_LIMIT: BucketLimit = { perSecond: 1, burst: 3 };
export const FLY_GET_MACHINE_LIMIT: BucketLimit = { perSecond: 5, burst: 10 };

export interface TokenBucket {
  /** Takes one token and returns how many ms the caller must wait before its call (0 = go now). */
  reserve(): number;
}

/**
 * A bucket that hands out reservations (the generic cell rate algorithm): each caller gets the next free slot, so
 * concurrent callers queue in order instead of racing for the same refilled token.
 */
export function createTokenBucket(limit: BucketLimit, now: () => number): TokenBucket {
  const intervalMs = 1000 / limit.perSecond;
  // Theoretical arrival time of the next call at the sustained rate; a call may go `burst - 1` intervals early.
  let tat = -Infinity;
  return {
    reserve() {
      const t = now();
      const base = Math.max(tat, t);
      tat = base + intervalMs;
      return Math.max(0, Math.ceil(base - (limit.burst - 1) * intervalMs - t));
    },
  };
}

export interface RateLimiter {
  /** Resolves when a call under `key` may go. */
  acquire(key: string, limit: BucketLimit): Promise<void>;
}

export function createRateLimiter(now: () => number, sleep: (ms: number) => Promise<void>): RateLimiter {
  const buckets = new Map<string, TokenBucket>();
  return {
    async acquire(key, limit) {
      let bucket = buckets.get(key);
      if (!bucket) buckets.set(key, (bucket = createTokenBucket(limit, now)));
      const waitMs = bucket.reserve();
      if (waitMs > 0) await sleep(waitMs);
    },
  };
}

/**
 * Which bucket a Machines API call draws from: the action (method + route shape) scoped to the machine it targets,
 * or to the app for app-level actions. Long-lived paths are normalised so `/machines/abc` and `/machines/def` share
 * the action but not the bucket.
 */
export function flyRateKey(method: string, path: string): { key: string; limit: BucketLimit } {
  const m = /^\/v1\/apps\/([^/]+)(?:\/(machines|secrets|ip_assignments)(?:\/([^/]+)(\/[^?]*)?)?)?/.exec(path);
  if (!m) return { key: `${method} ${path}`, limit: FLY_ACTION_LIMIT };
  const [, app, collection, id, rest] = m;
  if (collection === "machines" && id) {
    const action = `${method} machines/:id${rest ?? ""}`;
    const limit = method === "GET" && !rest ? FLY_GET_MACHINE_LIMIT : FLY_ACTION_LIMIT;
    return { key: `${action} ${app}/${id}`, limit };
  }
  return { key: `${method} apps/:app${collection ? `/${collection}` : ""} ${app}`, limit: FLY_ACTION_LIMIT };
}

/** Scales a limit's window, so tests and the benchmark can run Fly's timeline faster than real time. */
export function scaleLimit(limit: BucketLimit, timeScale: number): BucketLimit {
  return { perSecond: limit.perSecond / timeScale, burst: limit.burst };
}
