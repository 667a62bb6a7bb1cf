/** Rate limits for the watchers' event-driven HTTP and their reconnects. */

/**
 * Token bucket: `ratePerSec` tokens accrue up to `burst`. The planned rate counts `ratePerSec`;
 * the burst lets one incident (a gap, a reconnect) be confirmed at once.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly clock: () => number,
  ) {
    this.tokens = burst;
    this.last = clock();
  }

  /** Takes a token now (true), or says how many ms until one is available. */
  take(): { ok: true } | { ok: false; waitMs: number } {
    const now = this.clock();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, waitMs: Math.ceil(((1 - this.tokens) / this.ratePerSec) * 1000) };
  }
}

/**
 * Delay before reconnect attempt `attempt` (1-based): exponential from `initialMs`, capped at
 * `maxMs`, with "equal jitter" (half fixed, half random) so many watchers do not reconnect in step.
 */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(0, attempt - 1), 30));
  return ceiling / 2 + random() * (ceiling / 2);
}
