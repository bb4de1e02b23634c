// Retry timing as pure functions (injected randomness), and the Fly client riding out throttling, server errors and
// dropped connections with injected sleep, against the Machines API fake.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF, backoffDelay, isRetryableNetworkError, isRetryableStatus, parseRetryAfter } from "../src/retry";
import { createFlyMachinesClient } from "../src/clients/fly-machines";
import { isApiError } from "../src/clients/http";
import { FlyMachinesFake, createFlyMachinesFake } from "./fakes/fly-machines";

describe("backoff", () => {
  const policy = { baseMs: 100, capMs: 1000, maxRetries: 6 };

  it("uses full jitter under an exponential ceiling capped at capMs", () => {
    expect([0, 1, 2, 3, 4, 5].map((a) => backoffDelay(a, policy, () => 0.999))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(2, policy, () => 0.5)).toBe(200);
  });

  it("honours a longer Retry-After, bounded to six caps", () => {
    expect(backoffDelay(0, policy, () => 0.5, 2500)).toBe(2500);
    expect(backoffDelay(0, policy, () => 0.5, 60_000)).toBe(6000);
    expect(backoffDelay(3, policy, () => 0.5, 10)).toBe(400);
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    expect(parseRetryAfter("2", 0)).toBe(2000);
    expect(parseRetryAfter("0.05", 0)).toBe(50);
    expect(parseRetryAfter("Thu, 01 Jan 1970 00:00:03 GMT", 1000)).toBe(2000);
    expect(parseRetryAfter("soon", 0)).toBeUndefined();
    expect(parseRetryAfter(null, 0)).toBeUndefined();
  });

  it("retries throttling and server errors, and connection resets, not client errors", () => {
    expect([408, 429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 409, 422, 501].some(isRetryableStatus)).toBe(false);
    expect(isRetryableNetworkError(Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNRESET" } }))).toBe(true);
    expect(isRetryableNetworkError(new Error("nope"))).toBe(false);
  });
});

describe("Fly client retries", () => {
  let fly: FlyMachinesFake;
  let retryDelays: number[];
  const client = () =>
    createFlyMachinesClient({
      baseUrl: fly.url,
      random: () => 0.5,
      sleep: async () => undefined,
      onRetry: (info) => void retryDelays.push(info.delayMs),
      backoff: DEFAULT_BACKOFF,
    });
  /** The fake counts a route's calls over its whole life: fault on the next calls, counted from now. */
  const next = (route: string, ...offsets: number[]) => offsets.map((o) => fly.fake.calls(route).length + o);

  beforeAll(async () => {
    process.env.FLY_API_TOKEN = "test-token";
    fly = await createFlyMachinesFake({ token: "test-token" });
    fly.addApp("renewa-app-pr-3");
    fly.addMachine("renewa-app-pr-3", { image: "registry.fly.io/x@sha256:" + "1".repeat(64) });
  });
  afterAll(() => fly.stop());
  beforeEach(() => {
    fly.fake.clearFaults();
    retryDelays = [];
  });

  it("rides out a burst of 503s and a 429 with Retry-After, within the retry budget", async () => {
    const LIST = "GET /v1/apps/:app/machines";
    fly.fake.inject({ route: LIST, nth: next(LIST, 1, 2, 3), status: 503 });
    fly.fake.inject({ route: LIST, nth: next(LIST, 4), status: 429, headers: { "retry-after": "3" } });
    const machines = await client().listMachines("renewa-app-pr-3");
    expect(machines).toHaveLength(1);
    // Full jitter at random 0.5: 125, 250, 500 ms; then the server's 3 s wins over the 1000 ms jitter.
    expect(retryDelays).toEqual([125, 250, 500, 3000]);
  });

  it("gives up after maxRetries and reports the last status", async () => {
    const before = fly.fake.calls("GET /v1/apps/:app/machines").length;
    fly.fake.inject({ route: "GET /v1/apps/:app/machines", status: 503, body: { error: "flaps unavailable" } });
    const err = await client().listMachines("renewa-app-pr-3").catch((e) => e);
    expect(fly.fake.calls("GET /v1/apps/:app/machines").length - before).toBe(DEFAULT_BACKOFF.maxRetries + 1);
    expect(err.message).toMatch(/^GET \/v1\/apps\/renewa-app-pr-3\/machines: 503 flaps unavailable \(request id req-\d+\)$/);
  });

  it("retries a dropped connection on a safe call but not on a create, which may have happened", async () => {
    const LIST = "GET /v1/apps/:app/machines";
    const CREATE = "POST /v1/apps/:app/machines";
    fly.fake.inject({ route: LIST, nth: next(LIST, 1), reset: true });
    await client().listMachines("renewa-app-pr-3");
    expect(fly.fake.calls(LIST).slice(-2).map((l) => l.status)).toEqual([0, 200]);

    fly.fake.inject({ route: CREATE, nth: next(CREATE, 1), reset: true });
    const before = fly.fake.calls(CREATE).length;
    const err = await client().createMachine("renewa-app-pr-3", { config: { image: "x" } }).catch((e) => e);
    expect(isApiError(err) && err.status === 0).toBe(true);
    expect(fly.fake.calls(CREATE).length - before).toBe(1);
  });

  it("repeats a create after a 429, which the server did not act on", async () => {
    const CREATE = "POST /v1/apps/:app/machines";
    fly.fake.inject({ route: CREATE, nth: next(CREATE, 1), status: 429 });
    await client().createMachine("renewa-app-pr-3", { config: { image: "registry.fly.io/x@sha256:" + "2".repeat(64) } });
    expect(fly.fake.calls(CREATE).slice(-2).map((l) => l.status)).toEqual([429, 200]);
  });

  it("fails a permanent 4xx at once", async () => {
    const err = await client().getMachine("renewa-app-pr-3", "nope").catch((e) => e);
    expect(err).toMatchObject({ status: 404, method: "GET", path: "/v1/apps/renewa-app-pr-3/machines/nope" });
    expect(retryDelays).toEqual([]);
  });
});
