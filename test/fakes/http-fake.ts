/**
 * A tiny routed HTTP server on 127.0.0.1 (random port) for API fakes, with a request log and fault injection.
 * Each fake (Fly Machines, MPG, Infisical, GitHub, …) registers its routes on one of these.
 */
import * as http from "http";
import { AddressInfo } from "net";

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  params: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  body: any;
}

export interface FakeResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (req: FakeRequest) => FakeResponse | Promise<FakeResponse>;

export interface Fault {
  /** Route pattern as registered, e.g. "POST /v1/apps/:app/machines/:id". */
  route: string;
  /** Which matching calls fail, 1-based; omit for every call. */
  nth?: number[];
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Drop the connection without answering. */
  reset?: boolean;
  /** Delay before answering (or failing), ms. */
  delayMs?: number;
}

export interface LoggedRequest {
  method: string;
  path: string;
  /** The query string's parameters. */
  query: URLSearchParams;
  route: string;
  status: number;
  body: any;
  headers: http.IncomingHttpHeaders;
}

interface Route {
  method: string;
  pattern: string;
  regex: RegExp;
  keys: string[];
  handler: Handler;
}

export class HttpFake {
  readonly log: LoggedRequest[] = [];
  private readonly routes: Route[] = [];
  private faults: Fault[] = [];
  private readonly counts = new Map<string, number>();
  private server?: http.Server;
  url = "";
  /** Value a request's Authorization header must have; undefined accepts anything. */
  requiredAuth?: string | ((header: string | undefined) => boolean);
  /** Header that carries a request id on every response. */
  requestIdHeader = "x-request-id";
  private nextRequestId = 1;

  route(method: string, pattern: string, handler: Handler): this {
    const keys: string[] = [];
    const regex = new RegExp(
      "^" + pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:([A-Za-z_]+)/g, (_m, k) => (keys.push(k), "([^/]+)")) + "$",
    );
    this.routes.push({ method, pattern, regex, keys, handler });
    return this;
  }

  /** Adds a fault; returns a function that removes it. */
  inject(fault: Fault): () => void {
    this.faults.push(fault);
    return () => (this.faults = this.faults.filter((f) => f !== fault));
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Calls so far that matched the route pattern (e.g. "POST /v1/apps/:app/machines"). */
  calls(route?: string): LoggedRequest[] {
    return route ? this.log.filter((l) => l.route === route) : this.log;
  }

  /** Calls that change something (anything but GET/HEAD), optionally excluding routes. */
  mutatingCalls(except: string[] = []): LoggedRequest[] {
    return this.log.filter((l) => l.method !== "GET" && l.method !== "HEAD" && !except.includes(l.route));
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let body: any = undefined;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const method = req.method ?? "GET";
    const match = this.match(method, url.pathname);
    const routeName = match ? `${method} ${match.route.pattern}` : `${method} ${url.pathname}`;
    const count = (this.counts.get(routeName) ?? 0) + 1;
    this.counts.set(routeName, count);
    const requestId = `req-${this.nextRequestId++}`;
    const send = (r: FakeResponse) => {
      this.log.push({ method, path: url.pathname, query: url.searchParams, route: routeName, status: r.status, body, headers: req.headers });
      res.writeHead(r.status, { "content-type": "application/json", [this.requestIdHeader]: requestId, ...(r.headers ?? {}) });
      res.end(r.body === undefined ? "" : typeof r.body === "string" ? r.body : JSON.stringify(r.body));
    };

    const fault = this.faults.find((f) => f.route === routeName && (!f.nth || f.nth.includes(count)));
    if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault?.reset) {
      this.log.push({ method, path: url.pathname, query: url.searchParams, route: routeName, status: 0, body, headers: req.headers });
      req.socket.destroy();
      return;
    }
    if (fault?.status) return send({ status: fault.status, body: fault.body ?? { error: `injected ${fault.status}` }, headers: fault.headers });

    if (this.requiredAuth !== undefined) {
      const header = req.headers.authorization;
      const ok = typeof this.requiredAuth === "function" ? this.requiredAuth(header) : header === this.requiredAuth;
      if (!ok) return send({ status: 401, body: { error: "unauthorized" } });
    }
    if (!match) return send({ status: 404, body: { error: `no route for ${method} ${url.pathname}` } });
    try {
      send(
        await match.route.handler({
          method,
          path: url.pathname,
          query: url.searchParams,
          params: match.params,
          headers: req.headers,
          body,
        }),
      );
    } catch (err) {
      send({ status: 500, body: { error: `fake crashed: ${(err as Error).message}` } });
    }
  }

  private match(method: string, pathname: string): { route: Route; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const m = route.regex.exec(pathname);
      if (!m) continue;
      const params: Record<string, string> = {};
      route.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1])));
      return { route, params };
    }
    return undefined;
  }
}
