/**
 * `npm run repoint -- <env> <cluster-id>`: Path B's Pulumi half. After `fly mpg restore` forked a NEW cluster, this
 * writes its id into `renewa:mpgClusterId` of `Pulumi.<env>.yaml` (only that value changes; comments stay) and runs
 * `pulumi up`, so everything that reads the cluster id (the database component and the secrets derived from it)
 * follows the new cluster.
 */
import * as fs from "fs";
import { parseConfig } from "../config";
import { LONG_LIVED_STACKS } from "../stacks";
import { CliIo, CommandSpec, UsageError, asUsage, expectPositionals, formatHelp, parseCommand, runAsMain } from "./args";
import { describeChanges, runUp } from "./promote";
import { StackRunner, createLocalStackRunner } from "./stack-runner";
import { runtimeConfig, setConfigValue, stackFilePath, validateClusterId } from "./stack-file";

const KEY = "renewa:mpgClusterId";

export const REPOINT: CommandSpec = {
  name: "repoint",
  usage: "<env> <cluster-id> [--dry-run]",
  summary: "Path B: point <env> at the Managed Postgres cluster `fly mpg restore` created, then deploy.",
  args: [
    { name: "env", help: "development, staging or production" },
    { name: "cluster-id", help: "the NEW cluster's id (`fly mpg list`)" },
  ],
  options: {},
  notes: [
    `Steps: validate the id; set ${KEY} in Pulumi.<env>.yaml (comments and other lines untouched); pulumi up -s <env>.`,
    "Run it after `fly mpg restore` has finished. Keep the old cluster until the app is verified on the new one.",
  ],
  examples: ["production renewa-production-mpg-restored --dry-run", "staging renewa-staging-mpg-0612"],
};

export interface RepointDeps {
  io: CliIo;
  runner: StackRunner;
  workDir: string;
}

export async function repoint(argv: string[], deps: RepointDeps): Promise<number> {
  const { io } = deps;
  const parsed = parseCommand(REPOINT, argv);
  if (parsed.help) {
    io.out(formatHelp(REPOINT));
    return 0;
  }
  const [env, clusterId] = expectPositionals(REPOINT, parsed);
  if (!(LONG_LIVED_STACKS as readonly string[]).includes(env)) {
    throw new UsageError(`"${env}" has no cluster of its own: expected one of ${LONG_LIVED_STACKS.join(", ")} (PR stacks use development's cluster).`);
  }
  validateClusterId(clusterId);
  const file = stackFilePath(deps.workDir, env);
  if (!fs.existsSync(file)) throw new UsageError(`${file} does not exist; run from the project directory.`);
  const before = fs.readFileSync(file, "utf8");
  const { text: after, previous } = setConfigValue(before, KEY, clusterId);
  // The edited file must still be a valid stack config, or the `up` below would fail after the write.
  asUsage(() => parseConfig(env, runtimeConfig(after, file)));

  if (previous === clusterId) {
    io.out(`${env} already points at ${clusterId} (${KEY} in Pulumi.${env}.yaml); nothing to change.`);
    io.out(`If the last \`pulumi up\` failed, run it again: \`npm run repoint -- ${env} ${clusterId}\` is safe to repeat once the file is right, or run pulumi up -s ${env}.`);
    return 0;
  }
  io.out(`Repoint plan for ${env} (Path B: after \`fly mpg restore\`)`);
  io.out(`  1. Pulumi.${env}.yaml:`);
  for (const line of changedLines(before, after)) io.out(`     ${line}`);
  io.out(`  2. pulumi up -s ${env} (resources that read ${KEY} follow the new cluster)`);
  if (parsed.dryRun) {
    io.out("Dry run: nothing was changed.");
    return 0;
  }

  fs.writeFileSync(file, after);
  io.out(`Wrote ${KEY}: ${clusterId} to Pulumi.${env}.yaml${previous ? ` (was ${previous})` : ""}.`);
  const result = await runUp(deps.runner, env, io);
  io.out(`${env} now uses cluster ${clusterId} (${describeChanges(result)}).`);
  io.out(`Next: commit Pulumi.${env}.yaml; update the env → cluster map in renewa-one/scripts/lib/mpg-clusters.sh; verify the app on the new cluster; delete ${previous ?? "the old cluster"} only after that.`);
  return 0;
}

/** `- old` / `+ new` lines with line numbers, for the plan. */
function changedLines(before: string, after: string): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  const out: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] === b[i]) continue;
    if (a[i] !== undefined) out.push(`line ${i + 1} - ${a[i]}`);
    if (b[i] !== undefined) out.push(`line ${i + 1} + ${b[i]}`);
  }
  return out;
}

if (require.main === module) {
  runAsMain("repoint", (argv, io) => repoint(argv, { io, runner: createLocalStackRunner(process.cwd()), workDir: process.cwd() }));
}
