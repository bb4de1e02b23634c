/**
 * Writes the infrastructure-derived secrets (DATABASE_URL, DATABASE_URL_MIGRATION, TIGRIS_*, UPSTASH_REDIS_*) into
 * the environment's Infisical folder, and checks that the human-managed ones are there. State keeps each written
 * name with a sha256 of its value, never a value: the values arrive as a secret input and leave only to Infisical.
 *
 * `delete` removes only the names this resource wrote. They are derived, so `pulumi up` can always write them again,
 * and leaving them behind would keep credentials of databases that no longer exist. Human-managed secrets are never
 * touched.
 */
import * as pulumi from "@pulumi/pulumi";
import { SecretLocation, createInfisicalClient } from "../clients/infisical";
import { changedKeys, isUnknown, sha256 } from "../dynamic-support";

/** Secrets people manage in Infisical; Pulumi only checks that they exist. */
export const HUMAN_MANAGED_SECRETS = ["JWT_SECRET", "ENCRYPTION_KEY", "SENTRY_DSN_BACKEND", "BIRD_API_KEY", "HUBSPOT_CLIENT_SECRET", "SEVDESK_API_TOKEN"];

interface Inputs {
  stack: string;
  project: string;
  environment: string;
  secretPath: string;
  secrets: Record<string, string>;
  requiredSecrets: string[];
}

interface Outputs extends Omit<Inputs, "secrets"> {
  projectId: string;
  /** Name → sha256 of name and value, for every secret written. */
  secretHashes: Record<string, string>;
  /** One hash over all of them: changes exactly when a written value changes. */
  secretsHash: string;
}

export interface InfisicalSecretsArgs {
  /** Infisical project slug or id. @example "renewa-one" */
  project: pulumi.Input<string>;
  /** Environment slug. @example "prod" */
  environment: pulumi.Input<string>;
  /** Folder. @default "/" */
  secretPath?: pulumi.Input<string>;
  /** Values to write, by name; always stored as a secret. */
  secrets: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Names that must already exist. @default HUMAN_MANAGED_SECRETS */
  requiredSecrets?: pulumi.Input<string[]>;
}

const KEY = /^[A-Z_][A-Z0-9_]*$/;
const LOCATION: Array<keyof Inputs> = ["project", "environment", "secretPath"];

function hashes(secrets: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(secrets).sort().map((k) => [k, sha256(`${k}=${secrets[k]}`)]));
}

function combined(secretHashes: Record<string, string>): string {
  return sha256(Object.entries(secretHashes).map(([k, h]) => `${k}:${h}`).join("\n"));
}

