// The FlyApp provider through the engine harness against the Machines API fake: create with IPs, adoption of an app
// already in the org, a name owned by another org, and a delete that is safe to repeat.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProviderHost, closeAll, serializeResource, startProviderHost } from "./harness/engine";
import { FlyMachinesFake, createFlyMachinesFake, flyProviderEnv } from "./fakes/fly-machines";

const TOKEN = "fm2_SENTINEL_app_token";
let provider: string;
let fly: FlyMachinesFake;
let host: ProviderHost;

beforeAll(() => {
  const serialized = serializeResource({
    module: "src/providers/fly-app.ts",
    exportName: "FlyApp",
    name: "staging-app",
    args: { name: "renewa-app-staging", org: "renewa" },
    env: { FLY_API_TOKEN: TOKEN },
  });
  provider = serialized.provider;
  expect(provider).not.toContain("SENTINEL");
  expect(serialized.news).toEqual({ name: "renewa-app-staging", org: "renewa" });
}, 60_000);

async function setup(): Promise<void> {
  fly = await createFlyMachinesFake({ token: TOKEN });
  host = await startProviderHost(flyProviderEnv(fly, TOKEN));
}

afterEach(() => closeAll(host, fly));

async function create(inputs: { name: string; org: string }) {
  const checked = await host.call(provider, "check", {}, inputs);
  expect(checked.failures ?? []).toEqual([]);
  return host.call(provider, "create", checked.inputs);
}

describe("FlyApp", () => {
  it("creates the app in the org and assigns a shared IPv4 and an IPv6", async () => {
    await setup();
    const { id, outs } = await create({ name: "renewa-app-staging", org: "renewa" });
    expect(id).toBe("renewa-app-staging");
    expect(outs).toMatchObject({ adopted: false, sharedIpv4: "66.241.125.1", ipv6: expect.stringContaining(":") });
    expect(fly.fake.calls("POST /v1/apps")[0].body).toMatchObject({ name: "renewa-app-staging", org_slug: "renewa" });
    expect(fly.fake.calls("POST /v1/apps/:app/ip_assignments").map((l) => l.body.type)).toEqual(["shared_v4", "v6"]);
    expect(fly.fake.log.every((l) => l.headers.authorization === `FlyV1 ${TOKEN}`)).toBe(true);
    expect(JSON.stringify(outs)).not.toContain("SENTINEL");
  });

  it("adopts an app of the same name in the same org, assigning only the missing IPs", async () => {
    await setup();
    const existing = fly.addApp("renewa-app-staging", "renewa");
    existing.ips.push({ ip: "2a09:8280:1::aa", type: "v6", shared: false, region: "global", created_at: "" });
    const { outs } = await create({ name: "renewa-app-staging", org: "renewa" });
    expect(outs).toMatchObject({ adopted: true, appId: existing.id, ipv6: "2a09:8280:1::aa", sharedIpv4: "66.241.125.1" });
    expect(fly.fake.calls("POST /v1/apps")).toHaveLength(0);
    expect(fly.fake.calls("POST /v1/apps/:app/ip_assignments").map((l) => l.body.type)).toEqual(["shared_v4"]);
    // Running it again (a re-run after a crash) changes nothing.
    const mark = fly.fake.mutatingCalls().length;
    await create({ name: "renewa-app-staging", org: "renewa" });
    expect(fly.fake.mutatingCalls().slice(mark)).toEqual([]);
  });

  it("explains a name owned by another organization (403) and an app in a different org of ours", async () => {
    await setup();
    fly.addApp("renewa-app-staging", "someone-else");
    await expect(create({ name: "renewa-app-staging", org: "renewa" })).rejects.toThrow(/taken by an app in another organization \(Fly answered 403\)/);
    fly.options.orgs.push("renewa-old");
    fly.addApp("renewa-app-production", "renewa-old");
    await expect(create({ name: "renewa-app-production", org: "renewa" })).rejects.toThrow(/exists in org renewa-old, not renewa/);
    expect(fly.fake.calls("POST /v1/apps")).toHaveLength(0);
  });

  it("replaces only on a new name or org, and deleting twice is fine (404 = done)", async () => {
    await setup();
    const { outs } = await create({ name: "renewa-app-pr-4", org: "renewa" });
    expect(await host.call(provider, "diff", "renewa-app-pr-4", outs, { name: "renewa-app-pr-4", org: "renewa" })).toMatchObject({ changes: false });
    expect(await host.call(provider, "diff", "renewa-app-pr-4", outs, { name: "renewa-app-pr-5", org: "renewa" })).toMatchObject({ replaces: ["name"] });
    await host.call(provider, "delete", "renewa-app-pr-4", outs);
    await host.call(provider, "delete", "renewa-app-pr-4", outs);
    expect(fly.state.apps.has("renewa-app-pr-4")).toBe(false);
    expect(fly.fake.calls("DELETE /v1/apps/:app").map((l) => l.status)).toEqual([202, 404]);
    expect(await host.call(provider, "read", "renewa-app-pr-4", outs)).toEqual({});
  });

  it("a create Fly refuses (422) fails with Fly's message, not a wait for an app that was never made", async () => {
    await setup();
    fly.fake.inject({ route: "POST /v1/apps", status: 422, body: { error: "Validation failed: organization is suspended" } });
    await expect(create({ name: "renewa-app-pr-9", org: "renewa" })).rejects.toThrow(/^POST \/v1\/apps: 422 Validation failed: organization is suspended \(request id /);
  });

  it("check refuses names Fly would refuse", async () => {
    await setup();
    const res = await host.call(provider, "check", {}, { name: "Renewa_App", org: "renewa" });
    expect(res.failures).toEqual([expect.objectContaining({ property: "name" })]);
  });
});
