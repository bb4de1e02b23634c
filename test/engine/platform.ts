/**
 * One platform under the real engine: every fake the program talks to (seeded for development, staging, production
 * and PR stacks), the stand-in plugins, and a workspace whose stacks are created with `pulumi stack init` from the
 * project's own stack files. Shared by the real-engine suites (test/engine/*.test.ts).
 */
import { HttpFake, LoggedRequest } from "../fakes/http-fake";
import { Fakes, HUMAN_SECRETS, INFISICAL_PROJECT_ID, startFakes } from "../harness/up";
import { standInBinDir } from "./plugins/install";
import { CliResult, EngineWorkspace, createWorkspace } from "./workspace";

export const REPO = "renewa-app-development";
export const digestOf = (n: number) => `sha256:${n.toString(16).padStart(2, "0").repeat(32)}`;
export const imageOf = (digest: string) => `registry.fly.io/${REPO}@${digest}`;
export const CLUSTERS = { development: "renewa-development-mpg", staging: "renewa-staging-mpg", production: "renewa-production-mpg" } as const;
const INFISICAL_ENVIRONMENTS = ["dev", "staging", "prod"];

export interface Platform {
  fakes: Fakes;
  ws: EngineWorkspace;
  /** Each fake's log length now, to look at exactly the calls of what follows. */
  mark(): Map<HttpFake, number>;
  /** Calls since a mark on every fake that are not reads. */
  mutations(since: Map<HttpFake, number>): string[];
  calls(since: Map<HttpFake, number>, server: HttpFake): LoggedRequest[];
  /** `pulumi <args> -s <stack> --yes` that must succeed; the output on failure. */
  ok(stack: string, args: string[], env?: Record<string, string | undefined>): Promise<CliResult>;
  /** The same, expected to fail. */
  fails(stack: string, args: string[], env?: Record<string, string | undefined>): Promise<CliResult>;
  config(stack: string, key: string, value: string): Promise<void>;
  close(): Promise<void>;
}

export interface PlatformOptions {
  /** More MPG clusters to seed (restored copies for Path B). */
  extraClusters?: string[];
  typeCheck?: boolean;
}

export async function startPlatform(opts: PlatformOptions = {}): Promise<Platform> {
  const fakes = await startFakes({ timeScale: 0.01, clusters: [...Object.values(CLUSTERS), ...(opts.extraClusters ?? [])] });
  for (const env of INFISICAL_ENVIRONMENTS) {
    const folder = fakes.infisical.state.folder(INFISICAL_PROJECT_ID, env, "/");
    for (const name of HUMAN_SECRETS) folder.set(name, `human-managed-${env}-${name.toLowerCase()}`);
  }
  const ws = createWorkspace({
    env: {
      ...fakes.env,
      // The stand-in plugins' view of the outside world: GitHub's API and the registry behind registry.fly.io.
      GITHUB_BASE_URL: `${fakes.env.GITHUB_API_URL}/`,
      RENEWA_STANDIN_REGISTRY_URL: fakes.registry.fake.url,
    },
    pluginDir: standInBinDir(),
    typeCheck: opts.typeCheck,
  });
  const servers = () => Object.values(fakes.servers);
  const run = (stack: string, args: string[], env?: Record<string, string | undefined>) => {
    const mutating = (["up", "destroy", "refresh"].includes(args[0]) && !args.includes("--preview-only")) || (args[0] === "stack" && args[1] === "rm");
    return ws.pulumi([...args, "-s", stack, ...(mutating ? ["--yes"] : [])], { env });
  };
  const platform: Platform = {
    fakes,
    ws,
    mark: () => new Map(servers().map((s) => [s, s.log.length])),
    mutations: (since) =>
      servers().flatMap((s) => s.log.slice(since.get(s) ?? 0).filter((c) => c.method !== "GET" && c.method !== "HEAD").map((c) => `${c.method} ${c.path}`)),
    calls: (since, server) => server.log.slice(since.get(server) ?? 0),
    async ok(stack, args, env) {
      const res = await run(stack, args, env);
      if (res.code !== 0) throw new Error(`pulumi ${args.join(" ")} -s ${stack} failed (exit ${res.code}):\n${res.output.slice(-6000)}`);
      return res;
    },
    async fails(stack, args, env) {
      const res = await run(stack, args, env);
      if (res.code === 0) throw new Error(`pulumi ${args.join(" ")} -s ${stack} succeeded, but it should have failed:\n${res.output.slice(-4000)}`);
      return res;
    },
    async config(stack, key, value) {
      const res = await ws.pulumi(["config", "set", key, value, "-s", stack]);
      if (res.code !== 0) throw new Error(`pulumi config set ${key} -s ${stack} failed:\n${res.output}`);
    },
    async close() {
      await fakes.close();
      ws.close();
    },
  };
  return platform;
}
