/**
 * A whole-program `pulumi up` against the fakes: `startFakes()` starts one set of API fakes in this (the test) process,
 * seeded for a stack, and `up()` runs the real program (src/index.ts) in a child process whose mock monitor drives the
 * dynamic providers like the engine does (see up-child.ts). State carries over between `up` calls through a file.
 */
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { createFlyGraphqlFake, FlyGraphqlFakeState } from "../fakes/fly-graphql";
import { createFlyMachinesFake, FlyMachinesFake } from "../fakes/fly-machines";
import { createFlyPostgresFake, FlyPostgresState } from "../fakes/fly-postgres";
import { createGithubFake, GithubFakeState } from "../fakes/github";
import { mountGithubAccounts } from "../fakes/github-accounts";
import { createGithubIssuesFake, GithubIssuesFake } from "../fakes/github-issues";
import { HttpFake } from "../fakes/http-fake";
import { createInfisicalFake, InfisicalState } from "../fakes/infisical";
import { createRegistryFake, RegistryFake } from "../fakes/registry";
import { ROOT, runTsAsync } from "./engine";
import type { UpResult, UpSpec } from "./up-child";

export type { UpResult, StateResource, Registration } from "./up-child";

/** Credentials the run gets; none of them may show up in state, outputs or anything printed. */
export const SENTINELS = {
  FLY_API_TOKEN: "fm2_SENTINEL-up-fly-7d31",
  FLY_MPG_TOKEN: "SENTINEL-up-mpg-7d31",
  GITHUB_TOKEN: "SENTINEL-up-github-7d31",
  INFISICAL_TOKEN: "SENTINEL-up-infisical-7d31",
  UPSTASH_EMAIL: "sentinel-up-7d31@renewa.example",
  UPSTASH_API_KEY: "SENTINEL-up-upstash-7d31",
} as const;

export const INFISICAL_PROJECT_ID = "2f1c6a3e-5b7d-4e8f-9a0b-1c2d3e4f5a6b";
export const HUMAN_SECRETS = ["JWT_SECRET", "ENCRYPTION_KEY", "SENTRY_DSN_BACKEND", "BIRD_API_KEY", "HUBSPOT_CLIENT_SECRET", "SEVDESK_API_TOKEN"];
export const GITHUB_ENVIRONMENTS = ["development", "staging", "production", "pr-preview"].map((e) => `renewa/renewa-one/${e}`);

