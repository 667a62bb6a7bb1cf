import type { ValueCount } from "../chaos/stats.js";
import { latencyCountsOf, type PeriodStats, type SeriesStats, type WatcherStats } from "./periodStats.js";
import { holmAdjust, quantileSplitTest, rankShiftTest, twoProportionTest, type TestResult } from "./significance.js";
import type {
  ChangeThreshold, Comparison, ComparedMetric, ComparedSli, ComparisonRow, ComparisonSettings, ComparisonVerdict,
} from "./types.js";

/**
 * A quantile's split test needs this many samples expected above the quantile in each period:
 * n >= MIN_TAIL / (1 - q), so p50 needs 20, p95 200, p99 1000 (or minSamples when larger).
 */
export const MIN_TAIL = 10;

export function minSamplesFor(q: number | null, settings: ComparisonSettings): number {
  return q === null ? settings.minSamples : Math.max(settings.minSamples, Math.ceil(MIN_TAIL / (1 - q) - 1e-9));
}

const METRIC_ORDER: readonly ComparedMetric[] = [
  "success_ratio", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "head_lag_blocks", "overhead_ms",
  "delivery_delay_p50_ms", "delivery_delay_p95_ms",
];

const SLI_OF: Record<ComparedMetric, ComparedSli> = {
  success_ratio: "successRatio", latency_p50_ms: "latency", latency_p95_ms: "latency", latency_p99_ms: "latency",
  head_lag_blocks: "headLag", overhead_ms: "overhead", delivery_delay_p50_ms: "deliveryDelay", delivery_delay_p95_ms: "deliveryDelay",
};

const UNIT: Record<ComparedSli, string> = { successRatio: "", latency: " ms", headLag: " blocks", overhead: " ms", deliveryDelay: " ms" };

/** One side of a row before the verdict: the value, the samples the test counts, and what the test needs. */
interface Side {
  value: number | null;
  samples: number;
}

/** A row with everything but the Holm adjustment and the verdict. */
interface Draft {
  row: Omit<ComparisonRow, "test" | "verdict" | "reason">;
  /** The quantity whose relative change is judged (the failure share for the success ratio). */
  judged: { baseline: number; current: number } | null;
  test: TestResult | null;
}

const histTotal = (h: readonly ValueCount[]): number => h.reduce((n, [, c]) => n + c, 0);

function percentile(h: readonly ValueCount[], q: number): number | null {
  return histTotal(h) === 0 ? null : (latencyCountsOf(h).percentilesMs([q * 100])[0] ?? null);
}

function mean(h: readonly ValueCount[]): number | null {
  const n = histTotal(h);
  return n === 0 ? null : h.reduce((s, [v, c]) => s + v * c, 0) / n;
}

interface MetricInput {
  metric: ComparedMetric;
  baseline: Side;
  current: Side;
  /** null: the quantity judged is the value itself. */
  judged?: (side: Side) => number | null;
  /** The quantile (for the sample minimum), null for the rest. */
  q: number | null;
  run(): TestResult;
}

type Key = Pick<ComparisonRow, "chain" | "target" | "route" | "method" | "watcher">;

function draft(key: Key, m: MetricInput, settings: ComparisonSettings): Draft {
  const minSamples = minSamplesFor(m.q, settings);
  const { baseline, current } = m;
  const enough = baseline.samples >= minSamples && current.samples >= minSamples && baseline.value !== null && current.value !== null;
  const judgedOf = m.judged ?? ((s: Side) => s.value);
  const jb = judgedOf(baseline);
  const jc = judgedOf(current);
  const relative = jb === null || jc === null || jb === 0 ? null : (jc - jb) / jb;
  const absolute = baseline.value === null || current.value === null ? null : current.value - baseline.value;
  return {
    row: {
      ...key, metric: m.metric, worse: m.metric === "success_ratio" ? "lower" : "higher",
      baseline, current, change: { absolute, relative }, threshold: settings.thresholds[SLI_OF[m.metric]], minSamples,
    },
    judged: jb === null || jc === null ? null : { baseline: jb, current: jc },
    test: enough ? m.run() : null,
  };
}

