/**
 * Offline synth: evaluates the program for one stack under Pulumi's mock runtime (no CLI, no credentials, no network)
 * and returns the desired state. Invokes and stack references answer "unknown", the way a first preview sees them,
 * so nothing shows a made-up value. Used by `npm run synth` and by the tests.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { specialSecretSig, specialSigKey, unknownValue as UNKNOWN } from "@pulumi/pulumi/runtime/rpc";
import { registerStackTransformation, runInPulumiStack } from "@pulumi/pulumi/runtime/stack";
import { parse as parseYaml } from "yaml";

export const SECRET_TEXT = "[secret]";
export const UNKNOWN_TEXT = "(known after deploy)";

/** Invokes the program makes, and which of their results only the real provider knows. */
const INVOKE_RESULTS: Record<string, string[]> = {
  "github:index/getUser:getUser": ["id", "nodeId"],
  "github:index/getTeam:getTeam": ["id", "nodeId"],
};

export interface SynthResource {
  type: string;
  name: string;
  parent?: string;
  protect: boolean;
  retainOnDelete: boolean;
  dependsOn: string[];
  /** Position in the order the engine received registrations (a resource waits for what it depends on). */
  registered?: number;
  inputs: Record<string, unknown>;
  /** Serialized dynamic provider text; only with `withProviders`. */
  provider?: string;
}

export interface SynthResult {
  stack: string;
  resources: SynthResource[];
  outputs: Record<string, unknown>;
}

export interface SynthOptions {
  /** Project root holding Pulumi.yaml and the stack files. */
  root: string;
  /** Raw config (`renewa:key` → string); by default read from Pulumi.<stack>.yaml. */
  config?: Record<string, string>;
  /** Extra or replaced config on top of the stack file. */
  overrides?: Record<string, string>;
  /** Outputs of other stacks, by stack name, for StackReferences; anything absent is unknown. */
  stackOutputs?: Record<string, Record<string, unknown>>;
  withProviders?: boolean;
}

