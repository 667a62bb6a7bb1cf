/**
 * A provider's upstream WebSocket channel for unary JSON-RPC requests, like Lasso's
 * per-instance WS connection: opened when the sim starts, reconnected after a close, requests
 * correlated by id. A request while the socket is down fails at once ("not connected").
 */
import WebSocket from "ws";
import { isObject, parseJson, toRpcResponse, type JsonValue } from "./jsonrpc.js";
import type { AttemptOutcome } from "./upstream.js";

const RECONNECT_MS = 500;
const HANDSHAKE_TIMEOUT_MS = 5_000;

interface Pending {
  resolve: (o: AttemptOutcome) => void;
  timer: NodeJS.Timeout;
  t0: number;
}

export class UpstreamWsChannel {
  private ws: WebSocket | null = null;
  private open = false;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(readonly url: string) {}

  start(): void {
    this.connect();
  }

  connected(): boolean {
    return this.open;
  }

  /** Sends one request; never throws. */
  call(method: string, params: JsonValue[], timeoutMs: number): Promise<AttemptOutcome> {
    const ws = this.ws;
    if (!ws || !this.open) {
      return Promise.resolve({ kind: "failure", failure: "ws_not_connected", detail: "WebSocket not connected", latencyMs: 0 });
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      const t0 = performance.now();
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ kind: "failure", failure: "timeout", detail: `no answer within ${Math.round(timeoutMs)} ms`, latencyMs: performance.now() - t0 });
      }, Math.max(1, timeoutMs));
      this.pending.set(id, { resolve, timer, t0 });
      ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.dropped();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.removeAllListeners();
      ws.on("error", () => undefined);
      ws.terminate();
    }
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.url, { handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
    this.ws = ws;
    ws.on("open", () => {
      this.open = true;
    });
    ws.on("message", (data: WebSocket.RawData) => this.onFrame(rawToString(data)));
    // A frame that is not JSON cannot be matched to a request: Lasso drops it, the request times out.
    ws.on("close", () => this.onClose(ws));
    ws.on("error", () => this.onClose(ws));
  }

  private onFrame(text: string): void {
    const parsed = parseJson(text);
    if (!parsed.ok || !isObject(parsed.value)) return;
    const id = parsed.value["id"];
    if (typeof id !== "number") return; // subscription notifications are not ours
    const p = this.pending.get(id);
    const rpc = toRpcResponse(parsed.value);
    if (!p || !rpc) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve({ kind: "response", response: rpc, latencyMs: performance.now() - p.t0 });
  }

  private onClose(ws: WebSocket): void {
    if (ws !== this.ws) return;
    this.ws = null;
    this.open = false;
    ws.removeAllListeners();
    ws.on("error", () => undefined);
    ws.terminate();
    this.dropped();
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, RECONNECT_MS);
    this.reconnectTimer.unref();
  }

  private dropped(): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve({ kind: "failure", failure: "ws_closed", detail: "WebSocket connection closed", latencyMs: performance.now() - p.t0 });
      this.pending.delete(id);
    }
  }
}

export function rawToString(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data).toString("utf8");
}
