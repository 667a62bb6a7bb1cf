import type { Server } from "node:http";
import { createRequire } from "node:module";
import { ContinuityTap } from "./chaos/continuityTap.js";
import type { FaultControl } from "./chaos/control.js";
import { productionChaos } from "./chaos/production.js";
import { RecentProbes } from "./chaos/recentProbes.js";
import { ChaosRunner, type Judge } from "./chaos/runner.js";
import { ChaosStats, exportChaosMetrics } from "./chaos/chaosStats.js";
import { MAX_PRECONDITION_MS } from "./plan/schema.js";
import { HeapTrim } from "./metrics/heapTrim.js";
import { LoopLag } from "./metrics/loopLag.js";
import { SoakEngine } from "./soak/engine.js";
import { exportSoakMetrics } from "./soak/metrics.js";
import { LagWindow } from "./soak/sampler.js";
import { expectedSeries } from "./metrics/fromPlan.js";
import { MetricsSink } from "./metrics/registry.js";
import { formatPlanErrors, type Plan } from "./plan/index.js";
import { ProbeEngine } from "./probes/engine.js";
import { PlanChecker, type PlanCheckStats } from "./lasso/planCheck.js";
import { RpcHttpClient } from "./lasso/rpcClient.js";
import { consistencySpecs, seriesSpecs } from "./probes/fromPlan.js";
import { Recorder } from "./recorder.js";
import { ReportRunner } from "./report/runner.js";
import { parseReportQuery, REPORT_CONTENT_TYPES, reportQueryOptions } from "./report/time.js";
import type { PlannedWatcher, SloObjective } from "./report/types.js";
import { createApp, listen } from "./server/app.js";
import { StatusBoard } from "./status/board.js";
import { cachedFor } from "./status/cache.js";
import { renderStatusPage } from "./status/page.js";
import { AnswerTracker, readinessReasons, silenceLimits } from "./server/readiness.js";
import { SampleStore } from "./store/index.js";
import { plannedWatchers, WatchEngine, watchGroupSpecs } from "./watchers/index.js";
import type { Logger } from "./log.js";

/** package.json is one level up from src/ and two from dist/src/. */
function readVersion(): string {
  const require = createRequire(import.meta.url);
  for (const candidate of ["../package.json", "../../package.json"]) {
    try {
      const pkg = require(candidate) as { name?: string; version?: string };
      if (pkg.name === "lasso-canary" && pkg.version) return pkg.version;
    } catch {
      // not at this level
    }
  }
  return "unknown";
}

export const VERSION: string = readVersion();

/** The status page at `/` is rendered at most this often (from in-memory counters, never the store). */
const STATUS_CACHE_MS = 5000;
/**
 * Under --expose-gc, a full collection once the heap has grown 4 MiB or an eighth of its live
 * size (whichever is more; the eighth takes over above 32 MiB live) past its last live size.
 * With a slack proportional to the heap, the trim costs time in proportion to what is promoted,
 * so per series it stays flat as the plan grows.
 */
const HEAP_TRIM_SLACK_BYTES = 4 * 2 ** 20;
const HEAP_TRIM_SLACK_FRACTION = 0.125;
const HEAP_TRIM_CHECK_MS = 5000;

export interface DaemonOptions {
  plan: Plan;
  logger: Logger;
  /** Override the plan's listen address (tests use port 0). */
  listen?: { host: string; port: number };
  /** How often the plan is checked against each target (plus once at start). Default 5 min. */
  planCheckIntervalMs?: number;
  /** Reads the config and checks again (SIGHUP, POST /-/reload); throws PlanError when invalid. Without it reload is refused. */
  loadPlan?: () => Plan;
  /**
   * The fault proxies' control and the verdict for chaos windows (tests inject an in-process
   * control). Default: productionChaos(plan), from the config's `chaos:` section.
   */
  chaos?: { control: FaultControl; judge: Judge; leaseMs?: number };
}

export type ReloadResult = { ok: true; warnings: string[] } | { ok: false; error: string };

