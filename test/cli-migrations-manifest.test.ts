import * as path from "path";
import { describe, expect, it } from "vitest";
import { buildManifest, migrationsManifestSchema } from "../src/migrations/manifest";
import { runTs } from "./harness/engine";

const FIXTURE = path.join("test", "fixtures", "migrations");

describe("npm run migrations-manifest", () => {
  it("prints the folder's manifest as one line of JSON, the form renewa:migrations and preview-env --migrations take", () => {
    const res = runTs("src/cli/migrations-manifest.ts", [FIXTURE]);
    expect(res.status).toBe(0);
    const lines = res.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const manifest = migrationsManifestSchema.parse(JSON.parse(lines[0]));
    expect(manifest).toEqual(buildManifest(FIXTURE));
    expect(manifest.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("a folder that is not there is a usage error", () => {
    const res = runTs("src/cli/migrations-manifest.ts", ["nowhere/migrations"]);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain("migrations-manifest: nowhere/migrations is not a folder.");
  });
});
