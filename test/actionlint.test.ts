/**
 * actionlint (pinned in scripts/actionlint.sh, built with `go install` on first use into .cache/actionlint/) over
 * every workflow the project ships: this repository's and the ones renewa/renewa-one copies from app-repo/. It runs
 * shellcheck on each `run:` script when shellcheck is on PATH (Debian: `apt-get install shellcheck`); without it,
 * actionlint's own checks (syntax, expressions, contexts, permissions, job graph, local action inputs) still run.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");
const WORKFLOW_DIRS = [".github/workflows", "app-repo/.github/workflows"];
const workflows = WORKFLOW_DIRS.flatMap((d) => fs.readdirSync(path.join(ROOT, d)).filter((f) => /\.ya?ml$/.test(f)).map((f) => `${d}/${f}`));

let actionlint: string;
beforeAll(() => {
  // Prints only the binary's path on stdout; building it (once per version) logs to stderr.
  actionlint = execFileSync("bash", [path.join(ROOT, "scripts", "actionlint.sh")], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
}, 600_000);

const lint = (files: string[], cwd = ROOT) => spawnSync(actionlint, ["-no-color", ...files], { cwd, encoding: "utf8" });

describe("actionlint", () => {
  it("is the pinned version, 1.7.7", () => {
    expect(execFileSync(actionlint, ["-version"], { encoding: "utf8" }).split("\n")[0]).toBe("v1.7.7");
  });

  it("reports nothing on every workflow the project ships", () => {
    expect(workflows.length).toBeGreaterThanOrEqual(9);
    const shellcheck = spawnSync("sh", ["-c", "command -v shellcheck"], { encoding: "utf8" }).stdout.trim();
    if (!shellcheck) console.warn("actionlint: shellcheck is not on PATH, so run: scripts are not shellchecked (apt-get install shellcheck)");
    const res = lint(workflows);
    expect(res.stdout + res.stderr).toBe("");
    expect(res.status).toBe(0);
  });

  it("can fail: a broken workflow is reported with its file and line", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "actionlint-"));
    fs.mkdirSync(path.join(dir, ".github", "workflows"), { recursive: true });
    const file = path.join(dir, ".github", "workflows", "broken.yml");
    fs.writeFileSync(file, "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n");
    const res = lint([file], dir);
    expect(res.status).toBe(1);
    expect(res.stdout).toMatch(/broken\.yml:6:.*property "nope" is not defined/);
  });
});
