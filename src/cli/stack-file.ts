/**
 * Reading and editing `Pulumi.<stack>.yaml` for the operator commands. Edits go through the `yaml` package's Document
 * API and splice only the edited value's source range, so comments, ordering and formatting stay byte for byte.
 */
import * as fs from "fs";
import * as path from "path";
import { Scalar, isMap, isScalar, parseDocument } from "yaml";
import { CONFIG_KEYS, PlatformConfig, parseConfig } from "../config";
import { UsageError } from "./args";

export function stackFilePath(workDir: string, stack: string): string {
  return path.join(workDir, `Pulumi.${stack}.yaml`);
}

/** Converts a stack file's `config:` map to Pulumi's runtime form (structured values as JSON) for parseConfig. */
export function runtimeConfig(text: string, file: string): Record<string, string> {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new Error(`${file} is not valid YAML: ${doc.errors[0].message}`);
  const config = (doc.toJS() as { config?: Record<string, unknown> } | null)?.config ?? {};
  const raw: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) {
    // Encrypted values ({secure: …}) are never platform settings; parseConfig has nothing to say about them.
    if (v && typeof v === "object" && "secure" in (v as object)) continue;
    raw[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return raw;
}

/** The stack's validated config, read from its file (no Pulumi CLI needed). */
export function readStackConfig(workDir: string, stack: string): PlatformConfig {
  const file = stackFilePath(workDir, stack);
  if (!fs.existsSync(file)) throw new UsageError(`${file} does not exist; is "${stack}" a stack of this project (run from the project directory)?`);
  return parseConfig(stack, runtimeConfig(fs.readFileSync(file, "utf8"), file));
}

/** Sets one `config:` key in the file text; returns the new text and the previous value. */
export function setConfigValue(text: string, key: string, value: string): { text: string; previous?: string } {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new Error(`stack file is not valid YAML: ${doc.errors[0].message}`);
  const node = doc.getIn(["config", key], true);
  if (isScalar(node) && node.range) {
    const previous = String((node as Scalar).value);
    return { text: text.slice(0, node.range[0]) + value + text.slice(node.range[1]), previous };
  }
  if (node !== undefined) throw new Error(`config key ${key} is not a plain value in the stack file; edit it by hand.`);
  // Absent: add the key. Re-rendering keeps comments; only layout of the config map may be normalized.
  if (!isMap(doc.get("config", true))) doc.set("config", doc.createNode({}));
  doc.setIn(["config", key], value);
  return { text: doc.toString() };
}

/** Validates a cluster id against the config schema, with the same message `pulumi preview` would give. */
export function validateClusterId(id: string): void {
  const res = CONFIG_KEYS.mpgClusterId.schema.safeParse(id);
  if (!res.success) throw new UsageError(`cluster id "${id}" is invalid: expected ${res.error.issues[0].message}.`);
}
