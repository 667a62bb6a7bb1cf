/**
 * The sample types every producer emits onto the recorder. Producers (probes, watchers,
 * chaos, soak) build these; sinks (store, metrics, log) consume them. Timestamps are
 * wall-clock milliseconds since the epoch; durations were measured on a monotonic clock.
 */

/**
 * Why a probe failed. rpc_<code> and http_<status> carry a number from the answer: the sinks
 * keep known codes and a budget of others, and name the rest rpc_other / http_other.
 * - timeout: no complete answer within the probe's deadline
 * - connect: could not connect / connection reset before an answer
 * - http_<status>: non-2xx HTTP status (http_429, http_502, ...)
 * - rpc_<code>: a JSON-RPC error object (rpc_-32000, rpc_-32600, ...)
 * - invalid_response: not JSON, not JSON-RPC 2.0, wrong id, neither result nor error
 * - plan_mismatch: Lasso does not know the route's chain, provider or profile (HTTP 400 -32602,
 *   404 -32000): our plan does not match the deployment. Excluded from Lasso's SLIs.
 */
export type ErrorClass =
  | "timeout"
  | "connect"
  | `http_${number}`
  | `rpc_${number}`
  | "invalid_response"
  | "plan_mismatch";

/**
 * The assertion judged by the head-freshness SLI (its own budget, from headLagBlocks). Every
 * other assertion (chainId, shape:*, monotonicHead) is judged by the correctness SLI.
 */
export const FRESHNESS_ASSERTION = "freshness";

export interface ProbeSample {
  kind: "probe";
  /** Wall-clock ms when the request was sent. */
  ts: number;
  /** Name of the Lasso base URL from the daemon config (e.g. "lb", "node-a"). */
  target: string;
  chain: string;
  /** Route name from the plan, e.g. "default", "fastest", "pin:alchemy", "canary/fastest". */
  route: string;
  method: string;
  /**
   * The availability SLI: "ok" when Lasso answered with a well-formed JSON-RPC `result`, whether
   * or not that result passed the assertions (those are judged by the correctness and freshness
   * SLIs, with budgets of their own); "error" when there was no such answer (errorClass says why).
   */
  outcome: "ok" | "error";
  /** Why there was no well-formed answer; null when outcome is "ok". */
  errorClass: ErrorClass | null;
  /** Human-readable detail of the failure or of the failed assertions (secrets redacted); never a metric label. */
  errorDetail: string | null;
  /** Client-observed latency, monotonic clock, ms. */
  latencyMs: number;
  /** Provider id that served the request, from routing metadata; null when unknown. */
  provider: string | null;
  /** Upstream channel that served it (`selected_provider.protocol`, else `transport`): "http", "ws", "other" (any other value); null when unknown. */
  transport: string | null;
  retries: number | null;
  /** `circuit_breaker_state`: closed, open, half_open, unknown (Lasso's set), "other" (any other value), null when absent. */
  circuitState: string | null;
  upstreamLatencyMs: number | null;
  lassoOverheadMs: number | null;
  /** Block height the answer carried (eth_blockNumber, eth_getBlockByNumber), if any. */
  blockHeight: number | null;
  /** Consensus head of the pinned providers minus the served head, in blocks (0 = level, > 0 = behind). */
  headLagBlocks: number | null;
  /** True when this answer's head was lower than the previous one on the same series. */
  headRegression: boolean;
  /** Names of failed assertions, empty when all passed: "freshness", "chainId", "monotonicHead", "shape:<shape>". */
  failedAssertions: string[];
  /**
   * The correctness SLI: true when a well-formed answer passed every correctness assertion of
   * its series (chainId, shape, monotonicHead: all but freshness), false when it failed one,
   * null when it was not judged (no well-formed answer, or the series has no such assertion).
   */
  correct: boolean | null;
  /**
   * The answer's routing metadata: decoded (ok), not sent (missing) or sent but undecodable
   * (invalid). Null or absent when no HTTP answer arrived, and on samples read back from the store.
   */
  metaStatus?: "ok" | "missing" | "invalid" | null;
}

/** Cross-provider agreement on the hash of a block at a safe depth. */
export interface ConsistencySample {
  kind: "consistency";
  ts: number;
  target: string;
  chain: string;
  blockNumber: number;
  /** provider id -> block hash (null when that provider could not answer). */
  hashes: Record<string, string | null>;
  agree: boolean;
}

