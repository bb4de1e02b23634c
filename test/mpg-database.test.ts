/**
 * A PR database's whole life through the serialized provider: created with its own user in development's cluster,
 * kept across commits that leave the migrations alone, replaced (dropped first) when they change, dropped on destroy,
 * and a second destroy is fine.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ProviderHost, closeAll } from "./harness/engine";
import { FlyPostgresState, resetMpg, startMpgProvider } from "./fakes/fly-postgres";
import { HttpFake } from "./fakes/http-fake";

const TOKEN = "fm2_sentinel-mpg-database-token-91ce";
const DEV = "renewa-development-mpg";
const HASH_A = `sha256:${"a".repeat(64)}`;
const HASH_B = `sha256:${"b".repeat(64)}`;
const INPUTS = { stack: "pr-42", clusterId: DEV, databaseName: "pr_42", username: "pr_42", migrationsHash: HASH_A };

let fake: HttpFake;
let state: FlyPostgresState;
let provider: string;
let host: ProviderHost;

/** Runs the engine's sequence for one `pulumi up`: check, diff, then create/update/replace as the diff says. */
async function up(olds: any, news: any): Promise<{ action: string; outs: any }> {
  const { inputs } = await host.call(provider, "check", olds ?? {}, news);
  if (!olds) return { action: "create", outs: (await host.call(provider, "create", inputs)).outs };
  const diff = await host.call(provider, "diff", "id", olds, inputs);
  if (!diff.changes) return { action: "same", outs: olds };
  if (diff.replaces?.length) {
    expect(diff.deleteBeforeReplace).toBe(true);
    await host.call(provider, "delete", "id", olds);
    return { action: "replace", outs: (await host.call(provider, "create", inputs)).outs };
  }
  return { action: "update", outs: (await host.call(provider, "update", "id", olds, inputs)).outs };
}

beforeAll(async () => {
  ({ fake, state, provider, host } = await startMpgProvider(TOKEN, {
    module: "src/providers/mpg-database.ts",
    exportName: "MpgDatabase",
    name: "db-pr-database",
    args: { clusterId: DEV, databaseName: "pr_42", username: "pr_42", migrationsHash: HASH_A },
    stack: "pr-42",
  }));
});
afterAll(() => closeAll(host, fake));
beforeEach(() => resetMpg(fake, state, DEV));

describe("MpgDatabase provider (PR databases)", () => {
  it("serializes without the token", () => expect(provider).not.toContain(TOKEN));

  it("check refuses names Postgres would not take", async () => {
    const res = await host.call(provider, "check", {}, { ...INPUTS, databaseName: "pr-42", username: "PR42" });
    expect(res.failures.map((f: any) => f.property)).toEqual(["databaseName", "username"]);
  });

  it("lives through create, unchanged commits, a migration change, destroy and a second destroy", async () => {
    const dev = state.clusters.get(DEV)!;
    const created = await up(undefined, INPUTS);
    expect(created.action).toBe("create");
    expect(dev.databases.has("pr_42")).toBe(true);
    expect(dev.users.get("pr_42")?.role).toBe("schema_admin");
    const pw = dev.users.get("pr_42")!.password;
    expect(created.outs.databaseUrl).toBe(`postgres://pr_42:${pw}@pgbouncer.${DEV}.flympg.net:5432/pr_42`);
    expect(created.outs.migrationDatabaseUrl).toBe(`postgres://pr_42:${pw}@direct.${DEV}.flympg.net:5432/pr_42`);

    const mutations = fake.mutatingCalls().length;
    expect((await up(created.outs, INPUTS)).action).toBe("same");
    // An unknown hash (no migrations folder in this checkout) keeps the database too.
    const { migrationsHash: _h, ...withoutHash } = INPUTS;
    expect((await up(created.outs, withoutHash)).action).toBe("same");
    expect(fake.mutatingCalls().length).toBe(mutations);

    const replaced = await up(created.outs, { ...INPUTS, migrationsHash: HASH_B });
    expect(replaced.action).toBe("replace");
    expect(fake.mutatingCalls().slice(mutations).map((c) => c.route)).toEqual([
      "DELETE /v1/postgres/:id/databases/:db",
      "DELETE /v1/postgres/:id/users/:user",
      "POST /v1/postgres/:id/databases",
      "POST /v1/postgres/:id/users",
    ]);
    expect(replaced.outs.migrationsHash).toBe(HASH_B);
    expect(replaced.outs.databaseUrl).toContain(dev.users.get("pr_42")!.password);

    await host.call(provider, "delete", "id", replaced.outs);
    expect(dev.databases.has("pr_42")).toBe(false);
    expect(dev.users.has("pr_42")).toBe(false);
    await host.call(provider, "delete", "id", replaced.outs);
    state.clusters.delete(DEV);
    await host.call(provider, "delete", "id", replaced.outs);
  });

  it("records a first known hash without recreating the database", async () => {
    const { migrationsHash: _h, ...withoutHash } = INPUTS;
    const created = await up(undefined, withoutHash);
    expect(created.outs.migrationsHash).toBeUndefined();
    const next = await up(created.outs, INPUTS);
    expect(next.action).toBe("update");
    expect(next.outs.migrationsHash).toBe(HASH_A);
  });

  it("adopts a database and user left behind by an interrupted run", async () => {
    const dev = state.clusters.get(DEV)!;
    dev.databases.add("pr_42");
    dev.users.set("pr_42", { role: "schema_admin", password: "SECRETPW-left-behind" });
    const { outs } = await up(undefined, INPUTS);
    expect(outs.databaseUrl).toContain("SECRETPW-left-behind");
  });

  it("fails with the next step when development's cluster is missing", async () => {
    state.clusters.clear();
    await expect(up(undefined, INPUTS)).rejects.toThrow(/PR database "pr_42" for stack "pr-42".*"renewa-development-mpg" is missing/);
  });

  it("read drops a database someone removed, so the next up recreates it", async () => {
    const { outs } = await up(undefined, INPUTS);
    expect((await host.call(provider, "read", "id", outs)).id).toBe("id");
    state.clusters.get(DEV)!.databases.delete("pr_42");
    expect((await host.call(provider, "read", "id", outs)).id).toBe("");
  });

  it("never prints the token or a password", () => {
    expect(host.output()).not.toContain(TOKEN);
    expect(host.output()).not.toContain("SECRETPW");
  });
});
