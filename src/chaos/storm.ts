/**
 * A failover storm (after Lasso's PR #118): every `everyMs` the provider serving the profile's
 * shared subscription has its WebSocket dropped (ws_drop, refused for a short lease), so Lasso
 * fails over each time. The serving provider is the one whose proxy carried notifications
 * most recently; without that figure (TrafficBucket.notifications) the window's own provider is dropped.
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
  private lastDrop: { provider: string; at: number } | null = null;

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
        const at = Date.now();
        await this.control.setFault(this.chain, provider, { kind: "ws_drop" }, stormDropLeaseMs(this.everyMs), this.until);
        this.drops.push(provider);
        this.lastDrop = { provider, at };
      } catch (err) {
        this.onError(err);
      }
    });
  }

  /**
   * The proxy whose latest one-second bucket carried notifications, latest first. Buckets of the
   * last dropped provider up to the second of its drop do not count: they are the stream it lost.
   */
  private async servingProvider(): Promise<string> {
    const since = Date.now() - SERVING_LOOKBACK_MS;
    const proxies = (await this.control.list()).filter((p) => p.chain === this.chain && p.wsUrl !== null);
    let best: { provider: string; at: number; n: number } | null = null;
    for (const p of proxies) {
      const after = p.provider === this.lastDrop?.provider ? Math.floor(this.lastDrop.at / 1000) * 1000 : -Infinity;
      const buckets = (await this.control.traffic(this.chain, p.provider, since)).filter((b) => b.at > after && (b.notifications ?? 0) > 0);
      const last = buckets.at(-1);
      if (last === undefined) continue;
      const n = last.notifications ?? 0;
      if (best === null || last.at > best.at || (last.at === best.at && n > best.n)) best = { provider: p.provider, at: last.at, n };
    }
    return best?.provider ?? this.fallbackProvider;
  }
}
