/**
 * The stack's configuration: every `renewa:` key, parsed once with zod into one frozen object. `parseConfig` is pure
 * (tests, synth and the operator commands call it directly); `loadConfig` reads Pulumi's runtime config. Credentials
 * are never configuration: a key that looks like one is refused with the variable to export instead.
 */
import { z } from "zod";
import { DIGEST_PATTERN } from "./image-ref";
import { migrationsManifestSchema } from "./migrations/manifest";
import {
  LongLivedStack,
  REGION,
  STACK_NAME_HELP,
  StackInfo,
  appNameFor,
  githubEnvironmentFor,
  parseStackName,
  promotionSource,
} from "./stacks";

/** A reviewer of a GitHub environment: a user by login, or a team of the repository owner's organization by slug. */
const reviewersSchema = z
  .array(
    z
      .string()
      .regex(
        /^(user:[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})|team:[A-Za-z0-9][A-Za-z0-9-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*)$/,
        '"user:<login>" or "team:<org>/<team-slug>" (a bare name is ambiguous: a team would be looked up as a user)',
      ),
  )
  .min(1)
  .max(6)
  .refine((r) => new Set(r).size === r.length, "a reviewer is listed twice");

const machineSchema = z.strictObject({
  cpuKind: z.enum(["shared", "performance"]),
  cpus: z.number().int().refine((n) => [1, 2, 4, 8, 16].includes(n), "cpus must be 1, 2, 4, 8 or 16"),
  memoryMb: z.number().int().min(256).refine((n) => n % 256 === 0, "memoryMb must be a multiple of 256"),
});

const healthCheckSchema = z.strictObject({
  path: z.string().startsWith("/"),
  intervalSeconds: z.number().int().min(1).max(300),
  timeoutSeconds: z.number().int().min(1).max(60),
  gracePeriodSeconds: z.number().int().min(0).max(600),
});

