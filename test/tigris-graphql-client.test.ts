/**
 * The Fly GraphQL client on its own: how GraphQL and HTTP failures read, what counts as "not found", and which
 * calls are retried. Runs in-process against the fake with a fast backoff.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { flyGraphql, graphqlErrors, isGraphqlNotFound } from "../src/clients/fly-graphql";
import { createFlyGraphqlFake, FlyGraphqlFakeState } from "./fakes/fly-graphql";
import { HttpFake } from "./fakes/http-fake";

const TOKEN = "fm2_sentinel-client-token";
const ROUTE = "POST /graphql";
const LOOKUP = `query TigrisAddOn($name: String!, $provider: String!) { addOn(name: $name, provider: $provider) { id name } }`;
const CREATE = `mutation TigrisCreateAddOn($input: CreateAddOnInput!) { createAddOn(input: $input) { addOn { id name environment } } }`;

let fake: HttpFake;
let state: FlyGraphqlFakeState;
const fast = { backoff: { baseMs: 1, capMs: 5, maxRetries: 3 } };

beforeAll(async () => {
  ({ fake, state } = await createFlyGraphqlFake({ authorization: `FlyV1 ${TOKEN}` }));
  process.env.FLY_API_URL = fake.url;
  process.env.FLY_API_TOKEN = TOKEN;
});

afterAll(async () => {
  delete process.env.FLY_API_URL;
  delete process.env.FLY_API_TOKEN;
  await fake.stop();
});

beforeEach(() => {
  state.addOns.clear();
  fake.clearFaults();
});

/** The error a call fails with; a call that succeeds fails the test. */
async function failure(call: Promise<unknown>): Promise<Error> {
  return call.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: Error) => e,
  );
}

function failNext(status: number): void {
  fake.inject({ route: ROUTE, nth: [fake.calls(ROUTE).length + 1], status });
}

describe("flyGraphql", () => {
  it("sends the operation name and variables, and returns data", async () => {
    const added = state.seed("renewa-dev", "renewa");
    const data = await flyGraphql(fast).request<{ addOn: { id: string } }>("TigrisAddOn", LOOKUP, { name: "renewa-dev", provider: "tigris" });
    expect(data.addOn.id).toBe(added.id);
    expect(fake.calls(ROUTE).at(-1)!.body).toMatchObject({ operationName: "TigrisAddOn", variables: { name: "renewa-dev", provider: "tigris" } });
  });

  it("turns GraphQL errors into one ApiError naming the operation, path and code", async () => {
    const err = await failure(flyGraphql(fast).request("TigrisAddOn", LOOKUP, { name: "missing", provider: "tigris" }));
    expect(err.message).toMatch(/^POST \/graphql \(TigrisAddOn\): 200 Could not find AddOn at addOn \[NOT_FOUND\] \(request id req-\d+\)$/);
    expect(graphqlErrors(err)).toEqual([{ message: "Could not find AddOn", path: ["addOn"], extensions: { code: "NOT_FOUND" } }]);
    expect(isGraphqlNotFound(err, "addOn")).toBe(true);
    expect(isGraphqlNotFound(err, "organization")).toBe(false);
  });

  it("does not call a mix of NOT_FOUND and other errors 'not found'", async () => {
    state.failOperation("addOn", [
      { message: "Could not find AddOn", path: ["addOn"], extensions: { code: "NOT_FOUND" } },
      { message: "internal error", path: ["addOn", "environment"] },
    ]);
    const err = await failure(flyGraphql(fast).request("TigrisAddOn", LOOKUP, { name: "x", provider: "tigris" }));
    expect(isGraphqlNotFound(err, "addOn")).toBe(false);
    expect(err.message).toContain("Could not find AddOn at addOn [NOT_FOUND]; internal error at addOn.environment");
  });

  it("keeps the token out of GraphQL errors that arrive with HTTP 200", async () => {
    state.failOperation("addOn", [{ message: `token ${TOKEN} may not read add-ons`, path: ["addOn"] }]);
    const err = await failure(flyGraphql(fast).request("TigrisAddOn", LOOKUP, { name: "x", provider: "tigris" }));
    expect(err.message).toContain("token [redacted] may not read add-ons");
    expect(JSON.stringify(graphqlErrors(err))).not.toContain(TOKEN);
    expect(err.message).not.toContain(TOKEN);
  });

  it("names the operation in HTTP errors too, without the token", async () => {
    const before = fake.calls(ROUTE).length;
    fake.inject({ route: ROUTE, nth: [before + 1], status: 401, body: { errors: [{ message: `bad token ${TOKEN}` }] } });
    const err = await failure(flyGraphql(fast).request("TigrisAddOn", LOOKUP, { name: "x", provider: "tigris" }));
    expect(err.message).toMatch(/^POST \/graphql \(TigrisAddOn\): 401 bad token \[redacted\] \(request id req-\d+\)$/);
    expect(err.message).not.toContain(TOKEN);
    expect(fake.calls(ROUTE).length - before).toBe(1);
  });

  it("retries queries on 503 but not a mutation that is unsafe to repeat", async () => {
    let before = fake.calls(ROUTE).length;
    failNext(503);
    await expect(flyGraphql(fast).request("TigrisAddOn", LOOKUP, { name: "x", provider: "tigris" })).rejects.toThrow(/NOT_FOUND/);
    expect(fake.calls(ROUTE).slice(before).map((c) => c.status)).toEqual([503, 200]);

    before = fake.calls(ROUTE).length;
    failNext(503);
    const input = { type: "tigris", name: "renewa-x", organizationId: "org-renewa-id", options: {} };
    await expect(flyGraphql(fast).request("TigrisCreateAddOn", CREATE, { input }, { unsafeToRepeat: true })).rejects.toThrow(/^POST \/graphql \(TigrisCreateAddOn\): 503/);
    expect(fake.calls(ROUTE).length - before).toBe(1);
    expect(state.addOns.size).toBe(0);
  });

  it("refuses an answer with neither data nor errors", async () => {
    fake.inject({ route: ROUTE, nth: [fake.calls(ROUTE).length + 1], status: 200, body: { data: null } });
    // The fault answers 200 with the given body: HttpFake sends a fault whenever a status is set.
    await expect(flyGraphql(fast).request("TigrisAddOn", LOOKUP, { name: "x", provider: "tigris" })).rejects.toThrow("response has neither data nor errors");
  });
});
