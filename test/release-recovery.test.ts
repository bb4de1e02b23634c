// The Release provider where a real fleet goes wrong, through the engine harness against the Machines API fake:
// crash loops, reverting after a crashed run, release_command edge cases, hosts that refuse updates, creates whose
// answer is lost, surplus that cannot be retired, and leases held for the whole time a machine is worked on.
import { describe, expect, it } from "vitest";
import type { ProviderHost } from "./harness/engine";
import { useReleaseFleet } from "./harness/release-fleet";
import { imageRef, sampleMachineSettings } from "./fakes/fly-machines";
import { waitFor } from "./harness/wait";

const TOKEN = "SENTINEL_fly_token_recovery";
const APP = "renewa-app-pr-31";
const UPDATE = "POST /v1/apps/:app/machines/:id";
const CREATE = "POST /v1/apps/:app/machines";
const WAIT = "GET /v1/apps/:app/machines/:id/wait";

const t = useReleaseFleet({ app: APP, name: "pr-31-release", token: TOKEN, args: { app: APP, image: imageRef(2), machine: sampleMachineSettings, machineCount: 3, strategy: "rolling", maxUnavailable: 1 } });
const setup = (opts: Parameters<typeof t.setup>[0] = {}, images = [1, 1, 1]) => t.setup(opts, images);
const { newHost, stop } = t;

/** The state a first, successful release of image 1 left: what a failed rollout must go back to. */
async function lastGood(host: ProviderHost): Promise<Record<string, any>> {
  const checked = await host.call(t.provider, "check", {}, { ...t.baseInputs, image: imageRef(1) });
  return { ...checked.inputs, releaseId: "", releaseVersion: 1, machines: [], history: [imageRef(1).split("@")[1]], drift: [] };
}

async function update(host: ProviderHost, overrides: Record<string, unknown> = {}, olds?: Record<string, any>): Promise<Record<string, any>> {
  const prior = olds ?? (await lastGood(host));
  const checked = await host.call(t.provider, "check", prior, { ...t.baseInputs, ...overrides });
  expect(checked.failures ?? []).toEqual([]);
  return (await host.call(t.provider, "update", APP, prior, checked.inputs)).outs;
}

const appMachines = () => t.fly.machines(APP).filter((m) => m.config.metadata?.fly_process_group === "app");
/** No lease of this program's is live (another deployer's, taken after it let go, does not count). */
const noLeaseLeft = () => t.fly.machines(APP).every((m) => !m.lease || m.lease.expiresAt < Date.now() || m.lease.description !== "pulumi release");

