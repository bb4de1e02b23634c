/**
 * Infisical's Fly.io app connection: the Fly token Infisical's secret sync uses to set the app's secrets and, with
 * autoRedeploy, restart its machines. The token is FLY_API_TOKEN as it is when Pulumi runs; state keeps only the
 * connection id and a sha256 of the token, so a rotated token shows up as a diff and is sent again.
 */
import * as pulumi from "@pulumi/pulumi";
import { requireEnv } from "../clients/http";
import { createInfisicalClient } from "../clients/infisical";
import { changedKeys, sha256 } from "../dynamic-support";

interface Inputs {
  stack: string;
  name: string;
  description: string;
}

interface Outputs extends Inputs {
  connectionId: string;
  /** sha256 of the token sent. Infisical's own `credentialsHash` is computed server-side and cannot be compared. */
  credentialsHash: string;
}

export interface InfisicalFlyConnectionArgs {
  /** Connection name, unique in the Infisical organization; an existing one is adopted. @example "renewa-app-production" */
  name: pulumi.Input<string>;
  /** @default "Managed by Pulumi (renewa-platform)" */
  description?: pulumi.Input<string>;
}

/** Infisical accepts only macaroon tokens for Fly, in the `FlyV1 …` form. */
function flyConnectionToken(): string {
  const token = requireEnv("FLY_API_TOKEN", "give Infisical's Fly.io app connection a token").trim();
  if (token.startsWith("FlyV1 ")) return token;
  if (/^fm\d_/.test(token)) return `FlyV1 ${token}`;
  throw new Error("FLY_API_TOKEN is not a macaroon token; Infisical's Fly.io app connection accepts only those (`FlyV1 fm2_…`). Create one with `fly tokens create deploy -a <app>` and export it as FLY_API_TOKEN.");
}

class InfisicalFlyConnectionProvider implements pulumi.dynamic.ResourceProvider {
  async check(_olds: Partial<Inputs>, news: Partial<Inputs>): Promise<pulumi.dynamic.CheckResult<Inputs>> {
    const inputs: Inputs = {
      stack: news.stack ?? "",
      name: news.name ?? "",
      description: news.description ?? "Managed by Pulumi (renewa-platform)",
    };
    const failures = /^[a-z0-9-]{1,64}$/.test(inputs.name)
      ? []
      : [{ property: "name", reason: `"${inputs.name}" must be lowercase letters, digits and dashes` }];
    return { inputs, failures };
  }

  async diff(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.DiffResult> {
    // A token that is not available (or not usable) here fails on create/update with a clear message instead.
    const token = process.env.FLY_API_TOKEN ? safely(flyConnectionToken) : undefined;
    const rotated = token !== undefined && sha256(token) !== olds.credentialsHash;
    return { changes: rotated || changedKeys(olds, news, ["name", "description"]).length > 0, replaces: [] };
  }

  async create(inputs: Inputs): Promise<pulumi.dynamic.CreateResult<Outputs>> {
    const client = createInfisicalClient();
    const token = flyConnectionToken();
    const existing = await client.getFlyConnectionByName(inputs.name);
    const connection = existing
      ? await client.updateFlyConnection(existing.id, { description: inputs.description, accessToken: token })
      : await client.createFlyConnection(inputs.name, inputs.description, token);
    return { id: connection.id, outs: { ...inputs, connectionId: connection.id, credentialsHash: sha256(token) } };
  }

  async read(id: string, props: Outputs): Promise<pulumi.dynamic.ReadResult<Outputs>> {
    const connection = await createInfisicalClient().getFlyConnection(id);
    return connection ? { id, props: { ...props, name: connection.name } } : { id: "", props };
  }

  async update(id: string, _olds: Outputs, news: Inputs): Promise<pulumi.dynamic.UpdateResult<Outputs>> {
    const token = flyConnectionToken();
    await createInfisicalClient().updateFlyConnection(id, { name: news.name, description: news.description, accessToken: token });
    return { outs: { ...news, connectionId: id, credentialsHash: sha256(token) } };
  }

  async delete(id: string): Promise<void> {
    await createInfisicalClient().deleteFlyConnection(id);
  }
}

function safely(fn: () => string): string | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

const provider = new InfisicalFlyConnectionProvider();

/** An Infisical app connection to Fly.io holding the current FLY_API_TOKEN. */
export class InfisicalFlyConnection extends pulumi.dynamic.Resource {
  declare readonly connectionId: pulumi.Output<string>;
  declare readonly credentialsHash: pulumi.Output<string>;

  constructor(name: string, args: InfisicalFlyConnectionArgs, opts: pulumi.CustomResourceOptions = {}) {
    const props = {
      stack: pulumi.getStack(),
      name: args.name,
      description: args.description,
      connectionId: undefined,
      credentialsHash: undefined,
    };
    super(provider, name, props, opts, "infisical", "FlyConnection");
  }
}
