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
 * `value` without `undefined` anywhere in it (object keys dropped, array items become null). The engine turns every
 * provider result into a protobuf Struct, and `Struct.fromJavaScript` throws on an undefined value at any depth.
 */
export function withoutUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : withoutUndefined(v))) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, withoutUndefined(v)])) as T;
  }
  return value;
}
