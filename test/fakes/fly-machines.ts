/**
 * A local fake of Fly's Machines API (and the release records on api.fly.io), mounted on an HttpFake so other fakes
 * (MPG's `/v1/postgres…`) can share the server. Machines move through created → started with timed boot and health,
 * leases conflict with 409, wait answers 408 on timeout, the release-command machine exits with a chosen code.
 * Time is scaled: a Fly "second" (lease TTLs, wait timeouts) lasts `secondMs`.
 *
 * Requests are held to Fly's published spec: a body field or query parameter the spec does not declare for the
 * route answers 400, as a strict server would. Faults beyond HttpFake's: crash-looping images, hosts that refuse
 * updates, creates whose answer is lost after the machine was made, lease refreshes that hand out a new nonce.
 * Every change of what users can reach is on a timeline: how many machines were routable and healthy when.
 */
import { createHash } from "crypto";
import { FakeRequest, FakeResponse, HttpFake } from "./http-fake";
import { undeclaredFields } from "./fly-spec";

// Moved to the engine harness, where every provider test finds it; kept here for existing imports.
export { engineInputs } from "../harness/engine";

export interface FlyMachinesFakeOptions {
  /** Mount onto this fake instead of starting a new one (it is started if it isn't yet). */
  fake?: HttpFake;
  /** Orgs the caller's token belongs to; apps elsewhere answer 403. */
  orgs?: string[];
  /** When set, requests must carry this token (as Bearer or FlyV1). */
  token?: string;
  secondMs?: number;
  /** From create/update/start to `started`. */
  bootMs?: number;
  /** From `started` to every check passing. */
  healthMs?: number;
  /** How long the release command runs before it exits; Infinity never exits. */
  releaseCommandMs?: number;
  /** Exit code of the release command, by image reference or digest; default 0. */
  releaseExitCodes?: Record<string, number>;
  /**
   * One-off job machines (verify-backup's check, refresh-staging's scrub): the exit code a machine's command ends
   * with, or undefined for a machine that is not a job. Jobs run for `releaseCommandMs`, like the release command.
   */
  jobExitCode?: (config: any) => number | undefined;
  /** Images (reference or digest) whose checks never pass. */
  unhealthyImages?: string[];
  /** false: api.fly.io's release routes answer 404, as when that API is unavailable. */
  releasesApi?: boolean;
  /** Images (reference or digest) whose app exits with this code soon after every start, restarting up to 3 times. */
  crashingImages?: Record<string, number>;
  /** The release-command machine reports its exit inside `request.MonitorEvent`, as some hosts do. */
  monitorEventExits?: boolean;
  /** A lease refresh returns a new nonce (the previous one stays good for calls, not for the lease itself). */
  rotateLeaseNonce?: boolean;
}

export interface FakeLease {
  nonce: string;
  owner: string;
  description?: string;
  expiresAt: number;
}

export interface FakeMachine {
  id: string;
  name: string;
  state: string;
  region: string;
  instance_id: string;
  config: any;
  checks: Array<{ name: string; status: string; output: string }>;
  events: Array<{ id: string; type: string; status: string; timestamp: number; request?: any }>;
  cordoned: boolean;
  min_secrets_version?: number;
  skip_service_registration?: boolean;
  lease?: FakeLease;
  /** Every config the machine has run, oldest first. */
  configs: any[];
  /** Its app's log lines (`fly logs -i`), oldest first. */
  logs: string[];
  host_status: string;
  /** This machine's boot time instead of the fake's (a slow host). */
  bootMs?: number;
  /** When set, updates are refused with this error, as a host out of capacity does. */
  hostRefusal?: string;
  previousNonce?: string;
  timers: NodeJS.Timeout[];
  listeners: Array<() => void>;
}

