import type { AnomalyEvent, EventStats } from "../store/continuity.js";
import { LatencyCounts, LATENCY_DIGITS, LATENCY_RELATIVE_ERROR } from "../store/latency.js";
import { parseServedBy } from "../store/servedBy.js";
import type { AggregateResult, ContinuityAggregate, SeriesAggregate, TimeRange } from "../store/reader.js";
import type { BaselineRecord } from "../store/baselines.js";
import type { ChaosWindowRecord, WindowQuery } from "../store/chaosWindows.js";
import { comparePeriods } from "./compare.js";
import { parsePeriodStats, periodStats, periodStatsOfChain, planMismatches, type PeriodStats } from "./periodStats.js";
import { ReportQueryError } from "./time.js";
import type { SoakPlan } from "../plan/types.js";
import { buildSoakReport, type SoakSource } from "./soak.js";
import {
  DEFAULT_COMPARISON, sloFor, type ChaosWindowReport, type Comparison, type ComparisonSettings, type ChainReport, type PlannedWatcher, type Report, type ReportContext, type ReportRange, type ResolvedSlo,
  type SeriesReport, type SloObjective, type SloRow, type SoakReport, type WatcherReport,
} from "./types.js";

/** Anything that can merge rollups for a range: a StoreReader (own or the writer's connection). */
export interface ReportSource {
  aggregate(range: TimeRange): AggregateResult;
  /** Chaos windows planned in the range, newest first (absent: the report has no chaos section). */
  chaosWindows?(q: WindowQuery): ChaosWindowRecord[];
  /** A named baseline (absent: named baselines cannot be compared with). */
  baseline?(name: string): BaselineRecord | null;
  /** Soak samples and poll counts (absent: no soak section). */
  soakSamples?: SoakSource["soakSamples"];
  soakPollCounts?: SoakSource["soakPollCounts"];
}

/** Windows in a report: enough for a month of several windows a day. */
const MAX_REPORT_WINDOWS = 1000;

export function chaosWindowReport(w: ChaosWindowRecord): ChaosWindowReport {
  const figures = w.result === null ? null : (({ verdict: _v, reasons: _r, ...rest }) => rest)(w.result);
  return {
    id: w.id, name: w.name, chain: w.chain, provider: w.provider, kind: w.kind, fault: w.fault, trigger: w.trigger,
    plannedStart: w.plannedStart, plannedEnd: w.plannedEnd, started: w.started, ended: w.ended,
    verdict: w.status === "skipped" ? "skipped" : (w.verdict ?? "running"),
    reasons: w.status === "skipped" ? [w.skipReason ?? "skipped"] : (w.result?.reasons ?? (w.abortReason !== null ? [w.abortReason] : [])),
    abortReason: w.abortReason,
    figures,
  };
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
    overhead: { count: 0, sumMs: 0, maxMs: 0, latency: new LatencyCounts() }, headLag: new Map(), regressions: 0, retriesTotal: 0, retriedRequests: 0,
    judged: 0, incorrect: 0, failedAssertions: new Map(),
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
      m.overhead.latency.merge(s.overhead.latency);
    }
    addMaps(m.headLag, s.headLag);
    m.regressions += s.regressions;
    m.retriesTotal += s.retriesTotal;
    m.retriedRequests += s.retriedRequests;
    m.judged += s.judged;
    m.incorrect += s.incorrect;
    addMaps(m.failedAssertions, s.failedAssertions);
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

