/**
 * Runtime state of upstream providers: per-instance circuit breaker, head polling, latency
 * and call statistics; per-(profile, chain) provider lists with consensus head and lag.
 *
 * Like Lasso, breakers and heads belong to the upstream *instance* (chain + url + ws_url), so
 * two profiles pointing at the same URL share them; different URLs never do.
 */
import { CircuitBreaker, type BreakerConfig } from "./breaker.js";
import { hexToNumber } from "./jsonrpc.js";
import type { SimChain, SimProfile, SimProvider } from "./types.js";
import type { UpstreamClient } from "./upstream.js";

const LATENCY_RING = 256;

export class CallStats {
  totalCalls = 0;
  successes = 0;
  latencySumMs = 0;
  private readonly ring: number[] = [];

  record(ok: boolean, latencyMs: number): void {
    this.totalCalls += 1;
    if (ok) this.successes += 1;
    this.latencySumMs += latencyMs;
    this.ring.push(latencyMs);
    if (this.ring.length > LATENCY_RING) this.ring.shift();
  }

  successRate(): number {
    return this.totalCalls === 0 ? 0 : this.successes / this.totalCalls;
  }

  avgLatencyMs(): number {
    return this.totalCalls === 0 ? 0 : this.latencySumMs / this.totalCalls;
  }

  percentile(p: number): number | null {
    if (this.ring.length === 0) return null;
    const sorted = [...this.ring].sort((a, b) => a - b);
    const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[idx] ?? null;
  }
}

export class UpstreamInstance {
  readonly breaker: CircuitBreaker;
  head: number | null = null;
  /** performance.now() of the last successful head poll. */
  headAt = 0;
  /** null until the first poll completes. */
  pollOk: boolean | null = null;
  chainIdVerified = false;
  /** EWMA of successful request/poll latencies, ms; null when never measured. */
  latencyEwmaMs: number | null = null;
  readonly stats = new CallStats();
  readonly methodStats = new Map<string, CallStats>();
  private polling = false;

  constructor(
    readonly key: string,
    readonly chainId: number,
    readonly url: string,
    readonly wsUrl: string,
    breakerCfg: BreakerConfig,
  ) {
    this.breaker = new CircuitBreaker(breakerCfg);
  }

  observeLatency(ms: number): void {
    this.latencyEwmaMs = this.latencyEwmaMs === null ? ms : this.latencyEwmaMs * 0.7 + ms * 0.3;
  }

  /** Records a client-request attempt (not health polls) for /api/metrics. */
  recordCall(method: string, ok: boolean, latencyMs: number): void {
    this.stats.record(ok, latencyMs);
    let m = this.methodStats.get(method);
    if (!m) {
      m = new CallStats();
      this.methodStats.set(method, m);
    }
    m.record(ok, latencyMs);
    if (ok) this.observeLatency(latencyMs);
  }

  /** One health poll: eth_chainId (until verified) then eth_blockNumber. */
  async poll(client: UpstreamClient, timeoutMs: number): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      if (!this.chainIdVerified) {
        const r = await client.call(this.url, "eth_chainId", [], timeoutMs);
        const ok = r.kind === "response" && "result" in r.response && hexToNumber(r.response.result) === this.chainId;
        if (!ok) {
          this.pollOk = false;
          return;
        }
        this.chainIdVerified = true;
      }
      const r = await client.call(this.url, "eth_blockNumber", [], timeoutMs);
      const head = r.kind === "response" && "result" in r.response ? hexToNumber(r.response.result) : null;
      if (head === null) {
        this.pollOk = false;
        this.chainIdVerified = false;
        return;
      }
      this.pollOk = true;
      this.head = head;
      this.headAt = performance.now();
      this.observeLatency(r.latencyMs);
    } finally {
      this.polling = false;
    }
  }
}

export class ProviderRuntime {
  constructor(
    readonly cfg: SimProvider,
    readonly instance: UpstreamInstance,
  ) {}
  get id(): string {
    return this.cfg.id;
  }
  get name(): string {
    return this.cfg.name ?? this.cfg.id;
  }
  get priority(): number {
    return this.cfg.priority;
  }
}

export class ChainRuntime {
  readonly providers: ProviderRuntime[];
  readonly maxLagBlocks: number;
  /** Round-robin cursor for load_balanced. */
  rr = 0;

