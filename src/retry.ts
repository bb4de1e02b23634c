/**
 * Retry timing as pure functions, so clients and tests share one policy and tests can run it with a fake clock
 * and fixed randomness.
 */

export interface BackoffPolicy {
  /** Delay scale for the first retry, in ms. */
  baseMs: number;
  /** No single wait is longer than this, in ms. */
  capMs: number;
  /** How many retries after the first attempt. */
  maxRetries: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, capMs: 10_000, maxRetries: 6 };

/**
 * How long to wait before retry number `attempt` (0-based): "full jitter" (uniform in [0, min(cap, base·2^attempt)]),
 * which spreads a burst of clients apart better than fixed or equal jitter. A server's Retry-After wins when it asks
 * for longer, because retrying sooner only earns another 429.
 */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number,
  retryAfterMs?: number,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** attempt);
  const jittered = Math.floor(random() * ceiling);
  if (retryAfterMs === undefined) return jittered;
  return Math.max(jittered, Math.min(retryAfterMs, policy.capMs * 6));
}

/** Parses a Retry-After header (delta-seconds or an HTTP date) into ms from `nowMs`; undefined when absent or bad. */
export function parseRetryAfter(header: string | null | undefined, nowMs: number): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/** Statuses worth another try: throttling, and server-side failures that say nothing about the request itself. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599 && status !== 501);
}

/** Network-level failures (the request may or may not have reached the server). */
export function isRetryableNetworkError(err: unknown): boolean {
  const codes = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT"]);
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 4; depth++) {
    const e = cur as { code?: string; name?: string; cause?: unknown };
    if (e.code && codes.has(e.code)) return true;
    if (e.name === "TimeoutError") return true;
    cur = e.cause;
  }
  return false;
}
