/**
 * `npm run verify-backup` against the MPG and Machines fakes: the plan, a pass, and the faults (a backup that does not
 * restore, a check that fails, an interruption, leftovers of a killed run), each leaving no scratch cluster or machine
 * and never writing to the environment's own cluster.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { expectedHead, verifyBackup } from "../src/cli/verify-backup";
import { DeploymentRecordData, recordKey } from "../src/deployment-record-format";
import { runTs } from "./harness/engine";
import { DataJobBed, PROD_IMAGE, dataJobDeps, resetBed, startDataJobBed } from "./fakes/data-jobs";

let bed: DataJobBed;
beforeAll(async () => (bed = await startDataJobBed()));
afterAll(() => bed.stop());
beforeEach(() => resetBed(bed));

function rec(v: number, head: string, recordedAt: string): DeploymentRecordData {
  return {
    schema: 1, key: recordKey("renewa-app-production", v), app: "renewa-app-production", stack: "production", environment: "production",
    digest: `sha256:${"e".repeat(64)}`, previousDigest: null, backupId: null, releaseVersion: v, commit: "f".repeat(40), recordedAt, override: false,
    migrations: { hash: `sha256:${"1".repeat(64)}`, head, applied: [] },
  };
}
// v8 was released after the backup started (01:00), so the backup holds v7's schema.
const RECORDS = [rec(8, "008_later.sql", "2026-06-05T09:00:00.000Z"), rec(7, "007_orders.sql", "2026-06-04T12:00:00.000Z")];

/** Clusters other than the stacks' own that still exist, and live job machines. */
function leftovers() {
  const clusters = [...bed.pgState.clusters.values()].filter((c) => !/^renewa-(development|staging|production)-mpg$/.test(c.id) && c.status !== "deleted");
  const machines = bed.fly.machines("renewa-app-production");
  return { clusters: clusters.map((c) => c.id), machines: machines.map((m) => m.id) };
}
/** Anything but reads on production's own cluster. */
const sourceWrites = () => bed.fake.mutatingCalls().filter((l) => /^\/v1\/postgres\/renewa-production-mpg(\/|$)/.test(l.path) && !l.path.endsWith("/restore"));

