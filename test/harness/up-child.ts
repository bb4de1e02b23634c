// A stand-in for `pulumi up` of the whole program against the fakes. Runs in its own Node process with ts-node
// registered as Pulumi's run.js registers it (start it with `runTsAsync`, see test/harness/up.ts). The program
// (src/index.ts) is evaluated under Pulumi's mock runtime, and the mock monitor acts like the engine:
//
// - dynamic resources go through ONE provider process (test/harness/provider-worker.js, deserializing each provider
//   as @pulumi/pulumi/cmd/dynamic-provider does): check, then diff + update/replace against the previous state, or
//   create; secrets are stripped before the provider sees them (dynamic providers do not accept secrets) and put back
//   on the results the way the engine annotates them (same-named inputs, additionalSecretOutputs);
// - a registration answers only once its provider call finished, so dependents wait as they do under the engine;
// - StackReferences read `stackOutputs`; bridged resources (Upstash, GitHub, provider resources) echo their inputs
//   plus deterministic provider outputs; `getRegistryImage` asks the registry fake over HTTP;
// - resources in the previous state that the program no longer declares are deleted at the end;
// - `destroy: true` is `pulumi destroy`: the program is not run; every resource in the state is deleted, dependents
//   first (the reverse of the state's order, which is the order the resources finished registering, so a resource
//   always comes after what it depends on), dynamic ones through their provider's `delete(id, outputs)`, bridged
//   ones dropped from state. A resource whose state says `protect` fails the destroy before anything is deleted.
//
// Spec on stdin: { stack, config?, stackOutputs?, statePath, env, registryUrl?, destroy? }. The previous state is read from
// `statePath` (when it exists); the result { ok, outputs, state, ... } is written there (stdout and stderr carry what
// the program and the SDK print, as `pulumi up` shows it; exit 0 ok, 1 the update failed, 2 the harness broke). Secret values
// are stored sealed (base64 behind Pulumi's secret signature), standing in for the engine's encryption, so the state
// file shows which values were kept secret.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { runInPulumiStack } from "@pulumi/pulumi/runtime/stack";
import { readStackConfig } from "../../src/synth";
import { registryLookup } from "../fakes/registry";
import { ProviderHost, ROOT, startProviderHost } from "./engine";

const SIG = pulumi.runtime.specialSigKey;
const SECRET = pulumi.runtime.specialSecretSig;

export interface UpSpec {
  stack: string;
  /** Config on top of Pulumi.<stack>.yaml, `renewa:key` → raw string, as `pulumi config set` stores it. */
  config?: Record<string, string>;
  /** Outputs of other stacks by stack name, for StackReferences. */
  stackOutputs?: Record<string, Record<string, unknown>>;
  /** Previous state (when the file exists) and where the result goes. */
  statePath: string;
  /** Environment of the engine and its provider process: credentials, API URLs, RENEWA_TIME_SCALE. */
  env: Record<string, string>;
  /** Where `docker:index/getRegistryImage` looks images up (the registry fake). */
  registryUrl?: string;
  /** The run gives up after this long, reporting what it still waited for. @default 60000 */
  timeoutMs?: number;
  /** `pulumi destroy` instead of `pulumi up`: delete everything in the state (the program is not evaluated). */
  destroy?: boolean;
}

/** One resource in state. Secret values are sealed: `{ [SIG]: SECRET, ciphertext: base64(JSON) }`. */
export interface StateResource {
  type: string;
  name: string;
  id: string;
  custom: boolean;
  /** Serialized provider text of a dynamic resource (the engine keeps it as `__provider`). */
  provider?: string;
  /** `protect` as the program registered it (the resource option on the registration request, inheritance applied). */
  protect?: boolean;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
}

export type Operation = "create" | "update" | "same" | "replace" | "delete" | "read";

export interface Registration {
  type: string;
  name: string;
  op: Operation;
  /** Position in the run's sequence of events when the registration arrived and when it was answered. */
  started: number;
  finished: number;
}

export interface UpResult {
  ok: boolean;
  errors: string[];
  /** Stack outputs; secret ones appear as "[secret]" and are named in `secretOutputs`. */
  outputs: Record<string, unknown>;
  secretOutputs: string[];
  state: { resources: StateResource[] };
  registrations: Registration[];
  deletes: Array<{ type: string; name: string }>;
  invokes: Array<{ token: string; inputs: Record<string, unknown> }>;
  stackReferences: string[];
  providerLog: string;
}

