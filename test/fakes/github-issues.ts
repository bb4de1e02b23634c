/**
 * GitHub REST fake for issues, labels and issue search, in one repository. Mounts on an existing HttpFake (so it can
 * share a server with the environment-secrets fake) or starts its own. Newest issues come first, as GitHub lists them
 * with sort=created&direction=desc.
 */
import { FakeRequest, FakeResponse, HttpFake } from "./http-fake";

export interface FakeIssue {
  number: number;
  title: string;
  body: string;
  labels: string[];
  state: "open" | "closed";
  created_at: string;
  pull_request?: boolean;
}

export interface GithubIssuesFake {
  fake: HttpFake;
  issues: FakeIssue[];
  labels: Map<string, { name: string; color: string; description: string }>;
  /** Flip to simulate a token with or without push access (see GithubIssuesFakeOptions.withoutPush). */
  access: { withoutPush: boolean };
  /** Adds an issue as if someone had created it earlier (oldest first when seeding several). */
  seed(issue: Omit<FakeIssue, "number" | "state" | "created_at"> & Partial<FakeIssue>): FakeIssue;
  stop(): Promise<void>;
}

export interface GithubIssuesFakeOptions {
  owner?: string;
  repo?: string;
  /** Required bearer token; omit to accept any. Ignored when mounting on a fake that already checks auth. */
  token?: string;
  /** Mount on this server instead of starting one. */
  fake?: HttpFake;
  /**
   * The token has no push access: GitHub creates issues but silently drops their labels, and refuses to add labels
   * to an existing issue (403).
   */
  withoutPush?: boolean;
}

export async function createGithubIssuesFake(opts: GithubIssuesFakeOptions = {}): Promise<GithubIssuesFake> {
  const owner = opts.owner ?? "renewa";
  const repo = opts.repo ?? "renewa-one";
  const fake = opts.fake ?? new HttpFake();
  if (!opts.fake) {
    fake.requestIdHeader = "x-github-request-id";
    if (opts.token) fake.requiredAuth = `Bearer ${opts.token}`;
  }
  const issues: FakeIssue[] = [];
  const access = { withoutPush: opts.withoutPush ?? false };
  const labels = new Map<string, { name: string; color: string; description: string }>();
  let clock = Date.parse("2026-01-01T00:00:00Z");
  const base = `/repos/${owner}/${repo}`;

  const view = (i: FakeIssue) => ({
    number: i.number,
    title: i.title,
    body: i.body,
    state: i.state,
    created_at: i.created_at,
    html_url: `https://github.com/${owner}/${repo}/issues/${i.number}`,
    labels: i.labels.map((name) => ({ name })),
    ...(i.pull_request ? { pull_request: { url: "…" } } : {}),
  });
  const add = (i: Omit<FakeIssue, "number" | "state" | "created_at"> & Partial<FakeIssue>): FakeIssue => {
    const issue: FakeIssue = { state: "open", created_at: new Date((clock += 60_000)).toISOString(), ...i, number: issues.length + 1 };
    issues.push(issue);
    return issue;
  };
  const newestFirst = () => [...issues].reverse();

  fake.route("GET", `${base}/labels/:name`, (req) => {
    const label = labels.get(req.params.name);
    return label ? { status: 200, body: label } : { status: 404, body: { message: "Not Found" } };
  });
  fake.route("POST", `${base}/labels`, (req) => {
    if (labels.has(req.body?.name)) return { status: 422, body: { message: "Validation Failed", errors: [{ code: "already_exists" }] } };
    labels.set(req.body.name, { name: req.body.name, color: req.body.color, description: req.body.description });
    return { status: 201, body: labels.get(req.body.name) };
  });
  fake.route("POST", `${base}/issues`, (req): FakeResponse => {
    if (!req.body?.title) return { status: 422, body: { message: "Validation Failed: title missing" } };
    const issue = add({ title: req.body.title, body: req.body.body ?? "", labels: access.withoutPush ? [] : req.body.labels ?? [] });
    for (const name of issue.labels) if (!labels.has(name)) labels.set(name, { name, color: "ededed", description: "" });
    return { status: 201, body: view(issue) };
  });
  fake.route("GET", `${base}/issues/:number`, (req): FakeResponse => {
    const issue = issues.find((i) => i.number === Number(req.params.number));
    return issue ? { status: 200, body: view(issue) } : { status: 404, body: { message: "Not Found" } };
  });
  fake.route("POST", `${base}/issues/:number/labels`, (req): FakeResponse => {
    const issue = issues.find((i) => i.number === Number(req.params.number));
    if (!issue) return { status: 404, body: { message: "Not Found" } };
    if (access.withoutPush) return { status: 403, body: { message: "Resource not accessible by integration" } };
    for (const name of req.body?.labels ?? []) if (!issue.labels.includes(name)) issue.labels.push(name);
    return { status: 200, body: issue.labels.map((name) => ({ name })) };
  });
  fake.route("GET", `${base}/issues`, (req: FakeRequest): FakeResponse => {
    const want = (req.query.get("labels") ?? "").split(",").filter(Boolean);
    const state = req.query.get("state") ?? "open";
    const perPage = Number(req.query.get("per_page") ?? 30);
    const page = Number(req.query.get("page") ?? 1);
    const matching = newestFirst().filter(
      (i) => want.every((l) => i.labels.includes(l)) && (state === "all" || i.state === state),
    );
    return { status: 200, body: matching.slice((page - 1) * perPage, page * perPage).map(view) };
  });
  fake.route("GET", "/search/issues", (req): FakeResponse => {
    const q = req.query.get("q") ?? "";
    const phrases = [...q.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
    const rest = q.replace(/"[^"]+"/g, " ");
    const wantLabels = [...rest.matchAll(/label:(\S+)/g)].map((m) => m[1]);
    const repoFilter = /repo:(\S+)/.exec(rest)?.[1];
    const items = repoFilter && repoFilter !== `${owner}/${repo}` ? [] : newestFirst().filter(
      (i) => wantLabels.every((l) => i.labels.includes(l)) && phrases.every((p) => i.body.includes(p) || i.title.includes(p)),
    );
    return { status: 200, body: { total_count: items.length, incomplete_results: false, items: items.map(view) } };
  });

  if (!opts.fake) await fake.start();
  return { fake, issues, labels, access, seed: add, stop: () => (opts.fake ? Promise.resolve() : fake.stop()) };
}
