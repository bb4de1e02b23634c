/**
 * The promotion chain under the real engine, on one `file://` backend: development → staging through a real
 * StackReference, production's gate, Path B on production, production's protection against destroy, and the operator
 * commands (`promote`, `rollback`, `repoint`) driving the real CLI through the Automation API.
 * The runs build on each other, so the tests run in order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INFISICAL_PROJECT_ID } from "../harness/up";
import { CLUSTERS, digestOf, imageOf, Platform, REPO, startPlatform } from "./platform";

const D1 = digestOf(0x11);
const D2 = digestOf(0x22);
const UNRELEASED = digestOf(0x99);
const RESTORED = "renewa-production-restored";
const STAGING_RESTORED = "renewa-staging-restored";
const machinesOf = (p: Platform, app: string) => p.fakes.fly.machines(app).filter((m) => m.config?.metadata?.fly_process_group === "app");

let p: Platform;

beforeAll(async () => {
  p = await startPlatform({ extraClusters: [RESTORED, STAGING_RESTORED] });
  for (const d of [D1, D2, UNRELEASED]) p.fakes.registry.push(REPO, d);
  for (const stack of ["development", "staging", "production"]) await p.ws.initStack(stack);
  await p.config("development", "renewa:imageDigest", D1);
  await p.ok("development", ["up", "--skip-preview"]);
}, 600_000);

afterAll(async () => p?.close());

describe("promotion through real stack references", { timeout: 600_000 }, () => {
  it("staging's up takes development's digest", async () => {
    await p.ok("staging", ["up", "--skip-preview"]);
    expect((await p.ws.outputs("staging")).imageDigest).toBe(D1);
    expect(machinesOf(p, "renewa-app-staging").map((m) => m.config.image)).toEqual([imageOf(D1), imageOf(D1)]);
  });

  it("production refuses a digest staging has not released, before changing anything", async () => {
    await p.config("production", "renewa:imageDigest", UNRELEASED);
    const before = p.mark();
    const res = await p.fails("production", ["up", "--skip-preview"]);
    expect(res.output).toContain(UNRELEASED);
    expect(res.output).toMatch(/staging/);
    expect(p.fakes.fly.state.apps.has("renewa-app-production")).toBe(false);
    expect(p.mutations(before)).toEqual([]);
    const exported = await p.ws.exportStack("production");
    // Only the promotion's own lookups ran: no dynamic resource (app, database, secrets, release) was registered.
    expect((exported.deployment.resources ?? []).filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/")).map((r) => r.type)).toEqual([]);
    expect(exported.deployment.pending_operations ?? []).toEqual([]);
  });

  it("then takes the digest staging released", async () => {
    const rm = await p.ws.pulumi(["config", "rm", "renewa:imageDigest", "-s", "production"]);
    expect(rm.code).toBe(0);
    await p.ok("production", ["up", "--skip-preview"]);
    const out = await p.ws.outputs("production");
    expect(out).toMatchObject({ imageDigest: D1, databaseClusterId: CLUSTERS.production });
    expect(machinesOf(p, "renewa-app-production")).toHaveLength(3);
  });
});

describe("Path B on production under the real engine", { timeout: 600_000 }, () => {
  const folder = () => p.fakes.infisical.state.folder(INFISICAL_PROJECT_ID, "prod", "/");

  it("a new cluster id in Pulumi.production.yaml previews as an in-place update of the reference and the URL pair", async () => {
    const file = p.ws.readFile("Pulumi.production.yaml");
    p.ws.writeFile("Pulumi.production.yaml", file.replace(`renewa:mpgClusterId: ${CLUSTERS.production}`, `renewa:mpgClusterId: ${RESTORED}`));
    const preview = await p.ok("production", ["preview", "--diff"]);
    expect(preview.output).toMatch(/~ pulumi-nodejs:dynamic\/fly:MpgCluster: \(update\)/);
    expect(preview.output).toContain(`clusterId          : "${CLUSTERS.production}" => "${RESTORED}"`);
    // The DATABASE_URL pair is rewritten in Infisical and the sync runs again (the redeploy); nothing is replaced or deleted.
    expect(preview.output).toMatch(/~ pulumi-nodejs:dynamic\/infisical:Secrets: \(update\)/);
    expect(preview.output).toMatch(/~ pulumi-nodejs:dynamic\/infisical:FlySync: \(update\)/);
    expect(preview.output).not.toMatch(/\((replace|delete|create-replacement|delete-replaced)\)/);
  });

  it("up re-points: DATABASE_URL and DATABASE_URL_MIGRATION move, the sync redeploys, no machine rolls, nothing is deleted", async () => {
    const oldUrl = folder().get("DATABASE_URL");
    const machinesBefore = machinesOf(p, "renewa-app-production").map((m) => [m.id, m.config.image]);
    const redeploys = p.fakes.infisical.state.flyApps.get("renewa-app-production")!.redeploys;
    const before = p.mark();
    await p.ok("production", ["up", "--skip-preview"]);
    expect(folder().get("DATABASE_URL")).not.toBe(oldUrl);
    expect(folder().get("DATABASE_URL")).toContain(RESTORED);
    expect(folder().get("DATABASE_URL_MIGRATION")).toContain(RESTORED);
    expect(p.fakes.infisical.state.flyApps.get("renewa-app-production")!.redeploys).toBeGreaterThan(redeploys);
    expect(machinesOf(p, "renewa-app-production").map((m) => [m.id, m.config.image])).toEqual(machinesBefore);
    expect(p.mutations(before).filter((c) => c.startsWith("DELETE"))).toEqual([]);
    expect(p.fakes.mpg.clusters.get(CLUSTERS.production)!.status).toBe("ready");
    expect((await p.ws.outputs("production")).databaseClusterId).toBe(RESTORED);
  });

  it("pulumi destroy of production is refused by protection and changes nothing", async () => {
    const before = p.mark();
    const urns = async () => ((await p.ws.exportStack("production")).deployment.resources ?? []).map((r) => r.urn);
    const stateBefore = await urns();
    const res = await p.fails("production", ["destroy", "--skip-preview"]);
    expect(res.output).toMatch(/protect/i);
    expect(p.mutations(before)).toEqual([]);
    expect(await urns()).toEqual(stateBefore);
    expect(p.fakes.fly.state.apps.has("renewa-app-production")).toBe(true);
  });
});

describe("the operator commands drive the real CLI", { timeout: 600_000 }, () => {
  it("promote: --dry-run prints the plan and changes nothing; the real run rolls staging to development's new digest", async () => {
    await p.config("development", "renewa:imageDigest", D2);
    await p.ok("development", ["up", "--skip-preview"]);
    const before = p.mark();
    const dry = await p.ws.command("promote", ["development", "staging", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`image:  ${D2}`);
    expect(dry.stdout).toContain("Dry run: nothing was changed.");
    expect(p.mutations(before)).toEqual([]);

    const real = await p.ws.command("promote", ["development", "staging"]);
    expect(real.code, real.output).toBe(0);
    expect(real.stdout).toMatch(new RegExp(`staging now runs ${D2}`));
    expect(machinesOf(p, "renewa-app-staging").map((m) => m.config.image)).toEqual([imageOf(D2), imageOf(D2)]);
  });

  it("rollback (Path A): finds the previous digest in the deployment records, pins it and rolls back; the pin holds with no file to commit", async () => {
    const dry = await p.ws.command("rollback", ["staging", "--dry-run"]);
    expect(dry.code, dry.output).toBe(0);
    expect(dry.stdout).toContain(`roll back to: ${D1}`);
    const real = await p.ws.command("rollback", ["staging", "--yes"]);
    expect(real.code, real.output).toBe(0);
    // The pin lives in the stack's own outputs, not in the stack file.
    expect(p.ws.readFile("Pulumi.staging.yaml")).not.toMatch(/^\s*renewa:imageDigest:/m);
    expect(machinesOf(p, "renewa-app-staging").map((m) => m.config.image)).toEqual([imageOf(D1), imageOf(D1)]);
    expect(await p.ws.outputs("staging")).toMatchObject({ imageDigest: D1, pinnedDigest: D1 });
    // A later `pulumi up` from a checkout whose stack file names no digest keeps the rollback (development runs D2).
    await p.ok("staging", ["up", "--skip-preview"]);
    expect(machinesOf(p, "renewa-app-staging").map((m) => m.config.image)).toEqual([imageOf(D1), imageOf(D1)]);
    expect((await p.ws.outputs("staging")).imageDigest).toBe(D1);
  });

  it("repoint (Path B): --dry-run shows the one-line change; the real run edits the stack file and updates in place", async () => {
    const dry = await p.ws.command("repoint", ["staging", STAGING_RESTORED, "--dry-run"]);
    expect(dry.code, dry.output).toBe(0);
    expect(dry.stdout).toContain(STAGING_RESTORED);
    expect(p.ws.readFile("Pulumi.staging.yaml")).toContain(`renewa:mpgClusterId: ${CLUSTERS.staging}`);
    const real = await p.ws.command("repoint", ["staging", STAGING_RESTORED]);
    expect(real.code, real.output).toBe(0);
    expect(p.ws.readFile("Pulumi.staging.yaml")).toContain(`renewa:mpgClusterId: ${STAGING_RESTORED}`);
    expect((await p.ws.outputs("staging")).databaseClusterId).toBe(STAGING_RESTORED);
  });

  it("refresh-staging: a scrubbed copy of production's latest backup, re-pointed through Path B by the real CLI", async () => {
    const backup = (id: string) => ({ id, type: "full", status: "completed", started_at: "2026-11-30T01:00:00.000Z", finished_at: "2026-11-30T01:10:00.000Z", pollsLeft: 0 });
    for (const id of [CLUSTERS.production, RESTORED]) p.fakes.mpg.clusters.get(id)!.backups.push(backup(`bk-${id}`) as never);
    const stagingBefore = (await p.ws.outputs("staging")).databaseClusterId as string;
    const before = p.mark();
    const dry = await p.ws.command("refresh-staging", ["--dry-run"]);
    expect(dry.code, dry.output).toBe(0);
    expect(dry.stdout).toContain("Dry run: nothing was changed.");
    expect(p.mutations(before)).toEqual([]);

    const real = await p.ws.command("refresh-staging", ["--yes"]);
    expect(real.code, real.output).toBe(0);
    const copy = [...p.fakes.mpg.clusters.values()].find((c) => c.source !== undefined && c.status === "ready")!;
    expect(copy).toBeDefined();
    expect(p.ws.readFile("Pulumi.staging.yaml")).toContain(`renewa:mpgClusterId: ${copy.id}`);
    expect((await p.ws.outputs("staging")).databaseClusterId).toBe(copy.id);
    const folder = p.fakes.infisical.state.folder(INFISICAL_PROJECT_ID, "staging", "/");
    expect(folder.get("DATABASE_URL")).toContain(copy.id);
    expect(folder.get("DATABASE_URL_MIGRATION")).toContain(copy.id);
    // The previous cluster is kept and named, with the command that removes it.
    expect(p.fakes.mpg.clusters.get(stagingBefore)!.status).toBe("ready");
    expect(real.stdout).toContain(`fly mpg destroy ${stagingBefore}`);
  });
});
