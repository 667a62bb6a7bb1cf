/**
 * The leak verdict of one series (one metric of one subject since its last restart). Pure.
 *
 * Judged: the points of the sliding window that are past the series' warm-up. A leak is
 * suspected when the trend is both significant and sustained:
 * - significant: Sen's lower confidence bound of the Theil-Sen slope exceeds the thresholds
 *   (percent of the baseline per hour, and an absolute floor per hour);
 * - sustained: the Theil-Sen slope of each half of the judged window, alone, exceeds them too.
 * The second rule is what keeps a one-off step from reading as a leak: a step drags the
 * slope of the whole window up (every pair across it climbs), but one half holds no step and
 * stays flat. Sawtooth GC cycles much shorter than a half average out in each half. The
 * second half must also keep at least half the first half's pace (SATURATION_RATIO), so growth
 * that levels off (a warm-up longer than `warmupMs`) is not a leak either.
 */
import { median, theilSen, theilSenSlope, type Point } from "./trend.js";

export interface VerdictOptions {
  /** Sliding window judged, ms. */
  windowMs: number;
  /** The first part of a series (after a start or restart) that is never judged, ms. */
  warmupMs: number;
  /** Judged data must span at least this long, ms. */
  minSpanMs: number;
  /** Two-sided confidence of the slope's bounds. */
  confidence: number;
  /** The lower bound must exceed this, in percent of the baseline per hour. */
  minPercentPerHour: number;
  /** ... and this, in the metric's units per hour. */
  minAbsPerHour: number;
  /** Pairs beyond which slopes are taken from a fixed subsample (bounded CPU). */
  maxPairs: number;
}

export type SoakStatus = "leak_suspected" | "no_leak" | "warming_up" | "collecting";

export interface SoakJudgement {
  status: SoakStatus;
  /** Judged window [from, to] (times of its first and last point); null when nothing is judged. */
  window: { from: number; to: number } | null;
  /** Points judged. */
  samples: number;
  /** Theil-Sen slope and Sen's bounds, units per hour. */
  slopePerHour: number | null;
  lowerPerHour: number | null;
  upperPerHour: number | null;
  /** The fitted value at the window's start: what percentages are of. */
  baseline: number | null;
  /** Slope and bounds in percent of the baseline per hour (null when the baseline is not > 0). */
  percentPerHour: number | null;
  lowerPercentPerHour: number | null;
  upperPercentPerHour: number | null;
  /** Theil-Sen slopes of the first and second half of the window, units per hour. */
  halvesPerHour: [number | null, number | null];
  /** Fit quality: Kendall's tau of value against time (1 = always rising, ~0 = no monotone trend). */
  tau: number | null;
  /** Fit quality: median absolute residual around the line, in units and in percent of the baseline. */
  residualMad: number | null;
  residualMadPercent: number | null;
  /** Why the status is what it is, in words. */
  reason: string;
}

/**
 * The second half of the window must grow at least this fraction as fast as the first: a
 * warm-up (caches filling after a start, growth that levels off) rises ever more slowly and
 * is not a leak; a leak keeps its pace.
 */
export const SATURATION_RATIO = 0.5;

/** Fewer points than this are not judged, whatever their span. */
export const MIN_POINTS = 10;
const HOUR_MS = 3_600_000;

function empty(status: SoakStatus, reason: string, window: SoakJudgement["window"] = null, samples = 0): SoakJudgement {
  return {
    status, window, samples, slopePerHour: null, lowerPerHour: null, upperPerHour: null, baseline: null, percentPerHour: null,
    lowerPercentPerHour: null, upperPercentPerHour: null, halvesPerHour: [null, null], tau: null, residualMad: null,
    residualMadPercent: null, reason,
  };
}

const fmt = (v: number, digits = 2): string => Number(v.toFixed(digits)).toString();

/**
 * `points`: the series since its start, in time order; `seriesStart`: when it started (its
 * first sample, or the restart); `now`: the judging instant (the last sample's time, say).
 */
