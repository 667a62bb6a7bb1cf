import type { Fault } from "../chaos/faults.js";
import type { ChaosVerdict, WindowKind, WindowResult } from "../chaos/windowTypes.js";
import type { TestName } from "./significance.js";
import type { SoakMetric, SoakPlan } from "../plan/types.js";
import type { SoakRestart } from "../samples.js";
import type { SoakJudgement } from "../soak/verdict.js";
/**
 * SLO objectives for one chain (DESIGN.md "Default SLOs"). Availability and correctness are
 * separate SLIs with separate budgets: a well-formed answer is available even when it is wrong
 * or stale; a wrong one burns the correctness budget, a stale one the freshness budget.
 */
export interface SloObjective {
  chain: string;
  /** Availability per route: share of probes Lasso answered with a well-formed JSON-RPC result, e.g. 0.999. */
  successRatio: number;
  /** p95 latency of well-formed answers per route, ms, e.g. 300. */
  p95LatencyMs: number;
  /** Served head may trail the providers' consensus by at most this many blocks. */
  maxHeadLagBlocks: number;
  /** Share of head samples that must be within maxHeadLagBlocks. Default 0.99. */
  headFreshRatio?: number;
  /** Share of judged answers per route that must pass every correctness assertion (chainId, shape, monotonicHead). Default 0.999. */
  correctnessRatio?: number;
  /** Share of cross-provider block hash comparisons per target that must agree. Default 0.999. */
  consistencyRatio?: number;
  /**
   * Subscription delivery delay objective: p95 of (arrival - block timestamp) per watcher must
   * be <= this, ms (e.g. 2 block times). Optional, no default (null or absent: none): the report
   * does not know block times, so without it there is no delay SLO row. Delivery (100% of
   * blocks, no gap) and duplicates (0) are always judged.
   */
  maxDeliveryDelayMs?: number | null;
}

/** An SloObjective with defaults filled in; maxDeliveryDelayMs null when not given. */
export type ResolvedSlo = Required<Omit<SloObjective, "maxDeliveryDelayMs">> & { maxDeliveryDelayMs: number | null };

/** The defaults of every objective but the delivery delay (which has none); the plan uses them too. */
export const DEFAULT_SLO: Omit<ResolvedSlo, "chain" | "maxDeliveryDelayMs"> = {
  successRatio: 0.999,
  p95LatencyMs: 300,
  maxHeadLagBlocks: 2,
  headFreshRatio: 0.99,
  correctnessRatio: 0.999,
  consistencyRatio: 0.999,
};

export function sloFor(chain: string, slos: readonly SloObjective[]): ResolvedSlo {
  const s = slos.find((x) => x.chain === chain);
  return {
    chain,
    successRatio: s?.successRatio ?? DEFAULT_SLO.successRatio,
    p95LatencyMs: s?.p95LatencyMs ?? DEFAULT_SLO.p95LatencyMs,
    maxHeadLagBlocks: s?.maxHeadLagBlocks ?? DEFAULT_SLO.maxHeadLagBlocks,
    headFreshRatio: s?.headFreshRatio ?? DEFAULT_SLO.headFreshRatio,
    correctnessRatio: s?.correctnessRatio ?? DEFAULT_SLO.correctnessRatio,
    consistencyRatio: s?.consistencyRatio ?? DEFAULT_SLO.consistencyRatio,
    maxDeliveryDelayMs: s?.maxDeliveryDelayMs ?? null,
  };
}

/** A route (or chain id) of the plan the target does not know: see src/lasso/planCheck.ts. */
export interface PlanMismatchEntry {
  target: string;
  chain: string;
  route: string | null;
  kind: string;
  detail: string;
  fix: string;
  since: number;
}

/** What the daemon knows now that the store does not hold. */
export interface ReportContext {
  /** The plan check's current findings (live; absent when the report is built from the store alone). */
  planMismatches?: PlanMismatchEntry[];
  /** The running plan's watchers: every one is listed, with or without samples. */
  watchers?: PlannedWatcher[];
  /** Thresholds and significance of a baseline comparison (the plan's `comparison:`); absent: the defaults. */
  comparison?: ComparisonSettings;
  /** The plan's soak settings: the report judges the soak window again from the store. Absent or null: no soak section. */
  soak?: SoakPlan | null;
}

