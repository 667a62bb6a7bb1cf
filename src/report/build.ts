import { LatencyCounts, LATENCY_DIGITS, LATENCY_RELATIVE_ERROR } from "../store/latency.js";
import type { AggregateResult, SeriesAggregate, TimeRange } from "../store/reader.js";
import { sloFor, type ChainReport, type Report, type ReportRange, type SeriesReport, type SloObjective, type SloRow } from "./types.js";

/** Anything that can merge rollups for a range: a StoreReader (own or the writer's connection). */
export interface ReportSource {
  aggregate(range: TimeRange): AggregateResult;
}

const ratio = (num: number, den: number): number | null => (den > 0 ? num / den : null);
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const EPS = 1e-12;

function addMaps<K>(into: Map<K, number>, from: Map<K, number>): void {
  for (const [k, c] of from) into.set(k, (into.get(k) ?? 0) + c);
}

/** Merges several series (e.g. every method of one route) into one aggregate. */
function mergeSeries(list: readonly SeriesAggregate[]): SeriesAggregate {
  const first = list[0];
  if (!first) throw new Error("mergeSeries needs at least one series");
  const m: SeriesAggregate = {
    ...first, requests: 0, ok: 0, errors: new Map(), providers: new Map(), latency: new LatencyCounts(),
    overhead: { count: 0, sumMs: 0, maxMs: 0 }, headLag: new Map(), regressions: 0, retriesTotal: 0, retriedRequests: 0,
  };
  for (const s of list) {
    m.requests += s.requests;
    m.ok += s.ok;
    addMaps(m.errors, s.errors);
    addMaps(m.providers, s.providers);
    m.latency.merge(s.latency);
    if (s.overhead.count > 0) {
      m.overhead.maxMs = m.overhead.count === 0 ? s.overhead.maxMs : Math.max(m.overhead.maxMs, s.overhead.maxMs);
      m.overhead.count += s.overhead.count;
      m.overhead.sumMs += s.overhead.sumMs;
    }
    addMaps(m.headLag, s.headLag);
    m.regressions += s.regressions;
    m.retriesTotal += s.retriesTotal;
    m.retriedRequests += s.retriedRequests;
  }
  return m;
}

function headStats(lag: Map<number, number>, threshold: number): SeriesReport["head"] {
  let samples = 0;
  let sum = 0;
  let max: number | null = null;
  let over = 0;
  for (const [l, c] of lag) {
    samples += c;
    sum += l * c;
    max = max === null ? l : Math.max(max, l);
    if (l > threshold) over += c;
  }
  return {
    samples, meanLag: ratio(sum, samples), maxLag: max, threshold, overThreshold: over,
    overThresholdShare: ratio(over, samples),
  };
}

function seriesReport(s: SeriesAggregate, slo: Required<SloObjective>): SeriesReport {
  const [p50, p95, p99] = s.latency.percentilesMs([50, 95, 99]);
  return {
    target: s.target, route: s.route, method: s.method,
    requests: s.requests, ok: s.ok, successRatio: ratio(s.ok, s.requests),
    latencyMs: { p50: p50 ?? null, p95: p95 ?? null, p99: p99 ?? null },
    errors: [...s.errors]
      .map(([errorClass, count]) => ({ errorClass, count }))
      .sort((a, b) => b.count - a.count || byName(a.errorClass, b.errorClass)),
    // Most used first; ties by name, the unknown provider last.
    providers: [...s.providers]
      .map(([provider, count]) => ({ provider, count, share: count / Math.max(1, s.requests) }))
      .sort((a, b) => b.count - a.count || byName(a.provider ?? "\uffff", b.provider ?? "\uffff")),
    overheadMs: {
      samples: s.overhead.count,
      mean: ratio(s.overhead.sumMs, s.overhead.count),
      max: s.overhead.count > 0 ? s.overhead.maxMs : null,
    },
    head: headStats(s.headLag, slo.maxHeadLagBlocks),
    headRegressions: s.regressions,
    retries: { total: s.retriesTotal, retriedRequests: s.retriedRequests },
  };
}

/** A ratio SLO: at least `objective` of `events` good. */
function ratioRow(
  base: Pick<SloRow, "target" | "route" | "sli" | "objectiveText">, objective: number, events: number, bad: number,
): SloRow {
  const allowed = (1 - objective) * events;
  const actual = ratio(events - bad, events);
  let budgetLeft: number | null = null;
  if (events > 0) budgetLeft = allowed > 0 ? 1 - bad / allowed : bad === 0 ? 1 : null;
  return { ...base, objective, actual, events, bad, budgetLeft, pass: actual === null ? null : actual >= objective - EPS };
}

