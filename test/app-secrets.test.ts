// AppSecrets through the engine harness against the Machines API fake, and the rule that only PR preview apps can
// have Fly secrets written by this program (constructor, check, and the client's branded app name).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProviderHost, ROOT, closeAll, runTs, serveProvider } from "./harness/engine";
import { FlyMachinesFake, createFlyMachinesFake, flyProviderEnv } from "./fakes/fly-machines";
import { createFlyMachinesClient, prAppName } from "../src/clients/fly-machines";

const TOKEN = "SENTINEL_secrets_token";
const VALUE = "SENTINEL_database_password";
const APP = "renewa-app-pr-42";
let provider: string;
let inputs: Record<string, any>;
let fly: FlyMachinesFake;
let host: ProviderHost;

beforeAll(async () => {
  fly = await createFlyMachinesFake({ token: TOKEN });
  fly.addApp(APP);
  fly.addApp("renewa-app-staging");
  ({ provider, news: inputs, host } = await serveProvider(
    {
      module: "src/providers/app-secrets.ts",
      exportName: "AppSecrets",
      name: "pr-42-secrets",
      args: { app: APP, values: { DATABASE_URL: VALUE, REDIS_URL: "redis://SENTINEL_redis" } },
      secretArgs: ["values"],
      env: { FLY_API_TOKEN: TOKEN },
    },
    flyProviderEnv(fly, TOKEN),
  ));
}, 60_000);

afterAll(() => closeAll(host, fly));

describe("AppSecrets on a PR app", () => {
  it("stages the values in one bulk call and keeps only names, digests and the version", async () => {
    expect(provider).not.toContain("SENTINEL");
    const checked = await host.call(provider, "check", {}, inputs);
    expect(checked.failures ?? []).toEqual([]);
    const { outs } = await host.call(provider, "create", checked.inputs);
    expect(outs).toMatchObject({ app: APP, names: ["DATABASE_URL", "REDIS_URL"], version: 1 });
    expect(JSON.stringify(outs)).not.toContain("SENTINEL");
    expect(host.output()).not.toContain("SENTINEL");
    const [call] = fly.fake.calls("POST /v1/apps/:app/secrets");
    expect(call.body).toEqual({ values: { DATABASE_URL: VALUE, REDIS_URL: "redis://SENTINEL_redis" } });
    expect([...fly.state.apps.get(APP)!.secrets.keys()].sort()).toEqual(["DATABASE_URL", "REDIS_URL"]);

    // Same values: no change. A changed value or a dropped name: one update, which unsets what is gone.
    expect(await host.call(provider, "diff", APP, outs, checked.inputs)).toMatchObject({ changes: false });
    const next = { app: APP, values: { DATABASE_URL: "SENTINEL_rotated" } };
    expect(await host.call(provider, "diff", APP, outs, next)).toMatchObject({ changes: true });
    const updated = (await host.call(provider, "update", APP, outs, next)).outs;
    expect(fly.fake.calls("POST /v1/apps/:app/secrets")[1].body).toEqual({ values: { DATABASE_URL: "SENTINEL_rotated", REDIS_URL: null } });
    expect(updated).toMatchObject({ names: ["DATABASE_URL"], version: 2 });

    // Refresh: unchanged, exactly what was stored; a secret unset outside Pulumi leaves the state (the next up stages it).
    expect(await host.call(provider, "read", APP, updated)).toEqual({ id: APP, props: updated });
    fly.state.apps.get(APP)!.secrets.delete("DATABASE_URL");
    const refreshed = await host.call(provider, "read", APP, updated);
    expect(refreshed.props).toMatchObject({ names: [], digests: {} });
    expect(await host.call(provider, "diff", APP, refreshed.props, next)).toMatchObject({ changes: true });
    fly.state.apps.get(APP)!.secrets.set("DATABASE_URL", { digest: "restored", updated_at: new Date().toISOString() });

    await host.call(provider, "delete", APP, updated);
    expect(fly.state.apps.get(APP)!.secrets.size).toBe(0);
  });
});

describe("secrets of development, staging and production cannot be written", () => {
  it("check refuses any app that is not a PR preview", async () => {
    const res = await host.call(provider, "check", {}, { ...inputs, app: "renewa-app-staging" });
    expect(res.failures).toEqual([expect.objectContaining({ property: "app", reason: expect.stringMatching(/owned by Infisical's sync/) })]);
  });

  it("the provider refuses to write even when check is skipped", async () => {
    await expect(host.call(provider, "create", { ...inputs, app: "renewa-app-staging" })).rejects.toThrow(/not a PR preview app/);
    await expect(host.call(provider, "update", "x", { app: APP, names: [] }, { ...inputs, app: "renewa-app-production" })).rejects.toThrow(/not a PR preview app/);
    expect(fly.fake.calls("POST /v1/apps/:app/secrets").filter((l) => l.path.includes("staging") || l.path.includes("production"))).toEqual([]);
  });

  it("the constructor refuses a plain non-PR app name", () => {
    const res = runTs("test/harness/serialize-child.ts", [], {
      input: JSON.stringify({ module: `${ROOT}/src/providers/app-secrets.ts`, export: "AppSecrets", name: "s", args: { app: "renewa-app-production", values: {} } }),
    });
    expect(res.status).not.toBe(0);
    expect(res.stderr).toMatch(/only stage secrets on PR preview apps/);
  });

  it("the client's secret writer takes only a validated PR app name", async () => {
    expect(prAppName("renewa-app-pr-7")).toBe("renewa-app-pr-7");
    for (const name of ["renewa-app-staging", "renewa-app-pr-0", "renewa-app-pr-07", "renewa-app-pr-7x", "x-renewa-app-pr-7"]) {
      expect(() => prAppName(name)).toThrow(/not a PR preview app/);
    }
    process.env.FLY_API_TOKEN = TOKEN;
    const client = createFlyMachinesClient({ baseUrl: fly.url });
    // @ts-expect-error a plain string is not a PrAppName: writing a non-PR app's secrets does not compile.
    await expect(client.setSecrets("renewa-app-staging", { A: "b" })).rejects.toThrow(/not a PR preview app/);
    delete process.env.FLY_API_TOKEN;
  });
});
