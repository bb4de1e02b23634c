/**
 * GithubEnvironment under Pulumi's mock runtime: which GitHub resources each kind of stack declares, their inputs,
 * and that neither the GitHub token nor a CI secret's value reaches any input (state).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { idle, promiseOf, settle, useRecorder } from "./harness/resource-recorder";
import { runTsAsync } from "./harness/engine";

const GITHUB_TOKEN = "ghp_sentinelComponentToken000000000";
const FLY_TOKEN = "fm2_sentinel-component-fly-token";
const MPG_TOKEN = "fm2_sentinel-component-mpg-token";
const ENV = "github:index/repositoryEnvironment:RepositoryEnvironment";
const RULESET = "github:index/repositoryRuleset:RepositoryRuleset";
const LABEL = "github:index/issueLabel:IssueLabel";
const SECRET = "pulumi-nodejs:dynamic/github:EnvironmentSecret";
const USER_IDS: Record<string, string> = { alice: "1001", bob: "1002" };

const recorder = useRecorder({
  stack: "production",
  env: { GITHUB_TOKEN, FLY_API_TOKEN: FLY_TOKEN, FLY_MPG_TOKEN: MPG_TOKEN },
  invoke: (token, inputs) => (token === "github:index/getUser:getUser" && USER_IDS[inputs.username] ? { id: USER_IDS[inputs.username], login: inputs.username } : undefined),
});
let gh: typeof import("../components/github-environment");
beforeAll(async () => {
  gh = await import("../components/github-environment");
});

const base = { owner: "renewa", repository: "renewa-one" } as const;

describe("validateGithubEnvironmentArgs", () => {
  it("accepts each stack's shape", () => {
    expect(gh.validateGithubEnvironmentArgs({ ...base, environment: "production", reviewers: ["user:alice", "team:renewa/release-managers"] })).toEqual([]);
    expect(gh.validateGithubEnvironmentArgs({ ...base, environment: "staging", reviewers: ["team:renewa/qa"] })).toEqual([]);
    expect(gh.validateGithubEnvironmentArgs({ ...base, environment: "development", manageRepository: true })).toEqual([]);
    expect(gh.validateGithubEnvironmentArgs({ ...base, environment: "staging", ciSecrets: ["FLY_API_TOKEN"] })).toEqual([]);
  });

  it("requires 1 to 6 distinct reviewers on production only", () => {
    expect(gh.validateGithubEnvironmentArgs({ ...base, environment: "production" })).toEqual([
      "`reviewers` must list 1 to 6 users or teams on production (got 0); set renewa:productionReviewers.",
    ]);
    const seven = ["a", "b", "c", "d", "e", "f", "g"].map((l) => `user:${l}`);
    expect(gh.validateGithubEnvironmentArgs({ ...base, environment: "production", reviewers: seven })[0]).toMatch(/got 7/);
    expect(gh.validateGithubEnvironmentArgs({ ...base, environment: "production", reviewers: ["user:alice", "user:alice"] })).toEqual(["`reviewers` lists a reviewer twice."]);
    expect(gh.validateGithubEnvironmentArgs({ ...base, environment: "development", reviewers: ["user:alice"] })[0]).toMatch(/apply only to production and staging/);
  });

  it("says which kind each reviewer is: a bare name, or a team of another organization, is refused", () => {
    expect(gh.validateGithubEnvironmentArgs({ ...base, environment: "production", reviewers: ["renewa-release-managers"] })).toEqual([
      '`reviewers`: "renewa-release-managers" is neither "user:<login>" nor "team:<org>/<team-slug>".',
    ]);
    expect(gh.validateGithubEnvironmentArgs({ ...base, environment: "production", reviewers: ["team:other/ops"] })[0]).toMatch(/belongs to "other"; required reviewers must be teams of the repository owner "renewa"/);
    expect(gh.parseReviewer("team:renewa/release-managers")).toEqual({ kind: "team", org: "renewa", slug: "release-managers" });
    expect(gh.parseReviewer("user:alice")).toEqual({ kind: "user", login: "alice" });
  });

  it("refuses app secrets, and pr-preview outside the repository-managing stack", () => {
    const [problem] = gh.validateGithubEnvironmentArgs({ ...base, environment: "staging", ciSecrets: ["FLY_API_TOKEN", "DATABASE_URL"] });
    expect(problem).toMatch(/^`ciSecrets`: `DATABASE_URL` may not be stored as a GitHub secret.*Infisical/);
    expect(gh.validateGithubEnvironmentArgs({ ...base, environment: "pr-preview" })[0]).toMatch(/repository-wide/);
  });
});

describe("GithubEnvironment", () => {
  it("production: reviewers by numeric id, no self-review, protected branches only, CI secrets, nothing repository-wide", async () => {
    const env = new gh.GithubEnvironment("prod-github", { ...base, environment: "production", reviewers: ["user:alice", "user:bob"] });
    await settle(env);

    const [environment, ...others] = recorder.byType(ENV);
    expect(others).toEqual([]);
    expect(environment.name).toBe("prod-github-environment");
    expect(environment.inputs).toEqual({
      repository: "renewa-one",
      environment: "production",
      reviewers: [{ users: [1001, 1002], teams: [] }],
      preventSelfReview: true,
      deploymentBranchPolicy: { protectedBranches: true, customBranchPolicies: false },
    });
    expect(recorder.invocations.map((i) => i.inputs.username)).toEqual(["alice", "bob"]);
    expect(recorder.invocations.every((i) => i.provider?.includes("pulumi:providers:github::prod-github-provider"))).toBe(true);
    expect(environment.provider).toContain("pulumi:providers:github::prod-github-provider");

    const secrets = recorder.byType(SECRET);
    expect(secrets.map((s) => [s.name, s.inputs.environment, s.inputs.secretName])).toEqual([
      ["prod-github-fly-api-token", "production", "FLY_API_TOKEN"],
      ["prod-github-fly-mpg-token", "production", "FLY_MPG_TOKEN"],
    ]);
    expect(secrets.every((s) => s.dependencies.some((d) => d.endsWith("::prod-github-environment")))).toBe(true);
    expect(recorder.byType(RULESET)).toEqual([]);
    expect(recorder.byType(LABEL)).toEqual([]);

    expect(await promiseOf(env.environment)).toBe("production");
    expect(await promiseOf(env.url)).toBe("https://github.com/renewa/renewa-one/deployments/production");
  });

  it("development with manageRepository: its environment, pr-preview, the ci-gate ruleset and the label", async () => {
    await settle(new gh.GithubEnvironment("dev-github", { ...base, environment: "development", manageRepository: true }));

    const envs = recorder.byType(ENV);
    expect(envs.map((e) => [e.name, e.inputs])).toEqual([
      ["dev-github-environment", { repository: "renewa-one", environment: "development" }],
      ["dev-github-pr-preview-environment", { repository: "renewa-one", environment: "pr-preview" }],
    ]);
    const rulesets = recorder.byType(RULESET);
    expect(rulesets).toHaveLength(1);
    expect(rulesets[0].inputs).toMatchObject({
      repository: "renewa-one",
      target: "branch",
      enforcement: "active",
      conditions: { refName: { includes: ["~DEFAULT_BRANCH"], excludes: [] } },
      rules: { requiredStatusChecks: { requiredChecks: [{ context: "ci-gate" }] } },
    });
    expect(rulesets[0].inputs.rules.requiredStatusChecks.requiredChecks).toHaveLength(1);
    expect(recorder.byType(LABEL).map((l) => l.inputs)).toEqual([expect.objectContaining({ repository: "renewa-one", name: "deployment-record" })]);
    expect(recorder.byType(SECRET).map((s) => `${s.inputs.environment}/${s.inputs.secretName}`)).toEqual([
      "development/FLY_API_TOKEN",
      "development/FLY_MPG_TOKEN",
      "pr-preview/FLY_API_TOKEN",
      "pr-preview/FLY_MPG_TOKEN",
    ]);
  });

  it("staging: only its own environment and the secrets asked for", async () => {
    await settle(new gh.GithubEnvironment("stg-github", { ...base, environment: "staging", ciSecrets: ["FLY_API_TOKEN"] }));
    expect(recorder.byType(ENV).map((e) => e.inputs)).toEqual([{ repository: "renewa-one", environment: "staging" }]);
    expect(recorder.byType(SECRET).map((s) => s.inputs.secretName)).toEqual(["FLY_API_TOKEN"]);
    expect(recorder.byType(RULESET)).toEqual([]);
    expect(recorder.byType(LABEL)).toEqual([]);
  });

  it("keeps every child under the component with a prefixed name", async () => {
    await settle(new gh.GithubEnvironment("dev2-github", { ...base, environment: "development", manageRepository: true }));
    const children = recorder.registrations.filter((r) => r.type !== "renewa:github:Environment");
    expect(children.map((c) => c.name).sort()).toEqual([
      "dev2-github-deployment-record-label",
      "dev2-github-environment",
      "dev2-github-fly-api-token",
      "dev2-github-fly-mpg-token",
      "dev2-github-pr-preview-environment",
      "dev2-github-pr-preview-fly-api-token",
      "dev2-github-pr-preview-fly-mpg-token",
      "dev2-github-provider",
      "dev2-github-ruleset",
    ]);
    for (const child of children) {
      expect(child.name.startsWith("dev2-github-")).toBe(true);
      expect(child.parent).toContain("renewa:github:Environment::dev2-github");
    }
  });

  it("puts neither the GitHub token nor any CI secret value into inputs or serialized providers", async () => {
    await settle(new gh.GithubEnvironment("leak-github", { ...base, environment: "development", manageRepository: true }));
    const [provider] = recorder.byType("pulumi:providers:github");
    expect(provider.inputs.owner).toBe("renewa");
    expect(provider.inputs).not.toHaveProperty("token");
    const everything = JSON.stringify(recorder.registrations);
    for (const secret of [GITHUB_TOKEN, FLY_TOKEN, MPG_TOKEN]) expect(everything).not.toContain(secret);
    expect(recorder.byType(SECRET)[0].inputs.__provider).toEqual(expect.any(String));
  });

  it("refuses an app secret before declaring anything", async () => {
    expect(() => new gh.GithubEnvironment("bad-github", { ...base, environment: "staging", ciSecrets: ["DATABASE_URL"] })).toThrow(
      /GithubEnvironment "bad-github":\n {2}- `ciSecrets`: `DATABASE_URL` may not be stored as a GitHub secret/,
    );
    await idle();
    expect(recorder.registrations).toEqual([]);
    expect(recorder.invocations).toEqual([]);
  });
});

describe("GithubEnvironment reviewers, resolved the way each kind needs", () => {
  const run = async (reviewers: string[]) => {
    const { stdout, stderr } = await runTsAsync("test/fixtures/github-reviewers-program.ts", [], { input: JSON.stringify({ reviewers }) });
    const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
    if (!line) throw new Error(`reviewers program printed no result:\n${stdout}\n${stderr}`);
    return JSON.parse(line.slice("RESULT ".length));
  };

  it("a team is looked up as a team (GET /orgs/{org}/teams/{slug}), a user as a user", async () => {
    const out = await run(["user:alice", "team:renewa/release-managers"]);
    expect(out.error).toBeUndefined();
    expect(out.reviewers).toEqual([{ users: [1001], teams: [77] }]);
    expect(out.lookups).toEqual(["user alice", "team release-managers"]);
  });

  it("an unknown reviewer fails preview with a message naming it", async () => {
    const out = await run(["user:alice", "team:renewa/release-managerz"]);
    expect(out.error).toMatch(/GithubEnvironment "prod-github": reviewer team "renewa\/release-managerz" \(GET \/orgs\/renewa\/teams\/release-managerz\) was not found: .*404.*renewa:productionReviewers/);
    const user = await run(["user:nobody-here"]);
    expect(user.error).toMatch(/reviewer user "nobody-here" \(GET \/users\/nobody-here\) was not found/);
  });
});
