/**
 * The app's configuration as the release record's `definition`, in the shape of flyctl's fly.toml-as-JSON
 * (`appconfig.Config`). flyctl reads the current release's definition as the app's config whenever there is no
 * local fly.toml (`fly deploy -a <app> --image …`, `fly config show`, `fly secrets set`), so it must describe the
 * machines completely: an operator's deploy from it rebuilds the machines this program runs, not bare ones.
 */
import { MachineSettings, httpCheck, seconds } from "./machine-config";

export interface DeploySettings {
  app: string;
  strategy: string;
  maxUnavailable: number;
  waitTimeoutSeconds: number;
  releaseCommand?: string;
  releaseCommandTimeoutSeconds: number;
}

export function buildAppDefinition(s: MachineSettings, deploy: DeploySettings): Record<string, unknown> {
  const group = s.processGroup;
  return {
    app: deploy.app,
    primary_region: s.region,
    deploy: {
      strategy: deploy.strategy,
      max_unavailable: deploy.maxUnavailable,
      wait_timeout: seconds(deploy.waitTimeoutSeconds),
      ...(deploy.releaseCommand
        ? { release_command: deploy.releaseCommand, release_command_timeout: seconds(deploy.releaseCommandTimeoutSeconds) }
        : {}),
    },
    // flyctl adds FLY_PROCESS_GROUP and PRIMARY_REGION itself when it turns this into machine config.
    env: Object.fromEntries(Object.entries(s.env).filter(([k]) => k !== "PRIMARY_REGION")),
    ...(s.cmd ? { processes: { [group]: s.cmd } } : {}),
    http_service: {
      internal_port: s.internalPort,
      force_https: true,
      auto_stop_machines: s.autoStop,
      auto_start_machines: s.autoStart,
      min_machines_running: s.minMachinesRunning,
      processes: [group],
      checks: [httpCheck(s.healthCheck)],
    },
    vm: [{ cpu_kind: s.guest.cpuKind, cpus: s.guest.cpus, memory_mb: s.guest.memoryMb, processes: [group] }],
    restart: [{ policy: s.restart.policy, ...(s.restart.maxRetries !== undefined ? { retries: s.restart.maxRetries } : {}), processes: [group] }],
  };
}

