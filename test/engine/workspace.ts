/**
 * The real Pulumi engine, for tests: the CLI that `scripts/pulumi-cli.sh` provides (built from Go modules on first use,
 * cached after), a `file://` backend, passphrase secrets and `PULUMI_HOME` in a temporary directory, no update checks
 * and no plugin downloads. The program runs from a copy of the project (its Pulumi.yaml, stack files, src/ and
 * components/, with node_modules linked), so a test may edit a stack file or a provider's code as an engineer would,
 * without touching the repository. Every API base URL points at the fakes; the providers whose services cannot be
 * reached here are stand-in plugins (test/engine/plugins/).
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROOT } from "../harness/engine";

export const PASSPHRASE = "renewa-engine-tests";
const PROJECT_FILES = ["Pulumi.yaml", "package.json", "tsconfig.json", "src", "components"];

let cliDir: string | undefined;

/**
 * The directory holding `pulumi` and its Node.js plugins. Builds it on first use (minutes; printed once with the time
 * the build took), then reuses the cache.
 */
export function pulumiCliDir(): string {
  cliDir ??= process.env.RENEWA_PULUMI_CLI_DIR;
  if (cliDir) return cliDir;
  if (process.env.RENEWA_PULUMI_CLI_ERROR) throw new Error(process.env.RENEWA_PULUMI_CLI_ERROR);
  const started = Date.now();
  const res = spawnSync("bash", [path.join(ROOT, "scripts", "pulumi-cli.sh")], { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (res.status !== 0) throw new Error(`scripts/pulumi-cli.sh failed (exit ${res.status}):\n${res.stderr.slice(-4000)}`);
  if (/building Pulumi CLI/.test(res.stderr)) process.stderr.write(`pulumi-cli: first build took ${Math.round((Date.now() - started) / 1000)} s\n`);
  cliDir = res.stdout.trim().split("\n").pop()!;
  return cliDir;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, as a terminal shows them. */
  output: string;
}

export interface EngineWorkspace {
  /** The project copy the CLI runs in. */
  project: string;
  /** PULUMI_HOME and the file backend's directory. */
  home: string;
  backend: string;
  /** The environment of every CLI run (credentials, API URLs, PATH with the CLI and the stand-ins). */
  env: Record<string, string>;
  /** Runs `pulumi <args>` in the project; never rejects on a non-zero exit (look at `code`). */
  pulumi(args: string[], opts?: { env?: Record<string, string | undefined>; input?: string }): Promise<CliResult>;
  /** Runs an operator command (`src/cli/<name>.ts`) from the project copy, as `npm run <name>` does. */
  command(name: string, args: string[], opts?: { env?: Record<string, string | undefined>; input?: string }): Promise<CliResult>;
  /** `pulumi stack init <stack>` from the project's own stack file (when it has one). */
  initStack(stack: string): Promise<void>;
  /** `pulumi stack export` as JSON (secrets stay encrypted). */
  exportStack(stack: string): Promise<StackExport>;
  /** `pulumi stack output --json` (secret outputs as "[secret]"). */
  outputs(stack: string): Promise<Record<string, unknown>>;
  /** Replaces a file of the project copy (a stack file, a provider's code). */
  writeFile(rel: string, text: string): void;
  readFile(rel: string): string;
  close(): void;
}

export interface StackExport {
  version: number;
  deployment: {
    resources?: Array<{ urn: string; type: string; id?: string; inputs?: Record<string, any>; outputs?: Record<string, any>; protect?: boolean }>;
    pending_operations?: Array<{ type: string; resource: { urn: string } }>;
    [k: string]: unknown;
  };
}

/** Runs a process to completion without blocking this one (the fakes it calls are served here). */
function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; input?: string }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env });
    let stdout = "";
    let stderr = "";
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => ((stdout += d), (output += d)));
    child.stderr.setEncoding("utf8").on("data", (d: string) => ((stderr += d), (output += d)));
    child.stdin.end(opts.input ?? "");
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? 1, stdout, stderr, output }));
  });
}

