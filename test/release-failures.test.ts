// The Release provider when things go wrong, through the engine harness against the Machines API fake: a failing or
// hanging release_command, a machine failing its health checks mid-rollout, throttling and server errors, a permanent
// 4xx, a lease held by someone else, and a run killed halfway and started again.
import { describe, expect, it } from "vitest";
import type { ProviderHost } from "./harness/engine";
import { useReleaseFleet } from "./harness/release-fleet";
import { imageRef, sampleMachineSettings } from "./fakes/fly-machines";
import { waitFor } from "./harness/wait";

const TOKEN = "SENTINEL_fly_token_failures";
const APP = "renewa-app-pr-21";
const UPDATE = "POST /v1/apps/:app/machines/:id";
const LEASE = "POST /v1/apps/:app/machines/:id/lease";

const t = useReleaseFleet({ app: APP, name: "pr-21-release", token: TOKEN, args: { app: APP, image: imageRef(2), machine: sampleMachineSettings, machineCount: 3, strategy: "rolling", maxUnavailable: 1 } });
const setup = (opts: Parameters<typeof t.setup>[0] = {}, images = [1, 1, 1]) => t.setup(opts, images);
const { newHost, stop } = t;

async function update(host: ProviderHost, overrides: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const olds = { ...t.baseInputs, image: imageRef(1), digest: imageRef(1).split("@")[1], history: [] };
  const checked = await host.call(t.provider, "check", olds, { ...t.baseInputs, ...overrides });
  expect(checked.failures ?? []).toEqual([]);
  return (await host.call(t.provider, "update", APP, olds, checked.inputs)).outs;
}

const appMachines = () => t.fly.machines(APP).filter((m) => m.config.metadata?.fly_process_group === "app");
const untouched = () => appMachines().every((m) => m.configs.length === 1 && m.config.image === imageRef(1));

describe("release_command", () => {
  it("a non-zero exit fails the update with the exit code and the logs command, and no app machine is touched", async () => {
    await setup({ releaseExitCodes: { [imageRef(2)]: 3 } });
    t.fly.state.apps.get(APP)!.secretsVersion = 4;
    const host = await newHost();
    const err = await update(host, { releaseCommand: "bin/migrate --to 'latest'", minSecretsVersion: 4 }).catch((e) => e);
    const [job] = [...t.fly.state.apps.get(APP)!.machines.values()].filter((m) => m.config.metadata?.fly_process_group === "fly_app_release_command");
    expect(err.message).toContain(`exited with code 3 on machine ${job.id}`);
    expect(err.message).toContain(`fly logs -a ${APP} -i ${job.id}`);
    expect(err.message).toContain('ERROR: relation "users" already exists');
    expect(err.message).not.toContain("SENTINEL");
    expect(untouched()).toBe(true);
    expect(t.fly.fake.calls(UPDATE)).toHaveLength(0);
    expect(job.config).toMatchObject({ restart: { policy: "no" }, auto_destroy: true });
    expect(job.config.init.cmd.slice(-3)).toEqual(["bin/migrate", "--to", "latest"]);
    expect(job.config.env).toMatchObject({ RELEASE_COMMAND: "1", NODE_ENV: "production" });
    expect(job.config.env).not.toHaveProperty("DATABASE_URL");
    expect(job.min_secrets_version).toBe(4);
    expect(job.state).toBe("destroyed");
    expect(t.fly.state.apps.get(APP)!.releases[0].status).toBe("failed");

    // The next image migrates cleanly: the release command runs first, then the fleet rolls.
    t.fly.options.releaseExitCodes = {};
    await update(host, { image: imageRef(5), releaseCommand: "bin/migrate", minSecretsVersion: 4 });
    const routes = t.fly.fake.log.map((l) => l.route);
    expect(routes.lastIndexOf("POST /v1/apps/:app/machines")).toBeLessThan(routes.indexOf(UPDATE));
    expect(t.fly.machines(APP).every((m) => m.config.image === imageRef(5) && m.min_secrets_version === 4)).toBe(true);
  });

  it("a release_command that outlives its run limit is left to finish (not killed mid-migration) and no machine changes", async () => {
    await setup({ releaseCommandMs: Infinity });
    const host = await newHost();
    const err = await update(host, { releaseCommand: "bin/migrate", releaseCommandTimeoutSeconds: 30 }).catch((e) => e);
    expect(err.message).toMatch(/did not finish within 30 s; machine (\w+) may still be running it and destroys itself when it exits \(it was not killed mid-migration\)\. No app machine was changed\./);
    expect(err.message).toContain("Running migrations…");
    const job = [...t.fly.state.apps.get(APP)!.machines.values()].find((m) => m.config.metadata?.fly_process_group === "fly_app_release_command")!;
    expect(job.state).toBe("started");
    expect(t.fly.fake.calls("DELETE /v1/apps/:app/machines/:id")).toEqual([]);
    expect(untouched()).toBe(true);
    // The next run does not kill it either: it waits for the migration to end.
    const again = await update(host, { releaseCommand: "bin/migrate" }).catch((e) => e);
    expect(again.message).toContain(`a release_command machine of an earlier run is still running on app ${APP} (${job.id})`);
    expect(job.state).toBe("started");
  });
});

