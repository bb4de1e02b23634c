// The App component under Pulumi's mock runtime: children, names, parents, protect, secret outputs and the rules on
// `image` and `stagedSecrets`. The monitor's RegisterResource requests are recorded to see the options the engine gets.
// Provider serialization is stubbed here (vitest's module transform makes closures unserializable); the release,
// app and secrets tests serialize the real providers through the engine harness.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import type { AppArgs } from "../components/app";
import { imageRef } from "./fakes/fly-machines";
import { promiseOf, settle, useRecorder } from "./harness/resource-recorder";

const recorder = useRecorder({ stack: "staging", preview: true, outputs: () => ({ digest: "sha256:mock", history: ["sha256:mock"] }) });
let App: typeof import("../components/app").App;
beforeAll(async () => {
  const closure = require("@pulumi/pulumi/runtime/closure/serializeClosure");
  closure.serializeFunction = async () => ({ text: "exports.handler = () => ({});", containsSecrets: false });
  ({ App } = await import("../components/app"));
});

function args(overrides: Partial<AppArgs> = {}): AppArgs {
  return {
    appName: "renewa-app-pr-9",
    org: "renewa",
    region: "fra",
    image: imageRef(2),
    machine: { cpuKind: "shared", cpus: 1, memoryMb: 512 },
    machineCount: 2,
    strategy: "rolling",
    maxUnavailable: 1,
    healthCheck: { path: "/health", intervalSeconds: 15, timeoutSeconds: 2, gracePeriodSeconds: 10 },
    autoStop: "stop",
    minMachinesRunning: 1,
    env: { NODE_ENV: "production" },
    protect: false,
    ...overrides,
  };
}

describe("App", () => {
  it("declares the app, staged secrets and release as prefixed children; no connection string goes to the release", async () => {
    // Stands in for the Infisical sync; CustomResource is abstract only in its type.
    const Custom = pulumi.CustomResource as unknown as new (t: string, n: string, p: object) => pulumi.CustomResource;
    const sync = new Custom("test:index:Sync", "sync", {});
    const app = new App("pr-9", args({ stagedSecrets: { DATABASE_URL: pulumi.secret("postgres://x") }, releaseDependsOn: [sync] }));
    await settle(app);
    const parent = await promiseOf(app.urn);
    const children = recorder.registrations.filter((r) => r.parent === parent);
    expect(children.map((r) => [r.name, r.type]).sort()).toEqual([
      ["pr-9-app", "pulumi-nodejs:dynamic/fly:App"],
      ["pr-9-release", "pulumi-nodejs:dynamic/fly:Release"],
      ["pr-9-secrets", "pulumi-nodejs:dynamic/fly:AppSecrets"],
    ]);
    const release = children.find((r) => r.name === "pr-9-release")!;
    const { __provider: _text, ...inputs } = release.inputs;
    expect(JSON.stringify(inputs)).not.toContain("postgres://");
    expect(release.dependencies).toEqual(expect.arrayContaining([await promiseOf(sync.urn), await promiseOf(app.secrets!.urn)]));
    expect(await promiseOf(app.appUrl)).toBe("https://renewa-app-pr-9.fly.dev");
    expect(await promiseOf(app.imageRef)).toBe(imageRef(2));
    expect(await promiseOf(app.history)).toEqual(["sha256:mock"]);
  });

  it("protects the Fly app when asked, and stages no secrets outside PR apps", async () => {
    const app = new App("production", args({ appName: "renewa-app-production", protect: true }));
    await settle(app);
    expect(recorder.named("production-app").protect).toBe(true);
    expect(recorder.named("production-release").protect).toBe(false);
    expect(recorder.registrations.some((r) => r.name === "production-secrets")).toBe(false);
    expect(() => new App("staging", args({ appName: "renewa-app-staging", stagedSecrets: { A: "b" } }))).toThrow(
      /`stagedSecrets` is only allowed on PR preview apps.*Infisical/,
    );
  });

  it("declares no release without an image, so an up never changes the running image by itself", async () => {
    const app = new App("dev", args({ appName: "renewa-app-development", image: undefined }));
    await settle(app);
    expect(app.release).toBeUndefined();
    expect(recorder.registrations.map((r) => r.name).sort()).toEqual(["dev", "dev-app"]);
    expect(await promiseOf(app.digest)).toBeUndefined();
    expect(await promiseOf(app.history)).toEqual([]);
  });
});
