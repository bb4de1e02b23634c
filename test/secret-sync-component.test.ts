/**
 * The SecretSync component under Pulumi's mock runtime: its three children (secrets, app connection, sync), how
 * they are wired (connection id, secretsHash → secretsVersion, the Fly app as a dependency), that the secret map is
 * always a secret input, and outputs awaited properly.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SecretSyncArgs } from "../components/secret-sync";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const TOKEN = "sentinel-component-infisical-token-3f7d";

const registered: Array<{ type: string; name: string; inputs: Record<string, any> }> = [];
const options: Array<{ name: string; parent?: pulumi.Resource; dependsOn?: unknown }> = [];
let SecretSync: typeof import("../components/secret-sync").SecretSync;
let validateSecretSyncArgs: typeof import("../components/secret-sync").validateSecretSyncArgs;

function outputsFor(type: string, inputs: Record<string, any>): Record<string, any> {
  const { __provider: _p, secrets: _s, ...rest } = inputs;
  switch (type) {
    case "pulumi-nodejs:dynamic/infisical:Secrets":
      return { ...rest, projectId: "p-1", secretHashes: {}, secretsHash: "sha256:secrets-v1" };
    case "pulumi-nodejs:dynamic/infisical:FlyConnection":
      return { ...rest, connectionId: "conn-1", credentialsHash: "sha256:x" };
    case "pulumi-nodejs:dynamic/infisical:FlySync":
      return { ...rest, syncId: "sync-1", syncStatus: "succeeded" };
    default:
      return rest;
  }
}

beforeAll(async () => {
  process.env.INFISICAL_TOKEN = TOKEN;
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: outputsFor(args.type, args.inputs) };
      },
      call(args) {
        throw new Error(`Mock call not implemented: ${args.token}`);
      },
    },
    "renewa-platform",
    "production",
    false,
  );
  ({ SecretSync, validateSecretSyncArgs } = await import("../components/secret-sync"));
});

beforeEach(() => {
  registered.length = 0;
  options.length = 0;
});

function promiseOf<T>(o: pulumi.Output<T>): Promise<T> {
  return (o as unknown as { promise(): Promise<T> }).promise();
}

const base: SecretSyncArgs = {
  appName: "renewa-app-production",
  project: "renewa-one",
  environment: "prod",
  secretPath: "/",
  secrets: { DATABASE_URL: "postgres://SENTINELVALUE", TIGRIS_SECRET_ACCESS_KEY: "tsec_SENTINELVALUE" },
};

async function build(name: string, args: SecretSyncArgs) {
  const record: pulumi.ResourceTransformation = ({ name: n, opts }) => {
    options.push({ name: n, parent: opts.parent, dependsOn: opts.dependsOn });
    return undefined;
  };
  const sync = new SecretSync(name, args, { transformations: [record] });
  const [syncId, secretsHash] = await Promise.all([promiseOf(sync.syncId), promiseOf(sync.secretsHash), promiseOf(sync.urn)]);
  return { sync, syncId, secretsHash };
}

describe("validateSecretSyncArgs", () => {
  it("names each bad field", () => {
    expect(validateSecretSyncArgs(base)).toEqual([]);
    expect(validateSecretSyncArgs({ ...base, appName: "Renewa App", environment: "Prod", secretPath: "x", requiredSecrets: ["jwt"] })).toEqual([
      '`appName` "Renewa App" is not a Fly app name',
      '`environment` "Prod" is not an Infisical environment slug',
      '`secretPath` "x" must start with "/"',
      "`requiredSecrets` must be UPPER_SNAKE_CASE names: jwt",
    ]);
    expect(() => new SecretSync("bad", { ...base, secretPath: "x" })).toThrow(/SecretSync "bad":\n {2}- `secretPath`/);
  });
});

describe("SecretSync", () => {
  it("writes the secrets, connects Fly, and syncs after both and after the app", async () => {
    const app = new (class extends pulumi.CustomResource {})("fly:index:App", "the-app", {});
    const { sync, syncId, secretsHash } = await build("prod-secrets", { ...base, dependsOn: [app] });
    // Registration order depends on when each child's inputs resolve, so compare by name.
    const children = registered.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/")).sort((a, b) => a.name.localeCompare(b.name));
    expect(children.map((r) => [r.type, r.name])).toEqual([
      ["pulumi-nodejs:dynamic/infisical:FlyConnection", "prod-secrets-connection"],
      ["pulumi-nodejs:dynamic/infisical:Secrets", "prod-secrets-secrets"],
      ["pulumi-nodejs:dynamic/infisical:FlySync", "prod-secrets-sync"],
    ]);
    const [connection, secrets, syncInputs] = children.map((c) => c.inputs);
    expect(secrets).toMatchObject({ stack: "production", project: "renewa-one", environment: "prod", secretPath: "/" });
    expect(secrets.requiredSecrets).toEqual(["JWT_SECRET", "ENCRYPTION_KEY", "SENTRY_DSN_BACKEND", "BIRD_API_KEY", "HUBSPOT_CLIENT_SECRET", "SEVDESK_API_TOKEN"]);
    expect(connection).toMatchObject({ name: "renewa-app-production" });
    expect(syncInputs).toMatchObject({ name: "renewa-app-production", appName: "renewa-app-production", connectionId: "conn-1", secretsVersion: "sha256:secrets-v1", environment: "prod" });
    const childOptions = options.filter((o) => o.name.startsWith("prod-secrets-"));
    expect(childOptions.map((o) => o.name)).toEqual(["prod-secrets-secrets", "prod-secrets-connection", "prod-secrets-sync"]);
    for (const o of childOptions) expect(o.parent).toBe(sync);
    expect(childOptions[2].dependsOn).toEqual([app]);
    expect({ syncId, secretsHash }).toEqual({ syncId: "sync-1", secretsHash: "sha256:secrets-v1" });
  });

  it("sends the secret map as a secret even when the caller passed plain strings, and keeps tokens out of providers", async () => {
    await build("stg-secrets", { ...base, requiredSecrets: ["JWT_SECRET"] });
    const secrets = registered.find((r) => r.name === "stg-secrets-secrets")!.inputs;
    expect(secrets.secrets[SECRET_SIG]).toBeDefined();
    expect(secrets.requiredSecrets).toEqual(["JWT_SECRET"]);
    for (const r of registered.filter((x) => x.inputs.__provider)) {
      expect(r.inputs.__provider).not.toContain(TOKEN);
      expect(r.inputs.__provider).not.toContain("SENTINELVALUE");
    }
    for (const r of registered.filter((x) => x.name !== "stg-secrets-secrets")) expect(JSON.stringify(r.inputs)).not.toContain("SENTINELVALUE");
  });
});
