import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { mannWhitneyU, mannWhitneyUCounts, type ValueCount } from "../src/chaos/stats.js";
import { comparePeriods, minSamplesFor } from "../src/report/compare.js";
import type { PeriodStats, SeriesStats, WatcherStats } from "../src/report/periodStats.js";
import { fisherExact, holmAdjust, quantileSplitTest, twoProportionTest } from "../src/report/significance.js";
import { DEFAULT_COMPARISON, type Comparison, type ComparisonRow, type ComparedMetric } from "../src/report/types.js";
import { latencyIndex } from "../src/store/latency.js";
import { rng } from "./helpers/storeFixtures.js";

/** Latency samples (ms) into the store's histogram buckets. */
function histogram(ms: readonly number[]): ValueCount[] {
  const m = new Map<number, number>();
  for (const v of ms) {
    const i = latencyIndex(v * 1000);
    m.set(i, (m.get(i) ?? 0) + 1);
  }
  return [...m.entries()];
}

/** n latencies spread like a probe's: `center` ms times a lognormal factor (sigma 0.25 unless given), seeded. */
function latencies(n: number, center: number, seed: number, sigma = 0.25): number[] {
  const r = rng(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const z = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    out.push(center * Math.exp(sigma * z));
  }
  return out;
}

function series(over: Partial<SeriesStats> & { latencyMs?: number[] }): SeriesStats {
  const { latencyMs = [], ...rest } = over;
  return {
    target: "lb", chain: "ethereum", route: "default", method: "eth_blockNumber",
    requests: latencyMs.length, ok: latencyMs.length, latency: histogram(latencyMs),
    overhead: { count: 0, sumMs: 0, buckets: [] }, headLag: [], ...rest,
  };
}

const period = (s: SeriesStats[], w: WatcherStats[] = []): PeriodStats => ({ version: 1, series: s, watchers: w });

function compare(baseline: PeriodStats, current: PeriodStats): Comparison {
  return comparePeriods({
    baseline, current, currentRange: { since: 2, until: 3 },
    about: { kind: "range", name: null, since: 0, until: 1, chain: null, savedAt: null },
  }, DEFAULT_COMPARISON);
}

function row(c: Comparison, metric: ComparedMetric): ComparisonRow {
  const r = c.rows.find((x) => x.metric === metric);
  assert.ok(r, `a ${metric} row`);
  return r;
}

