/**
 * The soak verdict gauges, read from whichever soak engine runs now at scrape time (a reload
 * replaces it). Poll and restart counters come from the samples (metrics/registry.ts).
 */
import type { MetricsSink } from "../metrics/registry.js";
import type { SoakEngine, SoakSeriesState } from "./engine.js";

type SeriesLabels = Record<"subject" | "target" | "metric", string>;
type SlopeLabels = Record<"subject" | "target" | "metric" | "unit", string>;

const labelsOf = (s: SoakSeriesState): SeriesLabels => ({ subject: s.subject, target: s.target, metric: s.metric });

/** abs (units per hour) and percent (of the baseline per hour, when it is > 0) of one figure. */
function perUnit(s: SoakSeriesState, abs: number | null, percent: number | null): [SlopeLabels, number][] {
  const out: [SlopeLabels, number][] = [];
  if (abs !== null) out.push([{ ...labelsOf(s), unit: "abs" }, abs]);
  if (percent !== null) out.push([{ ...labelsOf(s), unit: "percent" }, percent]);
  return out;
}

export function exportSoakMetrics(metrics: MetricsSink, engine: () => SoakEngine | null): void {
  const series = (): SoakSeriesState[] => engine()?.series() ?? [];
  metrics.labelledGauge("lasso_canary_soak_leak_suspected",
    "1 while the series' trend is a suspected leak: the lower confidence bound of its Theil-Sen slope over the window (after warm-up) exceeds the thresholds, in both halves of the window; 0 otherwise (also while warming up).",
    ["subject", "target", "metric"], () => series().map((s) => [labelsOf(s), s.judgement.status === "leak_suspected" ? 1 : 0]));
  metrics.labelledGauge("lasso_canary_soak_value",
    "Latest soak sample: Lasso nodes' memory_mb (BEAM total memory), process_count, run_queue; the daemon's (subject canary, target self) rss_mb, heap_mb, loop_lag_ms (mean timer lateness since the previous sample).",
    ["subject", "target", "metric"], () => series().flatMap((s) => (s.value === null ? [] : [[labelsOf(s), s.value] as [SeriesLabels, number]])));
  metrics.labelledGauge("lasso_canary_soak_slope_per_hour",
    "Theil-Sen slope of the series over the judged window: unit=abs in the metric's units per hour (MB/h), unit=percent in % of the series' baseline per hour; absent until judged.",
    ["subject", "target", "metric", "unit"], () => series().flatMap((s) => perUnit(s, s.judgement.slopePerHour, s.judgement.percentPerHour)));
  metrics.labelledGauge("lasso_canary_soak_slope_lower_per_hour",
    "Lower confidence bound of the slope (what the leak verdict compares with its thresholds), unit=abs or percent as for lasso_canary_soak_slope_per_hour; absent until judged.",
    ["subject", "target", "metric", "unit"], () => series().flatMap((s) => perUnit(s, s.judgement.lowerPerHour, s.judgement.lowerPercentPerHour)));
  metrics.labelledGauge("lasso_canary_soak_series_age_seconds",
    "Span of data in the current series: from its start (the first sample, or the sample after a restart) to its latest sample.",
    ["subject", "target", "metric"], () =>
      series().flatMap((s) => (s.seriesStart === null || s.lastTs === null ? [] : [[labelsOf(s), (s.lastTs - s.seriesStart) / 1000] as [SeriesLabels, number]])));
}
