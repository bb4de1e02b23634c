/**
 * Stages Fly secrets on a PR preview app (`fly secrets set --stage`): they reach machines with the next rollout,
 * which boots them with at least the returned `version`. Only PR apps: on development, staging and production
 * Infisical's sync owns Fly secrets, and this resource refuses those apps in its constructor and in `check`. State
 * keeps names and digests (of app, name and value) for change detection, never values.
 */
import * as pulumi from "@pulumi/pulumi";
import { createFlyMachinesClient, isPrAppName, prAppName } from "../clients/fly-machines";
import { isApiError } from "../clients/http";
import { isUnknown, sha256, wireSafe } from "../dynamic-support";

interface Inputs {
  app: string;
  values: Record<string, string>;
}

interface Outputs {
  app: string;
  /** Secret name → digest of app, name and value; enough to see a change, useless to recover a value. */
  digests: Record<string, string>;
  names: string[];
  version: number;
}

export interface AppSecretsArgs {
  /** A PR preview app (`renewa-app-pr-<number>`); any other app is refused. */
  app: pulumi.Input<string>;
  /** Secret name → value. Pass them as secrets; only digests are kept in state outputs. */
  values: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

function digestOf(app: string, name: string, value: string): string {
  return sha256(`${app}\u0000${name}\u0000${value}`);
}

function digests(inputs: Inputs): Record<string, string> {
  return Object.fromEntries(Object.keys(inputs.values).sort().map((k) => [k, digestOf(inputs.app, k, inputs.values[k])]));
}

function notPrApp(app: string): string {
  return `AppSecrets may only stage secrets on PR preview apps (renewa-app-pr-<number>), not "${app}". Fly secrets of development, staging and production are owned by Infisical's sync: set them in Infisical.`;
}

class AppSecretsProvider implements pulumi.dynamic.ResourceProvider {
  async check(_olds: Partial<Inputs>, news: Partial<Inputs>): Promise<pulumi.dynamic.CheckResult<Inputs>> {
    const inputs: Inputs = { app: news.app ?? "", values: news.values ?? {} };
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!isUnknown(inputs.app) && !isPrAppName(inputs.app)) failures.push({ property: "app", reason: notPrApp(inputs.app) });
    if (!isUnknown(inputs.values)) {
      for (const [name, value] of Object.entries(inputs.values)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) failures.push({ property: `values.${name}`, reason: `"${name}" is not a valid secret name (letters, digits, underscores).` });
        if (typeof value !== "string") failures.push({ property: `values.${name}`, reason: `the value of ${name} must be a string.` });
      }
    }
    return { inputs, failures };
  }

  async diff(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.DiffResult> {
    if (isUnknown(news.values)) return { changes: true, replaces: olds.app !== news.app ? ["app"] : [] };
    const replaces = olds.app !== news.app ? ["app"] : [];
    const changed = JSON.stringify(olds.digests ?? {}) !== JSON.stringify(digests(news));
    return { changes: changed || replaces.length > 0, replaces, deleteBeforeReplace: true };
  }

  async create(inputs: Inputs): Promise<pulumi.dynamic.CreateResult<Outputs>> {
    return { id: inputs.app, outs: await stage(inputs, []) };
  }

  async update(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.UpdateResult<Outputs>> {
    return { outs: await stage(news, olds.names ?? []) };
  }

  /**
   * Refresh sees a staged secret unset outside Pulumi (`fly secrets unset`): it leaves the state, so the next `up`
   * stages it again. Values cannot be compared (Fly returns its own digests), so a value changed by hand is not seen.
   */
  async read(id: string, props: Outputs): Promise<pulumi.dynamic.ReadResult<Outputs>> {
    const client = createFlyMachinesClient();
    let live: Set<string>;
    try {
      live = new Set((await client.listSecrets(props.app ?? id)).map((s) => s.name));
    } catch (err) {
      if (isApiError(err, 404)) return { id: "", props };
      throw err;
    }
    const names = (props.names ?? []).filter((n) => live.has(n));
    if (names.length === (props.names ?? []).length) return { id, props };
    const digestsLeft = Object.fromEntries(Object.entries(props.digests ?? {}).filter(([n]) => live.has(n)));
    return { id, props: { ...props, names, digests: digestsLeft } };
  }

  async delete(id: string, props: Outputs): Promise<void> {
    const names = props?.names ?? [];
    if (names.length === 0) return;
    const client = createFlyMachinesClient();
    try {
      await client.setSecrets(prAppName(props?.app ?? id), Object.fromEntries(names.map((n) => [n, null])));
    } catch (err) {
      if (!isApiError(err, 404)) throw err;
    }
  }
}

/** Sets the new values and unsets names no longer declared, in one bulk call (one new secrets version). */
async function stage(inputs: Inputs, previousNames: string[]): Promise<Outputs> {
  const app = prAppName(inputs.app);
  const client = createFlyMachinesClient();
  const removed = previousNames.filter((n) => !(n in inputs.values));
  const values: Record<string, string | null> = { ...inputs.values, ...Object.fromEntries(removed.map((n) => [n, null])) };
  const { version } = await client.setSecrets(app, values);
  pulumi.log.info(`${app}: staged ${Object.keys(inputs.values).length} secret(s) as version ${version}; machines get them with the next rollout`);
  return wireSafe({ app, digests: digests(inputs), names: Object.keys(inputs.values).sort(), version });
}

const provider = new AppSecretsProvider();

/** Fly secrets staged on a PR preview app; `version` feeds Release's `minSecretsVersion`. */
export class AppSecrets extends pulumi.dynamic.Resource {
  declare readonly app: pulumi.Output<string>;
  declare readonly names: pulumi.Output<string[]>;
  declare readonly digests: pulumi.Output<Record<string, string>>;
  declare readonly version: pulumi.Output<number>;

  constructor(name: string, args: AppSecretsArgs, opts?: pulumi.CustomResourceOptions) {
    if (typeof args.app === "string" && !isPrAppName(args.app)) throw new Error(notPrApp(args.app));
    super(provider, name, { ...args, names: undefined, digests: undefined, version: undefined }, opts, "fly", "AppSecrets");
  }
}
