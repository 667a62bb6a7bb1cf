/**
 * Executes one JSON-RPC request against a chain: local answers, selection, attempts with
 * failover inside a per-method deadline, circuit-breaker bookkeeping and routing metadata.
 */
import { toHex, type JsonValue, type RpcErrorObject } from "./jsonrpc.js";
import { judgeAttempt } from "./attemptErrors.js";
import { finishContext, newContext, type RequestContext } from "./meta.js";
import type { ChainRuntime, ProviderRuntime, Transport } from "./providerPool.js";
import { DEFAULT_STRATEGY, type Strategy } from "./routes.js";
import { channelLabel, pinnedChannels, selectCandidates, type Channel } from "./selection.js";
import type { Defects } from "./types.js";
import type { AttemptOutcome, UpstreamClient } from "./upstream.js";

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

/** Dispatches per replay-safe read (ExecutionEnvelope @max_replay_safe_dispatches). */
const MAX_DISPATCHES = 3;
/** A dispatch needs at least this much of the deadline left (ExecutionEnvelope @minimum_attempt_ms). */
const MIN_ATTEMPT_MS = 25;
/** The first dispatch gets this share of the request timeout, later ones what is left. */
const FIRST_ATTEMPT_SHARE = 0.6;

/** Per-method request timeouts (Lasso.Config.MethodPolicy @default_timeouts; others 10 s). */
const METHOD_TIMEOUTS_MS: Record<string, number> = {
  eth_blockNumber: 1000,
  eth_chainId: 1000,
  net_version: 1000,
  web3_clientVersion: 1000,
  eth_gasPrice: 2000,
  eth_getBalance: 2000,
  eth_getTransactionCount: 2000,
  eth_getCode: 2000,
  eth_getTransactionByHash: 2000,
  eth_getBlockByNumber: 2000,
  eth_getBlockByHash: 2000,
  eth_getTransactionReceipt: 3000,
  eth_call: 5000,
  eth_estimateGas: 5000,
  eth_getLogs: 5000,
  eth_getFilterLogs: 5000,
  eth_newFilter: 2000,
  eth_getProof: 10_000,
  debug_traceTransaction: 30_000,
  debug_traceBlock: 45_000,
};

/** Lasso's per-method request deadline for HTTP requests. */
export function methodDeadlineMs(method: string): number {
  return METHOD_TIMEOUTS_MS[method] ?? 10_000;
}

/** Forwarded WebSocket requests have one timeout whatever the method (RPCSocket @forward_timeout_ms). */
export const WS_FORWARD_TIMEOUT_MS = 10_000;

export interface ExecuteOptions {
  chain: ChainRuntime;
  method: string;
  params: JsonValue[];
  /** Strategy named by the route; null for default and pinned routes. */
  strategy: Strategy | null;
  pinned: ProviderRuntime | null;
  /** The client's side: "ws" for requests on a client WebSocket. */
  clientTransport: Transport;
  /** `?transport=` / `X-Lasso-Transport` on HTTP; null: either channel. */
  forcedTransport: Transport | null;
  /** Request timeout; default the per-method deadline. */
  timeoutMs?: number;
  startedAt: number;
  defects: Defects;
}

export type ExecuteResult = { ok: true; result: JsonValue; ctx: RequestContext } | { ok: false; error: RpcErrorObject; ctx: RequestContext };

/**
 * Lasso's RequestPipeline (main branch, 0.2.0): channels from selection (or the pinned
 * provider's http then ws), tried in order; an open circuit is skipped; a retriable failure
 * moves on; at most 3 dispatches, the first with 60% of the timeout. Terminal errors:
 * the last attempt's error; "No channels available" when skips used up the list; "Request
 * deadline exhausted" when the deadline ran out between attempts; "Request dispatch budget
 * exhausted" when a 4th dispatch would be needed; "No available channels for method: ..."
 * when selection returned nothing.
 */
export class Pipeline {
  constructor(private readonly client: UpstreamClient) {}

