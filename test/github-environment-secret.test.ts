/**
 * GithubEnvironmentSecret's provider as the engine runs it (serialized, then called in plain Node processes), against
 * the GitHub fake. Three provider processes model three `pulumi up` runs: with the value, with a new value, without.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ProviderHost, closeAll, serializeResource, startProviderHost } from "./harness/engine";
import { createGithubFake, GithubFakeState } from "./fakes/github";
import { HttpFake } from "./fakes/http-fake";

const GITHUB_TOKEN = "ghp_sentinelGithubToken0000000000000";
const VALUE_1 = "fm2_sentinel-ci-fly-token-one";
const VALUE_2 = "fm2_sentinel-ci-fly-token-two";
const ARGS = { owner: "renewa", repository: "renewa-one", environment: "production", secretName: "FLY_API_TOKEN" };
const INPUTS = { ...ARGS, sourceVariable: "FLY_API_TOKEN" };
const KEY = "renewa/renewa-one/production/FLY_API_TOKEN";
const PUT = "PUT /repos/:owner/:repo/environments/:env/secrets/:name";
const PUBLIC_KEY = "GET /repos/:owner/:repo/environments/:env/secrets/public-key";

let fake: HttpFake;
let state: GithubFakeState;
let provider: string;
let withValue: ProviderHost;
let withNewValue: ProviderHost;
let withoutValue: ProviderHost;

function startHost(value?: string): Promise<ProviderHost> {
  return startProviderHost({ GITHUB_TOKEN, GITHUB_API_URL: fake.url, FLY_API_TOKEN: value });
}

beforeAll(async () => {
  ({ fake, state } = await createGithubFake({ token: GITHUB_TOKEN }));
  provider = serializeResource({
    module: "src/providers/github-environment-secret.ts",
    exportName: "GithubEnvironmentSecret",
    name: "prod-fly-api-token",
    args: ARGS,
    env: { GITHUB_TOKEN, FLY_API_TOKEN: VALUE_1 },
  }).provider;
  [withValue, withNewValue, withoutValue] = await Promise.all([startHost(VALUE_1), startHost(VALUE_2), startHost(undefined)]);
});

afterAll(() => closeAll(withValue, withNewValue, withoutValue, fake));

beforeEach(() => {
  state.secrets.clear();
  fake.clearFaults();
});

function callsSince(route: string, start: number) {
  return fake.calls(route).slice(start);
}

describe("GithubEnvironmentSecret provider", () => {
  it("serializes without any token or value", () => {
    for (const secret of [GITHUB_TOKEN, VALUE_1]) expect(provider).not.toContain(secret);
  });

  it("check defaults the source variable and refuses app secrets", async () => {
    expect(await withValue.call(provider, "check", {}, ARGS)).toEqual({ inputs: INPUTS });
    const refused = await withValue.call(provider, "check", {}, { ...ARGS, secretName: "DATABASE_URL" });
    expect(refused.failures).toEqual([{ property: "secretName", reason: expect.stringMatching(/`DATABASE_URL` may not be stored as a GitHub secret.*Infisical/) }]);
  });

  it("create seals the process's value with the environment key and stores only a salted hash", async () => {
    const res = await withValue.call(provider, "create", INPUTS);
    expect(res.id).toBe(KEY);
    expect(state.open(KEY)).toBe(VALUE_1);
    const put = fake.calls(PUT).at(-1)!;
    expect(put.headers.authorization).toBe(`Bearer ${GITHUB_TOKEN}`);
    expect(put.body.key_id).toBe(state.keyId);
    expect(Object.keys(res.outs).sort()).toEqual(["environment", "owner", "repository", "salt", "secretName", "sourceVariable", "valueHash"]);
    expect(JSON.stringify(res)).not.toContain(VALUE_1);
    expect(withValue.output()).not.toContain(VALUE_1);
  });

  it("create without the variable fails, naming it, and writes nothing", async () => {
    const puts = fake.calls(PUT).length;
    const err = await withoutValue.call(provider, "create", INPUTS).catch((e: Error) => e);
    expect(err.message).toMatch(/^FLY_API_TOKEN is not set\. It is needed to set GitHub environment secret FLY_API_TOKEN in renewa\/renewa-one \(environment "production"\)/);
    expect(fake.calls(PUT).length).toBe(puts);
  });

  it("diff sees a new value, and nothing when the value is the same or absent", async () => {
    const { outs } = await withValue.call(provider, "create", INPUTS);
    expect(await withValue.call(provider, "diff", KEY, outs, INPUTS)).toEqual({ changes: false, replaces: [] });
    expect(await withNewValue.call(provider, "diff", KEY, outs, INPUTS)).toEqual({ changes: true, replaces: [] });
    expect(await withoutValue.call(provider, "diff", KEY, outs, INPUTS)).toEqual({ changes: false, replaces: [] });
    expect(await withValue.call(provider, "diff", KEY, outs, { ...INPUTS, environment: "staging" })).toEqual({ changes: true, replaces: ["environment"] });
  });

  it("update writes a new value, and leaves the secret alone when the variable is absent", async () => {
    const { outs } = await withValue.call(provider, "create", INPUTS);
    const puts = fake.calls(PUT).length;

    const kept = await withoutValue.call(provider, "update", KEY, outs, { ...INPUTS });
    expect(kept.outs).toEqual(outs);
    expect(fake.calls(PUT).length).toBe(puts);
    expect(state.open(KEY)).toBe(VALUE_1);

    const updated = await withNewValue.call(provider, "update", KEY, outs, INPUTS);
    expect(state.open(KEY)).toBe(VALUE_2);
    expect(updated.outs.salt).toBe(outs.salt);
    expect(updated.outs.valueHash).not.toBe(outs.valueHash);
    expect(JSON.stringify(updated)).not.toContain(VALUE_2);
  });

  it("read reports a secret deleted in GitHub as gone", async () => {
    const { outs } = await withValue.call(provider, "create", INPUTS);
    expect(await withValue.call(provider, "read", KEY, outs)).toEqual({ id: KEY, props: outs });
    state.secrets.delete(KEY);
    expect((await withValue.call(provider, "read", KEY, outs)).id).toBe("");
  });

  it("delete is safe to repeat", async () => {
    const { outs } = await withValue.call(provider, "create", INPUTS);
    await withValue.call(provider, "delete", KEY, outs);
    expect(state.secrets.has(KEY)).toBe(false);
    await withValue.call(provider, "delete", KEY, outs);
  });

  it("retries 429 and 503, and fails fast on 403 without leaking tokens", async () => {
    const keys = fake.calls(PUBLIC_KEY).length;
    const puts = fake.calls(PUT).length;
    fake.inject({ route: PUBLIC_KEY, nth: [keys + 1], status: 429, headers: { "retry-after": "0" } });
    fake.inject({ route: PUT, nth: [puts + 1], status: 503 });
    await withValue.call(provider, "create", INPUTS);
    expect(callsSince(PUBLIC_KEY, keys).map((c) => c.status)).toEqual([429, 200]);
    expect(callsSince(PUT, puts).map((c) => c.status)).toEqual([503, 201]);
    expect(state.open(KEY)).toBe(VALUE_1);

    const keys2 = fake.calls(PUBLIC_KEY).length;
    fake.inject({ route: PUBLIC_KEY, nth: [keys2 + 1], status: 403, body: { message: "Resource not accessible by integration" } });
    const err = await withValue.call(provider, "create", INPUTS).catch((e: Error) => e);
    expect(err.message).toMatch(/^GET \/repos\/renewa\/renewa-one\/environments\/production\/secrets\/public-key: 403 Resource not accessible by integration/);
    expect(callsSince(PUBLIC_KEY, keys2)).toHaveLength(1);
    for (const secret of [GITHUB_TOKEN, VALUE_1]) expect(err.message).not.toContain(secret);
    for (const host of [withValue, withNewValue, withoutValue]) {
      for (const secret of [GITHUB_TOKEN, VALUE_1, VALUE_2]) expect(host.output()).not.toContain(secret);
    }
  });
});
