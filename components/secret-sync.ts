import * as pulumi from "@pulumi/pulumi";
import { InfisicalFlyConnection } from "../src/providers/infisical-app-connection";
import { HUMAN_MANAGED_SECRETS, InfisicalSecrets } from "../src/providers/infisical-secrets";
import { InfisicalFlySync } from "../src/providers/infisical-sync";

export interface SecretSyncArgs {
  /**
   * The Fly app that receives the secrets; also names the app connection and the sync in Infisical.
   * @example "renewa-app-production"
   */
  appName: string;
  /**
   * Infisical project slug or id.
   * @example "renewa-one"
   */
  project: string;
  /**
   * Infisical environment slug.
   * @example "prod"
   */
  environment: string;
  /**
   * Infisical folder that is synced to the app.
   * @example "/"
   */
  secretPath: string;
  /**
   * Infrastructure-derived values to write into the folder (DATABASE_URL, DATABASE_URL_MIGRATION, TIGRIS_*,
   * UPSTASH_REDIS_*). Always treated as secret.
   * @example { DATABASE_URL: db.databaseUrl, DATABASE_URL_MIGRATION: db.migrationDatabaseUrl }
   */
  secrets: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /**
   * Human-managed names that must already exist in the folder; a missing one fails the update, listing them.
   * @default ["JWT_SECRET", "ENCRYPTION_KEY", "SENTRY_DSN_BACKEND", "BIRD_API_KEY", "HUBSPOT_CLIENT_SECRET", "SEVDESK_API_TOKEN"]
   */
  requiredSecrets?: string[];
  /**
   * Resources the sync waits for; the Fly app must exist before Infisical can sync to it.
   * @default []
   * @example [app.flyApp]
   */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** Problems with the args, one line each; exported for tests. */
export function validateSecretSyncArgs(args: SecretSyncArgs): string[] {
  const problems: string[] = [];
  if (!/^[a-z0-9-]{1,63}$/.test(args.appName ?? "")) problems.push(`\`appName\` "${args.appName}" is not a Fly app name`);
  if (!args.project) problems.push("`project` is required");
  if (!/^[a-z0-9-]+$/.test(args.environment ?? "")) problems.push(`\`environment\` "${args.environment}" is not an Infisical environment slug`);
  if (!args.secretPath?.startsWith("/")) problems.push(`\`secretPath\` "${args.secretPath}" must start with "/"`);
  const required = args.requiredSecrets ?? HUMAN_MANAGED_SECRETS;
  const bad = required.filter((n) => !/^[A-Z_][A-Z0-9_]*$/.test(n));
  if (bad.length) problems.push(`\`requiredSecrets\` must be UPPER_SNAKE_CASE names: ${bad.join(", ")}`);
  return problems;
}

/**
 * Infisical as the source of the app's secrets: writes the infrastructure-derived ones into the environment's folder,
 * checks that the human-managed ones exist, and keeps a native Infisical → Fly sync (auto-sync, autoRedeploy) that
 * is re-run and waited for whenever a written value changes. Depend on it (or on `secretsHash`) to run after new
 * values have landed on the app.
 *
 * @example
 * const sync = new SecretSync("renewa-secrets", { appName: "renewa-app-staging", project: "renewa-one", environment: "staging",
 *   secretPath: "/", secrets: { DATABASE_URL: db.databaseUrl }, dependsOn: [app.flyApp] });
 */
export class SecretSync extends pulumi.ComponentResource {
  /** Infisical's id of the secret sync. */
  public readonly syncId: pulumi.Output<string>;
  /** Hash over the written values; resolves once the sync that carried them to the app has succeeded. */
  public readonly secretsHash: pulumi.Output<string>;

  constructor(name: string, args: SecretSyncArgs, opts?: pulumi.ComponentResourceOptions) {
    const problems = validateSecretSyncArgs(args);
    if (problems.length) throw new Error(`SecretSync "${name}":\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    super("renewa:infisical:SecretSync", name, {}, opts);

    const secrets = this.createSecrets(name, args);
    const connection = this.createConnection(name, args);
    const sync = this.createSync(name, args, secrets, connection);
    this.syncId = sync.syncId;
    this.secretsHash = sync.secretsVersion;

    this.registerOutputs({ syncId: this.syncId, secretsHash: this.secretsHash });
  }

  private createSecrets(name: string, args: SecretSyncArgs): InfisicalSecrets {
    return new InfisicalSecrets(
      `${name}-secrets`,
      {
        project: args.project,
        environment: args.environment,
        secretPath: args.secretPath,
        secrets: pulumi.secret(args.secrets),
        requiredSecrets: args.requiredSecrets ?? HUMAN_MANAGED_SECRETS,
      },
      { parent: this },
    );
  }

  private createConnection(name: string, args: SecretSyncArgs): InfisicalFlyConnection {
    return new InfisicalFlyConnection(`${name}-connection`, { name: args.appName }, { parent: this });
  }

  private createSync(name: string, args: SecretSyncArgs, secrets: InfisicalSecrets, connection: InfisicalFlyConnection): InfisicalFlySync {
    return new InfisicalFlySync(
      `${name}-sync`,
      {
        name: args.appName,
        project: args.project,
        environment: args.environment,
        secretPath: args.secretPath,
        connectionId: connection.connectionId,
        appName: args.appName,
        secretsVersion: secrets.secretsHash,
      },
      { parent: this, dependsOn: args.dependsOn ?? [] },
    );
  }
}
