/**
 * Lasso's circuit breaker for the faulted provider, seen from the upstream side: the faulted
 * proxy's one-second traffic buckets (requests Lasso sent it, forwarded or faulted).
 *
 * Lasso's traffic to one provider is bursty and, at probe rates, sparse, so "it stopped
 * sending" is judged against its own rate before the fault:
 * - baseline: requests per second over the last `baselineSeconds` before the fault started;
 *   fewer than MIN_BASELINE_REQUESTS there and nothing can be said (not measurable);
 * - quiet stretch: long enough that EXPECTED_IN_QUIET requests were expected at the baseline
 *   rate (at least MIN_QUIET_SECONDS); an idle Poisson sender stays silent that long with
 *   probability e^-5 < 1 %;
 * - stopped: the first second in [start, end) that opens a quiet stretch with no request at all;
 * - resumed: after the stop, the first busy second that opens a stretch of the same length
 *   holding at least half the baseline's expected requests (and at least MIN_RESUME_REQUESTS),
 *   so an isolated request (a half-open probe, a health check) is not a resume;
 * - half-open probes: requests Lasso sent between the stop and the resume (or the data's end).
 * Seconds the buckets do not cover are not evidence: a quiet stretch must lie inside the data.
 */
import type { TrafficBucket } from "./control.js";

const BASELINE_SECONDS = 60;
const MIN_BASELINE_REQUESTS = 5;
const EXPECTED_IN_QUIET = 5;
const MIN_QUIET_SECONDS = 3;
const MIN_RESUME_REQUESTS = 2;

export interface BreakerView {
  /** The second (ms, not before `start`) from which Lasso stopped sending; null: it did not (or not measurable). */
  stoppedAt: number | null;
  /** Requests Lasso sent while stopped. */
  halfOpenProbes: number;
  /** The second it resumed sending; null: not within the data. */
  resumedAt: number | null;
  /** Baseline requests per second before the fault; null: too little traffic to judge. */
  baselinePerSecond: number | null;
  /** Length of the quiet stretch that counts as stopped (s); null when not measurable. */
  quietSeconds: number | null;
}

export function breakerFromTraffic(buckets: readonly TrafficBucket[], start: number, end: number): BreakerView {
  const perSecond = new Map<number, number>();
  for (const b of buckets) {
    const sec = Math.floor(b.at / 1000) * 1000;
    perSecond.set(sec, (perSecond.get(sec) ?? 0) + b.forwarded + b.faulted);
  }
  const seconds = [...perSecond.keys()].sort((a, b) => a - b);
  const lastSecond = seconds.at(-1);
  const none: BreakerView = { stoppedAt: null, halfOpenProbes: 0, resumedAt: null, baselinePerSecond: null, quietSeconds: null };
  if (lastSecond === undefined) return none;

  const baseline = seconds.filter((s) => s + 1000 <= start && s >= start - BASELINE_SECONDS * 1000);
  const baselineRequests = baseline.reduce((sum, s) => sum + (perSecond.get(s) ?? 0), 0);
  // Seconds without a bucket inside the baseline are idle seconds (the proxy's buckets are dense anyway).
  const baselineSpan = baseline.length === 0 ? 0 : ((baseline.at(-1) as number) - (baseline[0] as number)) / 1000 + 1;
  const rate = baselineSpan === 0 ? null : baselineRequests / baselineSpan;
  if (rate === null || baselineRequests < MIN_BASELINE_REQUESTS) return { ...none, baselinePerSecond: rate };
  const quietSeconds = Math.max(MIN_QUIET_SECONDS, Math.ceil(EXPECTED_IN_QUIET / rate));
  const resumeRequests = Math.max(MIN_RESUME_REQUESTS, Math.ceil((rate * quietSeconds) / 2));

  const at = (sec: number): number => perSecond.get(sec) ?? 0;
  const stretch = (from: number): number => {
    let sum = 0;
    for (let k = 0; k < quietSeconds; k++) sum += at(from + k * 1000);
    return sum;
  };
  const covered = (from: number): boolean => from + (quietSeconds - 1) * 1000 <= lastSecond;

  let stopSecond: number | null = null;
  for (let sec = Math.floor(start / 1000) * 1000; sec < end && covered(sec); sec += 1000) {
    if (stretch(sec) === 0) {
      stopSecond = sec;
      break;
    }
  }
  if (stopSecond === null) return { ...none, baselinePerSecond: rate, quietSeconds };

  let resumeSecond: number | null = null;
  let halfOpenProbes = 0;
  for (let sec = stopSecond + 1000; sec <= lastSecond; sec += 1000) {
    if (at(sec) > 0 && stretch(sec) >= resumeRequests) {
      resumeSecond = sec;
      break;
    }
    halfOpenProbes += at(sec);
  }
  return { stoppedAt: Math.max(stopSecond, start), halfOpenProbes, resumedAt: resumeSecond, baselinePerSecond: rate, quietSeconds };
}
