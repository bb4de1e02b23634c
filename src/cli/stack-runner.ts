/**
 * The operator commands' only way to touch Pulumi: an interface, so tests use a fake, and an implementation on the
 * Automation API. The real one needs the Pulumi CLI on PATH and a logged-in backend (PULUMI_ACCESS_TOKEN for Pulumi
 * Cloud, or PULUMI_BACKEND_URL=s3://…/file://… plus PULUMI_CONFIG_PASSPHRASE for a self-managed backend); it is
 * loaded only when a command actually runs, so `--help` and `--dry-run` work without either.
 */
import { assertBackend } from "./check-backend";

export interface RunResult {
  /** "succeeded", "failed", … as Pulumi reports it. */
  result: string;
  /** Resource operation counts, e.g. { update: 2, same: 14 }. */
  changes: Record<string, number>;
  /** Stack outputs after the operation (plain values; secrets included as values). */
  outputs: Record<string, unknown>;
}

export interface StackRunner {
  /** Read-only: does the stack exist in the backend? */
  exists(stack: string): Promise<boolean>;
  /** Read-only: the stack's outputs, or undefined when the stack does not exist. */
  outputs(stack: string): Promise<Record<string, unknown> | undefined>;
  setConfig(stack: string, key: string, value: string): Promise<void>;
  removeConfig(stack: string, key: string): Promise<void>;
  /** Creates the stack when missing, then `pulumi up`; progress goes to onOutput as it happens. */
  up(stack: string, onOutput: (text: string) => void): Promise<RunResult>;
  destroy(stack: string, onOutput: (text: string) => void): Promise<RunResult>;
  removeStack(stack: string): Promise<void>;
}

type Automation = typeof import("@pulumi/pulumi/automation");

/** The Automation API over the project in `workDir` (its Pulumi.yaml and Pulumi.<stack>.yaml files). */
export function createLocalStackRunner(workDir: string): StackRunner {
  // Loaded on first use: the Automation API is heavy and needs nothing until a command really runs.
  let auto: Automation | undefined;
  // The backend settings are checked once, before the first call that starts Pulumi (see check-backend.ts).
  const automation = (): Automation => {
    if (!auto) assertBackend();
    return (auto ??= require("@pulumi/pulumi/automation") as Automation);
  };
  const open = (stackName: string) => cli(() => automation().LocalWorkspace.createOrSelectStack({ stackName, workDir }));
  const plain = (map: Record<string, { value: unknown }>) => Object.fromEntries(Object.entries(map).map(([k, v]) => [k, v.value]));
  const summarize = (summary: { result: string; resourceChanges?: Record<string, number> }, outputs: Record<string, { value: unknown }>): RunResult => ({
    result: summary.result,
    changes: summary.resourceChanges ?? {},
    outputs: plain(outputs),
  });

  const runner: StackRunner = {
    async exists(stack) {
      const ws = await cli(() => automation().LocalWorkspace.create({ workDir }));
      return (await ws.listStacks()).some((s) => s.name === stack || s.name.endsWith(`/${stack}`));
    },
    async outputs(stack) {
      if (!(await runner.exists(stack))) return undefined;
      const s = await cli(() => automation().LocalWorkspace.selectStack({ stackName: stack, workDir }));
      return plain(await s.outputs());
    },
    async setConfig(stack, key, value) {
      await (await open(stack)).setConfig(key, { value });
    },
    async removeConfig(stack, key) {
      await (await open(stack)).removeConfig(key);
    },
    async up(stack, onOutput) {
      const res = await (await open(stack)).up({ onOutput });
      return summarize(res.summary, res.outputs);
    },
    async destroy(stack, onOutput) {
      const s = await open(stack);
      const res = await s.destroy({ onOutput });
      return summarize(res.summary, {});
    },
    async removeStack(stack) {
      const s = await open(stack);
      await s.workspace.removeStack(stack);
    },
  };
  return runner;
}

/** The Automation API's error for a missing CLI is a bare ENOENT; say what to install instead. */
async function cli<T>(start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if (/ENOENT: pulumi|spawn pulumi ENOENT/.test(String((err as Error)?.message))) {
      throw new Error("the Pulumi CLI is not on PATH. Install it (https://www.pulumi.com/docs/install/; in CI the platform-setup action does), log in to the backend (PULUMI_ACCESS_TOKEN, or PULUMI_BACKEND_URL for s3:// / file://), and run again.");
    }
    throw err;
  }
}
