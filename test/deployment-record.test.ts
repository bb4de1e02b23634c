/**
 * DeploymentRecord through the serialized-provider harness: the provider text is what Pulumi stores in state, and it
 * runs in a plain Node process with only the environment given here, against the GitHub issues fake.
 */
import { UNKNOWN } from "../src/dynamic-support";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseRecord } from "../src/deployment-record-format";
import { GithubIssuesFake, createGithubIssuesFake } from "./fakes/github-issues";
import { ProviderHost, SerializedResource, closeAll, serializeResource, startProviderHost } from "./harness/engine";

const TOKEN = "ghs_record-test-token-0123456789";
const A = `sha256:${"a".repeat(64)}`;
const B = `sha256:${"b".repeat(64)}`;

const args = {
  owner: "renewa",
  repository: "renewa-one",
  stack: "staging",
  environment: "staging",
  appName: "renewa-app-staging",
  digest: A,
  imageRef: `registry.fly.io/renewa-app-development@${A}`,
  previousDigest: B,
  backupId: "bkp_123",
  releaseVersion: 7,
  commit: "0123456789abcdef0123456789abcdef01234567",
  promotionOverride: false,
};

let github: GithubIssuesFake;
let serialized: SerializedResource;
let host: ProviderHost;

/** The engine's sequence for a new resource: check, then create with the checked inputs. */
async function up(inputs: Record<string, unknown>) {
  const checked = await host.call(serialized.provider, "check", {}, inputs);
  expect(checked.failures ?? []).toEqual([]);
  return host.call(serialized.provider, "create", checked.inputs);
}

beforeAll(async () => {
  github = await createGithubIssuesFake({ token: TOKEN });
  serialized = serializeResource({ module: "src/providers/deployment-record.ts", exportName: "DeploymentRecord", name: "record", args });
  host = await startProviderHost({ GITHUB_TOKEN: TOKEN, GITHUB_API_URL: github.fake.url });
});

afterAll(() => closeAll(host, github));

/** The fake's counters run for the whole file: `nth` for the next k calls of a route, and the log since a point. */
const nthNext = (route: string, ...k: number[]) => k.map((i) => github.fake.calls(route).length + i);
const since = (mark: number, route?: string) => github.fake.log.slice(mark).filter((l) => !route || l.route === route);

afterEach(() => {
  github.fake.clearFaults();
  github.issues.length = 0;
});

