/**
 * Soak sampling: every pollInterval, each soaked Lasso node's figures (from its own URL) and
 * the daemon's own are recorded as SoakSamples, tracked per series (restarts start a new
 * one) and judged for a leak. The verdicts are read by the metrics at scrape time. At start
 * the window is restored from the store, so a daemon restart or reload does not lose it.
 */
import type { SoakMetric, SoakPlan, Target } from "../plan/types.js";
import type { Sample, SoakSample } from "../samples.js";
import { verdictOptions } from "./options.js";
import { pollLassoNode, sampleSelf, type JsonGetter, type LagWindow } from "./sampler.js";
import { SubjectSeries, type SoakObservation } from "./series.js";
import type { SoakJudgement } from "./verdict.js";
import { SOAK_CANARY_METRICS, SOAK_LASSO_METRICS } from "./metricNames.js";

export const SELF_TARGET = "self";

export type SoakSubject = SoakSample["subject"];

export interface SoakSeriesState {
  subject: SoakSubject;
  target: string;
  metric: SoakMetric;
  /** The latest sample; null before the first. */
  value: number | null;
  seriesStart: number | null;
  lastTs: number | null;
  judgement: SoakJudgement;
}

export interface SoakEngineOptions {
  plan: SoakPlan;
  /** The config's targets (URLs and headers of the soaked ones). */
  targets: readonly Target[];
  recorder: { record(sample: Sample): void };
  lag: LagWindow;
  /** Stored soak samples with ts >= since, oldest first (the store; flushed first). */
  history: (since: number) => SoakSample[];
  onError: (err: unknown, what: string) => void;
  /** Wall clock, ms. */
  now?: () => number;
  get?: JsonGetter;
}

interface Subject {
  subject: SoakSubject;
  target: string;
  metrics: readonly SoakMetric[];
  series: SubjectSeries;
  /** Lasso nodes: where to poll. */
  node: { target: Target; chain: string } | null;
  judged: Map<SoakMetric, SoakJudgement>;
  polling: boolean;
}

export class SoakEngine {
  private readonly subjects: Subject[];
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly o: SoakEngineOptions) {
    this.now = o.now ?? Date.now;
    const subject = (s: SoakSubject, target: string, metrics: readonly SoakMetric[], primary: SoakMetric, node: Subject["node"]): Subject => ({
      subject: s, target, metrics, node, judged: new Map(), polling: false,
      series: new SubjectSeries({ metrics, primary, dropRatio: o.plan.restartDropRatio, keepMs: o.plan.windowMs }),
    });
    this.subjects = [
      ...o.plan.targets.map((t) => {
        const target = o.targets.find((x) => x.name === t.target);
        if (target === undefined) throw new Error(`soak target ${t.target} is not a config target`);
        return subject("lasso", t.target, SOAK_LASSO_METRICS, "memory_mb", { target, chain: t.chain });
      }),
      subject("canary", SELF_TARGET, SOAK_CANARY_METRICS, "rss_mb", null),
    ];
    for (const s of this.subjects) this.judge(s);
  }

  /** Restores the window from the store, samples at once, then every pollInterval. */
  start(): void {
    if (this.timer !== null || this.stopped) return;
    try {
      this.restore();
    } catch (err) {
      this.o.onError(err, "soak history");
    }
    this.round();
    this.timer = setInterval(() => this.round(), this.o.plan.pollIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await Promise.all(this.inFlight);
  }

  /** Every planned series with its latest value and verdict. */
  series(): SoakSeriesState[] {
    return this.subjects.flatMap((s) =>
      s.metrics.map((metric) => ({
        subject: s.subject, target: s.target, metric, value: s.series.latest(metric), seriesStart: s.series.seriesStart,
        lastTs: s.series.lastTs, judgement: s.judged.get(metric) as SoakJudgement,
      })),
    );
  }

  /** One round now (tests; the timer calls it too). Resolves when its polls are recorded. */
  round(): Promise<void> {
    const polls = this.subjects.map((s) => (s.node === null ? Promise.resolve(this.sampleSelf(s)) : this.pollNode(s, s.node)));
    const all = Promise.all(polls).then(() => undefined);
    this.inFlight.add(all);
    void all.finally(() => this.inFlight.delete(all));
    return all;
  }

  private restore(): void {
    const rows = this.o.history(this.now() - this.o.plan.windowMs);
    for (const row of rows) {
      const s = this.subjects.find((x) => x.subject === row.subject && x.target === row.target);
      if (s === undefined || row.seriesStart === null) continue;
      s.series.restore({ ts: row.ts, uptimeSeconds: row.uptimeSeconds, values: row.values }, row.seriesStart, row.restart);
    }
    for (const s of this.subjects) this.judge(s);
  }

  private sampleSelf(s: Subject): void {
    try {
      const figures = sampleSelf(this.o.lag);
      this.observe(s, { ts: this.now(), ...figures }, null, null);
    } catch (err) {
      this.o.onError(err, "soak self sample");
    }
  }

  private async pollNode(s: Subject, node: NonNullable<Subject["node"]>): Promise<void> {
    if (s.polling) return;
    s.polling = true;
    const ts = this.now();
    try {
      const poll = await pollLassoNode(node.target, node.chain, this.o.plan.timeoutMs, this.o.get);
      if (this.stopped) return;
      this.observe(s, { ts, uptimeSeconds: poll.uptimeSeconds, values: poll.values }, poll.errorClass, poll.errorDetail);
    } catch (err) {
      this.o.onError(err, `soak poll of ${s.target}`);
    } finally {
      s.polling = false;
    }
  }

  private observe(s: Subject, obs: SoakObservation, errorClass: SoakSample["errorClass"], errorDetail: string | null): void {
    const { seriesStart, restart } = s.series.add(obs);
    const hasValues = Object.keys(obs.values).length > 0;
    this.o.recorder.record({
      kind: "soak", ts: obs.ts, subject: s.subject, target: s.target, values: obs.values, uptimeSeconds: obs.uptimeSeconds,
      seriesStart: hasValues ? seriesStart : null, restart, errorClass, errorDetail,
    });
    this.judge(s);
  }

  private judge(s: Subject): void {
    for (const metric of s.metrics) s.judged.set(metric, s.series.judge(metric, verdictOptions(this.o.plan, metric)));
  }
}
