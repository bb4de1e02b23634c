// The Release provider as the engine runs it (serialized, then deserialized in a plain Node process) against the
// Machines API fake: each strategy's happy path with what users could reach during it, ownership, the no-op up,
// drift on refresh, the release record's definition, and no secret in any machine config.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProviderHost, closeAll, serializeResource, startProviderHost } from "./harness/engine";
import { FlyMachinesFake, createFlyMachinesFake, flyProviderEnv, imageRef, sampleMachineSettings } from "./fakes/fly-machines";

const TOKEN = "SENTINEL_fly_token_rollout";
const APP = "renewa-app-pr-11";
const UPDATE = "POST /v1/apps/:app/machines/:id";
const CREATE = "POST /v1/apps/:app/machines";
const V2 = { fly_platform_version: "v2", fly_process_group: "app" };
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
    args: { app: APP, image: imageRef(2), machine: sampleMachineSettings, machineCount: 4 },
    env: { FLY_API_TOKEN: TOKEN },
  }));
  expect(provider).not.toContain("SENTINEL");
}, 60_000);

async function setup(opts: Parameters<typeof createFlyMachinesFake>[0] = {}, seed = 4): Promise<void> {
  fly = await createFlyMachinesFake({ secondMs: 1, bootMs: 8, healthMs: 8, token: TOKEN, ...opts });
  fly.addApp(APP);
  for (let i = 0; i < seed; i++) fly.addMachine(APP, { image: imageRef(1), metadata: V2 });
  host = await startProviderHost(flyProviderEnv(fly, TOKEN));
}

afterEach(async () => {
  // Every request the program sent is one Fly's published spec declares (the fake answers 400 otherwise).
  const refused = fly?.fake.log.filter((l) => l.status === 400).map((l) => `${l.method} ${l.path}`) ?? [];
  await closeAll(host, fly);
  expect(refused).toEqual([]);
});

async function deploy(overrides: Record<string, unknown>, olds?: Record<string, any>): Promise<Record<string, any>> {
  const news = { ...baseInputs, ...overrides };
  const checked = await host.call(provider, "check", olds ?? {}, news);
  expect(checked.failures ?? []).toEqual([]);
  if (!olds) return (await host.call(provider, "create", checked.inputs)).outs;
  return (await host.call(provider, "update", APP, olds, checked.inputs)).outs;
}

const images = () => fly.machines(APP).map((m) => m.config.image);
const noLeaseLeft = () => fly.machines(APP).every((m) => !m.lease || m.lease.expiresAt < Date.now());

