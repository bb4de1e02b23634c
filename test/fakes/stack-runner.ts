/**
 * An in-memory StackRunner: stacks with config and outputs. Mutating operations are logged in `calls` (in order);
 * read-only ones in `reads`, so a test can assert that a dry run changed nothing. `up` behaves like the platform's
 * program in the ways the commands rely on: the digest is renewa:imageDigest, else a pin kept in the pinnedDigest
 * output (unless renewa:followSource), else the previous stage's imageDigest output; renewa:expectedDigest must match;
 * a release bumps releaseVersion and prepends to releasedDigests; `configAtUp` keeps the config each up saw.
 */
import type { RunResult, StackRunner } from "../../src/cli/stack-runner";

export interface FakeStack {
  config: Record<string, string>;
  outputs: Record<string, unknown>;
}

export type RunnerCall =
  | { op: "setConfig"; stack: string; key: string; value: string }
  | { op: "removeConfig"; stack: string; key: string }
  | { op: "up" | "destroy" | "removeStack"; stack: string };

export class FakeStackRunner implements StackRunner {
  readonly stacks = new Map<string, FakeStack>();
  readonly calls: RunnerCall[] = [];
  readonly reads: Array<{ op: "exists" | "outputs"; stack: string }> = [];
  /** Make the next `up` or `destroy` throw, as the Automation API does when the CLI fails. */
  failNext?: string;
  /** The stack config each `up` ran with, in order. */
  readonly configAtUp: Array<{ stack: string; config: Record<string, string> }> = [];

  constructor(stacks: Record<string, Partial<FakeStack>> = {}) {
    for (const [name, s] of Object.entries(stacks)) this.stacks.set(name, { config: { ...s.config }, outputs: { ...s.outputs } });
  }

  async exists(stack: string) {
    this.reads.push({ op: "exists", stack });
    return this.stacks.has(stack);
  }

  async outputs(stack: string) {
    this.reads.push({ op: "outputs", stack });
    const s = this.stacks.get(stack);
    return s ? { ...s.outputs } : undefined;
  }

  async setConfig(stack: string, key: string, value: string) {
    this.calls.push({ op: "setConfig", stack, key, value });
    this.open(stack).config[key] = value;
  }

  async removeConfig(stack: string, key: string) {
    this.calls.push({ op: "removeConfig", stack, key });
    delete this.open(stack).config[key];
  }

  async up(stack: string, onOutput: (text: string) => void): Promise<RunResult> {
    this.calls.push({ op: "up", stack });
    this.maybeFail(stack);
    const s = this.open(stack);
    onOutput(`Updating (${stack}):\n`);
    this.configAtUp.push({ stack, config: { ...s.config } });
    // As ImagePromotion decides: a new pin, else a kept pin, else the previous stage's output, else keep what runs.
    const from = stack === "staging" ? "development" : stack === "production" ? "staging" : undefined;
    const promoted = from ? (this.stacks.get(from)?.outputs.imageDigest as string | undefined) : undefined;
    const pin = s.config["renewa:imageDigest"] ?? (from && s.config["renewa:followSource"] !== "true" ? (s.outputs.pinnedDigest as string | undefined) : undefined);
    const digest = pin ?? promoted ?? (s.outputs.imageDigest as string | undefined);
    const expected = s.config["renewa:expectedDigest"];
    if (expected !== undefined && expected !== digest) throw new Error(`code: 255\n stderr: error: stack ${stack}: the approved digest is ${expected} but this update would deploy ${digest}`);
    const released = digest !== s.outputs.imageDigest;
    if (from) {
      const { pinnedDigest: _old, ...rest } = s.outputs;
      s.outputs = pin ? { ...rest, pinnedDigest: pin } : rest;
    }
    if (released) {
      s.outputs = {
        ...s.outputs,
        imageDigest: digest,
        releaseVersion: Number(s.outputs.releaseVersion ?? 0) + 1,
        releasedDigests: [digest, ...((s.outputs.releasedDigests as string[]) ?? [])],
      };
    }
    onOutput(`Resources:\n    ${released ? "1 updated\n    " : ""}14 unchanged\n`);
    return { result: "succeeded", changes: released ? { update: 1, same: 14 } : { same: 15 }, outputs: { ...s.outputs } };
  }

  async destroy(stack: string, onOutput: (text: string) => void): Promise<RunResult> {
    this.calls.push({ op: "destroy", stack });
    this.maybeFail(stack);
    onOutput(`Destroying (${stack}):\n`);
    this.open(stack).outputs = {};
    return { result: "succeeded", changes: { delete: 9 }, outputs: {} };
  }

  async removeStack(stack: string) {
    this.calls.push({ op: "removeStack", stack });
    this.stacks.delete(stack);
  }

  private open(stack: string): FakeStack {
    if (!this.stacks.has(stack)) this.stacks.set(stack, { config: {}, outputs: {} });
    return this.stacks.get(stack)!;
  }

  private maybeFail(stack: string) {
    if (this.failNext) {
      const message = this.failNext;
      this.failNext = undefined;
      throw new Error(`code: 255\n stderr: error: update of ${stack} failed: ${message}`);
    }
  }
}

/** A CliIo that records what a command printed and answers prompts from a script. */
export function recordingIo(answers?: string[]) {
  const lines: string[] = [];
  const errors: string[] = [];
  const questions: string[] = [];
  return {
    lines,
    errors,
    questions,
    text: () => lines.join("\n"),
    io: {
      out: (l: string) => void lines.push(l),
      err: (l: string) => void errors.push(l),
      ask: answers
        ? async (q: string) => {
            questions.push(q);
            return answers.shift() ?? "";
          }
        : undefined,
    },
  };
}
