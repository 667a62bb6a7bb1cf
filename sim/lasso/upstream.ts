/** HTTP JSON-RPC calls to upstream providers (undici keep-alive agent) and error classification. */
import { Agent, request } from "undici";
import { parseJson, toRpcResponse, type JsonValue, type RpcErrorObject, type RpcResponse } from "./jsonrpc.js";

/** ws_not_connected / ws_closed: the provider's upstream WebSocket channel was down or dropped. */
export type FailureKind = "http" | "network" | "timeout" | "malformed" | "ws_not_connected" | "ws_closed";

export type AttemptOutcome =
  | { kind: "response"; response: RpcResponse; latencyMs: number }
  | { kind: "failure"; failure: FailureKind; status?: number; body?: string; detail: string; latencyMs: number };

export class UpstreamClient {
  private readonly agent = new Agent({
    keepAliveTimeout: 10_000,
    keepAliveMaxTimeout: 30_000,
    connections: 128,
    connect: { timeout: 5_000 },
  });
  private nextId = 1;

  /** Sends one JSON-RPC request; never throws. The upstream sees a sim-chosen id. */
  async call(url: string, method: string, params: JsonValue[], timeoutMs: number): Promise<AttemptOutcome> {
    const body = JSON.stringify({ jsonrpc: "2.0", id: this.nextId++, method, params });
    const t0 = performance.now();
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), Math.max(1, timeoutMs));
    const elapsed = (): number => performance.now() - t0;
    try {
      const res = await request(url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body,
        dispatcher: this.agent,
        signal: ac.signal,
      });
      const text = await res.body.text();
      const status = res.statusCode;
      if (status === 429 || status >= 500) {
        return { kind: "failure", failure: "http", status, body: text, detail: `HTTP ${status}`, latencyMs: elapsed() };
      }
      const parsed = parseJson(text);
      const rpc = parsed.ok ? toRpcResponse(parsed.value) : null;
      if (!rpc) {
        if (status < 200 || status >= 300) {
          return { kind: "failure", failure: "http", status, body: text, detail: `HTTP ${status}`, latencyMs: elapsed() };
        }
        return { kind: "failure", failure: "malformed", status, detail: "malformed JSON-RPC response", latencyMs: elapsed() };
      }
      return { kind: "response", response: rpc, latencyMs: elapsed() };
    } catch (err) {
      if (ac.signal.aborted) {
        return { kind: "failure", failure: "timeout", detail: `no answer within ${Math.round(timeoutMs)} ms`, latencyMs: elapsed() };
      }
      return { kind: "failure", failure: "network", detail: networkMessage(err), latencyMs: elapsed() };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.agent.destroy().catch(() => undefined);
  }
}

/** Finch's transport messages (`Lasso.RPC.Transport.HTTP.Adapters.Finch.transport_message/1`). */
function networkMessage(err: unknown): string {
  const code = (err as { code?: unknown; cause?: { code?: unknown } } | null)?.code ?? (err as { cause?: { code?: unknown } } | null)?.cause?.code;
  if (code === "ECONNREFUSED") return "Connection refused";
  if (code === "ENOTFOUND") return "DNS resolution failed";
  return "Connection closed";
}

const RATE_LIMIT = ["rate limit", "too many requests", "throttled", "quota exceeded", "capacity exceeded", "requests per second"];
const AUTH = ["unauthorized", "authentication", "api key", "forbidden", "access denied", "permission denied"];
const CAPABILITY = ["block range too large", "range too large", "max block range", "archive node required", "result set too large", "query returned more than", "too many results", "limit exceeded for this method"];

export interface ErrorClass {
  retriable: boolean;
  /** Whether the error counts against the provider's circuit breaker. */
  breakerPenalty: boolean;
}

/**
 * Classification of an upstream JSON-RPC error object, after Lasso's
 * `Lasso.RPC.ErrorClassification`: message patterns first (rate limit, auth, capability
 * violations are retriable; capability violations do not penalise the breaker), then codes
 * (-32600/-32601/-32602 and EIP-1193 4001/4100 are client errors: returned as-is;
 * -32700, -32603, -32005, the -32000..-32099 server range, 4901 are retriable).
 */
export function classifyRpcError(err: RpcErrorObject): ErrorClass {
  const m = err.message.toLowerCase();
  if (RATE_LIMIT.some((p) => m.includes(p)) || AUTH.some((p) => m.includes(p))) return { retriable: true, breakerPenalty: true };
  if (CAPABILITY.some((p) => m.includes(p))) return { retriable: true, breakerPenalty: false };
  const c = err.code;
  if (c === -32600 || c === -32601 || c === -32602 || c === 4001 || c === 4100) return { retriable: false, breakerPenalty: false };
  if (c === -32700 || c === -32603 || c === -32005 || c === 4901) return { retriable: true, breakerPenalty: true };
  if (c >= -32099 && c <= -32000) return { retriable: true, breakerPenalty: true };
  if (c === 429 || c >= 500) return { retriable: true, breakerPenalty: true };
  return { retriable: false, breakerPenalty: false };
}
