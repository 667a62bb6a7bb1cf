import type { Server } from "node:http";
import { createRequire } from "node:module";
import { LoopLag } from "./metrics/loopLag.js";
import { expectedSeries } from "./metrics/fromPlan.js";
import { MetricsSink } from "./metrics/registry.js";
import type { Plan } from "./plan/index.js";
import { ProbeEngine } from "./probes/engine.js";
import { PlanChecker } from "./lasso/planCheck.js";
import { RpcHttpClient } from "./lasso/rpcClient.js";
import { consistencySpecs, seriesSpecs } from "./probes/fromPlan.js";
import { Recorder } from "./recorder.js";
import { ReportRunner } from "./report/runner.js";
import { parseReportQuery, reportQueryOptions } from "./report/time.js";
import type { SloObjective } from "./report/types.js";
import { createApp, listen } from "./server/app.js";
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

export interface DaemonOptions {
  plan: Plan;
  logger: Logger;
  /** Override the plan's listen address (tests use port 0). */
  listen?: { host: string; port: number };
  /** How often the plan is checked against each target (plus once at start). Default 5 min. */
  planCheckIntervalMs?: number;
}

export interface Daemon {
  /** Base URL of the daemon's own HTTP server. */
  url: string;
  store: SampleStore;
  metrics: MetricsSink;
  planCheck: PlanChecker;
  watchers: WatchEngine;
  stop(): Promise<void>;
}

