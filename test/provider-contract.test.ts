/**
 * What every dynamic provider module owes the engine: a `read` (so `pulumi refresh` sees changes made outside Pulumi),
 * or a comment in its file saying why refresh cannot see the resource.
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { FlyApp } from "../src/providers/fly-app";
import { MpgCluster } from "../src/providers/mpg-cluster";

const dir = path.resolve(__dirname, "..", "src", "providers");
const files = fs.readdirSync(dir).filter((f) => f.endsWith(".ts"));

describe("dynamic providers", () => {
  it.each(files)("%s implements read, or says why refresh cannot see it", (file) => {
    const text = fs.readFileSync(path.join(dir, file), "utf8");
    expect(/\basync read\(/.test(text) || /refresh cannot see/i.test(text), `${file} has no read and no word on why refresh cannot see it`).toBe(true);
  });
});

describe("the import resource option", () => {
  // The engine's import sends Read with no properties, so the dynamic-provider host has no provider code to run; the
  // resources refuse the option themselves, saying what to do instead, before anything reaches the engine.
  it("is refused by FlyApp, which adopts an existing app on `pulumi up` instead", () => {
    expect(() => new FlyApp("app", { name: "renewa-app-staging", org: "renewa" }, { import: "renewa-app-staging" })).toThrow(
      /FlyApp "app" cannot be imported .*run `pulumi up`: an existing app of that name in the stack's org is adopted/,
    );
  });

  it("is refused by MpgCluster, which is only ever referenced by renewa:mpgClusterId", () => {
    expect(() => new MpgCluster("db", { clusterId: "renewa-staging-mpg", org: "renewa", databaseName: "fly-db" }, { import: "renewa-staging-mpg" })).toThrow(
      /MpgCluster "db" cannot be imported .*set `renewa:mpgClusterId` to the cluster's id and run `pulumi up`/,
    );
  });
});
