/** Pseudo-methods used when a request has no usable method name. */
export const UNPARSEABLE = "(unparseable)";
export const INVALID = "(invalid)";
export const OTHER = "(other)";
export const WS_CONNECT = "(ws_connect)";

const PSEUDO = new Set([UNPARSEABLE, INVALID, OTHER, WS_CONNECT]);
const MAX_METHODS = 256;
const METHOD_NAME = /^[A-Za-z0-9_]{1,64}$/;

/**
 * Requests seen per JSON-RPC method and outcome. Method names come from clients, so they are
 * validated and the number of distinct names is capped (extra ones are counted as "(other)").
 */
export class OutcomeCounts {
  #byMethod = new Map<string, Map<string, number>>();
  readonly #observer: ((method: string, outcome: string, n: number) => void) | null;

  /** `observer` sees every count as it is added (the per-second traffic ring); resets do not touch it. */
  constructor(observer?: (method: string, outcome: string, n: number) => void) {
    this.#observer = observer ?? null;
  }

  add(method: string, outcome: string, n = 1): void {
    this.#observer?.(method, outcome, n);
    let key = PSEUDO.has(method) || METHOD_NAME.test(method) ? method : INVALID;
    let row = this.#byMethod.get(key);
    if (!row) {
      if (this.#byMethod.size >= MAX_METHODS) key = OTHER;
      row = this.#byMethod.get(key) ?? new Map<string, number>();
      this.#byMethod.set(key, row);
    }
    row.set(outcome, (row.get(outcome) ?? 0) + n);
  }

  snapshot(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [method, row] of this.#byMethod) out[method] = Object.fromEntries(row);
    return out;
  }

  reset(): void {
    this.#byMethod.clear();
  }
}

/**
 * Outcome names. HTTP requests use them bare; WS requests (and WS handshakes, counted under
 * "(ws_connect)", and upstream notifications, counted under "eth_subscription") carry a "ws:" prefix.
 */
export type Outcome = "forwarded" | "upstream_error" | "client_aborted" | "too_large" | "refused" | `fault:${string}`;
export type Transport = "http" | "ws";

export function outcomeName(transport: Transport, outcome: Outcome): string {
  return transport === "ws" ? `ws:${outcome}` : outcome;
}
