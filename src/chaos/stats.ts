/**
 * Small, dependency-free statistics for the chaos verdict and the baseline comparison: the
 * median and the Mann-Whitney U rank test (two-sided, normal approximation with tie and
 * continuity correction), over plain samples or counted values (histogram buckets).
 *
 * Why the normal approximation and not the exact distribution: the verdict only runs the test
 * with at least 20 samples per side, where the approximation is accurate to the p-value's third
 * decimal, and latencies in whole milliseconds tie a lot; the exact permutation distribution
 * assumes no ties (scipy, for one, switches to the approximation as soon as there are ties).
 */

/** Median of the values (mean of the two middle ones for an even count); null when empty. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Complementary error function, Chebyshev fit with fractional error below 1.2e-7 everywhere
 * (Press et al., Numerical Recipes in C, 2nd ed., section 6.2, `erfcc`).
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** P(|Z| >= z) for a standard normal Z. */
export function twoSidedNormalP(z: number): number {
  return Math.min(1, erfc(Math.abs(z) / Math.SQRT2));
}

export interface MannWhitneyResult {
  /** U of the first sample: the number of (x, y) pairs with x > y, ties counting one half. */
  u: number;
  nX: number;
  nY: number;
  /** E[U] = nX * nY / 2 under the null hypothesis. */
  meanU: number;
  /** Standard deviation of U with the tie correction; 0 when every value is equal. */
  sdU: number;
  /** Continuity-corrected z (sign: positive when x tends to be larger). */
  z: number;
  /** Two-sided p-value. */
  p: number;
}

/** A value observed `count` times: a histogram bucket (its index or any order-preserving value) and its count. */
export type ValueCount = readonly [value: number, count: number];

/**
 * Mann-Whitney U test of x against y, two-sided, normal approximation:
 *   U_x = R_x - nX(nX+1)/2 (R_x: sum of x's mid-ranks in the pooled sample),
 *   var(U) = nX nY / 12 * ((N+1) - sum(t^3 - t) / (N(N-1))) over tie groups of size t,
 *   z = (|U_x - nX nY/2| - 0.5) / sd, clamped at 0, p = P(|Z| >= z).
 * Every value equal (sd 0): p = 1, no evidence of a shift.
 * Throws on an empty sample or a non-finite value: the caller checks sample sizes first.
 */
export function mannWhitneyU(x: readonly number[], y: readonly number[]): MannWhitneyResult {
  return mannWhitneyUCounts(x.map((v) => [v, 1] as const), y.map((v) => [v, 1] as const));
}

/**
 * The same test over counted values (histogram buckets): a bucket is a group of tied values.
 * The test depends on ranks only, so buckets may be given by their index in any histogram
 * whose index order is the value order. Counts must be non-negative integers.
 */
export function mannWhitneyUCounts(x: readonly ValueCount[], y: readonly ValueCount[]): MannWhitneyResult {
  const merged = new Map<number, { x: number; y: number }>();
  const add = (list: readonly ValueCount[], side: "x" | "y"): number => {
    let n = 0;
    for (const [v, c] of list) {
      if (!Number.isFinite(v) || !Number.isFinite(c)) throw new RangeError("mannWhitneyU: every value must be a finite number");
      if (c < 0 || !Number.isInteger(c)) throw new RangeError(`mannWhitneyU: counts must be whole and >= 0 (got ${c})`);
      if (c === 0) continue;
      const m = merged.get(v) ?? { x: 0, y: 0 };
      m[side] += c;
      merged.set(v, m);
      n += c;
    }
    return n;
  };
  const nX = add(x, "x");
  const nY = add(y, "y");
  if (nX === 0 || nY === 0) throw new RangeError(`mannWhitneyU needs two non-empty samples (got ${nX} and ${nY})`);

  const n = nX + nY;
  let rankSumX = 0;
  let tieTerm = 0;
  let below = 0; // values ranked before this tie group
  for (const v of [...merged.keys()].sort((a, b) => a - b)) {
    const g = merged.get(v) as { x: number; y: number };
    const t = g.x + g.y;
    const midRank = below + (t + 1) / 2; // ranks are 1-based
    rankSumX += g.x * midRank;
    tieTerm += t * t * t - t;
    below += t;
  }

  const u = rankSumX - (nX * (nX + 1)) / 2;
  const meanU = (nX * nY) / 2;
  const variance = n > 1 ? ((nX * nY) / 12) * (n + 1 - tieTerm / (n * (n - 1))) : 0;
  const sdU = variance > 0 ? Math.sqrt(variance) : 0;
  if (sdU === 0) return { u, nX, nY, meanU, sdU, z: 0, p: 1 };
  const distance = Math.max(0, Math.abs(u - meanU) - 0.5);
  const z = (Math.sign(u - meanU) * distance) / sdU;
  return { u, nX, nY, meanU, sdU, z, p: twoSidedNormalP(z) };
}
