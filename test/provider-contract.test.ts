/**
 * What every dynamic provider module owes the engine: a `read` (so `pulumi refresh` sees changes made outside Pulumi),
 * or a comment in its file saying why refresh cannot see the resource.
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";

const dir = path.resolve(__dirname, "..", "src", "providers");
const files = fs.readdirSync(dir).filter((f) => f.endsWith(".ts"));

describe("dynamic providers", () => {
  it.each(files)("%s implements read, or says why refresh cannot see it", (file) => {
    const text = fs.readFileSync(path.join(dir, file), "utf8");
    expect(/\basync read\(/.test(text) || /refresh cannot see/i.test(text), `${file} has no read and no word on why refresh cannot see it`).toBe(true);
  });
});
