/**
 * The API edge cases found against the published definitions (GitHub's OpenAPI description, Infisical's route
 * schemas), each driven through the real client against the fakes: what the server answers, and what the client
 * must make of it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createIssue, listIssuesByLabel } from "../src/clients/github-issues";
import { GITHUB_API_VERSION } from "../src/clients/github";
import { createInfisicalClient } from "../src/clients/infisical";
import { GithubIssuesFake, createGithubIssuesFake } from "./fakes/github-issues";
import { InfisicalState, createInfisicalFake } from "./fakes/infisical";
import { HttpFake } from "./fakes/http-fake";
import { ProviderHost, SerializedResource, closeAll, serializeResource, startProviderHost } from "./harness/engine";

const GH_TOKEN = "ghs_edge-case-token-0123456789";
const INF_TOKEN = "inf-edge-case-token";
const PROJECT = "2f1c6a3e-5b7d-4e8f-9a0b-1c2d3e4f5a6b";
const repo = { owner: "renewa", repository: "renewa-one" };
const loc = { projectId: PROJECT, environment: "prod", secretPath: "/" };
const A = `sha256:${"a".repeat(64)}`;

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe("GitHub REST", () => {
  let github: GithubIssuesFake;
  beforeAll(async () => {
    github = await createGithubIssuesFake({ token: GH_TOKEN });
  });
  afterAll(() => github.stop());
  const useFake = () => Object.assign(process.env, { GITHUB_TOKEN: GH_TOKEN, GITHUB_API_URL: github.fake.url });

  it("sends X-GitHub-Api-Version: 2022-11-28 (and GitHub's media type) on every request", async () => {
    useFake();
    const mark = github.fake.log.length;
    await createIssue(repo, { title: "t", body: "b", labels: ["x"] });
    await listIssuesByLabel(repo, ["x"]);
    const calls = github.fake.log.slice(mark);
    expect(calls.length).toBe(2);
    for (const c of calls) {
      expect(c.headers["x-github-api-version"]).toBe(GITHUB_API_VERSION);
      expect(c.headers.accept).toBe("application/vnd.github+json");
    }
    expect(GITHUB_API_VERSION).toBe("2022-11-28");
  });

  it("lists records past the newest 300 issues: every page until GitHub has no more", async () => {
    useFake();
    github.issues.length = 0;
    for (let i = 0; i < 345; i++) github.seed({ title: `r${i}`, body: "", labels: ["deployment-record", "env:production"] });
    const all = await listIssuesByLabel(repo, ["deployment-record", "env:production"]);
    expect(all).toHaveLength(345);
    // The oldest record, which the old three-page cut-off never reached.
    expect(all[all.length - 1].title).toBe("r0");
  });
});

describe("GitHub drops labels on a new issue without push access", () => {
  let github: GithubIssuesFake;
  let host: ProviderHost;
  let serialized: SerializedResource;
  const args = {
    owner: "renewa", repository: "renewa-one", stack: "staging", environment: "staging", appName: "renewa-app-staging",
    digest: A, previousDigest: A, backupId: "bkp", releaseVersion: 3, commit: "0123456789abcdef0123456789abcdef01234567", promotionOverride: false,
  };
  beforeAll(async () => {
    github = await createGithubIssuesFake({ token: GH_TOKEN, withoutPush: true });
    serialized = serializeResource({ module: "src/providers/deployment-record.ts", exportName: "DeploymentRecord", name: "record", args });
    host = await startProviderHost({ GITHUB_TOKEN: GH_TOKEN, GITHUB_API_URL: github.fake.url, RENEWA_TIME_SCALE: "0.001" });
  });
  afterAll(() => closeAll(host, github));

  it("verifies the labels on the created record, says so, and labels that issue on the retry instead of writing another", async () => {
    const checked = await host.call(serialized.provider, "check", {}, args);
    const first = await host.call(serialized.provider, "create", checked.inputs);
    expect(first.outs).toMatchObject({ recorded: false, issueNumber: 1 });
    expect(github.issues).toHaveLength(1);
    expect(host.output()).toMatch(/created as issue #1 .* dropped its label\(s\) deployment-record, env:staging/);

    // Still without push: the retry neither succeeds nor creates a duplicate.
    const diff = await host.call(serialized.provider, "diff", first.id, first.outs, checked.inputs);
    expect(diff.changes).toBe(true);
    const again = await host.call(serialized.provider, "update", first.id, first.outs, checked.inputs);
    expect(again.outs).toMatchObject({ recorded: false, issueNumber: 1 });
    expect(github.issues).toHaveLength(1);

    // Access fixed: the next update labels issue #1, once.
    github.access.withoutPush = false;
    const fixed = await host.call(serialized.provider, "update", first.id, again.outs, checked.inputs);
    expect(fixed.outs).toMatchObject({ recorded: true, issueNumber: 1 });
    expect(github.issues).toHaveLength(1);
    expect(github.issues[0].labels).toEqual(["deployment-record", "env:staging"]);
  });
});

describe("Infisical", () => {
  let fake: HttpFake;
  let state: InfisicalState;
  let approvals: HttpFake;
  let legacy: HttpFake;
  beforeAll(async () => {
    ({ fake, state } = await createInfisicalFake({ tokens: [INF_TOKEN] }));
    ({ fake: approvals } = await createInfisicalFake({ tokens: [INF_TOKEN], approvalPolicy: true }));
    ({ fake: legacy } = await createInfisicalFake({ tokens: [INF_TOKEN], legacySyncOptions: true }));
  });
  afterAll(async () => {
    await fake.stop();
    await approvals.stop();
    await legacy.stop();
  });
  const client = (url: string) => {
    Object.assign(process.env, { INFISICAL_TOKEN: INF_TOKEN, INFISICAL_API_URL: url, RENEWA_TIME_SCALE: "0.001" });
    return createInfisicalClient();
  };

  it("a batch write answered with {approval} under a secret-approval policy is a failure that says so, never written", async () => {
    await expect(client(approvals.url).upsertSecrets(loc, { DATABASE_URL: "postgres://x" })).rejects.toThrow(
      /did not write 1 secret\(s\) in prod\/ .*secret-approval policy turned the write into change request [0-9a-f-]{36}/,
    );
  });

  it("checks a Fly connection token against Infisical's 1000-character cap before the call", async () => {
    const c = client(fake.url);
    const long = `FlyV1 fm2_${"x".repeat(1000)}`;
    const mark = fake.log.length;
    await expect(c.createFlyConnection("renewa-app-production", "d", long)).rejects.toThrow(/is 1010 characters; Infisical's Fly.io app connection accepts at most 1000/);
    await expect(c.updateFlyConnection("some-id", { accessToken: long })).rejects.toThrow(/at most 1000/);
    expect(fake.log.slice(mark)).toEqual([]);
  });

  it("lists v3 secrets with viewSecretValue=false (it defaults to returning values)", async () => {
    const { fake: v3, state: v3State } = await createInfisicalFake({ tokens: [INF_TOKEN], v3Only: true });
    try {
      v3State.folder(PROJECT, "prod").set("JWT_SECRET", "sentinel-jwt-value");
      const keys = await client(v3.url).listSecretKeys(loc);
      expect(keys).toEqual(["JWT_SECRET"]);
      const lists = v3.log.filter((l) => l.route === "GET /api/v3/secrets/raw");
      expect(lists.length).toBeGreaterThan(0);
      for (const l of lists) expect(l.query.get("viewSecretValue")).toBe("false");
    } finally {
      await v3.stop();
    }
  });

  it("a server that strips autoRedeploy/appName from a sync is detected from the response and fails with a message", async () => {
    const c = client(legacy.url);
    const connection = await c.createFlyConnection("renewa-app-production", "d", "FlyV1 fm2_token");
    const config = { name: "renewa-app-production", projectId: PROJECT, connectionId: connection.id, environment: "prod", secretPath: "/", appId: "renewa-app-production", appName: "renewa-app-production" };
    await expect(c.createFlySync(config)).rejects.toThrow(/dropped syncOptions\.autoRedeploy and destinationConfig\.appName: the server predates them/);
    // A current server keeps them, and the same call succeeds.
    const ok = client(fake.url);
    const conn = await ok.createFlyConnection("renewa-app-production", "d", "FlyV1 fm2_token");
    const sync = await ok.createFlySync({ ...config, connectionId: conn.id });
    expect(sync.syncOptions?.autoRedeploy).toBe(true);
    expect(state.syncs.size).toBe(1);
  });
});