export function judgeSeries(points: readonly Point[], seriesStart: number, now: number, o: VerdictOptions): SoakJudgement {
  const judgedFrom = Math.max(seriesStart + o.warmupMs, now - o.windowMs);
  if (now < seriesStart + o.warmupMs) return empty("warming_up", `warm-up until ${new Date(seriesStart + o.warmupMs).toISOString()}`);
  const judged = points.filter((p) => p.t >= judgedFrom && p.t <= now);
  const first = judged[0];
  const last = judged.at(-1);
  if (first === undefined || last === undefined) return empty("collecting", "no samples after warm-up in the window");
  const window = { from: first.t, to: last.t };
  if (judged.length < MIN_POINTS || last.t - first.t < o.minSpanMs) {
    return empty("collecting", `${judged.length} sample(s) over ${fmt((last.t - first.t) / HOUR_MS)} h; judged from ${MIN_POINTS} samples over ${fmt(o.minSpanMs / HOUR_MS)} h`, window, judged.length);
  }
  const fit = theilSen(judged, { confidence: o.confidence, maxPairs: o.maxPairs });
  if (fit === null) return empty("collecting", "no slope could be fitted", window, judged.length);
  const baseline = fit.startValue;
  const pct = (v: number | null): number | null => (v === null || !(baseline > 0) ? null : (v / baseline) * 100);
  const mid = first.t + (last.t - first.t) / 2;
  const halves: [number | null, number | null] = [
    theilSenSlope(judged.filter((p) => p.t <= mid), o.maxPairs),
    theilSenSlope(judged.filter((p) => p.t > mid), o.maxPairs),
  ];
  const residualMad = median(judged.map((p) => Math.abs(p.v - (fit.startValue + (fit.slopePerHour * (p.t - first.t)) / HOUR_MS))));
  // Above both thresholds: the percentage one only when there is a positive baseline to take it of.
  const above = (perHour: number | null): boolean => {
    if (perHour === null || !(perHour > o.minAbsPerHour)) return false;
    const p = pct(perHour);
    return p === null || p > o.minPercentPerHour;
  };
  const significant = above(fit.lowerPerHour);
  const sustained = above(halves[0]) && above(halves[1]) && (halves[1] as number) >= SATURATION_RATIO * (halves[0] as number);
  const threshold = `${fmt(o.minPercentPerHour)} %/h and ${fmt(o.minAbsPerHour)}/h`;
  const lowerText = `lower bound ${fmt(fit.lowerPerHour, 3)}/h${pct(fit.lowerPerHour) === null ? "" : ` (${fmt(pct(fit.lowerPerHour) ?? 0, 3)} %/h)`}`;
  let reason: string;
  if (!significant) reason = `${lowerText} not above ${threshold} at ${fmt(o.confidence * 100)}% confidence`;
  else if (!sustained)
    reason = `${lowerText} above ${threshold}, but the halves of the window grew ${halves.map((h) => (h === null ? "?" : fmt(h, 3))).join(" then ")} /h: ` +
      "not both above the thresholds with the second at least half the first, so a step, a cycle or a warm-up, not a sustained trend";
  else reason = `${lowerText} above ${threshold} at ${fmt(o.confidence * 100)}% confidence, in both halves of the window`;
  return {
    status: significant && sustained ? "leak_suspected" : "no_leak",
    window,
    samples: judged.length,
    slopePerHour: fit.slopePerHour,
    lowerPerHour: fit.lowerPerHour,
    upperPerHour: fit.upperPerHour,
    baseline,
    percentPerHour: pct(fit.slopePerHour),
    lowerPercentPerHour: pct(fit.lowerPerHour),
    upperPercentPerHour: pct(fit.upperPerHour),
    halvesPerHour: halves,
    tau: fit.tau,
    residualMad,
    residualMadPercent: pct(residualMad),
    reason,
  };
}