export interface FakeApp {
  id: string;
  name: string;
  org: string;
  status: string;
  ips: Array<{ ip: string; type: string; shared: boolean; region: string; created_at: string }>;
  secrets: Map<string, { digest: string; updated_at: string }>;
  secretsVersion: number;
  machines: Map<string, FakeMachine>;
  releases: Array<{ id: string; version: number; status: string; image_ref: string; strategy: string; metadata?: any; definition?: any }>;
  /** [ms since epoch, routable healthy app machines] after every change. */
  timeline: Array<[number, number]>;
  /** Routing and lifecycle calls in order, with when they happened. */
  actions: Array<{ at: number; machine: string; action: string }>;
}

export interface FlyMachinesFakeState {
  apps: Map<string, FakeApp>;
}

export interface FlyMachinesFake {
  fake: HttpFake;
  state: FlyMachinesFakeState;
  options: Required<Omit<FlyMachinesFakeOptions, "fake" | "token" | "jobExitCode">>;
  url: string;
  addApp(name: string, org?: string): FakeApp;
  /** Adds a machine already running `config` (a fleet deployed before this program took over). */
  addMachine(app: string, config: any, state?: string): FakeMachine;
  /** Holds a machine's lease as another deployer would, for `ms`. */
  holdLease(app: string, id: string, ms: number, owner?: string): FakeLease;
  /** Live (not destroyed) machines of an app. */
  machines(app: string): FakeMachine[];
  /** The fewest routable healthy app machines (started, not cordoned, every check passing) between `from` and `to` (ms). */
  minRoutable(app: string, from?: number, to?: number): number;
  /** The next `n` creates make the machine but answer 503, as when the answer is lost on the way back. */
  loseCreateAnswers(n: number): void;
  stop(): Promise<void>;
}

/** `registry.fly.io/renewa@sha256:<n repeated>`: a distinct, valid image reference per test image. */
export function imageRef(n: number, repository = "renewa-app"): string {
  return `registry.fly.io/${repository}@sha256:${n.toString(16).padStart(2, "0").repeat(32)}`;
}

/** Release machine settings as the App component passes them; a 1 s grace period keeps scaled tests quick. */
export const sampleMachineSettings = {
  region: "fra",
  guest: { cpuKind: "shared", cpus: 1, memoryMb: 512 },
  healthCheck: { path: "/health", intervalSeconds: 1, timeoutSeconds: 1, gracePeriodSeconds: 1 },
  env: { NODE_ENV: "production" },
  autoStop: "off",
  minMachinesRunning: 1,
};

/** Fly's provider tests' environment: the token, both API URLs pointed at this fake, and Fly time scaled down. */
export function flyProviderEnv(fly: FlyMachinesFake, token: string): Record<string, string> {
  return { FLY_API_TOKEN: token, FLY_MACHINES_API_URL: fly.url, FLY_API_URL: fly.url, RENEWA_TIME_SCALE: "0.001" };
}

let counter = 0;
const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");
const newId = () => hex(Date.now() % 0xffffff, 6) + hex(++counter, 8);
const newInstance = () => `01J${hex(Date.now(), 12)}${hex(++counter, 11)}`.toUpperCase();
const err = (status: number, error: string, extra: Record<string, unknown> = {}): FakeResponse => ({ status, body: { error, ...extra } });
const digestOf = (image: string) => /@(sha256:[0-9a-f]{64})$/.exec(image ?? "")?.[1];

