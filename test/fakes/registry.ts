/**
 * A fake Docker Registry v2 (the part `getRegistryImage` needs): `HEAD|GET /v2/<repo>/manifests/<digest>` answers 200
 * with Docker-Content-Digest for pushed images, 404 MANIFEST_UNKNOWN otherwise. Auth is Basic `x:<token>`, as
 * registry.fly.io takes a Fly token.
 */
import { FakeRequest, FakeResponse, HttpFake } from "./http-fake";

export interface RegistryFake {
  fake: HttpFake;
  push(repository: string, digest: string): void;
  /** What the docker provider's getRegistryImage invoke would return, asked over HTTP with the given credentials. */
  lookup(ref: string, auth: { username?: string; password?: string }): Promise<{ id: string; name: string; sha256Digest: string }>;
  stop(): Promise<void>;
}

export async function createRegistryFake(opts: { token: string }): Promise<RegistryFake> {
  const images = new Set<string>();
  const fake = new HttpFake();
  fake.requiredAuth = `Basic ${Buffer.from(`x:${opts.token}`).toString("base64")}`;
  const manifest = (req: FakeRequest): FakeResponse => {
    const key = `${req.params.repo}@${req.params.ref}`;
    if (!images.has(key)) {
      return { status: 404, body: { errors: [{ code: "MANIFEST_UNKNOWN", message: `manifest unknown: ${key}` }] } };
    }
    return {
      status: 200,
      body: { schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json" },
      headers: { "docker-content-digest": req.params.ref, "content-type": "application/vnd.oci.image.manifest.v1+json" },
    };
  };
  fake.route("HEAD", "/v2/:repo/manifests/:ref", manifest).route("GET", "/v2/:repo/manifests/:ref", manifest);
  await fake.start();

  return {
    fake,
    push: (repository, digest) => void images.add(`${repository}@${digest}`),
    lookup: (ref, auth) => registryLookup(fake.url, ref, auth),
    stop: () => fake.stop(),
  };
}

/** What the docker provider's getRegistryImage invoke returns, asked of a registry at `url` with the given credentials. */
export async function registryLookup(
  url: string,
  ref: string,
  auth: { username?: string; password?: string },
): Promise<{ id: string; name: string; sha256Digest: string }> {
  // The engine hands invoke failures to the SDK as a gRPC error whose `details` carry the provider's text; the mock
  // monitor passes a thrown error through the same path, so failures carry `details` too.
  const fail = (text: string) => Object.assign(new Error(text), { details: text });
  const m = /^[^/]+\/(.+)@(sha256:[0-9a-f]{64})$/.exec(ref);
  if (!m) throw fail(`Got error when attempting to fetch image version from registry: invalid reference ${ref}`);
  const headers: Record<string, string> = {};
  if (auth.username !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password ?? ""}`).toString("base64")}`;
  }
  const res = await fetch(`${url}/v2/${m[1]}/manifests/${m[2]}`, { method: "HEAD", headers });
  if (res.status !== 200) {
    throw fail(`Got error when attempting to fetch image version from registry: Got bad response from registry: ${res.status} ${res.statusText}`);
  }
  const digest = res.headers.get("docker-content-digest")!;
  return { id: digest, name: ref, sha256Digest: digest };
}
