/**
 * The real engine's share of a run: the wall time of `pulumi preview` for each stack and of a no-op `pulumi up` of
 * development, beside the time the program's own evaluation takes (`npm run synth` of the same stack: Node, ts-node
 * and the program under Pulumi's mock runtime, no engine). The difference is what the engine, the language host, the
 * plugins and the providers' API calls (against the local fakes) add. Ratios, not targets: the same machine's load
 * moves both columns together. Runs each measurement RUNS times and keeps the fastest.
 */
import { spawn } from "child_process";
import * as path from "path";
import { digestOf, REPO, startPlatform } from "../test/engine/platform";

const RUNS = 2;
const ROOT = path.resolve(__dirname, "..");

function seconds<T>(work: () => Promise<T>): Promise<number> {
  const started = process.hrtime.bigint();
  return work().then(() => Number(process.hrtime.bigint() - started) / 1e9);
}

async function fastest(work: () => Promise<unknown>): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < RUNS; i++) best = Math.min(best, await seconds(work));
  return best;
}

/** `npm run synth -- <stack>` without npm: the program's evaluation on its own. */
function synth(stack: string, stackOutputs: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = ["-r", path.join(ROOT, "src/cli/pulumi-ts-register.js"), path.join(ROOT, "src/cli/synth.ts"), stack, "--json", ...stackOutputs.flatMap((o) => ["--stack-output", o])];
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, PULUMI_NODEJS_TRANSPILE_ONLY: "true" }, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`synth ${stack} failed: ${err}`))));
  });
}

async function main(): Promise<void> {
  const digest = digestOf(0x42);
  const p = await startPlatform();
  const rows: string[][] = [];
  try {
    p.fakes.registry.push(REPO, digest);
    for (const stack of ["development", "staging", "production", "pr-7"]) await p.ws.initStack(stack);
    await p.config("development", "renewa:imageDigest", digest);
    await p.config("pr-7", "renewa:imageDigest", digest);
    for (const stack of ["development", "staging", "production"]) await p.ok(stack, ["up", "--skip-preview"]);
    const outputs = [`development.imageDigest=${digest}`, `development.databaseClusterId=renewa-development-mpg`, `staging.imageDigest=${digest}`, `staging.releasedDigests=["${digest}"]`];

    const measure = async (label: string, stack: string, args: string[]) => {
      const engine = await fastest(() => p.ok(stack, args));
      const own = await fastest(() => synth(stack, outputs));
      rows.push([label, engine.toFixed(1), own.toFixed(1), (engine - own).toFixed(1), `${(engine / own).toFixed(2)}×`]);
    };
    for (const stack of ["development", "staging", "production", "pr-7"]) await measure(`pulumi preview -s ${stack}`, stack, ["preview"]);
    await measure("pulumi up -s development (no-op)", "development", ["up", "--skip-preview", "--expect-no-changes"]);
  } finally {
    await p.close();
  }
  const header = ["run", "wall (s)", "program evaluation (s)", "engine share (s)", "wall / evaluation"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
  console.log(`Real Pulumi engine (file:// backend, fakes on 127.0.0.1), fastest of ${RUNS} runs each; evaluation = npm run synth of the stack`);
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