export interface Daemon {
  /** Base URL of the daemon's own HTTP server. */
  url: string;
  store: SampleStore;
  metrics: MetricsSink;
  /** The running plan (replaced by a successful reload). */
  readonly plan: Plan;
  readonly planCheck: PlanChecker;
  readonly watchers: WatchEngine;
  /** The running plan's chaos runner; null when the plan has no windows or no fault control. */
  readonly chaos: ChaosRunner | null;
  /** The running plan's soak sampling; null when the plan has none. */
  readonly soak: SoakEngine | null;
  /** Re-reads config and checks; an invalid plan is refused and the running one kept. */
  reload(): Promise<ReloadResult>;
  stop(): Promise<void>;
}

/** The composition root: plan -> producers -> recorder -> sinks; readers on the HTTP server. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { logger } = opts;
  const first = opts.plan;
  const metrics = new MetricsSink({ version: VERSION });
  const store = new SampleStore({
    path: first.store.path,
    logger: logger.child({ component: "store" }),
    rawRetentionDays: first.store.rawRetentionDays,
    minuteRetentionDays: first.store.minuteRollupRetentionDays,
    hourRetentionDays: first.store.rollupRetentionDays,
    onTransaction: (phase, ms) => metrics.observeStoreTransaction(phase, ms),
  });
  metrics.expect(expectedSeries(first));
  exportStoreStats(metrics, store);
  // The soak engine samples the mean lag between its polls from the same observations.
  const lagWindow = new LagWindow();
  const loopLag = new LoopLag((ms) => {
    metrics.observeLoopLag(ms);
    lagWindow.observe(ms);
  });
  const heapTrim = new HeapTrim({ slackBytes: HEAP_TRIM_SLACK_BYTES, slackFraction: HEAP_TRIM_SLACK_FRACTION, checkIntervalMs: HEAP_TRIM_CHECK_MS });
  metrics.counter("lasso_canary_heap_trim_collections_total",
    "Full heap collections the daemon ran because the heap outgrew its live size (needs node --expose-gc; stays 0 without it).", () => heapTrim.stats.collections);
  metrics.gauge("lasso_canary_heap_live_bytes", "V8 heap in use right after the daemon's last full collection (0 without --expose-gc).", () => heapTrim.stats.liveBytes);

  const recorder = new Recorder((err) => logger.error({ err }, "a sample sink failed"));
  recorder.addSink(store);
  recorder.addSink(metrics);
  const answers = new AnswerTracker();
  recorder.addSink(answers);
  // The chaos precondition and a window's subscription continuity read the plan's own producers.
  const recent = new RecentProbes(MAX_PRECONDITION_MS);
  recorder.addSink(recent);
  const continuity = new ContinuityTap();
  recorder.addSink(continuity);
  const chaosStats = new ChaosStats();
  const status = new StatusBoard(() => current.slos);
  recorder.addSink(status);

  const deps: ProducerDeps = {
    logger, recorder, loopLag, lagWindow, planCheckIntervalMs: opts.planCheckIntervalMs ?? 5 * 60_000, planCheckStats: { runs: new Map() }, watchStats: { malformedFrames: 0 }, store, recent, continuity, chaosStats, chaos: opts.chaos,
  };
  let current = buildProducers(first, deps);
  exportProducerStats(metrics, () => current, deps.watchStats);
  exportChaosMetrics(metrics, chaosStats, () => current.plan.chaos);
  exportSoakMetrics(metrics, () => current.soak);
  const reloads = new ReloadState(metrics);

  const reports = new ReportRunner({ path: first.store.path });
  const statusPage = cachedFor(STATUS_CACHE_MS, () => renderStatusPage(status.snapshot(Date.now())));
  /** When the probes started; null before and while stopping. */
  let startedAt: number | null = null;
  const app = createApp({
    registry: metrics.registry,
    async report(query, format) {
      const now = Date.now();
      const p = current;
      const range = parseReportQuery(query, now, reportQueryOptions(p.plan));
      store.flush();
      const body = await reports.render(range, p.slos, format, now, {
        planMismatches: p.planCheck.checker.current(), watchers: p.planned, comparison: p.plan.comparison, soak: p.plan.soak,
      });
      return { contentType: REPORT_CONTENT_TYPES[format], body };
    },
    statusPage,
    readiness() {
      const p = current;
      const reasons = readinessReasons({
        now: Date.now(), startedAt, store: store.stats(), answers, silenceLimits: p.silence, planMismatches: p.planCheck.checker.current(),
      });
      return { ready: reasons.length === 0, reasons };
    },
    reload: {
      token: () => current.plan.adminToken,
      run: () => reload(),
    },
    chaos: {
      token: () => current.plan.adminToken,
      running: () => current.chaos?.running() ?? null,
      list: (q) => store.chaosWindows().list(q),
      run: (name) =>
        current.chaos?.run(name) ??
        { started: false, status: current.plan.chaos.some((w) => w.name === name) ? 503 : 404, reason: current.chaosOff ?? `no chaos window named "${name}"`, id: null },
      abort: (id) => current.chaos?.abort(id, "aborted by an operator (POST /api/chaos/windows/:id/abort)") ?? { ok: false, status: 503, reason: current.chaosOff ?? "no chaos window runs" },
    },
    onError: (err) => logger.error({ err }, "http handler failed"),
  });
  const where = opts.listen ?? first.listen;
  let server: Server;
  try {
    server = await listen(app, where.host, where.port);
  } catch (err) {
    await current.stop("daemon stopping");
    await reports.close();
    store.close();
    throw err;
  }
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : where.port;
  loopLag.start();
  heapTrim.start();
  current.start();
  startedAt = Date.now();
  logger.info(
    {
      listen: `${where.host}:${port}`,
      chains: first.chains.length,
      series: first.series.length,
      watchers: first.chains.reduce((n, c) => n + c.watchers.length * c.targets.length, 0),
      store: first.store.path,
      // Off when node runs without --expose-gc (a command line other than the unit's or the image's).
      heapTrim: heapTrim.enabled,
    },
    "lasso-canary started",
  );

  let stopping: Promise<void> | null = null;
  let reloading: Promise<ReloadResult> = Promise.resolve({ ok: true, warnings: [] });
  /** One reload at a time; a reload requested while one runs waits for it. */
  function reload(): Promise<ReloadResult> {
    reloading = reloading.then(async (): Promise<ReloadResult> => {
      if (stopping !== null) return { ok: false, error: "the daemon is stopping" };
      if (opts.loadPlan === undefined) return reloads.failed(logger, "this daemon was started without a config file to reload");
      let next: Plan;
      try {
        next = opts.loadPlan();
      } catch (err) {
        return reloads.failed(logger, formatPlanErrors(err));
      }
      const warnings = restartOnly(current.plan, next);
      const old = current;
      await old.stop("reload");
      current = buildProducers(next, deps);
      const keep = keepSeries(next);
      const removed = await metrics.retain(keep);
      metrics.expect(expectedSeries(next));
      logger.level = next.log.level;
      current.start();
      for (const w of warnings) logger.warn(w);
      logger.info({ chains: next.chains.length, series: next.series.length, removedSeries: removed }, "config reloaded");
      reloads.succeeded();
      return { ok: true, warnings };
    });
    return reloading;
  }

  return {
    url: `http://${where.host.includes(":") ? `[${where.host}]` : where.host}:${port}`,
    store,
    metrics,
    get plan() {
      return current.plan;
    },
    get planCheck() {
      return current.planCheck.checker;
    },
    get watchers() {
      return current.watchers;
    },
    get chaos() {
      return current.chaos;
    },
    get soak() {
      return current.soak;
    },
    reload,
    stop() {
      stopping ??= (async () => {
        startedAt = null;
        loopLag.stop();
        heapTrim.stop();
        await reloading;
        server.closeIdleConnections();
        const closed = new Promise<void>((r) => server.close(() => r()));
        await current.stop("daemon stopping");
        await reports.close();
        store.close();
        server.closeAllConnections();
        await closed;
        logger.info("lasso-canary stopped");
      })();
      return stopping;
    },
  };
}