/** Every key, its schema, whether it is structured (JSON in Pulumi's runtime) and what it is for. */
export const CONFIG_KEYS = {
  mpgClusterId: {
    schema: z.string().regex(/^[a-z0-9][a-z0-9-]{5,62}$/, "a Fly MPG cluster id: lowercase letters, digits and dashes, 6 to 63 characters (see `fly mpg list`)"),
    structured: false,
    doc: "The environment's Managed Postgres cluster id. Change it to re-point after `fly mpg restore` (Path B). Required on development, staging, production; PR stacks use development's cluster.",
  },
  imageDigest: {
    schema: z.string().regex(DIGEST_PATTERN, "sha256: followed by 64 lowercase hex digits (a tag or short hash is not a digest)"),
    structured: false,
    doc: "Development: the digest CI built. Staging/production: pins a digest instead of promoting (Path A rollback). Unset: an `up` never changes the running image by itself.",
  },
  imageRepository: {
    schema: z.string().regex(/^[a-z0-9][a-z0-9._/-]*$/, "a registry.fly.io repository name such as renewa-app-development"),
    structured: false,
    doc: "Repository in registry.fly.io that CI pushes to; promotion reuses it, since the registry is org-scoped.",
  },
  org: { schema: z.string().regex(/^[a-z0-9-]+$/, "a Fly org slug"), structured: false, doc: "Fly organization slug." },
  region: {
    schema: z.literal(REGION, `"${REGION}": every Fly resource of this platform runs in Frankfurt`),
    structured: false,
    doc: "Fly region. Only fra is allowed; the key exists so a stray value fails loudly.",
  },
  machine: { schema: machineSchema, structured: true, doc: "Machine size: {cpuKind: shared|performance, cpus, memoryMb}." },
  machineCount: { schema: z.number().int().min(1).max(50), structured: true, doc: "Number of app machines." },
  strategy: { schema: z.enum(["rolling", "canary", "bluegreen", "immediate"]), structured: false, doc: "Rollout strategy." },
  maxUnavailable: {
    schema: z.number().positive(),
    structured: true,
    doc: "Rolling batches: below 1 a fraction of the fleet, 1 or more a machine count.",
  },
  releaseCommand: {
    schema: z.string().min(1),
    structured: false,
    doc: "Migration command run in a temporary machine before the rollout, with DATABASE_URL = the migration URL.",
  },
  healthCheck: {
    schema: healthCheckSchema,
    structured: true,
    doc: "HTTP check on port 8080: {path, intervalSeconds, timeoutSeconds, gracePeriodSeconds}.",
  },
  autoStop: { schema: z.enum(["off", "stop", "suspend"]), structured: false, doc: "What Fly's proxy does with idle machines." },
  minMachinesRunning: { schema: z.number().int().min(0).max(50), structured: true, doc: "Machines the proxy keeps running." },
  env: {
    schema: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "env names are UPPER_SNAKE_CASE"), z.string()),
    structured: true,
    doc: "Plain (non-secret) environment variables for the app. Secrets belong in Infisical.",
  },
  infisicalProject: { schema: z.string().min(1), structured: false, doc: "Infisical project slug or id." },
  infisicalEnvironment: { schema: z.string().regex(/^[a-z0-9-]+$/), structured: false, doc: "Infisical environment slug." },
  infisicalSecretPath: { schema: z.string().startsWith("/"), structured: false, doc: "Infisical folder synced to the app." },
  githubOwner: { schema: z.string().min(1), structured: false, doc: "GitHub owner of the app repository." },
  githubRepository: { schema: z.string().min(1), structured: false, doc: "GitHub repository of the app." },
  productionReviewers: {
    schema: reviewersSchema,
    structured: true,
    doc: 'Who approves production deployments (1 to 6): `"user:<login>"` or `"team:<org>/<team-slug>"`, e.g. `["user:alice", "team:renewa/release-managers"]`. Required on production.',
  },
  stagingReviewers: {
    schema: reviewersSchema,
    structured: true,
    doc: "Staging only: who approves promotions to staging, in the form of renewa:productionReviewers. Unset: staging deploys without approval.",
  },
  tigrisBucket: { schema: z.string().regex(/^[a-z0-9][a-z0-9-]{2,62}$/), structured: false, doc: "Tigris bucket name." },
  upstashDatabase: { schema: z.string().min(1).max(100), structured: false, doc: "Upstash Redis database name." },
  migrations: {
    schema: migrationsManifestSchema,
    structured: true,
    doc: "The migrations manifest of the image being deployed (`npm run migrations-manifest -- <dir>` in the app repository's CI; `npm run promote` copies the source stage's). Its `hash` decides the pre-deploy backup and the PR database recreation. Set for one run by CI and the operator commands, never committed.",
  },
  sourceCommit: {
    schema: z.string().regex(/^[0-9a-f]{40}$/, "a full 40-hex git commit of the app repository"),
    structured: false,
    doc: "The app repository's commit the image was built from; written into deployment records. Set for one run by CI and the operator commands, never committed.",
  },
  followSource: {
    schema: z.boolean(),
    structured: true,
    doc: "Staging/production, for one run: drop a pin kept from an earlier rollback (output pinnedDigest) and follow the previous stage again. `npm run promote` without --digest sets it.",
  },
  expectedDigest: {
    schema: z.string().regex(DIGEST_PATTERN, "sha256: followed by 64 lowercase hex digits"),
    structured: false,
    doc: "Staging/production, for one run: the digest a reviewer approved. The update fails before anything changes when the digest it would deploy differs.",
  },
  allowUnverifiedPromotion: {
    schema: z.boolean(),
    structured: true,
    doc: "Production only: deploy a digest staging has not run successfully. Recorded in the deployment record.",
  },
  allowContractRollback: {
    schema: z.string().regex(DIGEST_PATTERN, "the sha256:… digest the override is for (it applies to that pinned digest only)"),
    structured: false,
    doc: "Lets renewa:imageDigest pin this digest although contract migrations ran since it was released (loud; recorded in the deployment record). Set by `npm run rollback -- <env> --allow-contract-rollback`.",
  },
  dataCheckCommand: {
    schema: z.string().min(1),
    structured: false,
    doc: "Command in the image that checks a restored backup (verify-backup): exit 0 pass, 2 no answer, 3 schema not at the expected migration, 4 implausible row counts.",
  },
  dataCheckTables: {
    schema: z.record(z.string().regex(/^[a-z_][a-z0-9_.]*$/, "table names"), z.number().int().min(0)),
    structured: true,
    doc: "verify-backup: tables that matter and the fewest rows a restored copy must have, e.g. {users: 100}.",
  },
  scrubCommand: {
    schema: z.string().min(1),
    structured: false,
    doc: "Command in the image that removes personal data from a production copy (refresh-staging).",
  },
  scrubCheckCommand: {
    schema: z.string().min(1),
    structured: false,
    doc: "Command in the image that exits non-zero when any row still matches the patterns the scrub removes.",
  },
  stackOrg: {
    schema: z.string().min(1),
    structured: false,
    doc: 'Organization part of stack references (default: the backend\'s own, "organization" on s3:// and file:// backends).',
  },
} as const;

export type ConfigKey = keyof typeof CONFIG_KEYS;

type Values = { [K in ConfigKey]: z.infer<(typeof CONFIG_KEYS)[K]["schema"]> };

