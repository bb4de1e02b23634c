/**
 * A Tigris bucket, made the way `fly storage create` makes one: Fly GraphQL `createAddOn(type: tigris)` in the org,
 * not attached to any app (the keys reach the app through Infisical as TIGRIS_*, never through Fly's own secret
 * setting). Everything goes through GraphQL, so no flyctl (and no @pulumi/command) is needed.
 *
 * Fly hands out the bucket's access keys only in the create answer. They are kept as secret outputs of this resource
 * (encrypted in state) because nothing can fetch them later. Adopting a bucket that already exists therefore needs
 * keys from somewhere: Fly's `addOn.environment` if it returns them on a read (unconfirmed), else keys the operator
 * made for that bucket in Tigris and exports as TIGRIS_ADOPT_ACCESS_KEY_ID / TIGRIS_ADOPT_SECRET_ACCESS_KEY for one
 * `pulumi up`. Without either, create stops with the steps instead of recording a bucket nobody can use.
 */
import * as pulumi from "@pulumi/pulumi";
import { flyGraphql, isGraphqlNotFound } from "../clients/fly-graphql";

export interface TigrisBucketArgs {
  /** Bucket name; globally unique across Tigris, 3 to 63 lowercase letters, digits and dashes. Replaces on change. */
  bucketName: pulumi.Input<string>;
  /** Slug of the Fly organization the add-on (and its bill) belongs to. Replaces on change. */
  org: pulumi.Input<string>;
}

interface Inputs {
  bucketName: string;
  org: string;
}

interface Outputs extends Inputs {
  addOnId: string;
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

interface AddOn {
  id: string;
  name: string;
  status?: string | null;
  environment?: unknown;
  organization?: { slug: string } | null;
}

interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
  endpoint: string;
  region: string;
}

const ADD_ON_QUERY = `query TigrisAddOn($name: String!, $provider: String!) {
  addOn(name: $name, provider: $provider) { id name status environment organization { slug } }
}`;
const ORGANIZATION_QUERY = `query TigrisOrganization($slug: String!) { organization(slug: $slug) { id } }`;
// `environment` is selected as a whole: Fly types it as a JSON scalar, so it takes no sub-selection.
const CREATE_MUTATION = `mutation TigrisCreateAddOn($input: CreateAddOnInput!) {
  createAddOn(input: $input) { addOn { id name environment } }
}`;
const DELETE_MUTATION = `mutation TigrisDeleteAddOn($input: DeleteAddOnInput!) {
  deleteAddOn(input: $input) { deletedAddOnName }
}`;

/** Fly's `environment` map (an object, or the same as a JSON string) → keys, or undefined when they are absent. */
function keysFrom(environment: unknown): Keys | undefined {
  let env = environment;
  if (typeof env === "string") {
    try {
      env = JSON.parse(env);
    } catch {
      return undefined;
    }
  }
  if (!env || typeof env !== "object") return undefined;
  const e = env as Record<string, unknown>;
  if (typeof e.AWS_ACCESS_KEY_ID !== "string" || typeof e.AWS_SECRET_ACCESS_KEY !== "string") return undefined;
  if (!e.AWS_ACCESS_KEY_ID || !e.AWS_SECRET_ACCESS_KEY) return undefined;
  return {
    accessKeyId: e.AWS_ACCESS_KEY_ID,
    secretAccessKey: e.AWS_SECRET_ACCESS_KEY,
    endpoint: typeof e.AWS_ENDPOINT_URL_S3 === "string" && e.AWS_ENDPOINT_URL_S3 ? e.AWS_ENDPOINT_URL_S3 : "https://fly.storage.tigris.dev",
    region: typeof e.AWS_REGION === "string" && e.AWS_REGION ? e.AWS_REGION : "auto",
  };
}

