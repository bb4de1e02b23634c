import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import { RECORD_LABEL, RECORD_LABEL_COLOR, RECORD_LABEL_DESCRIPTION } from "../src/deployment-record-format";
import { CI_SECRET_NAMES, assertCiSecretName } from "../src/github-ci-secrets";
import { GithubEnvironmentSecret } from "../src/providers/github-environment-secret";

export const GITHUB_ENVIRONMENTS = ["development", "staging", "production", "pr-preview"] as const;
export type GithubEnvironmentName = (typeof GITHUB_ENVIRONMENTS)[number];

/** The one status check merges into the default branch wait for (pr-preview.yml's `ci-gate` job). */
export const REQUIRED_STATUS_CHECK = "ci-gate";

export interface GithubEnvironmentArgs {
  /**
   * Owner (user or organization) of the app repository.
   * @example "renewa"
   */
  owner: string;
  /**
   * The app repository's name.
   * @example "renewa-one"
   */
  repository: string;
  /**
   * The GitHub environment this stack deploys through. `pr-preview` is repository-wide, so only the stack with
   * `manageRepository` may name it.
   * @example "production"
   */
  environment: GithubEnvironmentName;
  /**
   * Who approves deployments (1 to 6): `user:<login>` or `team:<owner>/<team-slug>` (a team of the owner's
   * organization). Required on production, optional on staging, refused elsewhere. Each is resolved to its numeric
   * id the way its kind needs (`GET /users/{login}`, `GET /orgs/{org}/teams/{slug}`); an unknown one fails preview.
   * @default undefined
   * @example ["user:alice", "team:renewa/release-managers"]
   */
  reviewers?: string[];
  /**
   * CI-infrastructure secrets to keep in the environment, each valued from the variable of the same name in the
   * environment of `pulumi up`. Only names in CI_SECRET_NAMES are accepted: app secrets never go to GitHub.
   * @default ["FLY_API_TOKEN", "FLY_MPG_TOKEN"]
   * @example ["FLY_API_TOKEN"]
   */
  ciSecrets?: string[];
  /**
   * Also manage the repository-wide pieces: the ruleset requiring `ci-gate` on the default branch, the
   * `deployment-record` label and the `pr-preview` environment (with its CI secrets). Exactly one stack sets it:
   * development.
   * @default false
   * @example true
   */
  manageRepository?: boolean;
}

/** Exported for testing: the problems with `args`, one line each; empty when valid. */
export function validateGithubEnvironmentArgs(args: GithubEnvironmentArgs): string[] {
  const problems: string[] = [];
  if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(args.owner ?? "")) problems.push(`\`owner\` ${JSON.stringify(args.owner)} must be a GitHub user or organization name.`);
  if (!/^[A-Za-z0-9._-]+$/.test(args.repository ?? "")) problems.push(`\`repository\` ${JSON.stringify(args.repository)} must be a repository name.`);
  if (!(GITHUB_ENVIRONMENTS as readonly string[]).includes(args.environment)) {
    problems.push(`\`environment\` ${JSON.stringify(args.environment)} must be one of ${GITHUB_ENVIRONMENTS.join(", ")}.`);
  }
  if (args.environment === "pr-preview" && !args.manageRepository) {
    problems.push("`environment` \"pr-preview\" is repository-wide: it is managed by the stack with `manageRepository: true` (development), not by PR stacks.");
  }
  const reviewers = args.reviewers;
  if (args.environment === "production") {
    if (!reviewers || reviewers.length < 1 || reviewers.length > 6) {
      problems.push(`\`reviewers\` must list 1 to 6 users or teams on production (got ${reviewers?.length ?? 0}); set renewa:productionReviewers.`);
    }
  } else if (args.environment === "staging") {
    if (reviewers && (reviewers.length < 1 || reviewers.length > 6)) problems.push(`\`reviewers\` on staging must list 1 to 6 users or teams (got ${reviewers.length}).`);
  } else if (reviewers !== undefined) {
    problems.push(`\`reviewers\` apply only to production and staging; "${args.environment}" deploys without approval.`);
  }
  for (const reviewer of reviewers ?? []) {
    const parsed = parseReviewer(reviewer);
    if (!parsed) problems.push(`\`reviewers\`: ${JSON.stringify(reviewer)} is neither "user:<login>" nor "team:<org>/<team-slug>".`);
    else if (parsed.kind === "team" && parsed.org.toLowerCase() !== (args.owner ?? "").toLowerCase()) {
      problems.push(`\`reviewers\`: team ${JSON.stringify(reviewer)} belongs to "${parsed.org}"; required reviewers must be teams of the repository owner "${args.owner}".`);
    }
  }
  if (reviewers && new Set(reviewers).size !== reviewers.length) problems.push("`reviewers` lists a reviewer twice.");
  const secrets = args.ciSecrets ?? [];
  for (const secret of secrets) {
    try {
      assertCiSecretName(secret);
    } catch (err) {
      problems.push(`\`ciSecrets\`: ${(err as Error).message}`);
    }
  }
  if (new Set(secrets).size !== secrets.length) problems.push("`ciSecrets` lists a name twice.");
  return problems;
}