/** Defaults per kind of stack; PR stacks are sized as previews. */
export function defaultsFor(info: StackInfo): Partial<Values> {
  const base = {
    imageRepository: "renewa-app-development",
    org: "renewa",
    region: REGION,
    strategy: "rolling",
    maxUnavailable: 0.33,
    releaseCommand: "/app/scripts/atlas-migrate.sh apply",
    healthCheck: { path: "/health", intervalSeconds: 15, timeoutSeconds: 5, gracePeriodSeconds: 30 },
    env: {},
    infisicalProject: "renewa-one",
    infisicalSecretPath: "/",
    githubOwner: "renewa",
    githubRepository: "renewa-one",
    allowUnverifiedPromotion: false,
    dataCheckCommand: "/app/scripts/data-check.sh",
    dataCheckTables: {},
    scrubCommand: "/app/scripts/scrub-personal-data.sh apply",
    scrubCheckCommand: "/app/scripts/scrub-personal-data.sh verify",
  } satisfies Partial<Values>;
  switch (info.kind) {
    case "development":
      return { ...base, machine: { cpuKind: "shared", cpus: 1, memoryMb: 1024 }, machineCount: 1, autoStop: "stop", minMachinesRunning: 0, infisicalEnvironment: "dev", tigrisBucket: "renewa-development", upstashDatabase: "renewa-development" };
    case "staging":
      return { ...base, machine: { cpuKind: "shared", cpus: 2, memoryMb: 2048 }, machineCount: 2, autoStop: "stop", minMachinesRunning: 1, infisicalEnvironment: "staging", tigrisBucket: "renewa-staging", upstashDatabase: "renewa-staging" };
    case "production":
      return { ...base, machine: { cpuKind: "performance", cpus: 2, memoryMb: 4096 }, machineCount: 3, autoStop: "off", minMachinesRunning: 2, infisicalEnvironment: "prod", tigrisBucket: "renewa-production", upstashDatabase: "renewa-production" };
    case "pr":
      return { ...base, machine: { cpuKind: "shared", cpus: 1, memoryMb: 512 }, machineCount: 1, strategy: "immediate", autoStop: "stop", minMachinesRunning: 0, tigrisBucket: `renewa-pr-${info.prNumber}`, upstashDatabase: `renewa-pr-${info.prNumber}` };
  }
}

/** Keys a kind of stack must set, and keys it must not. */
const REQUIRED: Record<StackInfo["kind"], ConfigKey[]> = {
  development: ["mpgClusterId"],
  staging: ["mpgClusterId"],
  production: ["mpgClusterId", "productionReviewers"],
  pr: [],
};
const ONLY_PRODUCTION = {
  allowUnverifiedPromotion: "only production gates promotion",
  productionReviewers: "only the production GitHub environment has required reviewers",
};
const ONLY_PROMOTED = {
  followSource: "only staging and production follow a previous stage",
  expectedDigest: "only promotions to staging and production are approved",
};
const FORBIDDEN: Record<StackInfo["kind"], Partial<Record<ConfigKey, string>>> = {
  development: { ...ONLY_PRODUCTION, ...ONLY_PROMOTED, stagingReviewers: "only staging takes renewa:stagingReviewers" },
  staging: ONLY_PRODUCTION,
  production: { stagingReviewers: "production's reviewers are renewa:productionReviewers" },
  pr: {
    ...ONLY_PRODUCTION,
    ...ONLY_PROMOTED,
    stagingReviewers: "only staging takes renewa:stagingReviewers",
    mpgClusterId: "a PR stack's database lives in development's cluster, read from the development stack",
    infisicalEnvironment: "PR stacks have no Infisical sync; their secrets are staged on the PR app",
    allowContractRollback: "a PR stack deploys its own build; there is nothing to roll back",
  },
};

const CREDENTIAL_HINTS: Array<[RegExp, string]> = [
  [/fly.*token|flyapi/i, "FLY_API_TOKEN"],
  [/github.*token|^gh.*token/i, "GITHUB_TOKEN"],
  [/infisical.*(token|secret|client)/i, "INFISICAL_TOKEN (or INFISICAL_CLIENT_ID and INFISICAL_CLIENT_SECRET)"],
  [/upstash.*(key|email)/i, "UPSTASH_EMAIL and UPSTASH_API_KEY"],
];

type Optional =
  | "mpgClusterId"
  | "imageDigest"
  | "productionReviewers"
  | "stagingReviewers"
  | "migrations"
  | "sourceCommit"
  | "followSource"
  | "expectedDigest"
  | "stackOrg"
  | "infisicalEnvironment"
  | "allowContractRollback";

/** Settings after defaults: the optional keys may still be absent. */
export type Settings = Readonly<Omit<Values, Optional>> & Readonly<Partial<Pick<Values, Optional>>>;

