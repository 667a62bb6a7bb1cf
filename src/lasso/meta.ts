/** Lasso's routing metadata (LASSO.md "Routing metadata"). Every field is optional: absent when null. */
export interface LassoMeta {
  version?: string;
  request_id?: string;
  strategy?: string;
  chain_id?: number;
  transport?: string;
  candidate_providers?: string[];
  selected_provider?: { id: string; protocol?: string; [k: string]: unknown };
  selection_latency_ms?: number;
  upstream_latency_ms?: number;
  end_to_end_latency_ms?: number;
  lasso_overhead_ms?: number;
  retries?: number;
  circuit_breaker_state?: string;
  [k: string]: unknown;
}

type FieldCheck = (v: unknown) => boolean;
const isString: FieldCheck = (v) => typeof v === "string";
const isNumber: FieldCheck = (v) => typeof v === "number" && Number.isFinite(v);
const isInteger: FieldCheck = (v) => Number.isInteger(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * What each known field must be. A hand-written check, not zod: it runs on every probe
 * answer, and the schema parse was a visible share of the probe path's CPU.
 */
const FIELDS: Record<string, FieldCheck> = {
  version: isString,
  request_id: isString,
  strategy: isString,
  chain_id: isInteger,
  transport: isString,
  candidate_providers: (v) => Array.isArray(v) && v.every(isString),
  selected_provider: (v) => isObject(v) && isString(v.id) && (v.protocol === undefined || isString(v.protocol)),
  selection_latency_ms: isNumber,
  upstream_latency_ms: isNumber,
  end_to_end_latency_ms: isNumber,
  lasso_overhead_ms: isNumber,
  retries: isInteger,
  circuit_breaker_state: isString,
};

/**
 * The metadata object, or null when it is not an object or a known field has the wrong
 * type. Lasso omits null fields; an explicit null is read as absent. Unknown fields pass.
 */
export function parseLassoMeta(value: unknown): LassoMeta | null {
  if (!isObject(value)) return null;
  for (const key of Object.keys(value)) {
    if (value[key] === null) {
      delete value[key];
      continue;
    }
    const check = FIELDS[key];
    if (check && !check(value[key])) return null;
  }
  return value as LassoMeta;
}

/** Decodes an `X-Lasso-Meta` header (base64url JSON, no padding). Returns null when absent or unreadable. */
export function decodeLassoMetaHeader(value: string | null | undefined): LassoMeta | null {
  if (!value) return null;
  try {
    return parseLassoMeta(JSON.parse(Buffer.from(value, "base64url").toString("utf8")));
  } catch {
    return null;
  }
}
