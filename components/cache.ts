import * as pulumi from "@pulumi/pulumi";
import * as upstash from "@upstash/pulumi";

/** Upstash's AWS region next to Fly's fra. */
export const UPSTASH_PRIMARY_REGION = "eu-central-1";

export interface CacheArgs {
  /**
   * Upstash database name, 1 to 100 characters. Changing it replaces the database (a new, empty one).
   * @example "renewa-staging"
   */
  databaseName: string;
  /**
   * Protect the database from `pulumi destroy` and replacement. True on production; PR databases go with their stack.
   * @default none: required, so every stack states it
   * @example true
   */
  protect: boolean;
}

/** Exported for testing: the problems with `args`, one line each; empty when valid. */
export function validateCacheArgs(args: CacheArgs): string[] {
  const problems: string[] = [];
  if (typeof args.databaseName !== "string" || args.databaseName.length < 1 || args.databaseName.length > 100) {
    problems.push(`\`databaseName\` ${JSON.stringify(args.databaseName)} must be 1 to 100 characters.`);
  }
  if (typeof args.protect !== "boolean") problems.push("`protect` must be true or false.");
  return problems;
}

/**
 * An Upstash Redis database for one environment (global type, primary in Frankfurt, TLS), and the UPSTASH_REDIS_*
 * app secrets that reach it. Credentials for Upstash's API come from UPSTASH_EMAIL / UPSTASH_API_KEY in the
 * environment of `pulumi`, read by the provider plugin itself, so they never enter config or state.
 *
 * @example
 * const cache = new Cache("renewa-cache", { databaseName: "renewa-staging", protect: false });
 * // cache.secrets → { UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN, UPSTASH_REDIS_URL }
 */
export class Cache extends pulumi.ComponentResource {
  /** Upstash's id of the database. */
  public readonly databaseId: pulumi.Output<string>;
  /** Hostname, e.g. "eu1-fancy-cat-12345.upstash.io". */
  public readonly endpoint: pulumi.Output<string>;
  /** Secret: the app's UPSTASH_REDIS_* variables. */
  public readonly secrets: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: CacheArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validated before super(), so bad arguments register nothing, not even the component.
    const problems = validateCacheArgs(args);
    if (problems.length) throw new Error(`Cache "${name}":\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    super("renewa:upstash:Cache", name, {}, opts);

    const database = this.createDatabase(name, args);
    this.databaseId = database.databaseId;
    this.endpoint = database.endpoint;
    this.secrets = pulumi.secret(
      pulumi.all([database.endpoint, database.port, database.password, database.restToken]).apply(([endpoint, port, password, restToken]): Record<string, string> => ({
        UPSTASH_REDIS_REST_URL: `https://${endpoint}`,
        UPSTASH_REDIS_REST_TOKEN: restToken,
        // "default" is the user Upstash gives every database's password.
        UPSTASH_REDIS_URL: `rediss://default:${password}@${endpoint}:${port}`,
      })),
    );

    this.registerOutputs({ databaseId: this.databaseId, endpoint: this.endpoint, secrets: this.secrets });
  }

  private createDatabase(name: string, args: CacheArgs): upstash.RedisDatabase {
    return new upstash.RedisDatabase(
      `${name}-database`,
      {
        databaseName: args.databaseName,
        // Regional creation is refused by Upstash ("regional db creation is deprecated"); global with a primary is it.
        region: "global",
        primaryRegion: UPSTASH_PRIMARY_REGION,
        // TLS is always on for new databases, and true→false forces replacement: state it so no diff ever flips it.
        tls: true,
      },
      // The REST tokens are as good as the password. @upstash/pulumi 0.5.0 as installed marks them secret too, but
      // the provider schema marks only `password`, so this must not depend on which SDK build is installed.
      { parent: this, protect: args.protect, additionalSecretOutputs: ["restToken", "readOnlyRestToken"] },
    );
  }
}
