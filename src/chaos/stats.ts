/**
 * Small, dependency-free statistics for the chaos verdict: the median and the Mann-Whitney U
 * rank test (two-sided, normal approximation with tie and continuity correction).
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

interface Ranked {
  v: number;
  fromX: boolean;
}

/**
 * Mann-Whitney U test of x against y, two-sided, normal approximation:
 *   U_x = R_x - nX(nX+1)/2 (R_x: sum of x's mid-ranks in the pooled sample),
 *   var(U) = nX nY / 12 * ((N+1) - sum(t^3 - t) / (N(N-1))) over tie groups of size t,
 *   z = (|U_x - nX nY/2| - 0.5) / sd, clamped at 0, p = P(|Z| >= z).
 * Every value equal (sd 0): p = 1, no evidence of a shift.
 * Throws on an empty sample or a non-finite value: the caller checks sample sizes first.
 */
export function mannWhitneyU(x: readonly number[], y: readonly number[]): MannWhitneyResult {
  const nX = x.length;
  const nY = y.length;
  if (nX === 0 || nY === 0) throw new RangeError(`mannWhitneyU needs two non-empty samples (got ${nX} and ${nY})`);
  const pooled: Ranked[] = [...x.map((v) => ({ v, fromX: true })), ...y.map((v) => ({ v, fromX: false }))];
  if (pooled.some((p) => !Number.isFinite(p.v))) throw new RangeError("mannWhitneyU: every value must be a finite number");
  pooled.sort((a, b) => a.v - b.v);
  const at = (k: number): Ranked => pooled[k] as Ranked;

  const n = nX + nY;
  let rankSumX = 0;
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && at(j + 1).v === at(i).v) j++;
    const t = j - i + 1;
    const midRank = (i + j) / 2 + 1; // ranks are 1-based
    for (let k = i; k <= j; k++) if (at(k).fromX) rankSumX += midRank;
    tieTerm += t * t * t - t;
    i = j + 1;
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
