/**
 * Under the real engine: a PR preview stack's whole life (up, a provider-code change between two `up`s, destroy,
 * `stack rm`), and releases that fail (release_command exits non-zero; an image never gets healthy): the `up` fails
 * with the program's message, the state stays consistent, and once the fault is cleared the next `up` converges.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../harness/engine";
import { CLUSTERS, digestOf, imageOf, Platform, REPO, startPlatform } from "./platform";
import { resourcesOf } from "./workspace";

const D1 = digestOf(0x31);
const D2 = digestOf(0x32);
const FAILS_MIGRATION = digestOf(0x3f);
const SICK = digestOf(0x3e);
const PR = "pr-42";
const PR_APP = "renewa-app-pr-42";
const DEV_APP = "renewa-app-development";
const machinesOf = (p: Platform, app: string) => p.fakes.fly.machines(app).filter((m) => m.config?.metadata?.fly_process_group === "app");

let p: Platform;
let trace: string;

beforeAll(async () => {
  p = await startPlatform();
  for (const d of [D1, D2, FAILS_MIGRATION, SICK]) p.fakes.registry.push(REPO, d);
  trace = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "renewa-trace-")), "provider-calls.log");
  fs.writeFileSync(trace, "");
  await p.ws.initStack("development");
  await p.config("development", "renewa:imageDigest", D1);
  await p.ok("development", ["up", "--skip-preview"]);
}, 600_000);

afterAll(async () => {
  await p?.close();
  if (trace) fs.rmSync(path.dirname(trace), { recursive: true, force: true });
});

/** Makes every provider's read, update and delete note `<version> <file> <method>` in the trace file. */
function traceProviders(version: string) {
  for (const file of fs.readdirSync(path.join(p.ws.project, "src", "providers"))) {
    const rel = path.join("src", "providers", file);
    const original = p.ws.readFile(rel).replace(/ require\("fs"\)\.appendFileSync\(process\.env\.RENEWA_TEST_TRACE[^;]*;/g, "");
    const traced = original.replace(
      /(async (read|update|delete)\([^)]*\)[^{]*\{)/g,
      (_m, head: string, method: string) => `${head} require("fs").appendFileSync(process.env.RENEWA_TEST_TRACE!, "${version} ${file} ${method}\\n");`,
    );
    p.ws.writeFile(rel, traced);
  }
}
const traced = () => fs.readFileSync(trace, "utf8").trim().split("\n").filter(Boolean);
/** The providers' code as the repository has it. */
const untraceProviders = () => fs.cpSync(path.join(ROOT, "src", "providers"), path.join(p.ws.project, "src", "providers"), { recursive: true });

describe("a PR preview stack under the real engine", { timeout: 600_000 }, () => {
  const env = () => ({ RENEWA_TEST_TRACE: trace });
  afterAll(untraceProviders);

  it("up creates the PR app, its database in development's cluster and its bucket", async () => {
    traceProviders("v1");
    await p.ws.initStack(PR);
    await p.config(PR, "renewa:imageDigest", D1);
    await p.ok(PR, ["up", "--skip-preview"], env());
    expect(machinesOf(p, PR_APP).map((m) => m.config.image)).toEqual([imageOf(D1)]);
    expect(p.fakes.mpg.clusters.get(CLUSTERS.development)!.databases.has("pr_42")).toBe(true);
    expect(p.fakes.graphql.addOns.has("renewa-pr-42")).toBe(true);
  });

  it("after a provider-code change, refresh and delete run the stored code, and update runs the new", async () => {
    traceProviders("v2");
    fs.writeFileSync(trace, "");
    await p.ok(PR, ["refresh", "--skip-preview"], env());
    const reads = traced();
    expect(reads.length).toBeGreaterThan(3);
    expect(reads.every((l) => l.startsWith("v1 ") && l.endsWith(" read"))).toBe(true);

    fs.writeFileSync(trace, "");
    await p.config(PR, "renewa:imageDigest", D2);
    await p.ok(PR, ["up", "--skip-preview"], env());
    expect(traced()).toContain("v2 release.ts update");
    expect(machinesOf(p, PR_APP).map((m) => m.config.image)).toEqual([imageOf(D2)]);

    fs.writeFileSync(trace, "");
    await p.ok(PR, ["destroy", "--skip-preview"], env());
    const deletes = traced().filter((l) => l.endsWith(" delete"));
    // The release was last written by the new code; the app and the bucket were created by the old one and not since.
    expect(deletes).toContain("v2 release.ts delete");
    expect(deletes).toContain("v1 fly-app.ts delete");
    expect(deletes).toContain("v1 tigris-bucket.ts delete");
  });

  it("destroy and stack rm leave no app, database or bucket of the PR", async () => {
    await p.ok(PR, ["stack", "rm"]);
    expect(p.fakes.fly.state.apps.has(PR_APP)).toBe(false);
    const cluster = p.fakes.mpg.clusters.get(CLUSTERS.development)!;
    expect(cluster.databases.has("pr_42")).toBe(false);
    expect(cluster.users.has("pr_42")).toBe(false);
    expect(p.fakes.graphql.addOns.has("renewa-pr-42")).toBe(false);
    expect(cluster.status).toBe("ready");
    const stacks = await p.ws.pulumi(["stack", "ls", "--json"]);
    expect(JSON.parse(stacks.stdout).map((s: { name: string }) => s.name)).not.toContain(PR);
  });
});

describe("npm run preview-env drives the real CLI", { timeout: 600_000 }, () => {
  it("up --dry-run changes nothing; up creates pr-43; destroy removes its app, database, bucket and stack", async () => {
    const before = p.mark();
    const dry = await p.ws.command("preview-env", ["up", "43", "--digest", D1, "--dry-run"]);
    expect(dry.code, dry.output).toBe(0);
    expect(dry.stdout).toContain("pr-43");
    expect(p.mutations(before)).toEqual([]);

    const up = await p.ws.command("preview-env", ["up", "43", "--digest", D1]);
    expect(up.code, up.output).toBe(0);
    expect(machinesOf(p, "renewa-app-pr-43").map((m) => m.config.image)).toEqual([imageOf(D1)]);
    expect(p.fakes.mpg.clusters.get(CLUSTERS.development)!.databases.has("pr_43")).toBe(true);

    const down = await p.ws.command("preview-env", ["destroy", "43"]);
    expect(down.code, down.output).toBe(0);
    expect(p.fakes.fly.state.apps.has("renewa-app-pr-43")).toBe(false);
    expect(p.fakes.mpg.clusters.get(CLUSTERS.development)!.databases.has("pr_43")).toBe(false);
    expect(p.fakes.graphql.addOns.has("renewa-pr-43")).toBe(false);
    const stacks = JSON.parse((await p.ws.pulumi(["stack", "ls", "--json"])).stdout).map((s: { name: string }) => s.name);
    expect(stacks).not.toContain("pr-43");
    // A cleanup job that runs twice: the missing stack is not an error.
    const again = await p.ws.command("preview-env", ["destroy", "43"]);
    expect(again.code, again.output).toBe(0);
  });
});

describe("failing releases under the real engine", { timeout: 600_000 }, () => {
  const consistent = async (digest: string) => {
    const exported = await p.ws.exportStack("development");
    expect(exported.deployment.pending_operations ?? []).toEqual([]);
    const [release] = resourcesOf(exported, "fly:Release");
    expect(release.outputs?.digest).toBe(digest);
  };

  it("a failing release_command fails the up with the program's message, rolls nothing, and converges once fixed", async () => {
    p.fakes.fly.options.releaseExitCodes[imageOf(FAILS_MIGRATION)] = 3;
    await p.config("development", "renewa:imageDigest", FAILS_MIGRATION);
    const res = await p.fails("development", ["up", "--skip-preview"]);
    expect(res.output).toMatch(/release_command/);
    expect(res.output).toMatch(/exit(ed)? (code )?3|code 3/);
    expect(machinesOf(p, DEV_APP).map((m) => m.config.image)).toEqual([imageOf(D1)]);
    await consistent(D1);

    p.fakes.fly.options.releaseExitCodes[imageOf(FAILS_MIGRATION)] = 0;
    await p.ok("development", ["up", "--skip-preview"]);
    expect(machinesOf(p, DEV_APP).map((m) => m.config.image)).toEqual([imageOf(FAILS_MIGRATION)]);
    await consistent(FAILS_MIGRATION);
  });

  it("an image that never gets healthy fails the up, goes back to the running image, and converges once fixed", async () => {
    p.fakes.fly.options.unhealthyImages.push(imageOf(SICK));
    await p.config("development", "renewa:imageDigest", SICK);
    const res = await p.fails("development", ["up", "--skip-preview"]);
    expect(res.output).toMatch(/health/i);
    expect(machinesOf(p, DEV_APP).map((m) => m.config.image)).toEqual([imageOf(FAILS_MIGRATION)]);
    await consistent(FAILS_MIGRATION);

    p.fakes.fly.options.unhealthyImages.length = 0;
    await p.ok("development", ["up", "--skip-preview"]);
    expect(machinesOf(p, DEV_APP).map((m) => m.config.image)).toEqual([imageOf(SICK)]);
    await consistent(SICK);
    await p.ok("development", ["preview", "--expect-no-changes"]);
  });
});