/**
 * What a subscription watcher saw. One `delivered` sample per event received (the unit
 * of delivery accounting); every anomaly is its own sample with the heights it concerns.
 * - delivered: an event arrived (backfilled or live), with its delays
 * - gap: heights Lasso never delivered (confirmed to exist over HTTP); count = missing blocks
 * - duplicate: the same block hash (or log) delivered again; count = repeats
 * - reorg: same height, new hash, or a parentHash break; count = depth
 * - out_of_order: a height lower than one already delivered that is not a reorg
 * - stall: no event for k block times; count = stall length in ms when it ends
 * - reconnect: the watcher's own connection dropped and was re-established (count = attempt)
 * - client_gap: heights missed while the watcher itself was disconnected, fetched over HTTP (not Lasso's fault)
 * - subscription_id_change: the id in notifications changed
 * - first_event: time from subscribe to the first event, in delayMs
 * - log_missing / log_duplicate: logs checked against eth_getLogs over a closed range
 * - subscribe_refused: eth_subscribe answered with a JSON-RPC error (or no usable id, or no answer);
 *   one per attempt; count = blocks the chain produced since the previous refused attempt (unserved)
 * - upgrade_refused: the WebSocket handshake answered with an HTTP status (403, 404, ...) instead of
 *   an upgrade; one per attempt; count = unserved blocks as for subscribe_refused
 * - plan_mismatch: a subscribe or upgrade refused on a route the plan check found the target does
 *   not know: our configuration, excluded from the delivery SLO
 * - connect_failed: the target could not be reached (TCP refused, DNS, no answer to the handshake,
 *   socket lost before the subscribe was answered): our side or the network, not held against Lasso; count = 1
 * - never_live: newHeads only; a subscription acknowledged with an id whose first event did not come
 *   within stallBlockTimes block times while HTTP saw the chain move; one per session, count = 1,
 *   delayMs = time since the subscribe reply
 */
export type ContinuityEvent =
  | "delivered"
  | "gap"
  | "duplicate"
  | "reorg"
  | "out_of_order"
  | "stall"
  | "reconnect"
  | "client_gap"
  | "subscription_id_change"
  | "first_event"
  | "log_missing"
  | "log_duplicate"
  | "subscribe_refused"
  | "upgrade_refused"
  | "connect_failed"
  | "plan_mismatch"
  | "never_live";

export interface ContinuitySample {
  kind: "continuity";
  ts: number;
  target: string;
  chain: string;
  /** Watcher name from the plan, e.g. "newHeads:default", "logs:pin:alpha". Bounded: safe as a label. */
  watcher: string;
  route: string;
  subscription: "newHeads" | "logs";
  event: ContinuityEvent;
  /** The (first) block height concerned, when there is one. */
  blockNumber: number | null;
  /** Size of the event: blocks missing, repeats, reorg depth, stall ms, logs missing, unserved blocks (refusals). 1 for delivered. */
  count: number;
  /** delivered: arrival minus the block's timestamp; first_event: subscribe to first event; never_live: since the subscribe reply. ms. */
  delayMs: number | null;
  /** delivered: arrival minus the first time the watcher saw this height over HTTP, ms (null if HTTP saw it later). */
  sightingDelayMs: number | null;
  /** delivered: true when the event was a backfilled full block (has a transactions array). */
  backfilled: boolean | null;
  /** Human detail (hashes, ids); never a metric label. */
  detail: string | null;
}

/**
 * Why a soak poll of a Lasso node failed: connect, timeout, http_401/403 (the target's auth),
 * unknown_chain (404: the node does not know the polled chain), http_4xx, http_5xx, or
 * invalid_response (not JSON, or a figure missing or not a number).
 */
export type SoakErrorClass = "connect" | "timeout" | "http_401" | "http_403" | "unknown_chain" | "http_4xx" | "http_5xx" | "invalid_response";

/** What starts a new soak series: the node's uptime went back (a restart), or its memory dropped sharply. */
export type SoakRestart = "uptime" | "memory_drop";

/**
 * One soak poll: a Lasso node's VM figures (`subject` "lasso", from /api/metrics/:chain and
 * /api/health) or the daemon's own (`subject` "canary", target "self").
 */
export interface SoakSample {
  kind: "soak";
  ts: number;
  subject: "lasso" | "canary";
  /** Config target name; "self" for the daemon. */
  target: string;
  /** Figures read, by metric name (memory_mb, process_count, run_queue / rss_mb, heap_mb, loop_lag_ms); empty when none could be read. */
  values: Partial<Record<string, number>>;
  /** The node's (or daemon's) uptime, s; null when unknown. */
  uptimeSeconds: number | null;
  /** Start (ms) of the series the values belong to; null when the sample holds no values. */
  seriesStart: number | null;
  /** Set on the first sample of a series a restart began. */
  restart: SoakRestart | null;
  /** Null when the poll fully succeeded. A poll can fail with values (health failed, metrics read). */
  errorClass: SoakErrorClass | null;
  /** Human detail of the failure (no URL); never a metric label. */
  errorDetail: string | null;
}

export type Sample = ProbeSample | ConsistencySample | ContinuitySample | SoakSample;

export interface SampleSink {
  /** Called synchronously for every sample; must not block (queue, do not write). */
  accept(sample: Sample): void;
}
