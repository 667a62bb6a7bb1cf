/** HTTP request handling: JSON-RPC routes, /api endpoints and the sim's /_sim control API. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { chains, health, metrics, type ApiDeps } from "./api.js";
import { parseDefectsPatch, type DefectState } from "./defects.js";
import { authorized, MAX_BODY_BYTES, UNAUTHORIZED_BODY, type ByteBudget } from "./frontDoor.js";
import { parseJson, rpcError, toRpcRequest, type JsonValue, type RpcId, type RpcResponse } from "./jsonrpc.js";
import { buildMeta, encodeMetaHeader, parseIncludeMeta, type IncludeMeta, type RequestContext } from "./meta.js";
import { WS_ONLY_METHODS, type Pipeline } from "./pipeline.js";
import type { ProviderPool, Transport } from "./providerPool.js";
import { resolveRoute, type ResolvedRoute } from "./resolve.js";
import { parseHttpRpcPath } from "./routes.js";
import type { SubscriptionManager } from "./subscriptions.js";

export const MAX_BATCH = 50;

export interface HttpDeps {
  pool: ProviderPool;
  pipeline: Pipeline;
  defects: DefectState;
  subs: SubscriptionManager;
  api: ApiDeps;
  budget: ByteBudget;
  requireHeaders: Record<string, string> | undefined;
}

/** One JSON-RPC POST as routed: where it goes and which channel the client forced. */
interface RpcTarget {
  route: ResolvedRoute;
  forcedTransport: Transport | null;
  wsPath: string;
  startedAt: number;
}

export class HttpHandler {
  inFlight = 0;

