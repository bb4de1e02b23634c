/** The Authorization header for Fly's APIs, read from FLY_API_TOKEN at the moment of each call. */
import { requireEnv } from "./http";

/**
 * Macaroon tokens (`fm1_`/`fm2_`, or already prefixed `FlyV1 `) go as `FlyV1 <token>`, as fly-go sends them; MPG
 * routes accept only that form. Older personal tokens go as Bearer.
 */
export function flyAuthorization(): string {
  const token = requireEnv("FLY_API_TOKEN", "call Fly.io's APIs").trim();
  if (/^FlyV1 /.test(token)) return token;
  if (/^fm\d_/.test(token)) return `FlyV1 ${token}`;
  return `Bearer ${token}`;
}

export const FLY_MACHINES_API_DEFAULT = "https://api.machines.dev";
export const FLY_API_DEFAULT = "https://api.fly.io";

export function flyMachinesBaseUrl(): string {
  return process.env.FLY_MACHINES_API_URL || FLY_MACHINES_API_DEFAULT;
}

export function flyApiBaseUrl(): string {
  return process.env.FLY_API_URL || FLY_API_DEFAULT;
}

/** Fly's error bodies: `{"error": "...", "status": "..."}`, some with `message`. */
export function flyErrorText(body: unknown): string | undefined {
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    if (typeof b.error === "string") return b.error;
    if (typeof b.message === "string") return b.message;
    if (Array.isArray(b.errors)) return b.errors.map((e) => (e as { message?: string }).message ?? String(e)).join("; ");
  }
  return typeof body === "string" && body ? body.slice(0, 500) : undefined;
}
