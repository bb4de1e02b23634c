// Pure parts of the release engine: rollout planning per strategy, machine config building, command splitting and
// reading a release machine's exit code.
import { describe, expect, it } from "vitest";
import { buildAppDefinition } from "../src/release/app-definition";
import { classifyFleet, configDrift } from "../src/release/fleet";
import { buildMachineConfig, buildReleaseCommandConfig, splitCommand, validateMachineSettings, withSettingsDefaults } from "../src/release/machine-config";
import { lastExitCode } from "../src/release/release-command";
import { FleetMachine, batchSize, isNoop, planRollout, sequentialSteps } from "../src/release/rollout-plan";

const fleet = (spec: string): FleetMachine[] =>
  spec.split(" ").map((s, i) => ({ id: `m${i}`, state: s.startsWith("s") ? "stopped" : "started", current: s.endsWith("+") }));

describe("planRollout", () => {
  const steps = (p: { updates: Array<{ id: string; launch: boolean }> }) => p.updates.map((s) => `${s.id}${s.launch ? "" : "~"}`);

  it("rolling: a sliding pool of maxUnavailable (count or fraction), stopped machines last and kept stopped", () => {
    const plan = planRollout({ fleet: fleet("r r r r r s"), desiredCount: 6, strategy: "rolling", maxUnavailable: 2 });
    expect(steps(plan)).toEqual(["m0", "m1", "m2", "m3", "m4", "m5~"]);
    expect(plan.inFlight).toBe(2);
    expect(sequentialSteps(plan)).toBe(3);
    expect(planRollout({ fleet: fleet("r r r r r r r r r r"), desiredCount: 10, strategy: "rolling", maxUnavailable: 0.33 }).inFlight).toBe(4);
    expect(batchSize(16, 0.33)).toBe(6);
    expect(batchSize(3, 0.01)).toBe(1);
  });

  it("skips machines already current, and is a no-op when all are", () => {
    const plan = planRollout({ fleet: fleet("r+ r r+"), desiredCount: 3, strategy: "rolling", maxUnavailable: 1 });
    expect(plan.updates).toEqual([{ id: "m1", launch: true, replace: false }]);
    expect(isNoop(planRollout({ fleet: fleet("r+ s+"), desiredCount: 2, strategy: "bluegreen", maxUnavailable: 1 }))).toBe(true);
  });

  it("starts one stopped machine to prove the image when nothing running is updated", () => {
    const plan = planRollout({ fleet: fleet("s s s"), desiredCount: 3, strategy: "rolling", maxUnavailable: 1 });
    expect(steps(plan)).toEqual(["m0", "m1~", "m2~"]);
  });

  it("immediate: everything at once", () => {
    const plan = planRollout({ fleet: fleet("r r s"), desiredCount: 3, strategy: "immediate", maxUnavailable: 1 });
    expect(plan.inFlight).toBe(3);
    expect(sequentialSteps(plan)).toBe(1);
  });

  it("canary: one proving machine first, then rolling; none on a first deploy; a bad host is replaced", () => {
    const plan = planRollout({ fleet: fleet("r r r r"), desiredCount: 4, strategy: "canary", maxUnavailable: 2 });
    expect(plan).toMatchObject({ canary: true, inFlight: 2 });
    expect(sequentialSteps(plan)).toBe(3);
    expect(planRollout({ fleet: [], desiredCount: 2, strategy: "canary", maxUnavailable: 1 }).canary).toBe(false);
    const bad = planRollout({ fleet: [{ id: "m0", state: "started", current: false, badHost: true }], desiredCount: 1, strategy: "rolling", maxUnavailable: 1 });
    expect(bad.updates).toEqual([{ id: "m0", launch: true, replace: true }]);
  });

  it("bluegreen: a green per outdated machine plus the missing ones; blues retired", () => {
    const plan = planRollout({ fleet: fleet("r r+ r"), desiredCount: 4, strategy: "bluegreen", maxUnavailable: 1 });
    expect(plan).toMatchObject({ updates: [], create: 3, retire: ["m0", "m2"], destroy: [] });
    expect(sequentialSteps(plan)).toBe(1);
  });

  it("surplus machines: outdated and stopped ones go first and are never updated", () => {
    const plan = planRollout({ fleet: fleet("r+ r s r+"), desiredCount: 2, strategy: "rolling", maxUnavailable: 1 });
    expect(plan.destroy).toEqual(["m1", "m2"]);
    expect(plan.updates).toEqual([]);
    const grow = planRollout({ fleet: fleet("r"), desiredCount: 3, strategy: "rolling", maxUnavailable: 1 });
    expect(grow).toMatchObject({ create: 2, updates: [{ id: "m0", launch: true }] });
    expect(sequentialSteps(grow)).toBe(2);
  });
});