type Wrapped = { [SIG]: string; value: unknown };
const isSecret = (v: unknown): v is Wrapped => !!v && typeof v === "object" && (v as Record<string, unknown>)[SIG] === SECRET;
const secret = (v: unknown): unknown => (isSecret(v) ? v : { [SIG]: SECRET, value: strip(v) });
const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

/** Plain values, as the engine hands them to a provider that does not accept secrets. */
function strip(v: unknown): any {
  if (isSecret(v)) return strip(v.value);
  if (Array.isArray(v)) return v.map(strip);
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, strip(x)]));
  return v;
}

/** The engine's annotateSecrets: a value whose same-named input was secret is secret too. */
function annotate(outs: Record<string, unknown>, ins: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = { ...outs };
  for (const [k, v] of Object.entries(ins)) {
    if (!(k in result)) continue;
    if (isSecret(v)) result[k] = secret(result[k]);
    else if (isPlainObject(v) && isPlainObject(result[k])) result[k] = annotate(result[k] as Record<string, unknown>, v);
  }
  return result;
}

function withSecretOutputs(outs: Record<string, unknown>, names: string[]): Record<string, unknown> {
  const result = { ...outs };
  for (const n of names) if (n in result && result[n] !== undefined) result[n] = secret(result[n]);
  return result;
}

function seal(v: unknown): unknown {
  if (isSecret(v)) return { [SIG]: SECRET, ciphertext: Buffer.from(JSON.stringify(strip(v.value) ?? null)).toString("base64") };
  if (Array.isArray(v)) return v.map(seal);
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, seal(x)]));
  return v;
}

