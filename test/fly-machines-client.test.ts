// The Machines API client against the fake: where it sends requests and with which token, what its errors carry,
// bounded waits, leases and events.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createFlyMachinesClient } from "../src/clients/fly-machines";
import { createFlyReleasesClient } from "../src/clients/fly-releases";
import { FlyMachinesFake, createFlyMachinesFake, imageRef } from "./fakes/fly-machines";

const APP = "renewa-app-pr-5";
let fly: FlyMachinesFake;

beforeAll(async () => {
  fly = await createFlyMachinesFake({ token: "fm2_abc123", secondMs: 1, bootMs: 5 });
  fly.addApp(APP);
});
afterAll(() => fly.stop());
afterEach(() => {
  delete process.env.FLY_API_TOKEN;
  delete process.env.FLY_MACHINES_API_URL;
  delete process.env.FLY_API_URL;
});

describe("Fly Machines client", () => {
  it("reads the base URL and token from the environment at call time, sending macaroons as FlyV1", async () => {
    process.env.FLY_MACHINES_API_URL = fly.url;
    const client = createFlyMachinesClient();
    await expect(client.getApp(APP)).rejects.toThrow(/FLY_API_TOKEN is not set/);
    process.env.FLY_API_TOKEN = "fm2_abc123";
    expect(await client.getApp(APP)).toMatchObject({ name: APP, organization: { slug: "renewa" } });
    expect(fly.fake.log.at(-1)!.headers.authorization).toBe("FlyV1 fm2_abc123");
    expect(await client.getApp("renewa-app-pr-404")).toBeUndefined();
  });

  it("errors carry method, path, status, Fly's text and the fly-request-id, never the token", async () => {
    process.env.FLY_API_TOKEN = "fm2_abc123";
    fly.fake.inject({ route: "POST /v1/apps/:app/machines", nth: [fly.fake.calls("POST /v1/apps/:app/machines").length + 1], status: 422, body: { error: "bad fm2_abc123 config", status: "unknown" } });
    const err = await createFlyMachinesClient({ baseUrl: fly.url }).createMachine(APP, { config: { image: imageRef(1) } }).catch((e) => e);
    expect(err).toMatchObject({ name: "ApiError", method: "POST", path: `/v1/apps/${APP}/machines`, status: 422 });
    expect(err.requestId).toMatch(/^req-\d+$/);
    expect(err.message).toBe(`POST /v1/apps/${APP}/machines: 422 bad [redacted] config (request id ${err.requestId})`);
  });

  it("loops the wait endpoint (408 = not yet) up to the caller's deadline", async () => {
    process.env.FLY_API_TOKEN = "fm2_abc123";
    // The client's clock moves only by what the fake made it wait (a Fly second lasts 1 ms here), so how many calls
    // fit before the deadline does not depend on how fast this machine is.
    let clock = 0;
    const timeouts: number[] = [];
    const client = createFlyMachinesClient({
      baseUrl: fly.url,
      timeScale: 0.001,
      now: () => clock,
      fetch: async (url, init) => {
        const res = await fetch(url, init);
        const u = new URL(String(url));
        if (u.pathname.endsWith("/wait")) {
          timeouts.push(Number(u.searchParams.get("timeout")));
          if (res.status === 408) clock += timeouts.at(-1)!;
        }
        return res;
      },
    });
    const m = fly.addMachine(APP, { image: imageRef(1) }, "stopped");
    // Each wait call blocks at most 60 Fly seconds: a 150 s deadline takes three calls, the last one shortened.
    const err = await client.waitForState(APP, m.id, "started", clock + 150).catch((e) => e);
    expect(err).toMatchObject({ name: "WaitTimeoutError", machineId: m.id, state: "started" });
    expect(timeouts).toEqual([60, 60, 30]);
    const waits = fly.fake.calls("GET /v1/apps/:app/machines/:id/wait");
    expect(waits.map((w) => w.status)).toEqual([408, 408, 408]);
    await client.startMachine(APP, m.id);
    await client.waitForState(APP, m.id, "started", clock + 1000);
    expect(fly.fake.calls("GET /v1/apps/:app/machines/:id/wait").at(-1)!.status).toBe(200);
    expect(fly.machines(APP).find((x) => x.id === m.id)!.state).toBe("started");
  });

  it("takes, conflicts on and releases leases, and sends the nonce on leased calls", async () => {
    process.env.FLY_API_TOKEN = "fm2_abc123";
    const client = createFlyMachinesClient({ baseUrl: fly.url });
    const m = fly.addMachine(APP, { image: imageRef(1) });
    const lease = await client.acquireLease(APP, m.id, 60, "test");
    expect(lease.nonce).toMatch(/^nonce-/);
    await expect(client.acquireLease(APP, m.id, 60, "other")).rejects.toMatchObject({ status: 409 });
    await expect(client.cordonMachine(APP, m.id)).rejects.toMatchObject({ status: 409 });
    await client.cordonMachine(APP, m.id, lease.nonce);
    expect(fly.fake.log.at(-1)!.headers["fly-machine-lease-nonce"]).toBe(lease.nonce);
    await client.releaseLease(APP, m.id, lease.nonce);
    await client.destroyMachine(APP, m.id, { force: true });
    await client.destroyMachine(APP, "gone");
    expect(fly.fake.calls("DELETE /v1/apps/:app/machines/:id").map((l) => l.status)).toEqual([200, 404]);
  });

  it("sends only the query parameters and fields Fly's published spec declares (force, not fly-go's kill; name, not app_name)", async () => {
    process.env.FLY_API_TOKEN = "fm2_abc123";
    const client = createFlyMachinesClient({ baseUrl: fly.url });
    const m = fly.addMachine(APP, { image: imageRef(1) });
    await client.destroyMachine(APP, m.id, { force: true });
    expect(fly.fake.calls("DELETE /v1/apps/:app/machines/:id").at(-1)).toMatchObject({ status: 200, path: `/v1/apps/${APP}/machines/${m.id}` });
    await client.createApp({ name: "renewa-app-pr-77", org: "renewa" });
    expect(Object.keys(fly.fake.calls("POST /v1/apps").at(-1)!.body).sort()).toEqual(["name", "org_slug"]);
    // The fake refuses what the spec does not declare, as a strict server would.
    const res = await fetch(`${fly.url}/v1/apps/${APP}/machines/${m.id}?kill=true`, { method: "DELETE", headers: { authorization: "Bearer fm2_abc123" } });
    expect(res.status).toBe(400);
  });

  it("waits for any of several states, and takes a 404 as reached only when waiting for destroyed", async () => {
    process.env.FLY_API_TOKEN = "fm2_abc123";
    const client = createFlyMachinesClient({ baseUrl: fly.url, timeScale: 0.001 });
    const m = fly.addMachine(APP, { image: imageRef(1) }, "stopped");
    await client.waitForState(APP, m.id, ["started", "stopped"], Date.now() + 1000);
    expect(fly.fake.calls("GET /v1/apps/:app/machines/:id/wait").at(-1)!.status).toBe(200);
    await client.waitForState(APP, "gone-machine", "destroyed", Date.now() + 1000);
    await expect(client.waitForState(APP, "gone-machine", ["started", "destroyed"], Date.now() + 1000)).rejects.toMatchObject({ status: 404 });
  });

  it("lists a machine's events with the exit code of its last run", async () => {
    process.env.FLY_API_TOKEN = "fm2_abc123";
    fly.options.releaseExitCodes[imageRef(9)] = 7;
    const client = createFlyMachinesClient({ baseUrl: fly.url, timeScale: 0.001 });
    const config = { image: imageRef(9), auto_destroy: true, restart: { policy: "no" }, metadata: { fly_process_group: "fly_app_release_command" } };
    const m = await client.createMachine(APP, { config: config as any });
    await client.waitForState(APP, m.id, "destroyed", Date.now() + 2000);
    const events = await client.listEvents(APP, m.id);
    expect(events.find((e) => e.type === "exit")!.request!.exit_event!.exit_code).toBe(7);
  });
});

describe("Fly releases client", () => {
  it("creates a release record and moves it to complete on api.fly.io", async () => {
    process.env.FLY_API_TOKEN = "fm2_abc123";
    process.env.FLY_API_URL = fly.url;
    const releases = createFlyReleasesClient();
    const r = await releases.createRelease({ app: APP, image: imageRef(1), strategy: "rolling", definition: {} });
    expect(fly.fake.calls("POST /api/v1/releases")[0].body).toMatchObject({ app_name: APP, image: imageRef(1), strategy: "ROLLING" });
    await releases.updateRelease(r.id, "complete", { backup_id: "bk_1" });
    expect(fly.state.apps.get(APP)!.releases.find((x) => x.id === r.id)).toMatchObject({ status: "complete", metadata: { backup_id: "bk_1" } });
  });
});