describe("significance tests", () => {
  test("Fisher's exact test matches R's fisher.test on a textbook table", () => {
    // scipy.stats.fisher_exact([[1, 11], [9, 3]]).pvalue = 0.0027594561852200836 (R's fisher.test agrees)
    const p = fisherExact({ k: 1, n: 12 }, { k: 9, n: 12 });
    assert.ok(Math.abs(p - 0.0027594562) < 1e-8, `p ${p} vs scipy's 0.0027594562`);
  });

  test("two proportions: z-test on large counts (matches a chi-square test without correction), Fisher on small ones", () => {
    // scipy.stats.chi2_contingency([[50, 950], [80, 920]], correction=False): chi2 = 7.40436, p = 0.0065066
    const z = twoProportionTest({ k: 50, n: 1000 }, { k: 80, n: 1000 });
    assert.equal(z.name, "two_proportion_z");
    assert.ok(Math.abs(z.p - 0.0065066) < 1e-6, `p ${z.p} vs 0.0065066`);
    assert.equal(twoProportionTest({ k: 0, n: 1000 }, { k: 6, n: 1000 }).name, "fisher_exact");
  });

  test("the quantile split test finds a shifted p95 and not an equal one", () => {
    const base = histogram(latencies(2000, 50, 1));
    assert.ok(quantileSplitTest(base, histogram(latencies(2000, 60, 2)), 0.95).p < 1e-6, "a 20% shift is significant");
    assert.ok(quantileSplitTest(base, histogram(latencies(2000, 50, 3)), 0.95).p > 0.01, "the same distribution is not");
  });

  test("Mann-Whitney over counted values equals the test over the expanded samples", () => {
    const x: ValueCount[] = [[1, 3], [2, 5], [4, 1]];
    const y: ValueCount[] = [[1, 1], [3, 4], [4, 6]];
    const expand = (h: ValueCount[]): number[] => h.flatMap(([v, c]) => Array<number>(c).fill(v));
    assert.deepEqual(mannWhitneyUCounts(x, y), mannWhitneyU(expand(x), expand(y)));
  });

  test("Holm's adjustment multiplies the smallest p by m and keeps the order", () => {
    assert.deepEqual(holmAdjust([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06]);
  });

  test("sample minimums: 20 for most tests, 10 expected above a quantile (p95: 200, p99: 1000)", () => {
    assert.deepEqual([null, 0.5, 0.95, 0.99].map((q) => minSamplesFor(q, DEFAULT_COMPARISON)), [20, 20, 200, 1000]);
  });
});

describe("baseline comparison verdicts", () => {
  test("a 20% latency shift with enough samples is a regression at p50, p95 and p99", () => {
    const c = compare(period([series({ latencyMs: latencies(3000, 50, 11) })]), period([series({ latencyMs: latencies(3000, 60, 12) })]));
    for (const m of ["latency_p50_ms", "latency_p95_ms", "latency_p99_ms"] as const) {
      const r = row(c, m);
      assert.equal(r.verdict, "regression", `${m}: ${r.reason}`);
      assert.ok(r.change.relative !== null && r.change.relative > 0.1, `${m} relative change ${r.change.relative}`);
    }
    assert.equal(row(c, "success_ratio").verdict, "ok");
    assert.equal(c.regression, true);
    assert.equal(c.counts.regression, 3);
  });

  test("the same 20% shift with too few samples is inconclusive, never a regression", () => {
    const c = compare(period([series({ latencyMs: latencies(15, 50, 21) })]), period([series({ latencyMs: latencies(15, 60, 22) })]));
    for (const m of ["latency_p50_ms", "latency_p95_ms", "latency_p99_ms"] as const) {
      const r = row(c, m);
      assert.equal(r.verdict, "inconclusive", `${m}: ${r.reason}`);
      assert.equal(r.test, null);
      assert.match(r.reason, /too few samples/);
    }
    assert.equal(c.regression, false);
  });

  test("a 20% median shift in very noisy latencies, with the minimum samples, is beyond the threshold but not significant: inconclusive", () => {
    const c = compare(period([series({ latencyMs: latencies(30, 50, 91, 1) })]), period([series({ latencyMs: latencies(30, 60, 92, 1) })]));
    const r = row(c, "latency_p50_ms");
    assert.ok(r.change.relative !== null && Math.abs(r.change.relative) > 0.1, `beyond 10% (${r.change.relative})`);
    assert.ok(r.test !== null, "enough samples to test");
    assert.equal(r.verdict, "inconclusive", r.reason);
    assert.match(r.reason, /not significant/);
  });

  test("a 5% latency shift with many samples is significant but within the threshold: ok", () => {
    const c = compare(period([series({ latencyMs: latencies(20_000, 50, 31) })]), period([series({ latencyMs: latencies(20_000, 52.5, 32) })]));
    const r = row(c, "latency_p50_ms");
    assert.ok(r.test !== null && r.test.adjustedP < DEFAULT_COMPARISON.alpha, `the shift is significant (${r.test?.adjustedP})`);
    assert.equal(r.verdict, "ok", r.reason);
    assert.equal(c.regression, false);
  });

  test("a latency drop beyond the threshold is improved, not a regression", () => {
    const c = compare(period([series({ latencyMs: latencies(3000, 60, 41) })]), period([series({ latencyMs: latencies(3000, 45, 42) })]));
    assert.equal(row(c, "latency_p50_ms").verdict, "improved");
    assert.equal(c.regression, false);
  });

  test("success ratio: 99.9% -> 99% over 20k requests is a regression; 99.9% -> 99.8% over 500 is inconclusive", () => {
    const ok = latencies(20_000, 50, 51);
    const drop = compare(period([series({ latencyMs: ok, requests: 20_000, ok: 19_980 })]), period([series({ latencyMs: ok, requests: 20_000, ok: 19_800 })]));
    const r = row(drop, "success_ratio");
    assert.equal(r.verdict, "regression", r.reason);
    assert.equal(r.worse, "lower");
    assert.ok(r.change.absolute !== null && Math.abs(r.change.absolute - -0.009) < 1e-12, `absolute ${r.change.absolute}`);
    assert.ok(r.change.relative !== null && Math.abs(r.change.relative - 9) < 1e-9, `failure share x10: relative ${r.change.relative}`);

    const small = compare(period([series({ latencyMs: ok.slice(0, 500), requests: 500, ok: 500 })]), period([series({ latencyMs: ok.slice(0, 500), requests: 500, ok: 499 })]));
    const s = row(small, "success_ratio");
    assert.equal(s.verdict, "inconclusive", s.reason);
    assert.equal(s.test?.name, "fisher_exact");
    assert.equal(s.change.relative, null, "from zero failures");
  });

  test("head lag and overhead are rank-tested; a rise beyond both thresholds is a regression", () => {
    const lag = (zeros: number, ones: number, twos: number): ValueCount[] => [[0, zeros], [1, ones], [2, twos]];
    const overhead = (ms: number[]): SeriesStats["overhead"] => ({ count: ms.length, sumMs: ms.reduce((a, b) => a + b, 0), buckets: histogram(ms) });
    const c = compare(
      period([series({ headLag: lag(900, 100, 0), overhead: overhead(latencies(1000, 5, 61)) })]),
      period([series({ headLag: lag(600, 300, 100), overhead: overhead(latencies(1000, 8, 62)) })]),
    );
    assert.equal(row(c, "head_lag_blocks").verdict, "regression", row(c, "head_lag_blocks").reason);
    assert.equal(row(c, "head_lag_blocks").test?.name, "mann_whitney_u");
    assert.equal(row(c, "overhead_ms").verdict, "regression", row(c, "overhead_ms").reason);
  });

  test("an overhead rise below the 1 ms floor is ok however significant", () => {
    const overhead = (ms: number[]): SeriesStats["overhead"] => ({ count: ms.length, sumMs: ms.reduce((a, b) => a + b, 0), buckets: histogram(ms) });
    const c = compare(period([series({ overhead: overhead(latencies(5000, 0.5, 71)) })]), period([series({ overhead: overhead(latencies(5000, 0.8, 72)) })]));
    const r = row(c, "overhead_ms");
    assert.ok(r.change.relative !== null && r.change.relative > 0.5, `+60% (${r.change.relative})`);
    assert.equal(r.verdict, "ok", r.reason);
  });

  test("delivery delay per watcher; a series only in one period is no_data", () => {
    const w = (ms: number[]): WatcherStats => ({ target: "lb", chain: "ethereum", watcher: "heads", route: "default", subscription: "newHeads", delay: histogram(ms) });
    const c = compare(
      period([series({ latencyMs: latencies(100, 50, 81) })], [w(latencies(3000, 800, 82))]),
      period([series({ latencyMs: latencies(100, 50, 83), method: "eth_getBlockByNumber" })], [w(latencies(3000, 1200, 84))]),
    );
    assert.equal(row(c, "delivery_delay_p95_ms").verdict, "regression");
    assert.equal(row(c, "delivery_delay_p95_ms").watcher, "heads");
    const gone = c.rows.filter((r) => r.method === "eth_blockNumber");
    assert.ok(gone.length > 0 && gone.every((r) => r.verdict === "no_data"), "the removed method's rows are no_data");
    assert.match((gone[0] as ComparisonRow).reason, /no samples in the current period/);
  });

  test("two equivalent periods with many series flag no regression (Holm over every test)", () => {
    const many = (seed: number): SeriesStats[] =>
      Array.from({ length: 30 }, (_, i) => series({ method: `m${i}`, latencyMs: latencies(400, 50, seed + i) }));
    const c = compare(period(many(1000)), period(many(2000)));
    assert.equal(c.counts.regression, 0, c.rows.filter((r) => r.verdict === "regression").map((r) => r.reason).join("; "));
  });
});