export type Reviewer = { kind: "user"; login: string } | { kind: "team"; org: string; slug: string };

/** `user:alice` → a user; `team:renewa/release-managers` → a team; anything else → undefined. */
export function parseReviewer(text: string): Reviewer | undefined {
  const user = /^user:([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))$/.exec(text);
  if (user) return { kind: "user", login: user[1] };
  const team = /^team:([A-Za-z0-9][A-Za-z0-9-]*)\/([A-Za-z0-9][A-Za-z0-9_.-]*)$/.exec(text);
  return team ? { kind: "team", org: team[1], slug: team[2] } : undefined;
}

/** `FLY_API_TOKEN` → `fly-api-token`, for child resource names. */
function kebab(name: string): string {
  return name.toLowerCase().replace(/_/g, "-");
}

/**
 * @pulumi/github's Provider copies GITHUB_TOKEN from the program's environment into its inputs when no token is
 * given, which would put the token into state. Dropping it leaves the plugin to read GITHUB_TOKEN itself.
 */
function withoutToken(args: pulumi.ResourceTransformationArgs): pulumi.ResourceTransformationResult {
  const { token: _token, ...props } = args.props;
  return { props, opts: args.opts };
}

/**
 * A GitHub environment of the app repository with its protection rules and CI-infrastructure secrets; with
 * `manageRepository`, also the repository's `ci-gate` ruleset, `deployment-record` label and `pr-preview` environment.
 * GitHub credentials come from GITHUB_TOKEN in the environment of `pulumi`, never from config or state.
 *
 * @example
 * new GithubEnvironment("renewa-github", {
 *   owner: "renewa", repository: "renewa-one", environment: "production",
 *   reviewers: ["user:alice", "team:renewa/release-managers"],
 * });
 */
export class GithubEnvironment extends pulumi.ComponentResource {
  /** Name of the GitHub environment. */
  public readonly environment: pulumi.Output<string>;
  /** The environment's page (its deployments) on github.com. */
  public readonly url: pulumi.Output<string>;

  private readonly name: string;

