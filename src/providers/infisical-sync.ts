/**
 * Infisical's native secret sync from an environment's folder to a Fly app, with auto-sync (people's edits flow on
 * their own) and autoRedeploy (machines restart with the new values). When the secrets Pulumi writes change
 * (`secretsVersion`), it triggers a sync and waits for it, so the release that depends on this resource runs with
 * the new values in place. An existing sync of the same name is adopted.
 */
import * as pulumi from "@pulumi/pulumi";
import { FlySecretSync, FlySecretSyncConfig, createInfisicalClient } from "../clients/infisical";
import { changedKeys } from "../dynamic-support";

interface Inputs {
  stack: string;
  name: string;
  project: string;
  environment: string;
  secretPath: string;
  connectionId: string;
  appName: string;
  appId: string;
  secretsVersion: string;
  timeoutSeconds: number;
}

interface Outputs extends Inputs {
  syncId: string;
  projectId: string;
  syncStatus: string;
  lastSyncMessage: string;
  lastSyncedAt: string;
  /** As Infisical stored it; false on versions before autoRedeploy existed (then values stay staged until a deploy). */
  autoRedeploy: boolean;
}

export interface InfisicalFlySyncArgs {
  /** Sync name, unique in the project. @example "renewa-app-production" */
  name: pulumi.Input<string>;
  /** Infisical project slug or id. @example "renewa-one" */
  project: pulumi.Input<string>;
  /** Environment slug. @example "prod" */
  environment: pulumi.Input<string>;
  /** Folder to sync. @default "/" */
  secretPath?: pulumi.Input<string>;
  /** The Fly.io app connection's id. */
  connectionId: pulumi.Input<string>;
  /** @example "renewa-app-production" */
  appName: pulumi.Input<string>;
  /** Fly's app id; Fly's GraphQL also accepts the name there, as fly-go relies on. @default appName */
  appId?: pulumi.Input<string>;
  /** Changes whenever the written secrets change (InfisicalSecrets' `secretsHash`); a change triggers a sync. */
  secretsVersion: pulumi.Input<string>;
  /** How long to wait for a sync to finish. @default 300 */
  timeoutSeconds?: pulumi.Input<number>;
}

const CONFIG: Array<keyof Inputs> = ["name", "environment", "secretPath", "connectionId", "appName", "appId"];

class InfisicalFlySyncProvider implements pulumi.dynamic.ResourceProvider {
  async check(_olds: Partial<Inputs>, news: Partial<Inputs>): Promise<pulumi.dynamic.CheckResult<Inputs>> {
    const inputs: Inputs = {
      stack: news.stack ?? "",
      name: news.name ?? "",
      project: news.project ?? "",
      environment: news.environment ?? "",
      secretPath: news.secretPath ?? "/",
      connectionId: news.connectionId ?? "",
      appName: news.appName ?? "",
      appId: news.appId ?? news.appName ?? "",
      secretsVersion: news.secretsVersion ?? "",
      timeoutSeconds: news.timeoutSeconds ?? 300,
    };
    const failures: pulumi.dynamic.CheckFailure[] = [];
    for (const key of ["name", "project", "environment", "appName"] as const) {
      if (!inputs[key]) failures.push({ property: key, reason: "required" });
    }
    if (!(inputs.timeoutSeconds > 0)) failures.push({ property: "timeoutSeconds", reason: "must be more than 0 seconds" });
    return { inputs, failures };
  }

