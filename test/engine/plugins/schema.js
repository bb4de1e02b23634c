// Input shapes of the REAL providers, read from their installed SDKs' .d.ts files with the TypeScript compiler API, so
// a stand-in refuses exactly what the real plugin's schema refuses (unknown or missing properties, wrong primitive
// types) and follows an SDK upgrade without edits here. Only the one file of each Args interface (and the package's
// types/input.d.ts for nested `inputs.X` types) is parsed: no type checker, so start-up stays fast.
"use strict";
const fs = require("fs");
const path = require("path");
const ts = require("typescript");

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";
/** What the engine sends for a value not known yet (preview). It matches any type. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const isSecret = (v) => !!v && typeof v === "object" && v[SECRET_SIG] === SECRET_VALUE;

/** The value without secret wrappers, deeply. */
function plain(v) {
  if (isSecret(v)) return plain(v.value);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** The value with every secret replaced by "[secret]": what the call log may hold. */
function redact(v) {
  if (isSecret(v)) return "[secret]";
  if (Array.isArray(v)) return v.map(redact);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redact(x)]));
  return v;
}

const parsed = new Map();
function sourceFile(file) {
  if (!parsed.has(file)) parsed.set(file, ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true));
  return parsed.get(file);
}

/** The interface named `name` at the top level of `file` (or inside its namespaces). */
function findInterface(file, name) {
  let found;
  const visit = (node) => {
    if (found) return;
    if (ts.isInterfaceDeclaration(node) && node.name.text === name) found = node;
    else ts.forEachChild(node, visit);
  };
  visit(sourceFile(file));
  if (!found) throw new Error(`stand-in schema: interface ${name} not found in ${file}`);
  return found;
}

/**
 * A type node as a shape: { kind: "string" | "number" | "boolean" | "any" } | { kind: "array", element } |
 * { kind: "object", props?, values? }. `pulumi.Input<T>` and `| undefined` are see-through.
 */
function shapeOf(node, pkgDir) {
  if (!node) return { kind: "any" };
  switch (node.kind) {
    case ts.SyntaxKind.StringKeyword: return { kind: "string" };
    case ts.SyntaxKind.NumberKeyword: return { kind: "number" };
    case ts.SyntaxKind.BooleanKeyword: return { kind: "boolean" };
    case ts.SyntaxKind.AnyKeyword: case ts.SyntaxKind.UnknownKeyword: return { kind: "any" };
    case ts.SyntaxKind.LiteralType: return { kind: typeof JSON.parse(node.literal.getText()) === "number" ? "number" : "string" };
    case ts.SyntaxKind.ParenthesizedType: return shapeOf(node.type, pkgDir);
    case ts.SyntaxKind.ArrayType: return { kind: "array", element: shapeOf(node.elementType, pkgDir) };
    case ts.SyntaxKind.UnionType: {
      const members = node.types.filter((t) => t.kind !== ts.SyntaxKind.UndefinedKeyword && t.kind !== ts.SyntaxKind.NullKeyword);
      const shapes = members.map((t) => shapeOf(t, pkgDir));
      return shapes.length === 1 || shapes.every((s) => s.kind === shapes[0].kind && s.kind !== "object") ? shapes[0] : { kind: "any" };
    }
    case ts.SyntaxKind.TypeLiteral: {
      const index = node.members.find(ts.isIndexSignatureDeclaration);
      return index ? { kind: "object", values: shapeOf(index.type, pkgDir) } : { kind: "object", props: propsOf(node.members, pkgDir) };
    }
    case ts.SyntaxKind.TypeReference: {
      const name = node.typeName.getText();
      if (name === "pulumi.Input") return shapeOf(node.typeArguments[0], pkgDir);
      if (name.startsWith("inputs.")) {
        const iface = name.slice("inputs.".length).split(".").pop();
        // Resolved when first used: most nested types are never reached.
        return { kind: "object", lazy: () => propsOf(findInterface(path.join(pkgDir, "types", "input.d.ts"), iface).members, pkgDir) };
      }
      if (name === "Record") return { kind: "object", values: shapeOf(node.typeArguments[1], pkgDir) };
      return { kind: "any" };
    }
    default: return { kind: "any" };
  }
}

function propsOf(members, pkgDir) {
  const props = {};
  for (const m of members) {
    if (!ts.isPropertySignature(m)) continue;
    props[m.name.getText().replace(/^["']|["']$/g, "")] = { required: !m.questionToken, shape: shapeOf(m.type, pkgDir) };
  }
  return props;
}

/** The properties of interface `name` in `<pkgDir>/<file>`: { [prop]: { required, shape } }. */
function loadArgs(pkgDir, file, name) {
  return propsOf(findInterface(path.join(pkgDir, file), name).members, pkgDir);
}

const kindOf = (v) => (Array.isArray(v) ? "array" : v === null ? "null" : typeof v);

/**
 * Check failures ({ property, reason }) of `value` against `props`, as the real provider's CheckResponse would list
 * them. `jsonStrings`: provider configuration arrives with non-string values JSON-encoded.
 */
function validate(props, value, { prefix = "", jsonStrings = false } = {}) {
  const failures = [];
  const check = (shape, v, at) => {
    if (isSecret(v)) return check(shape, v.value, at);
    if (v === UNKNOWN || v === null || shape.kind === "any") return;
    if (jsonStrings && typeof v === "string" && shape.kind !== "string") {
      try { v = JSON.parse(v); } catch { /* reported as a type mismatch below */ }
    }
    if (shape.kind === "object") {
      if (kindOf(v) !== "object") return failures.push({ property: at, reason: `${at}: expected an object, got ${kindOf(v)} ${JSON.stringify(v)}` });
      if (shape.values) return Object.entries(v).forEach(([k, x]) => check(shape.values, x, `${at}.${k}`));
      return walk(shape.props ?? (shape.props = shape.lazy()), v, `${at}.`);
    }
    if (shape.kind === "array") {
      if (kindOf(v) !== "array") return failures.push({ property: at, reason: `${at}: expected an array, got ${kindOf(v)} ${JSON.stringify(v)}` });
      return v.forEach((x, i) => check(shape.element, x, `${at}[${i}]`));
    }
    if (kindOf(v) !== shape.kind) failures.push({ property: at, reason: `${at}: expected a ${shape.kind}, got ${kindOf(v)} ${JSON.stringify(v)}` });
  };
  const walk = (ps, obj, pre) => {
    for (const key of Object.keys(obj)) {
      // `__defaults` is the bridge's own bookkeeping key in checked inputs; not a property.
      if (key === "__defaults") continue;
      if (!ps[key]) failures.push({ property: `${pre}${key}`, reason: `${pre}${key}: unknown property; the provider accepts ${Object.keys(ps).sort().join(", ")}` });
      else check(ps[key].shape, obj[key], `${pre}${key}`);
    }
    for (const [key, p] of Object.entries(ps)) {
      if (p.required && (obj[key] === undefined || obj[key] === null)) failures.push({ property: `${pre}${key}`, reason: `Missing required property '${pre}${key}'` });
    }
  };
  walk(props, value ?? {}, prefix);
  return failures;
}

module.exports = { SECRET_SIG, SECRET_VALUE, UNKNOWN, isSecret, plain, redact, loadArgs, validate };
