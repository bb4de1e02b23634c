/**
 * TigrisBucket's provider as the engine runs it: serialized in a separate ts-node process, deserialized and called in
 * a plain Node process whose environment holds only the Fly token and the fake's URL.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ProviderHost, closeAll, serveProvider, startProviderHost } from "./harness/engine";
import { createFlyGraphqlFake, FlyGraphqlFakeState } from "./fakes/fly-graphql";
import { HttpFake } from "./fakes/http-fake";

const TOKEN = "fm2_sentinel-fly-token-7f3a9c";
const ROUTE = "POST /graphql";
const INPUTS = { bucketName: "renewa-staging", org: "renewa" };

let fake: HttpFake;
let state: FlyGraphqlFakeState;
let provider: string;
let host: ProviderHost;

/** Makes the next `count` calls to /graphql (counted from now) answer `status`. */
function failNext(status: number, count = 1, headers?: Record<string, string>): void {
  const done = fake.calls(ROUTE).length;
  fake.inject({ route: ROUTE, nth: Array.from({ length: count }, (_, i) => done + i + 1), status, headers });
}

function operationsSince(start: number): string[] {
  return state.operations.slice(start);
}

beforeAll(async () => {
  ({ fake, state } = await createFlyGraphqlFake({ authorization: `FlyV1 ${TOKEN}` }));
  ({ provider, host } = await serveProvider(
    { module: "src/providers/tigris-bucket.ts", exportName: "TigrisBucket", name: "files", args: INPUTS, env: { FLY_API_TOKEN: TOKEN } },
    { FLY_API_TOKEN: TOKEN, FLY_API_URL: fake.url },
  ));
});

afterAll(() => closeAll(host, fake));

beforeEach(() => {
  state.addOns.clear();
  state.keysOnRead = false;
  fake.clearFaults();
});