/** One soak series (a metric of a Lasso node or of the daemon) judged at the report's end. */
export interface SoakMetricReport extends SoakJudgement {
  metric: SoakMetric;
  /** The latest sample of the current series before the report's end; null when none. */
  value: number | null;
}

export interface SoakSubjectReport {
  subject: "lasso" | "canary";
  /** Config target name; "self" for the daemon. */
  target: string;
  /** Chain polled at /api/metrics/:chain (null for the daemon). */
  chain: string | null;
  /** Polls in the report's range, failed ones, by error class, and restarts seen (each began a new series). */
  polls: number;
  pollErrors: number;
  errorClasses: { errorClass: string; count: number }[];
  restarts: number;
  /** Start of the series judged (the first sample, or the one after the last restart); null without samples. */
  seriesStart: number | null;
  /** The restart that began the series judged, when a restart did. */
  lastRestart: { at: number; reason: SoakRestart } | null;
  metrics: SoakMetricReport[];
}

/**
 * Soak leak detection. Each series is judged as the daemon judges it, over the sliding
 * window that ends at the range's end (whatever the range's length); polls, errors and
 * restarts are counted over the range.
 */
export interface SoakReport {
  at: number;
  settings: Omit<SoakPlan, "targets">;
  subjects: SoakSubjectReport[];
}

/** Why the range differs from what was asked (see parseReportQuery). */
export interface RangeAdjustment {
  /** The requested since when it was clamped to the retention; null when since was not given. */
  requestedSince: number | null;
  note: string;
}

export interface ReportRange {
  since: number;
  until: number;
  chain?: string | undefined;
  adjusted?: RangeAdjustment | undefined;
  /** Compare the range with this baseline (Report.comparison). */
  baseline?: BaselineRequest | undefined;
}

