/** Image references and digests. Immutable digests are the only thing this platform deploys. */

export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;
export const FLY_REGISTRY = "registry.fly.io";

export function isDigest(value: string): boolean {
  return DIGEST_PATTERN.test(value);
}

export interface ImageRef {
  registry: string;
  repository: string;
  digest: string;
}

/**
 * Parses `registry.fly.io/<repository>@sha256:<64 hex>`. Tags are refused: a tag can move, so two `up`s of the same
 * config could deploy different code, and promotion would not be promotion.
 */
export function parseImageRef(ref: string): ImageRef {
  const m = /^([^/@]+)\/([a-z0-9][a-z0-9._/-]*)@(sha256:[0-9a-f]{64})$/.exec(ref);
  if (!m) {
    const hint = /:[^/@]+$/.test(ref) && !ref.includes("@")
      ? " It looks like a tag; deploy by digest (registry.fly.io/<repository>@sha256:<64 hex>) so every environment runs the same bytes."
      : "";
    throw new Error(`"${ref}" is not an image reference by digest (expected ${FLY_REGISTRY}/<repository>@sha256:<64 hex digits>).${hint}`);
  }
  if (m[1] !== FLY_REGISTRY) {
    throw new Error(`"${ref}" is not in ${FLY_REGISTRY}; Fly machines here pull only from the org's registry.`);
  }
  return { registry: m[1], repository: m[2], digest: m[3] };
}

export function formatImageRef(repository: string, digest: string): string {
  return `${FLY_REGISTRY}/${repository}@${digest}`;
}
