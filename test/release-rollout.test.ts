// The Release provider as the engine runs it (serialized, then deserialized in a plain Node process) against the
// Machines API fake: each strategy's happy path, the no-op up, drift on refresh, and release records.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProviderHost, closeAll, serializeResource, startProviderHost } from "./harness/engine";
import { FlyMachinesFake, createFlyMachinesFake, flyProviderEnv, imageRef, sampleMachineSettings } from "./fakes/fly-machines";

const TOKEN = "SENTINEL_fly_token_rollout";
const DB_URL = "postgres://migrator:SENTINEL_db_password@db.flympg.net/renewa";
const APP = "renewa-app-pr-11";
const UPDATE = "POST /v1/apps/:app/machines/:id";
const digest = (n: number) => imageRef(n).split("@")[1];

let provider: string;
let baseInputs: Record<string, unknown>;
let fly: FlyMachinesFake;
let host: ProviderHost;

beforeAll(() => {
  ({ provider, news: baseInputs } = serializeResource({
    module: "src/providers/release.ts",
    exportName: "Release",
    name: "pr-11-release",
    args: { app: APP, image: imageRef(2), machine: sampleMachineSettings, machineCount: 4, migrationDatabaseUrl: DB_URL },
    secretArgs: ["migrationDatabaseUrl"],
    env: { FLY_API_TOKEN: TOKEN },
  }));
  expect(provider).not.toContain("SENTINEL");
}, 60_000);

async function setup(opts: Parameters<typeof createFlyMachinesFake>[0] = {}, seed = 4): Promise<void> {
  fly = await createFlyMachinesFake({ secondMs: 1, bootMs: 8, healthMs: 8, token: TOKEN, ...opts });
  fly.addApp(APP);
  for (let i = 0; i < seed; i++) fly.addMachine(APP, { image: imageRef(1), metadata: { fly_platform_version: "v2", fly_process_group: "app" } });
  host = await startProviderHost(flyProviderEnv(fly, TOKEN));
}

afterEach(() => closeAll(host, fly));

async function deploy(overrides: Record<string, unknown>, olds?: Record<string, any>): Promise<Record<string, any>> {
  const news = { ...baseInputs, ...overrides };
  const checked = await host.call(provider, "check", olds ?? {}, news);
  expect(checked.failures ?? []).toEqual([]);
  if (!olds) return (await host.call(provider, "create", checked.inputs)).outs;
  return (await host.call(provider, "update", APP, olds, checked.inputs)).outs;
}

const images = () => fly.machines(APP).map((m) => m.config.image);

describe("Release: each strategy moves the whole fleet to the new image", () => {
  it("rolling with maxUnavailable 1 finishes one machine's health gate before touching the next", async () => {
    await setup();
    const outs = await deploy({ strategy: "rolling", maxUnavailable: 1 });
    expect(images()).toEqual(Array(4).fill(imageRef(2)));
    const log = fly.fake.log.map((l) => `${l.method} ${l.path}`);
    const updates = fly.fake.calls(UPDATE).map((l) => l.path);
    for (let i = 1; i < updates.length; i++) {
      const released = log.indexOf(`DELETE ${updates[i - 1]}/lease`);
      expect(released).toBeGreaterThan(-1);
      expect(released).toBeLessThan(log.indexOf(`POST ${updates[i]}`));
    }
    expect(outs).toMatchObject({ digest: digest(2), previousDigest: digest(1), releaseVersion: 1, history: [digest(2)] });
    expect(outs.machines).toHaveLength(4);
    for (const m of fly.machines(APP)) {
      expect(m.config.metadata).toMatchObject({ fly_platform_version: "v2", fly_process_group: "app", fly_release_version: "1" });
      expect(m.config.metadata.fly_release_id).toBe(fly.state.apps.get(APP)!.releases[0].id);
      expect(m.config.services[0]).toMatchObject({ internal_port: 8080, ports: [{ port: 80, force_https: true }, { port: 443 }] });
    }
    expect(fly.state.apps.get(APP)!.releases[0].status).toBe("complete");
    expect(host.output()).toMatch(/updating machine 4 of 4/);
  });

  it("immediate updates every machine before any health gate finishes", async () => {
    await setup();
    await deploy({ strategy: "immediate" });
    expect(images()).toEqual(Array(4).fill(imageRef(2)));
    const log = fly.fake.log.map((l) => l.route);
    const lastUpdate = log.lastIndexOf(UPDATE);
    expect(lastUpdate).toBeLessThan(log.indexOf("DELETE /v1/apps/:app/machines/:id/lease"));
  });

  it("bluegreen brings up healthy green machines, switches traffic, then retires the blue ones", async () => {
    await setup();
    const blue = fly.machines(APP).map((m) => m.id);
    const outs = await deploy({ strategy: "bluegreen" });
    const green = fly.machines(APP);
    expect(green).toHaveLength(4);
    expect(green.every((m) => !blue.includes(m.id) && m.config.image === imageRef(2) && !m.cordoned)).toBe(true);
    expect(green.every((m) => m.skip_service_registration)).toBe(true);
    const log = fly.fake.log.map((l) => l.route);
    expect(log.lastIndexOf("POST /v1/apps/:app/machines/:id/uncordon")).toBeLessThan(log.indexOf("POST /v1/apps/:app/machines/:id/cordon"));
    expect(fly.fake.calls(UPDATE)).toHaveLength(0);
    expect(outs.machines.map((m: { id: string }) => m.id).sort()).toEqual(green.map((m) => m.id).sort());
  });

  it("creates missing machines and retires surplus ones to match machineCount", async () => {
    await setup({}, 0);
    const first = await deploy({ machineCount: 3 });
    expect(images()).toEqual(Array(3).fill(imageRef(2)));
    expect(first.previousDigest).toBeUndefined();
    const second = await deploy({ machineCount: 1 }, first);
    expect(fly.machines(APP)).toHaveLength(1);
    expect(second.machines).toHaveLength(1);
    expect(fly.fake.calls(UPDATE)).toHaveLength(0);
  });
});

