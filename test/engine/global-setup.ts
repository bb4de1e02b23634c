/**
 * Before any test file runs: the real Pulumi CLI (scripts/pulumi-cli.sh builds it from Go modules the first time,
 * which takes minutes and must not race between test workers or run into a hook's timeout). Prints how long a first
 * build took; later runs reuse the cache in a second.
 */
import { spawnSync } from "child_process";
import * as path from "path";

export default function setup(): void {
  const root = path.resolve(__dirname, "..", "..");
  const started = Date.now();
  const res = spawnSync("bash", [path.join(root, "scripts", "pulumi-cli.sh")], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  if (res.status !== 0) {
    // Not fatal here: every other test still runs, and each real-engine test fails with this message (never skips).
    process.env.RENEWA_PULUMI_CLI_ERROR = `scripts/pulumi-cli.sh failed (exit ${res.status}); the real-engine suite needs a Pulumi CLI on PATH or Go 1.26 to build one:\n${res.stderr.slice(-4000)}`;
    return;
  }
  if (/building Pulumi CLI/.test(res.stderr)) {
    process.stdout.write(`pulumi-cli: built the Pulumi CLI from Go modules in ${Math.round((Date.now() - started) / 1000)} s (cached for later runs)\n`);
  }
  process.env.RENEWA_PULUMI_CLI_DIR = res.stdout.trim().split("\n").pop();
}