describe("Release: each strategy moves the whole fleet to the new image, keeping what it promises users", () => {
  it("rolling with maxUnavailable 1: leases everything first, one machine down at a time, no lease left behind", async () => {
    await setup();
    const started = Date.now();
    const outs = await deploy({ strategy: "rolling", maxUnavailable: 1 });
    expect(images()).toEqual(Array(4).fill(imageRef(2)));
    expect(fly.minRoutable(APP, started)).toBe(3);
    const routes = fly.fake.log.map((l) => l.route);
    expect(routes.filter((r) => r === "POST /v1/apps/:app/machines/:id/lease").length).toBeGreaterThanOrEqual(4);
    expect(routes.slice(0, routes.indexOf(UPDATE)).filter((r) => r === "POST /v1/apps/:app/machines/:id/lease")).toHaveLength(4);
    expect(routes.lastIndexOf(UPDATE)).toBeLessThan(routes.indexOf("DELETE /v1/apps/:app/machines/:id/lease"));
    expect(noLeaseLeft()).toBe(true);
    expect(outs).toMatchObject({ digest: digest(2), previousDigest: digest(1), releaseVersion: 1, history: [digest(2)], drift: [] });
    expect(outs.machines).toHaveLength(4);
    for (const m of fly.machines(APP)) {
      expect(m.config.metadata).toMatchObject({ ...V2, fly_release_version: "1" });
      expect(m.config.metadata.fly_release_id).toBe(fly.state.apps.get(APP)!.releases[0].id);
      expect(m.config.services[0]).toMatchObject({ internal_port: 8080, ports: [{ port: 80, force_https: true }, { port: 443 }] });
    }
    expect(fly.state.apps.get(APP)!.releases[0].status).toBe("complete");
    expect(host.output()).toMatch(/updating machine 4 of 4/);
  });

  it("rolling keeps a sliding pool of maxUnavailable machines in flight, not batches with barriers", async () => {
    await setup({ bootMs: 4, healthMs: 4 }, 4);
    // The first machine's host is slow: the pool moves on with the other slot meanwhile (batches would wait for it).
    const slow = fly.machines(APP).sort((a, b) => (a.id < b.id ? -1 : 1))[0];
    slow.bootMs = 1500;
    const started = Date.now();
    await deploy({ strategy: "rolling", maxUnavailable: 2, machineCount: 4, waitTimeoutSeconds: 5000 });
    const updates = fly.state.apps.get(APP)!.actions.filter((a) => a.action === "update");
    const slowStarted = slow.events.find((e) => e.type === "start")!.timestamp;
    expect(updates.filter((u) => u.machine !== slow.id && u.at < slowStarted)).toHaveLength(3);
    expect(fly.minRoutable(APP, started)).toBe(2);
  });

  it("canary: one new unrouted machine proves the image, is destroyed, then the fleet rolls; N routable during the canary", async () => {
    await setup();
    const started = Date.now();
    await deploy({ strategy: "canary", maxUnavailable: 2 });
    expect(images()).toEqual(Array(4).fill(imageRef(2)));
    const creates = fly.fake.calls(CREATE);
    expect(creates).toHaveLength(1);
    expect(creates[0].body).toMatchObject({ skip_service_registration: true, config: { metadata: { fly_canary: "true" }, dns: { skip_registration: true } } });
    const canary = [...fly.state.apps.get(APP)!.machines.values()].find((m) => m.config.metadata.fly_canary)!;
    expect(canary.state).toBe("destroyed");
    const actions = fly.state.apps.get(APP)!.actions;
    const firstUpdate = actions.find((a) => a.action === "update")!.at;
    expect(actions.find((a) => a.action === "destroy")!.at).toBeLessThanOrEqual(firstUpdate);
    expect(fly.minRoutable(APP, started, firstUpdate - 1)).toBe(4);
    expect(fly.minRoutable(APP, started)).toBeGreaterThanOrEqual(2);
  });

  it("immediate updates every machine before any health gate finishes", async () => {
    await setup();
    await deploy({ strategy: "immediate" });
    expect(images()).toEqual(Array(4).fill(imageRef(2)));
    const log = fly.fake.log.map((l) => l.route);
    expect(log.lastIndexOf(UPDATE)).toBeLessThan(log.indexOf("GET /v1/apps/:app/machines/:id"));
  });

  it("bluegreen: healthy greens, routed, 10 s for the proxy, blues cordoned, 10 s again, then stopped; N routable throughout", async () => {
    await setup();
    const blue = fly.machines(APP).map((m) => m.id);
    const started = Date.now();
    const outs = await deploy({ strategy: "bluegreen" });
    const green = fly.machines(APP);
    expect(green).toHaveLength(4);
    expect(green.every((m) => !blue.includes(m.id) && m.config.image === imageRef(2) && !m.cordoned && m.skip_service_registration)).toBe(true);
    expect(fly.minRoutable(APP, started)).toBe(4);
    const actions = fly.state.apps.get(APP)!.actions;
    const at = (action: string, pick: "first" | "last") => (pick === "first" ? actions.find((a) => a.action === action) : actions.filter((a) => a.action === action).at(-1))!.at;
    // A Fly second is 1 ms here (RENEWA_TIME_SCALE 0.001).
    expect(at("cordon", "first") - at("uncordon", "last")).toBeGreaterThanOrEqual(10);
    expect(at("stop", "first") - at("cordon", "last")).toBeGreaterThanOrEqual(10);
    expect(actions.filter((a) => a.action === "cordon").map((a) => a.machine).sort()).toEqual([...blue].sort());
    expect(fly.fake.calls(UPDATE)).toHaveLength(0);
    expect(outs.machines.map((m: { id: string }) => m.id).sort()).toEqual(green.map((m) => m.id).sort());
  });

  it("creates missing machines and retires surplus ones to match machineCount", async () => {
    await setup({}, 0);
    const first = await deploy({ machineCount: 3 });
    expect(images()).toEqual(Array(3).fill(imageRef(2)));
    expect(first).not.toHaveProperty("previousDigest");
    const second = await deploy({ machineCount: 1 }, first);
    expect(fly.machines(APP)).toHaveLength(1);
    expect(second.machines).toHaveLength(1);
    expect(fly.fake.calls(UPDATE)).toHaveLength(0);
  });
});

