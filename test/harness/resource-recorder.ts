/**
 * Records what a component registers under Pulumi's mock runtime, including the resource options the mocks' own
 * `newResource` does not see (additionalSecretOutputs, protect, parent, dependencies), by wrapping the mock monitor.
 * Call `recordResources` (or `useRecorder`, which does it in a hook) before importing the component.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach } from "vitest";

export interface Registration {
  type: string;
  name: string;
  inputs: Record<string, any>;
  /** Provider reference "urn::id", when an explicit provider was given. */
  provider: string;
  additionalSecretOutputs: string[];
  protect: boolean;
  parent: string;
  dependencies: string[];
}

export interface Invocation {
  token: string;
  inputs: Record<string, any>;
  provider?: string;
}

export interface Recorder {
  registrations: Registration[];
  invocations: Invocation[];
  byType(type: string): Registration[];
  named(name: string): Registration;
  reset(): void;
}

export interface RecordSpec {
  stack: string;
  /** Run as `pulumi preview` does (unknown outputs stay unknown); default false, as `pulumi up`. */
  preview?: boolean;
  /** Outputs merged over the echoed inputs; a key set to undefined is left out of the state. */
  outputs?: (type: string, name: string, inputs: Record<string, any>) => Record<string, unknown> | undefined;
  invoke?: (token: string, inputs: Record<string, any>) => Record<string, unknown> | undefined;
}

function newRecorder(): Recorder {
  const recorder: Recorder = {
    registrations: [],
    invocations: [],
    byType: (type) => recorder.registrations.filter((r) => r.type === type),
    named(name) {
      const found = recorder.registrations.find((r) => r.name === name);
      if (!found) throw new Error(`no resource named ${name}; registered: ${recorder.registrations.map((r) => r.name).join(", ")}`);
      return found;
    },
    reset() {
      recorder.registrations.length = 0;
      recorder.invocations.length = 0;
    },
  };
  return recorder;
}

/**
 * Mocks whose resources echo their inputs merged with `outputs(type, name, inputs)`, and whose invokes answer from
 * `invoke(token, inputs)`; an invoke without an answer fails the test.
 */
export async function recordResources(spec: RecordSpec): Promise<Recorder> {
  const recorder = newRecorder();
  await installMocks(recorder, spec);
  return recorder;
}

/**
 * A component test's usual set-up, as hooks: before the file, `env` is set and the mocks record (import the component
 * in a `beforeAll` registered after this call, so it loads under the mocks); before each test, the record is cleared.
 */
export function useRecorder(spec: RecordSpec & { env?: Record<string, string> }): Recorder {
  const recorder = newRecorder();
  beforeAll(async () => {
    Object.assign(process.env, spec.env);
    await installMocks(recorder, spec);
  });
  beforeEach(() => recorder.reset());
  return recorder;
}

async function installMocks(recorder: Recorder, spec: RecordSpec): Promise<void> {
  const options = new Map<string, Omit<Registration, "inputs" | "provider">>();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const opts = options.get(`${args.type}::${args.name}`)!;
        recorder.registrations.push({ ...opts, inputs: args.inputs, provider: args.provider ?? "" });
        const state: Record<string, unknown> = { ...args.inputs, ...(spec.outputs?.(args.type, args.name, args.inputs) ?? {}) };
        for (const [k, v] of Object.entries(state)) if (v === undefined) delete state[k];
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        recorder.invocations.push({ token: args.token, inputs: args.inputs, provider: args.provider });
        const answer = spec.invoke?.(args.token, args.inputs);
        if (!answer) throw new Error(`Mock call not implemented: ${args.token}`);
        return answer;
      },
    },
    "renewa-platform",
    spec.stack,
    spec.preview ?? false,
  );
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: any, cb: unknown): unknown };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, cb: unknown) => {
    options.set(`${req.getType()}::${req.getName()}`, {
      type: req.getType(),
      name: req.getName(),
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      protect: req.getProtect() ?? false,
      parent: req.getParent(),
      dependencies: req.getDependenciesList(),
    });
    return register(req, cb);
  };
}

/**
 * Resolves once every registration and invoke started so far has been answered: Pulumi's own queue of outstanding
 * RPCs is empty. Use it to assert that something was NOT registered (a constructor that throws before declaring
 * anything) without sleeping a guessed time.
 */
export function idle(): Promise<void> {
  const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
  return settings.waitForRPCs();
}

/**
 * Resolves once `resource` and everything under it is registered. A resource whose registration failed (e.g. a
 * dynamic provider that cannot be serialized) never gets a URN, so this fails after `timeoutMs` instead of hanging.
 */
export async function settle(resource: pulumi.Resource, timeoutMs = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${(resource as any).__name} was not registered within ${timeoutMs} ms; look for an unhandled error above`)), timeoutMs);
  });
  try {
    await Promise.race([promiseOf(resource.urn), timeout]);
  } finally {
    clearTimeout(timer);
  }
  const children = [...(((resource as any).__childResources as Set<pulumi.Resource> | undefined) ?? [])];
  await Promise.all(children.map((child) => settle(child, timeoutMs)));
}

export function promiseOf<T>(o: pulumi.Output<T>): Promise<T> {
  return (o as unknown as { promise(): Promise<T> }).promise();
}

export function isSecret(o: pulumi.Output<unknown>): Promise<boolean> {
  return (o as unknown as { isSecret: Promise<boolean> }).isSecret;
}