describe("health gate", () => {
  it("a machine failing its checks mid-rollout puts the updated machines back and names the machine and check output", async () => {
    await setup();
    const host = await newHost();
    const pending = update(host).catch((e) => e);
    // The first machine passes; from then on the new image never becomes healthy.
    const onNew = () => t.fly.machines(APP).filter((m) => m.config.image === imageRef(2) && m.state === "started" && m.checks.every((c) => c.status === "passing"));
    await waitFor(() => onNew().length >= 1, "the first machine to be healthy on the new image");
    t.fly.options.unhealthyImages.push(imageRef(2));
    const err = await pending;
    const [first, second] = t.fly.fake.calls(UPDATE).map((l) => l.path.split("/").pop()!);
    expect(err.message).toContain(`machine ${second} did not pass its health checks`);
    expect(err.message).toMatch(/servicecheck-00-http-8080: critical: GET \/health: 503/);
    expect(err.message).toContain(`${first}: back on ${imageRef(1)}, started and healthy`);
    expect(err.message).toContain(`${second}: back on ${imageRef(1)}, started and healthy`);
    expect(err.message).toContain(`fly logs -a ${APP} -i ${second}`);
    expect(t.fly.machines(APP).every((m) => !m.lease || m.lease.expiresAt < Date.now())).toBe(true);
    expect(t.fly.state.apps.get(APP)!.releases[0]).toMatchObject({ status: "failed", metadata: { post_deployment_info: { error: expect.stringContaining("did not pass its health checks") } } });
    expect(t.fly.machines(APP).map((m) => m.config.image)).toEqual(Array(3).fill(imageRef(1)));
    const byId = new Map(t.fly.machines(APP).map((m) => [m.id, m]));
    expect(byId.get(first)!.configs.map((c) => c.image)).toEqual([imageRef(1), imageRef(2), imageRef(1)]);
    expect(byId.get(second)!.configs.map((c) => c.image)).toEqual([imageRef(1), imageRef(2), imageRef(1)]);
    expect(t.fly.machines(APP).filter((m) => m.configs.length === 1)).toHaveLength(1);
  });
});

