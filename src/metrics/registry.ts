import { performance } from "node:perf_hooks";
import client from "prom-client";
import type { ContinuitySample, Sample, SampleSink, SoakErrorClass, SoakSample } from "../samples.js";
import { PLANNED_ERROR_CLASSES, plannedWatchEvents, type ExpectedSeries } from "./fromPlan.js";
import { AnswerLabels, DEFAULT_LABEL_BUDGETS, OVERFLOW_LABELS, type LabelBudgets } from "./labelBounds.js";
import { registerNodeMetrics } from "./nodeDefaults.js";

const LOOP_LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** SQLite transactions take ~1 ms for a second's samples here; the tail is what blocks the loop. */
const STORE_TRANSACTION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10];
const OVERHEAD_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1];
/** Block timestamps have 1 s resolution: delays from block time sit between 0 and a block time on a healthy stream. */
const DELIVERY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 20, 30, 60, 120];

/**
 * How much a continuity sample adds to lasso_canary_watch_events_total: blocks or logs for
 * the events whose count is a size (gap, client_gap, duplicate, log_missing, log_duplicate),
 * one per event otherwise: refusals and connect failures count attempts (a refusal's unserved
 * blocks go to lasso_canary_watch_unserved_blocks_total), never_live counts sessions. A stall
 * is two samples (opened, then closed with its total in delayMs): only the opening one counts.
 */
export function watchEventIncrement(s: ContinuitySample): number {
  switch (s.event) {
    case "gap":
    case "client_gap":
    case "duplicate":
    case "log_missing":
    case "log_duplicate":
      return s.count;
    case "stall":
      return s.delayMs === null ? 1 : 0;
    default:
      return 1;
  }
}

type WatcherLabels = { target: string; chain: string; watcher: string };

const DELAY_SOURCES = ["block_time", "http_sighting"] as const;
/** Every class a soak poll can fail with (SoakErrorClass): all start at 0. */
const SOAK_ERROR_CLASSES: readonly SoakErrorClass[] = ["connect", "timeout", "http_401", "http_403", "unknown_chain", "http_4xx", "http_5xx", "invalid_response"];

/** The prom-client sink: every sample becomes counter/histogram updates, nothing else. */
export class MetricsSink implements SampleSink {
  readonly registry = new client.Registry();
  /** Provider ids, error codes, transports and circuit states come from Lasso's answers: bounded here. */
  private readonly answerLabels: AnswerLabels;
  private readonly labelOverflow;
  private readonly probeMeta;
  private readonly metaRoutes = new Set<string>();
  private readonly requests;
  private readonly success;
  private readonly latency;
  private readonly served;
  private readonly headLag;
  private readonly regressions;
  private readonly assertionFailures;
  private readonly overhead;
  private readonly retries;
  private readonly consistency;
  private readonly watchEvents;
  private readonly watchIncidents;
  private readonly watchStall;
  private readonly watchDelay;
  private readonly watchLastEvent;
  private readonly watchStalled;
  private readonly watchUnserved;
  private readonly loopLag;
  private readonly storeTransactions;
  private readonly sloObjective;
  private readonly soakPolls;
  private readonly soakPollErrors;
  private readonly soakRestarts;
  /** Open stalls by watcher: stall seconds are added at each scrape while they last. */
  private readonly openStalls = new Map<string, { labels: WatcherLabels; openedAt: number; countedTo: number }>();
  private readonly knownWatchers = new Set<string>();
  private readonly clock: () => number;