/** The composition root: plan -> producers -> recorder -> sinks; readers on the HTTP server. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { plan, logger } = opts;
  const store = new SampleStore({
    path: plan.store.path,
    logger: logger.child({ component: "store" }),
    rawRetentionDays: plan.store.rawRetentionDays,
    minuteRetentionDays: plan.store.minuteRollupRetentionDays,
    hourRetentionDays: plan.store.rollupRetentionDays,
  });
  const metrics = new MetricsSink({ version: VERSION });
  metrics.expect(expectedSeries(plan));
  exportStoreStats(metrics, store);
  const loopLag = new LoopLag((ms) => metrics.observeLoopLag(ms));

  const recorder = new Recorder((err) => logger.error({ err }, "a sample sink failed"));
  recorder.addSink(store);
  recorder.addSink(metrics);
  const answers = new AnswerTracker();
  recorder.addSink(answers);
  const probes = new ProbeEngine({
    series: seriesSpecs(plan),
    consistency: consistencySpecs(plan),
    recorder,
    onError: (err, what) => logger.error({ err, what }, "probe crashed"),
    lag: loopLag,
  });

  const planCheck = startPlanCheck(plan, logger, metrics, opts.planCheckIntervalMs ?? 5 * 60_000);
  const watchGroups = watchGroupSpecs(plan);
  const watchers = new WatchEngine({
    groups: watchGroups,
    recorder,
    planMismatch: (target, chain, route) => planCheck.checker.isMismatched(target, chain, route),
    onError: (err, what) => logger.error({ err, what }, "watcher crashed"),
    onNotice: (where, notice) => logger.warn({ ...where, ...notice }, "watcher"),
    lag: loopLag,
  });
  metrics.counter(
    "lasso_canary_watch_malformed_frames_total",
    "WebSocket frames from Lasso that were not valid JSON-RPC (logged as watcher notices).",
    () => watchers.stats().malformedFrames,
  );

  const slos: SloObjective[] = plan.chains.map((c) => ({ chain: c.chain, ...c.slo }));
  const reports = new ReportRunner({ path: plan.store.path, watchers: plannedWatchers(watchGroups) });
  /** When the probes started; null before and while stopping. */
  let startedAt: number | null = null;
  const silence = silenceLimits(plan);
  const app = createApp({
    registry: metrics.registry,
    async report(query, format) {
      const now = Date.now();
      const range = parseReportQuery(query, now, reportQueryOptions(plan));
      store.flush();
      const body = await reports.render(range, slos, format, now, { planMismatches: planCheck.checker.current() });
      return { contentType: format === "md" ? "text/markdown; charset=utf-8" : "application/json; charset=utf-8", body };
    },
    readiness() {
      const reasons = readinessReasons({
        now: Date.now(), startedAt, store: store.stats(), answers, silenceLimits: silence, planMismatches: planCheck.checker.current(),
      });
      return { ready: reasons.length === 0, reasons };
    },
    onError: (err) => logger.error({ err }, "http handler failed"),
  });
  const where = opts.listen ?? plan.listen;
  let server: Server;
  try {
    server = await listen(app, where.host, where.port);
  } catch (err) {
    await planCheck.stop();
    await reports.close();
    store.close();
    throw err;
  }
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : where.port;
  loopLag.start();
  probes.start();
  watchers.start();
  startedAt = Date.now();
  logger.info(
    {
      listen: `${where.host}:${port}`,
      chains: plan.chains.length,
      series: plan.series.length,
      watchers: plan.chains.reduce((n, c) => n + c.watchers.length * c.targets.length, 0),
      store: plan.store.path,
    },
    "lasso-canary started",
  );

  let stopping: Promise<void> | null = null;
  return {
    url: `http://${where.host.includes(":") ? `[${where.host}]` : where.host}:${port}`,
    store,
    metrics,
    planCheck: planCheck.checker,
    watchers,
    stop() {
      stopping ??= (async () => {
        startedAt = null;
        loopLag.stop();
        await planCheck.stop();
        server.closeIdleConnections();
        const closed = new Promise<void>((r) => server.close(() => r()));
        await Promise.all([probes.stop(), watchers.stop()]);
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

/** Checks the plan against every target now and then every `intervalMs`; exports what it finds. */
function startPlanCheck(plan: Plan, logger: Logger, metrics: MetricsSink, intervalMs: number): { checker: PlanChecker; stop(): Promise<void> } {
  const client = new RpcHttpClient({ connectionsPerOrigin: 1 });
  const log = logger.child({ component: "plan-check" });
  const checker = new PlanChecker({
    plan,
    client,
    onChange(appeared, cleared) {
      for (const m of appeared)
        log.warn({ target: m.target, chain: m.chain, route: m.route, kind: m.kind, said: m.detail, fix: m.fix }, "plan mismatch: the target does not know what the plan names; excluded from Lasso's SLIs");
      for (const m of cleared) log.info({ target: m.target, chain: m.chain, route: m.route, kind: m.kind }, "plan mismatch cleared");
    },
    onCheckFailed: (target, reason) => log.warn({ target, reason }, "plan check could not run (not a mismatch)"),
  });
  const pairs = plan.chains.flatMap((c) => c.targets.map((target) => ({ target, chain: c.chain })));
  metrics.labelledGauge("lasso_canary_plan_mismatches", "Routes (and chain ids) of the plan the target does not know, from the last plan check: our configuration's fault, excluded from Lasso's SLIs.",
    ["target", "chain"], () => pairs.map(({ target, chain }) => [{ target, chain }, checker.current().filter((m) => m.target === target && m.chain === chain).length]));
  metrics.labelledCounter("lasso_canary_plan_checks_total", "Plan checks per target by result (ok, mismatch, failed: the target could not be asked).",
    ["target", "result"], () => [...checker.stats.runs].flatMap(([target, r]) => (["ok", "mismatch", "failed"] as const).map((result) => [{ target, result }, r[result]] as [Record<"target" | "result", string>, number])));
  let running: Promise<void> = Promise.resolve();
  const run = (): void => {
    running = running.then(() => checker.checkAll()).catch((err: unknown) => log.error({ err }, "plan check crashed"));
  };
  run();
  const timer = setInterval(run, intervalMs);
  return {
    checker,
    async stop() {
      clearInterval(timer);
      await running;
      await client.close();
    },
  };
}