const settings = withSettingsDefaults({
  region: "fra",
  guest: { cpuKind: "performance", cpus: 2, memoryMb: 4096 },
  healthCheck: { path: "/health", intervalSeconds: 15, timeoutSeconds: 2, gracePeriodSeconds: 10 },
  env: { NODE_ENV: "production" },
  autoStop: "suspend",
  minMachinesRunning: 1,
});
const IMAGE = `registry.fly.io/renewa-app@sha256:${"a".repeat(64)}`;

describe("machine config", () => {
  it("maps settings the way fly deploy maps fly.toml, with flyctl's release metadata", () => {
    const config = buildMachineConfig(settings, IMAGE, { id: "rel_1", version: 7 });
    expect(config).toMatchObject({
      image: IMAGE,
      env: { NODE_ENV: "production", FLY_PROCESS_GROUP: "app", PRIMARY_REGION: "fra" },
      guest: { cpu_kind: "performance", cpus: 2, memory_mb: 4096 },
      restart: { policy: "on-failure" },
      metadata: { fly_platform_version: "v2", fly_process_group: "app", fly_release_id: "rel_1", fly_release_version: "7" },
    });
    expect(config.services).toEqual([
      {
        protocol: "tcp",
        internal_port: 8080,
        ports: [{ port: 80, handlers: ["http"], force_https: true }, { port: 443, handlers: ["http", "tls"] }],
        autostop: "suspend",
        autostart: true,
        min_machines_running: 1,
        checks: [{ type: "http", port: 8080, interval: "15s", timeout: "2s", grace_period: "10s", method: "GET", path: "/health", protocol: "http" }],
      },
    ]);
  });

  it("drift: compares the live config field by field, ignoring release metadata and defaults Fly fills in", () => {
    const a = buildMachineConfig(settings, IMAGE, { id: "rel_1", version: 1 });
    const live = JSON.parse(JSON.stringify(a));
    live.metadata.fly_release_version = "9";
    live.services[0].concurrency = { type: "connections", soft_limit: 20 };
    live.restart.max_retries = 10;
    expect(configDrift(live, buildMachineConfig(settings, IMAGE, { id: "rel_2", version: 2 }))).toEqual([]);
    live.guest.memory_mb = 8192;
    live.env.LOG_LEVEL = "debug";
    expect(configDrift(live, a)).toEqual(['env.LOG_LEVEL: "debug" (live) ≠ unset (declared)', "guest.memory_mb: 8192 (live) ≠ 4096 (declared)"]);
    expect(configDrift({ ...a, image: IMAGE.replace(/a/g, "b") }, a)).toEqual([expect.stringMatching(/^image: /)]);
  });

  it("ownership: only v2 machines of the app's group are managed; leftovers of interrupted runs are set apart", () => {
    const m = (id: string, metadata: Record<string, string> | undefined, extra: object = {}) => ({ id, state: "started", config: { image: IMAGE, metadata }, ...extra });
    const v2 = { fly_platform_version: "v2", fly_process_group: "app" };
    const fleet = classifyFleet(
      [
        m("a", v2),
        m("b", { fly_platform_version: "v2" }),
        m("manual", undefined),
        m("worker", { fly_platform_version: "v2", fly_process_group: "worker" }),
        m("green", { ...v2, fly_bluegreen_deployment_tag: "3-1" }, { cordoned: true }),
        m("canary", { ...v2, fly_canary: "true" }),
        m("job", { fly_process_group: "fly_app_release_command" }),
        m("gone", v2, { state: "destroying" }),
      ],
      "app",
    );
    expect(fleet.managed.map((x) => x.id)).toEqual(["a", "b"]);
    expect(fleet.ignored.map((x) => x.id)).toEqual(["manual", "worker"]);
    expect(fleet.rolloutLeftovers.map((x) => x.id)).toEqual(["green", "canary"]);
    expect(fleet.releaseCommandLeftovers.map((x) => x.id)).toEqual(["job"]);
  });

  it("the release definition is the app's whole config, in flyctl's fly.toml shape", () => {
    const d = buildAppDefinition(settings, { app: "renewa-app-staging", strategy: "rolling", maxUnavailable: 0.33, waitTimeoutSeconds: 300, releaseCommand: "bin/migrate", releaseCommandTimeoutSeconds: 600 });
    expect(d).toMatchObject({
      app: "renewa-app-staging",
      primary_region: "fra",
      deploy: { strategy: "rolling", release_command: "bin/migrate", release_command_timeout: "600s", wait_timeout: "300s" },
      env: { NODE_ENV: "production" },
      http_service: { internal_port: 8080, force_https: true, auto_stop_machines: "suspend", auto_start_machines: true, min_machines_running: 1 },
      vm: [{ cpu_kind: "performance", cpus: 2, memory_mb: 4096 }],
      restart: [{ policy: "on-failure" }],
    });
  });

  it("builds the release_command machine: one-off, never restarted, no secret in its config", () => {
    const config = buildReleaseCommandConfig(settings, { image: IMAGE, command: "bin/migrate up", release: { id: "r", version: 3 } });
    expect(config).toMatchObject({
      init: { cmd: ["/bin/sh", "-c", 'DATABASE_URL="$DATABASE_URL_MIGRATION" exec "$@"', "release_command", "bin/migrate", "up"] },
      env: { RELEASE_COMMAND: "1", FLY_PROCESS_GROUP: "fly_app_release_command", NODE_ENV: "production" },
      restart: { policy: "no" },
      auto_destroy: true,
      dns: { skip_registration: true },
      metadata: { fly_process_group: "fly_app_release_command", fly_release_version: "3" },
    });
    expect(config.services).toBeUndefined();
    expect(config.env).not.toHaveProperty("DATABASE_URL");
  });

  it("validates settings field by field", () => {
    const bad = { ...settings, guest: { cpuKind: "shared" as const, cpus: 1, memoryMb: 300 }, env: { DATABASE_URL: "x", "bad-name": "y", PRIMARY_REGION: "ams" } };
    expect(validateMachineSettings(bad).map((f) => f.property).sort()).toEqual(["machine.env.DATABASE_URL", "machine.env.PRIMARY_REGION", "machine.env.bad-name", "machine.guest.memoryMb"]);
    expect(validateMachineSettings({ ...settings, env: { DATABASE_URL_MIGRATION: "postgres://x" } }).map((f) => f.property)).toEqual(["machine.env.DATABASE_URL_MIGRATION"]);
    expect(validateMachineSettings({ ...settings, env: { PRIMARY_REGION: "fra" } })).toEqual([]);
  });

  it("splits commands like a shell", () => {
    expect(splitCommand(`bin/migrate --name "add users" 'it''s' a\\ b`)).toEqual(["bin/migrate", "--name", "add users", "its", "a b"]);
    expect(splitCommand(`sh -c "echo \\"hi\\""`)).toEqual(["sh", "-c", 'echo "hi"']);
    expect(() => splitCommand(`echo "oops`)).toThrow(/unterminated/);
  });
});

describe("lastExitCode", () => {
  it("takes the newest exit event, in either shape Fly reports it", () => {
    const events = [
      { type: "exit", timestamp: 1, request: { exit_event: { exit_code: 0 } } },
      { type: "start", timestamp: 2 },
      { type: "exit", timestamp: 3, request: { exit_event: { exit_code: 2 } } },
    ];
    expect(lastExitCode(events)).toBe(2);
    expect(lastExitCode([{ type: "exit", timestamp: 1, request: { MonitorEvent: { exit_event: { exit_code: 5 } } } }])).toBe(5);
    expect(lastExitCode([{ type: "start", timestamp: 1 }])).toBeUndefined();
  });
});
