/**
 * Significance tests for the baseline comparison, on what the store keeps (counts and
 * histogram buckets, never raw samples):
 * - two proportions (success ratio; the share above a split for quantiles): the pooled
 *   two-proportion z-test, or Fisher's exact test when an expected cell count is below 5
 *   (where the normal approximation is poor);
 * - a quantile: the split test (Mood's median test generalised to any quantile q): pool both
 *   periods, split at the pooled q-quantile's bucket, compare the shares above the split;
 * - a location shift of a whole distribution (mean head lag, mean overhead): Mann-Whitney U
 *   over the buckets (src/chaos/stats.ts);
 * - Holm's step-down adjustment over every test of one comparison, so the chance that a
 *   comparison of two equivalent periods flags anything stays below alpha however many rows
 *   it holds.
 */
import { mannWhitneyUCounts, twoSidedNormalP, type ValueCount } from "../chaos/stats.js";

export type TestName = "two_proportion_z" | "fisher_exact" | "quantile_split_z" | "quantile_split_fisher" | "mann_whitney_u";

export interface TestResult {
  name: TestName;
  /** Two-sided p-value. */
  p: number;
}

/** Successes (or any event) k out of n trials. */
export interface Proportion {
  k: number;
  n: number;
}

/** Expected cell counts below this make the z-test unreliable: Fisher's exact test is used instead. */
export const MIN_EXPECTED_CELL = 5;

/** log Γ(x) for x > 0, Lanczos approximation (g = 7, 9 terms), relative error ~1e-15. */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0] as number;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/**
 * Fisher's exact test of the 2x2 table [[a.k, a.n - a.k], [b.k, b.n - b.k]], two-sided: the
 * sum of the hypergeometric probabilities of every table with the same margins that is no
 * more likely than the observed one (R's fisher.test convention, relative tolerance 1e-7).
 */
export function fisherExact(a: Proportion, b: Proportion): number {
  const n = a.n + b.n;
  const k = a.k + b.k;
  const lo = Math.max(0, k - b.n);
  const hi = Math.min(a.n, k);
  const base = logChoose(n, k);
  const logP = (x: number): number => logChoose(a.n, x) + logChoose(b.n, k - x) - base;
  const observed = logP(a.k);
  let p = 0;
  for (let x = lo; x <= hi; x++) {
    const lp = logP(x);
    if (lp <= observed + 1e-7) p += Math.exp(lp);
  }
  return Math.min(1, p);
}

/** Two-sided test that two proportions are equal: z-test, or Fisher's exact test for small expected counts. */
export function twoProportionTest(a: Proportion, b: Proportion): TestResult {
  for (const s of [a, b]) {
    if (!(Number.isInteger(s.k) && Number.isInteger(s.n) && s.n > 0 && s.k >= 0 && s.k <= s.n)) {
      throw new RangeError(`twoProportionTest: need whole counts with 0 <= k <= n and n > 0 (got ${s.k}/${s.n})`);
    }
  }
  const n = a.n + b.n;
  const k = a.k + b.k;
  const minExpected = Math.min(a.n, b.n) * Math.min(k, n - k) / n;
  if (minExpected < MIN_EXPECTED_CELL) return { name: "fisher_exact", p: fisherExact(a, b) };
  const pooled = k / n;
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / a.n + 1 / b.n));
  const z = (b.k / b.n - a.k / a.n) / se;
  return { name: "two_proportion_z", p: twoSidedNormalP(z) };
}

const total = (h: readonly ValueCount[]): number => h.reduce((n, [, c]) => n + c, 0);

/**
 * The split test of the q-quantile (0 < q < 1) of two histograms (buckets as [value or index,
 * count], any order): the pooled q-quantile's bucket splits each period's samples into at or
 * below it and above it, and the shares above are compared by twoProportionTest. Equal
 * quantiles leave about the same share above in both; a shifted one does not.
 */
export function quantileSplitTest(baseline: readonly ValueCount[], current: readonly ValueCount[], q: number): TestResult & { split: number } {
  if (!(q > 0 && q < 1)) throw new RangeError(`quantileSplitTest: q must be in (0, 1), got ${q}`);
  const nB = total(baseline);
  const nC = total(current);
  if (nB === 0 || nC === 0) throw new RangeError(`quantileSplitTest needs two non-empty histograms (got ${nB} and ${nC})`);
  const pooled = new Map<number, number>();
  for (const [v, c] of [...baseline, ...current]) pooled.set(v, (pooled.get(v) ?? 0) + c);
  const values = [...pooled.keys()].sort((x, y) => x - y);
  let split = values.at(-1) as number;
  let cumulative = 0;
  for (const v of values) {
    cumulative += pooled.get(v) as number;
    if (cumulative >= q * (nB + nC)) {
      split = v;
      break;
    }
  }
  const above = (h: readonly ValueCount[]): number => h.reduce((n, [v, c]) => n + (v > split ? c : 0), 0);
  const r = twoProportionTest({ k: above(baseline), n: nB }, { k: above(current), n: nC });
  return { name: r.name === "fisher_exact" ? "quantile_split_fisher" : "quantile_split_z", p: r.p, split };
}

/** Mann-Whitney U over two histograms: a shift of the whole distribution. */
export function rankShiftTest(baseline: readonly ValueCount[], current: readonly ValueCount[]): TestResult {
  return { name: "mann_whitney_u", p: mannWhitneyUCounts(current, baseline).p };
}

/**
 * Holm's step-down adjustment: with m p-values sorted ascending, the i-th (0-based) becomes
 * max over j <= i of min(1, (m - j) p_(j)). Rejecting where the adjusted p < alpha keeps the
 * family-wise error rate at alpha. Returned in the input order.
 */
export function holmAdjust(ps: readonly number[]): number[] {
  const m = ps.length;
  const order = ps.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    out[i] = running;
  });
  return out;
}
