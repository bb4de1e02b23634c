/**
 * Rollout wall time, API calls per machine and availability, for each strategy at N = 1, 4, 16 and 64 machines,
 * against the Machines API fake with a per-machine boot-and-health latency L. The Release provider runs as the
 * engine runs it (serialized, in a plain Node provider process). Fly time is scaled: one Fly second lasts SECOND ms
 * here, for the fake, the client's polls, pacing and lease refreshes alike.
 *
 * Minimums (Fly s): rolling = ⌈N / k⌉ × L (k = max_unavailable as machines); canary = L + rolling; immediate = L;
 * bluegreen = the create pacing + L + the two 10 s pauses flyctl keeps for the proxy. Fly paces creates at 1/s
 * per app (bursts of 3), so the last green cannot be created before (N − 3) s.
 *
 * flyctl's calls per machine, counted from internal/command/deploy (plan.go, machines_deploymachinesapp.go,
 * strategy_bluegreen.go) and internal/machine/leasable_machine.go, as lower bounds:
 *   rolling   lease 1 + update 1 + wait(started) 1 + smoke-check GET ≥1 (it polls for 10 s) + health GET ≥1
 *             + lease release 1
 *   canary    rolling, plus per deploy the canary: create 1 + wait 1 + smoke GET ≥1 + health GET ≥1 + destroy 1
 *   bluegreen blue lease 1 + green create 1 + green lease release 1 (greens are created leased and let go at once)
 *             + wait 1 + health GET ≥1 + uncordon 1 + cordon 1 + stop 1 + wait(stopped) 1 + destroy 1 + blue lease
 *             release 1
 *   immediate lease 1 + update 1 + lease release 1 (no waits, no checks: this program's immediate is health-gated,
 *             which costs a wait and a GET per machine more; the table shows that column beside it)
 * every strategy: a refresh of each held lease every 4 s for the whole deploy (13 s TTL, refreshed at (13−1)/3),
 * counted here over this run's wall time; per deploy: list machines 1, release create 1 + PATCH running 1 + PATCH
 * final 1 (ours: the same four).
 *
 * Availability: the fewest routable healthy machines (started, not cordoned, every check passing) at any moment,
 * from the fake's timeline, against what the strategy promises: rolling N − k; canary N during the canary, then as
 * rolling; bluegreen N; immediate nothing.
 */
import { serializeResource, startProviderHost } from "../test/harness/engine";
import { createFlyMachinesFake, engineInputs, imageRef, sampleMachineSettings } from "../test/fakes/fly-machines";
import { batchSize } from "../src/release/rollout-plan";

const SCALE = 0.2;
const SECOND = 1000 * SCALE;
const BOOT_S = 4;
const HEALTH_S = 5.1; // the first check, run when the 5 s grace period ends, passes
const L_S = BOOT_S + HEALTH_S;
const PAUSES_S = 20;
const MAX_UNAVAILABLE = 0.33; // flyctl's default
const SIZES = [1, 4, 16, 64];
const STRATEGIES = ["rolling", "canary", "bluegreen", "immediate"] as const;
type Strategy = (typeof STRATEGIES)[number];
const PER_DEPLOY_FLYCTL = 4;
const TARGET = 1.15;

function flyctlPerMachine(strategy: Strategy, n: number, wallS: number): number {
  const refreshes = Math.floor(wallS / 4);
  const fixed = { rolling: 6, canary: 6 + 5 / n, bluegreen: 11, immediate: 3 }[strategy];
  return fixed + refreshes + PER_DEPLOY_FLYCTL / n;
}

function minimumS(strategy: Strategy, n: number): number {
  const rolling = Math.ceil(n / batchSize(n, MAX_UNAVAILABLE)) * L_S;
  if (strategy === "rolling") return rolling;
  if (strategy === "canary") return (n > 0 ? L_S : 0) + rolling;
  if (strategy === "immediate") return L_S;
  return Math.max(0, n - 3) + L_S + PAUSES_S;
}

