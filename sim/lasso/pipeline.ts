/**
 * Executes one JSON-RPC request against a chain: local answers, selection, attempts with
 * failover inside a per-method deadline, circuit-breaker bookkeeping and routing metadata.
 */
import { toHex, type JsonValue, type RpcErrorObject } from "./jsonrpc.js";
import { finishContext, newContext, type RequestContext } from "./meta.js";
import type { ChainRuntime, ProviderRuntime } from "./providerPool.js";
import { DEFAULT_STRATEGY, type Strategy } from "./routes.js";
import { selectCandidates } from "./selection.js";
import type { Defects } from "./types.js";
import { classifyRpcError, type AttemptOutcome, type UpstreamClient } from "./upstream.js";

/** Methods Lasso refuses over HTTP and WS (`MethodConstraints.disallowed?/1`). */
export const DISALLOWED_METHODS = new Set([
  "eth_sendRawTransaction",
  "eth_sendTransaction",
  "personal_sign",
  "eth_sign",
  "eth_signTransaction",
  "eth_signTypedData",
  "eth_signTypedData_v4",
  "eth_accounts",
  "txpool_content",
  "txpool_inspect",
  "txpool_status",
]);

export const WS_ONLY_METHODS = new Set(["eth_subscribe", "eth_unsubscribe"]);

const MAX_ATTEMPTS = 3;
const FAST_METHODS = new Set(["eth_blockNumber", "eth_chainId", "net_version"]);

/** Per-method request deadline (LASSO.md: eth_blockNumber about 1 s, others about 5 s). */
export function methodDeadlineMs(method: string): number {
  return FAST_METHODS.has(method) ? 1000 : 5000;
}

export interface ExecuteOptions {
  chain: ChainRuntime;
  method: string;
  params: JsonValue[];
  /** Strategy named by the route; null for default and pinned routes. */
  strategy: Strategy | null;
  pinned: ProviderRuntime | null;
  transport: "http" | "ws";
  startedAt: number;
  defects: Defects;
}

export type ExecuteResult = { ok: true; result: JsonValue; ctx: RequestContext } | { ok: false; error: RpcErrorObject; ctx: RequestContext };

export class Pipeline {
  constructor(private readonly client: UpstreamClient) {}

