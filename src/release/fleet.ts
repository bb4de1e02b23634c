/**
 * Which of an app's machines the release manages, and whether each already runs what is declared. Pure, over the
 * machines as listed.
 *
 * Ownership follows flyctl: `fly deploy` manages only v2-platform machines of the app's process groups, so a
 * machine made with `fly machine run` (no `fly_platform_version`) or in another group is left alone. Leftovers of
 * an interrupted run are told apart so they can be cleaned up rather than counted as serving: release_command
 * machines, canaries, and green machines that were never switched to (still cordoned).
 *
 * "Current" compares the live config with the declared one field by field, for the fields this program sets.
 * flyctl, `fly scale vm` and `fly machine update` merge metadata, so a fingerprint stored in metadata survives their
 * changes and cannot be trusted; the config itself can. Fly fills defaults into what it returns, so objects are
 * compared as "every declared field has the declared value", except env and top-level checks, whose keys must match.
 */
import type { Machine } from "../clients/fly-machines";
import { FlyMachineConfig, RELEASE_COMMAND_GROUP, RELEASE_METADATA_KEYS } from "./machine-config";

export interface Fleet {
  /** Machines this release manages, in the app's process group. */
  managed: Machine[];
  /** Machines left alone, with why. */
  ignored: Array<{ id: string; reason: string }>;
  releaseCommandLeftovers: Machine[];
  /** Canaries and never-switched greens of an interrupted run: never served, safe to destroy. */
  rolloutLeftovers: Machine[];
}

export function machineDigest(m: Machine): string | undefined {
  return m.image_ref?.digest || /@(sha256:[0-9a-f]{64})$/.exec(m.config?.image ?? "")?.[1];
}

const GONE = ["destroyed", "destroying"];

export function classifyFleet(all: Machine[], group: string): Fleet {
  const fleet: Fleet = { managed: [], ignored: [], releaseCommandLeftovers: [], rolloutLeftovers: [] };
  for (const m of all) {
    if (GONE.includes(m.state)) continue;
    const meta = m.config?.metadata ?? {};
    const machineGroup = meta.fly_process_group ?? "app";
    if (machineGroup === RELEASE_COMMAND_GROUP) fleet.releaseCommandLeftovers.push(m);
    else if (meta.fly_platform_version !== "v2") fleet.ignored.push({ id: m.id, reason: "not a fly deploy machine (no fly_platform_version=v2)" });
    else if (machineGroup !== group) fleet.ignored.push({ id: m.id, reason: `process group "${machineGroup}"` });
    else if (meta.fly_canary === "true" || (meta.fly_bluegreen_deployment_tag && m.cordoned)) fleet.rolloutLeftovers.push(m);
    else fleet.managed.push(m);
  }
  return fleet;
}

const show = (v: unknown) => (v === undefined ? "unset" : JSON.stringify(v));

function compare(live: unknown, want: unknown, path: string, exactKeys: boolean, out: string[]): void {
  if (want === undefined) return;
  const differs = () => out.push(`${path}: ${show(live)} (live) ≠ ${show(want)} (declared)`);
  if (Array.isArray(want)) {
    if (!Array.isArray(live) || live.length !== want.length) return void differs();
    want.forEach((w, i) => compare(live[i], w, `${path}[${i}]`, false, out));
    return;
  }
  if (want !== null && typeof want === "object") {
    if (live === null || typeof live !== "object" || Array.isArray(live)) return void differs();
    const l = live as Record<string, unknown>;
    for (const [k, w] of Object.entries(want)) compare(l[k], w, `${path}.${k}`, false, out);
    if (exactKeys) for (const k of Object.keys(l)) if (!(k in want)) out.push(`${path}.${k}: ${show(l[k])} (live) ≠ unset (declared)`);
    return;
  }
  if (live !== want) differs();
}

/** Where a machine's live config differs from the declared one, one line per field; empty when it matches. */
export function configDrift(live: FlyMachineConfig | undefined, desired: FlyMachineConfig): string[] {
  const out: string[] = [];
  const l = live ?? ({} as FlyMachineConfig);
  compare(l.image, desired.image, "image", false, out);
  compare(l.env ?? {}, desired.env ?? {}, "env", true, out);
  compare(l.checks ?? {}, desired.checks ?? {}, "checks", true, out);
  for (const field of ["guest", "services", "restart", "init"] as const) compare(l[field], desired[field], field, false, out);
  const meta = (m: Record<string, string> | undefined) => Object.fromEntries(Object.entries(m ?? {}).filter(([k]) => !RELEASE_METADATA_KEYS.includes(k)));
  compare(l.metadata ?? {}, meta(desired.metadata), "metadata", false, out);
  return out;
}
