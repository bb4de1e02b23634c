/**
 * renewa-platform: one environment of Renewa's deployment platform per stack (development, staging, production,
 * pr-<N>). `pulumi up -s <stack>`; offline: `npm run synth -- <stack>`.
 */
import { Environment } from "../components/environment";
import { loadConfig } from "./config";
import { loadReleaseHistory } from "./migrations/release-history";

// Parsed before anything is declared: bad config stops the run with nothing half-registered.
const config = loadConfig();

// The releases the app repository's records describe, for the contract-migration guard of a pinned digest (Path A).
const env = new Environment("renewa", { config, releaseHistory: loadReleaseHistory(config) });

export const appName = config.appName;
export const region = config.region;
export const appUrl = env.app.appUrl;
/** The digest this stack runs; the next stage promotes it. */
export const imageDigest = env.app.digest;
export const imageRef = env.app.imageRef;
export const previousDigest = env.app.previousDigest;
export const releaseVersion = env.app.releaseVersion;
/** Digests this stack has rolled out successfully, newest first; production accepts only these from staging. */
export const releasedDigests = env.app.history;
export const databaseClusterId = env.database.clusterId;
export const backupId = env.database.backupId;
/** The migrations manifest of the running image; the next stage's promotion carries it with the digest. */
export const migrations = env.migrations;
/** The app repository's commit the running image was built from. */
export const sourceCommit = env.sourceCommit;
/** A rollback pin (staging/production) that holds until a promotion moves the stack on; undefined while following. */
export const pinnedDigest = env.promotion.pin;
