/**
 * A Fly app in an organization, with its public addresses (a shared IPv4 and an IPv6, as `fly deploy` assigns on a
 * first deploy). An app of the same name already in the org is adopted, so a stack can take over an app made with
 * flyctl. Deleting it deletes everything in it, so only destroying the stack does that (and the component protects
 * production's).
 */
import * as pulumi from "@pulumi/pulumi";
import { IpAssignment, createFlyMachinesClient } from "../clients/fly-machines";
import { isApiError, timeScale } from "../clients/http";
import { changedKeys, isUnknown, withoutUndefined } from "../dynamic-support";

interface Inputs {
  name: string;
  org: string;
}

interface Outputs extends Inputs {
  appId: string;
  /** True when the app existed before this stack created it. */
  adopted: boolean;
  sharedIpv4: string;
  ipv6: string;
}

export interface FlyAppArgs {
  /** The app name, unique across all of Fly.io. @example "renewa-app-staging" */
  name: pulumi.Input<string>;
  /** Organization slug the app lives in. @example "renewa" */
  org: pulumi.Input<string>;
}

const APP_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

class FlyAppProvider implements pulumi.dynamic.ResourceProvider {
  async check(_olds: Partial<Inputs>, news: Partial<Inputs>): Promise<pulumi.dynamic.CheckResult<Inputs>> {
    const inputs: Inputs = { name: news.name ?? "", org: news.org ?? "" };
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!isUnknown(inputs.name) && !APP_NAME.test(inputs.name)) {
      failures.push({ property: "name", reason: `"${inputs.name}" is not a valid Fly app name (lowercase letters, digits and dashes, 3–63 characters).` });
    }
    if (!isUnknown(inputs.org) && !inputs.org) failures.push({ property: "org", reason: "`org` (the Fly organization slug) is required." });
    return { inputs, failures };
  }

  async diff(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.DiffResult> {
    const replaces = changedKeys(olds, news, ["name", "org"]);
    return { changes: replaces.length > 0, replaces };
  }

  async create(inputs: Inputs): Promise<pulumi.dynamic.CreateResult<Outputs>> {
    const client = createFlyMachinesClient();
    let app = await readApp(client, inputs);
    const adopted = app !== undefined;
    if (!app) {
      try {
        await client.createApp({ name: inputs.name, org: inputs.org });
      } catch (err) {
        // Someone created it between our read and our create: adopt it if it is ours, else readApp explains. A 422
        // with no app behind it is Fly refusing the request itself, and its message is the one to show.
        if (!isApiError(err, 422) || !(await readApp(client, inputs))) throw err;
      }
      app = await waitUntilVisible(client, inputs);
    } else {
      pulumi.log.info(`Fly app ${inputs.name} already exists in org ${inputs.org}; adopting it`);
    }
    const ips = await ensureIps(client, inputs.name);
    return { id: inputs.name, outs: withoutUndefined({ ...inputs, appId: app.id, adopted, ...ips }) };
  }

  async read(id: string, props?: Outputs): Promise<pulumi.dynamic.ReadResult<Outputs>> {
    const client = createFlyMachinesClient();
    const inputs = { name: props?.name ?? id, org: props?.org ?? "" };
    const app = await client.getApp(inputs.name);
    if (!app) return {};
    const ips = addresses(await client.listIpAssignments(inputs.name));
    return { id, props: withoutUndefined({ ...inputs, org: app.organization?.slug ?? inputs.org, appId: app.id, adopted: props?.adopted ?? false, ...ips }) };
  }

  async update(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.UpdateResult<Outputs>> {
    const client = createFlyMachinesClient();
    const ips = await ensureIps(client, news.name);
    return { outs: withoutUndefined({ ...olds, ...news, ...ips }) };
  }

  async delete(id: string, props: Outputs): Promise<void> {
    const client = createFlyMachinesClient();
    await client.deleteApp(props?.name ?? id);
  }
}

type Client = ReturnType<typeof createFlyMachinesClient>;

async function readApp(client: Client, inputs: Inputs) {
  let app;
  try {
    app = await client.getApp(inputs.name);
  } catch (err) {
    if (isApiError(err, 403)) {
      throw new Error(
        `Fly app name "${inputs.name}" is taken by an app in another organization (Fly answered 403). App names are global on Fly.io: choose another name, or move the app to org ${inputs.org}.`,
        { cause: err },
      );
    }
    throw err;
  }
  if (app && app.organization?.slug && app.organization.slug !== inputs.org) {
    throw new Error(
      `Fly app "${inputs.name}" exists in org ${app.organization.slug}, not ${inputs.org}. Use that org in the stack config, or move the app (fly apps move ${inputs.name} --org ${inputs.org}).`,
    );
  }
  return app;
}

/** A new app may not be readable at once (fly-go polls too); after that a missing app is a real error. */
async function waitUntilVisible(client: Client, inputs: Inputs) {
  const step = 250 * timeScale();
  for (let attempt = 0; attempt < 40; attempt++) {
    const app = await readApp(client, inputs);
    if (app) return app;
    await new Promise((r) => setTimeout(r, step));
  }
  throw new Error(`Fly app ${inputs.name} was created but never became readable; check \`fly apps list -o ${inputs.org}\` and run \`pulumi up\` again.`);
}

function addresses(ips: IpAssignment[]): { sharedIpv4: string; ipv6: string } {
  const isV6 = (ip: string) => ip.includes(":");
  // fdaa::/16 is Fly's private network (Flycast); only a public v6 makes the app reachable.
  const publicV6 = ips.find((i) => isV6(i.ip) && !i.ip.toLowerCase().startsWith("fdaa:"));
  const sharedV4 = ips.find((i) => !isV6(i.ip) && i.shared) ?? ips.find((i) => !isV6(i.ip));
  return { sharedIpv4: sharedV4?.ip ?? "", ipv6: publicV6?.ip ?? "" };
}

/** Assigns the shared IPv4 and the IPv6 that `<app>.fly.dev` needs, only those missing (a dedicated v4 counts). */
async function ensureIps(client: Client, app: string): Promise<{ sharedIpv4: string; ipv6: string }> {
  const current = addresses(await client.listIpAssignments(app));
  const sharedIpv4 = current.sharedIpv4 || (await client.assignIp(app, "shared_v4")).ip;
  const ipv6 = current.ipv6 || (await client.assignIp(app, "v6")).ip;
  return { sharedIpv4, ipv6 };
}

const provider = new FlyAppProvider();

/** A Fly app (`fly apps create`), adopted when it already exists in the org. */
export class FlyApp extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly org: pulumi.Output<string>;
  declare readonly appId: pulumi.Output<string>;
  declare readonly adopted: pulumi.Output<boolean>;
  declare readonly sharedIpv4: pulumi.Output<string>;
  declare readonly ipv6: pulumi.Output<string>;

  constructor(name: string, args: FlyAppArgs, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, { ...args, appId: undefined, adopted: undefined, sharedIpv4: undefined, ipv6: undefined }, opts, "fly", "App");
  }
}
