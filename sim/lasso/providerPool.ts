/**
 * Runtime state of upstream providers: per-instance circuit breakers (one per transport), WS
 * request channel, head polling and latency; per-profile call statistics; per-(profile, chain)
 * provider lists with the chain-wide consensus head and lag.
 *
 * Like Lasso, breakers and heads belong to the upstream *instance* (chain + url + ws_url), so
 * two profiles pointing at the same URL share them; different URLs never do.
 */
import { CircuitBreaker, type BreakerConfig } from "./breaker.js";
import { hexToNumber } from "./jsonrpc.js";
import type { SimChain, SimProfile, SimProvider } from "./types.js";
import type { UpstreamClient } from "./upstream.js";
import { UpstreamWsChannel } from "./upstreamWs.js";

const LATENCY_RING = 256;

export class CallStats {
  totalCalls = 0;
  successes = 0;
  latencySumMs = 0;
  lastUpdatedMs = 0;
  private readonly ring: number[] = [];

  record(ok: boolean, latencyMs: number): void {
    this.lastUpdatedMs = Date.now();
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

export type Transport = "http" | "ws";

/** How long a head sample counts towards consensus (Lasso's BlockSync freshness, 30 s). */
const HEAD_FRESHNESS_MS = 30_000;

export class UpstreamInstance {
  /** Lasso keeps one breaker per (instance, transport). */
  readonly breakers: Record<Transport, CircuitBreaker>;
  /** The upstream WebSocket channel for requests; null without a ws_url. */
  readonly ws: UpstreamWsChannel | null;
  head: number | null = null;
  /** Date.now() of the last successful head poll (Lasso's BlockSync height timestamp). */
  headAtMs = 0;
  /** null until the first poll completes. */
  pollOk: boolean | null = null;
  chainIdVerified = false;
  /** EWMA of successful request/poll latencies per transport, ms; null when never measured. */
  readonly latencyEwmaMs: Record<Transport, number | null> = { http: null, ws: null };
  private polling = false;

  constructor(
    readonly key: string,
    readonly chainId: number,
    readonly url: string,
    readonly wsUrl: string | null,
    breakerCfg: BreakerConfig,
    /** What the upstream answers to eth_chainId (a node shared by several chain names answers its own). */
    private readonly upstreamChainId: number = chainId,
  ) {
    this.breakers = { http: new CircuitBreaker(breakerCfg), ws: new CircuitBreaker(breakerCfg) };
    this.ws = wsUrl === null ? null : new UpstreamWsChannel(wsUrl);
  }

  observeLatency(transport: Transport, ms: number): void {
    const prev = this.latencyEwmaMs[transport];
    this.latencyEwmaMs[transport] = prev === null ? ms : prev * 0.7 + ms * 0.3;
  }

  /** Head sample if it is fresh enough to count towards consensus. */
  freshHead(nowMs: number): number | null {
    return this.head !== null && nowMs - this.headAtMs <= HEAD_FRESHNESS_MS ? this.head : null;
  }

  /** One health poll: eth_chainId (until verified) then eth_blockNumber. */
  async poll(client: UpstreamClient, timeoutMs: number): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      if (!this.chainIdVerified) {
        const r = await client.call(this.url, "eth_chainId", [], timeoutMs);
        const ok = r.kind === "response" && "result" in r.response && hexToNumber(r.response.result) === this.upstreamChainId;
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
      this.headAtMs = Date.now();
      this.observeLatency("http", r.latencyMs);
    } finally {
      this.polling = false;
    }
  }
}

/** A provider as one profile configures it; call statistics are per profile, as Lasso's BenchmarkStore. */
export class ProviderRuntime {
  readonly stats = new CallStats();
  readonly methodStats = new Map<string, CallStats>();
  /** Date.now() of recent calls, for calls_last_minute. */
  private readonly recentCalls: number[] = [];

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
  get hasWs(): boolean {
    return this.instance.wsUrl !== null;
  }
  get subscribeNewHeads(): boolean {
    return this.hasWs && (this.cfg.subscribeNewHeads ?? true);
  }
  /** Configured channels, http first (the order Lasso tries a pinned provider's channels in). */
  transports(): Transport[] {
    return this.hasWs ? ["http", "ws"] : ["http"];
  }
  breaker(t: Transport): CircuitBreaker {
    return this.instance.breakers[t];
  }

  /** Records a client-request attempt (not health polls) for /api/metrics. */
  recordCall(transport: Transport, method: string, ok: boolean, latencyMs: number): void {
    this.stats.record(ok, latencyMs);
    let m = this.methodStats.get(method);
    if (!m) {
      m = new CallStats();
      this.methodStats.set(method, m);
    }
    m.record(ok, latencyMs);
    const now = Date.now();
    this.recentCalls.push(now);
    while ((this.recentCalls[0] ?? now) < now - 60_000) this.recentCalls.shift();
    if (ok) this.instance.observeLatency(transport, latencyMs);
  }

  callsLastMinute(): number {
    const cutoff = Date.now() - 60_000;
    return this.recentCalls.filter((t) => t >= cutoff).length;
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
    /** Every upstream instance of this chain id, in every profile. */
    private readonly chainInstances: () => UpstreamInstance[],
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

  /**
   * Lasso's consensus height (BlockSync.Registry): chain-wide across profiles, over the fresh
   * heads of every upstream instance, sorted high to low, the one at index floor(n * 0.25).
   */
  consensusHead(): number | null {
    const now = Date.now();
    const heads = this.chainInstances()
      .map((i) => i.freshHead(now))
      .filter((h): h is number => h !== null)
      .sort((a, b) => b - a);
    return heads[Math.floor(heads.length * 0.25)] ?? null;
  }

  /** Blocks behind consensus from the last head sample; null when unknown. */
  lagOf(p: ProviderRuntime): number | null {
    const c = this.consensusHead();
    if (c === null || p.instance.head === null) return null;
    return Math.max(0, c - p.instance.head);
  }

  /**
   * Lasso's optimistic lag (LagCalculation): a head sample is credited one block per block
   * time since it was taken (capped at 30 s worth), so only a provider that keeps answering
   * behind is excluded; one that stopped answering is left to its breaker. Unknown: kept.
   */
  isLagging(p: ProviderRuntime): boolean {
    const c = this.consensusHead();
    const h = p.instance.head;
    if (c === null || h === null) return false;
    const bt = Math.max(1, this.cfg.blockTimeMs);
    const credit = Math.min(Math.floor((Date.now() - p.instance.headAtMs) / bt), Math.floor(30_000 / bt));
    return h + credit - c < -this.maxLagBlocks;
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
          const key = `${chain.chainId}|${p.url}|${p.wsUrl ?? ""}`;
          let inst = this.instances.get(key);
          if (!inst) {
            inst = new UpstreamInstance(key, chain.chainId, p.url, p.wsUrl ?? null, breakerCfg, chain.upstreamChainId);
            this.instances.set(key, inst);
          }
          return new ProviderRuntime(p, inst);
        });
        const chainId = chain.chainId;
        // Every instance exists once the constructor ends: the list is computed at the first call only.
        let peerList: UpstreamInstance[] | null = null;
        const peers = (): UpstreamInstance[] => (peerList ??= [...this.instances.values()].filter((i) => i.chainId === chainId));
        this.chains.set(`${profile.slug}\u0000${chain.name}`, new ChainRuntime(profile, chain, providers, peers));
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
      inst.ws?.start();
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
    for (const inst of this.instances.values()) inst.ws?.stop();
  }
}
