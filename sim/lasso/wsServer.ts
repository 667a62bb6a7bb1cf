/**
 * Client-facing raw JSON-RPC WebSocket endpoint (`/ws/rpc/...`): subscriptions through the
 * shared SubscriptionManager, other requests forwarded over HTTP through the normal pipeline,
 * `"lasso_meta":"notify"` frames, per-connection limits and server pings.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import WebSocket, { WebSocketServer } from "ws";
import { isObject, isRpcId, parseJson, rpcError, rpcResult, toHex, type JsonValue, type RpcId, type RpcResponse } from "./jsonrpc.js";
import { buildMeta, finishContext, newContext } from "./meta.js";
import { authorized, UNAUTHORIZED_BODY } from "./frontDoor.js";
import { WS_FORWARD_TIMEOUT_MS, type Pipeline } from "./pipeline.js";
import type { ProviderPool } from "./providerPool.js";
import { resolveRoute, type ResolvedRoute } from "./resolve.js";
import { DEFAULT_STRATEGY, parseWsRpcPath } from "./routes.js";
import { pinnedSubscribeRefusal, type StreamKind, type SubscriptionManager } from "./subscriptions.js";
import type { Defects } from "./types.js";
import { rawToString } from "./upstreamWs.js";

export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 128;
export const MAX_IN_FLIGHT_PER_CONNECTION = 32;
const MAX_FRAME_BYTES = 8 * 1024 * 1024;

export interface WsDeps {
  pool: ProviderPool;
  pipeline: Pipeline;
  subs: SubscriptionManager;
  defects: () => Defects;
  pingIntervalMs: number;
  requireHeaders: Record<string, string> | undefined;
}

export class ClientWsServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  private readonly conns = new Set<ClientConnection>();

  constructor(private readonly deps: WsDeps) {}

  /** http.Server 'upgrade' handler. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (!authorized(this.deps.requireHeaders, req.headers)) {
      rejectUpgrade(socket, 401, UNAUTHORIZED_BODY);
      return;
    }
    const spec = parseWsRpcPath(url.pathname);
    if (!spec) {
      rejectUpgrade(socket, 404, JSON.stringify({ errors: { detail: "Not Found" } }));
      return;
    }
    const res = resolveRoute(this.deps.pool, spec);
    if (!res.ok) {
      // Phoenix answers a socket whose connect/1 returns :error with 403 and an empty body.
      rejectUpgrade(socket, 403, "");
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new ClientConnection(ws, res.route, this.deps, () => this.conns.delete(conn));
      this.conns.add(conn);
    });
  }

  connectionCount(): number {
    return this.conns.size;
  }

  stop(): void {
    for (const c of this.conns) c.terminate();
    this.conns.clear();
    this.wss.close();
  }
}

const REASONS: Record<number, string> = { 401: "Unauthorized", 403: "Forbidden", 404: "Not Found" };

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  const type = text === "" ? "" : "Content-Type: application/json; charset=utf-8\r\n";
  socket.end(`HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}\r\n${type}Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
}

class ClientConnection {
  private readonly subs = new Set<string>();
  private inFlight = 0;
  private missedPongs = 0;
  private awaitingPong = false;
  private readonly pingTimer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly route: ResolvedRoute,
    private readonly deps: WsDeps,
    private readonly onClosed: () => void,
  ) {
    this.pingTimer = setInterval(() => this.heartbeat(), deps.pingIntervalMs);
    this.pingTimer.unref();
    ws.on("pong", () => {
      this.awaitingPong = false;
      this.missedPongs = 0;
    });
    ws.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
      if (isBinary) return; // Lasso ignores non-text frames
      void this.onText(rawToString(data));
    });
    ws.on("close", () => this.cleanup());
    ws.on("error", () => this.cleanup());
  }

  terminate(): void {
    this.cleanup();
    this.ws.terminate();
  }

  private heartbeat(): void {
    if (this.awaitingPong) {
      this.missedPongs += 1;
      if (this.missedPongs >= 2) {
        this.ws.close(1002, "Heartbeat timeout - no pong responses");
        const t = setTimeout(() => this.ws.terminate(), 1000);
        t.unref();
        this.cleanup();
        return;
      }
    }
    this.awaitingPong = true;
    try {
      this.ws.ping();
    } catch {
      // socket closing
    }
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    for (const id of this.subs) this.deps.subs.unsubscribe(id);
    this.subs.clear();
    this.onClosed();
  }

  private send(v: JsonValue | RpcResponse): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(v));
  }

  private async onText(text: string): Promise<void> {
    const startedAt = performance.now();
    const parsed = parseJson(text);
    if (!parsed.ok) {
      this.send(rpcError(null, -32700, "Parse error"));
      return;
    }
    const msg = parsed.value;
    if (Array.isArray(msg)) {
      this.send(rpcError(null, -32600, "Invalid Request: batch requests are not supported over WebSocket"));
      return;
    }
    if (!isObject(msg) || msg["jsonrpc"] !== "2.0") {
      const id = isObject(msg) && isRpcId(msg["id"]) ? msg["id"] : null;
      this.send(rpcError(id, -32600, "Invalid Request: missing jsonrpc field"));
      return;
    }
    const id = msg["id"];
    if (typeof msg["method"] !== "string" || !("id" in msg) || !isRpcId(id)) {
      this.send(rpcError(isRpcId(id) ? id : null, -32600, "Invalid Request: missing required fields"));
      return;
    }
    const method = msg["method"];
    const p = msg["params"];
    const params: JsonValue[] = p === undefined || p === null ? [] : Array.isArray(p) ? p : [p];
    const notify = typeof msg["lasso_meta"] === "string" && msg["lasso_meta"].toLowerCase() === "notify";

    if (this.inFlight >= MAX_IN_FLIGHT_PER_CONNECTION) {
      this.send(rpcError(id, -32008, `Too many in-flight requests (limit ${MAX_IN_FLIGHT_PER_CONNECTION} per connection)`));
      return;
    }
    this.inFlight += 1;
    try {
      await this.handle(id, method, params, notify, startedAt);
    } finally {
      this.inFlight -= 1;
    }
  }

  private async handle(id: RpcId, method: string, params: JsonValue[], notify: boolean, startedAt: number): Promise<void> {
    const { chain, pinned } = this.route;
    const strategy = this.route.strategy ?? DEFAULT_STRATEGY;
    const localOk = (result: JsonValue): void => {
      this.send(rpcResult(id, result));
      if (notify) {
        const ctx = newContext(chain.chainId, strategy, "ws", startedAt);
        finishContext(ctx);
        this.send({ jsonrpc: "2.0", method: "lasso_meta", params: buildMeta(ctx) });
      }
    };

    if (method === "eth_subscribe") {
      const type = params[0];
      let kind: StreamKind | null = null;
      if (type === "newHeads") kind = { type: "newHeads" };
      else if (type === "logs") {
        const f = params[1];
        if (f === undefined || f === null) kind = { type: "logs", filter: {} };
        else if (isObject(f)) kind = { type: "logs", filter: f };
        else {
          this.send(rpcError(id, -32602, "Invalid logs filter"));
          return;
        }
      }
      if (!kind) {
        this.send(rpcError(id, -32602, `Unsupported subscription type: ${typeof type === "string" ? type : JSON.stringify(type ?? null)}`));
        return;
      }
      const refusal = pinned ? pinnedSubscribeRefusal(chain, pinned, kind) : null;
      if (refusal) {
        this.send(rpcError(id, refusal.code, refusal.message, refusal.data));
        return;
      }
      if (this.subs.size >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
        this.send(rpcError(id, -32008, `Subscription limit reached (${MAX_SUBSCRIPTIONS_PER_CONNECTION} per connection)`));
        return;
      }
      let subId = "";
      subId = this.deps.subs.subscribe(chain, kind, pinned, (result) => {
        this.send({ jsonrpc: "2.0", method: "eth_subscription", params: { subscription: subId, result } });
      });
      this.subs.add(subId);
      localOk(subId);
      return;
    }
    if (method === "eth_unsubscribe") {
      const sid = params[0];
      if (typeof sid === "string" && this.subs.has(sid)) {
        this.subs.delete(sid);
        localOk(this.deps.subs.unsubscribe(sid));
      } else {
        localOk(false);
      }
      return;
    }
    if (method === "eth_chainId") {
      // Lasso's socket answers eth_chainId from config, pinned or not.
      localOk(toHex(chain.chainId));
      return;
    }
    const r = await this.deps.pipeline.execute({
      chain,
      method,
      params,
      strategy: this.route.strategy,
      pinned,
      clientTransport: "ws",
      forcedTransport: null,
      timeoutMs: WS_FORWARD_TIMEOUT_MS,
      startedAt,
      defects: this.deps.defects(),
    });
    if (!r.ok) {
      this.send(rpcError(id, r.error.code, r.error.message, r.error.data));
      return;
    }
    this.send(rpcResult(id, r.result));
    if (notify) this.send({ jsonrpc: "2.0", method: "lasso_meta", params: buildMeta(r.ctx) });
  }
}