export interface WorkspaceOptions {
  /** Credentials and API URLs (the fakes' `env`). */
  env: Record<string, string>;
  /** Directory of the stand-in provider plugins, put on PATH after the CLI. */
  pluginDir?: string;
  /** Type-check the program as `pulumi up` does by default; off makes each run seconds faster. */
  typeCheck?: boolean;
}

export function createWorkspace(opts: WorkspaceOptions): EngineWorkspace {
  const cli = pulumiCliDir();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "renewa-engine-"));
  const project = path.join(base, "project");
  const home = path.join(base, "pulumi-home");
  const backend = path.join(base, "state");
  for (const dir of [project, home, backend]) fs.mkdirSync(dir, { recursive: true });
  for (const entry of PROJECT_FILES) fs.cpSync(path.join(ROOT, entry), path.join(project, entry), { recursive: true });
  for (const f of fs.readdirSync(ROOT).filter((f) => /^Pulumi\..+\.yaml$/.test(f))) fs.copyFileSync(path.join(ROOT, f), path.join(project, f));
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(project, "node_modules"), "dir");

  const env: Record<string, string> = {
    PATH: [cli, opts.pluginDir, process.env.PATH].filter(Boolean).join(path.delimiter),
    HOME: base,
    PULUMI_HOME: home,
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_DISABLE_REGISTRY_RESOLVE: "true",
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
    PULUMI_NODEJS_TRANSPILE_ONLY: opts.typeCheck ? "false" : "true",
    NO_COLOR: "1",
    ...opts.env,
  };
  const withEnv = (extra?: Record<string, string | undefined>): NodeJS.ProcessEnv => {
    const merged: NodeJS.ProcessEnv = { ...env };
    for (const [k, v] of Object.entries(extra ?? {})) {
      if (v === undefined) delete merged[k];
      else merged[k] = v;
    }
    return merged;
  };

  const ws: EngineWorkspace = {
    project,
    home,
    backend,
    env,
    pulumi: (args, o = {}) => run(path.join(cli, "pulumi"), [...args, "--non-interactive"], { cwd: project, env: withEnv(o.env), input: o.input }),
    command: (name, args, o = {}) =>
      run(process.execPath, ["-r", path.join(project, "src", "cli", "pulumi-ts-register.js"), path.join(project, "src", "cli", `${name}.ts`), ...args], {
        cwd: project,
        env: withEnv({ PULUMI_NODEJS_TRANSPILE_ONLY: "true", ...o.env }),
        input: o.input,
      }),
    async initStack(stack) {
      const res = await ws.pulumi(["stack", "init", stack, "--secrets-provider", "passphrase"]);
      if (res.code !== 0) throw new Error(`pulumi stack init ${stack} failed:\n${res.output}`);
    },
    async exportStack(stack) {
      const res = await ws.pulumi(["stack", "export", "-s", stack]);
      if (res.code !== 0) throw new Error(`pulumi stack export -s ${stack} failed:\n${res.output}`);
      return JSON.parse(res.stdout) as StackExport;
    },
    async outputs(stack) {
      const res = await ws.pulumi(["stack", "output", "--json", "-s", stack]);
      if (res.code !== 0) throw new Error(`pulumi stack output -s ${stack} failed:\n${res.output}`);
      return JSON.parse(res.stdout) as Record<string, unknown>;
    },
    writeFile: (rel, text) => fs.writeFileSync(path.join(project, rel), text),
    readFile: (rel) => fs.readFileSync(path.join(project, rel), "utf8"),
    close: () => fs.rmSync(base, { recursive: true, force: true }),
  };
  return ws;
}

/** Every file under a directory, as text (for "no secret appears anywhere" checks). */
export function filesUnder(dir: string): Array<{ file: string; text: string }> {
  const out: Array<{ file: string; text: string }> = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    if (fs.statSync(file).size > 8 * 1024 * 1024) continue;
    out.push({ file, text: fs.readFileSync(file, "latin1") });
  }
  return out;
}

/** The resources of a stack export whose type ends in `type`, e.g. "fly:Release". */
export function resourcesOf(exported: StackExport, type: string) {
  return (exported.deployment.resources ?? []).filter((r) => r.type.endsWith(type));
}