describe("crash loops and reverts", () => {
  it("a crash-looping image fails the step at once with the exit code and the last log lines, not after the whole wait", async () => {
    await setup({ crashingImages: { [imageRef(2)]: 1 } });
    const started = Date.now();
    // A 20 000 s wait (20 s here): only crash detection makes this fail quickly.
    const err = await update(await newHost(), { waitTimeoutSeconds: 20_000 }).catch((e) => e);
    expect(Date.now() - started).toBeLessThan(10_000);
    const first = t.fly.fake.calls(UPDATE)[0].path.split("/").pop();
    expect(err.message).toContain(`machine ${first} appears to be crashing: it exited with code 1`);
    expect(err.message).toContain("Error: Cannot find module '/app/dist/server.js'");
    expect(err.message).toContain(`${first}: back on ${imageRef(1)}, started and healthy`);
    expect(appMachines().every((m) => m.config.image === imageRef(1))).toBe(true);
  });

  it("after a run crashed mid-update to a bad image, the re-run reverts to the last successful release, saying only what it verified", async () => {
    await setup({ unhealthyImages: [imageRef(2)], healthMs: 8 });
    const first = await newHost();
    void update(first, { waitTimeoutSeconds: 20_000 }).catch(() => undefined);
    await waitFor(() => t.fly.fake.calls(UPDATE).length >= 1, "the first machine update");
    await stop(first);
    const bad = t.fly.fake.calls(UPDATE)[0].path.split("/").pop()!;
    expect(appMachines().find((m) => m.id === bad)!.config.image).toBe(imageRef(2));

    const err = await update(await newHost(), { waitTimeoutSeconds: 50 }).catch((e) => e);
    expect(err.message).toMatch(/did not pass its health checks within 50 s/);
    // The machine the crashed run left on the bad image goes back to image 1 too, not to "the config as read".
    expect(appMachines().map((m) => m.config.image)).toEqual(Array(3).fill(imageRef(1)));
    expect(err.message).toContain(`${bad}: back on ${imageRef(1)}, started and healthy`);
    expect(err.message).not.toMatch(new RegExp(`${bad}: back on ${imageRef(2).replace(/[.@]/g, "\\$&")}`));
  });

  it("a revert that cannot be verified says so instead of claiming the machine restored", async () => {
    await setup({ unhealthyImages: [imageRef(2)] });
    const host = await newHost();
    const pending = update(host, { waitTimeoutSeconds: 50 }).catch((e) => e);
    await waitFor(() => t.fly.fake.calls(UPDATE).length >= 1, "the first update");
    // The old image now fails too (say, its database moved): the put-back cannot be shown healthy.
    t.fly.options.unhealthyImages.push(imageRef(1));
    const err = await pending;
    const id = t.fly.fake.calls(UPDATE)[0].path.split("/").pop();
    expect(err.message).toMatch(new RegExp(`${id}: put back on \\S+ was not verified: machine ${id} did not pass its health checks`));
    expect(err.message).not.toContain(`${id}: back on`);
  });
});

describe("release_command edge cases", () => {
  it("retries a 404 from wait right after the create, and takes a 404 while waiting for destroyed as done", async () => {
    await setup();
    t.fly.fake.inject({ route: WAIT, nth: [1], status: 404, body: { error: "machine not found" } });
    // Answered once the machine is gone, as Fly does for a machine destroyed while one waits on it.
    t.fly.fake.inject({ route: WAIT, nth: [3], status: 404, body: { error: "machine not found" }, delayMs: 200 });
    const outs = await update(await newHost(), { releaseCommand: "bin/migrate" });
    expect(outs.machines).toHaveLength(3);
    expect(t.fly.fake.calls(WAIT).slice(0, 3).map((l) => l.status)).toEqual([404, 200, 404]);
    expect(appMachines().every((m) => m.config.image === imageRef(2))).toBe(true);
  });

  it("reads the exit code from the MonitorEvent shape too", async () => {
    await setup({ monitorEventExits: true, releaseExitCodes: { [imageRef(2)]: 3 } });
    const err = await update(await newHost(), { releaseCommand: "bin/migrate" }).catch((e) => e);
    expect(err.message).toMatch(/exited with code 3 on machine/);
    expect(t.fly.fake.calls(UPDATE)).toEqual([]);
  });

  it("gives booting its own limit: a machine that never starts fails on the start limit, not the run limit", async () => {
    await setup({ bootMs: 5_000 });
    const err = await update(await newHost(), { releaseCommand: "bin/migrate", waitTimeoutSeconds: 40, releaseCommandTimeoutSeconds: 100_000 }).catch((e) => e);
    expect(err.message).toMatch(/release_command machine \w+ of app renewa-app-pr-31 did not start within 40 s \(image pull and boot\); no app machine was changed/);
  });
});