  constructor(
    readonly profile: SimProfile,
    readonly cfg: SimChain,
    providers: ProviderRuntime[],
  ) {
    this.providers = providers;
    this.maxLagBlocks = cfg.maxLagBlocks ?? 2;
  }

  get name(): string {
    return this.cfg.name;
  }
  get chainId(): number {
    return this.cfg.chainId;
  }

  provider(id: string): ProviderRuntime | undefined {
    return this.providers.find((p) => p.id === id);
  }

  /** Max of known heads with 1-3 providers, second-highest with 4 or more (LASSO.md). */
  consensusHead(): number | null {
    const heads = this.providers.map((p) => p.instance.head).filter((h): h is number => h !== null).sort((a, b) => b - a);
    if (heads.length === 0) return null;
    if (this.providers.length >= 4 && heads.length >= 2) return heads[1] ?? null;
    return heads[0] ?? null;
  }

  /** Blocks behind consensus; null when unknown (never polled or no consensus). */
  lagOf(p: ProviderRuntime): number | null {
    const c = this.consensusHead();
    if (c === null || p.instance.head === null) return null;
    return Math.max(0, c - p.instance.head);
  }

  isLagging(p: ProviderRuntime): boolean {
    const lag = this.lagOf(p);
    if (lag !== null) return lag > this.maxLagBlocks;
    // Never answered a head poll while others did: not a usable provider.
    return p.instance.pollOk === false && this.consensusHead() !== null;
  }
}

/** Builds the instance registry and per-(profile, chain) runtimes; runs health polling. */
export class ProviderPool {
  readonly instances = new Map<string, UpstreamInstance>();
  /** key `${profileSlug}\u0000${chainName}` */
  private readonly chains = new Map<string, ChainRuntime>();
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    readonly profiles: SimProfile[],
    breakerCfg: BreakerConfig,
    private readonly client: UpstreamClient,
  ) {
    for (const profile of profiles) {
      for (const chain of profile.chains) {
        const providers = chain.providers.map((p) => {
          const key = `${chain.chainId}|${p.url}|${p.wsUrl}`;
          let inst = this.instances.get(key);
          if (!inst) {
            inst = new UpstreamInstance(key, chain.chainId, p.url, p.wsUrl, breakerCfg);
            this.instances.set(key, inst);
          }
          return new ProviderRuntime(p, inst);
        });
        this.chains.set(`${profile.slug}\u0000${chain.name}`, new ChainRuntime(profile, chain, providers));
      }
    }
  }

  profile(slug: string): SimProfile | undefined {
    return this.profiles.find((p) => p.slug === slug);
  }

  /** Resolves a chain by name or decimal chain id within a profile. */
  chain(profileSlug: string, chainIdent: string): ChainRuntime | undefined {
    const profile = this.profile(profileSlug);
    if (!profile) return undefined;
    const byName = profile.chains.find((c) => c.name === chainIdent);
    const cfg = byName ?? (/^\d+$/.test(chainIdent) ? profile.chains.find((c) => c.chainId === Number(chainIdent)) : undefined);
    return cfg ? this.chains.get(`${profileSlug}\u0000${cfg.name}`) : undefined;
  }

  allChains(): ChainRuntime[] {
    return [...this.chains.values()];
  }

  /** Starts polling every instance; resolves after the first round (bounded by its timeout). */
  async start(healthPollMs: number | undefined): Promise<void> {
    const first: Promise<void>[] = [];
    const byInstance = new Map<string, number>();
    for (const c of this.chains.values()) {
      for (const p of c.providers) {
        const every = healthPollMs ?? Math.max(100, c.cfg.blockTimeMs);
        const prev = byInstance.get(p.instance.key);
        byInstance.set(p.instance.key, prev === undefined ? every : Math.min(prev, every));
      }
    }
    for (const [key, every] of byInstance) {
      const inst = this.instances.get(key);
      if (!inst) continue;
      const timeout = Math.min(1000, Math.max(100, every));
      first.push(inst.poll(this.client, timeout));
      const t = setInterval(() => void inst.poll(this.client, timeout), every);
      t.unref();
      this.timers.push(t);
    }
    await Promise.all(first);
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }
}
