/**
 * One soak poll: a Lasso node's VM figures from its own URL, and the daemon's own figures.
 * Never throws: a failed or malformed answer is a classified poll error.
 */
import { getJson, type GetJsonResult } from "../lasso/httpGet.js";
import { routeUrl } from "../lasso/urls.js";
import type { SoakCanaryMetric, SoakLassoMetric, Target } from "../plan/types.js";
import type { SoakErrorClass } from "../samples.js";
import { classifyFailure, parseHealthUptime, parseLassoMetrics } from "./parse.js";

export interface LassoPoll {
  values: Partial<Record<SoakLassoMetric, number>>;
  uptimeSeconds: number | null;
  /** The first failure of the two requests; null when both answered well. */
  errorClass: SoakErrorClass | null;
  errorDetail: string | null;
}

export type JsonGetter = (url: string, headers: Record<string, string>, timeoutMs: number) => Promise<GetJsonResult>;

/**
 * GET /api/metrics/:chain and /api/health of one node, with the target's headers, at once.
 * The figures are kept when /api/health alone failed (a sample without uptime).
 */
export async function pollLassoNode(target: Target, chain: string, timeoutMs: number, get: JsonGetter = getJson): Promise<LassoPoll> {
  const [metrics, health] = await Promise.all([
    get(routeUrl(target.url, `/api/metrics/${encodeURIComponent(chain)}`), target.headers, timeoutMs),
    get(routeUrl(target.url, "/api/health"), target.headers, timeoutMs),
  ]);
  const m = metrics.ok ? parseLassoMetrics(metrics.body) : classifyFailure(metrics, `/api/metrics/${chain}`, "unknown_chain");
  const h = health.ok ? parseHealthUptime(health.body) : classifyFailure(health, "/api/health");
  const failure = !m.ok ? m : !h.ok ? h : null;
  return {
    values: m.ok ? m.value : {},
    uptimeSeconds: h.ok ? h.value : null,
    errorClass: failure?.errorClass ?? null,
    errorDetail: failure?.detail ?? null,
  };
}

/** Mean lateness of the daemon's timers between two soak samples (see metrics/loopLag.ts). */
export class LagWindow {
  private sum = 0;
  private count = 0;

  observe(lateMs: number): void {
    this.sum += lateMs;
    this.count++;
  }

  /** The mean since the last take, ms; null when no timer ran. */
  take(): number | null {
    const mean = this.count === 0 ? null : this.sum / this.count;
    this.sum = 0;
    this.count = 0;
    return mean;
  }
}

const MB = 1024 * 1024;

/** The daemon's RSS and V8 heap in use (MB) and its event-loop lag (ms), with its uptime. */
export function sampleSelf(lag: LagWindow): { values: Partial<Record<SoakCanaryMetric, number>>; uptimeSeconds: number } {
  const m = process.memoryUsage();
  const lagMs = lag.take();
  return {
    values: { rss_mb: m.rss / MB, heap_mb: m.heapUsed / MB, ...(lagMs === null ? {} : { loop_lag_ms: lagMs }) },
    uptimeSeconds: process.uptime(),
  };
}
