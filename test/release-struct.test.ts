// What the real dynamic-provider host does with every result of the Release and FlyApp providers: converts it with
// google-protobuf's `Struct.fromJavaScript`, which throws on an `undefined` anywhere in it. The providers run
// in this process (deserialized from their stored text, as the host does) so nothing strips undefined on the way.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as path from "path";
import { serializeResource } from "./harness/engine";
import { FlyMachinesFake, createFlyMachinesFake, flyProviderEnv, imageRef, sampleMachineSettings } from "./fakes/fly-machines";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Struct } = require("google-protobuf/google/protobuf/struct_pb");
const pulumiDir = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
const requireFromString = require(require.resolve("require-from-string", { paths: [pulumiDir] }));

const TOKEN = "fm2_struct_token";
const APP = "renewa-app-pr-51";
let fly: FlyMachinesFake;
let release: any;
let flyApp: any;
let releaseNews: Record<string, any>;
const saved = { ...process.env };

/** The host's conversion: throws on undefined, and what comes back is what the engine stores. */
const viaStruct = (value: object) => Struct.fromJavaScript(value).toJavaScript();

beforeAll(async () => {
  const r = serializeResource({
    module: "src/providers/release.ts",
    exportName: "Release",
    name: "struct-release",
    args: { app: APP, image: imageRef(2), machine: sampleMachineSettings, machineCount: 2 },
  });
  const a = serializeResource({ module: "src/providers/fly-app.ts", exportName: "FlyApp", name: "struct-app", args: { name: APP, org: "renewa" } });
  release = requireFromString(r.provider).handler();
  flyApp = requireFromString(a.provider).handler();
  releaseNews = r.news;
  fly = await createFlyMachinesFake({ secondMs: 1, bootMs: 5, healthMs: 5, token: TOKEN });
  Object.assign(process.env, flyProviderEnv(fly, TOKEN));
}, 60_000);

afterAll(async () => {
  process.env = saved;
  await fly.stop();
});

describe("provider results survive the engine's Struct conversion", () => {
  it("FlyApp: check, create and read", async () => {
    const checked = await flyApp.check({}, { name: APP, org: "renewa" });
    viaStruct(checked.inputs);
    const created = await flyApp.create(checked.inputs);
    expect(viaStruct(created.outs)).toEqual(created.outs);
    const read = await flyApp.read(APP, created.outs);
    expect(viaStruct(read.props)).toEqual(created.outs);
  });

  it("Release: check, a first create (no previous digest), read, a no-op update, and a release with no image", async () => {
    for (let i = 0; i < 2; i++) fly.addMachine(APP, { image: imageRef(1), metadata: { fly_platform_version: "v2", fly_process_group: "app" } });
    const checked = await release.check({}, releaseNews);
    const inputs = viaStruct(checked.inputs);
    const created = await release.create(inputs);
    const outs = viaStruct(created.outs);
    expect(outs).toMatchObject({ digest: imageRef(2).split("@")[1], releaseVersion: 1, drift: [] });
    const read = await release.read(APP, outs);
    expect(viaStruct(read.props)).toEqual(outs);
    const again = await release.update(APP, outs, inputs);
    viaStruct(again.outs);

    fly.addApp("renewa-app-pr-52");
    const bare = await release.check({}, { ...releaseNews, app: "renewa-app-pr-52", image: undefined });
    const kept = await release.create(viaStruct(bare.inputs));
    expect(viaStruct(kept.outs)).not.toHaveProperty("digest");
  });
});