function seriesDrafts(b: SeriesStats | undefined, c: SeriesStats | undefined, settings: ComparisonSettings): Draft[] {
  const any = (b ?? c) as SeriesStats;
  const key: Key = { chain: any.chain, target: any.target, route: any.route, method: any.method, watcher: null };
  const empty: SeriesStats = { ...any, requests: 0, ok: 0, latency: [], overhead: { count: 0, sumMs: 0, buckets: [] }, headLag: [] };
  const B = b ?? empty;
  const C = c ?? empty;
  const success = (s: SeriesStats): Side => ({ value: s.requests > 0 ? s.ok / s.requests : null, samples: s.requests });
  const inputs: MetricInput[] = [
    {
      metric: "success_ratio", baseline: success(B), current: success(C), q: null,
      judged: (s) => (s.value === null ? null : 1 - s.value),
      run: () => twoProportionTest({ k: B.requests - B.ok, n: B.requests }, { k: C.requests - C.ok, n: C.requests }),
    },
    ...([[0.5, "latency_p50_ms"], [0.95, "latency_p95_ms"], [0.99, "latency_p99_ms"]] as const).map(([q, metric]): MetricInput => ({
      metric, q,
      baseline: { value: percentile(B.latency, q), samples: histTotal(B.latency) },
      current: { value: percentile(C.latency, q), samples: histTotal(C.latency) },
      run: () => quantileSplitTest(B.latency, C.latency, q),
    })),
    {
      metric: "head_lag_blocks", q: null,
      baseline: { value: mean(B.headLag), samples: histTotal(B.headLag) },
      current: { value: mean(C.headLag), samples: histTotal(C.headLag) },
      run: () => rankShiftTest(B.headLag, C.headLag),
    },
    {
      // The mean is exact (sum / count); the test ranks the stored histogram, which rollups older
      // than it lack, so its samples count only those.
      metric: "overhead_ms", q: null,
      baseline: { value: B.overhead.count > 0 ? B.overhead.sumMs / B.overhead.count : null, samples: histTotal(B.overhead.buckets) },
      current: { value: C.overhead.count > 0 ? C.overhead.sumMs / C.overhead.count : null, samples: histTotal(C.overhead.buckets) },
      run: () => rankShiftTest(B.overhead.buckets, C.overhead.buckets),
    },
  ];
  return inputs.map((m) => draft(key, m, settings));
}

function watcherDrafts(b: WatcherStats | undefined, c: WatcherStats | undefined, settings: ComparisonSettings): Draft[] {
  const any = (b ?? c) as WatcherStats;
  const key: Key = { chain: any.chain, target: any.target, route: any.route, method: null, watcher: any.watcher };
  const B = b?.delay ?? [];
  const C = c?.delay ?? [];
  return ([[0.5, "delivery_delay_p50_ms"], [0.95, "delivery_delay_p95_ms"]] as const).map(([q, metric]) => draft(key, {
    metric, q,
    baseline: { value: percentile(B, q), samples: histTotal(B) },
    current: { value: percentile(C, q), samples: histTotal(C) },
    run: () => quantileSplitTest(B, C, q),
  }, settings));
}

function pairs<T>(b: readonly T[], c: readonly T[], key: (t: T) => string): [T | undefined, T | undefined][] {
  const out = new Map<string, [T | undefined, T | undefined]>();
  for (const t of b) out.set(key(t), [t, undefined]);
  for (const t of c) out.set(key(t), [out.get(key(t))?.[0], t]);
  return [...out.values()];
}

function fmt(v: number, unit: string): string {
  return unit === "" ? `${(v * 100).toFixed(3)}%` : `${Number(v.toPrecision(4))}${unit}`;
}

function changeText(d: Draft): string {
  const { change, metric } = d.row;
  const unit = UNIT[SLI_OF[metric]];
  const rel = change.relative === null ? "from zero" : `${change.relative >= 0 ? "+" : ""}${(change.relative * 100).toFixed(1)}%`;
  const abs = change.absolute === null ? "" : ` (${change.absolute >= 0 ? "+" : ""}${unit === "" ? `${(change.absolute * 100).toFixed(3)} points` : fmt(change.absolute, unit)})`;
  return `${metric === "success_ratio" ? "failure share " : ""}${rel}${abs}`;
}

function thresholdText(t: ChangeThreshold, metric: ComparedMetric): string {
  const unit = UNIT[SLI_OF[metric]];
  const abs = t.absolute > 0 ? ` and ${unit === "" ? `${(t.absolute * 100).toFixed(3)} points` : fmt(t.absolute, unit)}` : "";
  return `${(t.relative * 100).toFixed(0)}%${abs}`;
}