function pct(r: number): string {
  return `${Number((r * 100).toFixed(3))}%`;
}

function sloRows(s: SeriesAggregate, slo: Required<SloObjective>): SloRow[] {
  const base = { target: s.target, route: s.route };
  const rows: SloRow[] = [
    ratioRow({ ...base, sli: "success_ratio", objectiveText: `success >= ${pct(slo.successRatio)}` },
      slo.successRatio, s.requests, s.requests - s.ok),
  ];
  // p95 <= X is the same as "at most 5% of requests slower than X": budget counts those.
  const [p95] = s.latency.percentilesMs([95]);
  const events = s.latency.total;
  const bad = s.latency.countAbove(slo.p95LatencyMs * 1000);
  const allowed = 0.05 * events;
  rows.push({
    ...base, sli: "latency_p95_ms", objective: slo.p95LatencyMs, objectiveText: `p95 <= ${slo.p95LatencyMs} ms`,
    actual: p95 ?? null, events, bad,
    budgetLeft: events > 0 ? 1 - bad / allowed : null,
    pass: p95 === undefined || p95 === null ? null : p95 <= slo.p95LatencyMs,
  });
  const head = headStats(s.headLag, slo.maxHeadLagBlocks);
  if (head.samples > 0) {
    rows.push(ratioRow(
      { ...base, sli: "head_freshness",
        objectiveText: `lag <= ${slo.maxHeadLagBlocks} blocks for >= ${pct(slo.headFreshRatio)} of samples` },
      slo.headFreshRatio, head.samples, head.overThreshold,
    ));
  }
  return rows;
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}

/**
 * SLIs and SLO verdicts for a range: rollups for whole buckets, raw samples for the partial
 * minutes at the edges (see StoreReader.aggregate and `coverage`). SLOs are judged per target
 * and route (all methods of the route together); series rows are per target, route, method.
 */
export function buildReport(
  range: ReportRange, slos: readonly SloObjective[], source: ReportSource, now: number = Date.now(),
): Report {
  const agg = source.aggregate({ since: range.since, until: range.until, chain: range.chain });
  const chainNames = new Set([...agg.series.map((s) => s.chain), ...agg.consistency.map((c) => c.chain)]);
  const chains: ChainReport[] = [];
  for (const chain of [...chainNames].sort(byName)) {
    const slo = sloFor(chain, slos);
    const series = agg.series
      .filter((s) => s.chain === chain)
      .sort((a, b) => byName(a.target, b.target) || byName(a.route, b.route) || byName(a.method, b.method));
    const routes = groupBy(series, (s) => `${s.target}\u0000${s.route}`);
    const cons = agg.consistency.filter((c) => c.chain === chain).sort((a, b) => byName(a.target, b.target));
    const checks = cons.reduce((n, c) => n + c.checks, 0);
    const mismatches = cons.reduce((n, c) => n + c.mismatches, 0);
    const requests = series.reduce((n, s) => n + s.requests, 0);
    const ok = series.reduce((n, s) => n + s.ok, 0);
    chains.push({
      chain, requests, ok, successRatio: ratio(ok, requests),
      slo: [...routes.values()].flatMap((list) => sloRows(mergeSeries(list), slo)),
      series: series.map((s) => seriesReport(s, slo)),
      consistency: {
        checks, mismatches, mismatchRatio: ratio(mismatches, checks),
        byTarget: cons.map((c) => ({ target: c.target, checks: c.checks, mismatches: c.mismatches })),
      },
    });
  }
  const empty = chains.every((c) => c.requests === 0 && c.consistency.checks === 0);
  return {
    generatedAt: now,
    range: { since: range.since, until: range.until, chain: range.chain ?? null },
    coverage: {
      from: agg.plan.from, to: agg.plan.to, granularity: agg.plan.granularity, exactEdges: agg.plan.exactEdges,
    },
    empty,
    note: empty ? "No samples in this range." : null,
    latencyPrecision: { significantDigits: LATENCY_DIGITS, relativeError: LATENCY_RELATIVE_ERROR },
    chains: empty ? [] : chains,
  };
}
