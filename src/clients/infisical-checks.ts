/**
 * What Infisical's route schemas allow, and what its answers mean, beyond the status code: checked by the Infisical
 * client before a call (the Fly token's length) and on the answer (a change request instead of a write, sync options
 * an older server dropped). Pure, so the client's callers and the tests share one set of messages.
 */
import type { FlySecretSync, FlySecretSyncConfig, SecretLocation } from "./infisical";

/** Infisical's limit on a Fly connection's access token (flyio-connection-schemas: `.max(1000)`). */
export const FLY_CONNECTION_TOKEN_MAX = 1000;

/**
 * Under a secret-approval policy a batch write answers `{approval}` (a change request) instead of `{secrets}`, with
 * 200: nothing is written until someone approves it. That must never count as written.
 */
export function assertWritten(body: unknown, what: string, loc: SecretLocation, baseUrl: string): void {
  if (body && typeof body === "object" && "approval" in body) {
    const id = (body as { approval?: { id?: string } }).approval?.id;
    throw new Error(
      `Infisical did not write ${what} in ${loc.environment}${loc.secretPath} (project ${loc.projectId}) at ${baseUrl}: a secret-approval policy turned the write into change request ${id ?? "(no id)"}, which needs an approval first. ` +
        "Exempt the machine identity from the policy for this environment, or approve the request and run `pulumi up` again.",
    );
  }
}

export function assertFlyToken(accessToken: string): void {
  if (accessToken.length > FLY_CONNECTION_TOKEN_MAX) {
    throw new Error(
      `FLY_API_TOKEN is ${accessToken.length} characters; Infisical's Fly.io app connection accepts at most ${FLY_CONNECTION_TOKEN_MAX}. ` +
        "An org token or a token with several caveats is longer; create a narrower one (`fly tokens create deploy -a <app>`) and export it as FLY_API_TOKEN.",
    );
  }
}

/**
 * `autoRedeploy` and `destinationConfig.appName` arrived in Infisical in Feb 2026 (PR #5447); an older server drops
 * unknown keys without an error, so the answer is the only place to notice that machines would never restart.
 */
export function assertSyncOptionsKept(sync: FlySecretSync, config: FlySecretSyncConfig, baseUrl: string): FlySecretSync {
  const lost = [
    sync.syncOptions?.autoRedeploy === true ? undefined : "syncOptions.autoRedeploy",
    sync.destinationConfig?.appName === config.appName ? undefined : "destinationConfig.appName",
  ].filter(Boolean);
  if (lost.length) {
    throw new Error(
      `Infisical at ${baseUrl} accepted secret sync "${config.name}" but dropped ${lost.join(" and ")}: the server predates them (Feb 2026). ` +
        `Without autoRedeploy, synced secrets stay staged on ${config.appName} until the next deploy. Upgrade the Infisical server, then run \`pulumi up\` again.`,
    );
  }
  return sync;
}
