/**
 * What one upstream attempt means for the request, with the JSON-RPC error Lasso would return
 * if it is the last one (Lasso.Core.Support.ErrorNormalizer and RequestPipeline's
 * owner_terminal_error/2, main branch, version 0.2.0).
 */
import { isObject, isRpcErrorObject, parseJson, type JsonObject, type JsonValue, type RpcErrorObject } from "./jsonrpc.js";
import { classifyRpcError, type AttemptOutcome } from "./upstream.js";

export type Verdict =
  | { kind: "success"; result: JsonValue }
  /** A non-retriable JSON-RPC error from a working provider: returned as is, no failover. */
  | { kind: "final_error"; error: RpcErrorObject }
  | { kind: "retriable"; error: RpcErrorObject; breakerPenalty: boolean; timeout: boolean };

export function judgeAttempt(outcome: AttemptOutcome): Verdict {
  if (outcome.kind === "response") {
    const r = outcome.response;
    if ("result" in r) return { kind: "success", result: r.result };
    const cls = classifyRpcError(r.error);
    if (!cls.retriable) return { kind: "final_error", error: r.error };
    return { kind: "retriable", error: r.error, breakerPenalty: cls.breakerPenalty, timeout: false };
  }
  const retriable = (error: RpcErrorObject, breakerPenalty = true, timeout = false): Verdict => ({ kind: "retriable", error, breakerPenalty, timeout });
  switch (outcome.failure) {
    case "http":
      return httpStatusError(outcome.status ?? 0, outcome.body ?? "");
    case "network":
      // Elixir's inspect/1 of the reason string keeps its quotes.
      return retriable({ code: -32004, message: `Network error: ${JSON.stringify(outcome.detail)}` });
    case "timeout":
      return retriable({ code: -32007, message: "Request timeout" }, true, true);
    case "malformed":
      return retriable({ code: -32000, message: "Invalid upstream response" });
    case "ws_not_connected":
      // The pipeline treats this as never dispatched before judging; the error is Lasso's normalisation.
      return retriable({ code: -32000, message: "WebSocket not connected" }, false);
    case "ws_closed":
      return retriable({ code: -32004, message: "WebSocket connection closed" });
  }
}

/** Finch's status mapping: 429 rate limit (no breaker penalty), 408/5xx server error, other 4xx client error. */
function httpStatusError(status: number, body: string): Verdict {
  const data: JsonObject = { status, body };
  if (status === 429) return { kind: "retriable", error: { code: -32005, message: "Rate limited by provider", data }, breakerPenalty: false, timeout: false };
  const nested = nestedRpcError(body);
  if (status === 408 || status >= 500) {
    const error = nested ? { code: nested.code, message: nested.message, data } : { code: -32002, message: "Server error", data };
    return { kind: "retriable", error, breakerPenalty: true, timeout: false };
  }
  if (nested) {
    const error: RpcErrorObject = { code: nested.code, message: nested.message, data: { status } };
    const cls = classifyRpcError(error);
    return cls.retriable ? { kind: "retriable", error, breakerPenalty: cls.breakerPenalty, timeout: false } : { kind: "final_error", error };
  }
  return { kind: "retriable", error: { code: -32002, message: `Provider infrastructure error (HTTP ${status})`, data }, breakerPenalty: true, timeout: false };
}

function nestedRpcError(body: string): RpcErrorObject | null {
  const parsed = parseJson(body);
  if (!parsed.ok || !isObject(parsed.value)) return null;
  const e = parsed.value["error"];
  return isRpcErrorObject(e) && Number.isInteger(e.code) ? { code: e.code, message: e.message } : null;
}
