/**
 * The development stack under the real Pulumi engine, from nothing: first `up` (type-checked, as `pulumi up` does by
 * default), then the no-op checks every later run depends on (preview and refresh that expect no changes, an `up`
 * that makes no mutating call), drift made outside Pulumi, import, and where credentials and secrets end up.
 * The runs build on each other, so the tests run in order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SENTINELS } from "../harness/up";
import { digestOf, imageOf, Platform, REPO, startPlatform } from "./platform";
import { filesUnder, resourcesOf } from "./workspace";

const STACK = "development";
const APP = "renewa-app-development";
const D1 = digestOf(0x1d);
const OTHER = digestOf(0xee);

let p: Platform;
const outputs: string[] = [];
const appMachines = () => p.fakes.fly.machines(APP).filter((m) => m.config?.metadata?.fly_process_group === "app");
const keep = <T extends { output: string }>(res: T) => (outputs.push(res.output), res);

beforeAll(async () => {
  p = await startPlatform();
  p.fakes.registry.push(REPO, D1);
  await p.ws.initStack(STACK);
  await p.config(STACK, "renewa:imageDigest", D1);
}, 600_000);

afterAll(async () => p?.close());

describe("development under the real engine", { timeout: 600_000 }, () => {
  it("first up from nothing creates the whole environment and exports its outputs", async () => {
    // Type-checked, as `pulumi up` compiles a program by default; later runs skip the check to save time.
    const res = keep(await p.ok(STACK, ["up", "--skip-preview"], { PULUMI_NODEJS_TRANSPILE_ONLY: "false" }));
    expect(res.output).toMatch(/Resources:\s+\+ \d+ created/);
    const machines = appMachines();
    expect(machines).toHaveLength(1);
    expect(machines[0].config.image).toBe(imageOf(D1));
    expect(machines[0].state).toBe("started");
    const out = await p.ws.outputs(STACK);
    expect(out).toMatchObject({ appName: APP, region: "fra", imageDigest: D1, releaseVersion: 1, releasedDigests: [D1] });
    // A first release has no previous digest: the output is absent rather than a value the engine cannot carry.
    expect(out.previousDigest ?? null).toBeNull();
    const exported = await p.ws.exportStack(STACK);
    expect(exported.deployment.pending_operations ?? []).toEqual([]);
    expect(resourcesOf(exported, "fly:Release")[0].outputs).toMatchObject({ digest: D1, releaseVersion: 1 });
  });

  it("a preview and a second up change nothing, and the up makes no mutating API call", async () => {
    keep(await p.ok(STACK, ["preview", "--expect-no-changes"]));
    const before = p.mark();
    const second = keep(await p.ok(STACK, ["up", "--expect-no-changes", "--skip-preview"]));
    expect(p.mutations(before)).toEqual([]);
    expect(second.output).not.toMatch(/[~+-] +\S+:\S+ .*(updat|creat|delet)ed/);
  });

  it("a refresh finds nothing changed outside", async () => {
    keep(await p.ok(STACK, ["refresh", "--expect-no-changes", "--skip-preview"]));
    keep(await p.ok(STACK, ["preview", "--expect-no-changes"]));
  });

  it("an image and the memory changed on a machine outside Pulumi show in refresh and preview, and the next up puts them back", async () => {
    p.fakes.registry.push(REPO, OTHER);
    const [machine] = appMachines();
    const memory = machine.config.guest.memory_mb;
    // `fly deploy --image` and `fly scale memory` by hand.
    machine.config = { ...machine.config, image: imageOf(OTHER), guest: { ...machine.config.guest, memory_mb: memory * 2 } };

    const refreshPreview = keep(await p.ok(STACK, ["refresh", "--preview-only"]));
    expect(refreshPreview.output).toMatch(/fly:Release.*\n?.*digest|~ .*renewa-app-release/);
    const preview = keep(await p.fails(STACK, ["preview", "--refresh", "--expect-no-changes"]));
    expect(preview.output).toMatch(/renewa-app-release/);
    expect(appMachines()[0].config.image).toBe(imageOf(OTHER));

    keep(await p.ok(STACK, ["up", "--refresh", "--skip-preview"]));
    expect(appMachines().map((m) => m.config.image)).toEqual([imageOf(D1)]);
    expect(appMachines().map((m) => m.config.guest.memory_mb)).toEqual([memory]);
    keep(await p.ok(STACK, ["preview", "--refresh", "--expect-no-changes"]));

    // The memory alone (the image untouched): compared field by field, not through a hash in the machine's metadata.
    const [again] = appMachines();
    again.config = { ...again.config, guest: { ...again.config.guest, memory_mb: memory * 2 } };
    const drifted = keep(await p.fails(STACK, ["preview", "--refresh", "--expect-no-changes"]));
    expect(drifted.output).toMatch(/renewa-app-release/);
    keep(await p.ok(STACK, ["up", "--refresh", "--skip-preview"]));
    expect(appMachines().map((m) => [m.config.image, m.config.guest.memory_mb])).toEqual([[imageOf(D1), memory]]);
  });

  it("import of the Fly app or the MPG cluster fails saying to run `pulumi up` instead, and changes nothing", async () => {
    const before = await p.ws.exportStack(STACK);
    const cli = keep(await p.fails(STACK, ["import", "pulumi-nodejs:dynamic/fly:App", "imported-app", APP, "--yes"]));
    expect(cli.output).toMatch(/error/i);
    expect((await p.ws.exportStack(STACK)).deployment.resources).toEqual(before.deployment.resources);

    // The `import` resource option, as an engineer would add it to the program: refused by the resource itself.
    const index = p.ws.readFile("src/index.ts");
    p.ws.writeFile(
      "src/index.ts",
      `${index}\nimport { FlyApp as __FlyApp } from "./providers/fly-app";\nnew __FlyApp("imported-app", { name: "${APP}", org: "renewa" }, { import: "${APP}" });\n`,
    );
    try {
      const res = keep(await p.fails(STACK, ["preview"]));
      expect(res.output).toContain(`FlyApp "imported-app" cannot be imported`);
      expect(res.output).toContain("run `pulumi up`: an existing app of that name in the stack's org is adopted");
    } finally {
      p.ws.writeFile("src/index.ts", index);
    }
    expect((await p.ws.exportStack(STACK)).deployment.resources).toEqual(before.deployment.resources);
  });

  it("no credential and no app secret appears in plain text in the state, the CLI's output or PULUMI_HOME", async () => {
    const exported = JSON.stringify(await p.ws.exportStack(STACK));
    const folder = p.fakes.infisical.state.folder("2f1c6a3e-5b7d-4e8f-9a0b-1c2d3e4f5a6b", "dev", "/");
    const secrets = [...Object.values(SENTINELS), ...[...folder].filter(([k]) => /URL$|KEY|TOKEN|PASSWORD|SECRET/.test(k) && k !== "UPSTASH_REDIS_REST_URL").map(([, v]) => v)];
    expect(secrets.length).toBeGreaterThan(8);
    const files = [...filesUnder(p.ws.home), ...filesUnder(p.ws.backend)];
    for (const secret of secrets) {
      expect(exported, "stack export").not.toContain(secret);
      for (const text of outputs) expect(text, "CLI output").not.toContain(secret);
      for (const f of files) expect(f.text, f.file).not.toContain(secret);
    }
  });
});
