/**
 * `npm run preview-env -- up <N> [--digest sha256:…]` / `preview-env -- destroy <N>`: the PR preview lifecycle.
 * `up` creates or updates stack pr-<N> (app renewa-app-pr-<N>, its own database and bucket) with the PR's image;
 * `destroy` tears all of it down and then removes the stack, so a closed PR leaves nothing behind. Both are safe to
 * repeat (a reopened PR, a cleanup job that runs twice).
 */
import * as fs from "fs";
import { migrationsManifestSchema } from "../migrations/manifest";
import { assertDigest } from "../promotion";
import { APP_PREFIX, parseStackName } from "../stacks";
import { CliIo, CommandSpec, UsageError, asUsage, expectPositionals, formatHelp, parseCommand, runAsMain } from "./args";
import { describeChanges, upWithRunConfig } from "./promote";
import { StackRunner, createLocalStackRunner } from "./stack-runner";

export const PREVIEW_ENV: CommandSpec = {
  name: "preview-env",
  usage: "up <N> [--digest sha256:…] [--migrations <file>] [--source-commit <sha>] [--dry-run] | destroy <N> [--dry-run]",
  summary: "Create/update (up) or tear down (destroy) the preview environment of the app's pull request <N>: stack pr-<N>.",
  args: [
    { name: "action", help: "up or destroy" },
    { name: "N", help: "the pull request number in the app repository (renewa/renewa-one)" },
  ],
  options: {
    digest: { type: "string", placeholder: "sha256:…", help: "up: the PR build's digest (sets renewa:imageDigest on pr-<N>)." },
    migrations: { type: "string", placeholder: "file", help: "up: the build's migrations manifest (`npm run migrations-manifest` output): renewa:migrations." },
    "source-commit": { type: "string", placeholder: "sha", help: "up: the app commit the image was built from: renewa:sourceCommit." },
  },
  notes: [
    "up:      for this run, set renewa:imageDigest / renewa:migrations / renewa:sourceCommit on pr-<N>; pulumi up -s",
    "         pr-<N> (creates the stack if new); remove them again (the stack's outputs keep what runs).",
    "destroy: pulumi destroy -s pr-<N> (app, database, bucket); pulumi stack rm pr-<N>. A missing stack is not an error.",
  ],
  examples: [`up 42 --digest sha256:${"0".repeat(64)} --migrations migrations.json`, "destroy 42", "destroy 42 --dry-run"],
};

export interface PreviewEnvDeps {
  io: CliIo;
  runner: StackRunner;
}

export async function previewEnv(argv: string[], deps: PreviewEnvDeps): Promise<number> {
  const { io, runner } = deps;
  const parsed = parseCommand(PREVIEW_ENV, argv);
  if (parsed.help) {
    io.out(formatHelp(PREVIEW_ENV));
    return 0;
  }
  const [action, n] = expectPositionals(PREVIEW_ENV, parsed);
  if (action !== "up" && action !== "destroy") throw new UsageError(`unknown action "${action}": expected up or destroy.`);
  const info = parseStackName(`pr-${n}`);
  if (!info || info.kind !== "pr") throw new UsageError(`"${n}" is not a pull request number (a positive integer without leading zeros, e.g. 42).`);
  const stack = info.stack;
  const app = `${APP_PREFIX}${stack}`;
  const digest = parsed.values.digest as string | undefined;
  const migrationsFile = parsed.values.migrations as string | undefined;
  const sourceCommit = parsed.values["source-commit"] as string | undefined;
  if (action === "destroy" && (digest ?? migrationsFile ?? sourceCommit) !== undefined) throw new UsageError("--digest, --migrations and --source-commit only apply to up.");
  if (digest !== undefined) asUsage(() => assertDigest(digest, "--digest"));
  if (sourceCommit !== undefined && !/^[0-9a-f]{40}$/.test(sourceCommit)) throw new UsageError(`--source-commit "${sourceCommit}" is not a full 40-hex commit.`);
  const run = {
    "renewa:imageDigest": digest,
    "renewa:migrations": migrationsFile === undefined ? undefined : readManifest(migrationsFile),
    "renewa:sourceCommit": sourceCommit,
  };
  return action === "up" ? up(stack, app, run, parsed.dryRun, io, runner) : destroy(stack, app, parsed.dryRun, io, runner);
}

/** The manifest file as compact JSON, validated before anything changes. */
function readManifest(file: string): string {
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new UsageError(`--migrations ${file} cannot be read as JSON: ${(err as Error).message}`);
  }
  const res = migrationsManifestSchema.safeParse(data);
  if (!res.success) throw new UsageError(`--migrations ${file} is not a migrations manifest: ${res.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return JSON.stringify(res.data);
}

async function up(stack: string, app: string, run: Record<string, string | undefined>, dryRun: boolean, io: CliIo, runner: StackRunner): Promise<number> {
  const digest = run["renewa:imageDigest"];
  io.out(`Preview environment plan: up ${stack} (app ${app})`);
  io.out(`  1. ${digest ? `for this run: renewa:imageDigest ${digest}${run["renewa:migrations"] ? ", renewa:migrations" : ""}${run["renewa:sourceCommit"] ? ", renewa:sourceCommit" : ""} on ${stack}` : "no --digest: keep the image the stack already runs (a new stack deploys nothing)"}`);
  io.out(`  2. pulumi up -s ${stack} (creates the stack, app, database and bucket when missing)`);
  if (dryRun) {
    io.out("Dry run: nothing was changed.");
    return 0;
  }
  const result = await upWithRunConfig(runner, stack, run, io);
  const url = result.outputs.appUrl ?? `https://${app}.fly.dev`;
  io.out(`Preview ${stack} is up: ${url} (${result.outputs.imageDigest ?? "no image yet"}; ${describeChanges(result)}).`);
  io.out(`It is torn down when the PR closes (pr-cleanup.yml), or by hand: npm run preview-env -- destroy ${stack.slice(3)}`);
  return 0;
}

async function destroy(stack: string, app: string, dryRun: boolean, io: CliIo, runner: StackRunner): Promise<number> {
  const exists = await runner.exists(stack);
  io.out(`Preview environment plan: destroy ${stack} (app ${app})`);
  if (!exists) {
    io.out(`  Stack ${stack} does not exist: nothing to clean up.`);
    return 0;
  }
  io.out(`  1. pulumi destroy -s ${stack} (the app, its database and bucket)`);
  io.out(`  2. pulumi stack rm ${stack} (its config and history)`);
  if (dryRun) {
    io.out("Dry run: nothing was changed.");
    return 0;
  }
  let result;
  try {
    result = await runner.destroy(stack, (text) => io.out(text.replace(/\n$/, "")));
  } catch (err) {
    throw new Error(`pulumi destroy on ${stack} failed: ${(err as Error).message}\nThe stack was kept so nothing is orphaned; fix the cause and re-run \`npm run preview-env -- destroy ${stack.slice(3)}\`.`);
  }
  if (result.result !== "succeeded") throw new Error(`pulumi destroy on ${stack} finished with result "${result.result}"; the stack was kept. Re-run once the cause is fixed.`);
  await runner.removeStack(stack);
  io.out(`Removed preview ${stack}: ${describeChanges(result)}; stack deleted.`);
  return 0;
}

if (require.main === module) {
  runAsMain("preview-env", (argv, io) => previewEnv(argv, { io, runner: createLocalStackRunner(process.cwd()) }));
}
