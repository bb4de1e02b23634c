/**
 * Each stack's whole graph, evaluated the way `pulumi up` loads the program (ts-node registered as run.js does) under
 * the mock runtime, through the offline synth command.
 */
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildManifest } from "../src/migrations/manifest";
import type { SynthResource, SynthResult } from "../src/synth";
import { runTsAsync } from "./harness/engine";

const DIGEST = `sha256:${"ab".repeat(32)}`;
const OLD_DIGEST = `sha256:${"cd".repeat(32)}`;

type Run = { status: number; stdout: string; stderr: string };

/** Runs the synth command (a separate process, as `npm run synth`) without waiting for it. */
function run(args: string[], env: Record<string, string> = {}, typeCheck = false): Promise<Run> {
  const running = runTsAsync("src/cli/synth.ts", args, { env, typeCheck });
  running.catch(() => undefined); // awaited by its test; this only keeps an early failure from counting as unhandled
  return running;
}

async function synth(running: Promise<Run>): Promise<SynthResult> {
  const res = await running;
  if (res.status !== 0) throw new Error(`synth failed (${res.status}):\n${res.stderr}\n${res.stdout}`);
  return JSON.parse(res.stdout.slice(res.stdout.indexOf("\n{") + 1)) as SynthResult;
}

const byName = (r: SynthResult, name: string): SynthResource => {
  const found = r.resources.find((x) => x.name === name);
  if (!found) throw new Error(`no resource ${name} in ${r.resources.map((x) => x.name).join(", ")}`);
  return found;
};
const types = (r: SynthResult) => r.resources.map((x) => x.type);

const stacks: Record<string, SynthResult> = {};
const SENTINELS = { FLY_API_TOKEN: "SENTINEL_FLY_0451", GITHUB_TOKEN: "SENTINEL_GH_0451", INFISICAL_TOKEN: "SENTINEL_INF_0451", UPSTASH_API_KEY: "SENTINEL_UP_0451" };
/** The runs of single tests, started with the stacks' so that they use every core; each test awaits its own. */
let runs: Record<"typeChecked" | "noDigest" | "badConfig" | "unknownStack" | "withSentinels" | "repointed" | "migrations" | "badMigrations" | "pinKept" | "pinReleased", Promise<Run>>;
/** The app repository's build of DIGEST: its migrations manifest and source commit, as CI hands them over. */
const MANIFEST = buildManifest(path.resolve(__dirname, "fixtures", "migrations"));
const SOURCE_COMMIT = "5ca1ab1e".repeat(5);

beforeAll(async () => {
  const base = {
    development: run(["development", "--json", "--config", `renewa:imageDigest=${DIGEST}`]),
    staging: run(["staging", "--json", "--stack-output", `development.imageDigest=${DIGEST}`]),
    production: run(["production", "--json", "--stack-output", `staging.imageDigest=${DIGEST}`, "--stack-output", `staging.releasedDigests=["${DIGEST}","${OLD_DIGEST}"]`]),
    "pr-42": run(["pr-42", "--json", "--config", `renewa:imageDigest=${DIGEST}`, "--stack-output", "development.databaseClusterId=cluster-dev-1"]),
  };
  runs = {
    typeChecked: run(["staging", "--json", "--stack-output", `development.imageDigest=${DIGEST}`], {}, true),
    noDigest: run(["development", "--json"]),
    badConfig: run(["staging", "--json", "--config", "renewa:imageDigest=v1.4.2", "--config", "renewa:region=ams"]),
    unknownStack: run(["prod"]),
    withSentinels: run(
      ["production", "--json", "--with-providers", "--stack-output", `staging.imageDigest=${DIGEST}`, "--stack-output", `staging.releasedDigests=["${DIGEST}"]`],
      SENTINELS,
    ),
    repointed: run(["staging", "--json", "--stack-output", `development.imageDigest=${DIGEST}`, "--config", "renewa:mpgClusterId=renewa-staging-restored"]),
    // A promotion as `npm run promote` runs it: development's outputs carry the manifest and commit with the digest.
    migrations: run([
      "staging", "--json",
      "--stack-output", `development.imageDigest=${DIGEST}`,
      "--stack-output", `development.migrations=${JSON.stringify(MANIFEST)}`,
      "--stack-output", `development.sourceCommit=${SOURCE_COMMIT}`,
      "--config", "renewa:followSource=true",
      "--config", `renewa:expectedDigest=${DIGEST}`,
      "--config", `renewa:migrations=${JSON.stringify(MANIFEST)}`,
      "--config", `renewa:sourceCommit=${SOURCE_COMMIT}`,
    ]),
    badMigrations: run(["staging", "--config", 'renewa:migrations={"hash":"sha256:nothex","files":[]}']),
    // After a rollback: staging runs OLD_DIGEST, pinned in its own outputs; development has moved on to DIGEST.
    pinKept: run(["staging", "--json", "--stack-output", `development.imageDigest=${DIGEST}`, "--stack-output", `staging.imageDigest=${OLD_DIGEST}`, "--stack-output", `staging.pinnedDigest=${OLD_DIGEST}`]),
    pinReleased: run([
      "staging", "--json", "--stack-output", `development.imageDigest=${DIGEST}`, "--stack-output", `staging.imageDigest=${OLD_DIGEST}`,
      "--stack-output", `staging.pinnedDigest=${OLD_DIGEST}`, "--config", "renewa:followSource=true",
    ]),
  };
  for (const [stack, running] of Object.entries(base)) stacks[stack] = await synth(running);
}, 120_000);

