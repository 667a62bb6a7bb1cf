/**
 * Theil-Sen slope with Sen's rank-based confidence interval (Sen 1968; Gilbert 1987, ch. 16):
 * the median of the slopes of all pairs of points, robust to noise and to up to ~29% of
 * outliers. Pure: no I/O, no clock.
 */
import { prng } from "../prng.js";

export interface Point {
  /** Time, ms (any origin). */
  t: number;
  v: number;
}

export interface TheilSenOptions {
  /** Two-sided confidence of [lower, upper], e.g. 0.95. */
  confidence: number;
  /** Above this many pairs, a fixed pseudo-random subset of this size stands in for all of them. */
  maxPairs: number;
}

export interface TheilSenFit {
  /** Median pairwise slope, value units per hour. */
  slopePerHour: number;
  /** Sen's confidence bounds on the slope, value units per hour. */
  lowerPerHour: number;
  upperPerHour: number;
  /** The line's value at the first point's time: median of v - slope * t. */
  startValue: number;
  /** Kendall's tau of value against time over the pairs used (1: always rising). */
  tau: number;
  /** Pairs whose slopes were taken (all of them, or maxPairs when subsampled). */
  pairs: number;
  /** Pairs with distinct times: n(n-1)/2 when timestamps are distinct. */
  totalPairs: number;
}

const HOUR_MS = 3_600_000;

/**
 * Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9):
 * the z of a confidence level; no statistics library is in the dependency set for one function.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile needs 0 < p < 1, got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const poly = (k: number[], x: number): number => k.reduce((acc, coef) => acc * x + coef, 0);
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}


/** Slopes (per hour) of all pairs with distinct times, or of `maxPairs` pseudo-random ones; unordered. */
function pairSlopes(points: readonly Point[], maxPairs: number): { slopes: Float64Array; total: number } {
  const n = points.length;
  const all = (n * (n - 1)) / 2;
  const slope = (i: number, j: number): number | null => {
    const a = points[i] as Point;
    const b = points[j] as Point;
    const dt = b.t - a.t;
    return dt === 0 ? null : ((b.v - a.v) / dt) * HOUR_MS;
  };
  if (all <= maxPairs) {
    const out = new Float64Array(all);
    let k = 0;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const s = slope(i, j);
        if (s !== null) out[k++] = s;
      }
    }
    return { slopes: out.subarray(0, k), total: k };
  }
  const rand = prng(n * 2654435761);
  const out = new Float64Array(maxPairs);
  let k = 0;
  let tries = 0;
  while (k < maxPairs && tries < maxPairs * 4) {
    tries++;
    const i = Math.floor(rand() * n);
    const j = Math.floor(rand() * n);
    if (i === j) continue;
    const s = i < j ? slope(i, j) : slope(j, i);
    if (s !== null) out[k++] = s;
  }
  return { slopes: out.subarray(0, k), total: all };
}

/**
 * The k-th smallest (0-based) of `a`, partially reordering it in place (Hoare's quickselect,
 * median-of-three pivot): O(n), where sorting 20,000 slopes for three order statistics was
 * most of a fit's cost.
 */
export function selectKth(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >> 1;
    const x = a[lo] as number;
    const y = a[mid] as number;
    const z = a[hi] as number;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i] = a[j] as number;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k] as number;
  }
  return a[k] as number;
}

/** Median by selection (NaN when empty); reorders `a`. */
function selectMedian(a: Float64Array): number {
  const n = a.length;
  if (n === 0) return NaN;
  const hi = selectKth(a, n >> 1);
  if (n % 2 === 1) return hi;
  // After selecting index n/2, everything below it is <= it: the lower middle is their maximum.
  let lower = -Infinity;
  for (let i = 0; i < n >> 1; i++) if ((a[i] as number) > lower) lower = a[i] as number;
  return (lower + hi) / 2;
}

export function median(values: readonly number[]): number {
  return selectMedian(Float64Array.from(values));
}

/**
 * Variance of Kendall's S under no trend, with the correction for tied values (memory to
 * 0.1 MB and small integer counts tie often).
 */
function kendallVariance(points: readonly Point[]): number {
  const n = points.length;
  const counts = new Map<number, number>();
  for (const p of points) counts.set(p.v, (counts.get(p.v) ?? 0) + 1);
  let ties = 0;
  for (const t of counts.values()) if (t > 1) ties += t * (t - 1) * (2 * t + 5);
  return (n * (n - 1) * (2 * n + 5) - ties) / 18;
}

/** Null when fewer than 3 points or all at one time. Points must be in time order. */
export function theilSen(points: readonly Point[], opts: TheilSenOptions): TheilSenFit | null {
  if (points.length < 3) return null;
  const { slopes, total } = pairSlopes(points, Math.max(1, Math.floor(opts.maxPairs)));
  const used = slopes.length;
  if (used === 0) return null;
  const slope = selectMedian(slopes);
  // Sen's bounds are the slopes of rank (N - C)/2 and (N + C)/2 + 1 among all N; from a
  // subsample, the same fractions of it.
  const z = normalQuantile(1 - (1 - opts.confidence) / 2);
  const c = z * Math.sqrt(Math.max(0, kendallVariance(points)));
  const m1 = (total - c) / 2;
  const m2 = (total + c) / 2 + 1;
  const at = (rank: number): number => selectKth(slopes, Math.min(used - 1, Math.max(0, Math.round((rank / total) * used) - 1)));
  let up = 0;
  let down = 0;
  for (const s of slopes) {
    if (s > 0) up++;
    else if (s < 0) down++;
  }
  const t0 = (points[0] as Point).t;
  const startValue = median(points.map((p) => p.v - (slope * (p.t - t0)) / HOUR_MS));
  return {
    slopePerHour: slope,
    lowerPerHour: at(Math.max(1, m1)),
    upperPerHour: at(Math.min(total, m2)),
    startValue,
    tau: (up - down) / used,
    pairs: used,
    totalPairs: total,
  };
}

/** The Theil-Sen slope alone (no bounds), value units per hour; null when it cannot be fitted. */
export function theilSenSlope(points: readonly Point[], maxPairs: number): number | null {
  if (points.length < 2) return null;
  const { slopes } = pairSlopes(points, Math.max(1, Math.floor(maxPairs)));
  return slopes.length === 0 ? null : selectMedian(slopes);
}
