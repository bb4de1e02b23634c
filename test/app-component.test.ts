// The App component under Pulumi's mock runtime: children, names, parents, protect, secret outputs and the rules on
// `image` and `stagedSecrets`. The monitor's RegisterResource requests are recorded to see the options the engine gets.
// Provider serialization is stubbed here (vitest's module transform makes closures unserializable); the release,
// app and secrets tests serialize the real providers through the engine harness.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AppArgs } from "../components/app";
import { imageRef } from "./fakes/fly-machines";

interface Registration {
  type: string;
  name: string;
  parent: string;
  protect: boolean;
  secretOutputs: string[];
  dependencies: string[];
  inputs: Record<string, unknown>;
}

let registrations: Registration[] = [];
let App: typeof import("../components/app").App;

beforeAll(async () => {
  const closure = require("@pulumi/pulumi/runtime/closure/serializeClosure");
  closure.serializeFunction = async () => ({ text: "exports.handler = () => ({});", containsSecrets: false });
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => ({ id: `${args.name}-id`, state: { ...args.inputs, digest: "sha256:mock", history: ["sha256:mock"] } }),
      call: (args) => {
        throw new Error(`Mock call not implemented: ${args.token}`);
      },
    },
    "renewa-platform",
    "staging",
    true,
  );
  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: any) => {
    registrations.push({
      type: req.getType(),
      name: req.getName(),
      parent: req.getParent(),
      protect: req.getProtect(),
      secretOutputs: req.getAdditionalsecretoutputsList(),
      dependencies: req.getDependenciesList(),
      inputs: req.getObject()?.toJavaScript() ?? {},
    });
    return register(req, callback);
  };
  ({ App } = await import("../components/app"));
});

beforeEach(() => {
  registrations = [];
});

const promiseOf = <T>(o: pulumi.Output<T>) => (o as unknown as { promise(): Promise<T> }).promise();

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

async function settle(app: InstanceType<typeof App>) {
  await Promise.all([app.urn, app.flyApp.urn, app.release?.urn, app.secrets?.urn].filter(Boolean).map((u) => promiseOf(u!)));
}

describe("App", () => {
  it("declares the app, staged secrets and release as prefixed children, with the migration URL a secret output", async () => {
    // Stands in for the Infisical sync; CustomResource is abstract only in its type.
    const Custom = pulumi.CustomResource as unknown as new (t: string, n: string, p: object) => pulumi.CustomResource;
    const sync = new Custom("test:index:Sync", "sync", {});
    const app = new App("pr-9", args({ stagedSecrets: { DATABASE_URL: pulumi.secret("postgres://x") }, migrationDatabaseUrl: "postgres://m", releaseDependsOn: [sync] }));
    await settle(app);
    const parent = await promiseOf(app.urn);
    const children = registrations.filter((r) => r.parent === parent);
    expect(children.map((r) => [r.name, r.type]).sort()).toEqual([
      ["pr-9-app", "pulumi-nodejs:dynamic/fly:App"],
      ["pr-9-release", "pulumi-nodejs:dynamic/fly:Release"],
      ["pr-9-secrets", "pulumi-nodejs:dynamic/fly:AppSecrets"],
    ]);
    const release = children.find((r) => r.name === "pr-9-release")!;
    expect(release.secretOutputs).toContain("migrationDatabaseUrl");
    expect(release.dependencies).toEqual(expect.arrayContaining([await promiseOf(sync.urn), await promiseOf(app.secrets!.urn)]));
    expect(await promiseOf(app.appUrl)).toBe("https://renewa-app-pr-9.fly.dev");
    expect(await promiseOf(app.imageRef)).toBe(imageRef(2));
    expect(await promiseOf(app.history)).toEqual(["sha256:mock"]);
  });

  it("protects the Fly app when asked, and stages no secrets outside PR apps", async () => {
    const app = new App("production", args({ appName: "renewa-app-production", protect: true }));
    await settle(app);
    expect(registrations.find((r) => r.name === "production-app")!.protect).toBe(true);
    expect(registrations.find((r) => r.name === "production-release")!.protect).toBe(false);
    expect(registrations.some((r) => r.name === "production-secrets")).toBe(false);
    expect(() => new App("staging", args({ appName: "renewa-app-staging", stagedSecrets: { A: "b" } }))).toThrow(
      /`stagedSecrets` is only allowed on PR preview apps.*Infisical/,
    );
  });

  it("declares no release without an image, so an up never changes the running image by itself", async () => {
    const app = new App("dev", args({ appName: "renewa-app-development", image: undefined }));
    await settle(app);
    expect(app.release).toBeUndefined();
    expect(registrations.map((r) => r.name).sort()).toEqual(["dev", "dev-app"]);
    expect(await promiseOf(app.digest)).toBeUndefined();
    expect(await promiseOf(app.history)).toEqual([]);
  });
});