  /**
   * `clock`: epoch ms on the watchers' clock (sample timestamps), for open stalls at scrape time.
   * `labelBudgets`: distinct provider ids and error codes kept by name (see labelBounds.ts).
   */
  constructor(opts: { version: string; collectDefaults?: boolean; clock?: () => number; labelBudgets?: Partial<LabelBudgets> }) {
    this.clock = opts.clock ?? (() => performance.timeOrigin + performance.now());
    const r = this.registry;
    if (opts.collectDefaults !== false) registerNodeMetrics(r);
    this.loopLag = new client.Histogram({
      name: "lasso_canary_eventloop_lag_seconds",
      help: "How late timers with a known due time ran (probe and watcher grids, 1 s heartbeat): the event-loop lag the probe clock suffers.",
      buckets: LOOP_LAG_BUCKETS,
      registers: [r],
    });
    this.storeTransactions = new client.Histogram({
      name: "lasso_canary_store_transaction_duration_seconds",
      help: "Store transactions on the event loop: phase=write (queued samples committed), phase=compact (closed minutes folded into raw rows and rollups).",
      labelNames: ["phase"],
      buckets: STORE_TRANSACTION_BUCKETS,
      registers: [r],
    });
    for (const phase of ["write", "compact"]) this.storeTransactions.zero({ phase });
    new client.Gauge({
      name: "lasso_canary_build_info",
      help: "Build information; always 1.",
      labelNames: ["version", "node_version"],
      registers: [r],
    }).set({ version: opts.version, node_version: process.version }, 1);
    this.labelOverflow = new client.Counter({
      name: "lasso_canary_label_overflow_total",
      help: "Probe answers whose value for a label was replaced by \"other\": provider and error_class beyond their budget of distinct values, transport and circuit_state outside Lasso's set.",
      labelNames: ["label"],
      registers: [r],
    });
    for (const label of OVERFLOW_LABELS) this.labelOverflow.inc({ label }, 0);
    const overflow = this.labelOverflow;
    this.answerLabels = new AnswerLabels({ ...DEFAULT_LABEL_BUDGETS, ...opts.labelBudgets }, (label) => overflow.inc({ label }));
    this.probeMeta = new client.Counter({
      name: "lasso_canary_probe_meta_total",
      help: "HTTP answers to probes by what became of their X-Lasso-Meta routing metadata: ok (decoded), missing (not sent), invalid (sent but not base64url JSON of the right shape).",
      labelNames: ["target", "chain", "route", "status"],
      registers: [r],
    });
    const series = ["target", "chain", "route", "method"] as const;
    this.requests = new client.Counter({
      name: "lasso_canary_probe_requests_total",
      help: "Probe requests by outcome (ok|error|excluded) and error class (none when ok). ok: a well-formed answer, even one that failed an assertion (see lasso_canary_assertion_failures_total). excluded: plan mismatches (Lasso does not know the route), not Lasso's failures.",
      labelNames: [...series, "outcome", "error_class"],
      registers: [r],
    });
    this.success = new client.Gauge({
      name: "lasso_canary_probe_success",
      help: "1 when the series' last probe got a well-formed answer that passed every assertion, 0 when it failed, failed an assertion or was excluded (plan mismatch); absent before the first probe.",
      labelNames: series,
      registers: [r],
    });
    this.latency = new client.Histogram({
      name: "lasso_canary_probe_latency_seconds",
      help: "Client-observed latency of well-formed answers (outcome ok), the population of the report's percentiles.",
      labelNames: series,
      buckets: LATENCY_BUCKETS,
      registers: [r],
    });
    this.served = new client.Counter({
      name: "lasso_canary_probe_served_total",
      help: "Successful probe answers by the provider Lasso's metadata says served them and the transport it used (http|ws|unknown).",
      labelNames: ["target", "chain", "route", "provider", "transport"],
      registers: [r],
    });
    this.headLag = new client.Gauge({
      name: "lasso_canary_head_lag_blocks",
      help: "Served head behind the pinned providers' consensus head, last probe.",
      labelNames: ["target", "chain", "route"],
      registers: [r],
    });
    this.regressions = new client.Counter({
      name: "lasso_canary_head_regressions_total",
      help: "Answers whose head was lower than the previous answer on the same series.",
      labelNames: ["target", "chain", "route"],
      registers: [r],
    });
    this.assertionFailures = new client.Counter({
      name: "lasso_canary_assertion_failures_total",
      help: "Failed probe assertions by name.",
      labelNames: ["target", "chain", "route", "assertion"],
      registers: [r],
    });
    this.overhead = new client.Histogram({
      name: "lasso_canary_lasso_overhead_seconds",
      help: "Lasso's own overhead per request, from routing metadata.",
      labelNames: ["target", "chain", "route"],
      buckets: OVERHEAD_BUCKETS,
      registers: [r],
    });
    this.retries = new client.Counter({
      name: "lasso_canary_probe_upstream_retries_total",
      help: "Upstream retries Lasso made for probes, from routing metadata (the canary itself never retries).",
      labelNames: ["target", "chain", "route"],
      registers: [r],
    });
    this.consistency = new client.Counter({
      name: "lasso_canary_consistency_checks_total",
      help: "Cross-provider block hash comparisons at a safe depth, by result (agree|mismatch).",
      labelNames: ["target", "chain", "result"],
      registers: [r],
    });
    const watcher = ["target", "chain", "watcher"] as const;
    this.watchEvents = new client.Counter({
      name: "lasso_canary_watch_events_total",
      help:
        "Subscription watcher events: delivered (events received), gap/client_gap (blocks), duplicate, log_missing/log_duplicate (logs), reorg, out_of_order, stall (stalls begun), reconnect, subscription_id_change, first_event; subscribe_refused/upgrade_refused/connect_failed (attempts), never_live (sessions).",
      labelNames: [...watcher, "event"],
      registers: [r],
    });
    this.watchIncidents = new client.Counter({
      name: "lasso_canary_watch_incidents_total",
      help:
        "Subscription incidents, one per occurrence whatever its size (a gap of 5 blocks is 1; a stall counts when it begins): what an alert on the first gap, duplicate or refusal should use; watch_events_total counts their size.",
      labelNames: [...watcher, "event"],
      registers: [r],
    });
    const openStalls = this.openStalls;
    const clock = this.clock;
    this.watchStall = new client.Counter({
      name: "lasso_canary_watch_stall_seconds_total",
      help: "Time subscriptions spent stalled (no event for k block times while newer blocks existed), socket open; grows while a stall lasts.",
      labelNames: watcher,
      registers: [r],
      collect() {
        const now = clock();
        for (const open of openStalls.values()) {
          if (now <= open.countedTo) continue;
          this.inc(open.labels, (now - open.countedTo) / 1000);
          open.countedTo = now;
        }
      },
    });
    this.watchStalled = new client.Gauge({
      name: "lasso_canary_watch_stalled",
      help: "1 while a watcher's subscription is stalled (from the stall's detection to its end), else 0.",
      labelNames: watcher,
      registers: [r],
    });
    this.watchUnserved = new client.Counter({
      name: "lasso_canary_watch_unserved_blocks_total",
      help: "Blocks the chain produced (seen over HTTP) between refused subscribe or upgrade attempts: owed and never delivered.",
      labelNames: watcher,
      registers: [r],
    });
    this.watchDelay = new client.Histogram({
      name: "lasso_canary_watch_delivery_delay_seconds",
      help: 'Event arrival minus the block timestamp (source="block_time") or minus the first HTTP sighting of its height (source="http_sighting").',
      labelNames: [...watcher, "source"],
      buckets: DELIVERY_BUCKETS,
      registers: [r],
    });
    this.watchLastEvent = new client.Gauge({
      name: "lasso_canary_watch_last_event_timestamp_seconds",
      help: "Wall-clock time of the last event a watcher received.",
      labelNames: watcher,
      registers: [r],
    });
    this.soakPolls = new client.Counter({
      name: "lasso_canary_soak_polls_total",
      help: "Soak polls of each Lasso node (/api/metrics/:chain and /api/health) by result: ok (both answered well) or error (see lasso_canary_soak_poll_errors_total).",
      labelNames: ["target", "result"],
      registers: [r],
    });
    this.soakPollErrors = new client.Counter({
      name: "lasso_canary_soak_poll_errors_total",
      help: "Failed soak polls by error class: connect, timeout, http_401, http_403, unknown_chain (404 on /api/metrics/:chain), http_4xx, http_5xx, invalid_response (a figure missing or not a number).",
      labelNames: ["target", "error_class"],
      registers: [r],
    });
    this.soakRestarts = new client.Counter({
      name: "lasso_canary_soak_restarts_total",
      help: "Restarts of a Lasso node seen by soak sampling (uptime went back, or memory_mb dropped sharply): each starts a new series.",
      labelNames: ["target"],
      registers: [r],
    });
    this.sloObjective = new client.Gauge({
      name: "lasso_canary_slo_objective",
      help: "SLO objectives of the plan, in base units named by sli: success_ratio, head_fresh_ratio, correctness_ratio, consistency_ratio (0..1), latency_p95_seconds, head_lag_max_blocks, delivery_delay_p95_seconds (when set).",
      labelNames: ["chain", "sli"],
      registers: [r],
    });
  }

