import { describe, expect, it } from "vitest";
import { CONFIG_KEYS, ConfigError, parseConfig } from "../src/config";

const DIGEST = `sha256:${"ab".repeat(32)}`;
const base = { "renewa:mpgClusterId": "cluster-dev-1" };

function problems(stack: string, raw: Record<string, string>): string[] {
  try {
    parseConfig(stack, raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfig: good config", () => {
  it("derives names, region and promotion source from the stack", () => {
    const c = parseConfig("staging", { "renewa:mpgClusterId": "cluster-stg-1" });
    expect(c).toMatchObject({
      stack: "staging",
      kind: "staging",
      appName: "renewa-app-staging",
      region: "fra",
      promoteFrom: "development",
      protect: false,
      githubEnvironment: "staging",
      mpgClusterId: "cluster-stg-1",
      machineCount: 2,
    });
    expect(c.imageDigest).toBeUndefined();
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("parses structured values the way Pulumi's runtime hands them over (JSON strings)", () => {
    const c = parseConfig("production", {
      "renewa:mpgClusterId": "cluster-prd-1",
      "renewa:productionReviewers": '["user:alice","team:renewa/release-managers"]',
      "renewa:machineCount": "4",
      "renewa:machine": '{"cpuKind":"performance","cpus":4,"memoryMb":8192}',
      "renewa:imageDigest": DIGEST,
    });
    expect(c.machineCount).toBe(4);
    expect(c.machine).toEqual({ cpuKind: "performance", cpus: 4, memoryMb: 8192 });
    expect(c.productionReviewers).toEqual(["user:alice", "team:renewa/release-managers"]);
    expect(c.protect).toBe(true);
    expect(c.promoteFrom).toBe("staging");
    expect(c.imageDigest).toBe(DIGEST);
  });

  it("derives a PR stack entirely from its name, with preview sizing and no stack file", () => {
    const c = parseConfig("pr-42", {});
    expect(c).toMatchObject({
      kind: "pr",
      prNumber: 42,
      appName: "renewa-app-pr-42",
      githubEnvironment: "pr-preview",
      region: "fra",
      machineCount: 1,
      machine: { cpuKind: "shared", cpus: 1, memoryMb: 512 },
      strategy: "immediate",
      tigrisBucket: "renewa-pr-42",
      protect: false,
    });
    expect(c.promoteFrom).toBeUndefined();
    expect(c.mpgClusterId).toBeUndefined();
  });

  it("ignores other namespaces (provider config such as github:owner)", () => {
    expect(() => parseConfig("development", { ...base, "github:owner": "renewa", "aws:region": "x" })).not.toThrow();
  });
});

describe("parseConfig: bad config fails with one line per problem naming stack, key, value and what is allowed", () => {
  it("an unknown stack name", () => {
    expect(() => parseConfig("prod", {})).toThrow(
      'Invalid configuration for stack "prod" (Pulumi.prod.yaml):\n  - stack "prod": not a stack of this program; allowed: development, staging, production, or pr-<N> with N a positive integer (e.g. "pr-42")',
    );
  });

  it.each(["pr-0", "pr-abc", "pr--3", "pr-07", "pr-1.5"])("a PR number that is not a positive integer: %s", (stack) => {
    const [line] = problems(stack, {});
    expect(line).toContain(`stack "${stack}"`);
    expect(line).toContain("is not a PR number; a PR stack is pr-<N> with N a positive integer");
  });

  it.each(["v1.2.3", "latest", "sha256:abc123", "ab".repeat(32), `sha256:${"AB".repeat(32)}`])(
    "a tag or short hash where a digest belongs: %s",
    (value) => {
      const [line] = problems("development", { ...base, "renewa:imageDigest": value });
      expect(line).toBe(
        `renewa:imageDigest = ${JSON.stringify(value)}: expected sha256: followed by 64 lowercase hex digits (a tag or short hash is not a digest)`,
      );
    },
  );

  it("a region other than fra", () => {
    expect(problems("staging", { "renewa:mpgClusterId": "c-staging", "renewa:region": "ams" })).toEqual([
      'renewa:region = "ams": expected "fra": every Fly resource of this platform runs in Frankfurt',
    ]);
  });

  it.each(["Cluster_1", "abc", "has space", "-leading"])("a malformed cluster id: %s", (value) => {
    const [line] = problems("production", { "renewa:mpgClusterId": value, "renewa:productionReviewers": '["a"]' });
    expect(line).toMatch(new RegExp(`^renewa:mpgClusterId = ${JSON.stringify(value).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: expected a Fly MPG cluster id`));
  });

  it("a missing required key, with the command that sets it", () => {
    const lines = problems("production", {});
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^renewa:mpgClusterId: missing; required on production\./);
    expect(lines[0]).toContain("`pulumi config set renewa:mpgClusterId <value> -s production`");
    expect(lines[1]).toMatch(/^renewa:productionReviewers: missing; required on production\./);
  });

  it("an unknown key, with the likely intended one", () => {
    const [line] = problems("development", { ...base, "renewa:imageDigets": DIGEST });
    expect(line).toMatch(/^renewa:imageDigets = "sha256:(ab){32}": unknown key \(did you mean renewa:imageDigest\?\); allowed keys: mpgClusterId, imageDigest,/);
  });

  it("an unknown key with no near match lists the allowed keys only", () => {
    const [line] = problems("development", { ...base, "renewa:colour": "blue" });
    expect(line).toBe(`renewa:colour = "blue": unknown key; allowed keys: ${Object.keys(CONFIG_KEYS).join(", ")}`);
  });

  it("a credential in config is refused with the variable to export instead", () => {
    const lines = problems("development", { ...base, "renewa:flyApiToken": "fm2_abc", "renewa:githubToken": "ghp_x" });
    expect(lines[0]).toBe("renewa:flyApiToken: credentials are never stack config; remove the key and export FLY_API_TOKEN in the environment that runs Pulumi");
    expect(lines[1]).toContain("export GITHUB_TOKEN");
    for (const l of lines) expect(l).not.toMatch(/fm2_abc|ghp_x/);
  });

  it("keys a PR stack derives itself are refused there", () => {
    expect(problems("pr-7", { "renewa:mpgClusterId": "cluster-x1" })).toEqual([
      'renewa:mpgClusterId = "cluster-x1": not allowed on PR stacks (a PR stack\'s database lives in development\'s cluster, read from the development stack)',
    ]);
  });

  it("structured values are checked field by field", () => {
    const lines = problems("development", {
      ...base,
      "renewa:machine": '{"cpuKind":"shared","cpus":3,"memoryMb":1000}',
      "renewa:machineCount": "0",
      "renewa:strategy": "blue-green",
    });
    expect(lines).toEqual([
      'renewa:machine = "{\\"cpuKind\\":\\"shared\\",\\"cpus\\":3,\\"memoryMb\\":1000}": expected cpus: cpus must be 1, 2, 4, 8 or 16; memoryMb: memoryMb must be a multiple of 256',
      expect.stringMatching(/^renewa:machineCount = "0": expected .*>=1/),
      expect.stringMatching(/^renewa:strategy = "blue-green": expected .*"rolling".*"canary".*"bluegreen".*"immediate"/),
    ]);
  });

  it("collects every problem before failing, in the order given", () => {
    const lines = problems("staging", { "renewa:imageDigest": "latest", "renewa:region": "ams" });
    expect(lines.map((l) => l.split(/[ :]/)[0])).toEqual(["renewa", "renewa", "renewa"]);
    expect(lines[0]).toContain("renewa:imageDigest");
    expect(lines[1]).toContain("renewa:region");
    expect(lines[2]).toContain("renewa:mpgClusterId: missing");
  });
});

describe("parseConfig: production-only keys", () => {
  it.each(["development", "staging"])("refuses productionReviewers and allowUnverifiedPromotion on %s", (stack) => {
    const lines = problems(stack, { "renewa:mpgClusterId": "cluster-x1", "renewa:productionReviewers": '["user:alice"]', "renewa:allowUnverifiedPromotion": "true" });
    expect(lines).toEqual([
      `renewa:productionReviewers = "[\\"user:alice\\"]": not allowed on ${stack} stacks (only the production GitHub environment has required reviewers)`,
      `renewa:allowUnverifiedPromotion = "true": not allowed on ${stack} stacks (only production gates promotion)`,
    ]);
  });
});

describe("parseConfig: reviewers are users or teams, said which", () => {
  it("refuses a bare name, which would be looked up as a user (a team's name finds a stranger or nothing)", () => {
    const [line] = problems("production", { "renewa:mpgClusterId": "cluster-prd-1", "renewa:productionReviewers": '["renewa-release-managers"]' });
    expect(line).toMatch(/^renewa:productionReviewers = .*: expected 0: "user:<login>" or "team:<org>\/<team-slug>" \(a bare name is ambiguous/);
  });

  it("takes stagingReviewers on staging only, and refuses a reviewer listed twice", () => {
    expect(parseConfig("staging", { "renewa:mpgClusterId": "cluster-stg-1", "renewa:stagingReviewers": '["team:renewa/qa"]' }).stagingReviewers).toEqual(["team:renewa/qa"]);
    expect(problems("production", { "renewa:mpgClusterId": "cluster-prd-1", "renewa:productionReviewers": '["user:a"]', "renewa:stagingReviewers": '["user:a"]' })[0]).toMatch(/stagingReviewers .*not allowed on production/);
    expect(problems("production", { "renewa:mpgClusterId": "cluster-prd-1", "renewa:productionReviewers": '["user:a","user:a"]' })[0]).toMatch(/a reviewer is listed twice/);
  });
});

describe("parseConfig: what travels with the digest", () => {
  const manifest = { hash: `sha256:${"1".repeat(64)}`, files: [{ name: "001_init.sql", sha256: "2".repeat(64), phase: "expand", skipOn: ["pr"] }] };

  it("takes renewa:migrations (validated by the manifest schema) and renewa:sourceCommit", () => {
    const c = parseConfig("development", { ...base, "renewa:migrations": JSON.stringify(manifest), "renewa:sourceCommit": "a".repeat(40) });
    expect(c.migrations).toEqual(manifest);
    expect(c.sourceCommit).toBe("a".repeat(40));
    expect(problems("development", { ...base, "renewa:migrations": '{"hash":"x","files":[]}' })[0]).toMatch(/^renewa:migrations = .*: expected hash: sha256: followed by 64/);
    expect(problems("development", { ...base, "renewa:sourceCommit": "abc123" })[0]).toMatch(/full 40-hex git commit/);
  });

  it("the migrations folder key is gone: the migrations live in the app repository", () => {
    expect(problems("development", { ...base, "renewa:migrationsDir": "migrations" })[0]).toMatch(/renewa:migrationsDir = .*unknown key/);
  });

  it("followSource and expectedDigest apply to promoted stacks, and followSource contradicts a pin", () => {
    expect(parseConfig("staging", { "renewa:mpgClusterId": "cluster-stg-1", "renewa:followSource": "true", "renewa:expectedDigest": DIGEST })).toMatchObject({ followSource: true, expectedDigest: DIGEST });
    expect(problems("development", { ...base, "renewa:followSource": "true" })[0]).toMatch(/not allowed on development stacks/);
    expect(problems("staging", { "renewa:mpgClusterId": "cluster-stg-1", "renewa:followSource": "true", "renewa:imageDigest": DIGEST })).toEqual([
      "renewa:followSource and renewa:imageDigest contradict each other: follow the previous stage, or pin a digest, not both",
    ]);
  });
});

describe("the production stack file", () => {
  it("names its approvers as a team, so the team is resolved as a team (GET /orgs/{org}/teams/{slug}), not as a user", async () => {
    const fs = await import("fs");
    const path = await import("path");
    const { runtimeConfig } = await import("../src/cli/stack-file");
    const { parseReviewer } = await import("../components/github-environment");
    const file = path.join(__dirname, "..", "Pulumi.production.yaml");
    const c = parseConfig("production", runtimeConfig(fs.readFileSync(file, "utf8"), file));
    expect(c.productionReviewers).toEqual(["team:renewa/release-managers"]);
    expect(c.productionReviewers!.map((r) => parseReviewer(r))).toEqual([{ kind: "team", org: "renewa", slug: "release-managers" }]);
  });
});
