/** Lasso's routing metadata (docs/lasso-contract.md "Routing metadata"). Every field is optional: absent when null. */
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

/** Lasso's provider ids are names from its profile files; a longer "id" is not one, and would make a huge label and stored name. */
export const MAX_PROVIDER_ID_CHARS = 128;
const isProviderId: FieldCheck = (v) => typeof v === "string" && v.length > 0 && v.length <= MAX_PROVIDER_ID_CHARS;

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
  selected_provider: (v) => isObject(v) && isProviderId(v.id) && (v.protocol === undefined || isString(v.protocol)),
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

/**
 * What became of an answer's routing metadata: decoded, not sent (Lasso omits it on its own
 * 400/404/413 refusals and -32601, and when it would exceed 4 KB), or sent but undecodable
 * (not base64url, not JSON, not an object, a known field of the wrong type).
 */
export type MetaStatus = "ok" | "missing" | "invalid";

export interface MetaReading {
  status: MetaStatus;
  meta: LassoMeta | null;
}

const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

/** Reads an `X-Lasso-Meta` header value (base64url JSON, no padding); undefined or null when the header is absent. */
export function readLassoMetaHeader(value: string | null | undefined): MetaReading {
  if (value === null || value === undefined) return { status: "missing", meta: null };
  // Buffer.from(..., "base64url") skips characters outside the alphabet instead of failing.
  if (value === "" || !BASE64URL.test(value)) return { status: "invalid", meta: null };
  let meta: LassoMeta | null;
  try {
    meta = parseLassoMeta(JSON.parse(Buffer.from(value, "base64url").toString("utf8")));
  } catch {
    meta = null;
  }
  return meta === null ? { status: "invalid", meta } : { status: "ok", meta };
}

/** Decodes an `X-Lasso-Meta` header. Returns null when absent or unreadable. */
export function decodeLassoMetaHeader(value: string | null | undefined): LassoMeta | null {
  return readLassoMetaHeader(value).meta;
}