function promisedRoutable(strategy: Strategy, n: number): { during: number; after: number } {
  const rolling = n - batchSize(n, MAX_UNAVAILABLE);
  return { rolling: { during: rolling, after: rolling }, canary: { during: n, after: rolling }, bluegreen: { during: n, after: n }, immediate: { during: 0, after: 0 } }[strategy];
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
  const host = await startProviderHost({ FLY_API_TOKEN: token, FLY_MACHINES_API_URL: fly.url, FLY_API_URL: fly.url, RENEWA_TIME_SCALE: String(SCALE) });
  const rows: string[][] = [];
  const misses: string[] = [];
  let app = 100;
  try {
    // The first run also pays for loading the provider's modules and opening connections: run one untimed.
    const runs: Array<[Strategy, number, boolean]> = [["rolling", 1, false], ...STRATEGIES.flatMap((s) => SIZES.map((n): [Strategy, number, boolean] => [s, n, true]))];
    for (const [strategy, n, timed] of runs) {
      const name = `renewa-app-pr-${app++}`;
      fly.addApp(name);
      for (let i = 0; i < n; i++) fly.addMachine(name, { image: imageRef(1), metadata: { fly_platform_version: "v2", fly_process_group: "app" } });
      const news = { ...base, app: name, machineCount: n, strategy, maxUnavailable: MAX_UNAVAILABLE };
      const checked0 = await host.call(serialized.provider, "check", {}, { ...news, image: imageRef(1) });
      const olds = { ...checked0.inputs, releaseId: "", machines: [], history: [], drift: [] };
      const checked = await host.call(serialized.provider, "check", olds, news);
      if (checked.failures?.length) throw new Error(JSON.stringify(checked.failures));
      const mark = fly.fake.log.length;
      const started = Date.now();
      await host.call(serialized.provider, "update", name, olds, checked.inputs);
      const wallS = (Date.now() - started) / SECOND;
      const calls = fly.fake.log.slice(mark).filter((l) => l.path.includes(`/${name}/`) || l.path.endsWith(`/${name}`) || l.path.startsWith("/api/v1/releases"));
      if (!fly.machines(name).every((m) => m.config.image === imageRef(2))) throw new Error(`${strategy} N=${n} did not converge`);
      if (!timed) continue;
      const min = minimumS(strategy, n);
      const ratio = wallS / min;
      const perMachine = calls.length / n;
      const flyctl = flyctlPerMachine(strategy, n, wallS);
      const gate = strategy === "immediate" ? 2 : 0;
      const firstUpdate = fly.state.apps.get(name)!.actions.find((a) => a.action === "update")?.at ?? Infinity;
      const low = fly.minRoutable(name, started);
      const lowDuring = strategy === "canary" ? fly.minRoutable(name, started, firstUpdate - 1) : low;
      const promise = promisedRoutable(strategy, n);
      const kept = lowDuring >= promise.during && low >= promise.after;
      if (ratio > TARGET) misses.push(`${strategy} N=${n}: ${ratio.toFixed(2)}× the minimum`);
      if (perMachine > flyctl + gate) misses.push(`${strategy} N=${n}: ${perMachine.toFixed(1)} calls/machine, flyctl ${flyctl.toFixed(1)}`);
      if (!kept) misses.push(`${strategy} N=${n}: ${low} routable, promised ${promise.after}`);
      rows.push([
        strategy,
        String(n),
        wallS.toFixed(1),
        min.toFixed(1),
        `${ratio.toFixed(2)}×`,
        perMachine.toFixed(1),
        `≥ ${flyctl.toFixed(1)}${gate ? ` (+${gate} gate = ${(flyctl + gate).toFixed(1)})` : ""}`,
        strategy === "canary" ? `${lowDuring} then ${low}` : String(low),
        strategy === "canary" ? `${promise.during} then ${promise.after}` : String(promise.after),
        kept ? "yes" : "NO",
      ]);
    }
  } finally {
    await host.close();
    await fly.stop();
  }
  const header = ["strategy", "N", "wall (Fly s)", "minimum (Fly s)", "ratio", "calls/machine", "flyctl calls/machine", "least routable", "promised", "kept"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
  console.log(`L = ${L_S} Fly s per machine (boot ${BOOT_S} s + health ${HEALTH_S} s); 1 Fly s = ${SECOND} ms; max_unavailable ${MAX_UNAVAILABLE}; target ≤ ${TARGET}× the minimum`);
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
  console.log("calls/machine include this release's per-deploy calls (list, release record) spread over N, and every lease refresh; flyctl's likewise.");
  console.log(misses.length ? `Missed: ${misses.join("; ")}` : "Every row within target, no more calls than flyctl (immediate: plus its health gate), every availability promise kept.");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