export type PlatformConfig = Settings & {
  readonly stack: string;
  readonly kind: StackInfo["kind"];
  readonly prNumber?: number;
  readonly appName: string;
  readonly githubEnvironment: string;
  /** The stage this stack promotes from (staging ← development, production ← staging). */
  readonly promoteFrom?: LongLivedStack;
  /** Production's stateful resources are protected from `pulumi destroy`. */
  readonly protect: boolean;
};

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(stack: string, problems: string[]) {
    super(`Invalid configuration for stack "${stack}" (Pulumi.${stack}.yaml):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

function show(raw: string): string {
  return JSON.stringify(raw.length > 80 ? `${raw.slice(0, 77)}...` : raw);
}

function closest(key: string): string | undefined {
  let best: { k: string; d: number } | undefined;
  for (const k of Object.keys(CONFIG_KEYS)) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (!best || d < best.d) best = { k, d };
  }
  return best && best.d <= Math.max(2, Math.floor(key.length / 4)) ? best.k : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/**
 * Validates a stack's raw config (Pulumi's runtime form: `"renewa:key"` → string, structured values as JSON) and
 * returns the frozen, defaulted result. Every problem is collected, one line each, before anything is thrown.
 */
export function parseConfig(stack: string, raw: Record<string, string>): PlatformConfig {
  const info = parseStackName(stack);
  if (!info) {
    const pr = /^pr-(.*)$/.exec(stack);
    const why = pr
      ? `"${pr[1]}" is not a PR number; a PR stack is pr-<N> with N a positive integer without leading zeros (e.g. "pr-42")`
      : `not a stack of this program; allowed: ${STACK_NAME_HELP}`;
    throw new ConfigError(stack, [`stack "${stack}": ${why}`]);
  }

  const problems: string[] = [];
  const given: Partial<Record<ConfigKey, unknown>> = {};
  for (const [fullKey, value] of Object.entries(raw)) {
    if (!fullKey.startsWith("renewa:")) continue;
    const key = fullKey.slice("renewa:".length);
    const credential = CREDENTIAL_HINTS.find(([re]) => re.test(key));
    if (credential) {
      problems.push(`${fullKey}: credentials are never stack config; remove the key and export ${credential[1]} in the environment that runs Pulumi`);
      continue;
    }
    if (!(key in CONFIG_KEYS)) {
      const hint = closest(key);
      problems.push(`${fullKey} = ${show(value)}: unknown key${hint ? ` (did you mean renewa:${hint}?)` : ""}; allowed keys: ${Object.keys(CONFIG_KEYS).join(", ")}`);
      continue;
    }
    const spec = CONFIG_KEYS[key as ConfigKey];
    let parsed: unknown = value;
    if (spec.structured) {
      try {
        parsed = JSON.parse(value);
      } catch {
        parsed = value;
      }
    }
    const result = spec.schema.safeParse(parsed);
    if (!result.success) {
      const why = result.error.issues
        .map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message))
        .join("; ");
      problems.push(`${fullKey} = ${show(value)}: expected ${why}`);
      continue;
    }
    const forbidden = FORBIDDEN[info.kind][key as ConfigKey];
    if (forbidden) {
      problems.push(`${fullKey} = ${show(value)}: not allowed on ${info.kind === "pr" ? "PR" : info.kind} stacks (${forbidden})`);
      continue;
    }
    given[key as ConfigKey] = result.data;
  }
  for (const key of REQUIRED[info.kind]) {
    if (given[key] === undefined && !problems.some((p) => p.startsWith(`renewa:${key} `))) {
      problems.push(`renewa:${key}: missing; required on ${info.kind}. ${CONFIG_KEYS[key].doc} Set it with \`pulumi config set renewa:${key} <value> -s ${stack}\``);
    }
  }
  if (given.followSource && given.imageDigest !== undefined) {
    problems.push("renewa:followSource and renewa:imageDigest contradict each other: follow the previous stage, or pin a digest, not both");
  }
  if (problems.length > 0) throw new ConfigError(stack, problems);

  return Object.freeze({
    ...(defaultsFor(info) as Settings),
    ...(given as Partial<Settings>),
    stack,
    kind: info.kind,
    prNumber: info.prNumber,
    appName: appNameFor(info),
    githubEnvironment: githubEnvironmentFor(info.kind),
    promoteFrom: promotionSource(info.kind),
    protect: info.kind === "production",
  });
}

/**
 * Reads the running stack's config from Pulumi's runtime. Called once by the entry point, before any resource is
 * registered, so bad config stops `preview` with nothing half-declared.
 */
export function loadConfig(): PlatformConfig {
  // Imported here so the pure parts of this module load without the Pulumi SDK (operator commands, tests).
  const pulumi: typeof import("@pulumi/pulumi") = require("@pulumi/pulumi");
  return parseConfig(pulumi.getStack(), pulumi.runtime.allConfig());
}
