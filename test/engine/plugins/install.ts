// How a harness running the real Pulumi CLI gets the stand-in plugins (see README.md): put the bin directory first
// on the CLI's PATH. The engine prefers a `pulumi-resource-<name>` found on PATH ("ambient" plugin, it warns "using
// pulumi-resource-github from $PATH") over any installed version, and then asks it nothing about versions beyond
// GetPluginInfo, which answers the SDK's version. Verified with CLI 3.260.0 and a file:// backend.
import * as fs from "fs";
import * as path from "path";

const NAMES = ["github", "upstash", "docker", "command"] as const;

/** Absolute path of the directory holding pulumi-resource-{github,upstash,docker,command}. */
export function standInBinDir(): string {
  return path.join(__dirname, "bin");
}

/**
 * Makes the stand-ins runnable for a CLI using `pulumiHome` and returns the directory to put FIRST on its PATH.
 * Nothing is copied into `pulumiHome`: `pulumi plugin install --file` would copy only the launcher script, and the
 * PATH lookup needs no install. It refuses `PULUMI_IGNORE_AMBIENT_PLUGINS` (which turns the PATH lookup off) and a
 * `pulumiHome` that already holds a real plugin of the same name, so a test never runs a real provider by mistake.
 *
 * @example
 * const bin = await installStandIns(home);
 * spawn("pulumi", ["up"], { env: { ...env, PULUMI_HOME: home, PATH: `${cliBin}:${bin}:${process.env.PATH}`,
 *   RENEWA_STANDIN_LOG: logFile, RENEWA_STANDIN_REGISTRY_URL: registry.fake.url, GITHUB_API_URL: github.url } });
 */
export async function installStandIns(pulumiHome: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.PULUMI_IGNORE_AMBIENT_PLUGINS && env.PULUMI_IGNORE_AMBIENT_PLUGINS !== "false") {
    throw new Error("installStandIns: PULUMI_IGNORE_AMBIENT_PLUGINS is set, so the CLI would not use the stand-ins on PATH; unset it");
  }
  const plugins = path.join(pulumiHome, "plugins");
  const installed = fs.existsSync(plugins) ? await fs.promises.readdir(plugins) : [];
  const real = installed.filter((dir) => NAMES.some((n) => dir.startsWith(`resource-${n}-v`)));
  if (real.length) throw new Error(`installStandIns: ${plugins} holds real provider plugins (${real.join(", ")}); use a fresh PULUMI_HOME`);
  const bin = standInBinDir();
  // A checkout may drop the executable bit (an archive, a copy); the engine execs the launchers directly.
  for (const n of NAMES) await fs.promises.chmod(path.join(bin, `pulumi-resource-${n}`), 0o755);
  return bin;
}
