// What the stand-in docker plugin (pulumi-docker 5.2.0) implements: only the provider itself (its configuration,
// with `registryAuth`) and the getRegistryImage invoke components/image-promotion.ts calls. The real one asks
// https://<registry>/v2/...; the stand-in asks the registry fake at RENEWA_STANDIN_REGISTRY_URL instead, with the
// provider's credentials for that registry, and fails with the real provider's messages.
"use strict";
const { request } = require("./http");

const FAIL = "Got error when attempting to fetch image version from registry";

/** `<registry>/<repository>(:<tag>|@<digest>)` split as the real data source splits it (no host means docker.io). */
function parseName(name) {
  const m = /^(?:([^/]+[.:][^/]*)\/)?([a-z0-9._/-]+?)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$/.exec(name);
  if (!m || (!m[3] && !m[4] && name.includes("@"))) throw new Error(`${FAIL}: invalid reference ${name}`);
  return { registry: m[1] || "registry-1.docker.io", repository: m[2], reference: m[4] || m[3] || "latest" };
}

/** The provider's `registryAuth` entry for `registry` (addresses may carry a scheme). */
function authFor(config, registry) {
  const entries = Array.isArray(config.registryAuth) ? config.registryAuth : [];
  return entries.find((a) => String(a.address ?? "").replace(/^https?:\/\//, "").replace(/\/+$/, "") === registry);
}

module.exports = {
  pkg: "@pulumi/docker",
  config: { file: "provider.d.ts", iface: "ProviderArgs" },
  resources: {},
  invokes: {
    "docker:index/getRegistryImage:getRegistryImage": {
      file: "getRegistryImage.d.ts",
      iface: "GetRegistryImageArgs",
      async run({ name, insecureSkipVerify = false }, { config }) {
        const { registry, repository, reference } = parseName(name);
        const base = process.env.RENEWA_STANDIN_REGISTRY_URL;
        if (!base) throw new Error(`stand-in docker plugin: set RENEWA_STANDIN_REGISTRY_URL to the registry fake that stands in for ${registry}`);
        const headers = {
          accept: "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
        };
        const auth = authFor(config, registry);
        if (auth?.username !== undefined && !auth.authDisabled) {
          headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password ?? ""}`).toString("base64")}`;
        }
        const res = await request("GET", `${base.replace(/\/+$/, "")}/v2/${repository}/manifests/${reference}`, headers);
        if (res.status !== 200) throw new Error(`${FAIL}: Got bad response from registry: ${res.status} ${res.statusText}`);
        const digest = res.headers.get("docker-content-digest");
        if (!digest) throw new Error(`${FAIL}: the registry sent no Docker-Content-Digest for ${name}`);
        return { id: digest, name, sha256Digest: digest, insecureSkipVerify };
      },
    },
  },
};