describe("API trouble", () => {
  it("rides out bursts of 429 and 503 within the retry budget", async () => {
    await setup();
    t.fly.fake.inject({ route: UPDATE, nth: [1, 2, 4], status: 429, headers: { "retry-after": "0.01" } });
    t.fly.fake.inject({ route: "GET /v1/apps/:app/machines/:id", nth: [1, 2, 3], status: 503 });
    t.fly.fake.inject({ route: "GET /v1/apps/:app/machines", nth: [1], status: 503 });
    t.fly.fake.inject({ route: "DELETE /v1/apps/:app/machines/:id/lease", nth: [1], reset: true });
    t.fly.fake.inject({ route: "GET /v1/apps/:app/machines/:id/wait", nth: [1, 2], status: 503 });
    t.fly.fake.inject({ route: LEASE, nth: [2], status: 429 });
    const outs = await update(await newHost());
    expect(t.fly.machines(APP).every((m) => m.config.image === imageRef(2))).toBe(true);
    expect(outs.machines).toHaveLength(3);
    expect(t.fly.fake.calls(UPDATE).filter((l) => l.status === 429)).toHaveLength(3);
  });

  it("fails fast on a permanent 4xx with method, path, status, Fly's message and request id, and no token", async () => {
    await setup();
    t.fly.fake.inject({ route: UPDATE, nth: [1], status: 422, body: { error: "invalid config.guest.memory_mb", status: "unknown" } });
    const err = await update(await newHost()).catch((e) => e);
    const failed = t.fly.fake.calls(UPDATE)[0];
    expect(err.message).toMatch(new RegExp(`POST ${failed.path}: 422 invalid config\\.guest\\.memory_mb \\(request id req-\\d+\\)`));
    expect(err.message).not.toContain(TOKEN);
    // One attempt, then the revert's single update: no retries of a request the server called wrong.
    expect(t.fly.fake.calls(UPDATE).filter((l) => l.path === failed.path)).toHaveLength(2);
    expect(t.fly.fake.calls(UPDATE)).toHaveLength(2);
    expect(t.fly.machines(APP).every((m) => m.config.image === imageRef(1))).toBe(true);
  });
});

describe("leases and interrupted runs", () => {
  it("waits out a lease another deployer holds, then updates that machine", async () => {
    await setup();
    const host = await newHost();
    const held = t.fly.machines(APP).sort((a, b) => (a.id < b.id ? -1 : 1))[0];
    t.fly.holdLease(APP, held.id, 60_000);
    const pending = update(host);
    // The other deployer lets go only once the release has found the lease held (a 409), whenever that happens.
    const refused = () => t.fly.fake.calls(LEASE).some((l) => l.status === 409 && l.path.includes(held.id));
    await waitFor(refused, `a 409 on the lease of ${held.id}`);
    held.lease = undefined;
    await pending;
    expect(t.fly.machines(APP).every((m) => m.config.image === imageRef(2))).toBe(true);
    expect(held.configs.map((c) => c.image)).toEqual([imageRef(1), imageRef(2)]);
  });

  it("gives up on a lease that is never released, saying how to clear it", async () => {
    await setup();
    const held = t.fly.machines(APP).sort((a, b) => (a.id < b.id ? -1 : 1))[0];
    const host = await newHost();
    t.fly.holdLease(APP, held.id, 60_000);
    const err = await update(host).catch((e) => e);
    expect(err.message).toContain(`fly machine leases clear ${held.id} -a ${APP}`);
    expect(untouched()).toBe(true);
  });

  it("a run killed between steps leaves a half-rolled fleet that the next run finishes", async () => {
    await setup({ healthMs: 15 });
    const first = await newHost();
    void update(first).catch(() => undefined);
    await waitFor(() => t.fly.fake.calls(UPDATE).length >= 2, "the second machine update");
    await stop(first);
    const done = t.fly.fake.calls(UPDATE)[0].path.split("/").pop()!;
    expect(t.fly.machines(APP).filter((m) => m.config.image === imageRef(2)).length).toBeGreaterThanOrEqual(1);

    const outs = await update(await newHost());
    expect(t.fly.machines(APP).every((m) => m.config.image === imageRef(2) && m.state === "started")).toBe(true);
    expect(t.fly.machines(APP).every((m) => m.checks.every((c) => c.status === "passing"))).toBe(true);
    expect(outs).toMatchObject({ previousDigest: imageRef(1).split("@")[1], machines: expect.any(Array) });
    expect(outs.machines).toHaveLength(3);
    // The machine the first run finished is not rolled again.
    expect(t.fly.machines(APP).find((m) => m.id === done)!.configs).toHaveLength(2);
  });
});
