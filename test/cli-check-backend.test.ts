import { describe, expect, it } from "vitest";
import { assertBackend, backendProblems } from "../src/cli/check-backend";
import { createLocalStackRunner } from "../src/cli/stack-runner";
import { runTs } from "./harness/engine";

const S3 = { PULUMI_BACKEND_URL: "s3://renewa-pulumi-state", PULUMI_CONFIG_PASSPHRASE: "correct horse", AWS_ACCESS_KEY_ID: "AKIA0000", AWS_SECRET_ACCESS_KEY: "secret0000" };

describe("check-backend", () => {
  it("an empty PULUMI_CONFIG_PASSPHRASE (a GitHub secret that does not exist) is refused, not taken as the passphrase", () => {
    const [line] = backendProblems({ ...S3, PULUMI_CONFIG_PASSPHRASE: "" });
    expect(line).toMatch(/^PULUMI_CONFIG_PASSPHRASE is empty: the self-managed backend s3:\/\/renewa-pulumi-state encrypts stack secrets with it, and Pulumi would take an empty one/);
    expect(backendProblems({ ...S3, PULUMI_CONFIG_PASSPHRASE: undefined })[0]).toMatch(/^PULUMI_CONFIG_PASSPHRASE is not set/);
    expect(backendProblems({ ...S3, PULUMI_CONFIG_PASSPHRASE: undefined, PULUMI_CONFIG_PASSPHRASE_FILE: "/run/pass" })).toEqual([]);
    expect(backendProblems({ PULUMI_BACKEND_URL: "file://~/.pulumi-state", PULUMI_CONFIG_PASSPHRASE: " " })[0]).toMatch(/PULUMI_CONFIG_PASSPHRASE is empty/);
  });

  it("an s3:// backend without AWS credentials fails first, naming what to set", () => {
    const [line] = backendProblems({ ...S3, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" });
    expect(line).toMatch(/the backend s3:\/\/renewa-pulumi-state needs AWS credentials and none are set \(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are empty\)/);
    expect(backendProblems({ ...S3, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_PROFILE: "state" })).toEqual([]);
    expect(backendProblems({ ...S3, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_ROLE_ARN: "arn:aws:iam::1:role/x", AWS_WEB_IDENTITY_TOKEN_FILE: "/t" })).toEqual([]);
    // A file:// backend needs no AWS credentials.
    expect(backendProblems({ PULUMI_BACKEND_URL: "file:///state", PULUMI_CONFIG_PASSPHRASE: "p" })).toEqual([]);
  });

  it("in CI, no backend at all is an error; Pulumi Cloud needs its token; locally `pulumi login` may stand in", () => {
    expect(backendProblems({ GITHUB_ACTIONS: "true", PULUMI_BACKEND_URL: "", PULUMI_ACCESS_TOKEN: "" })[0]).toMatch(/^no Pulumi backend: PULUMI_BACKEND_URL is empty and PULUMI_ACCESS_TOKEN is empty/);
    expect(backendProblems({ GITHUB_ACTIONS: "true", PULUMI_ACCESS_TOKEN: "pul-123" })).toEqual([]);
    expect(backendProblems({})).toEqual([]);
    expect(backendProblems({ PULUMI_BACKEND_URL: "ftp://x" })[0]).toMatch(/not a backend Pulumi knows/);
  });

  it("the operator commands check before they start Pulumi", async () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, { ...S3, PULUMI_CONFIG_PASSPHRASE: "" });
      expect(() => assertBackend()).toThrow(/the Pulumi backend is not usable:\n {2}- PULUMI_CONFIG_PASSPHRASE is empty/);
      await expect(createLocalStackRunner(process.cwd()).outputs("staging")).rejects.toThrow(/PULUMI_CONFIG_PASSPHRASE is empty/);
    } finally {
      process.env = saved;
    }
  });

  it("runs as `npm run check-backend`: exit 1 with the problems, 0 when the settings are there", () => {
    const bad = runTs("src/cli/check-backend.ts", [], { env: { ...S3, AWS_SECRET_ACCESS_KEY: "" } });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/check-backend: the backend s3:\/\/renewa-pulumi-state needs AWS credentials/);
    const good = runTs("src/cli/check-backend.ts", [], { env: S3 });
    expect(good.status).toBe(0);
    expect(good.stdout).toContain("Pulumi backend: s3://renewa-pulumi-state: settings present.");
  });
});