describe("npm run verify-backup", () => {
  it("--help runs through the npm script's entry point", () => {
    const res = runTs("src/cli/verify-backup.ts", ["--help"]);
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/^Usage: npm run verify-backup -- <env> \[--backup <id>\] \[--dry-run\]/);
    expect(res.stdout).toContain("backup-verification");
  });

  it("checks its arguments before any API call", async () => {
    const { deps } = dataJobDeps(bed);
    await expect(verifyBackup([], deps)).rejects.toThrow(/expected 1 argument\(s\) \(<env>\), got none/);
    await expect(verifyBackup(["pr-4"], deps)).rejects.toThrow(/"pr-4" has no cluster or backups of its own/);
    await expect(verifyBackup(["production", "--bakup", "x"], deps)).rejects.toThrow(/Unknown option '--bakup'/);
    expect(bed.fake.log).toEqual([]);
  });

  it("--dry-run prints the backup, the scratch cluster, the machine and the checks, and changes nothing", async () => {
    const { deps, out } = dataJobDeps(bed, RECORDS);
    expect(await verifyBackup(["production", "--dry-run"], deps)).toBe(0);
    const text = out.text();
    expect(text).toContain("Backup verification plan for production (cluster renewa-production-mpg is only read)");
    expect(text).toContain("  backup: bk-production-1 (full, finished 2026-06-05T01:10:00.000Z) of cluster renewa-production-mpg");
    expect(text).toMatch(/1\. restore it into a NEW scratch cluster renewa-verify-production-\d{8}t\d{6} \(org renewa\)/);
    expect(text).toContain(`in app renewa-app-production, image ${PROD_IMAGE}, without app secrets: \`/app/scripts/data-check.sh\``);
    expect(text).toContain("checks: schema at 007_orders.sql (recorded by release v7, the last before the backup)");
    expect(text).toContain("Dry run: nothing was changed.");
    expect(bed.fake.mutatingCalls()).toEqual([]);
  });

  it("restores into a scratch cluster, checks it without app secrets, records PASS, and removes everything", async () => {
    const { deps, out, reports } = dataJobDeps(bed, RECORDS);
    expect(await verifyBackup(["production"], deps)).toBe(0);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ stack: "production", sourceCluster: "renewa-production-mpg", backupId: "bk-production-1", passed: true });
    expect(reports[0].scratchCluster).toMatch(/^renewa-production-mpg-r\d+$/);
    expect(out.text()).toMatch(/PASS: backup bk-production-1 of production restored in \d+ s and passed every check\./);
    expect(out.text()).toContain("Recorded: https://github.com/renewa/renewa-one/issues/1");
    // The machine ran the image's check on the scratch cluster, as a run-only user, with the expected schema.
    const create = bed.fake.calls("POST /v1/apps/:app/machines")[0].body;
    expect(create.skip_secrets).toBe(true);
    expect(create.config.init.cmd).toEqual(["/app/scripts/data-check.sh"]);
    expect(create.config.env.RENEWA_CHECK_EXPECT_MIGRATION).toBe("007_orders.sql");
    expect(create.config.env.DATABASE_URL).toMatch(new RegExp(`^postgres://renewa-verify:SECRETPW-${reports[0].scratchCluster}-renewa-verify-\\d+@direct\\.${reports[0].scratchCluster}\\.flympg\\.net:5432/fly-db$`));
    // Not production's own password, which the physical restore copied along with the roles.
    expect(JSON.stringify(create)).not.toContain(bed.pgState.clusters.get("renewa-production-mpg")!.users.get("fly-user")!.password);
    expect(create.config.metadata).toMatchObject({ fly_process_group: "renewa_data_job", renewa_job: "verify-backup" });
    expect(leftovers()).toEqual({ clusters: [], machines: [] });
    expect(sourceWrites()).toEqual([]);
  });

  it("a backup that does not restore fails the run, is recorded as FAIL, and leaves no scratch cluster", async () => {
    bed.pgState.restoreOutcome = "failed";
    const { deps, out, reports } = dataJobDeps(bed, RECORDS);
    expect(await verifyBackup(["production"], deps)).toBe(1);
    expect(reports[0].passed).toBe(false);
    expect(reports[0].failure).toMatch(/backup bk-production-1 of cluster renewa-production-mpg failed to restore: new cluster \S+ is "failed"/);
    expect(out.text()).toMatch(/FAIL: backup bk-production-1 of production: backup bk-production-1 .* failed to restore/);
    expect(bed.fake.calls("POST /v1/apps/:app/machines")).toEqual([]);
    expect(leftovers()).toEqual({ clusters: [], machines: [] });

    bed.pgState.restoreOutcome = "ready";
    bed.fake.inject({ route: "POST /v1/postgres/:id/restore", status: 400, body: { error: "Restore failed: backup is corrupt" } });
    const second = dataJobDeps(bed, RECORDS);
    expect(await verifyBackup(["production"], second.deps)).toBe(1);
    expect(second.reports[0].failure).toMatch(/failed to restore: POST \/v1\/postgres\/renewa-production-mpg\/restore: 400 Restore failed: backup is corrupt/);
    expect(second.reports[0].scratchCluster).toBeUndefined();
    expect(sourceWrites()).toEqual([]);
  });

  it("a failing check is recorded with what failed, and machine and scratch cluster are removed", async () => {
    bed.jobs.exit = () => 3;
    const { deps, reports } = dataJobDeps(bed, RECORDS);
    expect(await verifyBackup(["production"], deps)).toBe(1);
    expect(reports[0].failure).toMatch(/^the schema is not at the expected migration \(machine \S+; logs: fly logs -a renewa-app-production -i \S+\)$/);
    expect(leftovers()).toEqual({ clusters: [], machines: [] });
  });

  it("an interruption during the check removes the machine and the scratch cluster; the re-run passes", async () => {
    const { deps, signals, reports, out } = dataJobDeps(bed, RECORDS);
    bed.jobs.exit = () => (setTimeout(() => signals.emit("SIGINT"), 10), undefined); // a check that hangs, then Ctrl-C
    expect(await verifyBackup(["production"], deps)).toBe(1);
    expect(out.errors).toContain("SIGINT: stopping after the current step, then removing what this run created.");
    expect(reports[0].failure).toBe("interrupted by SIGINT; the next run removes anything left");
    expect(out.text()).toMatch(/removed machine \S+ \(verify-backup-production-\S+\) of app renewa-app-production/);
    expect(leftovers()).toEqual({ clusters: [], machines: [] });
    expect(signals.listenerCount("SIGINT")).toBe(0);

    bed.jobs.exit = () => 0;
    const again = dataJobDeps(bed, RECORDS);
    expect(await verifyBackup(["production"], again.deps)).toBe(0);
  });

  it("a re-run after a killed run removes its scratch cluster and machine by name and metadata, then verifies", async () => {
    const killed = bed.pgState.addCluster({ id: "renewa-production-mpg-r999", name: "renewa-verify-production-20260101t000000" });
    const stray = bed.fly.addMachine("renewa-app-production", { image: PROD_IMAGE, metadata: { renewa_job: "verify-backup", renewa_run: "20260101t000000" } });
    const { deps, out } = dataJobDeps(bed, RECORDS);
    expect(await verifyBackup(["production"], deps)).toBe(0);
    expect(out.text()).toContain(`0. remove cluster ${killed.id} (renewa-verify-production-20260101t000000), left by a run that did not finish`);
    expect(out.text()).toContain(`0. remove machine ${stray.id}`);
    expect(killed.status).toBe("deleted");
    expect(leftovers()).toEqual({ clusters: [], machines: [] });
  });

  it("a scratch cluster Fly refuses to delete is reported, and the next run removes it by name", async () => {
    bed.fake.inject({ route: "DELETE /v1/postgres/:id", status: 500, body: { error: "internal error" } });
    const { deps, out, reports } = dataJobDeps(bed, RECORDS);
    expect(await verifyBackup(["production"], deps)).toBe(1);
    expect(reports[0].passed).toBe(true);
    expect(reports[0].notRemoved).toHaveLength(1);
    expect(out.errors).toContain("Exit 1: the backup passed, but 1 thing(s) the run created are still there (above).");
    expect(out.errors.join("\n")).toMatch(/could not remove cluster \S+ \(restored from bk-production-1\): DELETE \/v1\/postgres\/\S+: 500 internal error .*; the next run removes it/);
    expect(leftovers().clusters).toEqual([reports[0].scratchCluster]);

    bed.fake.clearFaults();
    const again = dataJobDeps(bed, RECORDS);
    expect(await verifyBackup(["production"], again.deps)).toBe(0);
    expect(again.out.text()).toContain(`0. remove cluster ${reports[0].scratchCluster} (renewa-verify-production-`);
    expect(leftovers()).toEqual({ clusters: [], machines: [] });
  });

  it("expectedHead takes the newest release recorded before the backup started", () => {
    expect(expectedHead(RECORDS, "2026-06-05T01:00:00.000Z")).toEqual({ head: "007_orders.sql", release: 7 });
    expect(expectedHead(RECORDS, "2026-06-06T00:00:00.000Z")).toEqual({ head: "008_later.sql", release: 8 });
    expect(expectedHead(RECORDS, "2026-01-01T00:00:00.000Z")).toBeUndefined();
  });
});
