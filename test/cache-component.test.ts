/**
 * Cache under Pulumi's mock runtime: the Upstash database's inputs and options, and the UPSTASH_REDIS_* secrets.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { idle, isSecret, promiseOf, settle, useRecorder } from "./harness/resource-recorder";

const API_KEY = "sentinel-upstash-api-key";
const PASSWORD = "sentinel-redis-password";
const REST_TOKEN = "sentinel-rest-token";
const DB_TYPE = "upstash:index/redisDatabase:RedisDatabase";

const recorder = useRecorder({
  stack: "staging",
  env: { UPSTASH_EMAIL: "ops@renewa.example", UPSTASH_API_KEY: API_KEY },
  outputs: (type) =>
    type === DB_TYPE
      ? { databaseId: "db-123", endpoint: "eu1-fancy-cat-12345.upstash.io", port: 6379, password: PASSWORD, restToken: REST_TOKEN, readOnlyRestToken: "ro-token" }
      : {},
});
let cache: typeof import("../components/cache");
beforeAll(async () => {
  cache = await import("../components/cache");
});

describe("validateCacheArgs", () => {
  it("accepts a valid name and refuses empty or long ones", () => {
    expect(cache.validateCacheArgs({ databaseName: "renewa-pr-42", protect: false })).toEqual([]);
    expect(cache.validateCacheArgs({ databaseName: "", protect: false })[0]).toMatch(/^`databaseName` "" must be 1 to 100 characters/);
    expect(cache.validateCacheArgs({ databaseName: "x".repeat(101), protect: true })).toHaveLength(1);
  });
});

describe("Cache", () => {
  it("declares a global database in Frankfurt with TLS, its tokens secret, protected on request", async () => {
    const c = new cache.Cache("renewa-cache", { databaseName: "renewa-production", protect: true });
    await settle(c);
    const [db] = recorder.byType(DB_TYPE);
    expect(db.name).toBe("renewa-cache-database");
    expect(db.parent).toContain("renewa:upstash:Cache::renewa-cache");
    expect(db.inputs).toEqual({ databaseName: "renewa-production", region: "global", primaryRegion: "eu-central-1", tls: true });
    // Ours come first; the SDK (v0.5.0 as installed) appends its own list, which today covers the tokens too.
    expect(db.additionalSecretOutputs.slice(0, 2)).toEqual(["restToken", "readOnlyRestToken"]);
    expect(new Set(db.additionalSecretOutputs)).toEqual(new Set(["password", "restToken", "readOnlyRestToken"]));
    expect(db.protect).toBe(true);
  });

  it("uses the default Upstash provider, so the API key stays in the environment and out of state", async () => {
    const c = new cache.Cache("pr-cache", { databaseName: "renewa-pr-7", protect: false });
    await settle(c);
    expect(recorder.byType("pulumi:providers:upstash")).toEqual([]);
    expect(recorder.named("pr-cache-database").provider).toBe("");
    expect(recorder.named("pr-cache-database").protect).toBe(false);
    expect(JSON.stringify(recorder.registrations)).not.toContain(API_KEY);
  });

  it("exposes the UPSTASH_REDIS_* secrets as one secret output and keeps plain outputs free of credentials", async () => {
    const c = new cache.Cache("renewa-cache-2", { databaseName: "renewa-staging", protect: false });
    expect(await isSecret(c.secrets)).toBe(true);
    expect(await promiseOf(c.secrets)).toEqual({
      UPSTASH_REDIS_REST_URL: "https://eu1-fancy-cat-12345.upstash.io",
      UPSTASH_REDIS_REST_TOKEN: REST_TOKEN,
      UPSTASH_REDIS_URL: `rediss://default:${PASSWORD}@eu1-fancy-cat-12345.upstash.io:6379`,
    });
    const plain = [await promiseOf(c.databaseId), await promiseOf(c.endpoint)];
    expect(plain).toEqual(["db-123", "eu1-fancy-cat-12345.upstash.io"]);
    expect(await isSecret(c.endpoint)).toBe(false);
    for (const secret of [PASSWORD, REST_TOKEN]) expect(JSON.stringify(plain)).not.toContain(secret);
  });

  it("validates before declaring anything", async () => {
    expect(() => new cache.Cache("bad-cache", { databaseName: "", protect: false })).toThrow(/Cache "bad-cache":\n {2}- `databaseName`/);
    await idle();
    expect(recorder.registrations).toEqual([]);
  });
});
