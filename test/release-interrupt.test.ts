// Runs stopped mid-rollout and run again, through the engine harness against the Machines API fake: a re-run after
// any interruption converges to a routable fleet, never to none; blue-green refuses a fleet on two images and
// destroys its greens on failure; a stopped run marks its release interrupted and hands its leases back.
import { describe, expect, it } from "vitest";
import type { ProviderHost } from "./harness/engine";
import { useReleaseFleet } from "./harness/release-fleet";
import { imageRef, sampleMachineSettings } from "./fakes/fly-machines";
import { waitFor } from "./harness/wait";

const TOKEN = "SENTINEL_fly_token_interrupt";
const APP = "renewa-app-pr-41";

const t = useReleaseFleet({ app: APP, name: "pr-41-release", token: TOKEN, args: { app: APP, image: imageRef(2), machine: sampleMachineSettings, machineCount: 4, strategy: "bluegreen" } });
const setup = (opts: Parameters<typeof t.setup>[0] = {}, images = [1, 1, 1, 1]) => t.setup(opts, images);
const { newHost, stop } = t;

async function update(host: ProviderHost, overrides: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const olds = { ...t.baseInputs, image: imageRef(1), digest: imageRef(1).split("@")[1], history: [], releaseId: "", machines: [], drift: [] };
  const checked = await host.call(t.provider, "check", olds, { ...t.baseInputs, ...overrides });
  expect(checked.failures ?? []).toEqual([]);
  return (await host.call(t.provider, "update", APP, olds, checked.inputs)).outs;
}

const appMachines = () => t.fly.machines(APP).filter((m) => m.config.metadata?.fly_process_group === "app");
const healthyOn = (n: number) => appMachines().filter((m) => m.config.image === imageRef(n) && m.state === "started" && m.checks.every((c) => c.status === "passing"));
const routable = () => appMachines().filter((m) => m.state === "started" && !m.cordoned && m.checks.every((c) => c.status === "passing"));

describe("blue-green, interrupted and run again", () => {
  it("stopped with healthy greens not yet routed: the re-run destroys them and converges, never below N routable", async () => {
    await setup();
    const started = Date.now();
    // Routing the greens hangs, so the run is stopped with every green healthy but still cordoned.
    t.fly.fake.inject({ route: "POST /v1/apps/:app/machines/:id/uncordon", status: 503, delayMs: 3000 });
    const first = await newHost();
    void update(first).catch(() => undefined);
    await waitFor(() => healthyOn(2).length === 4, "four healthy green machines");
    await stop(first);
    t.fly.fake.clearFaults();
    const greens = healthyOn(2).map((m) => m.id);
    expect(appMachines().filter((m) => greens.includes(m.id)).every((m) => m.cordoned)).toBe(true);
    expect(t.fly.state.apps.get(APP)!.releases[0].status).toBe("interrupted");

    const host = await newHost();
    const outs = await update(host);
    expect(routable().map((m) => m.config.image)).toEqual(Array(4).fill(imageRef(2)));
    expect(appMachines()).toHaveLength(4);
    expect(greens.every((id) => !appMachines().some((m) => m.id === id))).toBe(true);
    expect(outs.machines).toHaveLength(4);
    expect(t.fly.minRoutable(APP, started)).toBe(4);
    expect(host.output()).toContain("left unrouted by an interrupted blue-green deploy");
  });

  it("stopped after the switch, before the blues were retired: the re-run retires them, never below N routable", async () => {
    await setup();
    const started = Date.now();
    t.fly.fake.inject({ route: "POST /v1/apps/:app/machines/:id/cordon", status: 503, delayMs: 3000 });
    const first = await newHost();
    void update(first).catch(() => undefined);
    await waitFor(() => routable().filter((m) => m.config.image === imageRef(2)).length === 4, "four routed greens");
    await stop(first);
    t.fly.fake.clearFaults();
    expect(appMachines()).toHaveLength(8);

    await update(await newHost());
    expect(appMachines()).toHaveLength(4);
    expect(routable().map((m) => m.config.image)).toEqual(Array(4).fill(imageRef(2)));
    expect(t.fly.minRoutable(APP, started)).toBe(4);
  });

  it("refuses to start on a fleet that already runs two images, changing nothing", async () => {
    await setup({}, [1, 1, 3, 3]);
    const err = await update(await newHost()).catch((e) => e);
    expect(err.message).toMatch(/Blue-green deploy of .* refused: its machines run 2 different images .* Nothing was changed\. Finish with strategy "rolling" first/);
    expect(t.fly.fake.mutatingCalls(["POST /api/v1/releases", "PATCH /api/v1/releases/:id"])).toEqual([]);
  });

  it("destroys its greens when one fails, leaving the blues serving", async () => {
    await setup({ unhealthyImages: [imageRef(2)] });
    const blues = appMachines().map((m) => m.id);
    const err = await update(await newHost(), { waitTimeoutSeconds: 50 }).catch((e) => e);
    expect(err.message).toMatch(/did not pass its health checks/);
    expect(appMachines().map((m) => m.id).sort()).toEqual([...blues].sort());
    expect(routable()).toHaveLength(4);
    expect(err.message).toMatch(/created by this run, destroyed/);
  });
});

describe("a stopped rolling run", () => {
  it("marks its release interrupted, hands every lease back at once, and the next run finishes the fleet", async () => {
    // A Fly second of 1 s in the fake: a lease left behind would outlive the test, only a hand-back clears it.
    await setup({ secondMs: 1000, bootMs: 8, healthMs: 8 });
    const first = await newHost();
    void update(first, { strategy: "rolling" }).catch(() => undefined);
    await waitFor(() => t.fly.fake.calls("POST /v1/apps/:app/machines/:id").length >= 2, "the second machine update");
    await stop(first);
    expect(t.fly.state.apps.get(APP)!.releases[0].status).toBe("interrupted");
    expect(appMachines().every((m) => !m.lease || m.lease.expiresAt < Date.now())).toBe(true);
    const changedAfterStop = t.fly.fake.mutatingCalls().length;
    await new Promise((r) => setTimeout(r, 50));
    expect(t.fly.fake.mutatingCalls().length).toBe(changedAfterStop);

    await update(await newHost(), { strategy: "rolling" });
    expect(healthyOn(2)).toHaveLength(4);
  });
});
