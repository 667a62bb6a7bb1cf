import { z } from "zod";
import type { ValueCount } from "../chaos/stats.js";
import { LATENCY_INDEXES, LatencyCounts } from "../store/latency.js";
import type { AggregateResult, SeriesAggregate } from "../store/reader.js";

/**
 * What a baseline comparison needs of one period, and what a named baseline stores (as JSON,
 * table `baselines`): per probe series and per watcher, counts and histogram buckets, so every
 * percentile and test can be recomputed after the period's raw samples and rollups are pruned.
 * Histogram buckets are [HdrHistogram counts-array index, count] of the store's fixed latency
 * configuration (store/latency.ts); changing that configuration needs these rewritten too.
 */
export interface SeriesStats {
  target: string;
  chain: string;
  route: string;
  method: string;
  /** Probes that count for availability (plan mismatches excluded) and the well-formed answers among them. */
  requests: number;
  ok: number;
  /** Latency of well-formed answers. */
  latency: ValueCount[];
  /** Overhead: exact count and sum; buckets where rollups kept them (their total may be below count). */
  overhead: { count: number; sumMs: number; buckets: ValueCount[] };
  /** [head lag in blocks, samples]. */
  headLag: ValueCount[];
}

export interface WatcherStats {
  target: string;
  chain: string;
  watcher: string;
  route: string;
  subscription: string;
  /** Delivery delay (arrival - block timestamp) of delivered samples. */
  delay: ValueCount[];
}

export interface PeriodStats {
  version: 1;
  series: SeriesStats[];
  watchers: WatcherStats[];
}

/** Answers of routes the target does not know: our configuration's fault, excluded from every SLI. */
export function planMismatches(s: SeriesAggregate): number {
  return s.errors.get("plan_mismatch") ?? 0;
}

const entries = (h: LatencyCounts): ValueCount[] => h.entries();

export function periodStats(agg: AggregateResult): PeriodStats {
  return {
    version: 1,
    series: agg.series.map((s) => ({
      target: s.target, chain: s.chain, route: s.route, method: s.method,
      requests: s.requests - planMismatches(s), ok: s.ok,
      latency: entries(s.latency),
      overhead: { count: s.overhead.count, sumMs: s.overhead.sumMs, buckets: entries(s.overhead.latency) },
      headLag: [...s.headLag.entries()].sort((a, b) => a[0] - b[0]),
    })),
    watchers: agg.continuity
      .filter((c) => c.delay.total > 0)
      .map((c) => ({ target: c.target, chain: c.chain, watcher: c.watcher, route: c.route, subscription: c.subscription, delay: entries(c.delay) })),
  };
}

/** The period's statistics for one chain only. */
export function periodStatsOfChain(p: PeriodStats, chain: string): PeriodStats {
  return { version: 1, series: p.series.filter((s) => s.chain === chain), watchers: p.watchers.filter((w) => w.chain === chain) };
}

/** Latency buckets back into a histogram (for percentiles). */
export function latencyCountsOf(buckets: readonly ValueCount[]): LatencyCounts {
  const h = new LatencyCounts();
  for (const [i, c] of buckets) h.add(i, c);
  return h;
}

const count = z.number().int().min(0);
const text = z.string().min(1).max(200);
const latencyBuckets = z.array(z.tuple([z.number().int().min(0).max(LATENCY_INDEXES - 1), count]));
const periodStatsSchema = z.strictObject({
  version: z.literal(1),
  series: z.array(z.strictObject({
    target: text, chain: text, route: text, method: text, requests: count, ok: count, latency: latencyBuckets,
    overhead: z.strictObject({ count, sumMs: z.number().finite(), buckets: latencyBuckets }),
    headLag: z.array(z.tuple([z.number().int(), count])),
  }).refine((s) => s.ok <= s.requests, { message: "ok exceeds requests" })),
  watchers: z.array(z.strictObject({ target: text, chain: text, watcher: text, route: text, subscription: text, delay: latencyBuckets })),
});

/** Parses stored statistics (a named baseline's JSON); throws an Error naming the first problem. */
export function parsePeriodStats(json: string): PeriodStats {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new Error(`not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const r = periodStatsSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`unexpected shape at ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`);
  }
  return r.data as PeriodStats;
}
