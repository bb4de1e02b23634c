/** GitHub REST: the shared HTTP client. Topic modules (issues, environment secrets) build on `githubHttp()`. */
import { HttpClient, HttpClientOptions, createHttpClient, requireEnv } from "./http";

export const GITHUB_API_DEFAULT = "https://api.github.com";
/** The REST API version this client's requests are shaped for (the OpenAPI description it was checked against). */
export const GITHUB_API_VERSION = "2022-11-28";

export function githubBaseUrl(): string {
  return process.env.GITHUB_API_URL || GITHUB_API_DEFAULT;
}

/** A client for GitHub's REST API; GITHUB_TOKEN is read at each call, never stored. */
export function githubHttp(overrides: Partial<HttpClientOptions> = {}): HttpClient {
  return createHttpClient({
    service: "GitHub API",
    baseUrl: githubBaseUrl(),
    // GITHUB_TOKEN is the GitHub App installation token in CI (see README, "Credentials").
    authorization: () => `Bearer ${requireEnv("GITHUB_TOKEN", "call GitHub's API")}`,
    // Without it GitHub answers with its default version, which may change under the client.
    headers: { accept: "application/vnd.github+json", "x-github-api-version": GITHUB_API_VERSION },
    requestIdHeaders: ["x-github-request-id"],
    ...overrides,
  });
}
