/**
 * What every operator command shares: argument parsing on node's util.parseArgs, `--help`, usage errors, the
 * confirmation prompt, and the entry-point wrapper that turns errors into one clear message and an exit code.
 * Commands take their I/O and collaborators as parameters so tests drive them with fakes.
 */
import { parseArgs } from "util";
import * as readline from "readline";

/** Output and input of a command. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /** Asks a question on the terminal; undefined when there is no terminal to ask on (CI). */
  ask?: (question: string) => Promise<string>;
}

export interface CommandSpec {
  name: string;
  usage: string;
  summary: string;
  /** Positional arguments, for help. */
  args: Array<{ name: string; help: string }>;
  options: Record<string, { type: "boolean" | "string"; help: string; placeholder?: string }>;
  examples: string[];
  /** What happens, step by step, shown in help. */
  notes?: string[];
}

/** A mistake in how the command was called: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export interface Parsed {
  help: boolean;
  dryRun: boolean;
  positionals: string[];
  values: Record<string, string | boolean | undefined>;
}

/** Parses argv against the spec; every command also takes --help and --dry-run. Unknown options are usage errors. */
export function parseCommand(spec: CommandSpec, argv: string[]): Parsed {
  const options: Record<string, { type: "boolean" | "string"; short?: string }> = {
    help: { type: "boolean", short: "h" },
    "dry-run": { type: "boolean" },
  };
  for (const [k, v] of Object.entries(spec.options)) options[k] = { type: v.type };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs' messages name the option; trim its internal error-code suffix.
    throw new UsageError(String((err as Error).message).replace(/\. To specify a positional argument.*$/s, "."));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  return { help: Boolean(values.help), dryRun: Boolean(values["dry-run"]), positionals: parsed.positionals, values };
}

/** Runs a validation whose failure means the command was called wrongly: any error becomes a UsageError. */
export function asUsage<T>(validate: () => T): T {
  try {
    return validate();
  } catch (err) {
    throw err instanceof UsageError ? err : new UsageError((err as Error).message);
  }
}

/** Requires exactly the spec's positionals. */
export function expectPositionals(spec: CommandSpec, parsed: Parsed): string[] {
  const want = spec.args.length;
  if (parsed.positionals.length !== want) {
    const got = parsed.positionals.length === 0 ? "none" : parsed.positionals.map((p) => JSON.stringify(p)).join(" ");
    throw new UsageError(`expected ${want} argument(s) (${spec.args.map((a) => `<${a.name}>`).join(" ")}), got ${got}.`);
  }
  return parsed.positionals;
}

export function formatHelp(spec: CommandSpec): string {
  const pad = (s: string) => s.padEnd(24);
  const opts = [
    ...Object.entries(spec.options).map(([k, v]) => [`--${k}${v.placeholder ? ` ${v.placeholder}` : ""}`, v.help]),
    ["--dry-run", "Print the plan and change nothing."],
    ["-h, --help", "Show this help."],
  ];
  return [
    `Usage: npm run ${spec.name} -- ${spec.usage}`,
    "",
    spec.summary,
    "",
    ...(spec.args.length ? ["Arguments:", ...spec.args.map((a) => `  ${pad(`<${a.name}>`)}${a.help}`), ""] : []),
    "Options:",
    ...opts.map(([k, h]) => `  ${pad(k)}${h}`),
    ...(spec.notes?.length ? ["", ...spec.notes] : []),
    "",
    "Examples:",
    ...spec.examples.map((e) => `  npm run ${spec.name} -- ${e}`),
  ].join("\n");
}

/**
 * Asks the operator to type `expected` to go ahead. Without a terminal the command refuses rather than guess: in CI,
 * pass --yes.
 */
export async function confirm(io: CliIo, question: string, expected: string): Promise<boolean> {
  if (!io.ask) throw new UsageError(`confirmation needed but there is no terminal to ask on; re-run with --yes to confirm non-interactively.`);
  const answer = (await io.ask(`${question} Type "${expected}" to continue: `)).trim();
  return answer === expected;
}

/** A terminal-backed CliIo for the real entry points. */
export function terminalIo(): CliIo {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    ask: process.stdin.isTTY
      ? (question) =>
          new Promise((resolve) => {
            const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
            rl.question(question, (answer) => {
              rl.close();
              resolve(answer);
            });
          })
      : undefined,
  };
}

/** Runs a command as a process: usage errors exit 2 with a pointer to --help, other errors exit 1. */
export function runAsMain(name: string, command: (argv: string[], io: CliIo) => Promise<number>): void {
  const io = terminalIo();
  command(process.argv.slice(2), io).then(
    (code) => (process.exitCode = code),
    (err: Error) => {
      if (err instanceof UsageError || err?.name === "UsageError") {
        io.err(`${name}: ${err.message}\nRun \`npm run ${name} -- --help\` for usage.`);
        process.exitCode = 2;
      } else {
        io.err(`${name} failed: ${err?.message ?? err}`);
        process.exitCode = 1;
      }
    },
  );
}
