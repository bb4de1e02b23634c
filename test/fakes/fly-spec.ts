/**
 * The request fields Fly's published Machines API spec (fly-machines-openapi.yml) declares, for the routes the
 * program calls, so the fake can refuse the rest as a strict server would. Copied by hand from the spec's
 * `CreateAppRequest`, `CreateMachineRequest`, `UpdateMachineRequest`, `CreateLeaseRequest`, `StopRequest`,
 * `fly.MachineConfig` and the routes' query parameters; tests never read the spec itself.
 */
import type { FakeRequest } from "./http-fake";

const MACHINE_CONFIG = [
  "auto_destroy", "cache_drive", "checks", "containers", "disable_machine_autostart", "dns", "env", "files", "guest", "image", "init",
  "metadata", "metrics", "mounts", "processes", "restart", "rootfs", "schedule", "services", "size", "spot", "standbys", "statics", "stop_config",
];
const MACHINE_REQUEST = ["config", "lease_ttl", "min_secrets_version", "name", "region", "skip_launch", "skip_secrets", "skip_service_registration"];
const SPEC: Record<string, { body?: string[]; query?: string[] }> = {
  "POST /v1/apps": { body: ["enable_subdomains", "name", "network", "org_slug"] },
  "GET /v1/apps/:app/machines": { query: ["include_deleted", "include_leases", "region", "state", "summary"] },
  "POST /v1/apps/:app/machines": { body: MACHINE_REQUEST },
  "GET /v1/apps/:app/machines/:id": { query: ["include_leases"] },
  "POST /v1/apps/:app/machines/:id": { body: [...MACHINE_REQUEST, "current_version"] },
  "DELETE /v1/apps/:app/machines/:id": { query: ["force"] },
  "GET /v1/apps/:app/machines/:id/events": { query: ["limit"] },
  "GET /v1/apps/:app/machines/:id/wait": { query: ["version", "instance_id", "from_event_id", "timeout", "state"] },
  "POST /v1/apps/:app/machines/:id/lease": { body: ["description", "ttl"], query: [] },
  "POST /v1/apps/:app/machines/:id/stop": { body: ["signal", "timeout"] },
};

/** The request's fields the spec does not declare for its route, or none. */
export function undeclaredFields(route: string, req: Pick<FakeRequest, "body" | "query">): string[] {
  const spec = SPEC[route];
  if (!spec) return [];
  const bad = [...req.query.keys()].filter((k) => spec.query && !spec.query.includes(k)).map((k) => `query ${k}`);
  if (spec.body && req.body && typeof req.body === "object") {
    bad.push(...Object.keys(req.body).filter((k) => !spec.body!.includes(k)).map((k) => `body ${k}`));
    if (req.body.config) bad.push(...Object.keys(req.body.config).filter((k) => !MACHINE_CONFIG.includes(k)).map((k) => `config.${k}`));
  }
  return bad;
}

