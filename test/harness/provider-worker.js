// A stand-in for `@pulumi/pulumi/cmd/dynamic-provider` that keeps its wire rules: a plain Node process (no ts-node, no
// test runner) that turns the serialized provider text back into a provider with require-from-string, as the host
// does. Requests arrive over IPC: { id, provider, method, args }. Faithful where the real host is strict:
// - the provider text comes from the `__provider` in the property bag the host reads it from (news for check, diff,
//   create and update; the stored outputs for read and delete), so read and delete run the code stored at the last
//   create/update; `provider` is used only when the bag carries none (a provider test calling a method directly);
// - every result the host sends back (check inputs, create/update outs, read props and inputs) goes through
//   google-protobuf's `Struct.fromJavaScript`, which throws "Unexpected struct type." on any undefined value.
// The real host itself runs in the real-engine suite (test/engine/).
"use strict";
const path = require("path");
const pulumiDir = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
const requireFromString = require(require.resolve("require-from-string", { paths: [pulumiDir] }));
const { Struct } = require(require.resolve("google-protobuf/google/protobuf/struct_pb", { paths: [pulumiDir] }));

const PROVIDER_KEY = "__provider";
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
// Which argument's `__provider` the host deserializes, per method (cmd/dynamic-provider/index.ts).
const PROVIDER_FROM = { check: 1, diff: 2, create: 0, read: 1, update: 2, delete: 1 };

const cache = new Map();
function getProvider(text) {
  if (!cache.has(text)) cache.set(text, requireFromString(text).handler());
  return cache.get(text);
}

function providerText(method, args, fallback) {
  let bag = args[PROVIDER_FROM[method]];
  // check and diff fall back to the old bag while the new provider is unknown (preview).
  if ((method === "check" || method === "diff") && bag && bag[PROVIDER_KEY] === UNKNOWN) bag = args[PROVIDER_FROM[method] - 1];
  const text = bag && bag[PROVIDER_KEY];
  return typeof text === "string" ? text : fallback;
}

/** What the host's gRPC response would carry: a Struct made from the value, read back. */
function overTheWire(method, what, value) {
  try {
    return Struct.fromJavaScript(value).toJavaScript();
  } catch (err) {
    throw new Error(`dynamic-provider host: ${method} ${what} cannot be sent to the engine (${err.message}): ${describeUndefined(value)}`);
  }
}

function describeUndefined(value, at = "") {
  if (value === undefined) return `${at || "(the value)"} is undefined`;
  if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      const found = describeUndefined(v, `${at}${Array.isArray(value) ? `[${k}]` : `.${k}`}`);
      if (found) return found;
    }
  }
  return "";
}

async function run(method, provider, args) {
  const fn = provider[method];
  if (typeof fn !== "function") {
    // The host's defaults when a provider leaves a method out.
    if (method === "check") return { inputs: overTheWire(method, "inputs", args[1]) };
    if (method === "read") return { id: args[0], props: args[1] };
    if (method === "diff") return {};
    if (method === "delete") return undefined;
    throw new Error(`provider has no ${method}`);
  }
  const result = await fn.apply(provider, args);
  switch (method) {
    case "check":
      return { ...result, inputs: overTheWire(method, "inputs", result && result.inputs !== undefined ? result.inputs : args[1]) };
    case "create":
    case "update":
      return { ...result, outs: overTheWire(method, "outs", { ...(result && result.outs) }) };
    case "read": {
      if (!result) return result;
      const out = { ...result };
      if (result.props !== undefined) out.props = overTheWire(method, "props", result.props);
      if (result.inputs !== undefined) out.inputs = overTheWire(method, "inputs", result.inputs);
      return out;
    }
    default:
      return result;
  }
}

process.on("message", async (msg) => {
  try {
    // The engine hands plain values in: round-trip the arguments the same way.
    const args = msg.args.map((a) => (a === undefined ? a : JSON.parse(JSON.stringify(a))));
    const provider = getProvider(providerText(msg.method, args, msg.provider));
    const result = await run(msg.method, provider, args);
    process.send({ id: msg.id, result: result === undefined ? null : JSON.parse(JSON.stringify(result)) });
  } catch (err) {
    process.send({ id: msg.id, error: { message: String(err && err.message), name: err && err.name, stack: String(err && err.stack) } });
  }
});
process.send({ ready: true });