export async function createFlyMachinesFake(opts: FlyMachinesFakeOptions = {}): Promise<FlyMachinesFake> {
  const fake = opts.fake ?? new HttpFake();
  const options = {
    orgs: opts.orgs ?? ["renewa"],
    secondMs: opts.secondMs ?? 1000,
    bootMs: opts.bootMs ?? 20,
    healthMs: opts.healthMs ?? 20,
    releaseCommandMs: opts.releaseCommandMs ?? 20,
    releaseExitCodes: opts.releaseExitCodes ?? {},
    unhealthyImages: opts.unhealthyImages ?? [],
    releasesApi: opts.releasesApi ?? true,
    crashingImages: opts.crashingImages ?? {},
    monitorEventExits: opts.monitorEventExits ?? false,
    rotateLeaseNonce: opts.rotateLeaseNonce ?? false,
  };
  let lostCreateAnswers = 0;
  const state: FlyMachinesFakeState = { apps: new Map() };
  fake.requestIdHeader = "fly-request-id";
  if (opts.token) fake.requiredAuth = (h) => h === `Bearer ${opts.token}` || h === `FlyV1 ${opts.token}`;

  function addApp(name: string, org = options.orgs[0]): FakeApp {
    const a: FakeApp = { id: `app_${newId()}`, name, org, status: "pending", ips: [], secrets: new Map(), secretsVersion: 0, machines: new Map(), releases: [], timeline: [], actions: [] };
    state.apps.set(name, a);
    return a;
  }

  const event = (m: FakeMachine, type: string, status: string, request?: any) =>
    m.events.unshift({ id: newInstance(), type, status, timestamp: Date.now(), request });
  const appOf = (m: FakeMachine) => [...state.apps.values()].find((a) => a.machines.get(m.id) === m);
  const serving = (m: FakeMachine) =>
    m.state === "started" && !m.cordoned && (m.config?.metadata?.fly_process_group ?? "app") === "app" && m.checks.every((c) => c.status === "passing");
  /** Records how many machines users could reach right now, if that changed. */
  function mark(m: FakeMachine) {
    const a = appOf(m);
    if (!a) return;
    const n = live(a).filter(serving).length;
    if (a.timeline.at(-1)?.[1] !== n) a.timeline.push([Date.now(), n]);
  }
  function setState(m: FakeMachine, s: string) {
    m.state = s;
    mark(m);
    for (const l of m.listeners.splice(0)) l();
  }
  const later = (m: FakeMachine, ms: number, fn: () => void) => {
    if (Number.isFinite(ms)) m.timers.push(setTimeout(fn, ms));
  };
  const matches = (list: string[], image: string) => list.includes(image) || list.includes(digestOf(image) ?? "");
  const checkNames = (config: any): string[] => [
    ...Object.keys(config?.checks ?? {}),
    ...(config?.services ?? []).flatMap((s: any, i: number) => (s.checks ?? []).map((_: any, j: number) => `servicecheck-${i}${j}-${s.checks[j].type}-${s.internal_port}`)),
  ];

  const crashCode = (image: string) => options.crashingImages[image] ?? options.crashingImages[digestOf(image) ?? ""];

  function boot(m: FakeMachine, restarts = 0) {
    for (const t of m.timers.splice(0)) clearTimeout(t);
    const instance = m.instance_id;
    m.checks = checkNames(m.config).map((name) => ({ name, status: "critical", output: "waiting for the machine to start" }));
    mark(m);
    later(m, m.bootMs ?? options.bootMs, () => {
      if (m.instance_id !== instance) return;
      event(m, "start", "started");
      m.logs.push(`[info] Machine started, running ${JSON.stringify(m.config.init?.cmd ?? ["<image CMD>"])}`);
      setState(m, "started");
      if (m.config?.metadata?.fly_process_group === "fly_app_release_command") return runReleaseCommand(m);
      const jobCode = opts.jobExitCode?.(m.config);
      if (jobCode !== undefined) return runReleaseCommand(m, jobCode);
      const code = crashCode(m.config.image);
      if (code !== undefined) return crash(m, instance, code, restarts);
      const unhealthy = matches(options.unhealthyImages, m.config.image);
      later(m, options.healthMs, () => {
        if (m.instance_id !== instance) return;
        for (const c of m.checks) {
          c.status = unhealthy ? "critical" : "passing";
          c.output = unhealthy ? "GET /health: 503 Service Unavailable (connection refused on 0.0.0.0:8080)" : "HTTP GET /health: 200 OK";
        }
        mark(m);
      });
    });
  }

  /** The app dies soon after it starts; Fly restarts it (policy on-failure) up to 3 times, then leaves it stopped. */
  function crash(m: FakeMachine, instance: string, code: number, restarts: number) {
    later(m, Math.max(1, options.bootMs / 4), () => {
      if (m.instance_id !== instance) return;
      m.logs.push("Error: Cannot find module '/app/dist/server.js'", `[info] Main child exited normally with code: ${code}`);
      const restarting = restarts < 3 && m.config.restart?.policy !== "no";
      event(m, "exit", "stopped", { exit_event: { exit_code: code, requested_stop: false, restarting }, restart_count: restarts });
      setState(m, "stopped");
      if (restarting) later(m, 1, () => (event(m, "start", "starting"), setState(m, "starting"), boot(m, restarts + 1)));
    });
  }

  function runReleaseCommand(m: FakeMachine, exitCode?: number) {
    const code = exitCode ?? options.releaseExitCodes[m.config.image] ?? options.releaseExitCodes[digestOf(m.config.image) ?? ""] ?? 0;
    m.logs.push("Running migrations…");
    later(m, options.releaseCommandMs, () => {
      m.logs.push(code === 0 ? "Migrations complete" : "ERROR: relation \"users\" already exists");
      const exit = { exit_code: code, requested_stop: false };
      event(m, "exit", "stopped", options.monitorEventExits ? { MonitorEvent: { exit_event: exit } } : { exit_event: exit });
      setState(m, "stopped");
      if (m.config.auto_destroy) later(m, 1, () => (event(m, "destroy", "destroyed"), setState(m, "destroyed")));
    });
  }

  function addMachine(appName: string, config: any, initial = "started", req: any = {}): FakeMachine {
    const a = state.apps.get(appName)!;
    const m: FakeMachine = {
      id: newId(), name: `machine-${counter}`, state: initial, region: req.region ?? "fra", instance_id: newInstance(), config,
      checks: [], events: [], cordoned: !!req.skip_service_registration, min_secrets_version: req.min_secrets_version,
      skip_service_registration: req.skip_service_registration, configs: [config], timers: [], listeners: [], logs: [], host_status: "ok",
    };
    m.checks = checkNames(config).map((name) => ({ name, status: initial === "started" ? "passing" : "critical", output: "" }));
    event(m, "launch", "created");
    a.machines.set(m.id, m);
    mark(m);
    return m;
  }

  function holdLease(appName: string, id: string, ms: number, owner = "someone-else@example.com"): FakeLease {
    const m = state.apps.get(appName)!.machines.get(id)!;
    m.lease = { nonce: `held-${newId()}`, owner, expiresAt: Date.now() + ms };
    return m.lease;
  }

  const view = (m: FakeMachine) => ({
    id: m.id, name: m.name, state: m.state, region: m.region, instance_id: m.instance_id, config: m.config, cordoned: m.cordoned,
    checks: m.checks, events: m.events,
    image_ref: { registry: "registry.fly.io", repository: m.config.image?.split("/")[1]?.split("@")[0], digest: digestOf(m.config.image) ?? "" },
    host_status: m.host_status,
  });
  const live = (a: FakeApp) => [...a.machines.values()].filter((m) => m.state !== "destroyed");
  const heldBy = (m: FakeMachine) => (m.lease && m.lease.expiresAt > Date.now() ? m.lease : undefined);

  /** Looks up app and machine, checking org ownership and the lease nonce for mutating calls. */
  function resolve(req: FakeRequest, needMachine: boolean): { a?: FakeApp; m?: FakeMachine; res?: FakeResponse } {
    const a = state.apps.get(req.params.app);
    if (!a) return { res: err(404, `app not found: ${req.params.app}`, { status: "unknown" }) };
    if (!options.orgs.includes(a.org)) return { res: err(403, "You are not authorized to access this app") };
    if (!needMachine) return { a };
    const m = a.machines.get(req.params.id);
    if (!m) return { res: err(404, "machine not found", { status: "unknown" }) };
    const lease = heldBy(m);
    const sent = req.headers["fly-machine-lease-nonce"];
    const nonceOk = sent === lease?.nonce || (sent !== undefined && sent === m.previousNonce);
    if (req.method !== "GET" && lease && !nonceOk && !req.path.endsWith("/lease")) {
      return { res: err(409, `lease currently held by ${lease.owner}, expires at ${new Date(lease.expiresAt).toISOString()}`) };
    }
    return { a, m };
  }
  const withApp = (fn: (a: FakeApp, req: FakeRequest) => FakeResponse) => (req: FakeRequest) => {
    const r = resolve(req, false);
    return r.res ?? fn(r.a!, req);
  };
  const withMachine = (fn: (m: FakeMachine, a: FakeApp, req: FakeRequest) => FakeResponse | Promise<FakeResponse>) => (req: FakeRequest) => {
    const r = resolve(req, true);
    if (r.res) return r.res;
    const verb = /\/(cordon|uncordon|stop|start)$/.exec(req.path)?.[1];
    const whole = /\/machines\/[^/]+$/.test(req.path);
    const action = verb ?? (whole && req.method === "DELETE" ? "destroy" : whole && req.method === "POST" ? "update" : undefined);
    if (action) r.a!.actions.push({ at: Date.now(), machine: r.m!.id, action });
    return fn(r.m!, r.a!, req);
  };

  const V = "/v1/apps";
  // Every route checks its request against the spec before it acts.
  const api = {
    route(method: string, pattern: string, handler: (req: FakeRequest) => FakeResponse | Promise<FakeResponse>) {
      fake.route(method, pattern, (req) => {
        const bad = undeclaredFields(`${method} ${pattern}`, req);
        return bad.length ? err(400, `fields not in the Machines API spec: ${bad.join(", ")}`) : handler(req);
      });
      return api;
    },
  };
  api
    .route("GET", `${V}/:app`, withApp((a) => ({ status: 200, body: { id: a.id, name: a.name, status: a.status, organization: { name: a.org, slug: a.org } } })))
    .route("POST", V, (req) => {
      const name = req.body?.name ?? req.body?.app_name;
      if (!options.orgs.includes(req.body?.org_slug)) return err(404, `organization not found: ${req.body?.org_slug}`);
      if (state.apps.has(name)) return err(422, "Name has already been taken", { status: "name_taken" });
      addApp(name, req.body.org_slug);
      return { status: 201 };
    })
    .route("DELETE", `${V}/:app`, withApp((a) => (state.apps.delete(a.name), { status: 202 })))
    .route("GET", `${V}/:app/ip_assignments`, withApp((a) => ({ status: 200, body: { ips: a.ips } })))
    .route("POST", `${V}/:app/ip_assignments`, withApp((a, req) => {
      const type = req.body?.type;
      const ip = type === "shared_v4" ? "66.241.125.1" : type === "v4" ? `137.66.0.${a.ips.length + 2}` : `2a09:8280:1::${hex(++counter, 4)}`;
      const entry = { ip, type, shared: type === "shared_v4", region: "global", created_at: new Date().toISOString() };
      a.ips.push(entry);
      return { status: 200, body: entry };
    }))
    .route("GET", `${V}/:app/machines`, withApp((a, req) => {
      const all = req.query.get("include_deleted") === "true" ? [...a.machines.values()] : live(a);
      return { status: 200, body: all.map(view) };
    }))
    .route("POST", `${V}/:app/machines`, withApp((a, req) => {
      if (!req.body?.config?.image) return err(400, "config.image is required");
      if ((req.body.min_secrets_version ?? 0) > a.secretsVersion) return err(422, `secrets version ${req.body.min_secrets_version} not found`);
      const m = addMachine(a.name, req.body.config, req.body.skip_launch ? "stopped" : "created", req.body);
      if (!req.body.skip_launch) boot(m);
      a.status = "deployed";
      if (lostCreateAnswers > 0) return (lostCreateAnswers--, err(503, "upstream request timeout"));
      return { status: 200, body: view(m) };
    }))
    .route("GET", `${V}/:app/machines/:id`, withMachine((m) => ({ status: 200, body: view(m) })))
    .route("POST", `${V}/:app/machines/:id`, withMachine((m, a, req) => {
      if (m.state === "destroyed") return err(404, "machine not found");
      if (m.hostRefusal) return err(412, m.hostRefusal);
      if ((req.body?.min_secrets_version ?? 0) > a.secretsVersion) return err(422, `secrets version ${req.body.min_secrets_version} not found`);
      m.config = req.body.config;
      m.configs.push(m.config);
      m.min_secrets_version = req.body.min_secrets_version;
      m.instance_id = newInstance();
      event(m, "update", "replacing");
      if (req.body.skip_launch) setState(m, "stopped");
      else (setState(m, "replacing"), boot(m));
      return { status: 200, body: view(m) };
    }))
    .route("DELETE", `${V}/:app/machines/:id`, withMachine((m, _a, req) => {
      if (m.state === "started" && req.query.get("force") !== "true" && req.query.get("kill") !== "true") {
        return err(412, "failed_precondition: unable to destroy machine, not currently stopped");
      }
      for (const t of m.timers.splice(0)) clearTimeout(t);
      event(m, "destroy", "destroyed");
      setState(m, "destroyed");
      return { status: 200, body: { ok: true } };
    }))
    .route("POST", `${V}/:app/machines/:id/start`, withMachine((m) => (setState(m, "starting"), boot(m), { status: 200, body: {} })))
    .route("POST", `${V}/:app/machines/:id/stop`, withMachine((m) => {
      for (const t of m.timers.splice(0)) clearTimeout(t);
      setState(m, "stopping");
      later(m, 1, () => (event(m, "exit", "stopped", { exit_event: { exit_code: 0, requested_stop: true } }), setState(m, "stopped")));
      return { status: 200, body: {} };
    }))
    .route("POST", `${V}/:app/machines/:id/cordon`, withMachine((m) => ((m.cordoned = true), mark(m), { status: 200, body: {} })))
    .route("POST", `${V}/:app/machines/:id/uncordon`, withMachine((m) => ((m.cordoned = false), mark(m), { status: 200, body: {} })))
    .route("GET", `${V}/:app/machines/:id/events`, withMachine((m) => ({ status: 200, body: m.events })))
    .route("GET", `${V}/:app/machines/:id/lease`, withMachine((m) => {
      const l = heldBy(m);
      return l ? { status: 200, body: { status: "success", data: leaseView(l) } } : err(404, "no active lease");
    }))
    .route("POST", `${V}/:app/machines/:id/lease`, withMachine((m, _a, req) => {
      const held = heldBy(m);
      const nonce = req.headers["fly-machine-lease-nonce"];
      if (held && held.nonce !== nonce) return err(409, `lease currently held by ${held.owner}`);
      const ttl = Number(req.body?.ttl ?? 30);
      const rotate = held && options.rotateLeaseNonce;
      if (rotate) m.previousNonce = held.nonce;
      // A refresh that arrives just after its lease lapsed (scaled TTLs are milliseconds) renews that same lease.
      const lapsed = !held && nonce !== undefined && m.lease?.nonce === nonce;
      m.lease = { nonce: (held && !rotate) || lapsed ? (nonce as string) : `nonce-${newId()}`, owner: "pulumi@renewa.example", description: req.body?.description, expiresAt: Date.now() + ttl * options.secondMs };
      return { status: 201, body: { status: "success", data: leaseView(m.lease) } };
    }))
    .route("DELETE", `${V}/:app/machines/:id/lease`, withMachine((m, _a, req) => {
      const held = heldBy(m);
      if (held && held.nonce !== req.headers["fly-machine-lease-nonce"]) return err(409, `lease currently held by ${held.owner}`);
      m.lease = undefined;
      return { status: 200, body: { ok: true } };
    }))
    .route("GET", `${V}/:app/machines/:id/wait`, withMachine(async (m, _a, req) => {
      const want = (req.query.get("state") ?? "started").split(",");
      const version = req.query.get("version") ?? req.query.get("instance_id");
      const seconds = Math.min(60, Number(req.query.get("timeout") ?? 60));
      const done = () => want.includes(m.state) && (!version || version === m.instance_id || m.state === "destroyed");
      if (done()) return { status: 200, body: { ok: true, state: m.state } };
      return new Promise<FakeResponse>((res) => {
        let settled = false;
        const timer = setTimeout(() => {
          settled = true;
          res(err(408, "deadline_exceeded: timeout waiting for machine to be " + want.join(",")));
        }, seconds * options.secondMs);
        const listen = () => {
          if (settled) return;
          if (!done()) return void m.listeners.push(listen);
          settled = true;
          clearTimeout(timer);
          res({ status: 200, body: { ok: true, state: m.state } });
        };
        m.listeners.push(listen);
      });
    }))
    .route("GET", `${V}/:app/secrets`, withApp((a) => ({ status: 200, body: { secrets: secretList(a) } })))
    .route("POST", `${V}/:app/secrets`, withApp((a, req) => {
      for (const [k, v] of Object.entries((req.body?.values ?? {}) as Record<string, string | null>)) {
        if (v === null) a.secrets.delete(k);
        else a.secrets.set(k, { digest: createHash("sha256").update(v).digest("hex").slice(0, 16), updated_at: new Date().toISOString() });
      }
      a.secretsVersion++;
      return { status: 200, body: { secrets: secretList(a), version: a.secretsVersion, Version: a.secretsVersion } };
    }))
    .route("POST", "/api/v1/releases", (req) => {
      const a = state.apps.get(req.body?.app_name);
      if (!options.releasesApi) return err(404, "Not Found");
      if (!a) return err(404, "app not found");
      const release = { id: `rel_${newId()}`, version: a.releases.length + 1, status: "pending", image_ref: req.body.image, strategy: req.body.strategy, definition: req.body.definition };
      a.releases.push(release);
      return { status: 201, body: { release } };
    })
    .route("GET", "/api/v1/apps/:app/logs", (req) => {
      const m = state.apps.get(req.params.app)?.machines.get(req.query.get("instance") ?? "");
      const data = (m?.logs ?? []).map((message, i) => ({ id: `${m!.id}-${i}`, attributes: { message, level: "info", instance: m!.id, region: m!.region } }));
      return { status: 200, body: { data, meta: { next_token: "" } } };
    })
    .route("PATCH", "/api/v1/releases/:id", (req) => {
      if (!options.releasesApi) return err(404, "Not Found");
      const release = [...state.apps.values()].flatMap((a) => a.releases).find((r) => r.id === req.params.id);
      if (!release) return err(404, "release not found");
      Object.assign(release, { status: req.body?.status, metadata: req.body?.metadata });
      return { status: 200, body: { release } };
    });

  function leaseView(l: FakeLease) {
    return { nonce: l.nonce, owner: l.owner, description: l.description, expires_at: Math.ceil(l.expiresAt / 1000), version: "" };
  }
  function secretList(a: FakeApp) {
    return [...a.secrets.entries()].map(([name, s]) => ({ name, digest: s.digest, created_at: s.updated_at, updated_at: s.updated_at }));
  }

  if (!fake.url) await fake.start();
  return {
    fake,
    state,
    options,
    get url() {
      return fake.url;
    },
    addApp,
    addMachine: (app, config, initial = "started") => addMachine(app, config, initial),
    holdLease,
    machines: (app) => live(state.apps.get(app)!),
    minRoutable(app, from = 0, to = Infinity) {
      const timeline = state.apps.get(app)!.timeline;
      // The count as it stood at `from`, then every change after it.
      const before = timeline.filter(([t]) => t <= from).at(-1);
      return Math.min(...[...(before ? [before] : []), ...timeline.filter(([t]) => t > from && t <= to)].map(([, n]) => n));
    },
    loseCreateAnswers(n) {
      lostCreateAnswers = n;
    },
    async stop() {
      for (const a of state.apps.values()) for (const m of a.machines.values()) for (const t of m.timers.splice(0)) clearTimeout(t);
      await fake.stop();
    },
  };
}