interface ProducerDeps {
  logger: Logger;
  recorder: Recorder;
  loopLag: LoopLag;
  lagWindow: LagWindow;
  planCheckIntervalMs: number;
  /** Plan check counts, kept across reloads. */
  planCheckStats: PlanCheckStats;
  /** Watcher counts kept across reloads (each reload builds new watchers). */
  watchStats: { malformedFrames: number };
  store: SampleStore;
  recent: RecentProbes;
  continuity: ContinuityTap;
  chaosStats: ChaosStats;
  chaos: DaemonOptions["chaos"];
}

/** Everything that runs a plan: replaced as a whole by a reload. */
interface Producers {
  plan: Plan;
  probes: ProbeEngine;
  watchers: WatchEngine;
  planCheck: PlanCheckRun;
  slos: SloObjective[];
  silence: Map<string, number>;
  planned: PlannedWatcher[];
  chaos: ChaosRunner | null;
  soak: SoakEngine | null;
  /** Why the plan's chaos windows do not run (null: they do, or there are none). */
  chaosOff: string | null;
  start(): void;
  /** `reason`: recorded as the abort reason of a window running now. */
  stop(reason: string): Promise<void>;
}

function buildProducers(plan: Plan, deps: ProducerDeps): Producers {
  const { logger, recorder, loopLag } = deps;
  const probes = new ProbeEngine({
    series: seriesSpecs(plan),
    consistency: consistencySpecs(plan),
    recorder,
    onError: (err, what) => logger.error({ err, what }, "probe crashed"),
    lag: loopLag,
  });
  const planCheck = new PlanCheckRun(plan, logger, deps.planCheckIntervalMs, deps.planCheckStats);
  const groups = watchGroupSpecs(plan);
  const watchers = new WatchEngine({
    groups,
    recorder,
    planMismatch: (target, chain, route) => planCheck.checker.isMismatched(target, chain, route),
    onError: (err, what) => logger.error({ err, what }, "watcher crashed"),
    onNotice: (where, notice) => {
      if (notice.kind === "malformed_frame") deps.watchStats.malformedFrames += 1;
      logger.warn({ ...where, ...notice }, "watcher");
    },
    lag: loopLag,
  });
  const { runner: chaos, off: chaosOff, client: chaosClient } = buildChaosRunner(plan, deps);
  const soak = plan.soak === null ? null : new SoakEngine({
    plan: plan.soak,
    targets: plan.targets,
    recorder,
    lag: deps.lagWindow,
    history: (since) => deps.store.soakSamples(since),
    onError: (err, what) => logger.error({ err, what }, "soak sampling failed"),
  });
  let stopped: Promise<void> | null = null;
  return {
    plan,
    probes,
    watchers,
    planCheck,
    chaos,
    soak,
    chaosOff,
    slos: plan.chains.map((c) => ({ chain: c.chain, ...c.slo })),
    silence: silenceLimits(plan),
    planned: plannedWatchers(groups),
    start() {
      planCheck.start();
      probes.start();
      watchers.start();
      soak?.start();
      chaos?.start().catch((err: unknown) => logger.error({ err }, "chaos runner failed to start"));
    },
    stop(reason) {
      stopped ??= (async () => {
        // The window ends (fault cleared, recorded aborted) before the probes it reads stop.
        await chaos?.stop(reason);
        await chaosClient?.close();
        await Promise.all([planCheck.stop(), probes.stop(), watchers.stop(), soak?.stop()]);
      })();
      return stopped;
    },
  };
}

