// Entry point of the stand-in provider plugins: `node stand-in-provider.js <github|upstash|docker|command> <engine>`.
// Serves one provider over the engine's gRPC protocol with @pulumi/pulumi's provider SDK, answering like the real
// plugin for exactly the resources and invokes the program uses (providers/<name>.js), with inputs checked against
// the real SDK's .d.ts types (schema.js). Plain JS, no ts-node: the engine starts a plugin per provider per run.
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");
const { isSecret, plain, redact, loadArgs, validate, SECRET_SIG, SECRET_VALUE } = require("./schema");

const ROOT = path.resolve(__dirname, "..", "..", "..");
const name = process.argv[2];
const spec = require(`./providers/${name}.js`);
const pkgDir = spec.pkg && path.join(ROOT, "node_modules", spec.pkg);
// The version the SDK asks the engine for: its package.json's (upstash's carries a "v" its getVersion() strips).
const version = spec.pkg ? String(require(path.join(pkgDir, "package.json")).version).replace(/^v/, "") : spec.version;

/** Credentials the log must never hold, read now from the environment the engine gave the plugin. */
const CREDENTIAL_ENV = ["GITHUB_TOKEN", "FLY_API_TOKEN", "UPSTASH_API_KEY", "UPSTASH_EMAIL"];
const SECRET_KEY = /password|token|secret|apikey/i;

function scrub(v, key = "") {
  if (typeof v === "string") {
    if (SECRET_KEY.test(key)) return "[secret]";
    // Provider configuration arrives JSON-encoded, and at CheckConfig not yet secret-wrapped (docker registryAuth).
    if (/^[[{]/.test(v)) {
      try { return JSON.stringify(scrub(JSON.parse(v), key)); } catch { /* not JSON: scrubbed as text */ }
    }
    let s = v;
    for (const k of CREDENTIAL_ENV) if (process.env[k] && process.env[k].length >= 4) s = s.split(process.env[k]).join("[secret]");
    return s;
  }
  if (Array.isArray(v)) return v.map((x) => scrub(x, key));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrub(x, k)]));
  return v;
}

/** One JSON line per call to RENEWA_STANDIN_LOG (when set): secrets as "[secret]", credentials scrubbed. */
function record(entry) {
  const file = process.env.RENEWA_STANDIN_LOG;
  if (!file) return;
  const { inputs, ...call } = entry;
  fs.appendFileSync(file, JSON.stringify({ provider: name, ...call, inputs: scrub(redact(inputs ?? {})) }) + "\n");
}

/** Deterministic per URN, so an unchanged run computes the same outputs. */
const hash = (text) => crypto.createHash("sha256").update(text).digest("hex");
const wrapSecret = (v) => ({ [SECRET_SIG]: SECRET_VALUE, value: v });
const stable = (v) => JSON.stringify(plain(v), (_k, x) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x));
const typeOf = (urn) => urn.split("::")[2].split("$").pop();

function unsupported(what) {
  return new Error(`stand-in ${name} plugin: ${what} is not used by this program, so the stand-in does not implement it (test/engine/plugins/README.md)`);
}

const schemas = new Map();
function argsOf(def) {
  if (!schemas.has(def)) schemas.set(def, loadArgs(pkgDir, def.file, def.iface));
  return schemas.get(def);
}

/** The resource kind of `urn`, or an error naming what is implemented. */
function resourceDef(urn) {
  const def = spec.resources?.[typeOf(urn)];
  if (!def) throw unsupported(`resource type ${typeOf(urn)}`);
  return def;
}

/** Provider configuration as the engine sent it, non-string values decoded from their JSON encoding. */
let config = {};
function decodeConfig(raw) {
  const props = spec.config ? argsOf(spec.config) : {};
  const out = {};
  for (const [k, v] of Object.entries(plain(raw ?? {}))) {
    if (typeof v === "string" && props[k] && props[k].shape.kind !== "string") {
      try { out[k] = JSON.parse(v); continue; } catch { /* left as given; checkConfig reports it */ }
    }
    out[k] = v;
  }
  return out;
}
/** The engine's own keys in a provider's inputs, not the provider's configuration. */
const ENGINE_KEYS = new Set(["version", "pluginDownloadURL"]);
const configInputs = (news) => Object.fromEntries(Object.entries(news ?? {}).filter(([k]) => !ENGINE_KEYS.has(k) && !k.startsWith("__")));

