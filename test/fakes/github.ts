/**
 * Fake of GitHub's REST API for Actions environment secrets: the environment's public key (a real libsodium key pair,
 * so tests can open what was sealed) and secrets PUT/GET/DELETE. Other GitHub areas (issues, labels) mount their own
 * routes on the same HttpFake from their own files.
 */
import { HttpFake } from "./http-fake";

export interface FakeEnvironmentSecret {
  encryptedValue: string;
  keyId: string;
  createdAt: string;
  updatedAt: string;
}

export interface GithubFakeOptions {
  /** Mount on this (already started) fake instead of starting a new one. */
  fake?: HttpFake;
  /** The token calls must carry as `Bearer <token>`; undefined accepts any. */
  token?: string;
  /** Environments that exist, as "owner/repo/env"; undefined means every environment exists. */
  environments?: string[];
}

export interface GithubFakeState {
  keyId: string;
  /** Keyed "owner/repo/env/NAME". */
  secrets: Map<string, FakeEnvironmentSecret>;
  /** Opens a stored secret with the environment's private key: what GitHub Actions would see. */
  open(key: string): string | undefined;
}

export async function createGithubFake(opts: GithubFakeOptions = {}): Promise<{ fake: HttpFake; state: GithubFakeState }> {
  const sodium: typeof import("libsodium-wrappers") = require("libsodium-wrappers");
  await sodium.ready;
  const fake = opts.fake ?? (await new HttpFake().start());
  const pair = sodium.crypto_box_keypair();
  const b64 = sodium.base64_variants.ORIGINAL;
  const state: GithubFakeState = {
    keyId: "568250167242549743",
    secrets: new Map(),
    open(key) {
      const s = state.secrets.get(key);
      if (!s) return undefined;
      return sodium.to_string(sodium.crypto_box_seal_open(sodium.from_base64(s.encryptedValue, b64), pair.publicKey, pair.privateKey));
    },
  };

  const notFound = { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest" } };
  const unauthorized = { status: 401, body: { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" } };
  const authorized = (header: string | undefined) => opts.token === undefined || header === `Bearer ${opts.token}`;
  const envExists = (p: Record<string, string>) => !opts.environments || opts.environments.includes(`${p.owner}/${p.repo}/${p.env}`);
  const keyOf = (p: Record<string, string>) => `${p.owner}/${p.repo}/${p.env}/${p.name}`;
  const base = "/repos/:owner/:repo/environments/:env/secrets";

  // Registered before the `:name` routes, which would otherwise match "public-key".
  fake.route("GET", `${base}/public-key`, (req) => {
    if (!authorized(req.headers.authorization)) return unauthorized;
    if (!envExists(req.params)) return notFound;
    return { status: 200, body: { key_id: state.keyId, key: sodium.to_base64(pair.publicKey, b64) } };
  });
  fake.route("PUT", `${base}/:name`, (req) => {
    if (!authorized(req.headers.authorization)) return unauthorized;
    if (!envExists(req.params)) return notFound;
    const { encrypted_value, key_id } = req.body ?? {};
    if (typeof encrypted_value !== "string" || key_id !== state.keyId) {
      return { status: 422, body: { message: "Invalid request: encrypted_value and the current key_id are required" } };
    }
    const key = keyOf(req.params);
    const now = new Date().toISOString();
    const existing = state.secrets.get(key);
    state.secrets.set(key, { encryptedValue: encrypted_value, keyId: key_id, createdAt: existing?.createdAt ?? now, updatedAt: now });
    return { status: existing ? 204 : 201 };
  });
  fake.route("GET", `${base}/:name`, (req) => {
    if (!authorized(req.headers.authorization)) return unauthorized;
    const s = state.secrets.get(keyOf(req.params));
    if (!s) return notFound;
    return { status: 200, body: { name: req.params.name, created_at: s.createdAt, updated_at: s.updatedAt } };
  });
  fake.route("DELETE", `${base}/:name`, (req) => {
    if (!authorized(req.headers.authorization)) return unauthorized;
    return state.secrets.delete(keyOf(req.params)) ? { status: 204 } : notFound;
  });
  return { fake, state };
}