/** The add-on by name, or undefined when Fly has none (NOT_FOUND, or soft-deleted and kept as a record). */
async function findAddOn(name: string): Promise<AddOn | undefined> {
  try {
    const data = await flyGraphql().request<{ addOn: AddOn | null }>("TigrisAddOn", ADD_ON_QUERY, { name, provider: "tigris" });
    if (!data.addOn || data.addOn.status === "deleted") return undefined;
    return data.addOn;
  } catch (err) {
    if (isGraphqlNotFound(err, "addOn")) return undefined;
    throw err;
  }
}

async function findOrganizationId(slug: string): Promise<string | undefined> {
  try {
    const data = await flyGraphql().request<{ organization: { id: string } | null }>("TigrisOrganization", ORGANIZATION_QUERY, { slug });
    return data.organization?.id;
  } catch (err) {
    if (isGraphqlNotFound(err, "organization")) return undefined;
    throw err;
  }
}

function adoptError(inputs: Inputs): Error {
  return new Error(
    [
      `Tigris bucket "${inputs.bucketName}" already exists in Fly org "${inputs.org}", but Pulumi has no access keys for it: Fly returns a bucket's keys only when it creates the bucket.`,
      `To adopt it, create an access key for this bucket in the Tigris console (or with \`tigris access-keys create\`), export TIGRIS_ADOPT_ACCESS_KEY_ID and TIGRIS_ADOPT_SECRET_ACCESS_KEY for one \`pulumi up\`, then unset them.`,
      `If the bucket is empty and unused, \`fly storage destroy ${inputs.bucketName}\` and run \`pulumi up\` again to create it with fresh keys.`,
    ].join("\n"),
  );
}

function validate(news: Record<string, unknown>): Array<{ property: string; reason: string }> {
  const failures: Array<{ property: string; reason: string }> = [];
  if (typeof news.bucketName !== "string" || !/^[a-z0-9][a-z0-9-]{2,62}$/.test(news.bucketName)) {
    failures.push({ property: "bucketName", reason: `\`bucketName\` ${JSON.stringify(news.bucketName)} must be 3 to 63 lowercase letters, digits and dashes, starting with a letter or digit` });
  }
  if (typeof news.org !== "string" || !/^[a-z0-9][a-z0-9-]*$/.test(news.org)) {
    failures.push({ property: "org", reason: `\`org\` ${JSON.stringify(news.org)} must be a Fly organization slug (lowercase letters, digits and dashes)` });
  }
  return failures;
}

/** Stateless: every method builds its client from the environment of the `pulumi` process at call time. */
class TigrisBucketProvider implements pulumi.dynamic.ResourceProvider<Inputs, Outputs> {
  async check(_olds: Inputs, news: Inputs): Promise<pulumi.dynamic.CheckResult<Inputs>> {
    const failures = validate(news as unknown as Record<string, unknown>);
    return failures.length ? { failures } : { inputs: { bucketName: news.bucketName, org: news.org } };
  }