const provider = {
  version,
  async check(urn, olds, news) {
    record({ method: "check", type: typeOf(urn), urn, inputs: news });
    const def = resourceDef(urn);
    const failures = validate(argsOf(def), news);
    // Defaults the real schema fills, as the bridge's check does, so diff and outputs see them.
    return { inputs: { ...(def.defaults ?? {}), ...news }, failures };
  },
  async diff(id, urn, olds, news) {
    record({ method: "diff", type: typeOf(urn), urn, id, inputs: news });
    const def = resourceDef(urn);
    // An input the provider also computes (Optional+Computed, e.g. IssueLabel's etag) is no change when left out.
    const computed = new Set(def.computed ?? []);
    const keys = Object.keys(argsOf(def))
      .filter((k) => news[k] !== undefined || !computed.has(k))
      .filter((k) => stable(olds[k] ?? null) !== stable(news[k] ?? null));
    const replaces = keys.filter((k) => (def.forceNew ?? []).includes(k));
    return { changes: keys.length > 0, replaces, deleteBeforeReplace: false };
  },
  async create(urn, inputs) {
    record({ method: "create", type: typeOf(urn), urn, inputs });
    const def = resourceDef(urn);
    // Seeded by the URN and the ForceNew inputs: the same on a re-run, a new id when a change replaces it.
    const seed = `${urn}:${stable((def.forceNew ?? []).map((k) => inputs[k] ?? null))}`;
    const { id, outputs, secrets = [] } = def.create(plain(inputs), { urn, h: hash(seed), config });
    const outs = { ...inputs, ...outputs };
    for (const k of secrets) if (k in outs && !isSecret(outs[k])) outs[k] = wrapSecret(outs[k]);
    return { id, outs };
  },
  async read(id, urn, props) {
    record({ method: "read", type: typeOf(urn), urn, id, inputs: props });
    const def = resourceDef(urn);
    const inputs = Object.fromEntries(Object.keys(argsOf(def)).filter((k) => props[k] !== undefined).map((k) => [k, props[k]]));
    return { id, props, inputs };
  },
  async update(id, urn, olds, news) {
    record({ method: "update", type: typeOf(urn), urn, id, inputs: news });
    const def = resourceDef(urn);
    // The computed outputs stay what create gave (ids, tokens); the inputs are the new ones.
    const inputKeys = new Set(Object.keys(argsOf(def)));
    const computed = Object.fromEntries(Object.entries(olds).filter(([k]) => !inputKeys.has(k)));
    return { outs: { ...computed, ...news, ...(def.update ? def.update(plain(news), { urn, h: hash(`${urn}:${stable(news)}`) }) : {}) } };
  },
  async delete(id, urn, props) {
    record({ method: "delete", type: typeOf(urn), urn, id, inputs: props });
    resourceDef(urn);
  },
  async invoke(token, inputs) {
    record({ method: "invoke", token, inputs });
    const def = spec.invokes?.[token];
    if (!def) throw unsupported(`invoke ${token}`);
    const failures = validate(argsOf(def), inputs);
    if (failures.length) return { failures };
    return { outputs: await def.run(plain(inputs), { config }) };
  },
};

/**
 * The SDK's Server answers Configure without looking at the request and CheckConfig with UNIMPLEMENTED, so provider
 * configuration (github `owner`/`baseUrl`, docker `registryAuth`) would never reach an invoke. Its Server class is not
 * exported: these two handlers are swapped in on the implementation object as it is registered with gRPC.
 */
function serveConfig(grpc, provproto, structproto) {
  const addService = grpc.Server.prototype.addService;
  grpc.Server.prototype.addService = function (service, impl) {
    impl.checkConfig = (call, callback) => {
      const news = call.request.getNews()?.toJavaScript() ?? {};
      record({ method: "checkConfig", urn: call.request.getUrn(), inputs: news });
      const resp = new provproto.CheckResponse();
      resp.setInputs(structproto.Struct.fromJavaScript(news));
      const failures = spec.config ? validate(argsOf(spec.config), configInputs(news), { jsonStrings: true }) : [];
      resp.setFailuresList(failures.map((f) => {
        const failure = new provproto.CheckFailure();
        failure.setProperty(f.property);
        failure.setReason(f.reason);
        return failure;
      }));
      callback(null, resp);
    };
    impl.configure = (call, callback) => {
      const args = call.request.getArgs()?.toJavaScript();
      // Older engines send only `variables` ("<pkg>:config:<key>" → string); newer ones the provider's inputs too.
      const vars = Object.fromEntries([...call.request.getVariablesMap().entries()].map(([k, v]) => [k.split(":").pop(), v]));
      config = decodeConfig(configInputs(args && Object.keys(args).length ? args : vars));
      record({ method: "configure", inputs: args ?? vars });
      const resp = new provproto.ConfigureResponse();
      resp.setAcceptsecrets(true);
      // No supportsPreview: the engine then skips create/update at preview, as for a provider that cannot plan.
      callback(null, resp);
    };
    return addService.call(this, service, impl);
  };
}

const pulumiDir = path.dirname(require.resolve("@pulumi/pulumi/package.json", { paths: [ROOT] }));
serveConfig(
  require(require.resolve("@grpc/grpc-js", { paths: [pulumiDir] })),
  require(path.join(pulumiDir, "proto", "provider_pb")),
  require(require.resolve("google-protobuf/google/protobuf/struct_pb", { paths: [pulumiDir] })),
);
require(path.join(pulumiDir, "provider")).main(provider, process.argv.slice(3));
