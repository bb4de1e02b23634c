/**
 * A GitHub Actions environment secret whose value comes from the environment of the `pulumi up` process, sealed with
 * the environment's public key (libsodium sealed box) and PUT through GitHub's REST API.
 *
 * Why not `github.ActionsEnvironmentSecret`: its value must be a program input, so it would have to be read from
 * config or from the program's environment, land in state (encrypted, but there), and a run without the variable
 * would either fail evaluation or blank the secret. Here the program passes only names; the value is read at call
 * time, only a salted hash is stored (to notice changes), and a run without the variable leaves the secret alone.
 *
 * Value rules: create needs the variable (clear error naming it); diff and update compare the variable's hash with
 * state when it is set and change nothing when it is not; delete is safe to repeat.
 */
import * as pulumi from "@pulumi/pulumi";
import { githubHttp } from "../clients/github";
import { isApiError, requireEnv } from "../clients/http";
import { assertCiSecretName } from "../github-ci-secrets";

export interface GithubEnvironmentSecretArgs {
  /** Repository owner (user or organization). Replaces on change. */
  owner: pulumi.Input<string>;
  /** Repository name. Replaces on change. */
  repository: pulumi.Input<string>;
  /** GitHub environment the secret belongs to; it must exist. Replaces on change. */
  environment: pulumi.Input<string>;
  /** Secret name; only CI-infrastructure names are allowed (see src/github-ci-secrets.ts). Replaces on change. */
  secretName: pulumi.Input<string>;
  /** Environment variable of the `pulumi up` process that holds the value. Defaults to `secretName`. */
  sourceVariable?: pulumi.Input<string>;
}

interface Inputs {
  owner: string;
  repository: string;
  environment: string;
  secretName: string;
  sourceVariable: string;
}

interface Outputs extends Inputs {
  /** Random per secret, so equal values in two secrets do not show as equal hashes. */
  salt: string;
  /** sha256(salt + value): lets diff notice a new value without storing it. */
  valueHash: string;
}

type Failures = Array<{ property: string; reason: string }>;

function secretsPath(i: Inputs): string {
  return `/repos/${encodeURIComponent(i.owner)}/${encodeURIComponent(i.repository)}/environments/${encodeURIComponent(i.environment)}/secrets`;
}

// Node built-ins and libsodium are required inside functions: the serializer then records a `require`, whereas a
// module-level import can be captured by value when the module was loaded through a transform (vitest), and fail.
function hashValue(salt: string, value: string): string {
  const crypto: typeof import("crypto") = require("crypto");
  return crypto.createHash("sha256").update(salt).update(value).digest("hex");
}

function newSalt(): string {
  const crypto: typeof import("crypto") = require("crypto");
  return crypto.randomBytes(16).toString("hex");
}

function describe(i: Inputs): string {
  return `GitHub environment secret ${i.secretName} in ${i.owner}/${i.repository} (environment "${i.environment}")`;
}

function validate(news: Record<string, unknown>): Failures {
  const failures: Failures = [];
  for (const key of ["owner", "repository", "environment"]) {
    if (typeof news[key] !== "string" || !news[key]) failures.push({ property: key, reason: `\`${key}\` must be a non-empty string` });
  }
  const name = news.secretName;
  try {
    assertCiSecretName(String(name));
  } catch (err) {
    failures.push({ property: "secretName", reason: (err as Error).message });
  }
  if (typeof news.sourceVariable !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(news.sourceVariable)) {
    failures.push({ property: "sourceVariable", reason: `\`sourceVariable\` ${JSON.stringify(news.sourceVariable)} must be an environment variable name` });
  }
  return failures;
}

/** Seals `value` for GitHub and stores it; returns nothing about the value. */
async function putSecret(i: Inputs, value: string): Promise<void> {
  const http = githubHttp();
  const key = await http.request<{ key_id: string; key: string }>("GET", `${secretsPath(i)}/public-key`);
  // libsodium also fills in its functions only after `ready`.
  const sodium: typeof import("libsodium-wrappers") = require("libsodium-wrappers");
  await sodium.ready;
  const sealed = sodium.crypto_box_seal(sodium.from_string(value), sodium.from_base64(key.body.key, sodium.base64_variants.ORIGINAL));
  await http.request("PUT", `${secretsPath(i)}/${encodeURIComponent(i.secretName)}`, {
    body: { encrypted_value: sodium.to_base64(sealed, sodium.base64_variants.ORIGINAL), key_id: key.body.key_id },
  });
}

