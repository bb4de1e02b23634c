/**
 * Small pure helpers the dynamic providers share. They are serialized by value into every provider that uses them,
 * so they stay tiny and import nothing.
 */
/** What the engine hands a provider for a value not known yet (during preview). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** True when a value, or any value inside it, is not known yet. */
export function isUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(isUnknown);
  if (value && typeof value === "object") return Object.values(value).some(isUnknown);
  return false;
}

/**
 * `sha256:<hex>` of a string. `crypto` is required here rather than imported: a module object rewritten by a test
 * runner's transform (vitest) cannot be serialized into a provider, while a `require` call inside the function can.
 */
export function sha256(text: string): string {
  const { createHash } = require("crypto") as typeof import("crypto");
  return `sha256:${createHash("sha256").update(text, "utf8").digest("hex")}`;
}

/** Names of the keys whose values differ between two objects (compared as JSON). */
export function changedKeys<T extends object>(olds: Partial<T>, news: Partial<T>, keys: Array<keyof T>): string[] {
  return keys.filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k])).map(String);
}

/**
 * A value as the dynamic-provider host can send it: the host converts every result with google-protobuf's
 * `Struct.fromJavaScript`, which throws "Unexpected struct type." on `undefined` anywhere, so a key whose value is
 * undefined is left out (the output then resolves as undefined in the program) and an undefined array item becomes null.
 */
export function wireSafe<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : wireSafe(v))) as T;
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = wireSafe(v);
    return out as T;
  }
  return value;
}

/**
 * Refuses the `import` resource option on a dynamic resource, with what to do instead: the engine's import sends
 * Read with no properties, so the dynamic-provider host has no provider code to run and fails with an unrelated
 * message ("Cannot read properties of undefined"). Checked in the constructor, before anything reaches the engine.
 */
export function refuseImport(type: string, name: string, opts: { import?: unknown } | undefined, instead: string): void {
  if (opts?.import === undefined) return;
  throw new Error(`${type} "${name}" cannot be imported (import: ${JSON.stringify(opts.import)}): Pulumi's dynamic-provider host cannot read a resource it holds no state for. ${instead}`);
}