describe("Release: what an unchanged up, a refresh and a tag do", () => {
  it("an up with nothing changed makes no mutating API call", async () => {
    await setup();
    const outs = await deploy({});
    const mark = fly.fake.mutatingCalls().length;
    const checked = await host.call(provider, "check", outs, { ...baseInputs });
    expect(await host.call(provider, "diff", APP, outs, checked.inputs)).toMatchObject({ changes: false, replaces: [] });
    // Even a forced update converges without touching anything, because the fleet already matches.
    const again = (await host.call(provider, "update", APP, outs, checked.inputs)).outs;
    expect(fly.fake.mutatingCalls().slice(mark)).toEqual([]);
    expect(again).toMatchObject({ digest: digest(2), releaseVersion: 1, history: [digest(2)] });
  });

  it("read reports the live image and count, so a hand-made deploy shows as drift and the next up reverts it", async () => {
    await setup({}, 2);
    const outs = await deploy({ machineCount: 2 });
    for (const m of fly.machines(APP)) m.config = { ...m.config, image: imageRef(3) };
    fly.addMachine(APP, { image: imageRef(3), metadata: { fly_process_group: "app" } });
    const read = await host.call(provider, "read", APP, outs);
    expect(read.props).toMatchObject({ digest: digest(3), machineCount: 3 });
    const checked = await host.call(provider, "check", read.props, { ...baseInputs, machineCount: 2 });
    expect((await host.call(provider, "diff", APP, read.props, checked.inputs)).changes).toBe(true);
    const fixed = (await host.call(provider, "update", APP, read.props, checked.inputs)).outs;
    expect(images()).toEqual([imageRef(2), imageRef(2)]);
    expect(fixed).toMatchObject({ previousDigest: digest(3), releaseVersion: 2, history: [digest(2)] });
  });

  it("a new digest adds to history (newest first, capped at 20) and a new app forces a replace", async () => {
    await setup({}, 1);
    let outs = await deploy({ machineCount: 1 });
    for (let n = 3; n <= 23; n++) outs = await deploy({ machineCount: 1, image: imageRef(n) }, outs);
    expect(outs.history).toHaveLength(20);
    expect(outs.history.slice(0, 2)).toEqual([digest(23), digest(22)]);
    const checked = await host.call(provider, "check", outs, { ...baseInputs, app: "renewa-app-pr-12", image: imageRef(23) });
    expect(await host.call(provider, "diff", APP, outs, checked.inputs)).toMatchObject({ changes: true, replaces: ["app"] });
  });

  it("check refuses an image by tag with a clear error", async () => {
    await setup({}, 0);
    const res = await host.call(provider, "check", {}, { ...baseInputs, image: "registry.fly.io/renewa-app:deployment-01J8" });
    expect(res.failures).toEqual([expect.objectContaining({ property: "image", reason: expect.stringMatching(/looks like a tag; deploy by digest/) })]);
  });

  it("rolls out with a derived version when api.fly.io's release records are unavailable", async () => {
    await setup({ releasesApi: false }, 2);
    const first = await deploy({ machineCount: 2 });
    const second = await deploy({ machineCount: 2, image: imageRef(4) }, first);
    expect([first.releaseVersion, second.releaseVersion]).toEqual([1, 2]);
    expect(fly.machines(APP).map((m) => m.config.metadata.fly_release_version)).toEqual(["2", "2"]);
    expect(host.output()).toMatch(/could not record the release on api\.fly\.io/);
  });

  it("keeps credentials and the migration URL out of logs and non-secret outputs", async () => {
    await setup({}, 2);
    const outs = await deploy({ machineCount: 2, releaseCommand: "bin/migrate" });
    const { migrationDatabaseUrl, ...plain } = outs;
    expect(migrationDatabaseUrl).toBe(DB_URL);
    expect(JSON.stringify(plain)).not.toContain("SENTINEL");
    expect(host.output()).not.toContain("SENTINEL");
  });
});
