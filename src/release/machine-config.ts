/**
 * Typed machine settings → the Fly machine config `fly deploy` would build from the equivalent fly.toml. Pure, so the
 * mapping is tested field by field, and the metadata flyctl relies on (`fly status`, a later `fly deploy`) is set in
 * one place.
 */
export type CpuKind = "shared" | "performance";
export type AutoStop = "off" | "stop" | "suspend";
export type RestartPolicy = "no" | "on-failure" | "always";

export interface MachineSettings {
  region: string;
  guest: { cpuKind: CpuKind; cpus: number; memoryMb: number };
  /** Port the app listens on; Fly's proxy serves it on 80 (redirecting to https) and 443. */
  internalPort: number;
  healthCheck: { path: string; intervalSeconds: number; timeoutSeconds: number; gracePeriodSeconds: number };
  env: Record<string, string>;
  /** fly.toml `[processes]` key; `app` when the app has a single process group. */
  processGroup: string;
  /** Overrides the image's CMD for this process group, split like a shell would. */
  cmd?: string;
  restart: { policy: RestartPolicy; maxRetries?: number };
  autoStop: AutoStop;
  autoStart: boolean;
  minMachinesRunning: number;
}

export interface FlyCheck {
  type: "http" | "tcp";
  port?: number;
  interval?: string;
  timeout?: string;
  grace_period?: string;
  method?: string;
  path?: string;
  protocol?: string;
}

export interface FlyService {
  protocol: "tcp" | "udp";
  internal_port: number;
  ports: Array<{ port: number; handlers: string[]; force_https?: boolean }>;
  autostop?: AutoStop | boolean;
  autostart?: boolean;
  min_machines_running?: number;
  checks?: FlyCheck[];
}

/** The parts of Fly's machine config this platform sets; fields Fly adds are carried through untouched. */
export interface FlyMachineConfig {
  image: string;
  env?: Record<string, string>;
  metadata?: Record<string, string>;
  init?: { cmd?: string[]; entrypoint?: string[] };
  guest?: { cpu_kind: string; cpus: number; memory_mb: number };
  services?: FlyService[];
  checks?: Record<string, FlyCheck>;
  restart?: { policy: RestartPolicy; max_retries?: number };
  auto_destroy?: boolean;
  dns?: { skip_registration?: boolean };
  [field: string]: unknown;
}

export interface ReleaseStamp {
  id: string;
  version: number;
}

export const RELEASE_COMMAND_GROUP = "fly_app_release_command";
/** The app secret the release_command migrates with; the command sees it as DATABASE_URL. */
export const MIGRATION_SECRET = "DATABASE_URL_MIGRATION";
/** Metadata a new machine is tagged with, so a create whose answer was lost can be found instead of repeated. */
export const CREATE_TOKEN_KEY = "renewa_create_token";
/** Metadata that changes with every release (or rollout mechanics) and so never makes a machine outdated. */
export const RELEASE_METADATA_KEYS = [
  "fly_release_id",
  "fly_release_version",
  "fly_bluegreen_deployment_tag",
  "fly_flyctl_version",
  "fly_canary",
  CREATE_TOKEN_KEY,
];
const RESERVED_ENV = ["FLY_PROCESS_GROUP", "RELEASE_COMMAND", "DATABASE_URL", MIGRATION_SECRET];

export const SETTINGS_DEFAULTS = {
  internalPort: 8080,
  processGroup: "app",
  restart: { policy: "on-failure" as RestartPolicy },
  autoStart: true,
};

/** Settings as callers give them: the fields with defaults may be left out. */
export type MachineSettingsInput = Partial<MachineSettings> & Omit<MachineSettings, keyof typeof SETTINGS_DEFAULTS | "env">;