function seriesReport(s: SeriesAggregate, slo: ResolvedSlo): SeriesReport {
  const [p50, p95, p99] = s.latency.percentilesMs([50, 95, 99]);
  const excluded = planMismatches(s);
  return {
    target: s.target, route: s.route, method: s.method,
    requests: s.requests, ok: s.ok, planMismatches: excluded, successRatio: ratio(s.ok, s.requests - excluded),
    latencyMs: { p50: p50 ?? null, p95: p95 ?? null, p99: p99 ?? null },
    correctness: { judged: s.judged, incorrect: s.incorrect, ratio: ratio(s.judged - s.incorrect, s.judged) },
    errors: [...s.errors]
      .map(([errorClass, count]) => ({ errorClass, count }))
      .sort((a, b) => b.count - a.count || byName(a.errorClass, b.errorClass)),
    failedAssertions: [...s.failedAssertions]
      .map(([assertion, count]) => ({ assertion, count }))
      .sort((a, b) => b.count - a.count || byName(a.assertion, b.assertion)),
    // Most used first; ties by name, the unknown provider last.
    providers: [...s.providers]
      .map(([servedBy, count]) => ({ ...parseServedBy(servedBy), count, share: count / Math.max(1, s.requests) }))
      .sort((a, b) => b.count - a.count || byName(a.provider ?? "\uffff", b.provider ?? "\uffff") ||
        byName(a.transport ?? "\uffff", b.transport ?? "\uffff")),
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
  base: Pick<SloRow, "target" | "route" | "watcher" | "sli" | "objectiveText">, objective: number, events: number, bad: number,
): SloRow {
  const allowed = (1 - objective) * events;
  const actual = ratio(events - bad, events);
  let budgetLeft: number | null = null;
  if (events > 0) budgetLeft = allowed > 0 ? 1 - bad / allowed : bad === 0 ? 1 : null;
  return { ...base, objective, actual, events, bad, budgetLeft, pass: actual === null ? null : actual >= objective - EPS, reason: null };
}

function pct(r: number): string {
  return `${Number((r * 100).toFixed(3))}%`;
}

function sloRows(s: SeriesAggregate, slo: ResolvedSlo): SloRow[] {
  const base = { target: s.target, route: s.route, watcher: null };
  const rows: SloRow[] = [
    ratioRow({ ...base, sli: "success_ratio", objectiveText: `well-formed answers >= ${pct(slo.successRatio)}` },
      slo.successRatio, s.requests - planMismatches(s), s.requests - planMismatches(s) - s.ok),
  ];
  // Of well-formed answers. p95 <= X is the same as "at most 5% of them slower than X": budget counts those.
  const [p95] = s.latency.percentilesMs([95]);
  const events = s.latency.total;
  const bad = s.latency.countAbove(slo.p95LatencyMs * 1000);
  const allowed = 0.05 * events;
  rows.push({
    ...base, sli: "latency_p95_ms", objective: slo.p95LatencyMs, objectiveText: `p95 <= ${slo.p95LatencyMs} ms`,
    actual: p95 ?? null, events, bad,
    budgetLeft: events > 0 ? 1 - bad / allowed : null,
    pass: p95 === undefined || p95 === null ? null : p95 <= slo.p95LatencyMs, reason: null,
  });
  const head = headStats(s.headLag, slo.maxHeadLagBlocks);
  if (head.samples > 0) {
    rows.push(ratioRow(
      { ...base, sli: "head_freshness",
        objectiveText: `lag <= ${slo.maxHeadLagBlocks} blocks for >= ${pct(slo.headFreshRatio)} of samples` },
      slo.headFreshRatio, head.samples, head.overThreshold,
    ));
  }
  if (s.judged > 0) {
    rows.push(ratioRow(
      { ...base, sli: "correctness", objectiveText: `right answers (chain id, shape, monotonic head) >= ${pct(slo.correctnessRatio)}` },
      slo.correctnessRatio, s.judged, s.incorrect,
    ));
  }
  return rows;
}

function consistencyRow(c: { target: string; checks: number; mismatches: number }, slo: ResolvedSlo): SloRow {
  return ratioRow(
    { target: c.target, route: null, watcher: null, sli: "consistency",
      objectiveText: `providers agree on block hashes >= ${pct(slo.consistencyRatio)} of checks` },
    slo.consistencyRatio, c.checks, c.mismatches,
  );
}

const NO_EVENTS: EventStats = { events: 0, countSum: 0, countMax: 0, delayed: 0, delaySumMs: 0, delayMaxMs: 0 };

function watcherReport(c: ContinuityAggregate): WatcherReport {
  const ev = (k: AnomalyEvent): EventStats => c.events.get(k) ?? NO_EVENTS;
  const reorg = ev("reorg");
  const stall = ev("stall");
  const first = ev("first_event");
  const missingBlocks = ev("gap").countSum;
  const logsMissing = ev("log_missing").countSum;
  const unservedBlocks = ev("subscribe_refused").countSum + ev("upgrade_refused").countSum;
  // A percentile is its bucket's highest equivalent value (within 1%); never above the exact max.
  const capped = (v: number | undefined | null, max: number | null): number | null =>
    v === undefined || v === null ? null : max === null ? v : Math.min(v, max);
  const [p50, p95, p99] = c.delay.percentilesMs([50, 95, 99]).map((v) => capped(v, c.delayMaxMs));
  const [sp95] = c.sighting.percentilesMs([95]).map((v) => capped(v, c.sightingMaxMs));
  return {
    target: c.target, watcher: c.watcher, route: c.route, subscription: c.subscription,
    delivered: c.delivered, backfilled: c.backfilled, missingBlocks, duplicates: ev("duplicate").countSum,
    reorgs: reorg.events, maxReorgDepth: reorg.events > 0 ? reorg.countMax : null,
    outOfOrder: ev("out_of_order").events,
    // A stall's detection sample has no delay, its end sample carries the stall's total length.
    stalls: Math.max(stall.events - stall.delayed, stall.delayed), stallSeconds: stall.countSum / 1000,
    reconnects: ev("reconnect").events, clientGapBlocks: ev("client_gap").countSum,
    idChanges: ev("subscription_id_change").events,
    deliveryRatio: ratio(c.delivered, c.delivered + missingBlocks + logsMissing + unservedBlocks),
    delayMs: {
      samples: c.delay.total, p50: p50 ?? null, p95: p95 ?? null, p99: p99 ?? null, max: c.delayMaxMs, clamped: c.delayClamped,
    },
    sightingDelayMs: { samples: c.sighting.total, p95: sp95 ?? null, max: c.sightingMaxMs, clamped: c.sightingClamped },
    firstEventMs: { events: first.events, max: first.delayed > 0 ? first.delayMaxMs : null },
    logsMissing, logsDuplicate: ev("log_duplicate").countSum,
    subscribeRefused: ev("subscribe_refused").events, upgradeRefused: ev("upgrade_refused").events, unservedBlocks,
    connectFailures: ev("connect_failed").events, neverLive: ev("never_live").events,
    state: watcherState(c),
  };
}

function watcherState(c: ContinuityAggregate): WatcherReport["state"] {
  const s = c.lastState;
  if (s === null) return { status: c.delivered > 0 ? "live" : "no_data", at: null, since: null, detail: null };
  const at = { at: s.ts, detail: s.detail };
  switch (s.event) {
    case "stall":
      // An opening sample (no delay) counts the silence before it: the stall began that long before.
      return s.delayMs === null ? { status: "stalled", since: s.ts - s.count, ...at } : { status: "live", since: null, ...at };
    case "never_live":
      return { status: "never_live", since: s.delayMs === null ? null : s.ts - s.delayMs, ...at };
    case "subscribe_refused":
    case "upgrade_refused":
      return { status: s.event, since: null, ...at };
    case "connect_failed":
      return { status: "unreachable", since: null, ...at };
    case "plan_mismatch":
      return { status: "plan_mismatch", since: null, ...at };
    default:
      return { status: "live", since: null, ...at };
  }
}

const iso = (ms: number | null): string => (ms === null ? "?" : new Date(ms).toISOString());

/**
 * The delivery row's events and bad units beyond delivered and missing, and why it fails (or
 * has no data) in words: a watcher refused, never live or stalled at the range's end fails now.
 */
function deliveryVerdict(w: WatcherReport): { extra: number; failingNow: boolean; reason: string | null } {
  const { state } = w;
  const refusals = w.subscribeRefused + w.upgradeRefused;
  const attempts = `${refusals} refused attempt(s) in range, ${w.unservedBlocks} block(s) unserved`;
  switch (state.status) {
    case "subscribe_refused":
    case "upgrade_refused":
      return { extra: 0, failingNow: true, reason: `${state.status === "subscribe_refused" ? "subscribe" : "upgrade"} refused at ${iso(state.at)}: ${state.detail ?? "?"} (${attempts})` };
    case "never_live":
      return { extra: 1, failingNow: true, reason: `never live since ${iso(state.since)}: ${state.detail ?? "?"}` };
    case "stalled":
      return { extra: 1, failingNow: true, reason: `stalled since ${iso(state.since)}: ${state.detail ?? "?"}` };
    default:
      break;
  }
  const reasons: string[] = [];
  if (w.missingBlocks + w.logsMissing > 0) reasons.push(`${w.missingBlocks + w.logsMissing} ${w.subscription === "logs" ? "log(s)" : "block(s)"} never delivered`);
  if (w.unservedBlocks > 0) reasons.push(attempts);
  if (state.status === "unreachable") reasons.push(`target unreachable at ${iso(state.at)} (not counted against Lasso): ${state.detail ?? "?"}`);
  if (state.status === "plan_mismatch") reasons.push(`excluded: the target does not know this route (plan mismatch, see planMismatches): ${state.detail ?? "?"}`);
  if (state.status === "no_data") reasons.push("no samples in this range: the watcher has not run or not connected yet");
  return { extra: 0, failingNow: false, reason: reasons.length === 0 ? null : reasons.join("; ") };
}

/** Zero tolerance: every event good, or the objective is missed; the budget is 1 or 0. */
function zeroToleranceRow(
  base: Pick<SloRow, "target" | "route" | "watcher" | "sli" | "objective" | "objectiveText">,
  actual: number | null, events: number, bad: number,
): SloRow {
  const judged = events > 0 || bad > 0;
  return {
    ...base, actual, events, bad, budgetLeft: judged ? (bad === 0 ? 1 : 0) : null, pass: judged ? bad === 0 : null, reason: null,
  };
}

function watcherSloRows(c: ContinuityAggregate, w: WatcherReport, slo: ResolvedSlo): SloRow[] {
  const base = { target: w.target, route: w.route, watcher: w.watcher };
  const unit = w.subscription === "logs" ? "logs" : "blocks";
  const verdict = deliveryVerdict(w);
  const missing = w.missingBlocks + w.logsMissing + w.unservedBlocks + verdict.extra;
  const delivery = zeroToleranceRow(
    { ...base, sli: "delivery", objective: 1, objectiveText: `100% of ${unit} delivered (after gap filling; client gaps excluded)` },
    ratio(w.delivered, w.delivered + missing), w.delivered + missing, missing,
  );
  if (verdict.failingNow) Object.assign(delivery, { pass: false, budgetLeft: 0 });
  delivery.reason = verdict.reason;
  const rows: SloRow[] = [
    delivery,
    zeroToleranceRow(
      { ...base, sli: "duplicates", objective: 0, objectiveText: "0 duplicate deliveries" },
      w.delivered > 0 || w.duplicates + w.logsDuplicate > 0 ? w.duplicates + w.logsDuplicate : null,
      w.delivered, w.duplicates + w.logsDuplicate,
    ),
  ];
  const max = slo.maxDeliveryDelayMs;
  if (max !== null) {
    const events = c.delay.total;
    const bad = c.delay.countAbove(max * 1000);
    const p95 = w.delayMs.p95;
    rows.push({
      ...base, sli: "delivery_delay_p95_ms", objective: max, objectiveText: `delivery delay p95 <= ${max} ms`,
      actual: p95, events, bad, budgetLeft: events > 0 ? 1 - bad / (0.05 * events) : null,
      pass: p95 === null ? null : p95 <= max, reason: null,
    });
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

const continuityKey = (c: Pick<ContinuityAggregate, "target" | "chain" | "watcher" | "route" | "subscription">): string => [c.target, c.chain, c.watcher, c.route, c.subscription].join("\u0000");

/** A planned watcher with no sample in the range: listed with zeros and no data. */
function noSamples(p: PlannedWatcher): ContinuityAggregate {
  return {
    ...p, delivered: 0, backfilled: 0, delay: new LatencyCounts(), delayClamped: 0, delayMaxMs: null,
    sighting: new LatencyCounts(), sightingClamped: 0, sightingMaxMs: null, events: new Map(), lastState: null,
  };
}

/**
 * SLIs and SLO verdicts for a range: rollups for whole buckets, raw samples for the partial
 * minutes at the edges (see StoreReader.aggregate and `coverage`). SLOs are judged per target
 * and route (all methods of the route together); series rows are per target, route, method.
 * `planned`: the plan's watchers, each listed even without a sample (no data, never a FAIL).
 */
/** The named baseline's statistics (for the range's chain when it has one); ReportQueryError when unknown. */
function namedBaseline(source: ReportSource, name: string, chain: string | undefined): { stats: PeriodStats; about: Comparison["baseline"] } {
  const b = source.baseline?.(name) ?? null;
  if (b === null) throw new ReportQueryError(`unknown baseline ${JSON.stringify(name)}: save one with lasso-canary baseline save ${name} --since ...`);
  if (chain !== undefined && b.chain !== null && b.chain !== chain) {
    throw new ReportQueryError(`baseline ${JSON.stringify(name)} holds chain ${b.chain} only, not ${chain}`);
  }
  let stats: PeriodStats;
  try {
    stats = parsePeriodStats(b.stats);
  } catch (err) {
    throw new Error(`baseline ${JSON.stringify(name)} is unreadable: ${err instanceof Error ? err.message : String(err)}`);
  }
  return {
    stats: chain === undefined ? stats : periodStatsOfChain(stats, chain),
    about: { kind: "named", name: b.name, since: b.since, until: b.until, chain: b.chain, savedAt: b.savedAt },
  };
}

/** The range compared with its baseline (range.baseline), or null when none was asked for. */
function comparison(range: ReportRange, current: () => PeriodStats, source: ReportSource, settings: ComparisonSettings): Comparison | null {
  const req = range.baseline;
  if (req === undefined) return null;
  const baseline = req.kind === "named"
    ? namedBaseline(source, req.name, range.chain)
    : {
      stats: periodStats(source.aggregate({ since: req.since, until: req.until, chain: range.chain })),
      about: { kind: "range" as const, name: null, since: req.since, until: req.until, chain: range.chain ?? null, savedAt: null },
    };
  return comparePeriods(
    { baseline: baseline.stats, current: current(), about: baseline.about, currentRange: { since: range.since, until: range.until } }, settings,
  );
}

export function buildReport(
  range: ReportRange, slos: readonly SloObjective[], source: ReportSource, now: number = Date.now(), context: ReportContext = {},
  planned: readonly PlannedWatcher[] = [],
): Report {
  const agg = source.aggregate({ since: range.since, until: range.until, chain: range.chain });
  const compared = comparison(range, () => periodStats(agg), source, context.comparison ?? DEFAULT_COMPARISON);
  const stored = new Set(agg.continuity.map(continuityKey));
  const continuity = [
    ...agg.continuity,
    ...planned.filter((p) => (range.chain === undefined || p.chain === range.chain) && !stored.has(continuityKey(p))).map(noSamples),
  ];
  const chainNames = new Set([
    ...agg.series.map((s) => s.chain), ...agg.consistency.map((c) => c.chain), ...continuity.map((c) => c.chain),
  ]);
  // Grouped once: filtering every list per chain made a report O(chains x series).
  const seriesOf = groupBy(agg.series, (s) => s.chain);
  const consistencyOf = groupBy(agg.consistency, (c) => c.chain);
  const continuityOf = groupBy(continuity, (c) => c.chain);
  const chains: ChainReport[] = [];
  for (const chain of [...chainNames].sort(byName)) {
    const slo = sloFor(chain, slos);
    const series = (seriesOf.get(chain) ?? [])
      .sort((a, b) => byName(a.target, b.target) || byName(a.route, b.route) || byName(a.method, b.method));
    const routes = groupBy(series, (s) => `${s.target}\u0000${s.route}`);
    const cons = (consistencyOf.get(chain) ?? []).sort((a, b) => byName(a.target, b.target));
    const checks = cons.reduce((n, c) => n + c.checks, 0);
    const mismatches = cons.reduce((n, c) => n + c.mismatches, 0);
    const requests = series.reduce((n, s) => n + s.requests - planMismatches(s), 0);
    const ok = series.reduce((n, s) => n + s.ok, 0);
    const watchers = (continuityOf.get(chain) ?? [])
      .sort((a, b) => byName(a.target, b.target) || byName(a.watcher, b.watcher) || byName(a.route, b.route) ||
        byName(a.subscription, b.subscription))
      .map((c) => ({ c, w: watcherReport(c) }));
    chains.push({
      chain, requests, ok, successRatio: ratio(ok, requests),
      slo: [
        ...[...routes.values()].flatMap((list) => sloRows(mergeSeries(list), slo)),
        ...cons.filter((c) => c.checks > 0).map((c) => consistencyRow(c, slo)),
        ...watchers.flatMap(({ c, w }) => watcherSloRows(c, w, slo)),
      ],
      series: series.map((s) => seriesReport(s, slo)),
      consistency: {
        checks, mismatches, mismatchRatio: ratio(mismatches, checks),
        byTarget: cons.map((c) => ({ target: c.target, checks: c.checks, mismatches: c.mismatches })),
      },
      continuity: { watchers: watchers.map(({ w }) => w) },
    });
  }
  // Planned watchers without samples do not make a range hold data.
  const empty = chains.every((c) => c.requests === 0 && c.consistency.checks === 0) && agg.continuity.length === 0;
  return {
    generatedAt: now,
    range: { since: range.since, until: range.until, chain: range.chain ?? null, adjusted: range.adjusted ?? null },
    coverage: {
      from: agg.samples.first, to: agg.samples.last, samplesExact: agg.samples.exact,
      read: { from: agg.plan.from, to: agg.plan.to }, granularity: agg.plan.granularity, exactEdges: agg.plan.exactEdges,
      continuity: {
        ...agg.continuityCoverage,
        delivered: {
          ...agg.continuityCoverage.delivered,
          exactEdges: agg.continuityCoverage.delivered.from === null ||
            (agg.continuityCoverage.delivered.from === range.since && agg.continuityCoverage.delivered.to === range.until),
        },
      },
    },
    empty,
    note: empty ? "No samples in this range." : null,
    planMismatches: (context.planMismatches ?? []).filter((m) => range.chain === undefined || m.chain === range.chain),
    latencyPrecision: { significantDigits: LATENCY_DIGITS, relativeError: LATENCY_RELATIVE_ERROR },
    chains: empty ? [] : chains,
    chaos: (source.chaosWindows?.({ since: range.since, until: range.until, ...(range.chain !== undefined ? { chain: range.chain } : {}), limit: MAX_REPORT_WINDOWS }) ?? [])
      .reverse()
      .map(chaosWindowReport),
    comparison: compared,
    soak: soakSection(source, context.soak ?? null, range),
  };
}

function soakSection(source: ReportSource, plan: SoakPlan | null, range: ReportRange): SoakReport | null {
  const { soakSamples, soakPollCounts } = source;
  if (plan === null || soakSamples === undefined || soakPollCounts === undefined) return null;
  return buildSoakReport({ soakSamples: soakSamples.bind(source), soakPollCounts: soakPollCounts.bind(source) }, plan, range);
}
