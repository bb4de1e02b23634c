/**
 * Rollout wall time and API calls per machine, for each strategy at N = 1, 4 and 16 machines, against the Machines
 * API fake with a per-machine boot-and-health latency L. The Release provider runs as the engine runs it (serialized,
 * in a plain Node provider process). Fly time is scaled: one Fly second lasts SECOND ms here, for the fake, the
 * client's polls and pacing alike.
 *
 * Minimums: rolling = batches × L; immediate = L; bluegreen = L + the switch, where the switch (uncordon, stop,
 * destroy) is a few calls with no boot in it. Fly paces machine creates at 1/s per app (bursts of 3), so bluegreen
 * also gets a "paced" minimum: the last green cannot be created before (N − 3) s.
 *
 * flyctl's calls per machine, counted from internal/command/deploy (plan.go, machines_deploymachinesapp.go,
 * strategy_bluegreen.go) and internal/machine/leasable_machine.go, as lower bounds:
 *   rolling   lease 1 + update 1 + wait(started) 1 + smoke-check GET ≥1 (it polls for 10 s of uptime) + health GET ≥1
 *             + lease release 1 + a lease refresh every 4 s of the whole deploy (13 s TTL, refreshed at (13−1)/3)
 *   bluegreen lease 1 + create 1 + wait 1 + health GET ≥1 + uncordon 1 + cordon 1 + stop 1 + wait(stopped) 1
 *             + destroy 1 + lease release 1 + refreshes
 *   immediate lease 1 + update 1 + lease release 1 + refreshes (no waits, no checks)
 * plus per deploy: list machines 1, release create 1 + PATCH running 1 + PATCH complete 1 (ours: the same four).
 */
import { serializeResource, startProviderHost } from "../test/harness/engine";
import { createFlyMachinesFake, engineInputs, imageRef, sampleMachineSettings } from "../test/fakes/fly-machines";
import { batchSize } from "../src/rollout-plan";

const SCALE = 0.02;
const SECOND = 1000 * SCALE;
const BOOT_S = 4;
const HEALTH_S = 5.1; // the first check, run when the 5 s grace period ends, passes
const L_S = BOOT_S + HEALTH_S;
const MAX_UNAVAILABLE = 0.33; // flyctl's default
const SIZES = [1, 4, 16];
const STRATEGIES = ["rolling", "bluegreen", "immediate"] as const;
const PER_DEPLOY_FLYCTL = 4;

function flyctlPerMachine(strategy: (typeof STRATEGIES)[number], wallS: number): number {
  const refreshes = Math.floor(wallS / 4);
  return { rolling: 6, bluegreen: 10, immediate: 3 }[strategy] + refreshes;
}

function minimumS(strategy: (typeof STRATEGIES)[number], n: number): { min: number; paced?: number } {
  if (strategy === "rolling") return { min: Math.ceil(n / batchSize(n, MAX_UNAVAILABLE)) * L_S };
  if (strategy === "immediate") return { min: L_S };
  return { min: L_S, paced: Math.max(0, n - 3) + L_S };
}

async function main(): Promise<void> {
  const token = "bench-token";
  const settings = { ...sampleMachineSettings, healthCheck: { path: "/health", intervalSeconds: 10, timeoutSeconds: 2, gracePeriodSeconds: 5 } };
  const serialized = serializeResource({
    module: "src/providers/release.ts",
    exportName: "Release",
    name: "bench-release",
    args: { app: "renewa-app-pr-1", image: imageRef(2), machine: settings, machineCount: 1 },
    env: { FLY_API_TOKEN: token },
  });
  const base = engineInputs(serialized.inputs);
  const fly = await createFlyMachinesFake({ token, secondMs: SECOND, bootMs: BOOT_S * SECOND, healthMs: HEALTH_S * SECOND });
  const host = await startProviderHost({
    FLY_API_TOKEN: token,
    FLY_MACHINES_API_URL: fly.url,
    FLY_API_URL: fly.url,
    RENEWA_TIME_SCALE: String(SCALE),
  });
  const rows: string[][] = [];
  let app = 100;
  try {
    // The first run also pays for loading the provider's modules and opening connections: run one untimed.
    for (const [strategy, n, timed] of [["rolling", 1, false], ...STRATEGIES.flatMap((s) => SIZES.map((n) => [s, n, true]))] as Array<[(typeof STRATEGIES)[number], number, boolean]>) {
      {
        const name = `renewa-app-pr-${app++}`;
        fly.addApp(name);
        for (let i = 0; i < n; i++) fly.addMachine(name, { image: imageRef(1), metadata: { fly_platform_version: "v2", fly_process_group: "app" } });
        const news = { ...base, app: name, machineCount: n, strategy, maxUnavailable: MAX_UNAVAILABLE };
        const olds = { ...news, image: imageRef(1), digest: imageRef(1).split("@")[1], history: [] };
        const checked = await host.call(serialized.provider, "check", olds, news);
        if (checked.failures?.length) throw new Error(JSON.stringify(checked.failures));
        const mark = fly.fake.log.length;
        const started = Date.now();
        await host.call(serialized.provider, "update", name, olds, checked.inputs);
        const wallS = (Date.now() - started) / SECOND;
        const calls = fly.fake.log.slice(mark).filter((l) => l.path.includes(name) || l.path.startsWith("/api/v1/releases"));
        if (!fly.machines(name).every((m) => m.config.image === imageRef(2))) throw new Error(`${strategy} N=${n} did not converge`);
        if (!timed) continue;
        const { min, paced } = minimumS(strategy, n);
        const perMachine = calls.length / n;
        const flyctl = flyctlPerMachine(strategy, wallS) + PER_DEPLOY_FLYCTL / n;
        rows.push([
          strategy,
          String(n),
          wallS.toFixed(1),
          min.toFixed(1),
          (wallS / min).toFixed(2) + "×",
          paced === undefined ? "" : `${(wallS / paced).toFixed(2)}× of ${paced.toFixed(1)}`,
          perMachine.toFixed(1),
          `≥ ${flyctl.toFixed(1)}`,
        ]);
      }
    }
  } finally {
    await host.close();
    await fly.stop();
  }
  const header = ["strategy", "N", "wall (Fly s)", "minimum (Fly s)", "ratio", "ratio to paced min", "calls/machine", "flyctl calls/machine"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
  console.log(`L = ${L_S} Fly s per machine (boot ${BOOT_S} s + health ${HEALTH_S} s); 1 Fly s = ${SECOND} ms; rolling max_unavailable ${MAX_UNAVAILABLE}`);
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
  console.log("calls/machine include this release's per-deploy calls (list, release record) spread over N; flyctl's likewise (+4/N).");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