class InfisicalSecretsProvider implements pulumi.dynamic.ResourceProvider {
  async check(_olds: Partial<Inputs>, news: Partial<Inputs>): Promise<pulumi.dynamic.CheckResult<Inputs>> {
    const inputs: Inputs = {
      stack: news.stack ?? "",
      project: news.project ?? "",
      environment: news.environment ?? "",
      secretPath: news.secretPath ?? "/",
      secrets: news.secrets ?? {},
      requiredSecrets: news.requiredSecrets ?? HUMAN_MANAGED_SECRETS,
    };
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!inputs.project) failures.push({ property: "project", reason: "an Infisical project slug or id is required" });
    if (!isUnknown(inputs.environment) && !/^[a-z0-9-]+$/.test(inputs.environment)) failures.push({ property: "environment", reason: `"${inputs.environment}" is not an Infisical environment slug` });
    if (!isUnknown(inputs.secretPath) && !inputs.secretPath.startsWith("/")) failures.push({ property: "secretPath", reason: `"${inputs.secretPath}" must start with "/"` });
    // During preview the whole map may still be unknown.
    const names = typeof inputs.secrets === "object" ? Object.keys(inputs.secrets) : [];
    const bad = names.filter((k) => !KEY.test(k));
    if (bad.length) failures.push({ property: "secrets", reason: `names must be UPPER_SNAKE_CASE: ${bad.join(", ")}` });
    const both = names.filter((k) => !isUnknown(inputs.requiredSecrets) && inputs.requiredSecrets.includes(k));
    if (both.length) failures.push({ property: "secrets", reason: `${both.join(", ")} are human-managed (requiredSecrets); Pulumi must not write them` });
    // Checked here as well as on create/update so that a missing secret already fails `pulumi preview`.
    if (failures.length === 0 && !isUnknown([inputs.project, inputs.environment, inputs.secretPath, inputs.requiredSecrets])) {
      await assertRequired(inputs);
    }
    return { inputs, failures };
  }

  async diff(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.DiffResult> {
    const replaces = changedKeys<Inputs>(olds, news, LOCATION);
    const valuesChanged = isUnknown(news.secrets) || JSON.stringify(hashes(news.secrets)) !== JSON.stringify(olds.secretHashes);
    const changes = valuesChanged || replaces.length > 0 || changedKeys(olds, news, ["requiredSecrets"]).length > 0;
    // Delete first: a project given by slug and then by id (or the reverse) is the same folder, and deleting the old
    // resource after creating the new one would remove the secrets just written.
    return { changes, replaces, ...(replaces.length > 0 ? { deleteBeforeReplace: true } : {}) };
  }

  async create(inputs: Inputs): Promise<pulumi.dynamic.CreateResult<Outputs>> {
    const loc = await assertRequired(inputs);
    await createInfisicalClient().upsertSecrets(loc, inputs.secrets);
    return { id: `${loc.projectId}/${loc.environment}${loc.secretPath}`, outs: outputs(inputs, loc.projectId) };
  }

  async read(id: string, props: Outputs): Promise<pulumi.dynamic.ReadResult<Outputs>> {
    // A written secret someone deleted drops out of the hashes, so the next `up` sees a diff and writes it again.
    const loc = { projectId: props.projectId, environment: props.environment, secretPath: props.secretPath };
    const present = new Set(await createInfisicalClient().listSecretKeys(loc));
    const secretHashes = Object.fromEntries(Object.entries(props.secretHashes).filter(([k]) => present.has(k)));
    return { id, props: { ...props, secretHashes, secretsHash: combined(secretHashes) } };
  }

  async update(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.UpdateResult<Outputs>> {
    const loc = await assertRequired(news);
    const client = createInfisicalClient();
    const next = hashes(news.secrets);
    const changed = Object.keys(news.secrets).filter((k) => olds.secretHashes[k] !== next[k]);
    await client.upsertSecrets(loc, Object.fromEntries(changed.map((k) => [k, news.secrets[k]])));
    const dropped = Object.keys(olds.secretHashes).filter((k) => !(k in news.secrets));
    if (dropped.length) await client.deleteSecrets(loc, dropped);
    return { outs: outputs(news, loc.projectId) };
  }

  async delete(_id: string, props: Outputs): Promise<void> {
    const loc = { projectId: props.projectId, environment: props.environment, secretPath: props.secretPath };
    await createInfisicalClient().deleteSecrets(loc, Object.keys(props.secretHashes));
  }
}

function outputs(inputs: Inputs, projectId: string): Outputs {
  const { secrets, ...rest } = inputs;
  const secretHashes = hashes(secrets);
  return { ...rest, projectId, secretHashes, secretsHash: combined(secretHashes) };
}

/** Resolves the folder and fails, naming every missing human-managed secret (never a value), if any is absent. */
async function assertRequired(inputs: Inputs): Promise<SecretLocation> {
  const client = createInfisicalClient();
  const loc = { projectId: await client.resolveProjectId(inputs.project), environment: inputs.environment, secretPath: inputs.secretPath };
  const present = new Set(await client.listSecretKeys(loc));
  const missing = inputs.requiredSecrets.filter((name) => !present.has(name));
  if (missing.length > 0) {
    throw new Error(
      [
        `Infisical is missing ${missing.length} required secret(s) for stack "${inputs.stack}": ${missing.join(", ")}`,
        `  where: project "${inputs.project}" (id ${loc.projectId}), environment "${loc.environment}", path "${loc.secretPath}"`,
        "These are managed by people, not by Pulumi. Add each one in the Infisical UI (same project, environment and folder) or with",
        `  infisical secrets set <NAME>=<value> --projectId ${loc.projectId} --env ${loc.environment} --path ${loc.secretPath}`,
        "then run `pulumi up` again.",
      ].join("\n"),
    );
  }
  return loc;
}

const provider = new InfisicalSecretsProvider();

/** Infrastructure-derived secrets in one Infisical folder, plus a check for the human-managed ones. */
export class InfisicalSecrets extends pulumi.dynamic.Resource {
  declare readonly projectId: pulumi.Output<string>;
  declare readonly secretHashes: pulumi.Output<Record<string, string>>;
  declare readonly secretsHash: pulumi.Output<string>;

  constructor(name: string, args: InfisicalSecretsArgs, opts: pulumi.CustomResourceOptions = {}) {
    const props = {
      stack: pulumi.getStack(),
      project: args.project,
      environment: args.environment,
      secretPath: args.secretPath,
      // Secret whatever the caller passed, so the engine encrypts the values in the stored inputs.
      secrets: pulumi.secret(args.secrets),
      requiredSecrets: args.requiredSecrets,
      projectId: undefined,
      secretHashes: undefined,
      secretsHash: undefined,
    };
    super(provider, name, props, opts, "infisical", "Secrets");
  }
}
