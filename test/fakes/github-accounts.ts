/**
 * Fake of GitHub's users and teams lookups (`GET /users/{username}`, `GET /orgs/{org}/teams/{team_slug}`), the two
 * reads that resolve environment reviewers. Objects in the shape GitHub's REST description gives (the fields the
 * provider reads: id, node_id, login / slug, name); unknown names answer 404 as GitHub does.
 */
import { HttpFake } from "./http-fake";

export interface GithubAccountsSeed {
  users?: string[];
  /** "org/slug" */
  teams?: string[];
}

export function mountGithubAccounts(fake: HttpFake, seed: GithubAccountsSeed): { users: Set<string>; teams: Set<string> } {
  const users = new Set(seed.users ?? []);
  const teams = new Set(seed.teams ?? []);
  const idOf = (text: string) => [...text].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 2_000_000_000, 7) + 1000;
  const notFound = { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest", status: "404" } };
  fake.route("GET", "/users/:username", (req) => {
    const login = req.params.username;
    if (!users.has(login)) return notFound;
    const id = idOf(`user:${login}`);
    return { status: 200, body: { login, id, node_id: `U_${id}`, type: "User", name: login, html_url: `https://github.com/${login}` } };
  });
  fake.route("GET", "/orgs/:org/teams/:slug", (req) => {
    const key = `${req.params.org}/${req.params.slug}`;
    if (!teams.has(key)) return notFound;
    const id = idOf(`team:${key}`);
    return { status: 200, body: { id, node_id: `T_${id}`, slug: req.params.slug, name: req.params.slug, privacy: "closed", permission: "pull", organization: { login: req.params.org } } };
  });
  return { users, teams };
}
