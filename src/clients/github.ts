/** GitHub REST: the shared HTTP client. Topic modules (issues, environment secrets) build on `githubHttp()`. */
import { HttpClient, HttpClientOptions, createHttpClient, requireEnv } from "./http";

export const GITHUB_API_DEFAULT = "https://api.github.com";

export function githubBaseUrl(): string {
  return process.env.GITHUB_API_URL || GITHUB_API_DEFAULT;
}

/** A client for GitHub's REST API; GITHUB_TOKEN is read at each call, never stored. */
export function githubHttp(overrides: Partial<HttpClientOptions> = {}): HttpClient {
  return createHttpClient({
    service: "GitHub API",
    baseUrl: githubBaseUrl(),
    authorization: () => `Bearer ${requireEnv("GITHUB_TOKEN", "call GitHub's API")}`,
    requestIdHeaders: ["x-github-request-id"],
    ...overrides,
  });
}