function unseal(v: unknown): unknown {
  if (isPlainObject(v) && v[SIG] === SECRET && typeof v.ciphertext === "string") {
    return { [SIG]: SECRET, value: JSON.parse(Buffer.from(v.ciphertext, "base64").toString("utf8")) };
  }
  if (Array.isArray(v)) return v.map(unseal);
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unseal(x)]));
  return v;
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (isPlainObject(v)) {
    return `{${Object.keys(v).filter((k) => v[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v ?? null);
}

/** UP_DEBUG=1 in the environment prints every registration and invoke as it happens (to stderr). */
const debug = (text: string) => void (process.env.UP_DEBUG && process.stderr.write(`[up] ${text}\n`));
const short = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 12);

/** What the bridged providers would compute, deterministic per resource name so an unchanged run changes nothing. */
function bridgedOutputs(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> {
  const h = short(`${type}::${name}`);
  if (type === "upstash:index/redisDatabase:RedisDatabase") {
    return {
      databaseId: `db-${h}`,
      endpoint: `eu1-${inputs.databaseName ?? name}-${h.slice(0, 5)}.upstash.io`,
      port: 6379,
      password: `upstash-password-${h}`,
      restToken: `upstash-rest-${h}`,
      readOnlyRestToken: `upstash-ro-${h}`,
      state: "active",
    };
  }
  if (type.startsWith("github:index/")) return { id: `${inputs.repository ?? "gh"}:${inputs.environment ?? inputs.name ?? name}`, etag: `W/"${h}"` };
  return {};
}

async function main(): Promise<void> {
  const spec = JSON.parse(fs.readFileSync(0, "utf8")) as UpSpec;
  const previous = fs.existsSync(spec.statePath) ? (JSON.parse(fs.readFileSync(spec.statePath, "utf8")) as UpResult) : undefined;
  const key = (type: string, name: string) => `${type}::${name}`;
  const olds = new Map<string, StateResource>();
  for (const r of previous?.state.resources ?? []) {
    olds.set(key(r.type, r.name), { ...r, inputs: unseal(r.inputs) as Record<string, unknown>, outputs: unseal(r.outputs) as Record<string, unknown> });
  }

  if (spec.destroy) return destroy(spec, previous, [...olds.values()]);

  const config = { ...readStackConfig(ROOT, spec.stack), ...(spec.config ?? {}) };
  pulumi.runtime.setAllConfig(config);

  const host: ProviderHost = await startProviderHost(spec.env);
  const news = new Map<string, StateResource>();
  const registrations: Registration[] = [];
  const deletes: UpResult["deletes"] = [];
  const invokes: UpResult["invokes"] = [];
  const stackReferences: string[] = [];
  const errors: string[] = [];
  let seq = 0;
  /** Resource options the mocks' newResource does not see, captured from the registration request. */
  const options = new Map<string, { additionalSecretOutputs: string[]; protect: boolean; deleteBeforeReplace: boolean }>();
  const providerRefs = new Map<string, Record<string, unknown>>();

  /** The dynamic resource lifecycle as the engine runs it for one registration. */
  async function dynamicStep(type: string, name: string, inputs: Record<string, unknown>, reg: Registration): Promise<StateResource> {
    const { __provider, ...wrappedNews } = inputs;
    const provider = strip(__provider);
    if (typeof provider !== "string") throw new Error(`${type} ${name}: no serialized provider in __provider`);
    const opts = options.get(key(type, name)) ?? { additionalSecretOutputs: [], protect: false, deleteBeforeReplace: false };
    const old = olds.get(key(type, name));
    const call = <T = any>(method: string, ...args: unknown[]) => host.call<T>(provider, method, ...args);
    // The engine passes `__provider` along in every property bag; state keeps it once, here as `provider`.
    const withProvider = (props: Record<string, unknown>, text = provider) => ({ ...props, __provider: text });
    const plainNews = withProvider(strip(wrappedNews));
    const checked = await call<{ inputs?: Record<string, unknown>; failures?: Array<{ property: string; reason: string }> }>(
      "check",
      old ? withProvider(strip(old.inputs), old.provider) : {},
      plainNews,
    );
    if (checked.failures?.length) {
      throw new Error(`${type} ${name}: check failed:\n${checked.failures.map((f) => `  ${f.property}: ${f.reason}`).join("\n")}`);
    }
    const { __provider: _p, ...checkedInputs } = checked.inputs ?? strip(wrappedNews);
    const storedInputs = annotate(checkedInputs, wrappedNews);
    const finish = (id: string, outs: Record<string, unknown>): StateResource => {
      const { __provider: _q, ...rest } = outs ?? {};
      const outputs = withSecretOutputs(annotate(rest, wrappedNews), opts.additionalSecretOutputs);
      return { type, name, id, custom: true, provider, protect: opts.protect, inputs: storedInputs, outputs };
    };
    const create = async () => {
      const res = await call<{ id: string; outs: Record<string, unknown> }>("create", withProvider(checkedInputs));
      return finish(res.id, res.outs);
    };

    if (!old) {
      reg.op = "create";
      return create();
    }
    const oldOuts = withProvider(strip(old.outputs), old.provider);
    const diff = await call<{ changes?: boolean; replaces?: string[]; deleteBeforeReplace?: boolean } | null>("diff", old.id, oldOuts, withProvider(checkedInputs));
    // DIFF_UNKNOWN (no answer): the engine compares the old and new inputs itself.
    const changes = diff?.changes ?? stableJson(strip(old.inputs)) !== stableJson(checkedInputs);
    if (!changes) {
      reg.op = "same";
      // A "same" step keeps the old outputs, and with them the provider text stored at the last create or update.
      return { ...old, protect: opts.protect, inputs: storedInputs };
    }
    if (diff?.replaces?.length) {
      reg.op = "replace";
      if (old.protect) throw new Error(`${type} ${name}: replacing it would delete a protected resource`);
      if (diff.deleteBeforeReplace || opts.deleteBeforeReplace) {
        await call("delete", old.id, oldOuts);
        return create();
      }
      const created = await create();
      await call("delete", old.id, oldOuts);
      return created;
    }
    reg.op = "update";
    const res = await call<{ outs?: Record<string, unknown> } | null>("update", old.id, oldOuts, withProvider(checkedInputs));
    return finish(old.id, res?.outs ?? {});
  }

  await pulumi.runtime.setMocks(
    {
      async newResource(args) {
        const reg: Registration = { type: args.type, name: args.name, op: "same", started: ++seq, finished: 0 };
        registrations.push(reg);
        debug(`register ${args.type} ${args.name}`);
        try {
          const inputs = args.inputs as Record<string, unknown>;
          if (args.type === "pulumi:pulumi:StackReference") {
            reg.op = "read";
            const ref = String(strip(inputs.name) ?? args.id ?? args.name);
            stackReferences.push(ref);
            const outputs = spec.stackOutputs?.[ref.split("/").pop() ?? ref] ?? {};
            return { id: ref, state: { name: ref, outputs, secretOutputNames: [] } };
          }
          if (!args.custom) return { id: undefined, state: {} };
          const k = key(args.type, args.name);
          if (news.has(k)) throw new Error(`duplicate resource ${k}`);
          let entry: StateResource;
          if (typeof strip(inputs.__provider) === "string") {
            entry = await dynamicStep(args.type, args.name, inputs, reg);
          } else {
            const old = olds.get(k);
            const opts = options.get(k);
            const outputs = withSecretOutputs({ ...inputs, ...bridgedOutputs(args.type, args.name, strip(inputs)) }, opts?.additionalSecretOutputs ?? []);
            const id = old?.id ?? `${args.name}-${short(k)}`;
            reg.op = !old ? "create" : stableJson(strip(old.inputs)) === stableJson(strip(inputs)) ? "same" : "update";
            entry = { type: args.type, name: args.name, id, custom: true, protect: opts?.protect, inputs, outputs };
            if (args.type.startsWith("pulumi:providers:")) providerRefs.set(args.name, inputs);
          }
          news.set(k, entry);
          return { id: entry.id, state: entry.outputs };
        } catch (err) {
          errors.push(`${args.type} ${args.name}: ${(err as Error).message}`);
          throw err;
        } finally {
          reg.finished = ++seq;
          debug(`done ${reg.op} ${args.type} ${args.name}`);
        }
      },
      async call(args) {
        invokes.push({ token: args.token, inputs: strip(args.inputs) });
        debug(`invoke ${args.token} ${JSON.stringify(strip(args.inputs))} via ${args.provider}`);
        if (args.token === "github:index/getUser:getUser") {
          const login = String(args.inputs.username);
          return { ...args.inputs, id: String(parseInt(short(login).slice(0, 7), 16)), nodeId: `U_${short(login)}`, login };
        }
        if (args.token === "docker:index/getRegistryImage:getRegistryImage") {
          if (!spec.registryUrl) throw new Error("getRegistryImage: no registry fake given (spec.registryUrl)");
          // The provider reference is "<urn>::<id>"; the urn ends in "::<name>". Its registryAuth holds the credentials.
          const parts = String(args.provider ?? "").split("::");
          const providerInputs = strip(providerRefs.get(parts[parts.length - 2]) ?? {}) as Record<string, unknown>;
          // Provider configuration travels JSON-encoded, as the docker SDK's Provider serializes non-string values.
          const raw = providerInputs.registryAuth;
          const registryAuth = (typeof raw === "string" ? JSON.parse(raw) : raw ?? []) as Array<{ address: string; username?: string; password?: string }>;
          const ref = String(args.inputs.name);
          const auth = registryAuth.find((a) => ref.startsWith(`${a.address}/`));
          return registryLookup(spec.registryUrl, ref, { username: auth?.username, password: auth?.password });
        }
        throw new Error(`up harness has no answer for invoke ${args.token}`);
      },
    },
    "renewa-platform",
    spec.stack,
    false,
    "organization",
  );
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: any, cb: unknown): unknown };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, cb: unknown) => {
    options.set(key(req.getType(), req.getName()), {
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      protect: req.getProtect() ?? false,
      deleteBeforeReplace: req.getDeletebeforereplace() ?? false,
    });
    return register(req, cb);
  };

  process.on("unhandledRejection", (err) => {
    const text = String((err as Error)?.message ?? err);
    if (!errors.some((e) => e.includes(text) || text.includes(e))) errors.push(text);
  });

  // A failed step leaves the resources and outputs that depend on it unresolved for good, where the engine would end
  // the update: once an error is known and nothing is in flight for a moment, the run stops waiting. A run that
  // never settles at all ends at the deadline, listing what it was waiting for.
  const stopped = new Promise<void>((resolve) => {
    const deadline = Date.now() + (spec.timeoutMs ?? 60_000);
    let quietSince = Date.now();
    let lastSeq = -1;
    const timer = setInterval(() => {
      const inFlight = registrations.some((r) => r.finished === 0);
      if (seq !== lastSeq || inFlight) (lastSeq = seq), (quietSince = Date.now());
      if ((errors.length > 0 && Date.now() - quietSince > 300) || Date.now() > deadline) {
        if (errors.length === 0) errors.push(`timed out after ${spec.timeoutMs ?? 60_000} ms`);
        clearInterval(timer);
        resolve();
      }
    }, 20);
  });
  const outputs: Record<string, unknown> = {};
  const secretOutputs: string[] = [];
  let program: Record<string, unknown> = {};
  try {
    await Promise.race([stopped, settle()]);
    const pending = registrations.filter((r) => r.finished === 0);
    if (pending.length) errors.push(`registrations never answered: ${pending.map((r) => r.name).join(", ")}`);
  } catch (err) {
    errors.push(String((err as Error)?.stack ?? err));
  }

  async function settle(): Promise<void> {
    await runInPulumiStack(async () => {
      program = require(path.join(ROOT, "src", "index.ts"));
      return {};
    });
    for (const [k, v] of Object.entries(program)) {
      try {
        if (pulumi.Output.isInstance(v)) {
          const o = v as unknown as { promise(): Promise<unknown>; isSecret: Promise<boolean> };
          const value = await o.promise();
          if (await o.isSecret) {
            secretOutputs.push(k);
            outputs[k] = "[secret]";
          } else outputs[k] = value === undefined ? null : value;
        } else outputs[k] = v ?? null;
      } catch (err) {
        const text = String((err as Error)?.message ?? err);
        if (!errors.some((e) => e.includes(text) || text.includes(e))) errors.push(`output ${k}: ${text}`);
      }
    }
    // Registrations that no output waits for (the deployment record) finish on their own; wait for all of them.
    const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
    for (let i = 0; i < 3; i++) {
      await settings.waitForRPCs().catch((err: unknown) => errors.push(String((err as Error)?.message ?? err)));
      await new Promise((r) => setImmediate(r));
    }
  }

  // The engine deletes what the program no longer declares, dependents first (reverse of the order they were made).
  if (errors.length === 0) {
    for (const old of [...olds.values()].reverse()) {
      if (news.has(key(old.type, old.name))) continue;
      try {
        if (old.protect) throw new Error("it is protected");
        if (old.provider) await host.call(old.provider, "delete", old.id, { ...strip(old.outputs), __provider: old.provider });
        deletes.push({ type: old.type, name: old.name });
      } catch (err) {
        errors.push(`deleting ${old.type} ${old.name}: ${(err as Error).message}`);
        news.set(key(old.type, old.name), old);
      }
    }
  } else {
    // A failed update keeps what it did not get to, as the engine's partial state does.
    for (const [k, old] of olds) if (!news.has(k)) news.set(k, old);
  }
  await host.close();

  const result: UpResult = {
    ok: errors.length === 0,
    errors,
    outputs,
    secretOutputs,
    state: { resources: [...news.values()].map((r) => ({ ...r, inputs: seal(r.inputs), outputs: seal(r.outputs) }) as StateResource) },
    registrations,
    deletes,
    invokes,
    stackReferences,
    providerLog: host.output(),
  };
  fs.writeFileSync(spec.statePath, JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
}

/** The resources of a state listed in a message: `type name` each. */
const names = (rs: StateResource[]) => rs.map((r) => `${r.type} ${r.name}`).join(", ");

/**
 * `pulumi destroy`: like the engine, it refuses to start when any resource in the state is protected (naming them,
 * deleting nothing), then deletes in reverse order, dependents first. A failed delete stops the run there; what is
 * left (the failed resource included) stays in state, so the next destroy retries it. An empty state is a no-op.
 */
async function destroy(spec: UpSpec, previous: UpResult | undefined, resources: StateResource[]): Promise<void> {
  const errors: string[] = [];
  const deletes: UpResult["deletes"] = [];
  const remaining = [...resources];
  let providerLog = "";
  if (resources.length) {
    const host: ProviderHost = await startProviderHost(spec.env);
    try {
      // As the engine does: dependents first, and the first protected resource ends the destroy with an error, after
      // whatever unprotected resources came before it were deleted.
      for (const r of [...resources].reverse()) {
        if (r.protect) {
          errors.push(`resource ${r.name} cannot be deleted because it is protected (${names(remaining.filter((x) => x.protect))})`);
          break;
        }
        try {
          if (r.provider) await host.call(r.provider, "delete", r.id, { ...strip(r.outputs), __provider: r.provider });
        } catch (err) {
          errors.push(`deleting ${r.type} ${r.name}: ${(err as Error).message}`);
          break;
        }
        debug(`deleted ${r.type} ${r.name}`);
        deletes.push({ type: r.type, name: r.name });
        remaining.splice(remaining.indexOf(r), 1);
      }
    } finally {
      await host.close();
      providerLog = host.output();
    }
  }
  const result: UpResult = {
    ok: errors.length === 0,
    errors,
    // A failed destroy leaves the stack's outputs as they were; a finished one leaves none.
    outputs: errors.length ? previous?.outputs ?? {} : {},
    secretOutputs: errors.length ? previous?.secretOutputs ?? [] : [],
    state: { resources: remaining.map((r) => ({ ...r, inputs: seal(r.inputs), outputs: seal(r.outputs) }) as StateResource) },
    registrations: [],
    deletes,
    invokes: [],
    stackReferences: [],
    providerLog,
  };
  fs.writeFileSync(spec.statePath, JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err));
  process.exit(2);
});
