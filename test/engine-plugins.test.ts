// The stand-in provider plugins (test/engine/plugins) under the REAL Pulumi CLI: a tiny program in a temp project
// with a file:// backend declares one of each resource and calls each invoke, against local fakes. A handful of CLI
// runs in all (each ~3 s): the machine is shared.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpFake } from "./fakes/http-fake";
import { RegistryFake, createRegistryFake } from "./fakes/registry";
import { installStandIns } from "./engine/plugins/install";
import { pulumiCliDir } from "./engine/workspace";

const ROOT = path.resolve(__dirname, "..");
const GITHUB_TOKEN = "ghp_standin_sentinel_token";
const FLY_API_TOKEN = "fly_standin_sentinel_token";
const DIGEST = `sha256:${"ab".repeat(32)}`;
const MISSING = `sha256:${"cd".repeat(32)}`;

// Plain JS (no ts-node start-up). Unknown and missing properties go through pulumi.CustomResource with the real type
// token: the SDK classes drop unknown keys and throw on missing required ones before the plugin is asked.
const PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const github = require("@pulumi/github");
const upstash = require("@upstash/pulumi");
const docker = require("@pulumi/docker");
const CASE = process.env.STANDIN_CASE;
// As components/github-environment.ts does: the token stays out of the provider's inputs (and state).
const withoutToken = (a) => { const { token, ...props } = a.props; return { props, opts: a.opts }; };
const gh = new github.Provider("gh", { owner: "renewa" }, { transformations: [withoutToken] });
const registry = new docker.Provider("registry", {
  disableDockerDaemonCheck: true,
  registryAuth: [{ address: "registry.fly.io", username: "x", password: pulumi.secret(process.env.FLY_API_TOKEN) }],
});
if (CASE === "valid") {
  const alice = github.getUserOutput({ username: "alice" }, { provider: gh });
  const team = github.getTeamOutput({ slug: "platform" }, { provider: gh });
  const env = new github.RepositoryEnvironment("env", {
    repository: "renewa-one", environment: "production", preventSelfReview: true,
    reviewers: [{ users: [alice.id.apply(Number)], teams: [team.id.apply(Number)] }],
    deploymentBranchPolicy: { protectedBranches: true, customBranchPolicies: false },
  }, { provider: gh });
  const ruleset = new github.RepositoryRuleset("ruleset", {
    repository: "renewa-one", name: "default-branch-ci-gate", target: "branch", enforcement: "active",
    conditions: { refName: { includes: ["~DEFAULT_BRANCH"], excludes: [] } },
    rules: { requiredStatusChecks: { requiredChecks: [{ context: "ci-gate" }], strictRequiredStatusChecksPolicy: false } },
  }, { provider: gh });
  const label = new github.IssueLabel("label", { repository: "renewa-one", name: "deployment-record", color: "0e8a16" }, { provider: gh });
  const db = new upstash.RedisDatabase("db", { databaseName: "renewa-test", region: "global", primaryRegion: "eu-central-1", tls: true },
    { additionalSecretOutputs: ["restToken", "readOnlyRestToken"] });
  const image = docker.getRegistryImageOutput({ name: "registry.fly.io/renewa-app-development@${DIGEST}" }, { provider: registry });
  module.exports = { envId: env.id, reviewers: env.reviewers, rulesetId: ruleset.rulesetId, labelUrl: label.url,
    databaseId: db.databaseId, endpoint: db.endpoint, port: db.port, password: db.password, state: db.state, digest: image.sha256Digest };
}
if (CASE === "unknown-property") {
  new pulumi.CustomResource("github:index/repositoryEnvironment:RepositoryEnvironment", "env",
    { repository: "renewa-one", environment: "staging", bogusSetting: true, waitTimer: "soon" }, { provider: gh });
}
if (CASE === "missing-property") {
  new pulumi.CustomResource("upstash:index/redisDatabase:RedisDatabase", "db", { databaseName: "renewa-test" });
}
if (CASE === "unknown-user") module.exports = { id: github.getUserOutput({ username: "nobody-here" }, { provider: gh }).id };
if (CASE === "missing-digest") {
  module.exports = { d: docker.getRegistryImageOutput({ name: "registry.fly.io/renewa-app-development@${MISSING}" }, { provider: registry }).sha256Digest };
}
`;

let dir: string;
let github: HttpFake;
let registry: RegistryFake;
let env: NodeJS.ProcessEnv;

/** One CLI run; resolves with its exit code and output instead of throwing. */
async function pulumi(args: string[], extra: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)("pulumi", [...args, "--non-interactive"], {
      cwd: path.join(dir, "project"), env: { ...env, ...extra }, timeout: 120_000, maxBuffer: 16 << 20,
    });
    return { code: 0, out: stdout + stderr };
  } catch (err: any) {
    if (typeof err.code !== "number") throw err;
    return { code: err.code, out: `${err.stdout}${err.stderr}` };
  }
}

const logLines = (file: string) => fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "engine-plugins-"));
  for (const d of ["home", "state", "project"]) fs.mkdirSync(path.join(dir, d));
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "project", "node_modules"));
  fs.writeFileSync(path.join(dir, "project", "Pulumi.yaml"), "name: standin-check\nruntime:\n  name: nodejs\n  options:\n    typescript: false\n");
  fs.writeFileSync(path.join(dir, "project", "package.json"), JSON.stringify({ name: "standin-check", main: "index.js" }));
  fs.writeFileSync(path.join(dir, "project", "index.js"), PROGRAM);

  // The routes the real data sources read (GET /users/{username}, GET /orgs/{org}/teams/{team_slug}).
  github = new HttpFake();
  github.requestIdHeader = "x-github-request-id";
  github.requiredAuth = `Bearer ${GITHUB_TOKEN}`;
  github.route("GET", "/users/:login", (req) =>
    req.params.login === "alice"
      ? { status: 200, body: { login: "alice", id: 4242, node_id: "MDQ6VXNlcjQyNDI=", name: null, site_admin: false } }
      : { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest/users/users#get-a-user" } },
  );
  github.route("GET", "/orgs/:org/teams/:slug", (req) =>
    req.params.org === "renewa" && req.params.slug === "platform"
      ? { status: 200, body: { id: 77, node_id: "T_77", slug: "platform", name: "Platform", description: null, privacy: "closed", permission: "pull" } }
      : { status: 404, body: { message: "Not Found" } },
  );
  await github.start();
  registry = await createRegistryFake({ token: FLY_API_TOKEN });
  registry.push("renewa-app-development", DIGEST);

  const home = path.join(dir, "home");
  const bin = await installStandIns(home);
  env = {
    // The CLI (built once by test/engine/global-setup.ts) first, then the stand-ins, as the engine suite has them.
    PATH: `${pulumiCliDir()}:${bin}:${process.env.PATH}`,
    HOME: process.env.HOME,
    PULUMI_HOME: home,
    PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: "test",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    GITHUB_TOKEN,
    GITHUB_API_URL: github.url,
    FLY_API_TOKEN,
    RENEWA_STANDIN_REGISTRY_URL: registry.fake.url,
    RENEWA_STANDIN_LOG: path.join(dir, "calls.jsonl"),
  };
  const init = await pulumi(["stack", "init", "test"]);
  expect(init.code, init.out).toBe(0);
}, 120_000);

afterAll(async () => {
  await github?.stop();
  await registry?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("stand-in plugins under the real CLI", () => {
  it("creates every resource with the real providers' ids and outputs, and an unchanged run changes nothing", async () => {
    const up = await pulumi(["up", "--yes", "--skip-preview"], { STANDIN_CASE: "valid" });
    expect(up.code, up.out).toBe(0);
    // The engine took the stand-ins from PATH, not from a plugin download.
    expect(up.out).toMatch(/using pulumi-resource-github from \$PATH/);
    const outputs = JSON.parse((await pulumi(["stack", "output", "--json", "--show-secrets"])).out);
    expect(outputs).toMatchObject({
      envId: "renewa-one:production",
      reviewers: [{ users: [4242], teams: [77] }],
      labelUrl: "https://api.github.com/repos/renewa/renewa-one/labels/deployment-record",
      port: 6379,
      state: "active",
      digest: DIGEST,
    });
    expect(outputs.databaseId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(outputs.endpoint).toMatch(/^renewa-test-\d+\.upstash\.io$/);
    expect(outputs.rulesetId).toEqual(expect.any(Number));
    // The provider marks the password secret, as the real one's schema does.
    const plain = JSON.parse((await pulumi(["stack", "output", "--json"])).out);
    expect(plain.password).toBe("[secret]");

    const refresh = await pulumi(["refresh", "--yes", "--skip-preview", "--expect-no-changes"]);
    expect(refresh.code, refresh.out).toBe(0);
    const again = await pulumi(["preview", "--expect-no-changes"], { STANDIN_CASE: "valid" });
    expect(again.code, again.out).toBe(0);
  }, 180_000); // five CLI runs: ~15 s alone, much more while other engineers' tests share the 2 cores

  it("logs every call without secret values or credentials", () => {
    const calls = logLines(env.RENEWA_STANDIN_LOG!);
    const text = JSON.stringify(calls);
    for (const [provider, method] of [["github", "configure"], ["github", "create"], ["github", "invoke"], ["upstash", "create"], ["docker", "invoke"], ["github", "read"]]) {
      expect(calls.some((c) => c.provider === provider && c.method === method), `${provider} ${method}`).toBe(true);
    }
    expect(calls.find((c) => c.method === "invoke" && c.token === "github:index/getUser:getUser").inputs).toEqual({ username: "alice" });
    const dockerConfig = calls.find((c) => c.provider === "docker" && c.method === "configure");
    expect(JSON.stringify(dockerConfig.inputs)).toContain("[secret]");
    expect(text).not.toContain(FLY_API_TOKEN);
    expect(text).not.toContain(GITHUB_TOKEN);
  });

  it("fails check naming an unknown property and a primitive type mismatch", async () => {
    const run = await pulumi(["preview"], { STANDIN_CASE: "unknown-property" });
    expect(run.code).not.toBe(0);
    expect(run.out).toContain("bogusSetting: unknown property");
    expect(run.out).toMatch(/waitTimer: expected a number, got string "soon"/);
  });

  it("fails check naming a missing required property", async () => {
    const run = await pulumi(["preview"], { STANDIN_CASE: "missing-property" });
    expect(run.code).not.toBe(0);
    expect(run.out).toContain("Missing required property 'region'");
  });

  it("fails getUser of an unknown login as the real provider does (the API's 404)", async () => {
    const run = await pulumi(["preview"], { STANDIN_CASE: "unknown-user" });
    expect(run.code).not.toBe(0);
    expect(run.out).toContain(`GET ${github.url}/users/nobody-here: 404 Not Found []`);
  });

  it("fails getRegistryImage of a digest the registry does not hold", async () => {
    const run = await pulumi(["preview"], { STANDIN_CASE: "missing-digest" });
    expect(run.code).not.toBe(0);
    expect(run.out).toContain("Got error when attempting to fetch image version from registry: Got bad response from registry: 404");
  });
});
