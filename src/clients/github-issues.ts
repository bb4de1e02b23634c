/**
 * GitHub REST calls for issues and labels: what deployment records need. Each function takes an optional HttpClient
 * (tests and the record provider pass one with their own retry policy); by default `githubHttp()`, which reads
 * GITHUB_API_URL and GITHUB_TOKEN at call time.
 */
import { HttpClient, isApiError } from "./http";
import { githubHttp } from "./github";

export interface RepoRef {
  owner: string;
  repository: string;
}

export interface Issue {
  number: number;
  title: string;
  body: string | null;
  html_url: string;
  state: string;
  created_at: string;
  labels: Array<{ name: string } | string>;
}

function repoPath(repo: RepoRef): string {
  return `/repos/${encodeURIComponent(repo.owner)}/${encodeURIComponent(repo.repository)}`;
}

/**
 * Creates an issue. A POST is not retried on 5xx by the client (GitHub may have created it); callers that need
 * retries look the issue up by its own key before trying again.
 */
export async function createIssue(
  repo: RepoRef,
  issue: { title: string; body: string; labels: string[] },
  http: HttpClient = githubHttp(),
): Promise<Issue> {
  const res = await http.request<Issue>("POST", `${repoPath(repo)}/issues`, { body: issue });
  return res.body;
}

/** Labels of `wanted` the issue does not carry. */
export function missingLabels(issue: Pick<Issue, "labels">, wanted: string[]): string[] {
  const have = new Set((issue.labels ?? []).map((l) => (typeof l === "string" ? l : l.name)));
  return wanted.filter((l) => !have.has(l));
}

/**
 * Adds labels to an existing issue (`POST /repos/{owner}/{repo}/issues/{issue_number}/labels`); returns the issue's
 * labels afterwards. Adding a label it already has changes nothing, so a repeat is safe.
 */
export async function addLabels(repo: RepoRef, issueNumber: number, labels: string[], http: HttpClient = githubHttp()): Promise<Array<{ name: string }>> {
  const res = await http.request<Array<{ name: string }>>("POST", `${repoPath(repo)}/issues/${issueNumber}/labels`, { body: { labels }, idempotent: true });
  return res.body;
}

/**
 * Issues (not pull requests) carrying every label in `labels`, open and closed, newest first, every page until
 * GitHub has no more (`maxPages` is only a guard against a runaway listing). Unlike the search API this listing is
 * consistent right after a create.
 */
export async function listIssuesByLabel(
  repo: RepoRef,
  labels: string[],
  opts: { perPage?: number; maxPages?: number } = {},
  http: HttpClient = githubHttp(),
): Promise<Issue[]> {
  const perPage = opts.perPage ?? 100;
  const out: Issue[] = [];
  for (let page = 1; page <= (opts.maxPages ?? 1000); page++) {
    const res = await http.request<Array<Issue & { pull_request?: unknown }>>("GET", `${repoPath(repo)}/issues`, {
      query: { labels: labels.join(","), state: "all", sort: "created", direction: "desc", per_page: perPage, page },
    });
    out.push(...res.body.filter((i) => !i.pull_request));
    if (res.body.length < perPage) break;
  }
  return out;
}

/** One issue by number, or undefined when it is gone (404) or was deleted (410). */
export async function getIssue(repo: RepoRef, issueNumber: number, http: HttpClient = githubHttp()): Promise<Issue | undefined> {
  try {
    return (await http.request<Issue>("GET", `${repoPath(repo)}/issues/${issueNumber}`)).body;
  } catch (err) {
    if (isApiError(err, 404) || isApiError(err, 410)) return undefined;
    throw err;
  }
}

/** GitHub's issue search (`q` in GitHub search syntax). Eventually consistent: fresh issues can be missing. */
export async function searchIssues(q: string, http: HttpClient = githubHttp()): Promise<Issue[]> {
  const res = await http.request<{ items: Issue[] }>("GET", "/search/issues", { query: { q, per_page: 100 } });
  return res.body.items;
}

/** Creates the label unless it exists. Safe to call on every write and by two writers at once. */
export async function ensureLabel(
  repo: RepoRef,
  label: { name: string; color: string; description: string },
  http: HttpClient = githubHttp(),
): Promise<void> {
  try {
    await http.request("GET", `${repoPath(repo)}/labels/${encodeURIComponent(label.name)}`);
    return;
  } catch (err) {
    if (!isApiError(err, 404)) throw err;
  }
  try {
    await http.request("POST", `${repoPath(repo)}/labels`, { body: label });
  } catch (err) {
    // 422 "already_exists": another writer created it between our GET and POST.
    if (!isApiError(err, 422)) throw err;
  }
}
