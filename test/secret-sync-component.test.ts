/**
 * The SecretSync component under Pulumi's mock runtime: its three children (secrets, app connection, sync), how
 * they are wired (connection id, secretsHash → secretsVersion, the Fly app as a dependency), that the secret map is
 * always a secret input, and outputs awaited properly.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import type { SecretSyncArgs } from "../components/secret-sync";
import { promiseOf, settle, useRecorder } from "./harness/resource-recorder";

// How the mock monitor sees a secret input: { [SECRET_SIG]: SECRET_VALUE_SIG, value }.
const SECRET_SIG = pulumi.runtime.specialSigKey;
const SECRET_VALUE_SIG = pulumi.runtime.specialSecretSig;
const TOKEN = "sentinel-component-infisical-token-3f7d";

/** What the dynamic providers would return, keyed by their type token; the secret map itself is never an output. */
function outputsFor(type: string): Record<string, unknown> {
  switch (type) {
    case "pulumi-nodejs:dynamic/infisical:Secrets":
      return { secrets: undefined, projectId: "p-1", secretHashes: {}, secretsHash: "sha256:secrets-v1" };
    case "pulumi-nodejs:dynamic/infisical:FlyConnection":
      return { connectionId: "conn-1", credentialsHash: "sha256:x" };
    case "pulumi-nodejs:dynamic/infisical:FlySync":
      return { syncId: "sync-1", syncStatus: "succeeded" };
    default:
      return {};
  }
}

const recorder = useRecorder({ stack: "production", env: { INFISICAL_TOKEN: TOKEN }, outputs: outputsFor });
let SecretSync: typeof import("../components/secret-sync").SecretSync;
let validateSecretSyncArgs: typeof import("../components/secret-sync").validateSecretSyncArgs;
beforeAll(async () => {
  ({ SecretSync, validateSecretSyncArgs } = await import("../components/secret-sync"));
});

const base: SecretSyncArgs = {
  appName: "renewa-app-production",
  project: "renewa-one",
  environment: "prod",
  secretPath: "/",
  secrets: { DATABASE_URL: "postgres://SENTINELVALUE", TIGRIS_SECRET_ACCESS_KEY: "tsec_SENTINELVALUE" },
};

/** Builds the component and waits for it, its children and its outputs. */
async function build(name: string, args: SecretSyncArgs) {
  const sync = new SecretSync(name, args);
  await settle(sync);
  const [syncId, secretsHash, urn] = await Promise.all([promiseOf(sync.syncId), promiseOf(sync.secretsHash), promiseOf(sync.urn)]);
  return { urn, syncId, secretsHash };
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
    const { urn, syncId, secretsHash } = await build("prod-secrets", { ...base, dependsOn: [app] });
    // Registration order depends on when each child's inputs resolve, so compare by name.
    const children = recorder.registrations.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/")).sort((a, b) => a.name.localeCompare(b.name));
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
    for (const c of children) expect(c.parent).toBe(urn);
    // The sync waits for the app (dependsOn) and for the connection and the secrets it reads outputs of.
    const deps = children[2].dependencies;
    expect(deps).toContain(await promiseOf(app.urn));
    expect(deps.map((d) => d.split("::").pop()).sort()).toEqual(["prod-secrets-connection", "prod-secrets-secrets", "the-app"]);
    expect({ syncId, secretsHash }).toEqual({ syncId: "sync-1", secretsHash: "sha256:secrets-v1" });
  });

  it("sends the secret map as a secret even when the caller passed plain strings, and keeps tokens out of providers", async () => {
    await build("stg-secrets", { ...base, requiredSecrets: ["JWT_SECRET"] });
    const secrets = recorder.named("stg-secrets-secrets").inputs;
    expect(secrets.secrets).toEqual({ [SECRET_SIG]: SECRET_VALUE_SIG, value: base.secrets });
    expect(secrets.requiredSecrets).toEqual(["JWT_SECRET"]);
    for (const r of recorder.registrations.filter((x) => x.inputs.__provider)) {
      expect(r.inputs.__provider).not.toContain(TOKEN);
      expect(r.inputs.__provider).not.toContain("SENTINELVALUE");
    }
    for (const r of recorder.registrations.filter((x) => x.name !== "stg-secrets-secrets")) expect(JSON.stringify(r.inputs)).not.toContain("SENTINELVALUE");
  });
});
