/**
 * InfisicalSecrets through the serialized provider against the Infisical fake: idempotent v4 batch upserts of only
 * what changed, the human-managed secret check (names, never values), deletes limited to what it wrote, universal
 * auth, the v3 fallback, retries, and no value anywhere but Infisical.
 */
import { UNKNOWN } from "../src/dynamic-support";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ProviderHost, closeAll, serveProvider, startProviderHost } from "./harness/engine";
import { createInfisicalFake, InfisicalState } from "./fakes/infisical";
import { HttpFake } from "./fakes/http-fake";

const TOKEN = "sentinel-infisical-token-5e8a";
const PROJECT_ID = "2f1c6a3e-5b7d-4e8f-9a0b-1c2d3e4f5a6b";
const HUMAN = ["JWT_SECRET", "ENCRYPTION_KEY", "SENTRY_DSN_BACKEND", "BIRD_API_KEY", "HUBSPOT_CLIENT_SECRET", "SEVDESK_API_TOKEN"];
const SECRETS = {
  DATABASE_URL: "postgres://fly-user:SENTINELVALUE-db@pgbouncer.c.flympg.net:5432/fly-db",
  DATABASE_URL_MIGRATION: "postgres://fly-user:SENTINELVALUE-db@direct.c.flympg.net:5432/fly-db",
  TIGRIS_SECRET_ACCESS_KEY: "tsec_SENTINELVALUE-tigris",
  UPSTASH_REDIS_URL: "rediss://default:SENTINELVALUE-redis@x.upstash.io:6379",
};
const INPUTS = { stack: "production", project: "renewa-one", environment: "prod", secretPath: "/", secrets: SECRETS, requiredSecrets: HUMAN };
const BATCH = "PATCH /api/v4/secrets/batch";

let fake: HttpFake;
let state: InfisicalState;
let provider: string;
let host: ProviderHost;
const folder = () => state.folder(PROJECT_ID, "prod", "/");

function seedHumanSecrets(except: string[] = []): void {
  for (const name of HUMAN) if (!except.includes(name)) folder().set(name, `SENTINELVALUE-human-${name}`);
}

beforeAll(async () => {
  ({ fake, state } = await createInfisicalFake({ tokens: [TOKEN], universalAuth: { clientId: "ua-client", clientSecret: "sentinel-ua-secret-77" } }));
  ({ provider, host } = await serveProvider(
    {
      module: "src/providers/infisical-secrets.ts",
      exportName: "InfisicalSecrets",
      name: "env-secrets-secrets",
      args: { project: "renewa-one", environment: "prod", secrets: SECRETS },
      secretArgs: ["secrets"],
      stack: "production",
      env: { INFISICAL_TOKEN: TOKEN, INFISICAL_CLIENT_SECRET: "sentinel-ua-secret-77" },
    },
    { INFISICAL_TOKEN: TOKEN, INFISICAL_API_URL: fake.url, RENEWA_TIME_SCALE: "0.001" },
  ));
});
afterAll(() => closeAll(host, fake));
beforeEach(() => {
  state.folders.clear();
  fake.clearFaults();
  seedHumanSecrets();
});

