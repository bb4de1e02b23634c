import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { CONFIG_KEYS } from "../src/config";

const root = path.resolve(__dirname, "..");
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");

describe("README", () => {
  it("documents every config key in the config reference", () => {
    const reference = readme.slice(readme.indexOf("## Configuration reference"));
    for (const key of Object.keys(CONFIG_KEYS)) expect(reference).toContain(`\`renewa:${key}\``);
  });

  it("gives the set-up as npm ci then npm test, and .ci/run runs exactly that", () => {
    expect(readme).toMatch(/```sh\nnpm ci\nnpm test\n```/);
    const ci = fs.readFileSync(path.join(root, ".ci", "run"), "utf8");
    expect(ci).toMatch(/^npm ci\b/m);
    expect(ci).toMatch(/^npm test$/m);
    expect(ci).toContain("set -euo pipefail");
  });

  it("names the real-engine prerequisites, the first CLI build and npm run test:engine", () => {
    const tests = readme.slice(readme.indexOf("## Tests"));
    expect(tests).toContain("npm run test:engine");
    expect(tests).toMatch(/Pulumi CLI on PATH/);
    expect(tests).toMatch(/Go 1\.26/);
    expect(tests).toMatch(/first `npm test`.*builds it/s);
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    expect(pkg.scripts["test:engine"]).toBe("vitest run test/engine");
    // The CLI version is pinned in exactly one place.
    const script = fs.readFileSync(path.join(root, "scripts", "pulumi-cli.sh"), "utf8");
    expect(script.match(/^PULUMI_CLI_VERSION="\d+\.\d+\.\d+"$/gm)).toHaveLength(1);
  });

  it("documents every credential variable and API base URL override the clients read", () => {
    for (const v of ["FLY_API_TOKEN", "GITHUB_TOKEN", "INFISICAL_TOKEN", "INFISICAL_CLIENT_ID", "INFISICAL_CLIENT_SECRET", "UPSTASH_EMAIL", "UPSTASH_API_KEY", "FLY_MACHINES_API_URL", "FLY_API_URL", "INFISICAL_API_URL", "GITHUB_API_URL"]) {
      expect(readme).toContain(v);
    }
  });
});

describe("project files", () => {
  it("Pulumi.yaml names the project, the TypeScript nodejs runtime and the entry point in src/", () => {
    const project = fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8");
    expect(project).toMatch(/^name: renewa-platform$/m);
    expect(project).toMatch(/name: nodejs/);
    expect(project).toMatch(/typescript: true/);
    expect(project).toMatch(/^main: src\/index\.ts$/m);
  });

  it("pins @pulumi/pulumi to 3.248.x (3.249+ needs Node 22) and requires Node 20+", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    expect(pkg.dependencies["@pulumi/pulumi"]).toMatch(/^(~)?3\.248\.\d+$/);
    expect(pkg.engines.node).toBe(">=20");
    const version = /^[~^]?\d+\.\d+\.\d+$/;
    for (const dep of ["@pulumi/command", "@pulumi/docker", "@pulumi/github", "@upstash/pulumi", "zod"]) expect(pkg.dependencies[dep], dep).toMatch(version);
    for (const dep of ["vitest", "typescript", "ts-node"]) expect(pkg.devDependencies[dep], dep).toMatch(version);
    const lock = JSON.parse(fs.readFileSync(path.join(root, "package-lock.json"), "utf8"));
    expect(lock.packages["node_modules/@pulumi/pulumi"].version).toMatch(/^3\.248\./);
  });

  it("tsconfig is strict", () => {
    const ts = JSON.parse(fs.readFileSync(path.join(root, "tsconfig.json"), "utf8"));
    expect(ts.compilerOptions.strict).toBe(true);
  });
});
