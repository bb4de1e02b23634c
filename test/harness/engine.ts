/**
 * Drives dynamic providers the way `pulumi up` does: the resource is constructed in a separate Node process with
 * ts-node registered as run.js registers it (so the provider text is what the SDK really serializes, outside the
 * test runner's transforms), and the provider runs in another plain Node process that deserializes it as
 * `@pulumi/pulumi/cmd/dynamic-provider` does.
 */
import { specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { ChildProcess, fork, spawn, spawnSync } from "child_process";
import * as os from "os";
import * as path from "path";

export const ROOT = path.resolve(__dirname, "..", "..");
const REGISTER = path.join(ROOT, "src", "cli", "pulumi-ts-register.js");

/** Environment for child processes: only what Node needs plus what the test gives, so no ambient credentials leak in. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, PULUMI_NODEJS_TRANSPILE_ONLY: "true" };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/** Runs a TypeScript file in a fresh Node process with Pulumi's ts-node registration. */
export function runTs(
  file: string,
  args: string[],
  opts: { input?: string; env?: Record<string, string | undefined>; typeCheck?: boolean } = {},
): { status: number; stdout: string; stderr: string } {
  const env = cleanEnv(opts.env);
  if (opts.typeCheck) env.PULUMI_NODEJS_TRANSPILE_ONLY = "false";
  const res = spawnSync(process.execPath, ["-r", REGISTER, file, ...args], {
    cwd: ROOT,
    env,
    input: opts.input,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: res.status ?? 1, stdout: res.stdout, stderr: res.stderr };
}

/**
 * `runTs` without blocking this process: use it to run several programs at once, or a program that calls a fake
 * served by this process (which `runTs`, being synchronous, would deadlock).
 */
export async function runTsAsync(
  file: string,
  args: string[],
  opts: { input?: string; env?: Record<string, string | undefined>; typeCheck?: boolean } = {},
): Promise<{ status: number; stdout: string; stderr: string }> {
  await cores.acquire();
  try {
    return await spawnTs(file, args, opts);
  } finally {
    cores.release();
  }
}

/** At most one program per core at a time: more only makes each slower, and a test's timeout may run out. */
const cores = (() => {
  let free = Math.max(1, os.availableParallelism());
  const waiting: Array<() => void> = [];
  return {
    acquire: () => (free > 0 ? (free--, Promise.resolve()) : new Promise<void>((resolve) => waiting.push(resolve))),
    release: () => {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
})();

function spawnTs(
  file: string,
  args: string[],
  opts: { input?: string; env?: Record<string, string | undefined>; typeCheck?: boolean },
): Promise<{ status: number; stdout: string; stderr: string }> {
  const env = cleanEnv(opts.env);
  if (opts.typeCheck) env.PULUMI_NODEJS_TRANSPILE_ONLY = "false";
  const child = spawn(process.execPath, ["-r", REGISTER, file, ...args], { cwd: ROOT, env });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child.stdin.end(opts.input ?? "");
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ status: code ?? 1, stdout, stderr }));
  });
}

export interface SerializedResource {
  /** The serialized provider module text, as stored in state under `__provider`. */
  provider: string;
  /** Every input the engine would receive, `__provider` included. */
  inputs: Record<string, unknown>;
  /** The inputs as the engine hands them to the provider's `check` (see `engineInputs`). */
  news: Record<string, any>;
}

export interface ResourceSpec {
  module: string;
  exportName: string;
  name: string;
  args: Record<string, unknown>;
  secretArgs?: string[];
  stack?: string;
  env?: Record<string, string | undefined>;
}

/**
 * Constructs `new (require(module)[exportName])(name, args)` under the mock runtime in a separate process and returns
 * what the engine would get. Keys listed in `secretArgs` are wrapped in `pulumi.secret`.
 */
export function serializeResource(spec: ResourceSpec): SerializedResource {
  return serializeResources([spec], spec.env)[0];
}

/**
 * `serializeResource` for several resources of one stack in one process (a ts-node start-up costs most of a second):
 * what one `pulumi up` of a program declaring them all would store.
 */
