/** Lasso routing metadata (`X-Lasso-Meta` header / `lasso_meta` body field / WS notify frame). */
import { randomBytes } from "node:crypto";
import type { BreakerState } from "./breaker.js";
import type { JsonObject } from "./jsonrpc.js";
import type { Transport } from "./providerPool.js";
import type { Strategy } from "./routes.js";

export const MAX_META_HEADER_BYTES = 4096;

export interface RequestContext {
  requestId: string;
  strategy: Strategy;
  chainId: number;
  /**
   * Lasso's `ctx.transport`: the client's socket for WS requests; for HTTP the forced
   * transport, else "http". The channel actually used is `selectedProvider.protocol`.
   */
  transport: Transport;
  /** `"id:http"` / `"id:ws"` labels of the channels selection considered, in order. */
  candidateProviders: string[];
  selectedProvider: { id: string; protocol: Transport } | null;
  selectionLatencyMs: number | null;
  upstreamLatencyMs: number | null;
  endToEndLatencyMs: number | null;
  lassoOverheadMs: number | null;
  retries: number;
  circuitBreakerState: BreakerState | null;
  /** performance.now() when the request arrived. */
  startedAt: number;
}

export function newRequestId(): string {
  return randomBytes(16).toString("hex");
}

export function newContext(chainId: number, strategy: Strategy, transport: Transport, startedAt: number): RequestContext {
  return {
    requestId: newRequestId(),
    strategy,
    chainId,
    transport,
    candidateProviders: [],
    selectedProvider: null,
    selectionLatencyMs: null,
    upstreamLatencyMs: null,
    endToEndLatencyMs: null,
    lassoOverheadMs: null,
    retries: 0,
    circuitBreakerState: null,
    startedAt,
  };
}

/** Sets end-to-end latency and overhead (e2e minus time spent waiting on upstreams). */
export function finishContext(ctx: RequestContext): void {
  const e2e = performance.now() - ctx.startedAt;
  ctx.endToEndLatencyMs = round3(e2e);
  ctx.lassoOverheadMs = ctx.upstreamLatencyMs === null ? null : round3(Math.max(0, e2e - ctx.upstreamLatencyMs));
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** The client-visible metadata object; null fields are omitted (as Lasso does). */
export function buildMeta(ctx: RequestContext): JsonObject {
  const meta: JsonObject = {
    version: "1.0",
    request_id: ctx.requestId,
    strategy: ctx.strategy,
    chain_id: ctx.chainId,
    transport: ctx.transport,
    candidate_providers: ctx.candidateProviders,
    retries: ctx.retries,
    circuit_breaker_state: ctx.circuitBreakerState ?? "unknown",
  };
  if (ctx.selectedProvider) meta["selected_provider"] = { id: ctx.selectedProvider.id, protocol: ctx.selectedProvider.protocol };
  if (ctx.selectionLatencyMs !== null) meta["selection_latency_ms"] = ctx.selectionLatencyMs;
  if (ctx.upstreamLatencyMs !== null) meta["upstream_latency_ms"] = ctx.upstreamLatencyMs;
  if (ctx.endToEndLatencyMs !== null) meta["end_to_end_latency_ms"] = ctx.endToEndLatencyMs;
  if (ctx.lassoOverheadMs !== null) meta["lasso_overhead_ms"] = ctx.lassoOverheadMs;
  return meta;
}

/** base64url without padding; null when the encoding exceeds 4 KB (header then dropped). */
export function encodeMetaHeader(meta: JsonObject): string | null {
  const encoded = Buffer.from(JSON.stringify(meta), "utf8").toString("base64url");
  return encoded.length > MAX_META_HEADER_BYTES ? null : encoded;
}

export type IncludeMeta = "none" | "headers" | "body";

/** `?include_meta=` wins over the `X-Lasso-Include-Meta` header, as in Lasso's ObservabilityPlug. */
export function parseIncludeMeta(query: string | null, header: string | undefined): IncludeMeta {
  const v = query ?? header ?? null;
  return v === "headers" || v === "body" ? v : "none";
}
