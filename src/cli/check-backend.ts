/**
 * `npm run check-backend`: the Pulumi backend settings, checked before Pulumi runs. Pulumi itself takes an empty
 * PULUMI_CONFIG_PASSPHRASE as a valid passphrase (a GitHub secret that does not exist expands to ""), and an s3://
 * backend without AWS credentials fails deep inside the CLI; here both stop first, with the variable to set.
 * The workflows run it in every job that runs Pulumi; the operator commands run it before they touch a stack.
 */
import { CliIo, CommandSpec, formatHelp, parseCommand, runAsMain } from "./args";

export const CHECK_BACKEND: CommandSpec = {
  name: "check-backend",
  usage: "",
  summary: "Check the Pulumi backend settings in the environment (PULUMI_BACKEND_URL, passphrase, AWS credentials).",
  args: [],
  options: {},
  notes: [
    "Pulumi Cloud: PULUMI_ACCESS_TOKEN (or `pulumi login` outside CI).",
    "Self-managed (s3://, gs://, azblob://, file://): PULUMI_BACKEND_URL plus a non-empty PULUMI_CONFIG_PASSPHRASE (or",
    "PULUMI_CONFIG_PASSPHRASE_FILE); s3:// also needs AWS credentials (keys, AWS_PROFILE, or a web identity role).",
  ],
  examples: [""],
};

type Env = Record<string, string | undefined>;

const set = (env: Env, name: string) => (env[name] ?? "").trim() !== "";
/** A variable present but empty: what `${{ secrets.X }}` gives for a secret that does not exist. */
const blank = (env: Env, name: string) => env[name] !== undefined && env[name]!.trim() === "";

/** Problems with the backend settings in `env`, one line each; empty when Pulumi can start. Pure, for tests. */
export function backendProblems(env: Env): string[] {
  const url = (env.PULUMI_BACKEND_URL ?? "").trim();
  const ci = env.GITHUB_ACTIONS === "true" || env.CI === "true";
  const problems: string[] = [];
  if (!url || /^https?:\/\//.test(url)) {
    if (!set(env, "PULUMI_ACCESS_TOKEN") && ci) {
      problems.push(
        `no Pulumi backend: PULUMI_BACKEND_URL is ${url ? `"${url}" (Pulumi Cloud)` : "empty"} and PULUMI_ACCESS_TOKEN is ${blank(env, "PULUMI_ACCESS_TOKEN") ? "empty" : "not set"}. ` +
          "Set the secret PULUMI_ACCESS_TOKEN (Pulumi Cloud), or the variable PULUMI_BACKEND_URL (s3://…, file://…) with the secret PULUMI_CONFIG_PASSPHRASE.",
      );
    }
    return problems;
  }
  if (!/^(s3|gs|azblob|file):\/\//.test(url)) {
    return [`PULUMI_BACKEND_URL "${url}" is not a backend Pulumi knows: use https:// (Pulumi Cloud), s3://, gs://, azblob:// or file://.`];
  }
  if (!set(env, "PULUMI_CONFIG_PASSPHRASE") && !set(env, "PULUMI_CONFIG_PASSPHRASE_FILE")) {
    problems.push(
      `PULUMI_CONFIG_PASSPHRASE is ${blank(env, "PULUMI_CONFIG_PASSPHRASE") ? "empty" : "not set"}: the self-managed backend ${url} encrypts stack secrets with it, and Pulumi would take an empty one as the passphrase. ` +
        "Set it (CI: the secret PULUMI_CONFIG_PASSPHRASE in the job's environment), or PULUMI_CONFIG_PASSPHRASE_FILE.",
    );
  }
  if (url.startsWith("s3://")) {
    const keys = set(env, "AWS_ACCESS_KEY_ID") && set(env, "AWS_SECRET_ACCESS_KEY");
    const role = set(env, "AWS_WEB_IDENTITY_TOKEN_FILE") && set(env, "AWS_ROLE_ARN");
    if (!keys && !role && !set(env, "AWS_PROFILE")) {
      const empty = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].filter((n) => blank(env, n));
      problems.push(
        `the backend ${url} needs AWS credentials and none are set${empty.length ? ` (${empty.join(" and ")} ${empty.length > 1 ? "are" : "is"} empty)` : ""}. ` +
          "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (CI: secrets of the job's environment), AWS_PROFILE, or assume a role with OIDC (aws-actions/configure-aws-credentials).",
      );
    }
  }
  return problems;
}

/** Throws one error listing every problem; the operator commands call it before they start Pulumi. */
export function assertBackend(env: Env = process.env): void {
  const problems = backendProblems(env);
  if (problems.length) throw new Error(`the Pulumi backend is not usable:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
}

export async function checkBackend(argv: string[], io: CliIo, env: Env = process.env): Promise<number> {
  const parsed = parseCommand(CHECK_BACKEND, argv);
  if (parsed.help) {
    io.out(formatHelp(CHECK_BACKEND));
    return 0;
  }
  const problems = backendProblems(env);
  for (const p of problems) io.err(`check-backend: ${p}`);
  if (problems.length) return 1;
  const url = (env.PULUMI_BACKEND_URL ?? "").trim();
  io.out(`Pulumi backend: ${url && !/^https?:/.test(url) ? url : "Pulumi Cloud"}: settings present.`);
  return 0;
}

if (require.main === module) {
  runAsMain("check-backend", (argv, io) => checkBackend(argv, io));
}
