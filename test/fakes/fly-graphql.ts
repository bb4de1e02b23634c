/**
 * Fake of Fly's GraphQL endpoint for the Tigris add-on calls: organization(slug), addOn(name, provider),
 * createAddOn(type: tigris) and deleteAddOn, with Fly's error shape (`data.<field> = null` plus
 * `errors[{message, path, extensions{code}}]`, HTTP 200). Transport faults come from HttpFake.inject on
 * "POST /graphql"; `failOperation` answers one operation with GraphQL errors.
 */
import { randomBytes } from "crypto";
import { FakeResponse, HttpFake } from "./http-fake";

export interface FakeAddOn {
  id: string;
  name: string;
  org: string;
  status: string;
  environment: Record<string, string>;
}

export interface GraphqlErrorSpec {
  message: string;
  path?: string[];
  extensions?: { code?: string };
}

export interface FlyGraphqlFakeOptions {
  /** Mount on this (already started) fake instead of starting a new one. */
  fake?: HttpFake;
  /** Authorization header every call must carry, e.g. "FlyV1 fm2_…". */
  authorization?: string;
  /** Org slug → org id. */
  orgs?: Record<string, string>;
}

export interface FlyGraphqlFakeState {
  addOns: Map<string, FakeAddOn>;
  /** Whether `addOn(name)` returns the keys in `environment` (Fly's behaviour is unconfirmed, so tests try both). */
  keysOnRead: boolean;
  /** Root fields called, in order ("organization", "addOn", "createAddOn", "deleteAddOn"). */
  operations: string[];
  /** Adds an add-on as if someone had created it earlier (its keys unknown to Pulumi). */
  seed(name: string, org: string): FakeAddOn;
  /** Answers the next `times` calls of a root field with these GraphQL errors. */
  failOperation(field: string, errors: GraphqlErrorSpec[], times?: number): void;
}

function notFound(field: string, what: string): FakeResponse {
  return { status: 200, body: { data: { [field]: null }, errors: [{ message: `Could not find ${what}`, path: [field], extensions: { code: "NOT_FOUND" } }] } };
}

export async function createFlyGraphqlFake(opts: FlyGraphqlFakeOptions = {}): Promise<{ fake: HttpFake; state: FlyGraphqlFakeState }> {
  const fake = opts.fake ?? (await new HttpFake().start());
  // Fly's header; a shared fake keeps the header its owner chose.
  if (!opts.fake) fake.requestIdHeader = "fly-request-id";
  const orgs = opts.orgs ?? { renewa: "org-renewa-id" };
  const failures = new Map<string, { errors: GraphqlErrorSpec[]; times: number }>();
  let nextId = 1;

  const newAddOn = (name: string, org: string): FakeAddOn => ({
    id: `addon-${nextId++}`,
    name,
    org,
    status: "ready",
    environment: {
      AWS_ACCESS_KEY_ID: `tid_${randomBytes(8).toString("hex")}`,
      AWS_SECRET_ACCESS_KEY: `tsec_${randomBytes(16).toString("hex")}`,
      AWS_ENDPOINT_URL_S3: "https://fly.storage.tigris.dev",
      AWS_REGION: "auto",
      BUCKET_NAME: name,
    },
  });

  const state: FlyGraphqlFakeState = {
    addOns: new Map(),
    keysOnRead: false,
    operations: [],
    seed(name, org) {
      const addOn = newAddOn(name, org);
      state.addOns.set(name, addOn);
      return addOn;
    },
    failOperation(field, errors, times = 1) {
      failures.set(field, { errors, times });
    },
  };

  fake.route("POST", "/graphql", (req) => {
    if (opts.authorization && req.headers.authorization !== opts.authorization) {
      return { status: 401, body: { errors: [{ message: "You must be authenticated to view this." }] } };
    }
    const query = String(req.body?.query ?? "");
    const vars = (req.body?.variables ?? {}) as Record<string, any>;
    const field = ["createAddOn", "deleteAddOn", "organization", "addOn"].find((f) => new RegExp(`\\b${f}\\s*\\(`).test(query));
    if (!field) return { status: 200, body: { errors: [{ message: `fake: unsupported query ${query.slice(0, 80)}` }] } };
    state.operations.push(field);

    const failure = failures.get(field);
    if (failure && failure.times > 0) {
      failure.times--;
      return { status: 200, body: { data: { [field]: null }, errors: failure.errors } };
    }

    switch (field) {
      case "organization": {
        const id = orgs[vars.slug];
        return id ? { status: 200, body: { data: { organization: { id } } } } : notFound("organization", "Organization");
      }
      case "addOn": {
        const addOn = state.addOns.get(vars.name);
        if (!addOn || vars.provider !== "tigris") return notFound("addOn", "AddOn");
        return {
          status: 200,
          body: {
            data: {
              addOn: { id: addOn.id, name: addOn.name, status: addOn.status, environment: state.keysOnRead ? addOn.environment : null, organization: { slug: addOn.org } },
            },
          },
        };
      }
      case "createAddOn": {
        const input = vars.input ?? {};
        if (input.type !== "tigris") return { status: 200, body: { data: { createAddOn: null }, errors: [{ message: `fake: type ${input.type}`, path: ["createAddOn"] }] } };
        const org = Object.entries(orgs).find(([, id]) => id === input.organizationId)?.[0];
        if (!org) return notFound("createAddOn", "Organization");
        if (state.addOns.has(input.name)) {
          return { status: 200, body: { data: { createAddOn: null }, errors: [{ message: "Name has already been taken", path: ["createAddOn"], extensions: { code: "UNPROCESSABLE" } }] } };
        }
        const addOn = state.seed(input.name, org);
        return { status: 200, body: { data: { createAddOn: { addOn: { id: addOn.id, name: addOn.name, environment: addOn.environment } } } } };
      }
      default: {
        const input = vars.input ?? {};
        if (!state.addOns.has(input.name) || input.provider !== "tigris") return notFound("deleteAddOn", "AddOn");
        state.addOns.delete(input.name);
        return { status: 200, body: { data: { deleteAddOn: { deletedAddOnName: input.name } } } };
      }
    }
  });
  return { fake, state };
}
