/**
 * The report's soak section: the stored samples of the window before the range's end judged
 * with the daemon's own series tracking and verdict (src/soak), so /report and /metrics agree.
 */
import { SOAK_CANARY_METRICS, SOAK_LASSO_METRICS } from "../soak/metricNames.js";
import type { SoakMetric, SoakPlan } from "../plan/types.js";
import type { SoakSample } from "../samples.js";
import { verdictOptions } from "../soak/options.js";
import { SubjectSeries } from "../soak/series.js";
import { judgeSeries } from "../soak/verdict.js";
import type { SoakPollCounts } from "../store/soak.js";
import type { SoakReport, SoakSubjectReport } from "./types.js";

export interface SoakSource {
  soakSamples(since: number, until: number): SoakSample[];
  soakPollCounts(since: number, until: number): SoakPollCounts[];
}

const SELF = "self";

export function buildSoakReport(source: SoakSource, plan: SoakPlan, range: { since: number; until: number }): SoakReport {
  const at = range.until;
  const samples = source.soakSamples(at - plan.windowMs, at);
  const counts = source.soakPollCounts(range.since, range.until);
  const subjects: { subject: "lasso" | "canary"; target: string; chain: string | null; metrics: readonly SoakMetric[] }[] = [
    ...plan.targets.map((t) => ({ subject: "lasso" as const, target: t.target, chain: t.chain, metrics: SOAK_LASSO_METRICS })),
    { subject: "canary", target: SELF, chain: null, metrics: SOAK_CANARY_METRICS },
  ];
  const { targets: _targets, ...settings } = plan;
  return {
    at,
    settings,
    subjects: subjects.map((sub): SoakSubjectReport => {
      const series = new SubjectSeries({ metrics: sub.metrics, primary: sub.metrics[0] as string, dropRatio: plan.restartDropRatio, keepMs: plan.windowMs });
      for (const s of samples) {
        if (s.subject !== sub.subject || s.target !== sub.target || s.seriesStart === null) continue;
        series.restore({ ts: s.ts, uptimeSeconds: s.uptimeSeconds, values: s.values }, s.seriesStart, s.restart);
      }
      const c = counts.find((x) => x.subject === sub.subject && x.target === sub.target);
      const start = series.seriesStart;
      const restart = series.latestRestart;
      return {
        subject: sub.subject, target: sub.target, chain: sub.chain,
        polls: c?.polls ?? 0, pollErrors: c?.errors ?? 0, restarts: c?.restarts ?? 0,
        errorClasses: Object.entries(c?.errorClasses ?? {}).map(([errorClass, count]) => ({ errorClass, count })).sort((a, b) => b.count - a.count),
        seriesStart: start,
        lastRestart: restart !== null && restart.at === start ? restart : null,
        metrics: sub.metrics.map((metric) => ({
          metric,
          value: series.latest(metric),
          ...judgeSeries(series.points(metric), start ?? at, at, verdictOptions(plan, metric)),
        })),
      };
    }),
  };
}