  async diff(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.DiffResult> {
    const replaces = (["bucketName", "org"] as const).filter((k) => olds[k] !== news[k]);
    // Bucket names are global: moving a bucket between orgs under the same name must free the name first.
    return { changes: replaces.length > 0, replaces, deleteBeforeReplace: replaces.length > 0 && olds.bucketName === news.bucketName };
  }

  async create(inputs: Inputs): Promise<pulumi.dynamic.CreateResult<Outputs>> {
    const existing = await findAddOn(inputs.bucketName);
    if (existing) {
      const owner = existing.organization?.slug;
      if (owner && owner !== inputs.org) {
        throw new Error(`Tigris bucket "${inputs.bucketName}" already exists in Fly org "${owner}", not "${inputs.org}". Bucket names are global; choose another \`bucketName\`.`);
      }
      const adoptId = process.env.TIGRIS_ADOPT_ACCESS_KEY_ID;
      const adoptSecret = process.env.TIGRIS_ADOPT_SECRET_ACCESS_KEY;
      const keys =
        keysFrom(existing.environment) ??
        (adoptId && adoptSecret ? keysFrom({ AWS_ACCESS_KEY_ID: adoptId, AWS_SECRET_ACCESS_KEY: adoptSecret }) : undefined);
      if (!keys) throw adoptError(inputs);
      return { id: existing.name, outs: { ...inputs, addOnId: existing.id, ...keys } };
    }

    const organizationId = await findOrganizationId(inputs.org);
    if (!organizationId) throw new Error(`Fly organization "${inputs.org}" was not found (or FLY_API_TOKEN cannot see it); check \`org\` with \`fly orgs list\`.`);
    const created = await flyGraphql().request<{ createAddOn: { addOn: AddOn } }>(
      "TigrisCreateAddOn",
      CREATE_MUTATION,
      { input: { type: "tigris", name: inputs.bucketName, organizationId, options: { public: false } } },
      { unsafeToRepeat: true },
    );
    const addOn = created.createAddOn.addOn;
    const keys = keysFrom(addOn.environment);
    if (!keys) {
      throw new Error(`Fly created Tigris bucket "${inputs.bucketName}" (add-on ${addOn.id}) but returned no access keys. ${adoptError(inputs).message}`);
    }
    return { id: addOn.name, outs: { ...inputs, addOnId: addOn.id, ...keys } };
  }

  /** Refresh: the bucket must still exist; keys come from state, since Fly cannot return them again. */
  async read(id: string, props?: Outputs): Promise<pulumi.dynamic.ReadResult<Outputs>> {
    if (!props?.bucketName) throw new Error(`TigrisBucket ${id} cannot be imported: its keys exist only in the state that created it. Declare it and let \`pulumi up\` adopt it.`);
    const existing = await findAddOn(props.bucketName);
    // A blank id tells the engine the bucket is gone, so the next `up` creates it again.
    if (!existing) return { id: "" };
    return { id, props: { ...props, addOnId: existing.id } };
  }

  // No update: diff replaces on every input change and says `changes: false` otherwise, so the engine never asks for
  // an in-place update (which, without this method, would store only the new inputs and lose the keys).

  async delete(_id: string, props: Outputs): Promise<void> {
    try {
      await flyGraphql().request("TigrisDeleteAddOn", DELETE_MUTATION, { input: { name: props.bucketName, provider: "tigris" } });
    } catch (err) {
      if (isGraphqlNotFound(err, "deleteAddOn")) return;
      throw err;
    }
  }
}

const provider = new TigrisBucketProvider();

/**
 * A Tigris bucket with its access keys as secret outputs.
 *
 * @example
 * const bucket = new TigrisBucket("files", { bucketName: "renewa-staging", org: "renewa" }, { protect: true });
 * export const endpoint = bucket.endpoint;
 */
export class TigrisBucket extends pulumi.dynamic.Resource {
  declare readonly bucketName: pulumi.Output<string>;
  declare readonly org: pulumi.Output<string>;
  declare readonly addOnId: pulumi.Output<string>;
  /** S3 endpoint the keys work against, e.g. https://fly.storage.tigris.dev. */
  declare readonly endpoint: pulumi.Output<string>;
  /** S3 region; Tigris answers "auto". */
  declare readonly region: pulumi.Output<string>;
  /** Secret. */
  declare readonly accessKeyId: pulumi.Output<string>;
  /** Secret. */
  declare readonly secretAccessKey: pulumi.Output<string>;

  constructor(name: string, args: TigrisBucketArgs, opts: pulumi.CustomResourceOptions = {}) {
    super(
      provider,
      name,
      { ...args, addOnId: undefined, endpoint: undefined, region: undefined, accessKeyId: undefined, secretAccessKey: undefined },
      { ...opts, additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), "accessKeyId", "secretAccessKey"] },
      "tigris",
      "Bucket",
    );
  }
}