export interface LatencyReport {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface SeriesReport {
  target: string;
  route: string;
  method: string;
  requests: number;
  /** Well-formed answers (a JSON-RPC result), right or wrong, fresh or stale. */
  ok: number;
  /**
   * Answers that were plan mismatches (Lasso does not know this route's chain, provider or
   * profile): our configuration's fault, so excluded from every SLI (successRatio is
   * ok / (requests - planMismatches)).
   */
  planMismatches: number;
  /** Availability: ok / (requests - planMismatches). */
  successRatio: number | null;
  /** ms, well-formed answers (the population of lasso_canary_probe_latency_seconds), from merged HdrHistograms (within 1%). */
  latencyMs: LatencyReport;
  /**
   * Answers judged by a correctness assertion (chainId, shape, monotonicHead), those that failed
   * one, and correct / judged (null when none was judged).
   */
  correctness: { judged: number; incorrect: number; ratio: number | null };
  /** Answers that failed each assertion (freshness included), most first. */
  failedAssertions: { assertion: string; count: number }[];
  errors: { errorClass: string; count: number }[];
  /** Per provider and the transport it served over (`selected_provider.protocol`; null when unknown). */
  providers: { provider: string | null; transport: string | null; count: number; share: number }[];
  overheadMs: { samples: number; mean: number | null; max: number | null };
  head: {
    samples: number;
    meanLag: number | null;
    maxLag: number | null;
    threshold: number;
    overThreshold: number;
    overThresholdShare: number | null;
  };
  headRegressions: number;
  retries: { total: number; retriedRequests: number };
}

/**
 * Probe SLIs (per target and route), each with its own budget:
 * - success_ratio: availability. events = probes (plan mismatches excluded), bad = no well-formed
 *   answer (timeouts, connect errors, HTTP and JSON-RPC errors, invalid responses). An answer
 *   that fails an assertion is good here: it is judged by the rows below.
 * - latency_p95_ms: p95 of the well-formed answers' latency; events = those answers, bad = slower than the objective.
 * - head_freshness: events = answers with a head lag (freshness assertion), bad = lag over maxHeadLagBlocks.
 * - correctness: events = answers judged by chainId, shape or monotonicHead assertions, bad = those
 *   that failed any of them. One row for all three: each is a wrong answer with the same impact on
 *   a client, and split they would each hold too few events for a ratio objective to mean much
 *   (the series' failedAssertions say which one failed). Only when some answer was judged.
 * Chain consistency (per target, `route` null): consistency, events = cross-provider block hash
 *   comparisons at a safe depth, bad = those where providers disagreed. Only when checks ran.
 * Subscription SLIs (per watcher, `watcher` set):
 * - delivery: events = units owed (delivered + missing blocks + missing logs + unserved blocks),
 *   bad = missing + unserved (confirmed gaps after Lasso's gap filling, logs missing against
 *   eth_getLogs, blocks produced between refused subscribe/upgrade attempts); objective 1 (100%).
 *   A stall still open at the range's end (never-live sessions included) adds one owed and
 *   undelivered block (the one that proved it). It fails while the watcher is refused, never
 *   live or stalled at the range's end, even before a block is counted; `reason` says why.
 *   Client gaps and unreachable targets (our own side) are neither events nor bad.
 * - duplicates: events = delivered, bad = repeats (duplicate + log_duplicate counts); objective 0,
 *   actual = the number of repeats.
 * - delivery_delay_p95_ms: only when SloObjective.maxDeliveryDelayMs is given; like latency.
 */
export type Sli =
  | "success_ratio" | "latency_p95_ms" | "head_freshness" | "correctness" | "consistency"
  | "delivery" | "duplicates" | "delivery_delay_p95_ms";

export interface SloRow {
  target: string;
  /** null for the consistency SLI: it compares the chain's pinned routes with each other. */
  route: string | null;
  /** The subscription watcher a subscription SLI is about; null for probe SLIs. */
  watcher: string | null;
  sli: Sli;
  /** Ratio for success/freshness/correctness/consistency/delivery, ms for latency and delay, a count for duplicates. */
  objective: number;
  objectiveText: string;
  /** Same unit as objective. */
  actual: number | null;
  /** Events the SLI counted and the bad ones among them. */
  events: number;
  bad: number;
  /**
   * 1 - bad / allowed_bad; negative when overspent; null without data. Zero-tolerance
   * objectives (delivery 100%, duplicates 0) allow no bad event, so their budget is all or
   * nothing: 1 while nothing bad happened, 0 from the first bad event on.
   */
  budgetLeft: number | null;
  pass: boolean | null;
  /** Why the verdict is what it is when it is not a plain PASS (subscription SLIs): refusal, stall, gaps, no data. */
  reason: string | null;
}

/** A watcher of the plan: listed in the report even without a sample. */
export interface PlannedWatcher {
  target: string;
  chain: string;
  watcher: string;
  route: string;
  subscription: "newHeads" | "logs";
}

/**
 * A watcher at the range's end, from its last state sample (STATE_EVENTS in store/continuity.ts):
 * live (a session up or delivering), stalled (a stall opened and not closed), never_live (a
 * subscription acknowledged, nothing delivered), subscribe_refused / upgrade_refused (the last
 * attempt was refused by Lasso), unreachable (the last attempt could not reach the target),
 * no_data (nothing in the range).
 */
export type WatcherStatus = "live" | "stalled" | "never_live" | "subscribe_refused" | "upgrade_refused" | "unreachable" | "plan_mismatch" | "no_data";

/** One subscription watcher over the range (see ContinuitySample for the event kinds). */
export interface WatcherReport {
  target: string;
  watcher: string;
  route: string;
  subscription: string;
  /** Events received (repeats included). Whole buckets at the range edges: see Report.coverage.continuity. */
  delivered: number;
  /** Of those, backfilled full blocks. */
  backfilled: number;
  /** Blocks Lasso never delivered (sum of gap counts). */
  missingBlocks: number;
  /** Repeated deliveries (sum of duplicate counts). */
  duplicates: number;
  reorgs: number;
  /** Deepest reorg (blocks replaced); null without reorgs. */
  maxReorgDepth: number | null;
  outOfOrder: number;
  /**
   * Stalls: a watcher emits a stall sample when one is detected (no delay) and another when it
   * ends (delay = its whole length); stalls = max(detected, ended) in the range, so a stall
   * split by a range edge still counts (two split at both edges count as one). stallSeconds sums both samples' counts (silence until
   * detection + the rest), i.e. the stall time the range holds.
   */
  stalls: number;
  stallSeconds: number;
  /** The watcher's own reconnects (not Lasso's fault by themselves). */
  reconnects: number;
  /** Blocks (logs for a logs watcher) missed while our own socket was down, fetched over HTTP: never held against Lasso. */
  clientGapBlocks: number;
  /** Subscription id changes seen in notifications. */
  idChanges: number;
  /** delivered / (delivered + missingBlocks + logsMissing + unservedBlocks); null when there is none. */
  deliveryRatio: number | null;
  /** Arrival minus block timestamp (the block timestamp has 1 s resolution). Negatives (clock skew) are counted as 0 and in `clamped`. */
  delayMs: { samples: number; p50: number | null; p95: number | null; p99: number | null; max: number | null; clamped: number };
  /** Arrival minus the first HTTP sighting of the height (delivered samples HTTP saw first). */
  sightingDelayMs: { samples: number; p95: number | null; max: number | null; clamped: number };
  /** Subscribe to first event, per (re)subscription. */
  firstEventMs: { events: number; max: number | null };
  /** Logs missing against eth_getLogs over closed ranges, and logs delivered twice. */
  logsMissing: number;
  logsDuplicate: number;
  /** Attempts Lasso refused: eth_subscribe answered with an error, or the WS upgrade with an HTTP status. */
  subscribeRefused: number;
  upgradeRefused: number;
  /** Blocks produced between refused attempts: owed, never delivered (in the delivery SLI). */
  unservedBlocks: number;
  /** Attempts that could not reach the target (our side or the network: never held against Lasso). */
  connectFailures: number;
  /** Sessions Lasso acknowledged that delivered nothing while the chain moved. */
  neverLive: number;
  /** At the range's end; `since` when the state began (a stall's start), `detail` the last state sample's. */
  state: { status: WatcherStatus; at: number | null; since: number | null; detail: string | null };
}

export interface ChainReport {
  chain: string;
  /** Probe requests that count for Lasso's SLIs (plan mismatches excluded). */
  requests: number;
  /** Well-formed answers among them (availability). */
  ok: number;
  successRatio: number | null;
  slo: SloRow[];
  series: SeriesReport[];
  consistency: {
    checks: number;
    mismatches: number;
    mismatchRatio: number | null;
    byTarget: { target: string; checks: number; mismatches: number }[];
  };
  /** Subscription watchers (their SLO rows are in `slo`, with `watcher` set). */
  continuity: { watchers: WatcherReport[] };
}

/** One chaos window planned in the range (table chaos_windows): what ran, what it measured, its verdict. */
export interface ChaosWindowReport {
  id: number;
  name: string;
  chain: string;
  provider: string;
  kind: WindowKind;
  fault: Fault;
  trigger: "schedule" | "manual";
  plannedStart: number;
  plannedEnd: number;
  started: number | null;
  ended: number | null;
  /** The verdict; "skipped" (precondition, another window running) or "running" when there is none. */
  verdict: ChaosVerdict | "skipped" | "running";
  /** The verdict's reasons; for a skipped window, why it was skipped. */
  reasons: string[];
  abortReason: string | null;
  /** What the window measured; null when it did not run (skipped, or interrupted before a verdict). */
  figures: Omit<WindowResult, "verdict" | "reasons"> | null;
}

export interface Report {
  generatedAt: number;
  /**
   * The range judged. `adjusted` (null when the range is as asked) says why it differs: since
   * clamped to the store's retention, or since not given with until (24h before until).
   */
  range: { since: number; until: number; chain: string | null; adjusted: RangeAdjustment | null };
  coverage: {
    /**
     * The first and last probe or consistency sample in the range (null when none): exact
     * timestamps within raw retention; where only rollups are left, the bound of the finest
     * bucket holding one, clamped to the range, and `samplesExact` is false.
     */
    from: number | null;
    to: number | null;
    samplesExact: boolean;
    /**
     * What was read. Whole days, hours and minutes come from rollups; the partial minutes at
     * the edges from the raw samples, filtered by timestamp, so normally read.from = since and
     * read.to = until exactly (exactEdges). Where an edge's raw samples are past raw retention
     * (or finer rollups past theirs), that edge is rounded out to the enclosing minute, hour or
     * day bucket: read.from/to say where to, and exactEdges is false. Samples written but not
     * yet compacted (the last ~2 minutes) are included.
     */
    read: { from: number | null; to: number | null };
    /**
     * Rollup level the whole buckets were read from ("mixed" when several); "raw" when the
     * range holds no whole minute and was read from raw samples only; "none" when empty.
     */
    granularity: "minute" | "hour" | "day" | "mixed" | "raw" | "none";
    /** True when the data read covers exactly [since, until) (read.from = since, read.to = until, or an empty range). */
    exactEdges: boolean;
    /**
     * Subscriptions (chains[].continuity and their SLO rows) have a coverage of their own.
     * Anomalies (gaps, duplicates, reorgs, stalls, ...) are kept raw for the raw retention, so
     * from/to are normally exactly since/until, like probes, and the delivery and duplicates
     * verdicts are exact; an edge whose raw anomalies are past retention is rounded out to its
     * rollup bucket (exactEdges false). Delivered counts and delays are kept in rollups only
     * (delivered samples are not kept raw: ~1.7 M a day for 20 watchers), so `delivered`
     * covers the range rounded out to whole minutes (an edge minute counts whole), or to
     * whole hours once continuity minute rollups are past their retention (default 3 days).
     */
    continuity: {
      from: number | null;
      to: number | null;
      exactEdges: boolean;
      delivered: { from: number | null; to: number | null; exactEdges: boolean };
    };
  };
  empty: boolean;
  note: string | null;
  /**
   * Plan mismatches found by the daemon's plan check, live at `generatedAt` (empty when the
   * report was built from the store alone, e.g. by the CLI). Answers from such routes are
   * counted per series in `planMismatches` and excluded from every SLI.
   */
  planMismatches: PlanMismatchEntry[];
  latencyPrecision: { significantDigits: number; relativeError: number };
  chains: ChainReport[];
  /** Chaos windows planned in the range (and chain), oldest first. */
  chaos: ChaosWindowReport[];
  /** Soak leak detection (all chains: the figures are VM-wide); null when the plan has no soak sampling. */
  soak: SoakReport | null;
  /** The range compared with a baseline (`baseline=` / `--baseline`); null when none was asked for. */
  comparison: Comparison | null;
}

// ---------------------------------------------------------------- baseline comparison

/**
 * The baseline a report is compared with (`baseline=` of /report, `--baseline` of the CLI):
 * - range: [since, until) read from the store like the report's own range; `baseline=7d` is
 *   the 7 days immediately before the report's since, `baseline=FROM..TO` an absolute range;
 * - named: statistics saved with `lasso-canary baseline save NAME` (table `baselines`), which
 *   outlive the retention of the data they were computed from.
 */
export type BaselineRequest = { kind: "range"; since: number; until: number } | { kind: "named"; name: string };

/** The metrics a comparison judges. Each row compares one of them for one series or watcher. */
export type ComparedMetric =
  | "success_ratio" | "latency_p50_ms" | "latency_p95_ms" | "latency_p99_ms" | "head_lag_blocks" | "overhead_ms"
  | "delivery_delay_p50_ms" | "delivery_delay_p95_ms";

/** The configurable SLIs; each threshold covers the metrics of its SLI (latency: p50, p95 and p99). */
export type ComparedSli = "successRatio" | "latency" | "headLag" | "overhead" | "deliveryDelay";

/**
 * How big a change must be to count: BOTH |relative change| >= relative AND |absolute change|
 * >= absolute (absolute: ms for latency, overhead and delivery delay; blocks for head lag;
 * share points for the success ratio's failure share).
 */
export interface ChangeThreshold {
  relative: number;
  absolute: number;
}

export interface ComparisonSettings {
  /** Family-wise significance level: Holm-adjusted p-values below it are significant. */
  alpha: number;
  /** The fewest samples each period needs for any test (quantiles need more: see ComparisonRow.minSamples). */
  minSamples: number;
  thresholds: Record<ComparedSli, ChangeThreshold>;
}

/**
 * Defaults: +-10% (the battle-testing plan's regression check), with absolute floors below
 * which a shift is scheduler or clock noise (latency and overhead 1 ms, head lag 0.1 blocks,
 * delivery delay 50 ms: block timestamps have 1 s resolution), alpha 0.01 family-wise.
 */
export const DEFAULT_COMPARISON: ComparisonSettings = {
  alpha: 0.01,
  minSamples: 20,
  thresholds: {
    successRatio: { relative: 0.1, absolute: 0 },
    latency: { relative: 0.1, absolute: 1 },
    headLag: { relative: 0.1, absolute: 0.1 },
    overhead: { relative: 0.1, absolute: 1 },
    deliveryDelay: { relative: 0.1, absolute: 50 },
  },
};

/**
 * - regression: the change is beyond the threshold in the worse direction AND significant;
 * - improved: the same in the better direction;
 * - ok: within the threshold (whatever its significance);
 * - inconclusive: too few samples in a period for the test, or beyond the threshold but not
 *   significant (the data cannot tell a change from noise);
 * - no_data: one of the periods holds no sample (a new or removed series or watcher).
 */
export type ComparisonVerdict = "regression" | "improved" | "ok" | "inconclusive" | "no_data";

export interface ComparisonRow {
  chain: string;
  target: string;
  route: string;
  /** Probe metrics: the JSON-RPC method; null for delivery delay rows (per watcher). */
  method: string | null;
  /** Delivery delay rows: the subscription watcher; null for probe metrics. */
  watcher: string | null;
  metric: ComparedMetric;
  /** Which direction is worse: latency, lag, overhead and delay up; the success ratio down. */
  worse: "higher" | "lower";
  /**
   * value: the metric (success ratio; percentile or mean in ms; mean lag in blocks), null
   * without samples. samples: requests for the success ratio, well-formed answers for latency,
   * head samples, overhead samples (with a stored histogram), delivered samples with a delay.
   */
  baseline: { value: number | null; samples: number };
  current: { value: number | null; samples: number };
  /**
   * absolute: current - baseline, in the metric's unit. relative: of the quantity judged, signed
   * so that positive is worse for every metric: (current - baseline) / baseline for the rest; for
   * the success ratio, the relative change of the failure share (1 - ratio), so 99.9% -> 99.8%
   * is +1.0 (+100%, failures doubled). null when the baseline quantity is 0 (a change from zero
   * has no relative size: it counts as beyond any relative threshold) or without data.
   */
  change: { absolute: number | null; relative: number | null };
  threshold: ChangeThreshold;
  /** The fewest samples each period needs for this row's test. */
  minSamples: number;
  /**
   * The test run (null when a period had too few samples): p is its two-sided p-value,
   * adjustedP the Holm-adjusted one over every test of this comparison, compared with alpha.
   */
  test: { name: TestName; p: number; adjustedP: number } | null;
  verdict: ComparisonVerdict;
  /** Why, in words (the numbers behind the verdict). */
  reason: string;
}

export interface Comparison {
  baseline: {
    kind: "range" | "named";
    /** The named baseline; null for a range. */
    name: string | null;
    /** The baseline's period (for a named one, the period it was computed from). */
    since: number;
    until: number;
    /** The chain a named baseline was saved for (null: all); a range has the report's chain. */
    chain: string | null;
    /** When a named baseline was saved; null for a range. */
    savedAt: number | null;
  };
  current: { since: number; until: number };
  settings: ComparisonSettings;
  /** Rows per verdict. */
  counts: Record<ComparisonVerdict, number>;
  /** True when any row is a regression (the CLI then exits 3). */
  regression: boolean;
  /** Per chain, target, route and method (probe metrics) or watcher (delivery delay), then metric. */
  rows: ComparisonRow[];
}
