/**
 * The sets of values Lasso's answers can carry in the fields that become metric labels and
 * stored names. Anything outside a closed set is "other"; open sets (provider ids, error
 * codes) are bounded by the sinks that keep them (metrics/labelBounds.ts, store/intern.ts).
 */

/** Stands for any value outside a closed set, or beyond a sink's budget of distinct values. */
export const OTHER = "other";

/**
 * `circuit_breaker_state` as Lasso writes it: `to_string(ctx.circuit_breaker_state || :unknown)`
 * over `:open | :half_open | :closed | nil` (lib/lasso/observability/observability.ex,
 * lib/lasso/core/request/request_context.ex).
 */
export const CIRCUIT_STATES: ReadonlySet<string> = new Set(["closed", "open", "half_open", "unknown"]);

/** The upstream channels Lasso serves over (`selected_provider.protocol`, `transport`). */
export const TRANSPORTS: ReadonlySet<string> = new Set(["http", "ws"]);

function closedSet(set: ReadonlySet<string>, v: string | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  return set.has(v) ? v : OTHER;
}

/** The circuit state of an answer: one of Lasso's four, "other", or null when absent. */
export function circuitStateOf(v: string | null | undefined): string | null {
  return closedSet(CIRCUIT_STATES, v);
}

/** The transport of an answer: http, ws, "other", or null when absent. */
export function transportOf(v: string | null | undefined): string | null {
  return closedSet(TRANSPORTS, v);
}

/**
 * JSON-RPC error codes whose `rpc_<code>` class is always kept, outside any budget: JSON-RPC 2.0's
 * own (-32700, -32600..-32603), EIP-1474's server range that Lasso reuses (-32000..-32006: -32002
 * server error, -32003 client error, -32004 network error, -32005 rate limit;
 * lib/lasso/core/support/error_classification.ex), Lasso's -32007 request timeout and -32008
 * capacity, and 3 (execution reverted, passed through from upstream nodes).
 */
export const KNOWN_RPC_CODES: ReadonlySet<number> = new Set([
  -32700, -32600, -32601, -32602, -32603,
  -32000, -32001, -32002, -32003, -32004, -32005, -32006, -32007, -32008,
  3,
]);

/** HTTP statuses whose `http_<status>` class is always kept: Lasso's own (400, 404, 413, 503) and a proxy's usual ones. */
export const KNOWN_HTTP_STATUSES: ReadonlySet<number> = new Set([400, 401, 403, 404, 405, 408, 413, 429, 500, 502, 503, 504]);

/** Error classes that carry no value from the answer (samples.ts ErrorClass). */
const FIXED_ERROR_CLASSES: ReadonlySet<string> = new Set(["timeout", "connect", "invalid_response", "assertion", "plan_mismatch"]);

/** The error classes that carry a number from the answer, and the class their overflow goes to. */
export type ErrorFamily = "rpc" | "http";

export function errorFamilyOf(errorClass: string): ErrorFamily | null {
  if (errorClass.startsWith("rpc_")) return "rpc";
  if (errorClass.startsWith("http_")) return "http";
  return null;
}

export function overflowErrorClass(family: ErrorFamily): string {
  return `${family}_${OTHER}`;
}

const KNOWN_ERROR_CLASSES: ReadonlySet<string> = new Set([
  ...FIXED_ERROR_CLASSES,
  ...[...KNOWN_RPC_CODES].map((c) => `rpc_${c}`),
  ...[...KNOWN_HTTP_STATUSES].map((s) => `http_${s}`),
  overflowErrorClass("rpc"),
  overflowErrorClass("http"),
]);

/**
 * True for the error classes that are kept whatever the budget: the fixed ones, the known
 * codes and statuses, and the overflow classes themselves. A finite set.
 */
export function isKnownErrorClass(errorClass: string): boolean {
  return KNOWN_ERROR_CLASSES.has(errorClass);
}

/**
 * JSON-RPC error codes are integers; anything outside the signed 32-bit range (1e300 is an
 * "integer" to JavaScript) is not a code and would make an unreadable class name.
 */
export function isPlausibleRpcCode(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= -0x8000_0000 && v <= 0x7fff_ffff;
}