export function withSettingsDefaults(s: MachineSettingsInput): MachineSettings {
  return {
    ...s,
    internalPort: s.internalPort ?? SETTINGS_DEFAULTS.internalPort,
    processGroup: s.processGroup ?? SETTINGS_DEFAULTS.processGroup,
    restart: s.restart ?? SETTINGS_DEFAULTS.restart,
    autoStart: s.autoStart ?? SETTINGS_DEFAULTS.autoStart,
    env: s.env ?? {},
  };
}

/** Problems with the settings, each naming the field, so `check` can report all of them at preview. */
export function validateMachineSettings(s: MachineSettings): Array<{ property: string; reason: string }> {
  const out: Array<{ property: string; reason: string }> = [];
  const fail = (property: string, reason: string) => out.push({ property: `machine.${property}`, reason });
  if (!/^[a-z]{3}$/.test(s.region ?? "")) fail("region", `\`region\` must be a Fly region code like "fra", got "${s.region}".`);
  if (!s.guest || !["shared", "performance"].includes(s.guest.cpuKind)) fail("guest.cpuKind", '`cpuKind` must be "shared" or "performance".');
  if (!s.guest || !Number.isInteger(s.guest.cpus) || s.guest.cpus < 1 || s.guest.cpus > 16) fail("guest.cpus", "`cpus` must be an integer from 1 to 16.");
  if (!s.guest || !Number.isInteger(s.guest.memoryMb) || s.guest.memoryMb < 256 || s.guest.memoryMb % 256 !== 0) {
    fail("guest.memoryMb", `\`memoryMb\` must be a multiple of 256 (Fly's rule), got ${s.guest?.memoryMb}.`);
  }
  if (!Number.isInteger(s.internalPort) || s.internalPort < 1 || s.internalPort > 65535) fail("internalPort", "`internalPort` must be a TCP port.");
  const hc = s.healthCheck;
  if (!hc || !hc.path?.startsWith("/")) fail("healthCheck.path", '`healthCheck.path` must start with "/".');
  for (const k of ["intervalSeconds", "timeoutSeconds", "gracePeriodSeconds"] as const) {
    if (!hc || !(hc[k] > 0)) fail(`healthCheck.${k}`, `\`healthCheck.${k}\` must be a positive number of seconds.`);
  }
  if (!["off", "stop", "suspend"].includes(s.autoStop)) fail("autoStop", '`autoStop` must be "off", "stop" or "suspend".');
  if (!Number.isInteger(s.minMachinesRunning) || s.minMachinesRunning < 0) fail("minMachinesRunning", "`minMachinesRunning` must be a non-negative integer.");
  if (!["no", "on-failure", "always"].includes(s.restart?.policy)) fail("restart.policy", '`restart.policy` must be "no", "on-failure" or "always".');
  for (const key of Object.keys(s.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) fail(`env.${key}`, `\`env\` key "${key}" is not a valid variable name.`);
    if (RESERVED_ENV.includes(key)) {
      fail(`env.${key}`, `\`env.${key}\` is set by the platform (secrets such as DATABASE_URL arrive through Fly secrets, never plain env).`);
    }
  }
  if (s.env?.PRIMARY_REGION !== undefined && s.env.PRIMARY_REGION !== s.region) {
    fail("env.PRIMARY_REGION", `\`env.PRIMARY_REGION\` (${s.env.PRIMARY_REGION}) must equal \`region\` (${s.region}); the platform sets it.`);
  }
  if (!/^[a-z][a-z0-9_-]*$/.test(s.processGroup ?? "")) fail("processGroup", "`processGroup` must be a lowercase name like \"app\".");
  return out;
}

