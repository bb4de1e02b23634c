/**
 * The only secrets this program may write to GitHub. GitHub Actions secrets hold credentials CI itself uses;
 * runtime app secrets (DATABASE_URL, JWT_SECRET, TIGRIS_*, UPSTASH_REDIS_*, …) live in Infisical, which syncs them to
 * the Fly apps, and must never be copied into GitHub. Pure, so the component validates with it before registering
 * anything and the dynamic provider re-checks it at preview.
 */

export const CI_SECRET_NAMES = ["FLY_API_TOKEN", "FLY_MPG_TOKEN"] as const;

export type CiSecretName = (typeof CI_SECRET_NAMES)[number];

/** Throws unless `name` is on the CI-infrastructure allow-list. */
export function assertCiSecretName(name: string): asserts name is CiSecretName {
  if ((CI_SECRET_NAMES as readonly string[]).includes(name)) return;
  throw new Error(
    `\`${name}\` may not be stored as a GitHub secret: GitHub environments hold only CI-infrastructure credentials (${CI_SECRET_NAMES.join(", ")}). ` +
      `App secrets stay in Infisical, which syncs them to the Fly apps. A new CI credential is added to CI_SECRET_NAMES in src/github-ci-secrets.ts.`,
  );
}
