/** Bounded dedup window: at most `maxItems` keys, each remembered for at most `ttlMs`. */
export class DedupWindow {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly maxItems = 256,
    private readonly ttlMs = 30_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** True when the key was seen inside the window; records it otherwise. */
  checkAndAdd(key: string): boolean {
    this.prune();
    if (this.seen.has(key)) return true;
    this.seen.set(key, this.now());
    while (this.seen.size > this.maxItems) {
      const oldest = this.seen.keys().next();
      if (oldest.done) break;
      this.seen.delete(oldest.value);
    }
    return false;
  }

  add(key: string): void {
    this.prune();
    this.seen.delete(key);
    this.seen.set(key, this.now());
  }

  private prune(): void {
    const cutoff = this.now() - this.ttlMs;
    for (const [k, t] of this.seen) {
      if (t >= cutoff) break; // insertion order == time order
      this.seen.delete(k);
    }
  }
}
