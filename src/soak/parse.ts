/**
 * Lasso's /api/metrics/:chain and /api/health answers -> soak figures, or a classified poll
 * error. Pure: malformed answers are errors, never exceptions.
 */
import type { GetJsonResult } from "../lasso/httpGet.js";
import type { SoakLassoMetric } from "../plan/types.js";
import type { SoakErrorClass } from "../samples.js";

export type Parsed<T> = { ok: true; value: T } | { ok: false; errorClass: SoakErrorClass; detail: string };

const LASSO_FIELDS: readonly SoakLassoMetric[] = ["memory_mb", "process_count", "run_queue"];

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function fail(errorClass: SoakErrorClass, detail: string): { ok: false; errorClass: SoakErrorClass; detail: string } {
  return { ok: false, errorClass, detail };
}

/**
 * A transport or HTTP failure of getJson, classified. `what` names the endpoint in the detail;
 * `notFound`: the class of a 404 (unknown_chain from /api/metrics/:chain).
 */
export function classifyFailure(
  r: Extract<GetJsonResult, { ok: false }>, what: string, notFound: SoakErrorClass = "http_4xx",
): { ok: false; errorClass: SoakErrorClass; detail: string } {
  const detail = `${what}: ${r.error}`.slice(0, 300);
  if (r.status === null) return fail(/^no answer within/.test(r.error) ? "timeout" : "connect", detail);
  if (r.status >= 200 && r.status < 300) return fail("invalid_response", detail);
  if (r.status === 401) return fail("http_401", detail);
  if (r.status === 403) return fail("http_403", detail);
  if (r.status === 404) return fail(notFound, detail);
  return fail(r.status >= 500 ? "http_5xx" : "http_4xx", detail);
}

/** `system_metrics.{memory_mb, process_count, run_queue}`: each a finite number >= 0. cpu_percent is ignored. */
export function parseLassoMetrics(body: unknown): Parsed<Record<SoakLassoMetric, number>> {
  if (!isRecord(body)) return fail("invalid_response", "/api/metrics: the answer is not a JSON object");
  const sm = body.system_metrics;
  if (!isRecord(sm)) return fail("invalid_response", "/api/metrics: no system_metrics object");
  const out: Partial<Record<SoakLassoMetric, number>> = {};
  for (const f of LASSO_FIELDS) {
    const v = sm[f];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) return fail("invalid_response", `/api/metrics: system_metrics.${f} is ${JSON.stringify(v) ?? "missing"}, not a number >= 0`);
    out[f] = v;
  }
  return { ok: true, value: out as Record<SoakLassoMetric, number> };
}

/** `uptime_seconds`: a finite number >= 0. */
export function parseHealthUptime(body: unknown): Parsed<number> {
  const v = isRecord(body) ? body.uptime_seconds : undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) return fail("invalid_response", `/api/health: uptime_seconds is ${JSON.stringify(v) ?? "missing"}, not a number >= 0`);
  return { ok: true, value: v };
}
