// A stand-in for `@pulumi/pulumi/cmd/dynamic-provider`: a plain Node process (no ts-node, no test runner) that turns
// the serialized provider text back into a provider with require-from-string and calls its methods with plain JSON,
// as the engine's gRPC layer does. Requests arrive over IPC: { id, provider, method, args }.
"use strict";
const path = require("path");
const pulumiDir = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
const requireFromString = require(require.resolve("require-from-string", { paths: [pulumiDir] }));

const cache = new Map();
function getProvider(text) {
  if (!cache.has(text)) cache.set(text, requireFromString(text).handler());
  return cache.get(text);
}

process.on("message", async (msg) => {
  try {
    const provider = getProvider(msg.provider);
    const fn = provider[msg.method];
    if (typeof fn !== "function") throw new Error(`provider has no ${msg.method}`);
    // The engine hands plain JSON in and takes plain JSON out: round-trip the same way.
    const args = JSON.parse(JSON.stringify(msg.args));
    const result = await fn.apply(provider, args);
    process.send({ id: msg.id, result: result === undefined ? null : JSON.parse(JSON.stringify(result)) });
  } catch (err) {
    process.send({ id: msg.id, error: { message: String(err && err.message), name: err && err.name, stack: String(err && err.stack) } });
  }
});
process.send({ ready: true });