  async diff(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.DiffResult> {
    // A sync belongs to one project; everything else Infisical lets us change in place.
    const replaces = changedKeys(olds, news, ["project"]);
    const changes = changedKeys(olds, news, [...CONFIG, "project", "secretsVersion", "timeoutSeconds", "stack"]).length > 0;
    // Delete first: the same project by slug and then by id would have create adopt the existing sync by name, and
    // the old resource's delete would then remove it.
    return { changes, replaces, ...(replaces.length > 0 ? { deleteBeforeReplace: true } : {}) };
  }

  async create(inputs: Inputs): Promise<pulumi.dynamic.CreateResult<Outputs>> {
    const client = createInfisicalClient();
    const projectId = await client.resolveProjectId(inputs.project);
    const config = syncConfig(inputs, projectId);
    const existing = await client.getFlySyncByName(inputs.name, projectId);
    const sync = existing ? await client.updateFlySync(existing.id, config) : await client.createFlySync(config);
    return { id: sync.id, outs: await runSync(inputs, projectId, sync.id) };
  }

  async read(id: string, props: Outputs): Promise<pulumi.dynamic.ReadResult<Outputs>> {
    const sync = await createInfisicalClient().getFlySync(id);
    return sync ? { id, props: { ...props, ...status(sync) } } : { id: "", props };
  }

  async update(id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.UpdateResult<Outputs>> {
    const configChanged = changedKeys(olds, news, CONFIG).length > 0;
    if (configChanged) await createInfisicalClient().updateFlySync(id, syncConfig(news, olds.projectId));
    if (configChanged || olds.secretsVersion !== news.secretsVersion) return { outs: await runSync(news, olds.projectId, id) };
    return { outs: { ...olds, ...news } };
  }

  async delete(id: string): Promise<void> {
    // The app keeps its secrets (removeSecrets=false): destroying the sync must not take the app's config with it.
    await createInfisicalClient().deleteFlySync(id);
  }
}

function syncConfig(inputs: Inputs, projectId: string): FlySecretSyncConfig {
  return {
    name: inputs.name,
    projectId,
    connectionId: inputs.connectionId,
    environment: inputs.environment,
    secretPath: inputs.secretPath,
    appId: inputs.appId,
    appName: inputs.appName,
    description: `Managed by Pulumi (renewa-platform, stack ${inputs.stack})`,
  };
}

function status(sync: FlySecretSync) {
  return {
    syncStatus: sync.syncStatus ?? "",
    lastSyncMessage: sync.lastSyncMessage ?? "",
    lastSyncedAt: sync.lastSyncedAt ?? "",
    autoRedeploy: sync.syncOptions?.autoRedeploy === true,
  };
}

/** Triggers a sync, waits for it, and fails with Infisical's own message when it failed. */
async function runSync(inputs: Inputs, projectId: string, syncId: string): Promise<Outputs> {
  const sync = await createInfisicalClient().syncAndWait(syncId, inputs.timeoutSeconds * 1000);
  if (sync.syncStatus === "failed") {
    throw new Error(`Infisical secret sync "${inputs.name}" (${syncId}) to Fly app ${inputs.appName} failed for stack "${inputs.stack}": ${sync.lastSyncMessage ?? "no message"}. Fix the cause (the app connection's Fly token must be allowed to set secrets and restart machines on ${inputs.appName}), then run \`pulumi up\` again.`);
  }
  return { ...inputs, syncId, projectId, ...status(sync) };
}

const provider = new InfisicalFlySyncProvider();

/** An Infisical → Fly.io secret sync that is re-run, and waited for, whenever `secretsVersion` changes. */
export class InfisicalFlySync extends pulumi.dynamic.Resource {
  declare readonly syncId: pulumi.Output<string>;
  declare readonly projectId: pulumi.Output<string>;
  declare readonly syncStatus: pulumi.Output<string>;
  declare readonly lastSyncedAt: pulumi.Output<string>;
  declare readonly autoRedeploy: pulumi.Output<boolean>;
  declare readonly secretsVersion: pulumi.Output<string>;

  constructor(name: string, args: InfisicalFlySyncArgs, opts: pulumi.CustomResourceOptions = {}) {
    const props = {
      stack: pulumi.getStack(),
      name: args.name,
      project: args.project,
      environment: args.environment,
      secretPath: args.secretPath,
      connectionId: args.connectionId,
      appName: args.appName,
      appId: args.appId,
      secretsVersion: args.secretsVersion,
      timeoutSeconds: args.timeoutSeconds,
      syncId: undefined,
      projectId: undefined,
      syncStatus: undefined,
      lastSyncMessage: undefined,
      lastSyncedAt: undefined,
      autoRedeploy: undefined,
    };
    super(provider, name, props, opts, "infisical", "FlySync");
  }
}