/** The plan's chaos windows, or why they do not run (logged once per plan). */
function buildChaosRunner(plan: Plan, deps: ProducerDeps): { runner: ChaosRunner | null; off: string | null; client: RpcHttpClient | null } {
  if (plan.chaos.length === 0) return { runner: null, off: null, client: null };
  const store = deps.store.chaosWindows();
  store.prune(Date.now(), plan.store.rawRetentionDays * 86_400_000, plan.store.rollupRetentionDays * 86_400_000);
  const wiring = deps.chaos ?? productionChaos(plan);
  if ("reason" in wiring) {
    const off = `chaos windows are declared but do not run: ${wiring.reason}`;
    deps.logger.warn({ windows: plan.chaos.map((w) => w.name) }, off);
    return { runner: null, off, client: null };
  }
  const client = new RpcHttpClient({ connectionsPerOrigin: 4 });
  const watched = new Set(plan.chains.flatMap((c) => c.watchers.filter((w) => w.profile !== null).map((w) => `${c.chain}\u0000${w.profile}`)));
  const runner = new ChaosRunner({
    windows: plan.chaos,
    targets: plan.targets,
    control: wiring.control,
    judge: wiring.judge,
    store,
    recent: deps.recent,
    client,
    logger: deps.logger,
    stats: deps.chaosStats,
    continuity: { capture: (chain, profile) => (watched.has(`${chain}\u0000${profile}`) ? deps.continuity.capture(chain, profile) : null) },
    ...(deps.chaos?.leaseMs !== undefined ? { leaseMs: deps.chaos.leaseMs } : {}),
    alertmanager: plan.alertmanager,
  });
  return { runner, off: null, client };
}

