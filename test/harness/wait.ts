/**
 * Waiting on a condition instead of sleeping a guessed time: a loaded CI machine makes any fixed sleep either too
 * short (a flake) or too long (a slow suite).
 */

/**
 * Resolves as soon as `cond()` holds, checking every millisecond; fails after `timeoutMs` naming what it waited for,
 * so a condition that never comes fails the test with a reason instead of running into the test timeout.
 */
export async function waitFor(cond: () => boolean, what = "the condition", timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}
