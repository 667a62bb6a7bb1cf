/** How the board carries one chain's pinned answers forward in time. */
export interface ChainTiming {
  /** The chain's block time: a pinned answer is carried forward one block per whole block time since it arrived. */
  blockTimeMs: number;
  /** Pinned answers older than this are not used at all. */
  horizonMs: number;
}

interface PinnedAnswer {
  height: number;
  /** When the answer arrived. */
  at: number;
}

/** Answers kept per provider: enough to judge an answer that arrived just before the newest pinned one. */
const KEPT_PER_PROVIDER = 4;

/**
 * The chain head the pinned providers imply at a given instant, per (target, chain).
 *
 * A live provider that answered height h when its answer arrived at `a` had block h and not
 * yet h+1 at some instant s <= a (its server time), so at a later instant t its head is
 * h + (blocks produced in (s, t]). Each answer is carried forward to t as
 * h + floor((t - a) / blockTime), and Lasso's consensus rule is applied to those figures.
 *
 * Uncertainty, while blocks come no faster than the block time: a carried-forward figure never
 * reads above that provider's real head at t, and reads at most 1 block low, plus 1 for each
 * block produced while the pinned answer travelled back. It reads HIGH only when the chain
 * produced fewer blocks than the block time predicts since the answer (missed slots, a real
 * block time longer than configured): by at most floor(A / blockTime) - (blocks produced in
 * the answer's age A), A <= horizon. So configure a block time no shorter than the chain's real
 * one: a longer one only makes the figure read lower (fewer detections), never higher.
 *
 * A stale provider (it answered h while h+1 already existed) carries a low figure forward;
 * Lasso's rule takes the figure at index floor(n/4) from the top, so the consensus stays
 * honest while at least floor(n/4)+1 providers are live, and ignores up to floor(n/4)
 * providers that read high (none with 1-3 providers: then the max is trusted, as in Lasso).
 */
export class HeadBoard {
  private readonly answers = new Map<string, Map<string, PinnedAnswer[]>>();

  constructor(private readonly timingOf: (chain: string) => ChainTiming) {}

  report(target: string, chain: string, provider: string, height: number, at: number): void {
    const key = `${target}|${chain}`;
    let byProvider = this.answers.get(key);
    if (!byProvider) this.answers.set(key, (byProvider = new Map()));
    let kept = byProvider.get(provider);
    if (!kept) byProvider.set(provider, (kept = []));
    // Answers come in arrival order nearly always; keep the list ordered by arrival anyway.
    let i = kept.length;
    while (i > 0 && (kept[i - 1]?.at ?? -Infinity) > at) i--;
    kept.splice(i, 0, { height, at });
    if (kept.length > KEPT_PER_PROVIDER) kept.shift();
  }

  /**
   * Consensus head at instant `at`, from each provider's newest answer that arrived at or before
   * `at` and within the chain's horizon; null when no provider has one.
   */
  consensus(target: string, chain: string, at: number): number | null {
    const byProvider = this.answers.get(`${target}|${chain}`);
    if (!byProvider) return null;
    const { blockTimeMs, horizonMs } = this.timingOf(chain);
    if (!(blockTimeMs > 0)) throw new Error(`chain ${chain}: block time must be > 0 ms to carry heads forward, got ${blockTimeMs}`);
    const heads: number[] = [];
    for (const kept of byProvider.values()) {
      const newest = kept.findLast((a) => a.at <= at);
      if (newest && at - newest.at <= horizonMs) heads.push(newest.height + Math.floor((at - newest.at) / blockTimeMs));
    }
    return lassoConsensus(heads);
  }
}

/** Lasso's consensus rule: the head at index floor(n * 0.25) of the heads sorted high to low. */
export function lassoConsensus(heads: readonly number[]): number | null {
  const sorted = [...heads].sort((a, b) => b - a);
  return sorted[Math.floor(sorted.length * 0.25)] ?? null;
}