export function serializeResources(specs: Array<Omit<ResourceSpec, "env">>, env?: Record<string, string | undefined>): SerializedResource[] {
  const input = JSON.stringify(
    specs.map((spec) => ({
      module: path.resolve(ROOT, spec.module),
      export: spec.exportName,
      name: spec.name,
      args: spec.args,
      secretArgs: spec.secretArgs,
      stack: spec.stack,
    })),
  );
  const res = runTs(path.join(ROOT, "test", "harness", "serialize-child.ts"), [], { input, env });
  if (res.status !== 0) throw new Error(`serializing ${specs.map((s) => s.exportName).join(", ")} failed:\n${res.stderr}`);
  const outs = JSON.parse(res.stdout) as Array<{ provider: unknown; inputs: Record<string, unknown> }>;
  return outs.map((out) => {
    const provider = unwrapSecret(out.provider);
    if (typeof provider !== "string") throw new Error(`no serialized provider in inputs: ${JSON.stringify(out.provider)}`);
    return { provider, inputs: out.inputs, news: engineInputs(out.inputs) };
  });
}

function unwrapSecret(v: unknown): unknown {
  if (v && typeof v === "object" && "value" in (v as object) && specialSigKey in (v as object)) {
    return (v as { value: unknown }).value;
  }
  return v;
}

/**
 * A resource's registered inputs as the engine hands them to a dynamic provider's `check`: without `__provider`, and
 * with secrets unwrapped (dynamic providers do not accept secrets, so the engine sends plain values).
 */
export function engineInputs(inputs: Record<string, unknown>): Record<string, any> {
  const plain = Object.entries(inputs).filter(([k]) => k !== "__provider");
  return Object.fromEntries(plain.map(([k, v]) => [k, unwrapSecret(v)]));
}

export interface ProviderHost {
  /** Calls a provider method (check, diff, create, read, update, delete) with plain JSON, as the engine does. */
  call<T = any>(provider: string, method: string, ...args: unknown[]): Promise<T>;
  /** Everything the provider process printed (progress logs go here when no engine is attached). */
  output(): string;
  close(): Promise<void>;
}

/** Starts a dynamic-provider process with exactly the given environment (credentials, API URLs). */
export async function startProviderHost(env: Record<string, string | undefined> = {}): Promise<ProviderHost> {
  const child: ChildProcess = fork(path.join(ROOT, "test", "harness", "provider-worker.js"), [], {
    cwd: ROOT,
    env: cleanEnv(env),
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  let printed = "";
  child.stdout!.on("data", (d) => (printed += d));
  child.stderr!.on("data", (d) => (printed += d));
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let exited: Error | undefined;
  // A call still pending when the process ends (a crash, or `close` mid-call) fails instead of hanging the test.
  child.once("exit", (code, signal) => {
    exited = new Error(`provider process exited (${signal ?? code}): ${printed}`);
    for (const p of pending.values()) p.reject(exited);
    pending.clear();
  });
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`provider process exited early (${code}): ${printed}`)));
  });
  child.on("message", (msg: any) => {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) {
      const err = new Error(msg.error.message);
      err.name = msg.error.name ?? "Error";
      err.stack = msg.error.stack;
      p.reject(err);
    } else p.resolve(msg.result);
  });
  return {
    call(provider, method, ...args) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        if (exited) return reject(exited);
        pending.set(id, { resolve, reject });
        child.send({ id, provider, method, args });
      });
    },
    output: () => printed,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill();
      }),
  };
}

/** What a provider test keeps from its set-up: the provider text, its engine-shaped inputs, and the process running it. */
export interface ServedProvider extends SerializedResource {
  host: ProviderHost;
}

/**
 * The set-up most provider tests share: the resource serialized once (as `pulumi up` would, with `spec.env` as the
 * program's environment) and one provider process started with exactly `hostEnv` (credentials, the fakes' URLs).
 */
export async function serveProvider(spec: ResourceSpec, hostEnv: Record<string, string | undefined>): Promise<ServedProvider> {
  const serialized = serializeResource(spec);
  return { ...serialized, host: await startProviderHost(hostEnv) };
}

/** Closes provider hosts and stops fakes, in the order given, skipping any a failed set-up never created. */
export async function closeAll(...items: Array<{ close(): Promise<void> } | { stop(): Promise<void> } | undefined>): Promise<void> {
  for (const item of items) {
    if (!item) continue;
    if ("close" in item) await item.close();
    else await item.stop();
  }
}