  /**
   * Soak poll and restart counters (the verdict gauges are read from the soak engine at scrape
   * time, see soak/metrics.ts). Lasso nodes only: the daemon's own sampling cannot fail.
   */
  private acceptSoak(s: SoakSample): void {
    if (s.subject !== "lasso") return;
    this.soakPolls.inc({ target: s.target, result: s.errorClass === null ? "ok" : "error" });
    if (s.errorClass !== null) this.soakPollErrors.inc({ target: s.target, error_class: s.errorClass });
    if (s.restart !== null) this.soakRestarts.inc({ target: s.target });
  }

  /**
   * Creates every series the plan implies at 0 (counters, histograms, stall gauges) and sets
   * the SLO objectives, so a rate or increase() sees the first event after a start. The daemon
   * calls it once with the plan before probes and watchers start; calling it again only adds.
   */
  expect(plan: ExpectedSeries): void {
    for (const p of plan.probes) {
      const series = { target: p.target, chain: p.chain, route: p.route, method: p.method };
      const perRoute = { target: p.target, chain: p.chain, route: p.route };
      this.requests.inc({ ...series, outcome: "ok", error_class: "none" }, 0);
      this.requests.inc({ ...series, outcome: "excluded", error_class: "plan_mismatch" }, 0);
      for (const errorClass of PLANNED_ERROR_CLASSES) this.requests.inc({ ...series, outcome: "error", error_class: errorClass }, 0);
      this.latency.zero(series);
      this.overhead.zero(perRoute);
      this.regressions.inc(perRoute, 0);
      this.retries.inc(perRoute, 0);
      for (const assertion of p.assertions) this.assertionFailures.inc({ ...perRoute, assertion }, 0);
      if (p.pinned) this.served.inc({ ...perRoute, provider: this.answerLabels.plannedProvider(p.pinned.provider), transport: p.pinned.transport }, 0);
    }
    for (const c of plan.consistency) for (const result of ["agree", "mismatch"]) this.consistency.inc({ ...c, result }, 0);
    for (const w of plan.watchers) {
      const labels = { target: w.target, chain: w.chain, watcher: w.watcher };
      for (const event of plannedWatchEvents(w.subscription)) {
        this.watchEvents.inc({ ...labels, event }, 0);
        if (event !== "delivered") this.watchIncidents.inc({ ...labels, event }, 0);
      }
      for (const source of DELAY_SOURCES) this.watchDelay.zero({ ...labels, source });
      this.knowWatcher(labels);
      this.watchStall.inc(labels, 0);
    }
    for (const o of plan.slos) this.sloObjective.set({ chain: o.chain, sli: o.sli }, o.value);
    for (const target of plan.soakTargets) {
      for (const result of ["ok", "error"]) this.soakPolls.inc({ target, result }, 0);
      for (const errorClass of SOAK_ERROR_CLASSES) this.soakPollErrors.inc({ target, error_class: errorClass }, 0);
      this.soakRestarts.inc({ target }, 0);
    }
  }