export interface Fakes {
  /** Machines API, MPG, api.fly.io release records and Fly GraphQL (Tigris) on one server: FLY_API_URL serves both
   * the release records and /graphql, so they share an address as they do at api.fly.io. */
  fly: FlyMachinesFake;
  mpg: FlyPostgresState;
  graphql: FlyGraphqlFakeState;
  infisical: { fake: HttpFake; state: InfisicalState };
  /** GitHub environment secrets and issues on one server. */
  github: { fake: HttpFake; state: GithubFakeState; issues: GithubIssuesFake };
  registry: RegistryFake;
  /** Every HTTP fake, for "nothing mutated" checks. */
  servers: Record<"fly" | "infisical" | "github" | "registry", HttpFake>;
  /** Environment of `pulumi up` (and its provider process): credentials, API URLs, time scale. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** A cluster as `FlyPostgresState.addCluster` takes it. */
export type ClusterSeed = Parameters<FlyPostgresState["addCluster"]>[0];

export interface FakesOptions {
  /** RENEWA_TIME_SCALE for the clients; the Machines fake's "second" is scaled the same. @default 0.01 */
  timeScale?: number;
  /**
   * MPG clusters to seed (ready, in fra, with fly-user and fly-db); default staging's and a restored copy. An object
   * seeds more: other databases and users already in the cluster (say, another PR's), or a status.
   */
  clusters?: Array<string | ClusterSeed>;
  infisicalEnvironment?: string;
}

export async function startFakes(opts: FakesOptions = {}): Promise<Fakes> {
  const scale = opts.timeScale ?? 0.01;
  const token = SENTINELS.FLY_API_TOKEN;
  const fly = await createFlyMachinesFake({
    token,
    orgs: ["renewa"],
    secondMs: 1000 * scale,
    bootMs: 20,
    healthMs: 20,
    releaseCommandMs: 20,
    // The data jobs' one-off machines (verify-backup's check, refresh-staging's scrub) run their command and pass.
    jobExitCode: (config) => (config?.metadata?.renewa_job ? 0 : undefined),
  });
  const { state: mpg } = await createFlyPostgresFake({ fake: fly.fake, authorization: `FlyV1 ${token}` });
  const { state: graphql } = await createFlyGraphqlFake({ fake: fly.fake, authorization: `FlyV1 ${token}`, orgs: { renewa: "org-renewa-id" } });
  for (const c of opts.clusters ?? ["renewa-staging-mpg", "renewa-staging-restored"]) mpg.addCluster(typeof c === "string" ? { id: c } : c);

  const infisical = await createInfisicalFake({ tokens: [SENTINELS.INFISICAL_TOKEN], projects: [{ id: INFISICAL_PROJECT_ID, slug: "renewa-one" }] });
  const folder = infisical.state.folder(INFISICAL_PROJECT_ID, opts.infisicalEnvironment ?? "staging", "/");
  for (const name of HUMAN_SECRETS) folder.set(name, `human-managed-${name.toLowerCase()}`);

  const githubFake = new HttpFake();
  githubFake.requestIdHeader = "x-github-request-id";
  githubFake.requiredAuth = `Bearer ${SENTINELS.GITHUB_TOKEN}`;
  await githubFake.start();
  const { state: githubState } = await createGithubFake({ fake: githubFake, token: SENTINELS.GITHUB_TOKEN, environments: GITHUB_ENVIRONMENTS });
  const issues = await createGithubIssuesFake({ fake: githubFake, owner: "renewa", repo: "renewa-one" });
  // The production reviewers of Pulumi.production.yaml, as GitHub knows them.
  mountGithubAccounts(githubFake, { users: ["renewa-release-managers"], teams: ["renewa/release-managers"] });

  const registry = await createRegistryFake({ token });

  const env: Record<string, string> = {
    ...SENTINELS,
    FLY_MACHINES_API_URL: fly.url,
    FLY_API_URL: fly.url,
    INFISICAL_API_URL: infisical.fake.url,
    GITHUB_API_URL: githubFake.url,
    RENEWA_TIME_SCALE: String(scale),
    // The commit written into deployment records (else the program asks git).
    GITHUB_SHA: "0123456789abcdef0123456789abcdef01234567",
  };
  return {
    fly,
    mpg,
    graphql,
    infisical,
    github: { fake: githubFake, state: githubState, issues },
    registry,
    servers: { fly: fly.fake, infisical: infisical.fake, github: githubFake, registry: registry.fake },
    env,
    async close() {
      await fly.stop();
      await infisical.fake.stop();
      await githubFake.stop();
      await registry.stop();
    },
  };
}

export interface UpOptions {
  /** `renewa:key` → value on top of the stack file. */
  config?: Record<string, string>;
  /** Other stacks' outputs by stack name (`--stack-output development.imageDigest=…`). */
  stackOutputs?: Record<string, Record<string, unknown>>;
  /** State file; kept between runs, so a second `up` sees the first's state. */
  statePath: string;
  /** `pulumi destroy` instead: delete everything in the state, dependents first; refused when any is protected. */
  destroy?: boolean;
}

/** A fresh, empty state file path in a temporary directory. */
export function newStatePath(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), "renewa-up-")), "state.json");
}

/**
 * Runs `pulumi up` of the program for `stack` in a child process (asynchronously: the fakes are served by this
 * process). Resolves with the result whether or not the update succeeded (`ok`, `errors`); rejects only when the
 * harness itself broke.
 */
export async function up(fakes: Fakes, stack: string, opts: UpOptions): Promise<UpResult & { stdout: string; stderr: string }> {
  const spec: UpSpec = {
    stack,
    config: opts.config,
    stackOutputs: opts.stackOutputs,
    statePath: opts.statePath,
    env: fakes.env,
    registryUrl: fakes.registry.fake.url,
    destroy: opts.destroy,
  };
  const res = await runTsAsync(path.join(ROOT, "test", "harness", "up-child.ts"), [], { input: JSON.stringify(spec), env: fakes.env });
  if (res.status !== 0 && res.status !== 1) throw new Error(`${opts.destroy ? "destroy" : "up"} ${stack}: the harness crashed (exit ${res.status}):\n${res.stderr}\n${res.stdout.slice(-2000)}`);
  const parsed = JSON.parse(fs.readFileSync(opts.statePath, "utf8")) as UpResult;
  return { ...parsed, stdout: res.stdout, stderr: res.stderr };
}

/** Plain value of a state property (secret values are sealed in the state file). */
export function unsealed(value: unknown): any {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    if (isSealed(v) && typeof v.ciphertext === "string") {
      return JSON.parse(Buffer.from(v.ciphertext, "base64").toString("utf8"));
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unsealed(x)]));
  }
  return Array.isArray(value) ? value.map(unsealed) : value;
}

/** Whether a state property is stored as a secret. */
export function isSealed(value: unknown): boolean {
  return !!value && typeof value === "object" && (value as Record<string, unknown>)[specialSigKey] === specialSecretSig;
}
