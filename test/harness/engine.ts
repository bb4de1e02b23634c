/**
 * Drives dynamic providers the way `pulumi up` does: the resource is constructed in a separate Node process with
 * ts-node registered as run.js registers it (so the provider text is what the SDK really serializes, outside the
 * test runner's transforms), and the provider runs in another plain Node process that deserializes it as
 * `@pulumi/pulumi/cmd/dynamic-provider` does.
 */
import { ChildProcess, fork, spawnSync } from "child_process";
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

export interface SerializedResource {
  /** The serialized provider module text, as stored in state under `__provider`. */
  provider: string;
  /** Every input the engine would receive, `__provider` included. */
  inputs: Record<string, unknown>;
}

/**
 * Constructs `new (require(module)[exportName])(name, args)` under the mock runtime in a separate process and returns
 * what the engine would get. Keys listed in `secretArgs` are wrapped in `pulumi.secret`.
 */
export function serializeResource(spec: {
  module: string;
  exportName: string;
  name: string;
  args: Record<string, unknown>;
  secretArgs?: string[];
  stack?: string;
  env?: Record<string, string | undefined>;
}): SerializedResource {
  const input = JSON.stringify({
    module: path.resolve(ROOT, spec.module),
    export: spec.exportName,
    name: spec.name,
    args: spec.args,
    secretArgs: spec.secretArgs,
    stack: spec.stack,
  });
  const res = runTs(path.join(ROOT, "test", "harness", "serialize-child.ts"), [], { input, env: spec.env });
  if (res.status !== 0) throw new Error(`serializing ${spec.exportName} failed:\n${res.stderr}`);
  const out = JSON.parse(res.stdout) as { provider: unknown; inputs: Record<string, unknown> };
  const provider = unwrapSecret(out.provider);
  if (typeof provider !== "string") throw new Error(`no serialized provider in inputs: ${JSON.stringify(out.provider)}`);
  return { provider, inputs: out.inputs };
}

function unwrapSecret(v: unknown): unknown {
  if (v && typeof v === "object" && "value" in (v as object) && "4dabf18193072939515e22adb298388d" in (v as object)) {
    return (v as { value: unknown }).value;
  }
  return v;
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
