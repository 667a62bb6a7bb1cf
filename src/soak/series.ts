/**
 * The soak series of one subject (a Lasso node, or the daemon itself): its samples since the
 * last restart, kept for the sliding window, and restart detection. Pure: the caller gives
 * every time.
 *
 * A restart starts a new series instead of hiding a trend (memory falling back looks like
 * "no growth") or faking one (warm-up after the restart looks like growth):
 * - uptime: the reported uptime went down, or the start time it implies (sample time minus
 *   uptime) moved forward by more than START_TOLERANCE_MS (a restart while polls failed);
 * - memory_drop: the primary memory figure fell by more than `dropRatio` since the previous
 *   sample (a restart the uptime could not show, e.g. /api/health failing).
 */
import type { SoakRestart } from "../samples.js";
import type { Point } from "./trend.js";
import { judgeSeries, type SoakJudgement, type VerdictOptions } from "./verdict.js";

/** Uptime is whole seconds, the sample time is taken before the request: a few seconds of slack, plus clock steps. */
export const START_TOLERANCE_MS = 30_000;

export interface SoakObservation {
  ts: number;
  uptimeSeconds: number | null;
  values: Partial<Record<string, number>>;
}

export interface SeriesOptions {
  metrics: readonly string[];
  /** The memory figure whose sharp drop starts a new series. */
  primary: string;
  dropRatio: number;
  /** Points older than this before the newest are forgotten (the window). */
  keepMs: number;
}

export class SubjectSeries {
  private readonly pts = new Map<string, Point[]>();
  private start: number | null = null;
  private last: { ts: number; uptimeSeconds: number | null; primary: number | null } | null = null;
  private restartCount = 0;
  private lastRestart: { at: number; reason: SoakRestart } | null = null;

  constructor(private readonly o: SeriesOptions) {
    for (const m of o.metrics) this.pts.set(m, []);
  }

  /** Whether `obs` begins a new series after the last observation, and why. */
  restartBefore(obs: SoakObservation): SoakRestart | null {
    const prev = this.last;
    if (prev === null) return null;
    if (obs.uptimeSeconds !== null && prev.uptimeSeconds !== null) {
      if (obs.uptimeSeconds < prev.uptimeSeconds) return "uptime";
      const startedNow = obs.ts - obs.uptimeSeconds * 1000;
      const startedBefore = prev.ts - prev.uptimeSeconds * 1000;
      if (startedNow - startedBefore > START_TOLERANCE_MS) return "uptime";
    }
    const v = obs.values[this.o.primary];
    if (v !== undefined && prev.primary !== null && prev.primary > 0 && v < prev.primary * (1 - this.o.dropRatio)) return "memory_drop";
    return null;
  }

  /**
   * Adds a live observation with values; returns the series it belongs to and whether a
   * restart began it. An observation without values changes nothing (a failed poll).
   */
  add(obs: SoakObservation): { seriesStart: number | null; restart: SoakRestart | null } {
    if (!this.hasValues(obs)) return { seriesStart: this.start, restart: null };
    const restart = this.restartBefore(obs);
    if (restart !== null) {
      this.restartCount++;
      this.lastRestart = { at: obs.ts, reason: restart };
    }
    this.put(obs, restart !== null || this.start === null ? obs.ts : this.start);
    return { seriesStart: this.start, restart };
  }

  /** Replays a stored observation with the series start recorded for it (daemon restart). */
  restore(obs: SoakObservation, seriesStart: number, restart: SoakRestart | null): void {
    if (!this.hasValues(obs)) return;
    if (restart !== null) this.lastRestart = { at: obs.ts, reason: restart };
    this.put(obs, seriesStart);
  }

  get seriesStart(): number | null {
    return this.start;
  }

  /** Time of the newest observation with values. */
  get lastTs(): number | null {
    return this.last?.ts ?? null;
  }

  /** Restarts detected live by this object (not replayed ones). */
  get restarts(): number {
    return this.restartCount;
  }

  get latestRestart(): { at: number; reason: SoakRestart } | null {
    return this.lastRestart;
  }

  points(metric: string): readonly Point[] {
    return this.pts.get(metric) ?? [];
  }

  latest(metric: string): number | null {
    return this.points(metric).at(-1)?.v ?? null;
  }

  /** The metric's verdict at the newest observation (warming up before any). */
  judge(metric: string, o: VerdictOptions): SoakJudgement {
    const now = this.last?.ts ?? 0;
    return judgeSeries(this.points(metric), this.start ?? now, now, o);
  }

  private hasValues(obs: SoakObservation): boolean {
    return this.o.metrics.some((m) => obs.values[m] !== undefined);
  }

  private put(obs: SoakObservation, seriesStart: number): void {
    if (seriesStart !== this.start) for (const list of this.pts.values()) list.length = 0;
    this.start = seriesStart;
    const horizon = obs.ts - this.o.keepMs;
    for (const [m, list] of this.pts) {
      const v = obs.values[m];
      if (v !== undefined && Number.isFinite(v)) list.push({ t: obs.ts, v });
      let drop = 0;
      while (drop < list.length && (list[drop] as Point).t < horizon) drop++;
      if (drop > 0) list.splice(0, drop);
    }
    this.last = { ts: obs.ts, uptimeSeconds: obs.uptimeSeconds, primary: obs.values[this.o.primary] ?? null };
  }
}
