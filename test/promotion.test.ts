import { describe, expect, it } from "vitest";
import {
  PromotionError,
  checkProductionGate,
  decidePromotion,
  parsePromotionPath,
  stackReferenceName,
  validatePromotionPath,
} from "../src/promotion";

const A = `sha256:${"a".repeat(64)}`;
const B = `sha256:${"b".repeat(64)}`;

describe("validatePromotionPath", () => {
  it("accepts exactly the two forward steps", () => {
    expect(validatePromotionPath("development", "staging")).toEqual({ from: "development", to: "staging" });
    expect(validatePromotionPath("staging", "production")).toEqual({ from: "staging", to: "production" });
  });

  it("refuses going backwards and points at rollback", () => {
    expect(() => validatePromotionPath("production", "staging")).toThrow(/only goes forward.*npm run rollback -- staging/s);
    expect(() => validatePromotionPath("staging", "staging")).toThrow(PromotionError);
  });

  it("refuses skipping staging and says which step comes first", () => {
    expect(() => validatePromotionPath("development", "production")).toThrow(/never skips a stage.*development → staging first/s);
  });

  it("refuses PR stacks and unknown names", () => {
    expect(() => validatePromotionPath("pr-4", "staging")).toThrow(/"pr-4" is not a promotion stage.*preview-env/s);
    expect(() => validatePromotionPath("development", "prod")).toThrow(/"prod" is not a promotion stage/);
  });

  it("parses the workflow's promotion_path labels", () => {
    expect(parsePromotionPath("development → staging")).toEqual({ from: "development", to: "staging" });
    expect(parsePromotionPath("staging -> production")).toEqual({ from: "staging", to: "production" });
    expect(() => parsePromotionPath("staging")).toThrow(/choose one of: development → staging, staging → production/);
  });
});

describe("decidePromotion", () => {
  it("development deploys only the pinned digest", () => {
    expect(decidePromotion({ stack: "development", kind: "development", pinnedDigest: A, allowUnverified: false })).toMatchObject({
      digest: A,
      source: "pinned",
      override: false,
    });
    const none = decidePromotion({ stack: "pr-7", kind: "pr", allowUnverified: false, sourceDigest: B });
    expect(none).toMatchObject({ digest: undefined, source: "none" });
    expect(none.note).toMatch(/renewa:imageDigest is not set.*running image stays/);
  });

  it("staging takes development's digest unless pinned", () => {
    expect(decidePromotion({ stack: "staging", kind: "staging", sourceDigest: A, allowUnverified: false })).toMatchObject({
      digest: A,
      source: "promoted",
    });
    const pinned = decidePromotion({ stack: "staging", kind: "staging", sourceDigest: A, pinnedDigest: B, allowUnverified: false });
    expect(pinned).toMatchObject({ digest: B, source: "pinned" });
    expect(pinned.note).toMatch(/pinned.*npm run promote -- development staging/);
  });

  it("staging with nothing upstream deploys nothing and says why", () => {
    const d = decidePromotion({ stack: "staging", kind: "staging", allowUnverified: false });
    expect(d).toMatchObject({ digest: undefined, source: "none", override: false });
    expect(d.note).toMatch(/development has no imageDigest output/);
  });

  it("production accepts a digest staging released", () => {
    expect(
      decidePromotion({ stack: "production", kind: "production", sourceDigest: A, stagingReleased: [A, B], allowUnverified: false }),
    ).toMatchObject({ digest: A, source: "promoted", override: false });
  });

  it("production refuses a digest staging has not run, naming it and the fix", () => {
    const attempt = () =>
      decidePromotion({ stack: "production", kind: "production", sourceDigest: A, stagingReleased: [B], allowUnverified: false });
    expect(attempt).toThrow(PromotionError);
    expect(attempt).toThrow(new RegExp(`production refuses ${A}.*newest ${B}.*npm run promote -- development staging --digest ${A}.*allowUnverifiedPromotion`, "s"));
  });

  it("production's gate applies to pinned digests too", () => {
    expect(() =>
      decidePromotion({ stack: "production", kind: "production", pinnedDigest: B, stagingReleased: [A], allowUnverified: false }),
    ).toThrow(/production refuses/);
  });

  it("allowUnverified lets an unverified digest through as an override", () => {
    const d = decidePromotion({ stack: "production", kind: "production", sourceDigest: A, stagingReleased: [], allowUnverified: true });
    expect(d).toMatchObject({ digest: A, override: true });
    expect(d.note).toMatch(/OVERRIDE/);
    // A verified digest is not an override even when the flag is on.
    expect(checkProductionGate(A, [A], true)).toEqual({ override: false });
  });

  it("allowUnverified is refused outside production", () => {
    expect(() => decidePromotion({ stack: "staging", kind: "staging", sourceDigest: A, allowUnverified: true })).toThrow(/only applies to production/);
  });

  it("rejects malformed digests from config and from the source stack", () => {
    expect(() => decidePromotion({ stack: "development", kind: "development", pinnedDigest: "sha256:abc", allowUnverified: false })).toThrow(
      /renewa:imageDigest "sha256:abc" is not an image digest/,
    );
    expect(() => decidePromotion({ stack: "staging", kind: "staging", sourceDigest: "latest", allowUnverified: false })).toThrow(
      /development: output imageDigest "latest"/,
    );
  });

  it("names stack references org/project/stack", () => {
    expect(stackReferenceName("organization", "renewa-platform", "staging")).toBe("organization/renewa-platform/staging");
  });
});
