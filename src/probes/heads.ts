/**
 * What the pinned providers say the chain head is, per (target, chain). Lasso's own
 * rule: the max of the providers' heads with 1-3 providers, the second-highest with 4+.
 */
export class HeadBoard {
  private readonly heads = new Map<string, Map<string, { height: number; at: number }>>();

  constructor(private readonly maxAgeMs: (chainKey: string) => number) {}

  report(target: string, chain: string, provider: string, height: number, at: number): void {
    const key = `${target}|${chain}`;
    let byProvider = this.heads.get(key);
    if (!byProvider) this.heads.set(key, (byProvider = new Map()));
    byProvider.set(provider, { height, at });
  }

  /** Consensus head from reports made before `before` and not older than the chain's max age; null when nothing recent. */
  consensus(target: string, chain: string, before: number): number | null {
    const byProvider = this.heads.get(`${target}|${chain}`);
    if (!byProvider) return null;
    const maxAge = this.maxAgeMs(chain);
    const heights = [...byProvider.values()]
      .filter((h) => h.at <= before && before - h.at <= maxAge)
      .map((h) => h.height)
      .sort((a, b) => b - a);
    if (heights.length === 0) return null;
    return heights.length >= 4 ? (heights[1] ?? null) : (heights[0] ?? null);
  }
}