/** Splits a command line like a POSIX shell would (quotes and backslashes), as flyctl does for `release_command`. */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (c === "\\" && i + 1 < line.length && (quote !== '"' || '"\\$`'.includes(line[i + 1]))) {
      word += line[++i];
      inWord = true;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote in command: ${line}`);
  if (inWord) words.push(word);
  return words;
}

export function seconds(n: number): string {
  return `${n}s`;
}

/** The health check as both a machine's `services[].checks` and fly.toml's `[[http_service.checks]]` spell it. */
export function httpCheck(hc: MachineSettings["healthCheck"]) {
  return {
    interval: seconds(hc.intervalSeconds),
    timeout: seconds(hc.timeoutSeconds),
    grace_period: seconds(hc.gracePeriodSeconds),
    method: "GET",
    path: hc.path,
    protocol: "http",
  };
}

/** JSON with sorted keys, so equal values compare equal whatever order their fields were built in. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function releaseMetadata(group: string, release: ReleaseStamp): Record<string, string> {
  return {
    fly_platform_version: "v2",
    fly_process_group: group,
    fly_release_id: release.id,
    fly_release_version: String(release.version),
  };
}

/**
 * The config of an app machine, as `fly deploy` builds it from `[http_service]`, `[env]`, `[[vm]]` and `[[restart]]`.
 * `secretsVersion` (PR apps' staged secrets) goes into the metadata, so new secrets make a machine out of date and
 * the next rollout boots it with them.
 */
export function buildMachineConfig(s: MachineSettings, image: string, release: ReleaseStamp, secretsVersion?: number): FlyMachineConfig {
  const config: FlyMachineConfig = {
    image,
    env: { ...s.env, FLY_PROCESS_GROUP: s.processGroup, PRIMARY_REGION: s.region },
    guest: { cpu_kind: s.guest.cpuKind, cpus: s.guest.cpus, memory_mb: s.guest.memoryMb },
    services: [
      {
        protocol: "tcp",
        internal_port: s.internalPort,
        ports: [
          { port: 80, handlers: ["http"], force_https: true },
          { port: 443, handlers: ["http", "tls"] },
        ],
        autostop: s.autoStop,
        autostart: s.autoStart,
        min_machines_running: s.minMachinesRunning,
        checks: [{ type: "http", port: s.internalPort, ...httpCheck(s.healthCheck) }],
      },
    ],
    restart: { policy: s.restart.policy, ...(s.restart.maxRetries !== undefined ? { max_retries: s.restart.maxRetries } : {}) },
    metadata: releaseMetadata(s.processGroup, release),
    ...(s.cmd ? { init: { cmd: splitCommand(s.cmd) } } : {}),
  };
  if (secretsVersion !== undefined) config.metadata!.renewa_secrets_version = String(secretsVersion);
  return config;
}

/**
 * The one-off machine that runs `release_command`, as flyctl builds it: the new image, CMD replaced by the command,
 * no services or checks, never restarted, destroyed when it exits, kept out of DNS. No secret is in it: the machine
 * gets the app's secrets from Fly, and a shell in front of the command hands the migration role's URL
 * (DATABASE_URL_MIGRATION) to it as DATABASE_URL. The command's words go as "$@", so nothing is re-quoted.
 */
export function buildReleaseCommandConfig(s: MachineSettings, args: { image: string; command: string; release: ReleaseStamp }): FlyMachineConfig {
  return {
    image: args.image,
    init: { cmd: ["/bin/sh", "-c", `DATABASE_URL="$${MIGRATION_SECRET}" exec "$@"`, "release_command", ...splitCommand(args.command)] },
    env: {
      ...s.env,
      FLY_PROCESS_GROUP: RELEASE_COMMAND_GROUP,
      PRIMARY_REGION: s.region,
      RELEASE_COMMAND: "1",
    },
    guest: { cpu_kind: s.guest.cpuKind, cpus: s.guest.cpus, memory_mb: s.guest.memoryMb },
    restart: { policy: "no" },
    auto_destroy: true,
    dns: { skip_registration: true },
    metadata: releaseMetadata(RELEASE_COMMAND_GROUP, args.release),
  };
}

/** Health checks a config defines; a machine without any passes the health gate once started, as in flyctl. */
export function countChecks(config: FlyMachineConfig | undefined): number {
  return Object.keys(config?.checks ?? {}).length + (config?.services ?? []).reduce((n, s) => n + (s.checks?.length ?? 0), 0);
}