describe("bad hosts, lost answers and surplus", () => {
  it("replaces a machine whose host refuses the update with a new one in the same region, under the health gate", async () => {
    await setup();
    const [stuck] = appMachines().sort((a, b) => (a.id < b.id ? -1 : 1));
    stuck.hostRefusal = "could not reserve resource for machine: insufficient memory available to fulfill request";
    const host = await newHost();
    const outs = await update(host);
    expect(stuck.state).toBe("destroyed");
    expect(appMachines()).toHaveLength(3);
    expect(appMachines().every((m) => m.config.image === imageRef(2) && m.region === stuck.region && m.checks.every((c) => c.status === "passing"))).toBe(true);
    expect(outs.machines.map((m: { id: string }) => m.id)).not.toContain(stuck.id);
    expect(host.output()).toContain(`machine ${stuck.id} cannot be updated on its host`);
    // The next up is a no-op, not the same failure again.
    const mark = t.fly.fake.mutatingCalls().length;
    await update(host, {}, outs);
    expect(t.fly.fake.mutatingCalls().slice(mark)).toEqual([]);
  });

  it("a create whose answer is lost is found by its token instead of made twice", async () => {
    await setup({}, [1]);
    t.fly.loseCreateAnswers(1);
    const outs = await update(await newHost(), { machineCount: 3 });
    expect(t.fly.fake.calls(CREATE).map((l) => l.status)).toEqual([503, 200]);
    expect(appMachines()).toHaveLength(3);
    expect(outs.machines).toHaveLength(3);
    const tokens = appMachines().map((m) => m.config.metadata.renewa_create_token).filter(Boolean);
    expect(new Set(tokens).size).toBe(2);
  });

  it("a failure to retire surplus machines after a successful release is a warning, retired by the next up", async () => {
    await setup({}, [1, 1, 1, 1]);
    t.fly.fake.inject({ route: "DELETE /v1/apps/:app/machines/:id", status: 500, body: { error: "internal error" } });
    const host = await newHost();
    const outs = await update(host, { machineCount: 2 });
    expect(appMachines().filter((m) => m.config.image === imageRef(2))).toHaveLength(2);
    expect(host.output()).toMatch(/warn.*serves app renewa-app-pr-31, but 2 surplus machine\(s\) were not retired/is);
    expect(t.fly.state.apps.get(APP)!.releases[0].status).toBe("complete");
    t.fly.fake.clearFaults();
    await update(host, { machineCount: 2 }, outs);
    expect(appMachines()).toHaveLength(2);
  });
});

describe("leases", () => {
  it("holds a short lease, refreshed in the background, through a boot longer than its TTL; the nonce a refresh returns is used", async () => {
    // A Fly second is 25 ms in the fake: the 13 s lease lasts 325 ms, the machines take 1 s to boot.
    await setup({ secondMs: 25, bootMs: 1000, healthMs: 5, rotateLeaseNonce: true }, [1, 1]);
    const host = await newHost();
    const pending = update(host, { machineCount: 2, waitTimeoutSeconds: 100_000 });
    await waitFor(() => t.fly.fake.calls(UPDATE).length >= 1, "the first update");
    while (appMachines().some((m) => m.config.image !== imageRef(2) || m.state !== "started")) {
      // Another deployer tries to take each machine's lease while this release works on the fleet.
      for (const m of appMachines()) {
        await fetch(`${t.fly.url}/v1/apps/${APP}/machines/${m.id}/lease`, {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
          body: JSON.stringify({ ttl: 30, description: "someone else" }),
        });
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await pending;
    const log = t.fly.fake.log;
    const handedBack = log.findIndex((l) => l.route === "DELETE /v1/apps/:app/machines/:id/lease");
    const tries = log.slice(0, handedBack).filter((l) => l.body?.description === "someone else");
    expect(tries.length).toBeGreaterThan(4);
    expect(tries.every((l) => l.status === 409)).toBe(true);
    expect(t.fly.fake.calls("POST /v1/apps/:app/machines/:id/lease").filter((l) => l.headers["fly-machine-lease-nonce"]).length).toBeGreaterThan(2);
    // Handed back with the latest nonce: nothing left behind, no complaint about it.
    expect(log.filter((l) => l.route === "DELETE /v1/apps/:app/machines/:id/lease").map((l) => l.status)).toEqual([200, 200]);
    expect(noLeaseLeft()).toBe(true);
    expect(host.output()).not.toContain("could not release the lease");
  });
});
