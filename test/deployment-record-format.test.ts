import { describe, expect, it } from "vitest";
import {
  DeploymentRecordData,
  RecordFormatError,
  environmentLabel,
  formatRecord,
  parseRecord,
  recordKey,
} from "../src/deployment-record-format";

const A = `sha256:${"a".repeat(64)}`;
const B = `sha256:${"b".repeat(64)}`;

const record: DeploymentRecordData = {
  schema: 1,
  key: recordKey("renewa-app-production", 14),
  app: "renewa-app-production",
  stack: "production",
  environment: "production",
  digest: A,
  imageRef: `registry.fly.io/renewa-app-development@${A}`,
  previousDigest: B,
  backupId: "bkp_01HZX",
  releaseVersion: 14,
  commit: "0123456789abcdef0123456789abcdef01234567",
  recordedAt: "2026-06-01T10:00:00.000Z",
  override: true,
};

describe("deployment record format", () => {
  it("round-trips through the issue body", () => {
    expect(parseRecord(formatRecord(record).body)).toEqual(record);
    const first = { ...record, previousDigest: null, backupId: null, override: false, imageRef: undefined };
    const { imageRef: _omitted, ...withoutRef } = first;
    expect(parseRecord(formatRecord(withoutRef as DeploymentRecordData).body)).toEqual(withoutRef);
  });

  it("shows people every field, the override and the rollback command", () => {
    const { title, body } = formatRecord(record);
    expect(title).toBe("Deployed renewa-app-production v14 (aaaaaaaaaaaa) [UNVERIFIED OVERRIDE]");
    for (const text of [`\`${A}\``, `\`${B}\``, "`bkp_01HZX`", "| Release version | 14 |", "0123456789abcdef", "2026-06-01T10:00:00.000Z"]) {
      expect(body).toContain(text);
    }
    expect(body).toMatch(/Promotion override \| \*\*yes\*\*/);
    expect(body).toContain("npm run rollback -- production");
    expect(body).toMatch(/<!-- deployment-record -->\n```json\n\{[\s\S]*\}\n```\n<!-- \/deployment-record -->$/);
  });

  it("keys records by app and release version, and labels them per environment", () => {
    expect(recordKey("renewa-app-staging", 3)).toBe("renewa-app-staging@v3");
    expect(environmentLabel("staging")).toBe("env:staging");
    expect(environmentLabel("pr-42")).toBe("env:pr");
  });

  it("ignores bodies without a record block", () => {
    expect(parseRecord(undefined)).toBeUndefined();
    expect(parseRecord("just a comment")).toBeUndefined();
  });

  it("reports broken blocks precisely", () => {
    const body = formatRecord(record).body;
    expect(() => parseRecord(body.replace("<!-- /deployment-record -->", ""))).toThrow(/never closed/);
    expect(() => parseRecord(body.replace('"releaseVersion": 14', '"releaseVersion": 14,,'))).toThrow(/not valid JSON/);
    expect(() => parseRecord(body.replace(`"digest": "${A}"`, '"digest": "latest"'))).toThrow(RecordFormatError);
    expect(() => parseRecord(body.replace('"override": true', '"override": "yes"'))).toThrow(/override must be a boolean/);
    expect(() => parseRecord(body.replace('"schema": 1', '"schema": 2'))).toThrow(/schema must be 1/);
  });
});
