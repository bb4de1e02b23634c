/**
 * ImagePromotion under Pulumi's mock runtime. Stack references answer from a table of stack outputs; the docker
 * provider's getRegistryImage invoke is answered by a fake Docker Registry v2 over HTTP, with the credentials the
 * component configured on its explicit docker provider, so a missing digest (or missing auth) really fails.
 */
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type ImagePromotionArgs, decideDigest, identityFor } from "../components/image-promotion";
import { runTsAsync } from "./harness/engine";
import { PromotionMockState, isSecret, promotionMocks, unsecret } from "./fakes/promotion-mocks";
import { RegistryFake, createRegistryFake } from "./fakes/registry";
import { idle } from "./harness/resource-recorder";

const A = `sha256:${"a".repeat(64)}`;
const B = `sha256:${"b".repeat(64)}`;
const MISSING = `sha256:${"c".repeat(64)}`;
const REPO = "renewa-app-development";
const TOKEN = "fm2_test-registry-token";

let registry: RegistryFake;
const state: PromotionMockState = { stackOutputs: {}, resources: [], lookups: [] };
let ImagePromotion: typeof import("../components/image-promotion").ImagePromotion;

beforeAll(async () => {
  process.env.FLY_API_TOKEN = TOKEN;
  registry = await createRegistryFake({ token: TOKEN });
  registry.push(REPO, A);
  registry.push(REPO, B);
  await pulumi.runtime.setMocks(promotionMocks(registry.fake.url, state), "renewa-platform", "staging", true, "organization");
  ({ ImagePromotion } = await import("../components/image-promotion"));
});

afterAll(async () => {
  await registry.stop();
});

beforeEach(() => {
  state.stackOutputs = {};
  state.resources = [];
  state.lookups = [];
});

function promiseOf<T>(o: pulumi.Output<T>): Promise<T> {
  return (o as unknown as { promise(): Promise<T> }).promise();
}

async function settle(p: InstanceType<typeof ImagePromotion>) {
  const [digest, imageRef, source, override] = await Promise.all([
    promiseOf(p.digest),
    promiseOf(p.imageRef),
    promiseOf(p.source),
    promiseOf(p.override),
  ]);
  return { digest, imageRef, source, override };
}

type Outcome = { error?: string; digest?: string; lookups: string[] };

/**
 * Runs a promotion that is expected to fail in its own process (see test/fixtures/promotion-program.ts). Asynchronous:
 * the fake registry lives in this process and must keep answering while the child runs.
 */
async function runFailing(
  args: Partial<ImagePromotionArgs>,
  stackOutputs: Record<string, unknown> = {},
  env: Record<string, string> = { FLY_API_TOKEN: TOKEN },
): Promise<Outcome> {
  const input = JSON.stringify({ registryUrl: registry.fake.url, stackOutputs, args: { ...base, ...args } });
  const { stdout, stderr } = await runTsAsync("test/fixtures/promotion-program.ts", [], { input, env });
  const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`promotion program printed no result:\n${stdout}\n${stderr}`);
  return JSON.parse(line.slice("RESULT ".length));
}

/** The failing promotions, each in its own process, started together once the registry is up; each test awaits its own. */
let failing: Record<"missingDigest" | "noToken" | "unreleased" | "contractSince", Promise<Outcome>>;
beforeAll(() => {
  failing = {
    missingDigest: runFailing({ stack: "development", kind: "development", pinnedDigest: MISSING }),
    noToken: runFailing({ stack: "development", kind: "development", pinnedDigest: A }, {}, {}),
    unreleased: runFailing({ stack: "production", kind: "production", promoteFrom: "staging" }, { "organization/renewa-platform/staging": { imageDigest: A, releasedDigests: [B] } }),
    contractSince: runFailing({ stack: "staging", kind: "staging", promoteFrom: "development", pinnedDigest: A, releaseHistory: HISTORY, allowContractRollback: B }),
  };
  for (const outcome of Object.values(failing)) outcome.catch(() => undefined); // awaited by its test
});

