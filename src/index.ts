/**
 * renewa-platform: one environment of Renewa's deployment platform per stack (development, staging, production,
 * pr-<N>). `pulumi up -s <stack>`; offline: `npm run synth -- <stack>`.
 */
import { execFileSync } from "child_process";
import * as path from "path";
import { Environment } from "../components/environment";
import { loadConfig } from "./config";
import { MigrationsManifest, buildManifest } from "./migrations/manifest";
import { loadReleaseHistory } from "./migrations/release-history";

// Parsed before anything is declared: bad config stops the run with nothing half-registered.
const config = loadConfig();

/** The migrations folder's manifest (its hash, files and phases), read once; undefined without renewa:migrationsDir. */
function readMigrations(): MigrationsManifest | undefined {
  if (!config.migrationsDir) return undefined;
  const dir = path.resolve(path.dirname(__dirname), config.migrationsDir);
  try {
    return buildManifest(dir);
  } catch (err) {
    throw new Error(
      `stack ${config.stack}: renewa:migrationsDir = "${config.migrationsDir}" (${dir}) cannot be read: ${(err as Error).message} ` +
        "Point it at the app repository's migrations folder (relative to this project), or remove the key.",
      { cause: err },
    );
  }
}

function gitCommit(): string | undefined {
  if (process.env.GITHUB_SHA) return process.env.GITHUB_SHA;
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd: __dirname, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
  } catch {
    return undefined;
  }
}

const migrations = readMigrations();
const env = new Environment("renewa", {
  config,
  migrationsHash: migrations?.hash,
  commit: gitCommit(),
  migrations,
  releaseHistory: loadReleaseHistory(config),
});

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