/** Stateless: every call builds its GitHub client from GITHUB_TOKEN / GITHUB_API_URL at call time. */
class GithubEnvironmentSecretProvider implements pulumi.dynamic.ResourceProvider<Inputs, Outputs> {
  async check(_olds: Inputs, news: Inputs): Promise<pulumi.dynamic.CheckResult<Inputs>> {
    const inputs: Inputs = {
      owner: news.owner,
      repository: news.repository,
      environment: news.environment,
      secretName: news.secretName,
      sourceVariable: news.sourceVariable || news.secretName,
    };
    const failures = validate(inputs as unknown as Record<string, unknown>);
    return failures.length ? { failures } : { inputs };
  }

  async diff(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.DiffResult> {
    const replaces = (["owner", "repository", "environment", "secretName"] as const).filter((k) => olds[k] !== news[k]);
    const value = process.env[news.sourceVariable];
    const valueChanged = !!value && hashValue(olds.salt, value) !== olds.valueHash;
    return { changes: replaces.length > 0 || valueChanged || olds.sourceVariable !== news.sourceVariable, replaces };
  }

  async create(inputs: Inputs): Promise<pulumi.dynamic.CreateResult<Outputs>> {
    const value = requireEnv(inputs.sourceVariable, `set ${describe(inputs)}`);
    await putSecret(inputs, value);
    const salt = newSalt();
    return { id: `${inputs.owner}/${inputs.repository}/${inputs.environment}/${inputs.secretName}`, outs: { ...inputs, salt, valueHash: hashValue(salt, value) } };
  }

  async update(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.UpdateResult<Outputs>> {
    const value = process.env[news.sourceVariable];
    // Without the variable the secret in GitHub stays as it is; the recorded hash keeps describing it.
    if (!value) return { outs: { ...news, salt: olds.salt, valueHash: olds.valueHash } };
    if (hashValue(olds.salt, value) !== olds.valueHash) await putSecret(news, value);
    return { outs: { ...news, salt: olds.salt, valueHash: hashValue(olds.salt, value) } };
  }

  /** Refresh: a secret deleted in GitHub reads as gone, so the next `up` creates it again. */
  async read(id: string, props?: Outputs): Promise<pulumi.dynamic.ReadResult<Outputs>> {
    if (!props?.secretName) throw new Error(`GithubEnvironmentSecret ${id} cannot be imported: declare it and let \`pulumi up\` write it.`);
    try {
      await githubHttp().request("GET", `${secretsPath(props)}/${encodeURIComponent(props.secretName)}`);
      return { id, props };
    } catch (err) {
      if (isApiError(err, 404)) return { id: "" };
      throw err;
    }
  }

  async delete(_id: string, props: Outputs): Promise<void> {
    try {
      await githubHttp().request("DELETE", `${secretsPath(props)}/${encodeURIComponent(props.secretName)}`);
    } catch (err) {
      if (!isApiError(err, 404)) throw err;
    }
  }
}

const provider = new GithubEnvironmentSecretProvider();

/**
 * A CI-infrastructure secret of a GitHub environment, valued from the deploying process's environment.
 *
 * @example
 * new GithubEnvironmentSecret("prod-fly-token", {
 *   owner: "renewa", repository: "renewa-one", environment: "production", secretName: "FLY_API_TOKEN",
 * });
 */
export class GithubEnvironmentSecret extends pulumi.dynamic.Resource {
  declare readonly owner: pulumi.Output<string>;
  declare readonly repository: pulumi.Output<string>;
  declare readonly environment: pulumi.Output<string>;
  declare readonly secretName: pulumi.Output<string>;
  declare readonly sourceVariable: pulumi.Output<string>;
  declare readonly valueHash: pulumi.Output<string>;

  constructor(name: string, args: GithubEnvironmentSecretArgs, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, { ...args, salt: undefined, valueHash: undefined }, opts, "github", "EnvironmentSecret");
  }
}