describe("InfisicalSecrets provider", () => {
  it("serializes without the token or any secret input", () => {
    expect(provider).not.toContain(TOKEN);
    expect(provider).not.toContain("sentinel-ua-secret");
    expect(provider).not.toContain("SENTINELVALUE");
  });

  it("check defaults path and required names, and refuses to write a human-managed secret", async () => {
    const { stack, project, environment, secrets } = INPUTS;
    expect(await host.call(provider, "check", {}, { stack, project, environment, secrets })).toEqual({ inputs: INPUTS, failures: [] });
    const res = await host.call(provider, "check", {}, { ...INPUTS, secrets: { ...SECRETS, JWT_SECRET: "x", "bad-name": "y" } });
    expect(res.failures.map((f: any) => f.reason)).toEqual([
      "names must be UPPER_SNAKE_CASE: bad-name",
      "JWT_SECRET are human-managed (requiredSecrets); Pulumi must not write them",
    ]);
  });

  it("check (so preview) fails on missing human-managed secrets, listing names and the fix, never a value", async () => {
    folder().delete("BIRD_API_KEY");
    folder().delete("SEVDESK_API_TOKEN");
    const batches = fake.calls(BATCH).length;
    const err: Error = await host.call(provider, "check", {}, INPUTS).catch((e) => e);
    expect(err.message).toContain('Infisical is missing 2 required secret(s) for stack "production": BIRD_API_KEY, SEVDESK_API_TOKEN');
    expect(err.message).toContain(`project "renewa-one" (id ${PROJECT_ID}), environment "prod", path "/"`);
    expect(err.message).toContain(`infisical secrets set <NAME>=<value> --projectId ${PROJECT_ID} --env prod --path /`);
    expect(err.message).not.toContain("SENTINELVALUE");
    await expect(host.call(provider, "create", INPUTS)).rejects.toThrow(/BIRD_API_KEY, SEVDESK_API_TOKEN/);
    expect(fake.calls(BATCH)).toHaveLength(batches);
    // The names were listed without asking for values.
    expect(fake.calls("GET /api/v4/secrets").every((c) => c.status === 200)).toBe(true);
  });

  it("check passes an unknown (preview) map through without validating it", async () => {
    const unknown = UNKNOWN;
    expect((await host.call(provider, "check", {}, { ...INPUTS, secrets: unknown })).failures).toEqual([]);
  });

  it("create upserts every value in one v4 batch and keeps only names and hashes", async () => {
    const res = await host.call(provider, "create", INPUTS);
    const call = fake.calls(BATCH).at(-1)!;
    expect(call.body).toMatchObject({ projectId: PROJECT_ID, environment: "prod", secretPath: "/", mode: "upsert" });
    expect(call.body.secrets.map((s: any) => s.secretKey)).toEqual(Object.keys(SECRETS));
    for (const [k, v] of Object.entries(SECRETS)) expect(folder().get(k)).toBe(v);
    expect(res.id).toBe(`${PROJECT_ID}/prod/`);
    expect(Object.keys(res.outs.secretHashes).sort()).toEqual(Object.keys(SECRETS).sort());
    expect(res.outs.secretsHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(res.outs).not.toHaveProperty("secrets");
    expect(JSON.stringify(res)).not.toContain("SENTINELVALUE");
  });

  it("update writes only the changed keys and removes a key no longer derived; human secrets stay", async () => {
    const { outs } = await host.call(provider, "create", INPUTS);
    expect(await host.call(provider, "diff", "id", outs, INPUTS)).toEqual({ changes: false, replaces: [] });
    const { UPSTASH_REDIS_URL: _dropped, ...rest } = SECRETS;
    const news = { ...INPUTS, secrets: { ...rest, DATABASE_URL: SECRETS.DATABASE_URL.replace("pgbouncer.c", "pgbouncer.d") } };
    expect(await host.call(provider, "diff", "id", outs, news)).toEqual({ changes: true, replaces: [] });
    const n = fake.calls(BATCH).length;
    const updated = await host.call(provider, "update", "id", outs, news);
    expect(fake.calls(BATCH).slice(n).map((c) => c.body.secrets.map((s: any) => s.secretKey))).toEqual([["DATABASE_URL"]]);
    expect(fake.calls("DELETE /api/v4/secrets/batch").at(-1)!.body.secrets).toEqual([{ secretKey: "UPSTASH_REDIS_URL" }]);
    expect(folder().has("UPSTASH_REDIS_URL")).toBe(false);
    expect(folder().get("DATABASE_URL")).toContain("pgbouncer.d");
    for (const name of HUMAN) expect(folder().has(name)).toBe(true);
    expect(updated.outs.secretsHash).not.toBe(outs.secretsHash);
  });

  it("diff: a new folder replaces; an unknown value is a change", async () => {
    const { outs } = await host.call(provider, "create", INPUTS);
    expect(await host.call(provider, "diff", "id", outs, { ...INPUTS, environment: "staging" })).toEqual({ changes: true, replaces: ["environment"], deleteBeforeReplace: true });
    const unknown = { ...INPUTS, secrets: { ...SECRETS, DATABASE_URL: UNKNOWN } };
    expect((await host.call(provider, "diff", "id", outs, unknown)).changes).toBe(true);
  });

  it("a replace that names the same project by id instead of slug keeps the secrets, because delete runs first", async () => {
    const { id, outs } = await host.call(provider, "create", INPUTS);
    const news = { ...INPUTS, project: PROJECT_ID };
    const diff = await host.call(provider, "diff", id, outs, news);
    expect(diff.replaces).toEqual(["project"]);
    // The engine's replace: the old resource is deleted first only when diff asks for it.
    if (diff.deleteBeforeReplace) {
      await host.call(provider, "delete", id, outs);
      await host.call(provider, "create", news);
    } else {
      await host.call(provider, "create", news);
      await host.call(provider, "delete", id, outs);
    }
    expect([...folder().keys()].sort()).toEqual([...HUMAN, ...Object.keys(SECRETS)].sort());
  });

  it("read forgets a written secret someone deleted, so the next up writes it again", async () => {
    const { outs } = await host.call(provider, "create", INPUTS);
    folder().delete("TIGRIS_SECRET_ACCESS_KEY");
    const read = await host.call(provider, "read", "id", outs);
    expect(Object.keys(read.props.secretHashes)).not.toContain("TIGRIS_SECRET_ACCESS_KEY");
    expect((await host.call(provider, "diff", "id", read.props, INPUTS)).changes).toBe(true);
  });

  it("delete removes only what it wrote, and a second delete is fine", async () => {
    const { outs } = await host.call(provider, "create", INPUTS);
    folder().set("MANUAL_FLAG", "on");
    await host.call(provider, "delete", "id", outs);
    await host.call(provider, "delete", "id", outs);
    expect([...folder().keys()].sort()).toEqual([...HUMAN, "MANUAL_FLAG"].sort());
  });

  it("retries a 503 on the batch upsert and a 429 on the list", async () => {
    const nb = fake.calls(BATCH).length;
    const nl = fake.calls("GET /api/v4/secrets").length;
    fake.inject({ route: BATCH, nth: [nb + 1], status: 503 });
    fake.inject({ route: "GET /api/v4/secrets", nth: [nl + 1], status: 429, headers: { "retry-after": "0" } });
    await host.call(provider, "create", INPUTS);
    expect(fake.calls(BATCH).slice(nb).map((c) => c.status)).toEqual([503, 200]);
    expect(fake.calls("GET /api/v4/secrets").slice(nl)[0].status).toBe(429);
  });

  it("logs in with universal auth when no access token is given", async () => {
    const [ua, bad] = await Promise.all([
      startProviderHost({ INFISICAL_CLIENT_ID: "ua-client", INFISICAL_CLIENT_SECRET: "sentinel-ua-secret-77", INFISICAL_API_URL: fake.url }),
      startProviderHost({ INFISICAL_API_URL: fake.url }),
    ]);
    try {
      await ua.call(provider, "create", INPUTS);
      expect(fake.calls("POST /api/v1/auth/universal-auth/login").at(-1)!.body).toEqual({ clientId: "ua-client", clientSecret: "sentinel-ua-secret-77" });
      expect(fake.calls(BATCH).at(-1)!.headers.authorization).toMatch(/^Bearer ua-token-/);
      await expect(bad.call(provider, "create", INPUTS)).rejects.toThrow(/INFISICAL_CLIENT_ID is not set.*or export INFISICAL_TOKEN instead/);
    } finally {
      await closeAll(ua, bad);
    }
  });

  it("a login error echoing the client secret does not carry it", async () => {
    const ua = await startProviderHost({ INFISICAL_CLIENT_ID: "ua-client", INFISICAL_CLIENT_SECRET: "sentinel-ua-secret-77", INFISICAL_API_URL: fake.url });
    fake.inject({ route: "POST /api/v1/auth/universal-auth/login", status: 401, body: { message: "Invalid clientSecret sentinel-ua-secret-77" } });
    try {
      const err: Error = await ua.call(provider, "create", INPUTS).catch((e) => e);
      expect(err.message).toMatch(/^POST \/api\/v1\/auth\/universal-auth\/login: 401 Invalid clientSecret \[redacted\]/);
      expect(ua.output()).not.toContain("sentinel-ua-secret-77");
    } finally {
      await ua.close();
    }
  });

  it("falls back to v3 raw routes on a deployment without v4", async () => {
    const v3 = await createInfisicalFake({ tokens: [TOKEN], v3Only: true });
    const h = await startProviderHost({ INFISICAL_TOKEN: TOKEN, INFISICAL_API_URL: v3.fake.url });
    try {
      for (const name of HUMAN) v3.state.folder(PROJECT_ID, "prod", "/").set(name, "x");
      const { outs } = await h.call(provider, "create", INPUTS);
      const news = { ...INPUTS, secrets: { ...SECRETS, DATABASE_URL: "postgres://new", NEW_ONE: "n" } };
      await h.call(provider, "update", "id", outs, news);
      expect(v3.fake.mutatingCalls().filter((c) => c.status === 200).map((c) => `${c.route} ${c.body.secrets.map((s: any) => s.secretKey)}`)).toEqual([
        `POST /api/v3/secrets/batch/raw ${Object.keys(SECRETS)}`,
        "PATCH /api/v3/secrets/batch/raw DATABASE_URL",
        "POST /api/v3/secrets/batch/raw NEW_ONE",
      ]);
      expect(v3.state.folder(PROJECT_ID, "prod", "/").get("DATABASE_URL")).toBe("postgres://new");
    } finally {
      await h.close();
      await v3.fake.stop();
    }
  });

  it("never prints a token or a value", () => {
    expect(host.output()).not.toContain(TOKEN);
    expect(host.output()).not.toContain("SENTINELVALUE");
  });
});