  /** A watcher's gauges and refusal counter, created once at 0 (from the plan or its first sample). */
  private knowWatcher(w: WatcherLabels): string {
    const key = `${w.target}\u0000${w.chain}\u0000${w.watcher}`;
    if (!this.knownWatchers.has(key)) {
      this.knownWatchers.add(key);
      this.watchStalled.set(w, 0);
      this.watchUnserved.inc(w, 0);
    }
    return key;
  }

  private acceptContinuity(s: ContinuitySample): void {
    const w = { target: s.target, chain: s.chain, watcher: s.watcher };
    const inc = watchEventIncrement(s);
    // inc(0) still creates the series, so a watcher's counters exist before its first incident.
    this.watchEvents.inc({ ...w, event: s.event }, inc);
    // A stall is two samples (opened, then closed with its length in delayMs): one incident.
    if (s.event !== "delivered") this.watchIncidents.inc({ ...w, event: s.event }, s.event === "stall" && s.delayMs !== null ? 0 : 1);
    const key = this.knowWatcher(w);
    if (s.event === "stall") this.stallSample(key, w, s);
    if (s.event === "subscribe_refused" || s.event === "upgrade_refused") this.watchUnserved.inc(w, Math.max(0, s.count));
    if (s.event !== "delivered") return;
    if (s.delayMs !== null) this.watchDelay.observe({ ...w, source: "block_time" }, Math.max(0, s.delayMs) / 1000);
    if (s.sightingDelayMs !== null) this.watchDelay.observe({ ...w, source: "http_sighting" }, Math.max(0, s.sightingDelayMs) / 1000);
    this.watchLastEvent.set(w, s.ts / 1000);
  }

