/**
 * The set-up the Release provider's fleet tests share: the resource serialized once, a Machines API fake with an
 * app whose machines run given images (flyctl's v2 metadata), and provider processes that can be stopped
 * mid-rollout (as the engine stops a cancelled run) and started again.
 */
import { afterEach, beforeAll } from "vitest";
import { ProviderHost, closeAll, serializeResource, startProviderHost } from "./engine";
import { FlyMachinesFake, FlyMachinesFakeOptions, createFlyMachinesFake, flyProviderEnv, imageRef } from "../fakes/fly-machines";

export interface ReleaseFleet {
  /** Serializes the resource (once, in beforeAll): the provider text and the engine-shaped inputs `check` gets. */
  prepare(): { provider: string; baseInputs: Record<string, any> };
  /** Starts the fake with the app and one started machine per image number. */
  setup(opts?: FlyMachinesFakeOptions, images?: number[]): Promise<FlyMachinesFake>;
  newHost(): Promise<ProviderHost>;
  /** Stops a provider process mid-call, as the engine does when a run is cancelled. */
  stop(host: ProviderHost): Promise<void>;
  /** For afterEach: every provider process, then the fake. */
  closeAll(): Promise<void>;
}

export function releaseFleet(spec: { app: string; name: string; token: string; args: Record<string, unknown> }): ReleaseFleet {
  let hosts: ProviderHost[] = [];
  let fly: FlyMachinesFake | undefined;
  return {
    prepare() {
      const serialized = serializeResource({ module: "src/providers/release.ts", exportName: "Release", name: spec.name, args: spec.args, env: { FLY_API_TOKEN: spec.token } });
      return { provider: serialized.provider, baseInputs: serialized.news };
    },
    async setup(opts = {}, images = [1, 1, 1]) {
      fly = await createFlyMachinesFake({ secondMs: 1, bootMs: 8, healthMs: 8, token: spec.token, ...opts });
      fly.addApp(spec.app);
      for (const n of images) fly.addMachine(spec.app, { image: imageRef(n), metadata: { fly_platform_version: "v2", fly_process_group: "app" } });
      return fly;
    },
    async newHost() {
      const host = await startProviderHost(flyProviderEnv(fly!, spec.token));
      hosts.push(host);
      return host;
    },
    async stop(host) {
      await host.close();
      hosts = hosts.filter((h) => h !== host);
    },
    async closeAll() {
      await closeAll(...hosts.splice(0), fly);
    },
  };
}

export interface ReleaseFleetTest extends Pick<ReleaseFleet, "newHost" | "stop"> {
  readonly provider: string;
  readonly baseInputs: Record<string, any>;
  readonly fly: FlyMachinesFake;
  setup(opts?: FlyMachinesFakeOptions, images?: number[]): Promise<void>;
}

/** `releaseFleet` wired into the calling test file: serialized in beforeAll, everything closed after each test. */
export function useReleaseFleet(spec: Parameters<typeof releaseFleet>[0]): ReleaseFleetTest {
  const fleet = releaseFleet(spec);
  let prepared = { provider: "", baseInputs: {} as Record<string, any> };
  let fly: FlyMachinesFake | undefined;
  beforeAll(() => {
    prepared = fleet.prepare();
  }, 60_000);
  afterEach(() => fleet.closeAll());
  return {
    get provider() {
      return prepared.provider;
    },
    get baseInputs() {
      return prepared.baseInputs;
    },
    get fly() {
      return fly!;
    },
    async setup(opts, images) {
      fly = await fleet.setup(opts, images);
    },
    newHost: () => fleet.newHost(),
    stop: (host) => fleet.stop(host),
  };
}