describe("TigrisBucket provider", () => {
  it("serializes without the token", () => {
    expect(provider).not.toContain(TOKEN);
    expect(provider.length).toBeLessThan(200_000);
  });

  it("check accepts valid inputs and names the bad field", async () => {
    expect(await host.call(provider, "check", {}, INPUTS)).toEqual({ inputs: INPUTS });
    const bad = await host.call(provider, "check", {}, { bucketName: "Renewa_Staging", org: "renewa" });
    expect(bad.failures).toHaveLength(1);
    expect(bad.failures[0].property).toBe("bucketName");
  });

  it("creates a private, unattached bucket and returns its keys", async () => {
    const start = state.operations.length;
    const res = await host.call(provider, "create", INPUTS);
    expect(operationsSince(start)).toEqual(["addOn", "organization", "createAddOn"]);
    const create = fake.calls(ROUTE).at(-1)!;
    expect(create.headers.authorization).toBe(`FlyV1 ${TOKEN}`);
    expect(create.body.operationName).toBe("TigrisCreateAddOn");
    expect(create.body.variables.input).toEqual({ type: "tigris", name: "renewa-staging", organizationId: "org-renewa-id", options: { public: false } });
    const env = state.addOns.get("renewa-staging")!.environment;
    expect(res).toEqual({
      id: "renewa-staging",
      outs: {
        ...INPUTS,
        addOnId: state.addOns.get("renewa-staging")!.id,
        endpoint: "https://fly.storage.tigris.dev",
        region: "auto",
        accessKeyId: env.AWS_ACCESS_KEY_ID,
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      },
    });
    expect(host.output()).not.toContain(env.AWS_SECRET_ACCESS_KEY);
  });

  it("read keeps the stored keys while the bucket exists and reports it gone afterwards", async () => {
    const { outs } = await host.call(provider, "create", INPUTS);
    expect(await host.call(provider, "read", "renewa-staging", outs)).toEqual({ id: "renewa-staging", props: outs });
    state.addOns.clear();
    expect((await host.call(provider, "read", "renewa-staging", outs)).id).toBe("");
  });

  it("diff replaces on name or org changes and is quiet otherwise", async () => {
    const olds = { ...INPUTS, addOnId: "a", endpoint: "e", region: "auto", accessKeyId: "k", secretAccessKey: "s" };
    expect(await host.call(provider, "diff", "renewa-staging", olds, INPUTS)).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    expect(await host.call(provider, "diff", "renewa-staging", olds, { ...INPUTS, bucketName: "renewa-other" })).toEqual({
      changes: true,
      replaces: ["bucketName"],
      deleteBeforeReplace: false,
    });
    // Same (global) name in another org: the old bucket must go first.
    expect((await host.call(provider, "diff", "renewa-staging", olds, { ...INPUTS, org: "other" })).deleteBeforeReplace).toBe(true);
  });

  it("delete is safe to repeat", async () => {
    const { outs } = await host.call(provider, "create", INPUTS);
    await host.call(provider, "delete", "renewa-staging", outs);
    expect(state.addOns.has("renewa-staging")).toBe(false);
    await host.call(provider, "delete", "renewa-staging", outs);
    expect(fake.calls(ROUTE).at(-1)!.body.variables.input).toEqual({ name: "renewa-staging", provider: "tigris" });
  });

  it("retries 503 on queries and on delete", async () => {
    const before = fake.calls(ROUTE).length;
    const start = state.operations.length;
    failNext(503);
    const created = await host.call(provider, "create", INPUTS);
    expect(fake.calls(ROUTE).length - before).toBe(4); // 503, then lookup, org, create
    expect(operationsSince(start)).toEqual(["addOn", "organization", "createAddOn"]);

    failNext(503);
    await host.call(provider, "delete", "renewa-staging", created.outs);
    expect(state.addOns.size).toBe(0);
  });

  it("retries the create mutation on 429, where Fly did not act", async () => {
    const before = fake.calls(ROUTE).length;
    fake.inject({ route: ROUTE, nth: [before + 3], status: 429, headers: { "retry-after": "0" } });
    await host.call(provider, "create", INPUTS);
    expect(fake.calls(ROUTE).map((c) => c.status).slice(before)).toEqual([200, 200, 429, 200]);
    expect(state.addOns.has("renewa-staging")).toBe(true);
  });

  it("does not repeat a create that may have happened (503) and names the operation", async () => {
    const before = fake.calls(ROUTE).length;
    fake.inject({ route: ROUTE, nth: [before + 3], status: 503, body: { error: "upstream unavailable" } });
    await expect(host.call(provider, "create", INPUTS)).rejects.toThrow(/POST \/graphql \(TigrisCreateAddOn\): 503 upstream unavailable \(request id req-\d+\)/);
    expect(fake.calls(ROUTE).length - before).toBe(3);
  });

  it("fails fast on permanent errors without leaking the token", async () => {
    const before = fake.calls(ROUTE).length;
    failNext(403);
    const err = await host.call(provider, "create", INPUTS).catch((e: Error) => e);
    expect(err.message).toMatch(/POST \/graphql \(TigrisAddOn\): 403/);
    expect(err.message).not.toContain(TOKEN);
    expect(fake.calls(ROUTE).length - before).toBe(1);

    const start = state.operations.length;
    state.failOperation("createAddOn", [{ message: "Provider terms not accepted", path: ["createAddOn"], extensions: { code: "UNPROCESSABLE" } }]);
    await expect(host.call(provider, "create", INPUTS)).rejects.toThrow(
      "POST /graphql (TigrisCreateAddOn): 200 Provider terms not accepted at createAddOn [UNPROCESSABLE]",
    );
    expect(operationsSince(start)).toEqual(["addOn", "organization", "createAddOn"]);
  });

  it("explains an unknown org", async () => {
    await expect(host.call(provider, "create", { ...INPUTS, org: "nope" })).rejects.toThrow(/Fly organization "nope" was not found/);
  });

  it("refuses to adopt an existing bucket without keys, and says how", async () => {
    state.seed("renewa-staging", "renewa");
    const start = state.operations.length;
    const err = await host.call(provider, "create", INPUTS).catch((e: Error) => e);
    expect(err.message).toMatch(/already exists in Fly org "renewa", but Pulumi has no access keys/);
    expect(err.message).toContain("TIGRIS_ADOPT_ACCESS_KEY_ID");
    expect(operationsSince(start)).toEqual(["addOn"]);
  });

  it("adopts an existing bucket when Fly returns its keys on read", async () => {
    const seeded = state.seed("renewa-staging", "renewa");
    state.keysOnRead = true;
    const res = await host.call(provider, "create", INPUTS);
    expect(res.outs.accessKeyId).toBe(seeded.environment.AWS_ACCESS_KEY_ID);
    expect(res.outs.addOnId).toBe(seeded.id);
  });

  it("adopts an existing bucket with operator-made keys from TIGRIS_ADOPT_*", async () => {
    state.seed("renewa-staging", "renewa");
    const adoptHost = await startProviderHost({
      FLY_API_TOKEN: TOKEN,
      FLY_API_URL: fake.url,
      TIGRIS_ADOPT_ACCESS_KEY_ID: "tid_operator",
      TIGRIS_ADOPT_SECRET_ACCESS_KEY: "tsec_operator-secret",
    });
    try {
      const res = await adoptHost.call(provider, "create", INPUTS);
      expect(res.outs).toMatchObject({ accessKeyId: "tid_operator", secretAccessKey: "tsec_operator-secret", region: "auto" });
      expect(adoptHost.output()).not.toContain("tsec_operator-secret");
    } finally {
      await adoptHost.close();
    }
  });

  it("refuses a bucket name held by another org", async () => {
    state.seed("renewa-staging", "someone-else");
    await expect(host.call(provider, "create", INPUTS)).rejects.toThrow(/already exists in Fly org "someone-else", not "renewa"/);
  });
});
