/**
 * A failover storm (after Lasso's PR #118): every `everyMs` the provider serving the profile's
 * shared subscription has its WebSocket dropped (ws_drop, refused for a short lease), so Lasso
 * fails over each time. The serving provider is the one whose proxy carried notifications in
 * the last seconds; without that figure the window's own provider is dropped.
 */
import type { FaultControl } from "./control.js";

/** How long each drop refuses new handshakes: long enough that Lasso moves on, short enough to come back. */
export function stormDropLeaseMs(everyMs: number): number {
  return Math.max(200, Math.min(1_000, Math.floor(everyMs / 2)));
}

/** Notifications are counted per second: look at the last few to find who serves now. */
const SERVING_LOOKBACK_MS = 3_000;

export class FailoverStorm {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Drops performed (each one a failover Lasso had to make), by provider. */
  readonly drops: string[] = [];

  constructor(
    private readonly control: FaultControl,
    private readonly chain: string,
    private readonly fallbackProvider: string,
    private readonly everyMs: number,
    private readonly until: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    this.drop();
    this.timer = setInterval(() => this.drop(), this.everyMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Providers of the chain dropped at least once (their faults are cleared by the runner). */
  providers(): string[] {
    return [...new Set(this.drops)];
  }

  private drop(): void {
    this.running = this.running.then(async () => {
      if (this.stopped || Date.now() >= this.until) return;
      try {
        const provider = await this.servingProvider();
        if (this.stopped) return;
        await this.control.setFault(this.chain, provider, { kind: "ws_drop" }, stormDropLeaseMs(this.everyMs), this.until);
        this.drops.push(provider);
      } catch (err) {
        this.onError(err);
      }
    });
  }

  private async servingProvider(): Promise<string> {
    const since = Date.now() - SERVING_LOOKBACK_MS;
    const proxies = (await this.control.list()).filter((p) => p.chain === this.chain && p.wsUrl !== null);
    let best: { provider: string; n: number } | null = null;
    for (const p of proxies) {
      const n = (await this.control.traffic(this.chain, p.provider, since)).reduce((sum, b) => sum + (b.notifications ?? 0), 0);
      if (n > 0 && (best === null || n > best.n)) best = { provider: p.provider, n };
    }
    return best?.provider ?? this.fallbackProvider;
  }
}
