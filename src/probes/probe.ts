import { FRESHNESS_ASSERTION, type ProbeSample } from "../samples.js";
import { circuitStateOf, transportOf } from "../lasso/answerValues.js";
import type { RpcCallResult } from "../lasso/rpcClient.js";
import type { HeadBoard } from "./heads.js";
import { heightOf, matchesShape, parseQuantity } from "./shapes.js";
import type { ProbeSeriesSpec } from "./types.js";

/** Per-series memory between probes. */
export interface SeriesState {
  lastHeight: number | null;
}

/**
 * Turns one call's result into a sample: decode who served it, check the assertions,
 * and feed the consensus board when the series is pinned to a provider. A well-formed answer
 * is outcome "ok" (availability) even when it fails an assertion: a wrong or stale answer is
 * judged by the correctness and freshness SLIs, not counted as unavailable.
 */
export function toSample(
  spec: ProbeSeriesSpec,
  sentAt: number,
  call: RpcCallResult,
  board: HeadBoard,
  state: SeriesState,
): ProbeSample {
  const meta = call.meta;
  const height = call.outcome === "ok" ? heightOf(spec.method, call.result) : null;
  // Freshness is judged against the chain as it was when the answer arrived, not when it was sent.
  const arrivedAt = sentAt + call.latencyMs;
  const failed: string[] = [];
  let headLagBlocks: number | null = null;
  let headRegression = false;

  if (call.outcome === "ok") {
    for (const assertion of spec.assertions) {
      switch (assertion.kind) {
        case "shape":
          if (!matchesShape(call.result, assertion.shape)) failed.push(`shape:${assertion.shape}`);
          break;
        case "chainId":
          if (parseQuantity(call.result) !== spec.chainId) failed.push("chainId");
          break;
        case "monotonicHead":
          if (height !== null && state.lastHeight !== null && height < state.lastHeight) {
            headRegression = true;
            failed.push("monotonicHead");
          }
          break;
        case "freshness": {
          const consensus = height === null ? null : board.consensus(spec.target, spec.chain, arrivedAt);
          if (height !== null && consensus !== null) {
            headLagBlocks = Math.max(0, consensus - height);
            if (headLagBlocks > spec.maxHeadLagBlocks) failed.push(FRESHNESS_ASSERTION);
          }
          break;
        }
      }
    }
    if (height !== null) {
      state.lastHeight = height;
      if (spec.feedsConsensus && spec.pinnedProvider) board.report(spec.target, spec.chain, spec.pinnedProvider, height, arrivedAt);
    }
  }

  const answered = call.outcome === "ok";
  const judgesCorrectness = spec.assertions.some((a) => a.kind !== FRESHNESS_ASSERTION);
  const mismatch = call.outcome === "error" && isPlanMismatch(call);
  return {
    kind: "probe",
    ts: sentAt,
    target: spec.target,
    chain: spec.chain,
    route: spec.route,
    method: spec.method,
    outcome: call.outcome,
    errorClass: answered ? null : mismatch ? "plan_mismatch" : call.errorClass,
    errorDetail: answered ? (failed.length > 0 ? `failed: ${failed.join(", ")}` : null) : call.errorDetail,
    latencyMs: call.latencyMs,
    provider: meta?.selected_provider?.id ?? spec.pinnedProvider,
    transport: transportOf(meta?.selected_provider?.protocol ?? meta?.transport),
    retries: meta?.retries ?? null,
    circuitState: circuitStateOf(meta?.circuit_breaker_state),
    upstreamLatencyMs: meta?.upstream_latency_ms ?? null,
    lassoOverheadMs: meta?.lasso_overhead_ms ?? null,
    blockHeight: height,
    headLagBlocks,
    headRegression,
    failedAssertions: failed,
    correct: answered && judgesCorrectness ? failed.every((a) => a === FRESHNESS_ASSERTION) : null,
    metaStatus: call.metaStatus ?? null,
  };
}

/**
 * Lasso's answers for a route it does not know (docs/lasso-contract.md "Errors"): an unknown chain or
 * provider is HTTP 400 with -32602, an unknown profile HTTP 404 with -32000. Both are
 * refusals at the router, before any upstream: the plan names something the deployment lacks.
 */
export function isPlanMismatch(call: Pick<RpcCallResult, "httpStatus" | "rpcCode">): boolean {
  return (call.httpStatus === 400 && call.rpcCode === -32602) || (call.httpStatus === 404 && call.rpcCode === -32000);
}
