/**
 * The proxy process's control API, on loopback only, behind a bearer token:
 *
 *   GET    /healthz                                       liveness (no token)
 *   GET    /v1/proxies                                    ProxyInfo[]
 *   PUT    /v1/proxies/:chain/:provider/fault             {fault, leaseMs, until} -> {expiresAt}
 *   DELETE /v1/proxies/:chain/:provider/fault             204
 *   GET    /v1/proxies/:chain/:provider/traffic?since=ms  TrafficBucket[]
 *
 * A fault is a lease: it ends at min(now + leaseMs, until) unless the same PUT comes again
 * before then, so a caller that dies or stalls ends it within one lease, and no renewal
 * carries it past `until` (the window's planned end).
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { z } from "zod";
import type { FaultProxy } from "../chaos/faultProxy.js";
import { MAX_LEASE_MS, type ProxyInfo } from "../chaos/control.js";
import { faultSchema } from "../chaos/faults.js";
import { checkAdmin } from "../server/adminAuth.js";
import { isLoopbackAddress } from "./loopback.js";

/** How far ahead `until` may be: a window never lasts longer than the proxy's own cap. */
export const MAX_UNTIL_AHEAD_MS = 600_000;
const MAX_BODY_BYTES = 64 * 1024;

export interface ControlledProxy {
  chain: string;
  provider: string;
  proxy: FaultProxy;
  /** Advertised URLs (what the canary profile names). */
  httpUrl: string;
  wsUrl: string | null;
}

const leaseBodySchema = z.strictObject({
  fault: faultSchema,
  leaseMs: z
    .number({ error: "leaseMs must be a number of milliseconds" })
    .int({ error: "leaseMs must be a whole number of milliseconds" })
    .min(1, { error: "leaseMs must be > 0" })
    .max(MAX_LEASE_MS, { error: `leaseMs must be at most ${MAX_LEASE_MS} (renew the lease more often instead)` }),
  until: z.number({ error: "until must be a wall-clock time in ms (the window's planned end)" }).int({ error: "until must be a whole number of ms" }),
});

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function createControlServer(opts: { token: string; proxies: readonly ControlledProxy[] }): http.Server {
  const byKey = new Map(opts.proxies.map((p) => [`${p.chain}/${p.provider}`, p]));
  const info = (p: ControlledProxy): ProxyInfo => {
    const active = p.proxy.currentFault();
    return { chain: p.chain, provider: p.provider, httpUrl: p.httpUrl, wsUrl: p.wsUrl, fault: active?.fault ?? null, expiresAt: active?.expiresAt ?? null };
  };
  const find = (chain: string, provider: string): ControlledProxy => {
    const p = byKey.get(`${chain}/${provider}`);
    if (p === undefined) throw new HttpError(404, `no proxy for chain ${JSON.stringify(chain)} provider ${JSON.stringify(provider)}: GET /v1/proxies lists them`);
    return p;
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!isLoopbackAddress(req.socket.remoteAddress)) throw new HttpError(403, "the control API answers loopback callers only");
    const url = new URL(req.url ?? "/", "http://control.invalid");
    const method = req.method ?? "GET";
    if (url.pathname === "/healthz") {
      if (method !== "GET" && method !== "HEAD") throw new HttpError(405, "GET /healthz");
      return json(res, 200, { status: "ok", proxies: byKey.size });
    }
    const auth = checkAdmin(opts.token, req.headers.authorization);
    if (!auth.ok) {
      res.setHeader("www-authenticate", 'Bearer realm="lasso-canary proxy"');
      throw new HttpError(auth.status, auth.error.replace("adminToken", "control.token"));
    }
    if (url.pathname === "/v1/proxies") {
      if (method !== "GET") throw new HttpError(405, "GET /v1/proxies");
      return json(res, 200, opts.proxies.map(info));
    }
    const m = /^\/v1\/proxies\/([^/]+)\/([^/]+)\/(fault|traffic)$/.exec(url.pathname);
    if (m === null) throw new HttpError(404, "unknown path: see GET /v1/proxies");
    const proxy = find(decode(m[1] ?? ""), decode(m[2] ?? ""));
    if (m[3] === "traffic") {
      if (method !== "GET") throw new HttpError(405, "GET .../traffic?since=<ms>");
      const sinceText = url.searchParams.get("since");
      const since = sinceText === null ? Date.now() - 3_600_000 : Number(sinceText);
      if (!Number.isSafeInteger(since) || since < 0) throw new HttpError(400, "since must be a wall-clock time in ms (a whole number >= 0)");
      return json(res, 200, proxy.proxy.traffic(since));
    }
    if (method === "DELETE") {
      proxy.proxy.clearFault();
      res.writeHead(204).end();
      return;
    }
    if (method !== "PUT") throw new HttpError(405, "PUT or DELETE .../fault");
    const body = leaseBodySchema.safeParse(await readJson(req));
    if (!body.success) throw new HttpError(400, body.error.issues.map((i) => (i.path.length > 0 ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; "));
    const { fault, leaseMs, until } = body.data;
    const now = Date.now();
    if (until <= now) throw new HttpError(400, `until (${until}) has passed (now ${now}): the window is over, the fault is not set`);
    if (until > now + MAX_UNTIL_AHEAD_MS) throw new HttpError(400, `until is more than ${MAX_UNTIL_AHEAD_MS} ms ahead: a window lasts at most 10 minutes`);
    const expiresAt = Math.min(now + leaseMs, until);
    // `until` is absolute: the clock caps the end at it even when its own Date.now() is a ms later.
    return json(res, 200, proxy.proxy.leaseFault(fault, expiresAt - now, until));
  };

  return http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof HttpError ? err.message : "internal error";
      if (!res.headersSent) json(res, status, { error: message });
      else res.destroy();
    });
  });
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, "malformed percent-encoding in the path");
  }
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(buf);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  } catch {
    throw new HttpError(400, "body must be JSON: {fault, leaseMs, until}");
  }
}