const base = { imageRepository: REPO, allowUnverified: false, project: "renewa-platform" } as const;
// Staging released A (v1), then B (v2), whose release ran contract migration 002_drop_email.sql.
const HISTORY = [
  { digest: B, releaseVersion: 2, backupId: "bkp_v2", issueNumber: 12, migrations: { hash: `sha256:${"1".repeat(64)}`, head: "002_drop_email.sql", applied: [{ name: "002_drop_email.sql", phase: "contract" as const }] } },
  { digest: A, releaseVersion: 1, backupId: null, migrations: { hash: `sha256:${"1".repeat(64)}`, head: "001_users.sql", applied: [{ name: "001_users.sql", phase: "expand" as const }] } },
];
let n = 0;
const make = (args: Partial<ImagePromotionArgs> & Pick<ImagePromotionArgs, "stack" | "kind">) =>
  new ImagePromotion(`image-${n++}`, { ...base, ...args });

describe("ImagePromotion", () => {
  it("development deploys the pinned digest after finding it in the registry", async () => {
    const out = await settle(make({ stack: "development", kind: "development", pinnedDigest: A }));
    expect(out).toEqual({ digest: A, imageRef: `registry.fly.io/${REPO}@${A}`, source: "pinned", override: false });
    expect(state.lookups).toEqual([`registry.fly.io/${REPO}@${A}`]);
    // Its only stack reference is to itself (a pin and the running image's identity outlive the run there).
    expect(state.resources.filter((r) => r.type === "pulumi:pulumi:StackReference").map((r) => r.inputs.name)).toEqual(["organization/renewa-platform/development"]);
    // Registry reads need no Docker daemon.
    const provider = state.resources.find((r) => r.type === "pulumi:providers:docker")!;
    expect(JSON.parse(provider.inputs.disableDockerDaemonCheck)).toBe(true);
    // The token reaches state only as a secret (encrypted by the stack's secrets provider).
    expect(isSecret(provider.inputs.registryAuth)).toBe(true);
    expect(JSON.parse(unsecret(provider.inputs.registryAuth))).toEqual([{ address: "registry.fly.io", username: "x", password: TOKEN }]);
  });

  it("staging takes development's imageDigest through a stack reference in the backend's org", async () => {
    state.stackOutputs["organization/renewa-platform/development"] = { imageDigest: B };
    const p = make({ stack: "staging", kind: "staging", promoteFrom: "development" });
    expect(await settle(p)).toMatchObject({ digest: B, source: "promoted", override: false });
    const refs = state.resources.filter((r) => r.type === "pulumi:pulumi:StackReference");
    expect(refs.map((r) => r.inputs.name)).toEqual(["organization/renewa-platform/staging", "organization/renewa-platform/development"]);
    expect(refs.map((r) => r.name)).toEqual([expect.stringMatching(/^image-\d+-self$/), expect.stringMatching(/^image-\d+-development$/)]);
  });

  it("uses stackOrg when given", async () => {
    state.stackOutputs["renewa/renewa-platform/development"] = { imageDigest: A };
    const out = await settle(make({ stack: "staging", kind: "staging", promoteFrom: "development", stackOrg: "renewa" }));
    expect(out.digest).toBe(A);
  });

  it("a digest missing from the registry fails with the stack, the ref and what to check", async () => {
    const out = await failing.missingDigest;
    expect(out.error).toMatch(
      new RegExp(`stack development: image registry.fly.io/${REPO}@${MISSING} \\(pinned\\) was not found.*404.*Check the digest for typos`, "s"),
    );
    expect(out.lookups).toEqual([`registry.fly.io/${REPO}@${MISSING}`]);
  });

  it("without FLY_API_TOKEN the registry check fails before calling the registry, saying what to export", async () => {
    const out = await failing.noToken;
    expect(out.error).toMatch(/cannot check that .* exists: FLY_API_TOKEN is not set/);
    expect(out.lookups).toEqual([]);
  });

  it("production refuses a digest staging has not released, before asking the registry", async () => {
    const out = await failing.unreleased;
    expect(out.error).toMatch(/production refuses .*staging has not run it successfully/);
    expect(out.lookups).toEqual([]);
  });

  it("production deploys a released digest, and an unverified one only as an override", async () => {
    state.stackOutputs["organization/renewa-platform/staging"] = { imageDigest: A, releasedDigests: [A] };
    expect(await settle(make({ stack: "production", kind: "production", promoteFrom: "staging" }))).toMatchObject({
      digest: A,
      override: false,
    });
    state.stackOutputs["organization/renewa-platform/staging"] = { imageDigest: B, releasedDigests: [A] };
    const forced = make({ stack: "production", kind: "production", promoteFrom: "staging", allowUnverified: true });
    expect(await settle(forced)).toMatchObject({ digest: B, source: "promoted", override: true });
  });

  it("a pinned digest released before a contract migration that ran since is refused in preview, before the registry", async () => {
    const out = await failing.contractSince;
    // The override names another digest, so it does not apply to this pin.
    expect(out.error).toContain(`staging refuses to go back to ${A}: 1 contract migration(s) ran since it was released`);
    expect(out.error).toContain(`002_drop_email.sql, run by release v2 (${B}, record #12)`);
    expect(out.lookups).toEqual([]);
  });

  it("renewa:allowContractRollback for exactly the pinned digest lets it through and names the crossed migrations", async () => {
    const p = make({ stack: "staging", kind: "staging", promoteFrom: "development", pinnedDigest: A, releaseHistory: HISTORY, allowContractRollback: A });
    expect(await settle(p)).toMatchObject({ digest: A, source: "pinned" });
    expect(await promiseOf(p.contractRollback)).toEqual(["002_drop_email.sql"]);
    // Going forward to B, or pinning a digest never released here, crosses nothing.
    const forward = make({ stack: "staging", kind: "staging", promoteFrom: "development", pinnedDigest: B, releaseHistory: HISTORY });
    expect(await promiseOf(forward.contractRollback)).toEqual([]);
    expect(() => make({ stack: "staging", kind: "staging", promoteFrom: "development", allowContractRollback: "v1" })).toThrow(/`allowContractRollback` "v1" is not sha256/);
  });

  it("nothing upstream means nothing to deploy, without a registry call", async () => {
    const out = await settle(make({ stack: "staging", kind: "staging", promoteFrom: "development" }));
    expect(out).toEqual({ digest: undefined, imageRef: undefined, source: "none", override: false });
    expect(state.lookups).toEqual([]);
  });

  it("validates args before declaring any child or asking the registry", async () => {
    expect(() => make({ stack: "staging", kind: "staging" })).toThrow(/`promoteFrom` is unset but a staging stack promotes from development/);
    expect(() => make({ stack: "development", kind: "development", pinnedDigest: "latest" })).toThrow(/`pinnedDigest` "latest"/);
    await idle();
    // The component registers itself (super) before it validates; nothing under it is declared.
    expect(state.resources.filter((r) => r.type !== "renewa:release:ImagePromotion")).toEqual([]);
    expect(state.lookups).toEqual([]);
  });

  it("children are parented and prefixed with the component's name", async () => {
    state.stackOutputs["organization/renewa-platform/development"] = { imageDigest: A };
    await settle(new ImagePromotion("app-image", { ...base, stack: "staging", kind: "staging", promoteFrom: "development" }));
    const children = state.resources.filter((r) => r.type !== "renewa:release:ImagePromotion");
    expect(children.map((c) => c.name).sort()).toEqual(["app-image-development", "app-image-registry", "app-image-self"]);
  });

  it("a pin kept in the stack's own outputs holds on a later up that sets nothing; followSource lets it follow again", async () => {
    state.stackOutputs["organization/renewa-platform/development"] = { imageDigest: B };
    // After a rollback: staging runs A, pinned (its pinnedDigest output), while development moved on to B.
    state.stackOutputs["organization/renewa-platform/staging"] = { imageDigest: A, pinnedDigest: A };
    const kept = make({ stack: "staging", kind: "staging", promoteFrom: "development" });
    expect(await settle(kept)).toMatchObject({ digest: A, source: "pinned" });
    expect(await promiseOf(kept.pin)).toBe(A);
    const moved = make({ stack: "staging", kind: "staging", promoteFrom: "development", followSource: true });
    expect(await settle(moved)).toMatchObject({ digest: B, source: "promoted" });
    expect(await promiseOf(moved.pin)).toBeUndefined();
  });

  it("carries the source's migrations manifest and source commit with the promoted digest", async () => {
    const migrations = { hash: `sha256:${"1".repeat(64)}`, files: [] };
    const commit = "f".repeat(40);
    state.stackOutputs["organization/renewa-platform/development"] = { imageDigest: B, migrations, sourceCommit: commit };
    const p = make({ stack: "staging", kind: "staging", promoteFrom: "development", followSource: true, migrations });
    expect(await promiseOf(p.migrations)).toEqual(migrations);
    expect(await promiseOf(p.sourceCommit)).toBe(commit);
  });
});

