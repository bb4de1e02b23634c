/**
 * DeploymentRecord: writes the `deployment-record` GitHub issue for a release, inside the `pulumi up` that made it.
 *
 * - Once per release: the key `<app>@v<releaseVersion>` is looked up before creating, so a re-run `up` (or a retry
 *   after GitHub answered 503 to a create it may have performed) never writes a second issue.
 * - Never fails a deploy that succeeded: after the client's retries it warns, outputs `recorded: false`, and `diff`
 *   asks for an update on the next `up`, which writes it then.
 * - Deleting or replacing the resource leaves the issue alone: records are history.
 *
 * - Verifies the labels on the created issue: GitHub silently drops labels when the token lacks push access to the
 *   repository, and an unlabelled record is invisible to the lookup, so every retry would write another. The issue's
 *   number is kept instead (`recorded: false`), and the next `up` labels that issue rather than creating one.
 *
 * GITHUB_TOKEN (the GitHub App token: Issues read/write on the app repository) and GITHUB_API_URL are read from the
 * environment inside each method.
 */
import * as pulumi from "@pulumi/pulumi";
import { addLabels, createIssue, ensureLabel, getIssue, listIssuesByLabel, missingLabels } from "../clients/github-issues";
import { githubHttp } from "../clients/github";
import { isApiError, timeScale } from "../clients/http";
import { isUnknown, wireSafe } from "../dynamic-support";
import { backoffDelay } from "../retry";
import {
  DeploymentRecordData,
  RECORD_LABEL,
  RECORD_LABEL_COLOR,
  RECORD_LABEL_DESCRIPTION,
  RECORD_SCHEMA,
  environmentLabel,
  formatRecord,
  parseRecord,
  recordKey,
} from "../deployment-record-format";
import type { MigrationsManifest } from "../migrations/manifest";
import { recordedMigrations } from "../migrations/rollback-safety";

interface Inputs {
  owner: string;
  repository: string;
  stack: string;
  environment: string;
  /** Fly app name, e.g. renewa-app-staging. */
  appName: string;
  /** Undefined when nothing has been released: no record is written. */
  digest?: string;
  imageRef?: string;
  previousDigest?: string;
  backupId?: string;
  releaseVersion?: number;
  commit: string;
  /** ImagePromotion's `override`: production deployed a digest staging had not run. */
  promotionOverride: boolean;
  /** The migrations that travel with the image; the record says which of them this release applied. */
  migrations?: MigrationsManifest;
  /** ImagePromotion's `contractRollback`: contract migrations a pinned rollback went back across. */
  contractRollback?: string[];
}

interface Outputs extends Inputs {
  /** `<appName>@v<releaseVersion>`; undefined when there is nothing to record. */
  key?: string;
  recorded: boolean;
  issueNumber?: number;
  issueUrl?: string;
  /** When the release was first recorded (or first attempted). */
  recordedAt?: string;
}

/** Inputs of a DeploymentRecord. Credentials are never inputs: GITHUB_TOKEN comes from the environment. */
export type DeploymentRecordArgs = {
  [K in keyof Inputs]: undefined extends Inputs[K] ? pulumi.Input<Inputs[K]> | undefined : pulumi.Input<Inputs[K]>;
};

/** Fields that identify a record: a change means a different record (a new issue), never an edit of the old one. */
const REPLACE_ON = ["owner", "repository", "appName", "stack", "releaseVersion"] as const;

class DeploymentRecordProvider implements pulumi.dynamic.ResourceProvider<Inputs, Outputs> {
  async check(_olds: Inputs, news: Inputs): Promise<pulumi.dynamic.CheckResult<Inputs>> {
    const digest = /^sha256:[0-9a-f]{64}$/;
    const failures: pulumi.dynamic.CheckFailure[] = [];
    // During preview, values computed by other resources (the release's digest and version) arrive unknown.
    const known = (k: keyof Inputs) => news[k] !== undefined && !isUnknown(news[k]);
    for (const k of ["owner", "repository", "stack", "environment", "appName", "commit"] as const) {
      if (isUnknown(news[k])) continue;
      if (typeof news[k] !== "string" || news[k].length === 0) failures.push({ property: k, reason: `${k} must be a non-empty string` });
    }
    for (const k of ["digest", "previousDigest"] as const) {
      if (known(k) && !digest.test(news[k] as string)) {
        failures.push({ property: k, reason: `${k} must be sha256:<64 hex>, got ${JSON.stringify(news[k])}` });
      }
    }
    if (known("releaseVersion") && (!Number.isInteger(news.releaseVersion) || (news.releaseVersion as number) < 1)) {
      failures.push({ property: "releaseVersion", reason: `releaseVersion must be a positive integer, got ${news.releaseVersion}` });
    }
    return { inputs: { ...news, promotionOverride: news.promotionOverride ?? false }, failures };
  }