describe("DeploymentRecord provider", () => {
  it("serializes without credentials, and inputs carry the release", () => {
    expect(serialized.provider).not.toContain(TOKEN);
    expect(serialized.provider).not.toMatch(/GITHUB_TOKEN\s*=\s*["']/);
    expect(serialized.inputs).toMatchObject({ appName: "renewa-app-staging", releaseVersion: 7, digest: A });
  });

  it("check reports bad inputs at preview", async () => {
    const res = await host.call(serialized.provider, "check", {}, { ...args, digest: "latest", releaseVersion: 0, commit: "" });
    expect(res.failures.map((f: { property: string }) => f.property).sort()).toEqual(["commit", "digest", "releaseVersion"]);
  });

  it("check lets values unknown during preview through", async () => {
    const unknown = UNKNOWN;
    const res = await host.call(serialized.provider, "check", {}, { ...args, digest: unknown, releaseVersion: unknown, previousDigest: unknown });
    expect(res.failures ?? []).toEqual([]);
  });

  it("creates one labelled issue whose block the rollback command can read", async () => {
    const res = await up(args);
    expect(res.id).toBe("renewa-app-staging@v7");
    expect(res.outs).toMatchObject({ recorded: true, issueNumber: 1, key: "renewa-app-staging@v7" });
    expect(github.issues).toHaveLength(1);
    expect(github.issues[0].labels).toEqual(["deployment-record", "env:staging"]);
    expect(github.labels.get("deployment-record")?.color).toBe("5319e7");
    expect(parseRecord(github.issues[0].body)).toMatchObject({
      key: "renewa-app-staging@v7",
      environment: "staging",
      digest: A,
      previousDigest: B,
      backupId: "bkp_123",
      releaseVersion: 7,
      commit: args.commit,
      override: false,
    });
    // Every call authenticated with the token from the environment.
    expect(github.fake.log.every((l) => l.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it("a re-run of the same release writes no second issue", async () => {
    const first = await up(args);
    // Same release after lost state (the `up` was interrupted): the key is found, nothing is created.
    const again = await up({ ...args, commit: "fedcba9876543210fedcba9876543210fedcba98" });
    expect(again.outs.issueNumber).toBe(first.outs.issueNumber);
    expect(github.issues).toHaveLength(1);
    // Same release with state: diff sees nothing to do, even from another commit.
    const diff = await host.call(serialized.provider, "diff", first.id, first.outs, { ...args, commit: "fedcba98" });
    expect(diff.changes).toBe(false);
  });

  it("a new release is a new record (replace), and deleting the old one keeps its issue", async () => {
    const first = await up(args);
    const diff = await host.call(serialized.provider, "diff", first.id, first.outs, { ...args, releaseVersion: 8 });
    expect(diff).toMatchObject({ changes: true, replaces: ["releaseVersion"] });
    await up({ ...args, releaseVersion: 8, previousDigest: A, digest: B });
    const mark = github.fake.log.length;
    await host.call(serialized.provider, "delete", first.id, first.outs);
    await host.call(serialized.provider, "delete", first.id, first.outs);
    expect(since(mark)).toEqual([]);
    expect(github.issues.map((i) => parseRecord(i.body)?.key)).toEqual(["renewa-app-staging@v7", "renewa-app-staging@v8"]);
  });

  it("retries 503s, including a create GitHub failed, without duplicating", async () => {
    const mark = github.fake.log.length;
    github.fake.inject({ route: "GET /repos/renewa/renewa-one/issues", nth: nthNext("GET /repos/renewa/renewa-one/issues", 1, 2), status: 503 });
    github.fake.inject({ route: "POST /repos/renewa/renewa-one/issues", nth: nthNext("POST /repos/renewa/renewa-one/issues", 1), status: 503 });
    const res = await up(args);
    expect(res.outs.recorded).toBe(true);
    expect(github.issues).toHaveLength(1);
    expect(since(mark, "GET /repos/renewa/renewa-one/issues").map((c) => c.status)).toEqual([503, 503, 200, 200]);
    expect(since(mark, "POST /repos/renewa/renewa-one/issues").map((c) => c.status)).toEqual([503, 201]);
  });

  it("with GitHub down it warns instead of failing, and the next up writes the record", async () => {
    const before = host.output().length;
    github.fake.inject({ route: "GET /repos/renewa/renewa-one/labels/:name", status: 503 });
    const res = await up(args);
    expect(res.outs).toMatchObject({ recorded: false, key: "renewa-app-staging@v7" });
    expect(github.issues).toHaveLength(0);
    const printed = host.output().slice(before);
    expect(printed).toMatch(/warning: .*Deployment record renewa-app-staging@v7 was not written to renewa\/renewa-one .*503.*deploy itself succeeded.*next `pulumi up` on staging retries/s);
    expect(printed).not.toContain(TOKEN);

    github.fake.clearFaults();
    const diff = await host.call(serialized.provider, "diff", res.id, res.outs, args);
    expect(diff).toMatchObject({ changes: true, replaces: [] });
    const updated = await host.call(serialized.provider, "update", res.id, res.outs, args);
    expect(updated.outs).toMatchObject({ recorded: true, issueNumber: 1, recordedAt: res.outs.recordedAt });
    expect(github.issues).toHaveLength(1);
  });

  it("refresh keeps an existing record as stored, and marks a deleted one unwritten so the next up writes it again", async () => {
    const first = await up(args);
    expect(await host.call(serialized.provider, "read", first.id, first.outs)).toEqual({ id: first.id, props: first.outs });
    github.issues.splice(0, github.issues.length);
    const refreshed = await host.call(serialized.provider, "read", first.id, first.outs);
    expect(refreshed.props).toMatchObject({ recorded: false, key: first.outs.key });
    expect(refreshed.props.issueNumber).toBeUndefined();
    const diff = await host.call(serialized.provider, "diff", first.id, refreshed.props, args);
    expect(diff).toMatchObject({ changes: true, replaces: [] });
    const rewritten = await host.call(serialized.provider, "update", first.id, refreshed.props, args);
    expect(rewritten.outs).toMatchObject({ recorded: true, key: first.outs.key });
    expect(github.issues).toHaveLength(1);
  });

  it("without a release there is nothing to record", async () => {
    const { digest: _d, releaseVersion: _r, ...unreleased } = args;
    const mark = github.fake.log.length;
    const res = await up(unreleased);
    expect(res.outs).toMatchObject({ recorded: false });
    expect(res.outs.key).toBeUndefined();
    expect(since(mark)).toEqual([]);
    expect(github.issues).toHaveLength(0);
    const diff = await host.call(serialized.provider, "diff", res.id, res.outs, unreleased);
    expect(diff.changes).toBe(false);
  });
  it("records which migrations the release applied (newer than the previous record's head) and a contract-rollback override", async () => {
    const file = (name: string, phase: string, skipOn: string[] = []) => ({ name, sha256: "0".repeat(64), phase, skipOn });
    const manifest = (files: unknown[]) => ({ hash: `sha256:${"1".repeat(64)}`, files });
    await up({ ...args, releaseVersion: 5, migrations: manifest([file("001_a.sql", "expand"), file("002_b.sql", "migrate")]) });
    const second = manifest([file("001_a.sql", "expand"), file("002_b.sql", "migrate"), file("003_c.sql", "contract"), file("004_d.sql", "expand", ["staging"])]);
    await up({ ...args, releaseVersion: 6, migrations: second, contractRollback: ["003_x.sql"] });
    const [v5, v6] = github.issues.map((i) => parseRecord(i.body)!);
    expect(v5.migrations).toEqual({ hash: `sha256:${"1".repeat(64)}`, head: "002_b.sql", applied: [{ name: "001_a.sql", phase: "expand" }, { name: "002_b.sql", phase: "migrate" }] });
    // 004 is skipped on staging (renewa:atlas:skip-on), so the head stays at 003.
    expect(v6.migrations).toEqual({ hash: `sha256:${"1".repeat(64)}`, head: "003_c.sql", applied: [{ name: "003_c.sql", phase: "contract" }] });
    expect(v6.contractRollback).toEqual(["003_x.sql"]);
    expect(github.issues[1].title).toContain("[CONTRACT ROLLBACK OVERRIDE]");
    expect(github.issues[1].body).toContain("| Migrations applied | `003_c.sql` (contract) |");
  });
});
