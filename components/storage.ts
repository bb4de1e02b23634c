import * as pulumi from "@pulumi/pulumi";
import { TigrisBucket } from "../src/providers/tigris-bucket";

export interface StorageArgs {
  /**
   * Tigris bucket name; global across Tigris, 3 to 63 lowercase letters, digits and dashes. Changing it replaces the
   * bucket (a new, empty one).
   * @example "renewa-staging"
   */
  bucketName: string;
  /**
   * Slug of the Fly organization that owns (and pays for) the bucket.
   * @example "renewa"
   */
  org: string;
  /**
   * Protect the bucket from `pulumi destroy` and replacement. True on production; PR buckets go with their stack.
   * @default none: required, so every stack states it
   * @example true
   */
  protect: boolean;
}

/** Exported for testing: the problems with `args`, one line each; empty when valid. */
export function validateStorageArgs(args: StorageArgs): string[] {
  const problems: string[] = [];
  if (!/^[a-z0-9][a-z0-9-]{2,62}$/.test(args.bucketName ?? "")) {
    problems.push(`\`bucketName\` ${JSON.stringify(args.bucketName)} must be 3 to 63 lowercase letters, digits and dashes, starting with a letter or digit.`);
  }
  if (!/^[a-z0-9][a-z0-9-]*$/.test(args.org ?? "")) {
    problems.push(`\`org\` ${JSON.stringify(args.org)} must be a Fly organization slug.`);
  }
  if (typeof args.protect !== "boolean") problems.push("`protect` must be true or false.");
  return problems;
}

/**
 * A private Tigris bucket for one environment, made through Fly's add-on API, and the TIGRIS_* app secrets that reach
 * it. The keys exist only in this stack's (encrypted) state, because Fly hands them out once, at creation.
 *
 * @example
 * const storage = new Storage("renewa-storage", { bucketName: "renewa-staging", org: "renewa", protect: false });
 * // storage.secrets → { TIGRIS_BUCKET_NAME, TIGRIS_ACCESS_KEY_ID, TIGRIS_SECRET_ACCESS_KEY, TIGRIS_ENDPOINT_URL_S3, TIGRIS_REGION }
 */
export class Storage extends pulumi.ComponentResource {
  /** The bucket's name. */
  public readonly bucketName: pulumi.Output<string>;
  /** S3 endpoint, e.g. https://fly.storage.tigris.dev. */
  public readonly endpoint: pulumi.Output<string>;
  /** Secret: the app's TIGRIS_* variables. */
  public readonly secrets: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: StorageArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validated before super(), so bad arguments register nothing, not even the component.
    const problems = validateStorageArgs(args);
    if (problems.length) throw new Error(`Storage "${name}":\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    super("renewa:tigris:Storage", name, {}, opts);

    const bucket = this.createBucket(name, args);
    this.bucketName = bucket.bucketName;
    this.endpoint = bucket.endpoint;
    this.secrets = pulumi.secret(
      pulumi.all([bucket.bucketName, bucket.accessKeyId, bucket.secretAccessKey, bucket.endpoint, bucket.region]).apply(
        ([bucketName, accessKeyId, secretAccessKey, endpoint, region]): Record<string, string> => ({
          TIGRIS_BUCKET_NAME: bucketName,
          TIGRIS_ACCESS_KEY_ID: accessKeyId,
          TIGRIS_SECRET_ACCESS_KEY: secretAccessKey,
          TIGRIS_ENDPOINT_URL_S3: endpoint,
          TIGRIS_REGION: region,
        }),
      ),
    );

    this.registerOutputs({ bucketName: this.bucketName, endpoint: this.endpoint, secrets: this.secrets });
  }

  private createBucket(name: string, args: StorageArgs): TigrisBucket {
    return new TigrisBucket(`${name}-bucket`, { bucketName: args.bucketName, org: args.org }, { parent: this, protect: args.protect });
  }
}
