/**
 * Storage under Pulumi's mock runtime: the bucket it declares, its options, and the TIGRIS_* secrets it derives.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { idle, isSecret, promiseOf, settle, useRecorder } from "./harness/resource-recorder";

const FLY_TOKEN = "fm2_sentinel-storage-fly-token";
const KEY_ID = "tid_sentinelKeyId";
const SECRET_KEY = "tsec_sentinelSecretAccessKey";
const BUCKET_TYPE = "pulumi-nodejs:dynamic/tigris:Bucket";

const recorder = useRecorder({
  stack: "staging",
  env: { FLY_API_TOKEN: FLY_TOKEN },
  outputs: (type) =>
    type === BUCKET_TYPE
      ? { addOnId: "addon-1", endpoint: "https://fly.storage.tigris.dev", region: "auto", accessKeyId: KEY_ID, secretAccessKey: SECRET_KEY }
      : {},
});
let storage: typeof import("../components/storage");
beforeAll(async () => {
  storage = await import("../components/storage");
});

describe("validateStorageArgs", () => {
  it("accepts a valid bucket and names each bad field", () => {
    expect(storage.validateStorageArgs({ bucketName: "renewa-pr-42", org: "renewa", protect: false })).toEqual([]);
    const problems = storage.validateStorageArgs({ bucketName: "Renewa", org: "Renewa Org", protect: "yes" as unknown as boolean });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^`bucketName` "Renewa"/);
    expect(problems[1]).toMatch(/^`org`/);
    expect(problems[2]).toMatch(/^`protect`/);
  });
});

describe("Storage", () => {
  it("declares one protected bucket with its keys as secret outputs", async () => {
    const s = new storage.Storage("renewa-storage", { bucketName: "renewa-production", org: "renewa", protect: true });
    await settle(s);
    const [component] = recorder.byType("renewa:tigris:Storage");
    const buckets = recorder.byType(BUCKET_TYPE);
    expect(buckets).toHaveLength(1);
    const bucket = buckets[0];
    expect(bucket.name).toBe("renewa-storage-bucket");
    expect(bucket.parent).toContain("renewa:tigris:Storage::renewa-storage");
    expect(component.name).toBe("renewa-storage");
    expect(bucket.inputs).toMatchObject({ bucketName: "renewa-production", org: "renewa" });
    expect(bucket.additionalSecretOutputs).toEqual(["accessKeyId", "secretAccessKey"]);
    expect(bucket.protect).toBe(true);
    // Credentials are read by the provider at call time; the program hands it none.
    expect(JSON.stringify(bucket.inputs)).not.toContain(FLY_TOKEN);
  });

  it("does not protect a PR bucket", async () => {
    const s = new storage.Storage("pr-storage", { bucketName: "renewa-pr-42", org: "renewa", protect: false });
    await settle(s);
    expect(recorder.named("pr-storage-bucket").protect).toBe(false);
  });

  it("exposes the TIGRIS_* secrets as one secret output and keeps the plain outputs free of keys", async () => {
    const s = new storage.Storage("renewa-storage-2", { bucketName: "renewa-staging", org: "renewa", protect: false });
    expect(await isSecret(s.secrets)).toBe(true);
    expect(await promiseOf(s.secrets)).toEqual({
      TIGRIS_BUCKET_NAME: "renewa-staging",
      TIGRIS_ACCESS_KEY_ID: KEY_ID,
      TIGRIS_SECRET_ACCESS_KEY: SECRET_KEY,
      TIGRIS_ENDPOINT_URL_S3: "https://fly.storage.tigris.dev",
      TIGRIS_REGION: "auto",
    });
    const plain = [await promiseOf(s.bucketName), await promiseOf(s.endpoint)];
    expect(plain).toEqual(["renewa-staging", "https://fly.storage.tigris.dev"]);
    expect(await isSecret(s.bucketName)).toBe(false);
    expect(JSON.stringify(plain)).not.toMatch(/tid_|tsec_/);
  });

  it("validates before declaring anything", async () => {
    expect(() => new storage.Storage("bad-storage", { bucketName: "x", org: "renewa", protect: false })).toThrow(
      /Storage "bad-storage":\n {2}- `bucketName` "x" must be 3 to 63/,
    );
    await idle();
    expect(recorder.registrations).toEqual([]);
  });
});