  constructor(private readonly deps: HttpDeps) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    const startedAt = performance.now();
    this.inFlight += 1;
    res.once("close", () => {
      this.inFlight -= 1;
    });
    this.route(req, res, startedAt).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, rpcError(null, -32603, `Internal error: ${err instanceof Error ? err.message : String(err)}`));
      else res.destroy();
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse, startedAt: number): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname;
    if (!path.startsWith("/_sim/") && !authorized(this.deps.requireHeaders, req.headers)) {
      await drain(req);
      sendText(res, 401, UNAUTHORIZED_BODY);
      return;
    }
    if (path.startsWith("/rpc/") && req.method === "POST") return this.rpc(req, res, url, startedAt);
    if (path.startsWith("/api/") && req.method === "GET") return this.apiRoute(req, res, path);
    if (path === "/_sim/defects") return this.simDefects(req, res);
    if (path === "/_sim/status" && req.method === "GET") return this.simStatus(res);
    await drain(req);
    sendJson(res, 404, { errors: { detail: "Not Found" } });
  }

  private async apiRoute(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    await drain(req);
    // Phoenix `accepts ["json"]`: a client that accepts neither JSON nor */* gets 406.
    const accept = req.headers["accept"];
    if (accept && !/application\/json|application\/\*|\*\/\*/.test(accept)) {
      sendJson(res, 406, { errors: { detail: "Not Acceptable" } });
      return;
    }
    const a = this.deps.api;
    const m = /^\/api\/metrics\/([^/]+)\/?$/.exec(path);
    const r =
      path === "/api/health" ? health(a) : path === "/api/chains" ? chains(a) : m && m[1] ? metrics(a, safeDecode(m[1])) : null;
    if (!r) sendJson(res, 404, { errors: { detail: "Not Found" } });
    else sendJson(res, r.status, r.body);
  }

  private async simDefects(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === "GET") {
      await drain(req);
      sendJson(res, 200, { ...this.deps.defects.get() });
      return;
    }
    if (req.method !== "PUT" && req.method !== "POST") {
      await drain(req);
      sendJson(res, 405, { error: "use GET or PUT" });
      return;
    }
    const body = await readBody(req, 64 * 1024);
    const parsed = body.tooLarge ? null : parseJson(body.text);
    if (!parsed || !parsed.ok) {
      sendJson(res, 400, { error: "body must be JSON" });
      return;
    }
    const patch = parseDefectsPatch(parsed.value);
    if (!patch.ok) {
      sendJson(res, 400, { error: patch.error });
      return;
    }
    this.deps.defects.set(patch.patch);
    sendJson(res, 200, { ...this.deps.defects.get() });
  }

  private simStatus(res: ServerResponse): void {
    const chainsOut: JsonValue[] = this.deps.pool.allChains().map((c) => ({
      profile: c.profile.slug,
      chain: c.name,
      consensus_head: c.consensusHead(),
      providers: c.providers.map((p) => ({
        id: p.id,
        priority: p.priority,
        head: p.instance.head,
        lag: c.lagOf(p),
        lagging: c.isLagging(p),
        poll_ok: p.instance.pollOk,
        circuit: p.breaker("http").state(),
        ws_circuit: p.hasWs ? p.breaker("ws").state() : null,
        ws_connected: p.instance.ws?.connected() ?? null,
        latency_ewma_ms: p.instance.latencyEwmaMs.http,
      })),
    }));
    const streams: JsonValue[] = this.deps.subs.status().map((s) => ({ ...s }));
    sendJson(res, 200, { chains: chainsOut, streams });
  }

  private async rpc(req: IncomingMessage, res: ServerResponse, url: URL, startedAt: number): Promise<void> {
    const admission = this.deps.budget.admit(req.headers["content-length"]);
    if (!admission.ok) {
      await drain(req);
      if (admission.reason === "too_large") sendJson(res, 413, tooLarge());
      else sendJson(res, 503, rpcError(null, -32008, "Local request byte capacity unavailable"));
      return;
    }
    res.once("close", admission.release);
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body.tooLarge) {
      sendJson(res, 413, tooLarge());
      return;
    }
    const parsed = parseJson(body.text);
    if (!parsed.ok) {
      sendJson(res, 400, rpcError(null, -32700, "Parse error: Invalid JSON"));
      return;
    }
    const spec = parseHttpRpcPath(url.pathname);
    if (!spec) {
      sendJson(res, 404, { errors: { detail: "Not Found" } });
      return;
    }
    const resolved = resolveRoute(this.deps.pool, spec);
    if (!resolved.ok) {
      sendJson(res, resolved.status, resolved.body);
      return;
    }
    const mode = parseIncludeMeta(url.searchParams.get("include_meta"), firstHeader(req.headers["x-lasso-include-meta"]));
    const target: RpcTarget = {
      route: resolved.route,
      forcedTransport: parseTransport(url.searchParams.get("transport")) ?? parseTransport(firstHeader(req.headers["x-lasso-transport"])),
      wsPath: "/ws" + url.pathname,
      startedAt,
    };
    const value = parsed.value;
    if (Array.isArray(value)) {
      await this.batch(res, target, value, mode);
      return;
    }
    const one = await this.single(target, value);
    const headers = mode === "headers" && one.ctx ? metaHeaders(one.ctx) : {};
    if (one.response === null) {
      sendEmpty(res, 204, headers);
      return;
    }
    const out = mode === "body" && one.ctx ? { ...one.response, lasso_meta: buildMeta(one.ctx) } : one.response;
    sendJson(res, 200, out, headers);
  }

  private async batch(res: ServerResponse, target: RpcTarget, items: JsonValue[], mode: IncludeMeta): Promise<void> {
    if (items.length === 0) {
      sendJson(res, 200, rpcError(null, -32600, "Invalid Request"));
      return;
    }
    if (items.length > MAX_BATCH) {
      sendJson(res, 200, rpcError(null, -32600, "Invalid Request: batch too large"));
      return;
    }
    const results = await Promise.all(items.map((it) => this.single(target, it)));
    const firstCtx = results.find((r) => r.ctx)?.ctx;
    const headers = mode === "headers" && firstCtx ? metaHeaders(firstCtx) : {};
    const responses = results.map((r) => r.response).filter((r): r is RpcResponse => r !== null);
    if (responses.length === 0) {
      sendEmpty(res, 204, headers);
      return;
    }
    sendJson(res, 200, responses, headers);
  }

  /** One request object -> its response (null for a notification) and its routing context. */
  private async single(target: RpcTarget, value: JsonValue): Promise<{ response: RpcResponse | null; ctx: RequestContext | null }> {
    const { route, wsPath } = target;
    const v = toRpcRequest(value);
    if (!v.ok) return { response: rpcError(v.id, v.error.code, v.error.message), ctx: null };
    const req = v.req;
    const id: RpcId = req.id ?? null;
    const respond = (r: RpcResponse): RpcResponse | null => (req.hasId ? r : null);
    if (WS_ONLY_METHODS.has(req.method)) {
      return {
        response: respond(rpcError(id, -32601, "Method not supported over HTTP. Use WebSocket connection for subscriptions.", { websocket_url: wsPath })),
        ctx: null,
      };
    }
    const r = await this.deps.pipeline.execute({
      chain: route.chain,
      method: req.method,
      params: req.params,
      strategy: route.strategy,
      pinned: route.pinned,
      clientTransport: "http",
      forcedTransport: target.forcedTransport,
      startedAt: target.startedAt,
      defects: this.deps.defects.get(),
    });
    const response = r.ok ? respond({ jsonrpc: "2.0", id, result: r.result }) : respond(rpcError(id, r.error.code, r.error.message, r.error.data));
    return { response, ctx: r.ctx };
  }
}

function metaHeaders(ctx: RequestContext): Record<string, string> {
  const h: Record<string, string> = { "x-lasso-request-id": ctx.requestId };
  const enc = encodeMetaHeader(buildMeta(ctx));
  if (enc !== null) h["x-lasso-meta"] = enc;
  return h;
}

/** `body` is a JSON-serialisable value built by this module. */
function sendJson(res: ServerResponse, status: number, body: JsonValue | RpcResponse | RpcResponse[] | object, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function tooLarge(): RpcResponse {
  return rpcError(null, -32600, "Invalid Request: request body too large");
}

/** Lasso's controller accepts exactly "http" or "ws". */
function parseTransport(v: string | null | undefined): Transport | null {
  return v === "http" || v === "ws" ? v : null;
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string>): void {
  res.writeHead(status, headers);
  res.end();
}

/** Reads the body up to `limit` bytes; beyond that the rest is drained and discarded. */
function readBody(req: IncomingMessage, limit: number): Promise<{ text: string; tooLarge: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
      } else if (!tooLarge) chunks.push(c);
    });
    req.on("end", () => resolve({ text: tooLarge ? "" : Buffer.concat(chunks).toString("utf8"), tooLarge }));
    req.on("error", reject);
  });
}

function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    if (req.readableEnded) {
      resolve();
      return;
    }
    req.on("end", () => resolve());
    req.on("error", () => resolve());
    req.resume();
  });
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