/** Settings a reload cannot change in a running process: said, and kept as they are. */
function restartOnly(running: Plan, next: Plan): string[] {
  const out: string[] = [];
  if (running.listen.host !== next.listen.host || running.listen.port !== next.listen.port) out.push("listen changed: takes effect after a restart");
  if (JSON.stringify(running.store) !== JSON.stringify(next.store)) out.push("store settings changed: take effect after a restart");
  return out;
}

/** Which labelled series the plan still implies (by target, chain, route, method, watcher). */
function keepSeries(plan: Plan): (labels: Readonly<Record<string, string>>) => boolean {
  const targets = new Set(plan.targets.map((t) => t.name));
  const chains = new Set(plan.chains.map((c) => c.chain));
  const key = (...parts: Array<string | undefined>): string => parts.join("\u0000");
  const pairs = new Set<string>();
  const routes = new Set<string>();
  const series = new Set(plan.series.map((s) => key(s.target, s.chain, s.route, s.method)));
  const watchers = new Set<string>();
  for (const c of plan.chains) {
    for (const t of c.targets) {
      pairs.add(key(t, c.chain));
      for (const r of c.routes) routes.add(key(t, c.chain, r.name));
      for (const w of c.watchers) watchers.add(key(t, c.chain, w.name));
    }
  }
  const windows = new Set(plan.chaos.map((w) => w.name));
  return (l) => {
    if (l.window !== undefined) return windows.has(l.window);
    if (l.watcher !== undefined) return watchers.has(key(l.target, l.chain, l.watcher));
    if (l.method !== undefined && l.route !== undefined) return series.has(key(l.target, l.chain, l.route, l.method));
    if (l.route !== undefined) return routes.has(key(l.target, l.chain, l.route));
    if (l.target !== undefined && l.chain !== undefined) return pairs.has(key(l.target, l.chain));
    if (l.chain !== undefined) return chains.has(l.chain);
    if (l.target !== undefined) return targets.has(l.target);
    return true;
  };
}

/** Prometheus-style reload status: lasso_canary_config_last_reload_successful and its success time. */
class ReloadState {
  private ok = 1;
  private lastSuccess = Date.now() / 1000;

  constructor(metrics: MetricsSink) {
    metrics.gauge("lasso_canary_config_last_reload_successful", "1 when the last config reload (or the start) succeeded, 0 when it was refused.", () => this.ok);
    metrics.gauge("lasso_canary_config_last_reload_success_timestamp_seconds", "When the running config was loaded (start or last successful reload).", () => this.lastSuccess);
  }

  succeeded(): void {
    this.ok = 1;
    this.lastSuccess = Date.now() / 1000;
  }

  failed(logger: Logger, error: string): ReloadResult {
    this.ok = 0;
    logger.error({ errors: error.split("\n") }, "config reload refused: the running plan is kept");
    return { ok: false, error };
  }
}