  constructor(name: string, args: GithubEnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validated before super(), so bad arguments register nothing, not even the component.
    const problems = validateGithubEnvironmentArgs(args);
    if (problems.length) throw new Error(`GithubEnvironment "${name}":\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    super("renewa:github:Environment", name, {}, opts);
    this.name = name;
    const ciSecrets = args.ciSecrets ?? [...CI_SECRET_NAMES];

    const provider = new github.Provider(`${name}-provider`, { owner: args.owner }, { parent: this, transformations: [withoutToken] });
    const environment = this.createEnvironment(`${name}-environment`, args, args.environment, provider);
    this.createSecrets(name, args, args.environment, environment, ciSecrets);
    if (args.manageRepository) {
      if (args.environment !== "pr-preview") {
        const preview = this.createEnvironment(`${name}-pr-preview-environment`, args, "pr-preview", provider);
        this.createSecrets(`${name}-pr-preview`, args, "pr-preview", preview, ciSecrets);
      }
      this.createRuleset(name, args, provider);
      this.createLabel(name, args, provider);
    }

    this.environment = environment.environment;
    this.url = pulumi.output(`https://github.com/${args.owner}/${args.repository}/deployments/${encodeURIComponent(args.environment)}`);
    this.registerOutputs({ environment: this.environment, url: this.url });
  }

  private createEnvironment(
    resourceName: string,
    args: GithubEnvironmentArgs,
    environment: GithubEnvironmentName,
    provider: github.Provider,
  ): github.RepositoryEnvironment {
    const reviewers = (args.reviewers ?? []).map((r) => parseReviewer(r)!);
    const gated =
      environment === "production" || (environment === "staging" && reviewers.length > 0)
        ? {
            reviewers: [
              {
                users: reviewers.filter((r) => r.kind === "user").map((r) => this.reviewerId(r, provider)),
                teams: reviewers.filter((r) => r.kind === "team").map((r) => this.reviewerId(r, provider)),
              },
            ],
            preventSelfReview: true,
            deploymentBranchPolicy: { protectedBranches: true, customBranchPolicies: false },
          }
        : {};
    return new github.RepositoryEnvironment(
      resourceName,
      { repository: args.repository, environment, ...gated },
      { parent: this, provider },
    );
  }

  /**
   * Required reviewers are numeric ids: a user's from `GET /users/{login}`, a team's from
   * `GET /orgs/{org}/teams/{slug}`. The lookups are invokes, so they also run at preview, where an unknown reviewer
   * stops the run naming it (a team looked up as a user would 404, or worse, find a stranger of that login).
   */
  private reviewerId(reviewer: Reviewer, provider: github.Provider): pulumi.Output<number> {
    const opts = { parent: this, provider };
    const [what, lookup] =
      reviewer.kind === "user"
        ? [`user "${reviewer.login}" (GET /users/${reviewer.login})`, () => github.getUser({ username: reviewer.login }, opts)]
        : [`team "${reviewer.org}/${reviewer.slug}" (GET /orgs/${reviewer.org}/teams/${reviewer.slug})`, () => github.getTeam({ slug: reviewer.slug, summaryOnly: true }, opts)];
    return pulumi.output(
      lookup().then(
        (found) => Number(found.id),
        (err) => {
          throw new Error(`GithubEnvironment "${this.name}": reviewer ${what} was not found: ${String((err as Error)?.message ?? err).split("\n")[0]}. Fix the reviewer list (renewa:productionReviewers / renewa:stagingReviewers).`);
        },
      ),
    );
  }

  /** The secrets talk to GitHub's REST API themselves (sealed from the process environment), after the environment exists. */
  private createSecrets(
    prefix: string,
    args: GithubEnvironmentArgs,
    environmentName: GithubEnvironmentName,
    environment: github.RepositoryEnvironment,
    ciSecrets: string[],
  ): void {
    for (const secretName of ciSecrets) {
      new GithubEnvironmentSecret(
        `${prefix}-${kebab(secretName)}`,
        { owner: args.owner, repository: args.repository, environment: environmentName, secretName },
        { parent: this, dependsOn: [environment] },
      );
    }
  }

  private createRuleset(name: string, args: GithubEnvironmentArgs, provider: github.Provider): void {
    new github.RepositoryRuleset(
      `${name}-ruleset`,
      {
        repository: args.repository,
        name: `default-branch-${REQUIRED_STATUS_CHECK}`,
        target: "branch",
        enforcement: "active",
        conditions: { refName: { includes: ["~DEFAULT_BRANCH"], excludes: [] } },
        rules: {
          requiredStatusChecks: {
            requiredChecks: [{ context: REQUIRED_STATUS_CHECK }],
            strictRequiredStatusChecksPolicy: false,
          },
        },
      },
      { parent: this, provider },
    );
  }

  private createLabel(name: string, args: GithubEnvironmentArgs, provider: github.Provider): void {
    new github.IssueLabel(
      `${name}-deployment-record-label`,
      {
        repository: args.repository,
        // Deployment records (the rollback source) carry it; their provider adds only the per-environment labels.
        name: RECORD_LABEL,
        color: RECORD_LABEL_COLOR,
        description: RECORD_LABEL_DESCRIPTION,
      },
      { parent: this, provider },
    );
  }
}