  async diff(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.DiffResult> {
    // A value not known yet (preview) is a change, not a replace: the engine diffs again with the real value before it
    // acts, and a preview must not announce a new record for a re-point that releases nothing.
    const replaces = REPLACE_ON.filter((k) => !isUnknown(news[k]) && olds[k] !== news[k]);
    const pending = REPLACE_ON.some((k) => isUnknown(news[k]));
    // A release whose record could not be written: update, which retries the write.
    const retry = olds.key !== undefined && !olds.recorded;
    // Other fields (commit, backup id) describe the release as first recorded; a re-run from another commit is not
    // a new release, so they do not rewrite history.
    return { changes: replaces.length > 0 || pending || retry, replaces: [...replaces], deleteBeforeReplace: false };
  }

  async create(inputs: Inputs): Promise<pulumi.dynamic.CreateResult<Outputs>> {
    const outs = await record(inputs, undefined);
    return { id: outs.key ?? `${inputs.appName}@unreleased`, outs };
  }

  async update(_id: string, olds: Outputs, news: Inputs): Promise<pulumi.dynamic.UpdateResult<Outputs>> {
    return { outs: await record(news, olds) };
  }

  /**
   * Refresh checks that the issue still exists: a record deleted on GitHub is marked unwritten, so the next `up`
   * writes it again (rollback reads these issues). Its text is not compared: people may comment on and label it.
   */
  async read(id: string, props?: Outputs): Promise<pulumi.dynamic.ReadResult<Outputs>> {
    if (!props?.recorded || props.issueNumber === undefined) return { id, props };
    const issue = await getIssue({ owner: props.owner, repository: props.repository }, props.issueNumber);
    if (issue) return { id, props };
    const { issueNumber: _n, issueUrl: _u, ...rest } = props;
    return { id, props: { ...rest, recorded: false } };
  }

  async delete(): Promise<void> {
    // Records are history: the issue stays when the resource goes (stack removal, replacement by a new release).
  }
}

/** Writes the record unless `olds` shows it was written; never throws for GitHub failures. */
async function record(inputs: Inputs, olds: Outputs | undefined): Promise<Outputs> {
  if (inputs.digest === undefined || inputs.releaseVersion === undefined) {
    return wireSafe({ ...inputs, recorded: false });
  }
  const key = recordKey(inputs.appName, inputs.releaseVersion);
  if (olds?.recorded && olds.key === key) {
    return wireSafe({ ...inputs, key, recorded: true, issueNumber: olds.issueNumber, issueUrl: olds.issueUrl, recordedAt: olds.recordedAt });
  }
  const recordedAt = (olds?.key === key && olds.recordedAt) || new Date().toISOString();
  const data: DeploymentRecordData = {
    schema: RECORD_SCHEMA,
    key,
    app: inputs.appName,
    stack: inputs.stack,
    environment: inputs.environment,
    digest: inputs.digest,
    imageRef: inputs.imageRef,
    previousDigest: inputs.previousDigest ?? null,
    backupId: inputs.backupId ?? null,
    releaseVersion: inputs.releaseVersion,
    commit: inputs.commit,
    recordedAt,
    override: inputs.promotionOverride,
    ...(inputs.contractRollback?.length ? { contractRollback: inputs.contractRollback } : {}),
  };
  // An issue an earlier run created whose labels GitHub dropped: label it instead of writing another.
  const unlabelled = olds?.key === key && olds.issueNumber !== undefined ? { number: olds.issueNumber, html_url: olds.issueUrl ?? "" } : undefined;
  try {
    const issue = await writeOnce(inputs, data, unlabelled);
    return wireSafe({ ...inputs, key, recorded: true, issueNumber: issue.number, issueUrl: issue.html_url, recordedAt });
  } catch (err) {
    const why = String((err as Error)?.message ?? err);
    const dropped = (err as { issue?: { number: number; html_url: string } }).issue;
    if (dropped) {
      await pulumi.log.warn(
        `Deployment record ${key} was created as issue #${dropped.number} in ${inputs.owner}/${inputs.repository}, but ${why} The deploy itself succeeded. ` +
          `Give the token push access (GitHub App: Issues read/write and Contents read on ${inputs.repository}); the next \`pulumi up\` on ${inputs.stack} labels issue #${dropped.number} instead of writing another.`,
      );
      return wireSafe({ ...inputs, key, recorded: false, issueNumber: dropped.number, issueUrl: dropped.html_url, recordedAt });
    }
    await pulumi.log.warn(
      `Deployment record ${key} was not written to ${inputs.owner}/${inputs.repository} (${why}). The deploy itself succeeded. ` +
        `The next \`pulumi up\` on ${inputs.stack} retries the write; check that GITHUB_TOKEN can write issues and that GitHub is reachable.`,
    );
    // Keep an unlabelled issue's number, so the next try still labels it rather than writing another.
    return wireSafe({ ...inputs, key, recorded: false, recordedAt, ...(unlabelled ? { issueNumber: unlabelled.number, issueUrl: unlabelled.html_url } : {}) });
  }
}

/**
 * Finds the record by key, else labels the unlabelled issue an earlier run created, else creates it; a failed create
 * is retried only after looking again. Throws an error carrying `issue` when GitHub drops the labels.
 */
async function writeOnce(
  inputs: Inputs,
  data: DeploymentRecordData,
  unlabelled: { number: number; html_url: string } | undefined,
): Promise<{ number: number; html_url: string }> {
  // Short waits: the deploy is done and the operator is waiting; a record that still fails is retried next `up`.
  const backoff = { baseMs: 200, capMs: 2_000, maxRetries: 3 };
  const http = githubHttp({ backoff });
  const repo = { owner: inputs.owner, repository: inputs.repository };
  const labels = [RECORD_LABEL, environmentLabel(inputs.stack)];
  await ensureLabel(repo, { name: RECORD_LABEL, color: RECORD_LABEL_COLOR, description: RECORD_LABEL_DESCRIPTION }, http);
  await ensureLabel(repo, { name: labels[1], color: "c5def5", description: `Deployment records of ${labels[1].slice(4)}` }, http);

  const find = async () => {
    const issues = await listIssuesByLabel(repo, labels, {}, http);
    const records = issues.map((issue) => {
      try {
        return { issue, record: parseRecord(issue.body) };
      } catch {
        return { issue, record: undefined }; // Someone edited an old record's block; it cannot be this release's.
      }
    });
    // The schema version before this release: the head in the newest earlier record of this stack that has one.
    const previous = records
      .map((r) => r.record)
      .filter((r) => r?.stack === data.stack && r.releaseVersion < data.releaseVersion && r.migrations)
      .sort((a, b) => b!.releaseVersion - a!.releaseVersion)[0];
    return { existing: records.find((r) => r.record?.key === data.key)?.issue, previousHead: previous?.migrations?.head };
  };
  const labelsDropped = (issue: { number: number; html_url: string }, missing: string[]) =>
    Object.assign(new Error(`GitHub dropped its label(s) ${missing.join(", ")}: the token has no push access to the repository, and an unlabelled record is invisible to \`rollback\`.`), { issue });
  for (let attempt = 0; ; attempt++) {
    const { existing, previousHead } = await find();
    if (existing) return existing;
    if (unlabelled) {
      const now = await addLabels(repo, unlabelled.number, labels, http);
      const missing = missingLabels({ labels: now }, labels);
      if (missing.length) throw labelsDropped(unlabelled, missing);
      return unlabelled;
    }
    const full = inputs.migrations ? { ...data, migrations: recordedMigrations(inputs.migrations, inputs.stack, previousHead) } : data;
    const { title, body } = formatRecord(full);
    try {
      const created = await createIssue(repo, { title, body, labels }, http);
      const missing = missingLabels(created, labels);
      if (missing.length) throw labelsDropped(created, missing);
      return created;
    } catch (err) {
      if ((err as { issue?: unknown }).issue) throw err;
      const transient = isApiError(err) && (err.status === 0 || err.status >= 500);
      if (!transient || attempt >= backoff.maxRetries) throw err;
      await new Promise((r) => setTimeout(r, backoffDelay(attempt, backoff, Math.random) * timeScale()));
    }
  }
}

const provider = new DeploymentRecordProvider();

/**
 * The deployment-record issue of one release. Create it after the release (its inputs are the Release's outputs),
 * so it exists only for rollouts that succeeded.
 *
 * @example
 * new DeploymentRecord("app-record", {
 *   owner: cfg.githubOwner, repository: cfg.githubRepository, stack: cfg.stack, environment: cfg.stack,
 *   appName: cfg.appName, digest: release.digest, imageRef: promotion.imageRef, previousDigest: release.previousDigest,
 *   backupId: database.backupId, releaseVersion: release.releaseVersion,
 *   commit: promotion.sourceCommit.apply((c) => c ?? "unknown"), // the app commit the image was built from
 *   promotionOverride: promotion.override,
 * }, { parent: this });
 */
export class DeploymentRecord extends pulumi.dynamic.Resource {
  declare readonly key: pulumi.Output<string | undefined>;
  declare readonly recorded: pulumi.Output<boolean>;
  declare readonly issueNumber: pulumi.Output<number | undefined>;
  declare readonly issueUrl: pulumi.Output<string | undefined>;
  declare readonly recordedAt: pulumi.Output<string | undefined>;

  constructor(name: string, args: DeploymentRecordArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      { ...args, key: undefined, recorded: undefined, issueNumber: undefined, issueUrl: undefined, recordedAt: undefined },
      opts,
      "github",
      "DeploymentRecord",
    );
  }
}