  async execute(o: ExecuteOptions): Promise<ExecuteResult> {
    // Pinned routes report the default strategy: Lasso's provider-override controller path
    // assigns `requested_provider_strategy = default_provider_strategy()` (load_balanced).
    const ctx = newContext(o.chain.chainId, o.strategy ?? DEFAULT_STRATEGY, o.transport, o.startedAt);
    const fail = (error: RpcErrorObject): ExecuteResult => {
      finishContext(ctx);
      return { ok: false, error, ctx };
    };

    if (DISALLOWED_METHODS.has(o.method)) return fail({ code: -32601, message: "Method not supported by proxy" });

    if (o.method === "eth_chainId" && !o.pinned) {
      finishContext(ctx);
      return { ok: true, result: toHex(o.chain.chainId), ctx };
    }

    const selStart = performance.now();
    const candidates = o.pinned ? [o.pinned] : selectCandidates({ chain: o.chain, strategy: ctx.strategy, staleRouting: o.defects.staleRouting });
    ctx.selectionLatencyMs = round3(performance.now() - selStart);
    ctx.candidateProviders = candidates.map((p) => `${p.id}:http`);

    const noChannels = (): ExecuteResult =>
      fail({
        code: -32000,
        message: `No available channels for ${o.method} on chain ${o.chain.name}`,
        data: { retry_after_ms: retryAfterMs(o.chain, o.pinned), chain: o.chain.name, method: o.method },
      });
    if (candidates.length === 0) return noChannels();

    const maxAttempts = o.pinned || o.defects.noFailover ? 1 : MAX_ATTEMPTS;
    const deadline = o.startedAt + methodDeadlineMs(o.method);
    let attempts = 0;
    let lastError: RpcErrorObject | null = null;

    for (let i = 0; i < candidates.length && attempts < maxAttempts; i++) {
      const p = candidates[i];
      if (!p) continue;
      const breakerState = p.instance.breaker.state();
      if (breakerState === "open") {
        // Opened since selection (or a pinned provider with an open circuit): skip it.
        if (!o.pinned) ctx.retries += 1;
        continue;
      }
      const remaining = deadline - performance.now();
      if (remaining <= 5) break;
      const attemptsLeft = Math.min(maxAttempts - attempts, candidates.length - i);
      // Leave room for the remaining attempts: a blackholed provider costs ~1/3 of the deadline.
      const timeout = remaining / Math.max(1, attemptsLeft);
      if (attempts > 0) ctx.retries += 1;
      attempts += 1;
      ctx.selectedProvider = { id: p.id, protocol: "http" };
      ctx.circuitBreakerState = breakerState;
      const outcome = await this.client.call(p.instance.url, o.method, o.params, timeout);
      ctx.upstreamLatencyMs = round3((ctx.upstreamLatencyMs ?? 0) + outcome.latencyMs);
      const verdict = judge(outcome, p);
      if (verdict.kind === "success") {
        p.instance.breaker.recordSuccess();
        p.instance.recordCall(o.method, true, outcome.latencyMs);
        finishContext(ctx);
        return { ok: true, result: verdict.result, ctx };
      }
      if (verdict.kind === "final_error") {
        // A non-retriable JSON-RPC error: the provider worked, the request is at fault.
        p.instance.breaker.recordSuccess();
        p.instance.recordCall(o.method, true, outcome.latencyMs);
        return fail(verdict.error);
      }
      if (verdict.breakerPenalty) p.instance.breaker.recordFailure(verdict.timeout ? "timeout" : "error");
      p.instance.recordCall(o.method, false, outcome.latencyMs);
      lastError = verdict.error;
    }
    return lastError ? fail(lastError) : noChannels();
  }
}

type Verdict =
  | { kind: "success"; result: JsonValue }
  | { kind: "final_error"; error: RpcErrorObject }
  | { kind: "retriable"; error: RpcErrorObject; breakerPenalty: boolean; timeout: boolean };

function judge(outcome: AttemptOutcome, p: ProviderRuntime): Verdict {
  if (outcome.kind === "response") {
    const r = outcome.response;
    if ("result" in r) return { kind: "success", result: r.result };
    const cls = classifyRpcError(r.error);
    if (!cls.retriable) return { kind: "final_error", error: r.error };
    return { kind: "retriable", error: r.error, breakerPenalty: cls.breakerPenalty, timeout: false };
  }
  const data = { provider_id: p.id };
  switch (outcome.failure) {
    case "http":
      return outcome.status === 429
        ? { kind: "retriable", error: { code: -32005, message: "Rate limited by upstream provider (HTTP 429)", data }, breakerPenalty: true, timeout: false }
        : { kind: "retriable", error: { code: -32002, message: `Upstream server error (HTTP ${outcome.status ?? 0})`, data }, breakerPenalty: true, timeout: false };
    case "network":
      return { kind: "retriable", error: { code: -32004, message: "Upstream network error", data }, breakerPenalty: true, timeout: false };
    case "timeout":
      return { kind: "retriable", error: { code: -32000, message: "Upstream request timeout", data }, breakerPenalty: true, timeout: true };
    case "malformed":
      return { kind: "retriable", error: { code: -32700, message: "Invalid response from upstream provider", data }, breakerPenalty: true, timeout: false };
  }
}

function retryAfterMs(chain: ChainRuntime, pinned: ProviderRuntime | null): number {
  const pool = pinned ? [pinned] : chain.providers;
  const waits = pool.map((p) => p.instance.breaker.msUntilHalfOpen()).filter((ms) => ms > 0);
  return waits.length > 0 ? Math.min(...waits) : Math.max(250, chain.cfg.blockTimeMs);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