function exportStoreStats(metrics: MetricsSink, store: SampleStore): void {
  const s = (): ReturnType<SampleStore["stats"]> => store.stats();
  metrics.counter("lasso_canary_store_samples_written_total", "Samples committed to SQLite.", () => s().written);
  metrics.counter("lasso_canary_store_samples_dropped_total", "Samples dropped because the store could not keep up or failed.", () => s().dropped);
  metrics.counter("lasso_canary_store_write_errors_total", "Failed store write transactions (retried).", () => s().writeErrors);
  metrics.gauge("lasso_canary_store_queued_samples", "Samples waiting to be written.", () => s().queued);
  metrics.counter("lasso_canary_store_samples_rejected_total", "Samples that could not be encoded (a bug: please report).", () => s().rejected);
  metrics.counter("lasso_canary_store_compact_errors_total", "Failed compactions of closed minutes into raw rows and rollups.", () => s().compactErrors);
  metrics.counter("lasso_canary_store_prune_errors_total", "Failed retention steps.", () => s().pruneErrors);
  metrics.gauge("lasso_canary_store_last_write_duration_seconds", "Duration of the last store write transaction.", () => s().lastWriteDurationMs / 1000);
  metrics.gauge("lasso_canary_store_last_compact_duration_seconds", "Duration of the last compaction slice.", () => s().lastCompactDurationMs / 1000);
  metrics.labelledCounter("lasso_canary_store_names_overflow_total", "Names from Lasso's answers stored as \"other\" because the store's names table was full for their kind.",
    ["kind"], () => Object.entries(s().namesOverflowed).map(([kind, n]) => [{ kind }, n] as [Record<"kind", string>, number]));
}

/** Checks the plan against every target at start and then every `intervalMs`. */
class PlanCheckRun {
  readonly checker: PlanChecker;
  private readonly client = new RpcHttpClient({ connectionsPerOrigin: 1 });
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();

  constructor(plan: Plan, logger: Logger, private readonly intervalMs: number, stats: PlanCheckStats) {
    const log = (this.log = logger.child({ component: "plan-check" }));
    this.checker = new PlanChecker({
      plan,
      client: this.client,
      stats,
      onChange(appeared, cleared) {
        for (const m of appeared)
          log.warn({ target: m.target, chain: m.chain, route: m.route, kind: m.kind, said: m.detail, fix: m.fix }, "plan mismatch: the target does not know what the plan names; excluded from Lasso's SLIs");
        for (const m of cleared) log.info({ target: m.target, chain: m.chain, route: m.route, kind: m.kind }, "plan mismatch cleared");
      },
      onCheckFailed: (target, reason) => log.warn({ target, reason }, "plan check could not run (not a mismatch)"),
    });
  }

  start(): void {
    this.run();
    this.timer = setInterval(() => this.run(), this.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.client.close();
  }

  private run(): void {
    this.running = this.running.then(() => this.checker.checkAll()).catch((err: unknown) => this.log.error({ err }, "plan check crashed"));
  }
}

/** Metrics read from whatever producers run now (a reload swaps them); totals survive the swap. */
function exportProducerStats(metrics: MetricsSink, producers: () => Producers, watchStats: ProducerDeps["watchStats"]): void {
  metrics.counter("lasso_canary_watch_malformed_frames_total", "WebSocket frames from Lasso that were not valid JSON-RPC (logged as watcher notices).", () => watchStats.malformedFrames);
  metrics.labelledGauge("lasso_canary_plan_mismatches", "Routes (and chain ids) of the plan the target does not know, from the last plan check: our configuration's fault, excluded from Lasso's SLIs.",
    ["target", "chain"], () => {
      const p = producers();
      // Counted in one pass: filtering every mismatch per chain made a scrape O(chains x mismatches).
      const found = new Map<string, number>();
      for (const m of p.planCheck.checker.current()) found.set(`${m.target}\u0000${m.chain}`, (found.get(`${m.target}\u0000${m.chain}`) ?? 0) + 1);
      return p.plan.chains.flatMap((c) => c.targets.map((target) => [{ target, chain: c.chain }, found.get(`${target}\u0000${c.chain}`) ?? 0] as [Record<"target" | "chain", string>, number]));
    });
  metrics.labelledCounter("lasso_canary_plan_checks_total", "Plan checks per target by result (ok, mismatch, failed: the target could not be asked).",
    ["target", "result"], () => {
      const p = producers();
      // One stats object outlives reloads (every checker continues it); targets a reload removed are not exported.
      return p.plan.targets.flatMap(({ name: target }) => {
        const r = p.planCheck.checker.stats.runs.get(target);
        return r === undefined ? [] : (["ok", "mismatch", "failed"] as const).map((result) => [{ target, result }, r[result]] as [Record<"target" | "result", string>, number]);
      });
    });
}