type Seen = Parameters<typeof identityFor>[2] extends infer I ? { source: I; own: I; ownPin?: string; stagingReleased?: string[] } : never;
/** The component's two steps in order: the digest (and pin), then what travels with it. */
const decideOutcome = (args: ImagePromotionArgs, seen: Seen) => {
  const d = decideDigest(args, { sourceDigest: seen.source.digest, stagingReleased: seen.stagingReleased, ownPin: seen.ownPin });
  return { ...d, ...identityFor(args, d, seen.source, seen.own) };
};

describe("decideDigest and identityFor", () => {
  const staging = { ...base, stack: "staging", kind: "staging", promoteFrom: "development" } as const;
  const m = (d: string) => ({ hash: `sha256:${d.repeat(64)}`, files: [] });

  it("the approved digest is the digest that ships: a source that moved on after approval fails before anything changes", () => {
    const seen = { source: { digest: B }, own: {} };
    expect(decideOutcome({ ...staging, followSource: true, expectedDigest: B }, seen).digest).toBe(B);
    expect(() => decideOutcome({ ...staging, followSource: true, expectedDigest: A }, seen)).toThrow(
      new RegExp(`stack staging: the approved digest is ${A} \\(renewa:expectedDigest\\) but this update would deploy ${B} \\(promoted\\).*nothing was changed`),
    );
    // A kept pin is not what was approved either.
    expect(() => decideOutcome({ ...staging, expectedDigest: B }, { source: { digest: B }, ownPin: A, own: { digest: A } })).toThrow(/would deploy sha256:a+ \(pinned\)/);
  });

  it("refuses a manifest or commit that is not the one the source runs with the digest", () => {
    const seen = { source: { digest: B, migrations: m("1"), sourceCommit: "1".repeat(40) }, own: {} };
    expect(() => decideOutcome({ ...staging, followSource: true, migrations: m("2") }, seen)).toThrow(/renewa:migrations \(hash sha256:2+\) is not the manifest development runs/);
    expect(() => decideOutcome({ ...staging, followSource: true, migrations: m("1"), sourceCommit: "2".repeat(40) }, seen)).toThrow(/is not the commit development built/);
    expect(decideOutcome({ ...staging, followSource: true, migrations: m("1") }, seen)).toMatchObject({ digest: B, migrations: m("1"), sourceCommit: "1".repeat(40) });
  });

  it("a new image whose source has a manifest must come with it (a plain up would skip the pre-deploy backup)", () => {
    const seen = { source: { digest: B, migrations: m("1") }, own: { digest: A } };
    expect(() => decideOutcome({ ...staging, followSource: true }, seen)).toThrow(/development runs sha256:b+ with migrations sha256:1+, but this update was not given them .*npm run promote -- development staging/);
    // The image staging already runs: nothing migrates, so nothing is refused.
    expect(decideOutcome(staging, { source: { digest: A, migrations: m("1") }, own: { digest: A } })).toMatchObject({ digest: A, migrations: m("1") });
  });

  it("a run that deploys nothing new keeps the manifest and commit the stack ran before; a new digest never inherits them", () => {
    const dev = { ...base, stack: "development", kind: "development" } as const;
    const own = { digest: A, migrations: m("3"), sourceCommit: "3".repeat(40) };
    expect(decideOutcome(dev, { source: {}, own })).toMatchObject({ digest: undefined, migrations: m("3"), sourceCommit: "3".repeat(40) });
    expect(decideOutcome({ ...dev, pinnedDigest: B }, { source: {}, own })).toMatchObject({ digest: B, migrations: undefined, sourceCommit: undefined });
    expect(decideOutcome({ ...dev, pinnedDigest: B, migrations: m("4") }, { source: {}, own }).migrations).toEqual(m("4"));
  });
});