  async execute(o: ExecuteOptions): Promise<ExecuteResult> {
    // Pinned routes report the default strategy: Lasso's provider-override controller path
    // assigns `requested_provider_strategy = default_provider_strategy()` (load_balanced).
    const ctx = newContext(o.chain.chainId, o.strategy ?? DEFAULT_STRATEGY, o.forcedTransport ?? o.clientTransport, o.startedAt);
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
    const candidates = o.pinned
      ? pinnedChannels(o.pinned, o.forcedTransport)
      : selectCandidates({ chain: o.chain, strategy: ctx.strategy, transport: o.forcedTransport, staleRouting: o.defects.staleRouting });
    ctx.selectionLatencyMs = round3(performance.now() - selStart);
    ctx.candidateProviders = candidates.map(channelLabel);
    const first = candidates[0];
    if (!first) return fail(noAvailableChannels(o));
    // Until an attempt is made, the first candidate is "selected" (also when every one is skipped).
    ctx.selectedProvider = { id: first.provider.id, protocol: first.transport };

    const timeoutMs = o.timeoutMs ?? methodDeadlineMs(o.method);
    const deadline = o.startedAt + timeoutMs;
    let dispatches = 0;
    let lastError: RpcErrorObject | null = null;

    for (const [i, ch] of candidates.entries()) {
      const breaker = ch.provider.breaker(ch.transport);
      const breakerState = breaker.state();
      if (breakerState === "open") {
        ctx.retries += 1;
        continue;
      }
      const remaining = deadline - performance.now();
      if (remaining < MIN_ATTEMPT_MS) return fail(deadlineExhausted());
      if (dispatches >= MAX_DISPATCHES) return fail({ code: lastError?.code ?? -32000, message: "Request dispatch budget exhausted" });
      const attemptMs = dispatches === 0 ? Math.min(remaining, Math.max(MIN_ATTEMPT_MS, timeoutMs * FIRST_ATTEMPT_SHARE)) : remaining;
      dispatches += 1;
      ctx.selectedProvider = { id: ch.provider.id, protocol: ch.transport };
      ctx.circuitBreakerState = breakerState;
      const outcome = await this.attempt(ch, o.method, o.params, attemptMs);
      ctx.upstreamLatencyMs = round3((ctx.upstreamLatencyMs ?? 0) + outcome.latencyMs);
      if (outcome.kind === "failure" && outcome.failure === "ws_not_connected") {
        // Never dispatched (Lasso's PredispatchFailure): no dispatch spent, no call recorded;
        // on the last channel the request ends as exhausted.
        dispatches -= 1;
        if (i === candidates.length - 1) break;
        ctx.retries += 1;
        continue;
      }
      const verdict = judgeAttempt(outcome);
      if (verdict.kind === "success") {
        breaker.recordSuccess();
        ch.provider.recordCall(ch.transport, o.method, true, outcome.latencyMs);
        finishContext(ctx);
        return { ok: true, result: verdict.result, ctx };
      }
      if (verdict.kind === "final_error") {
        // A non-retriable JSON-RPC error: the provider worked, the request is at fault.
        breaker.recordSuccess();
        ch.provider.recordCall(ch.transport, o.method, true, outcome.latencyMs);
        return fail(verdict.error);
      }
      if (verdict.breakerPenalty) breaker.recordFailure(verdict.timeout ? "timeout" : "error");
      ch.provider.recordCall(ch.transport, o.method, false, outcome.latencyMs);
      lastError = verdict.error;
      // noFailover defect: the first failure goes straight back to the client.
      if (i === candidates.length - 1 || o.defects.noFailover) return fail(verdict.error);
      ctx.retries += 1;
      if (performance.now() >= deadline) return fail(deadlineExhausted());
    }
    // Every remaining channel was skipped for an open circuit (RequestPipeline.exhausted/1).
    return fail({ code: -32000, message: "No channels available" });
  }

  private attempt(ch: Channel, method: string, params: JsonValue[], timeoutMs: number): Promise<AttemptOutcome> {
    const ws = ch.provider.instance.ws;
    if (ch.transport === "ws" && ws) return ws.call(method, params, timeoutMs);
    return this.client.call(ch.provider.instance.url, method, params, timeoutMs);
  }
}

function deadlineExhausted(): RpcErrorObject {
  return { code: -32000, message: "Request deadline exhausted", data: { reason: "deadline_exhausted" } };
}

/**
 * Selection returned nothing (RequestPipeline.handle_no_channels/1): the retry hint is the
 * soonest recovery of an open circuit among the chain's channels of the requested transport.
 */
function noAvailableChannels(o: ExecuteOptions): RpcErrorObject {
  const transports: Transport[] = o.forcedTransport ? [o.forcedTransport] : ["http", "ws"];
  const waits = o.chain.providers.flatMap((p) => transports.map((t) => p.breaker(t).msUntilHalfOpen())).filter((ms) => ms > 0);
  if (waits.length === 0) return { code: -32000, message: `No available channels for method: ${o.method}. All circuit breakers are open.`, data: {} };
  const ms = Math.min(...waits);
  return { code: -32000, message: `No available channels for method: ${o.method}. All circuits open, retry after ${Math.floor(ms / 1000)}s`, data: { retry_after_ms: ms } };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