/** Beyond BOTH thresholds. A change from zero (relative null) is beyond any relative threshold. */
function beyond(d: Draft): boolean {
  if (d.judged === null) return false;
  const { baseline, current } = d.judged;
  if (baseline === current) return false;
  const t = d.row.threshold;
  const abs = Math.abs(d.row.change.absolute ?? 0);
  return abs >= t.absolute && (d.row.change.relative === null || Math.abs(d.row.change.relative) >= t.relative);
}

function verdictOf(d: Draft, adjustedP: number | null, settings: ComparisonSettings): { verdict: ComparisonVerdict; reason: string } {
  const { baseline, current, minSamples, metric, threshold } = d.row;
  if (baseline.value === null || current.value === null) {
    const which = baseline.value === null && current.value === null ? "either period" : baseline.value === null ? "the baseline" : "the current period";
    return { verdict: "no_data", reason: `no samples in ${which}` };
  }
  const change = changeText(d);
  if (d.test === null || adjustedP === null) {
    return { verdict: "inconclusive", reason: `${change}; too few samples to test: baseline ${baseline.samples}, current ${current.samples} (each needs >= ${minSamples})` };
  }
  const p = `${d.test.name}, p = ${d.test.p.toPrecision(2)}, Holm-adjusted ${adjustedP.toPrecision(2)}`;
  if (!beyond(d)) return { verdict: "ok", reason: `${change}: within ${thresholdText(threshold, metric)}` };
  if (adjustedP >= settings.alpha) {
    return { verdict: "inconclusive", reason: `${change}: beyond ${thresholdText(threshold, metric)} but not significant (${p} >= ${settings.alpha})` };
  }
  const judged = d.judged as { baseline: number; current: number };
  const worse = judged.current > judged.baseline;
  return {
    verdict: worse ? "regression" : "improved",
    reason: `${change}: ${worse ? "worse" : "better"} beyond ${thresholdText(threshold, metric)}, significant (${p} < ${settings.alpha})`,
  };
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export interface ComparisonPeriods {
  baseline: PeriodStats;
  current: PeriodStats;
  /** What the baseline is (Comparison.baseline) and the current range. */
  about: Comparison["baseline"];
  currentRange: { since: number; until: number };
}

/**
 * Compares two periods per chain, target, route and method (success ratio, latency p50/p95/p99,
 * head lag, overhead) and per watcher (delivery delay p50/p95). A row is a regression only when
 * its change is beyond the threshold in the worse direction AND its test is significant after
 * Holm's adjustment over every test of the comparison (see ComparisonVerdict).
 */
export function comparePeriods(p: ComparisonPeriods, settings: ComparisonSettings): Comparison {
  const drafts = [
    ...pairs(p.baseline.series, p.current.series, (s) => [s.target, s.chain, s.route, s.method].join("\u0000"))
      .flatMap(([b, c]) => seriesDrafts(b, c, settings)),
    ...pairs(p.baseline.watchers, p.current.watchers, (w) => [w.target, w.chain, w.watcher, w.route, w.subscription].join("\u0000"))
      .flatMap(([b, c]) => watcherDrafts(b, c, settings)),
  ];
  const tested = drafts.flatMap((d, i) => (d.test === null ? [] : [{ i, p: d.test.p }]));
  const adjusted = new Map<number, number>();
  holmAdjust(tested.map((t) => t.p)).forEach((a, k) => adjusted.set((tested[k] as { i: number }).i, a));
  const rows: ComparisonRow[] = drafts.map((d, i) => {
    const adj = adjusted.get(i) ?? null;
    const v = verdictOf(d, adj, settings);
    return { ...d.row, test: d.test === null || adj === null ? null : { name: d.test.name, p: d.test.p, adjustedP: adj }, ...v };
  });
  rows.sort((a, b) =>
    byText(a.chain, b.chain) || byText(a.target, b.target) || byText(a.route, b.route) ||
    byText(a.method ?? "", b.method ?? "") || byText(a.watcher ?? "", b.watcher ?? "") ||
    METRIC_ORDER.indexOf(a.metric) - METRIC_ORDER.indexOf(b.metric));
  const counts: Record<ComparisonVerdict, number> = { regression: 0, improved: 0, ok: 0, inconclusive: 0, no_data: 0 };
  for (const r of rows) counts[r.verdict]++;
  return { baseline: p.about, current: p.currentRange, settings, counts, regression: counts.regression > 0, rows };
}