  /**
   * The opening sample adds the silence until detection; scrapes add the time since (collect);
   * the closing sample adds what its count holds beyond what scrapes already added.
   */
  private stallSample(key: string, w: WatcherLabels, s: ContinuitySample): void {
    const count = Math.max(0, s.count);
    const open = this.openStalls.get(key);
    if (s.delayMs === null) {
      this.watchStall.inc(w, count / 1000);
      this.openStalls.set(key, { labels: w, openedAt: s.ts, countedTo: s.ts });
      this.watchStalled.set(w, 1);
      return;
    }
    this.openStalls.delete(key);
    this.watchStalled.set(w, 0);
    const already = open === undefined ? 0 : open.countedTo - open.openedAt;
    this.watchStall.inc(w, Math.max(0, count - already) / 1000);
  }

  accept(sample: Sample): void {
    if (sample.kind === "consistency") {
      this.consistency.inc({ target: sample.target, chain: sample.chain, result: sample.agree ? "agree" : "mismatch" });
      return;
    }
    if (sample.kind === "continuity") {
      this.acceptContinuity(sample);
      return;
    }
    if (sample.kind === "soak") {
      this.acceptSoak(sample);
      return;
    }
    const s = sample;
    const series = { target: s.target, chain: s.chain, route: s.route, method: s.method };
    const perRoute = { target: s.target, chain: s.chain, route: s.route };
    const labels = this.answerLabels.of(s);
    this.requests.inc({ ...series, outcome: s.errorClass === "plan_mismatch" ? "excluded" : s.outcome, error_class: labels.errorClass });
    // Blackbox-style: the last probe succeeded only when the answer was well-formed AND passed every assertion.
    this.success.set(series, s.outcome === "ok" && s.failedAssertions.length === 0 ? 1 : 0);
    if (s.outcome === "ok") this.latency.observe(series, s.latencyMs / 1000);
    if (s.outcome === "ok") this.served.inc({ ...perRoute, provider: labels.provider, transport: labels.transport });
    if (s.metaStatus) this.metaSample(perRoute, s.metaStatus);
    if (s.headLagBlocks !== null) this.headLag.set(perRoute, s.headLagBlocks);
    if (s.headRegression) this.regressions.inc(perRoute);
    for (const a of s.failedAssertions) this.assertionFailures.inc({ ...perRoute, assertion: a.split(":")[0] ?? a });
    if (s.lassoOverheadMs !== null) this.overhead.observe(perRoute, s.lassoOverheadMs / 1000);
    if (s.retries) this.retries.inc(perRoute, s.retries);
  }

