// Pacing within Fly's documented limits, with an injected clock: bursts, the sustained rate, and which calls share a
// bucket.
import { describe, expect, it } from "vitest";
import { FLY_ACTION_LIMIT, FLY_GET_MACHINE_LIMIT, createRateLimiter, createTokenBucket, flyRateKey, scaleLimit } from "../src/rate-limit";

describe("token bucket", () => {
  it("lets a burst of 3 through, then one call per second, in reservation order", () => {
    let t = 0;
    const bucket = createTokenBucket(FLY_ACTION_LIMIT, () => t);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0, 1000, 2000]);
    t = 2500;
    expect(bucket.reserve()).toBe(500);
  });

  it("refills to the full burst after idling, never beyond it", () => {
    let t = 0;
    const bucket = createTokenBucket(FLY_GET_MACHINE_LIMIT, () => t);
    for (let i = 0; i < 10; i++) expect(bucket.reserve()).toBe(0);
    expect(bucket.reserve()).toBe(200);
    t = 60_000;
    const waits = Array.from({ length: 12 }, () => bucket.reserve());
    expect(waits.slice(0, 10)).toEqual(Array(10).fill(0));
    expect(waits.slice(10)).toEqual([200, 400]);
  });

  it("scales its window with the time scale", () => {
    let t = 0;
    const bucket = createTokenBucket(scaleLimit(FLY_ACTION_LIMIT, 0.01), () => t);
    [0, 1, 2].forEach(() => bucket.reserve());
    expect(bucket.reserve()).toBe(10);
  });
});

describe("rate limiter", () => {
  it("sleeps for the reserved wait, per key", async () => {
    let t = 0;
    const slept: number[] = [];
    const limiter = createRateLimiter(() => t, async (ms) => {
      slept.push(ms);
      t += ms;
    });
    for (let i = 0; i < 5; i++) await limiter.acquire("POST lease m1", FLY_ACTION_LIMIT);
    await limiter.acquire("POST lease m2", FLY_ACTION_LIMIT);
    expect(slept).toEqual([1000, 1000]);
  });
});

describe("flyRateKey", () => {
  it("scopes machine actions to the machine and uses Get Machine's higher limit only for a plain GET", () => {
    expect(flyRateKey("GET", "/v1/apps/a/machines/m1")).toEqual({ key: "GET machines/:id a/m1", limit: FLY_GET_MACHINE_LIMIT });
    expect(flyRateKey("GET", "/v1/apps/a/machines/m1/wait")).toEqual({ key: "GET machines/:id/wait a/m1", limit: FLY_ACTION_LIMIT });
    expect(flyRateKey("POST", "/v1/apps/a/machines/m1").key).not.toBe(flyRateKey("POST", "/v1/apps/a/machines/m2").key);
    expect(flyRateKey("POST", "/v1/apps/a/machines/m1/lease").key).toBe("POST machines/:id/lease a/m1");
  });

  it("scopes app actions to the app", () => {
    expect(flyRateKey("POST", "/v1/apps/a/machines")).toEqual({ key: "POST apps/:app/machines a", limit: FLY_ACTION_LIMIT });
    expect(flyRateKey("POST", "/v1/apps/a/secrets").key).toBe("POST apps/:app/secrets a");
    expect(flyRateKey("GET", "/v1/apps/a").key).toBe("GET apps/:app a");
    expect(flyRateKey("POST", "/v1/apps").key).toBe("POST /v1/apps");
  });
});