describe("Release: which machines are its own", () => {
  it("leaves machines flyctl would not manage alone (fly machine run, other process groups) and says so", async () => {
    await setup({}, 2);
    const manual = fly.addMachine(APP, { image: imageRef(7) });
    const worker = fly.addMachine(APP, { image: imageRef(1), metadata: { fly_platform_version: "v2", fly_process_group: "worker" } });
    const outs = await deploy({ machineCount: 2 });
    expect(manual.state).toBe("started");
    expect(worker.state).toBe("started");
    expect([manual, worker].every((m) => m.configs.length === 1)).toBe(true);
    expect(outs.machines.map((m: { id: string }) => m.id)).not.toContain(manual.id);
    expect(host.output()).toContain(`leaving 2 machine(s) alone, not this release's: ${manual.id} (not a fly deploy machine (no fly_platform_version=v2)), ${worker.id} (process group "worker")`);
  });
});

describe("Release: what an unchanged up, a refresh and a tag do", () => {
  it("an up with nothing changed makes no mutating API call, and read returns exactly what was stored", async () => {
    await setup();
    const outs = await deploy({});
    const mark = fly.fake.mutatingCalls().length;
    expect((await host.call(provider, "read", APP, outs)).props).toEqual(outs);
    const checked = await host.call(provider, "check", outs, { ...baseInputs });
    expect(await host.call(provider, "diff", APP, outs, checked.inputs)).toMatchObject({ changes: false, replaces: [] });
    // Even a forced update converges without touching anything, because the fleet already matches.
    const again = (await host.call(provider, "update", APP, outs, checked.inputs)).outs;
    expect(fly.fake.mutatingCalls().slice(mark)).toEqual([]);
    expect(again).toMatchObject({ digest: digest(2), releaseVersion: 1, history: [digest(2)] });
  });

  it("drift made outside Pulumi (fly scale vm, an env var edited; metadata merged) shows on refresh and preview, and up fixes it", async () => {
    await setup({}, 2);
    const outs = await deploy({ machineCount: 2 });
    const [a, b] = fly.machines(APP);
    // What `fly scale vm` and `fly machine update -e` do: the config changes, the metadata is merged and kept.
    a.config = { ...a.config, guest: { ...a.config.guest, memory_mb: 2048 } };
    b.config = { ...b.config, env: { ...b.config.env, NODE_ENV: "development" } };
    const read = (await host.call(provider, "read", APP, outs)).props;
    expect(read.drift).toEqual([
      `machine ${a.id}: guest.memory_mb: 2048 (live) ≠ 512 (declared)`,
      `machine ${b.id}: env.NODE_ENV: "development" (live) ≠ "production" (declared)`,
    ]);
    const checked = await host.call(provider, "check", read, { ...baseInputs, machineCount: 2 });
    expect((await host.call(provider, "diff", APP, read, checked.inputs)).changes).toBe(true);
    const mark = fly.fake.calls(UPDATE).length;
    const fixed = (await host.call(provider, "update", APP, read, checked.inputs)).outs;
    expect(fly.fake.calls(UPDATE).length - mark).toBe(2);
    expect(fly.machines(APP).map((m) => [m.config.guest.memory_mb, m.config.env.NODE_ENV])).toEqual([[512, "production"], [512, "production"]]);
    expect(fixed.drift).toEqual([]);
    expect((await host.call(provider, "read", APP, fixed)).props).toEqual(fixed);
  });

  it("read reports the live image and count, so a hand-made deploy shows as drift and the next up reverts it", async () => {
    await setup({}, 2);
    const outs = await deploy({ machineCount: 2 });
    for (const m of fly.machines(APP)) m.config = { ...m.config, image: imageRef(3) };
    fly.addMachine(APP, { image: imageRef(3), metadata: V2 });
    const read = (await host.call(provider, "read", APP, outs)).props;
    expect(read).toMatchObject({ digest: digest(3), machineCount: 3 });
    const checked = await host.call(provider, "check", read, { ...baseInputs, machineCount: 2 });
    expect((await host.call(provider, "diff", APP, read, checked.inputs)).changes).toBe(true);
    const fixed = (await host.call(provider, "update", APP, read, checked.inputs)).outs;
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
});

describe("Release: the release record and secrets", () => {
  it("fails before touching anything when api.fly.io cannot record the release: no version is made up locally", async () => {
    await setup({ releasesApi: false }, 2);
    const err = await deploy({ machineCount: 2 }).catch((e) => e);
    expect(err.message).toMatch(/could not record the release of .* on api\.fly\.io \(POST \/api\/v1\/releases: 404 .*nothing was changed on app renewa-app-pr-11/);
    expect(fly.fake.mutatingCalls(["POST /api/v1/releases"])).toEqual([]);
  });

  it("writes the app's whole config as the release definition, and flyctl reading it back builds the machines' config", async () => {
    await setup({}, 2);
    await deploy({ machineCount: 2, releaseCommand: "bin/migrate" });
    const def = fly.state.apps.get(APP)!.releases[0].definition;
    const live = fly.machines(APP)[0].config;
    // What flyctl's ToMachineConfig makes of the definition ([env], [http_service], [[vm]], [[restart]]).
    const svc = def.http_service;
    const fromDefinition = {
      env: { ...def.env, FLY_PROCESS_GROUP: "app", PRIMARY_REGION: def.primary_region },
      guest: { cpu_kind: def.vm[0].cpu_kind, cpus: def.vm[0].cpus, memory_mb: def.vm[0].memory_mb },
      restart: { policy: def.restart[0].policy },
      services: [
        {
          protocol: "tcp",
          internal_port: svc.internal_port,
          ports: [{ port: 80, handlers: ["http"], force_https: svc.force_https }, { port: 443, handlers: ["http", "tls"] }],
          autostop: svc.auto_stop_machines,
          autostart: svc.auto_start_machines,
          min_machines_running: svc.min_machines_running,
          checks: svc.checks.map((c: any) => ({ type: "http", port: svc.internal_port, ...c })),
        },
      ],
    };
    expect({ env: live.env, guest: live.guest, restart: live.restart, services: live.services }).toEqual(fromDefinition);
    expect(def.deploy).toMatchObject({ strategy: "rolling", release_command: "bin/migrate" });
  });

  it("puts no connection string or secret into any machine config it writes, release_command machine included", async () => {
    await setup({}, 2);
    await deploy({ machineCount: 2, releaseCommand: "bin/migrate" });
    const written = fly.fake.log.filter((l) => l.route === CREATE || l.route === UPDATE).map((l) => JSON.stringify(l.body.config));
    expect(written.length).toBeGreaterThanOrEqual(3);
    for (const config of written) {
      expect(config).not.toMatch(/postgres(ql)?:\/\//);
      expect(config).not.toContain("SENTINEL");
    }
    const job = fly.fake.calls(CREATE)[0].body.config;
    expect(job.init.cmd.slice(0, 3)).toEqual(["/bin/sh", "-c", 'DATABASE_URL="$DATABASE_URL_MIGRATION" exec "$@"']);
    expect(host.output()).not.toContain("SENTINEL");
  });
});
