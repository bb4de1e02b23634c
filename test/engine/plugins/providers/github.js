// What the stand-in github plugin (pulumi-github 6.15.0) implements: the resources components/github-environment.ts
// declares and the getUser / getTeam invokes, with the real provider's ids, computed outputs and ForceNew properties.
"use strict";
const { request } = require("./http");

/**
 * The provider's `baseUrl` when set to something else than the public API, else GITHUB_BASE_URL, else the harness's
 * GITHUB_API_URL. The SDK always sends `baseUrl` (defaulting to https://api.github.com/), which is unreachable here.
 */
function baseUrl(config) {
  const configured = config.baseUrl && !/^https:\/\/api\.github\.com\/?$/.test(config.baseUrl) ? config.baseUrl : "";
  const base = configured || process.env.GITHUB_BASE_URL || process.env.GITHUB_API_URL;
  if (!base) throw new Error("stand-in github plugin: no API base URL: set GITHUB_BASE_URL or GITHUB_API_URL to the GitHub fake (or the provider's baseUrl)");
  return base.replace(/\/+$/, "");
}

/** GET like go-github: Bearer GITHUB_TOKEN read now, errors in go-github's "GET <url>: <status> <text> []" form. */
async function getJson(config, path) {
  const url = `${baseUrl(config)}${path}`;
  const headers = { accept: "application/vnd.github+json", "x-github-api-version": "2022-11-28" };
  if (process.env.GITHUB_TOKEN) headers.authorization = `Bearer ${process.env.GITHUB_TOKEN}`;
  const res = await request("GET", url, headers);
  if (res.status !== 200) {
    let message = "";
    try { message = (await res.json()).message ?? ""; } catch { /* no JSON body */ }
    throw new Error(`GET ${url}: ${res.status} ${message || res.statusText} []`);
  }
  return res.json();
}

const owner = (config) => config.owner || config.organization || process.env.GITHUB_OWNER || "";
/** Terraform strings are never null: a null from the API reads as "". */
const str = (v) => (v === null || v === undefined ? "" : String(v));
const num = (h, digits = 8) => parseInt(h.slice(0, digits), 16);

module.exports = {
  pkg: "@pulumi/github",
  config: { file: "provider.d.ts", iface: "ProviderArgs" },
  resources: {
    "github:index/repositoryEnvironment:RepositoryEnvironment": {
      file: "repositoryEnvironment.d.ts",
      iface: "RepositoryEnvironmentArgs",
      // The schema's defaults (can_admins_bypass true, prevent_self_review false, wait_timer 0).
      defaults: { canAdminsBypass: true, preventSelfReview: false, waitTimer: 0 },
      forceNew: ["repository", "environment"],
      create: (inputs, { h }) => ({ id: `${inputs.repository}:${inputs.environment}`, outputs: { repositoryId: num(h) } }),
    },
    "github:index/repositoryRuleset:RepositoryRuleset": {
      file: "repositoryRuleset.d.ts",
      iface: "RepositoryRulesetArgs",
      forceNew: ["repository"],
      create: (inputs, { h }) => {
        const rulesetId = num(h, 7);
        return { id: String(rulesetId), outputs: { rulesetId, nodeId: `RRS_lACk${h.slice(0, 16)}`, etag: `W/"${h.slice(0, 32)}"` } };
      },
      update: (_inputs, { h }) => ({ etag: `W/"${h.slice(0, 32)}"` }),
    },
    "github:index/issueLabel:IssueLabel": {
      file: "issueLabel.d.ts",
      iface: "IssueLabelArgs",
      forceNew: ["repository"],
      computed: ["etag"],
      create: (inputs, { h, config }) => ({
        id: `${inputs.repository}:${inputs.name}`,
        outputs: {
          etag: `W/"${h.slice(0, 32)}"`,
          url: `https://api.github.com/repos/${owner(config)}/${inputs.repository}/labels/${encodeURIComponent(inputs.name)}`,
        },
      }),
      update: (_inputs, { h }) => ({ etag: `W/"${h.slice(0, 32)}"` }),
    },
  },
  invokes: {
    "github:index/getUser:getUser": {
      file: "getUser.d.ts",
      iface: "GetUserArgs",
      // The real data source also lists the user's GPG and SSH keys; nothing here reads them, so they stay empty.
      async run({ username }, { config }) {
        const u = await getJson(config, `/users/${encodeURIComponent(username)}`);
        return {
          username, id: String(u.id), login: str(u.login), nodeId: str(u.node_id), name: str(u.name), email: str(u.email),
          avatarUrl: str(u.avatar_url), bio: str(u.bio), blog: str(u.blog), company: str(u.company), location: str(u.location),
          createdAt: str(u.created_at), updatedAt: str(u.updated_at), followers: u.followers ?? 0, following: u.following ?? 0,
          publicGists: u.public_gists ?? 0, publicRepos: u.public_repos ?? 0, siteAdmin: !!u.site_admin, gpgKeys: [], sshKeys: [],
        };
      },
    },
    "github:index/getTeam:getTeam": {
      file: "getTeam.d.ts",
      iface: "GetTeamArgs",
      // Members and repositories come from further list calls in the real one; no reviewer config reads them.
      async run({ slug, membershipType = "all", resultsPerPage = 100, summaryOnly = false }, { config }) {
        if (!owner(config)) throw new Error("stand-in github plugin: getTeam needs the provider's owner (or GITHUB_OWNER)");
        const t = await getJson(config, `/orgs/${encodeURIComponent(owner(config))}/teams/${encodeURIComponent(slug)}`);
        return {
          slug, membershipType, resultsPerPage, summaryOnly, id: String(t.id), name: str(t.name), nodeId: str(t.node_id),
          description: str(t.description), privacy: str(t.privacy), permission: str(t.permission),
          notificationSetting: str(t.notification_setting), members: [], repositories: [], repositoriesDetaileds: [],
        };
      },
    },
  },
};
