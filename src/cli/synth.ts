/**
 * `npm run synth -- <stack> [--json] [--config key=value]… [--stack-output stack.key=value]…`
 * Prints the desired state of a stack without the Pulumi CLI, credentials or network.
 */
import * as path from "path";
import { parseArgs } from "util";
import { ConfigError } from "../config";
import { formatTree, synth } from "../synth";

const HELP = `Usage: npm run synth -- <stack> [options]

Evaluates the program for <stack> (development, staging, production or pr-<N>) with Pulumi's mock runtime and prints
the desired state: every resource's type, name and inputs; secrets as [secret]; values only known at deploy time as
"(known after deploy)". No Pulumi CLI, credentials or network needed.

Options:
  --json                          machine-readable output
  --config renewa:key=value       override a config value (repeatable), e.g. to see what a change would do
  --stack-output stack.key=value  assume an output of another stack (repeatable), e.g. development.imageDigest=sha256:…
  --with-providers                include serialized dynamic providers (JSON only; for tests)
  -h, --help                      this text`;

function pairs(list: string[] | undefined, sep: string, what: string): Array<[string, string]> {
  return (list ?? []).map((item) => {
    const i = item.indexOf(sep);
    if (i <= 0) throw new Error(`${what} "${item}" must look like key${sep}value`);
    return [item.slice(0, i), item.slice(i + 1)];
  });
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      json: { type: "boolean" },
      config: { type: "string", multiple: true },
      "stack-output": { type: "string", multiple: true },
      "with-providers": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return void console.log(HELP);
  if (positionals.length !== 1) throw new Error(`expected exactly one stack name, got ${positionals.length}.\n\n${HELP}`);
  const stackOutputs: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of pairs(values["stack-output"], "=", "--stack-output")) {
    const [stack, key] = k.split(".");
    if (!key) throw new Error(`--stack-output "${k}" must look like <stack>.<output>=value`);
    (stackOutputs[stack] ??= {})[key] = /^[[{]/.test(v) ? JSON.parse(v) : v;
  }
  const overrides = Object.fromEntries(pairs(values.config, "=", "--config"));
  const result = await synth(positionals[0], {
    root: path.resolve(__dirname, "..", ".."),
    overrides,
    stackOutputs,
    withProviders: values["with-providers"],
  });
  console.log(values.json ? JSON.stringify(result, null, 2) : formatTree(result));
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : `synth failed: ${(err as Error).message}`);
  process.exit(1);
});