describe.each(["development", "staging", "production", "pr-42"])("stack %s", (stack) => {
  it("names the app renewa-app-<stack> and exports the operator outputs", () => {
    const r = stacks[stack];
    expect(r.outputs).toMatchObject({
      appName: `renewa-app-${stack}`,
      region: "fra",
      appUrl: `https://renewa-app-${stack}.fly.dev`,
      imageRef: `registry.fly.io/renewa-app-development@${DIGEST}`,
    });
    for (const key of ["imageDigest", "databaseClusterId", "releaseVersion", "releasedDigests", "previousDigest", "backupId"]) {
      expect(r.outputs).toHaveProperty(key);
    }
    expect(byName(r, "renewa-app-app").inputs).toMatchObject({ name: `renewa-app-${stack}`, org: "renewa" });
  });

  it("puts every Fly machine in fra", () => {
    const release = byName(stacks[stack], "renewa-app-release");
    expect(release.inputs).toMatchObject({ app: `renewa-app-${stack}`, image: `registry.fly.io/renewa-app-development@${DIGEST}` });
    expect((release.inputs.machine as { region: string }).region).toBe("fra");
    const regions = JSON.stringify(stacks[stack].resources.filter((x) => x.type.includes("fly")).map((x) => x.inputs));
    expect(regions.match(/"region":"[a-z]+"/g)?.every((m) => m === '"region":"fra"')).toBe(true);
  });

  it("gives every resource a parent whose name prefixes its own", () => {
    const r = stacks[stack];
    for (const res of r.resources.filter((x) => x.name !== "renewa")) {
      expect(res.parent, res.name).toBeDefined();
      expect(res.name.startsWith(res.parent!), `${res.name} under ${res.parent}`).toBe(true);
    }
  });

  it("keeps secrets secret: no infrastructure secret input is shown in plain text", () => {
    const text = JSON.stringify(stacks[stack]);
    expect(text).not.toMatch(/postgres(ql)?:\/\//);
    expect(text).not.toContain("offline-synth-no-token");
  });
});

describe("stack differences", () => {
  it("protects every resource of production (a destroy would delete the unprotected ones first) and nothing elsewhere", () => {
    const protectedIn = (s: string) => stacks[s].resources.filter((x) => x.protect).map((x) => x.name).sort();
    const custom = (s: string) => stacks[s].resources.filter((x) => !x.type.startsWith("renewa:") && !x.type.startsWith("pulumi:pulumi:"));
    expect(custom("production").filter((x) => !x.protect).map((x) => x.name)).toEqual([]);
    expect(protectedIn("production")).toEqual(expect.arrayContaining(["renewa-app-app", "renewa-cache-database", "renewa-db-cluster", "renewa-storage-bucket", "renewa-app-release", "renewa-secrets-sync", "renewa-record"]));
    for (const s of ["development", "staging", "pr-42"]) expect(protectedIn(s)).toEqual([]);
  });

  it("sizes each stack from its defaults", () => {
    const release = (s: string) => byName(stacks[s], "renewa-app-release").inputs;
    expect(release("development")).toMatchObject({ machineCount: 1, strategy: "rolling" });
    expect(release("staging")).toMatchObject({ machineCount: 2, strategy: "rolling" });
    expect(release("production")).toMatchObject({ machineCount: 3, strategy: "rolling" });
    expect((release("production").machine as { guest: unknown }).guest).toEqual({ cpuKind: "performance", cpus: 2, memoryMb: 4096 });
    expect(release("pr-42")).toMatchObject({ machineCount: 1, strategy: "immediate" });
  });

  it("promotes along development → staging → production through stack references", () => {
    const refs = (s: string) => stacks[s].resources.filter((x) => x.type === "pulumi:pulumi:StackReference").map((x) => x.inputs.name);
    // Each stack also reads its own last outputs (a pin, the running image's manifest and commit).
    expect(refs("development")).toEqual(["organization/renewa-platform/development"]);
    expect(refs("staging")).toEqual(["organization/renewa-platform/staging", "organization/renewa-platform/development"]);
    expect(refs("production")).toEqual(["organization/renewa-platform/production", "organization/renewa-platform/staging"]);
    expect(refs("pr-42")).toEqual(["organization/renewa-platform/pr-42", "organization/renewa-platform/development"]);
  });

  it("references each long-lived environment's own MPG cluster from its stack file", () => {
    expect(byName(stacks.staging, "renewa-db-cluster").inputs.clusterId).toBe("renewa-staging-mpg");
    expect(byName(stacks.production, "renewa-db-cluster").inputs.clusterId).toBe("renewa-production-mpg");
    expect(stacks.production.outputs.databaseClusterId).toBe("renewa-production-mpg");
  });

  it("derives a PR stack from its name: own database in development's cluster, own bucket, staged secrets", () => {
    const pr = stacks["pr-42"];
    expect(byName(pr, "renewa-db-pr-database").inputs).toMatchObject({ clusterId: "cluster-dev-1", databaseName: "pr_42" });
    expect(byName(pr, "renewa-storage-bucket").inputs.bucketName).toBe("renewa-pr-42");
    expect(byName(pr, "renewa-app-secrets").inputs.app).toBe("renewa-app-pr-42");
    expect(pr.resources.some((x) => x.name === "renewa-db-cluster")).toBe(false);
  });

  it("leaves the Infisical sync and the GitHub environment out of PR stacks, and staged secrets out of the others", () => {
    const pr = types(stacks["pr-42"]).join(" ");
    expect(pr).not.toMatch(/infisical|github:index|renewa:github:Environment/);
    for (const s of ["development", "staging", "production"]) {
      expect(types(stacks[s])).toContain("pulumi-nodejs:dynamic/infisical:FlySync");
      expect(types(stacks[s])).toContain("renewa:github:Environment");
      expect(stacks[s].resources.some((x) => x.type === "pulumi-nodejs:dynamic/fly:AppSecrets")).toBe(false);
    }
  });

  it("manages the repository-wide GitHub pieces from the development stack only", () => {
    const repoWide = (s: string) =>
      stacks[s].resources.filter((x) => /repositoryRuleset|issueLabel/.test(x.type)).map((x) => x.type);
    expect(repoWide("development").sort()).toEqual([
      "github:index/issueLabel:IssueLabel",
      "github:index/repositoryRuleset:RepositoryRuleset",
    ]);
    expect(repoWide("staging")).toEqual([]);
    expect(repoWide("production")).toEqual([]);
  });

  it("requires reviewers and protected branches on the production GitHub environment only", () => {
    const env = (s: string) => stacks[s].resources.find((x) => x.type === "github:index/repositoryEnvironment:RepositoryEnvironment" && x.inputs.environment === s)!;
    expect(env("production").inputs).toMatchObject({ preventSelfReview: true, deploymentBranchPolicy: { protectedBranches: true, customBranchPolicies: false } });
    expect(env("staging").inputs.reviewers).toBeUndefined();
  });

  it("records deployments of every stack in the app repository", () => {
    for (const s of Object.keys(stacks)) {
      expect(byName(stacks[s], "renewa-record").inputs).toMatchObject({ owner: "renewa", repository: "renewa-one", stack: s, appName: `renewa-app-${s}` });
    }
  });
});

describe("the entry point", () => {
  it("loads and type-checks through Pulumi's own ts-node registration (no transpile-only)", async () => {
    const r = await synth(runs.typeChecked);
    expect(r.outputs.appName).toBe("renewa-app-staging");
  });

  it("with no digest configured deploys nothing new: the release keeps the running image", async () => {
    const r = await synth(runs.noDigest);
    expect(byName(r, "renewa-app-release").inputs.image).toBeUndefined();
    // Which image runs is known only to the release (it keeps the live one), so nothing is made up here.
    expect(r.outputs.imageRef).toBe("(known after deploy)");
  });

  it("stops on bad config before any resource is registered, naming stack, key and value", async () => {
    const res = await runs.badConfig;
    expect(res.status).toBe(1);
    expect(res.stdout).toBe("");
    expect(res.stderr).toContain('Invalid configuration for stack "staging" (Pulumi.staging.yaml):');
    expect(res.stderr).toContain('renewa:imageDigest = "v1.4.2": expected sha256: followed by 64 lowercase hex digits');
    expect(res.stderr).toContain('renewa:region = "ams": expected "fra"');
  });

  it("refuses an unknown stack name", async () => {
    const res = await runs.unknownStack;
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('stack "prod": not a stack of this program; allowed: development, staging, production, or pr-<N>');
  });

  it("needs no credentials, and no credential in the environment reaches a serialized provider or an input", async () => {
    const r = await synth(runs.withSentinels);
    const providers = r.resources.filter((x) => x.provider);
    expect(providers.length).toBeGreaterThanOrEqual(8);
    // Each provider's text is stored in state with every resource; a capture that drags in a whole library shows here.
    for (const p of providers) expect(p.provider!.length, p.name).toBeLessThan(150_000);
    const text = JSON.stringify(r);
    for (const v of Object.values(SENTINELS)) expect(text).not.toContain(v);
  });
});

describe("ordering", () => {
  it.each(["development", "staging", "production"])("%s: the release waits for the Infisical sync, which waits for the app", (stack) => {
    const r = stacks[stack];
    const at = (name: string) => byName(r, name).registered!;
    expect(at("renewa-app-app")).toBeLessThan(at("renewa-secrets-sync"));
    expect(at("renewa-secrets-sync")).toBeLessThan(at("renewa-app-release"));
    expect(at("renewa-app-release")).toBeLessThan(at("renewa-record"));
  });

  it("pr-42: the release waits for the staged secrets", () => {
    const r = stacks["pr-42"];
    expect(byName(r, "renewa-app-secrets").registered!).toBeLessThan(byName(r, "renewa-app-release").registered!);
  });
});

describe("Path B preview", () => {
  it("changing renewa:mpgClusterId changes only the cluster reference and the databaseClusterId output", async () => {
    const after = await synth(runs.repointed);
    const before = stacks.staging;
    const changed = after.resources
      .filter((x) => JSON.stringify(x.inputs) !== JSON.stringify(before.resources.find((b) => b.name === x.name)?.inputs))
      .map((x) => x.name);
    expect(changed).toEqual(["renewa-db-cluster"]);
    expect(byName(after, "renewa-db-cluster").inputs.clusterId).toBe("renewa-staging-restored");
    expect(after.outputs.databaseClusterId).toBe("renewa-staging-restored");
    expect(after.resources.map((x) => x.name)).toEqual(before.resources.map((x) => x.name));
  });
});

describe("migrations", () => {
  it("the manifest that came with the promoted digest takes a pre-deploy backup keyed by its hash, and travels on as outputs", async () => {
    const r = await synth(runs.migrations);
    const backup = byName(r, "renewa-db-backup");
    expect(backup.type).toBe("pulumi-nodejs:dynamic/fly:MpgBackup");
    expect(backup.inputs).toMatchObject({ clusterId: "renewa-staging-mpg", migrationsHash: MANIFEST.hash });
    expect(backup.registered!).toBeLessThan(byName(r, "renewa-app-release").registered!);
    expect(byName(r, "renewa-app-release").inputs.backupId).toBe("(known after deploy)");
    expect(r.outputs).toMatchObject({ migrations: MANIFEST, sourceCommit: SOURCE_COMMIT });
    // The deployment record carries the image's source commit (the app repository's), not this program's.
    expect(byName(r, "renewa-record").inputs.commit).toBe(SOURCE_COMMIT);
  });

  it("a manifest that is not one stops the run naming the stack and key", async () => {
    const res = await runs.badMigrations;
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('Invalid configuration for stack "staging"');
    expect(res.stderr).toMatch(/renewa:migrations = .*expected hash: sha256: followed by 64/);
  });
});

describe("pins that hold", () => {
  it("a later up that sets nothing keeps the rolled-back digest (its pinnedDigest output), not development's", async () => {
    const r = await synth(runs.pinKept);
    expect(byName(r, "renewa-app-release").inputs.image).toBe(`registry.fly.io/renewa-app-development@${OLD_DIGEST}`);
    expect(r.outputs.pinnedDigest).toBe(OLD_DIGEST);
  });

  it("a promotion (renewa:followSource) moves it on and drops the pin", async () => {
    const r = await synth(runs.pinReleased);
    expect(byName(r, "renewa-app-release").inputs.image).toBe(`registry.fly.io/renewa-app-development@${DIGEST}`);
    expect(r.outputs.pinnedDigest ?? undefined).toBeUndefined();
  });
});
