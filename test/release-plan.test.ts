// Pure parts of the release engine: rollout planning per strategy, machine config building, command splitting and
// reading a release machine's exit code.
import { describe, expect, it } from "vitest";
import {
  buildMachineConfig,
  buildReleaseCommandConfig,
  configHash,
  splitCommand,
  validateMachineSettings,
  withSettingsDefaults,
} from "../src/machine-config";
import { lastExitCode } from "../src/release-command";
import { FleetMachine, batchSize, isNoop, planRollout, sequentialSteps } from "../src/rollout-plan";

const fleet = (spec: string): FleetMachine[] =>
  spec.split(" ").map((s, i) => ({ id: `m${i}`, state: s.startsWith("s") ? "stopped" : "started", current: s.endsWith("+") }));

describe("planRollout", () => {
  it("rolling: batches of maxUnavailable (count or fraction), stopped machines last and kept stopped", () => {
    const plan = planRollout({ fleet: fleet("r r r r r s"), desiredCount: 6, strategy: "rolling", maxUnavailable: 2 });
    expect(plan.batches.map((b) => b.map((s) => `${s.id}${s.launch ? "" : "~"}`))).toEqual([["m0", "m1"], ["m2", "m3"], ["m4"], ["m5~"]]);
    expect(planRollout({ fleet: fleet("r r r r r r r r r r"), desiredCount: 10, strategy: "rolling", maxUnavailable: 0.33 }).batches.map((b) => b.length)).toEqual([4, 4, 2]);
    expect(batchSize(16, 0.33)).toBe(6);
    expect(batchSize(3, 0.01)).toBe(1);
  });

  it("skips machines already current, and is a no-op when all are", () => {
    const plan = planRollout({ fleet: fleet("r+ r r+"), desiredCount: 3, strategy: "rolling", maxUnavailable: 1 });
    expect(plan.batches).toEqual([[{ id: "m1", launch: true }]]);
    expect(isNoop(planRollout({ fleet: fleet("r+ s+"), desiredCount: 2, strategy: "bluegreen", maxUnavailable: 1 }))).toBe(true);
  });

  it("starts one stopped machine to prove the image when nothing running is updated", () => {
    const plan = planRollout({ fleet: fleet("s s s"), desiredCount: 3, strategy: "rolling", maxUnavailable: 1 });
    expect(plan.batches).toEqual([[{ id: "m0", launch: true }], [{ id: "m1", launch: false }, { id: "m2", launch: false }]]);
  });

  it("immediate: everything in one batch", () => {
    const plan = planRollout({ fleet: fleet("r r s"), desiredCount: 3, strategy: "immediate", maxUnavailable: 1 });
    expect(plan.batches).toHaveLength(1);
    expect(sequentialSteps(plan)).toBe(1);
  });

  it("bluegreen: a green per outdated machine plus the missing ones; blues retired", () => {
    const plan = planRollout({ fleet: fleet("r r+ r"), desiredCount: 4, strategy: "bluegreen", maxUnavailable: 1 });
    expect(plan).toMatchObject({ batches: [], create: 3, retire: ["m0", "m2"], destroy: [] });
    expect(sequentialSteps(plan)).toBe(1);
  });

  it("surplus machines: outdated and stopped ones go first and are never updated", () => {
    const plan = planRollout({ fleet: fleet("r+ r s r+"), desiredCount: 2, strategy: "rolling", maxUnavailable: 1 });
    expect(plan.destroy).toEqual(["m1", "m2"]);
    expect(plan.batches).toEqual([]);
    const grow = planRollout({ fleet: fleet("r"), desiredCount: 3, strategy: "rolling", maxUnavailable: 1 });
    expect(grow).toMatchObject({ create: 2, batches: [[{ id: "m0", launch: true }]] });
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

  it("fingerprints config but not the image or release metadata", () => {
    const a = buildMachineConfig(settings, IMAGE, { id: "rel_1", version: 1 });
    const b = buildMachineConfig(settings, IMAGE.replace(/a/g, "b"), { id: "rel_2", version: 2 });
    const c = buildMachineConfig({ ...settings, minMachinesRunning: 2 }, IMAGE, { id: "rel_1", version: 1 });
    expect(a.metadata!.renewa_config_hash).toBe(b.metadata!.renewa_config_hash);
    expect(a.metadata!.renewa_config_hash).not.toBe(c.metadata!.renewa_config_hash);
    expect(configHash({ ...a, env: { PRIMARY_REGION: "fra", FLY_PROCESS_GROUP: "app", NODE_ENV: "production" } })).toBe(a.metadata!.renewa_config_hash);
  });

  it("builds the release_command machine: one-off, never restarted, secret URL only in its env", () => {
    const config = buildReleaseCommandConfig(settings, { image: IMAGE, command: "bin/migrate up", release: { id: "r", version: 3 }, databaseUrl: "postgres://m" });
    expect(config).toMatchObject({
      init: { cmd: ["bin/migrate", "up"] },
      env: { RELEASE_COMMAND: "1", DATABASE_URL: "postgres://m", FLY_PROCESS_GROUP: "fly_app_release_command", NODE_ENV: "production" },
      restart: { policy: "no" },
      auto_destroy: true,
      dns: { skip_registration: true },
      metadata: { fly_process_group: "fly_app_release_command", fly_release_version: "3" },
    });
    expect(config.services).toBeUndefined();
  });

  it("validates settings field by field", () => {
    const bad = { ...settings, guest: { cpuKind: "shared" as const, cpus: 1, memoryMb: 300 }, env: { DATABASE_URL: "x", "bad-name": "y", PRIMARY_REGION: "ams" } };
    expect(validateMachineSettings(bad).map((f) => f.property).sort()).toEqual(["machine.env.DATABASE_URL", "machine.env.PRIMARY_REGION", "machine.env.bad-name", "machine.guest.memoryMb"]);
    expect(validateMachineSettings({ ...settings, env: { PRIMARY_REGION: "fra" } })).toEqual([]);
  });

  it("splits commands like a shell", () => {
    expect(splitCommand(`bin/migrate --name "add users" 'it''s' a\\ b`)).toEqual(["bin/migrate", "--name", "add users", "its", "a b"]);
    expect(splitCommand(`sh -c "echo \\"hi\\""`)).toEqual(["sh", "-c", 'echo "hi"']);
    expect(() => splitCommand(`echo "oops`)).toThrow(/unterminated/);
  });
});

describe("lastExitCode", () => {
  it("takes the newest exit event", () => {
    const events = [
      { type: "exit", timestamp: 1, request: { exit_event: { exit_code: 0 } } },
      { type: "start", timestamp: 2 },
      { type: "exit", timestamp: 3, request: { exit_event: { exit_code: 2 } } },
    ];
    expect(lastExitCode(events)).toBe(2);
    expect(lastExitCode([{ type: "start", timestamp: 1 }])).toBeUndefined();
  });
});