  /** Every status of a route exists from its first answer, so the first invalid one is an increase. */
  private metaSample(perRoute: { target: string; chain: string; route: string }, status: "ok" | "missing" | "invalid"): void {
    const key = `${perRoute.target}\u0000${perRoute.chain}\u0000${perRoute.route}`;
    if (!this.metaRoutes.has(key)) {
      this.metaRoutes.add(key);
      for (const st of ["ok", "missing", "invalid"] as const) this.probeMeta.inc({ ...perRoute, status: st }, 0);
    }
    this.probeMeta.inc({ ...perRoute, status });
  }

  /** Distinct Lasso-given label values held (bounded by the budgets). */
  answerLabelSizes(): { providers: number; rpcCodes: number; httpStatuses: number } {
    return this.answerLabels.sizes();
  }

  /**
   * Removes every labelled series `keep` rejects (a reload dropped its route, watcher, chain or
   * target), so nothing the running plan no longer does lingers in /metrics. Series without
   * labels are kept. Returns how many label sets were removed.
   */
  async retain(keep: (labels: Readonly<Record<string, string>>) => boolean): Promise<number> {
    let removed = 0;
    type Removable = { get(): Promise<client.MetricObjectWithValues<client.MetricValue<string>>>; remove(labels: Record<string, string>): void };
    for (const metric of this.registry.getMetricsAsArray() as unknown as Removable[]) {
      const seen = new Set<string>();
      for (const v of (await metric.get()).values) {
        const { le: _le, quantile: _q, ...labels } = v.labels as Record<string, string>;
        const key = JSON.stringify(labels);
        if (seen.has(key) || Object.keys(labels).length === 0) continue;
        seen.add(key);
        if (keep(labels)) continue;
        metric.remove(labels);
        removed += 1;
      }
    }
    return removed;
  }

  observeLoopLag(lateMs: number): void {
    this.loopLag.observe(lateMs / 1000);
  }

  observeStoreTransaction(phase: "write" | "compact", ms: number): void {
    this.storeTransactions.observe({ phase }, ms / 1000);
  }

  /** Registers gauges whose value is read at scrape time (store counters, event-loop lag, ...). */
  gauge(name: string, help: string, read: () => number): void {
    new client.Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /**
   * A labelled gauge read at scrape time: `read` returns every series' labels and value. A
   * series missing from a later read is removed, so a cleared condition does not linger.
   */
  labelledGauge<L extends string>(name: string, help: string, labelNames: readonly L[], read: () => Iterable<[Record<L, string>, number]>): void {
    new client.Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.set(labels as client.LabelValues<L>, value);
      },
    });
  }

  /** Labelled counters mirroring another component's running totals, one series per label set. */
  labelledCounter<L extends string>(name: string, help: string, labelNames: readonly L[], read: () => Iterable<[Record<L, string>, number]>): void {
    const last = new Map<string, number>();
    new client.Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        for (const [labels, total] of read()) {
          const k = JSON.stringify(labels);
          const prev = last.get(k);
          // inc(0) creates the series at its first read, so it exists before its first event.
          this.inc(labels as client.LabelValues<L>, prev === undefined ? total : Math.max(0, total - prev));
          last.set(k, Math.max(total, prev ?? 0));
        }
      },
    });
  }

  /** A counter mirroring another component's running total (store writes, drops, ...). */
  counter(name: string, help: string, read: () => number): void {
    let last = 0;
    new client.Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        const total = read();
        if (total > last) this.inc(total - last);
        last = total;
      },
    });
  }
}