/** Reads `Pulumi.<stack>.yaml` into Pulumi's runtime config form; a missing file (PR stacks) is empty config. */
export function readStackConfig(root: string, stack: string): Record<string, string> {
  const file = path.join(root, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) return {};
  const doc = (parseYaml(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (value && typeof value === "object" && "secure" in (value as object)) {
      throw new Error(`${path.basename(file)}: ${key} is an encrypted value; offline synth cannot decrypt it and this program keeps no secrets in config.`);
    }
    out[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return out;
}

function render(value: unknown): unknown {
  if (value === UNKNOWN) return UNKNOWN_TEXT;
  if (Array.isArray(value)) return value.map(render);
  if (value && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    if (obj[specialSigKey] === specialSecretSig) return SECRET_TEXT;
    // How the mock monitor hands over an input that depends on a value not known yet.
    if (obj.__pulumiUnknown === true) return UNKNOWN_TEXT;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = render(v);
    return out;
  }
  return value;
}

async function renderOutput(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    const o = value as pulumi.Output<unknown> & { isKnown: Promise<boolean>; isSecret: Promise<boolean> };
    if (await o.isSecret) return SECRET_TEXT;
    if (!(await o.isKnown)) return UNKNOWN_TEXT;
    return renderOutput(await (o as unknown as { promise(): Promise<unknown> }).promise());
  }
  if (Array.isArray(value)) return Promise.all(value.map(renderOutput));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = await renderOutput(v);
    return out;
  }
  return value === undefined ? null : value;
}

/** Evaluates `src/index.ts` for `stack`. Must run in a process of its own: the mock runtime is process-global. */
export async function synth(stack: string, options: SynthOptions): Promise<SynthResult> {
  const config = { ...(options.config ?? readStackConfig(options.root, stack)), ...(options.overrides ?? {}) };
  // The program reads FLY_API_TOKEN for the registry check during preview. Here every invoke is answered by the mocks
  // below and no provider runs, so a marker stands in when none is set; it never leaves this process.
  process.env.FLY_API_TOKEN ??= "offline-synth-no-token";
  pulumi.runtime.setAllConfig(config);
  const seen = new Map<string, SynthResource>();
  const key = (type: string, name: string) => `${type}::${name}`;
  let registrations = 0;

  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        if (args.type === "pulumi:pulumi:StackReference") {
          const ref = String(args.inputs.name ?? args.name);
          const refStack = ref.split("/").pop() ?? ref;
          // The stack's reference to itself reads its last outputs; offline that is a first deploy: none, unless given.
          const known = options.stackOutputs?.[refStack] ?? (refStack === stack ? {} : undefined);
          const entry = seen.get(key(args.type, args.name));
          if (entry) entry.inputs = { name: ref };
          return { id: ref, state: { name: ref, outputs: known ?? UNKNOWN, secretOutputNames: [] } };
        }
        const entry = seen.get(key(args.type, args.name));
        const { __provider, ...inputs } = args.inputs as Record<string, unknown>;
        if (entry) {
          entry.registered = registrations++;
          entry.inputs = render(inputs) as Record<string, unknown>;
          if (options.withProviders && typeof __provider === "string") entry.provider = __provider;
          else if (options.withProviders && __provider && typeof __provider === "object") {
            entry.provider = String((__provider as { value?: unknown }).value);
          }
        }
        // Inputs echo back as state; everything else a provider would compute stays unknown, as in a first preview.
        return { id: args.id ?? `${args.name}-id`, state: args.inputs };
      },
      call(args) {
        if (args.token === "docker:index/getRegistryImage:getRegistryImage") {
          // Offline there is no registry to ask: the check that the digest exists is left to `pulumi preview`, and
          // the digest is taken as named.
          const name = String(args.inputs.name);
          return { ...args.inputs, id: name, sha256Digest: name.slice(name.indexOf("@") + 1) };
        }
        const fields = INVOKE_RESULTS[args.token];
        if (!fields) throw new Error(`offline synth has no answer for invoke ${args.token}; add it to INVOKE_RESULTS in src/synth.ts`);
        const result: Record<string, unknown> = { ...args.inputs };
        for (const f of fields) result[f] = UNKNOWN;
        return result;
      },
    },
    "renewa-platform",
    stack,
    true,
    // What self-managed (s3://, file://) backends report; Pulumi Cloud would report the team's org.
    "organization",
  );

  let program: Record<string, unknown> = {};
  await runInPulumiStack(async () => {
    registerStackTransformation((a) => {
      const parent = a.opts.parent as unknown as { __name?: string } | undefined;
      const deps = Array.isArray(a.opts.dependsOn) ? a.opts.dependsOn : a.opts.dependsOn ? [a.opts.dependsOn] : [];
      seen.set(key(a.type, a.name), {
        type: a.type,
        name: a.name,
        parent: parent?.__name,
        protect: a.opts.protect === true,
        retainOnDelete: a.opts.retainOnDelete === true,
        dependsOn: deps.map((d) => (d as unknown as { __name?: string }).__name ?? "?"),
        inputs: {},
      });
      return undefined;
    });
    program = require(path.join(options.root, "src", "index.ts"));
    return {};
  });
  // Registrations finish asynchronously; the stack's own outputs resolve only after its children have registered.
  const outputs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(program)) outputs[k] = await renderOutput(v);
  await new Promise((r) => setImmediate(r));
  return { stack, resources: [...seen.values()], outputs };
}

/** A readable tree: each resource's type, name and key properties, children indented under their parent. */
export function formatTree(result: SynthResult): string {
  const lines = [`stack ${result.stack}`];
  const children = new Map<string | undefined, SynthResource[]>();
  for (const r of result.resources) {
    const p = r.parent && result.resources.some((x) => x.name === r.parent) ? r.parent : undefined;
    children.set(p, [...(children.get(p) ?? []), r]);
  }
  const walk = (parent: string | undefined, depth: number) => {
    for (const r of children.get(parent) ?? []) {
      const flags = [r.protect ? "protected" : "", r.retainOnDelete ? "retained on delete" : ""].filter(Boolean);
      lines.push(`${"  ".repeat(depth + 1)}${r.type} ${r.name}${flags.length ? ` [${flags.join(", ")}]` : ""}`);
      for (const [k, v] of Object.entries(r.inputs)) {
        lines.push(`${"  ".repeat(depth + 3)}${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
      }
      walk(r.name, depth + 1);
    }
  };
  walk(undefined, 0);
  lines.push("outputs");
  for (const [k, v] of Object.entries(result.outputs)) lines.push(`  ${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
  return lines.join("\n");
}
