/** Public configuration and handle types of the Lasso-compatible simulator. */

export interface SimProvider {
  id: string;
  name?: string;
  /** Lower is preferred (used to pick the upstream of shared WS subscriptions). */
  priority: number;
  url: string;
  /** Absent: the provider has no `ws_url` (no WS channel, no subscriptions). */
  wsUrl?: string;
  /** Lasso's `subscribe_new_heads`; default true iff `wsUrl` is set. newHeads needs it, logs do not. */
  subscribeNewHeads?: boolean;
}

export interface SimChain {
  /** Chain key used in URLs (`/rpc/ethereum`), also `chain_name` in /api/chains. */
  name: string;
  /** Optional display name (`name` in /api/chains); defaults to `name`. */
  displayName?: string;
  chainId: number;
  /**
   * The id its providers answer to eth_chainId, when not `chainId`: a test bed serving many
   * chain names from one node (health polls verify this one; Lasso's own answers use `chainId`).
   */
  upstreamChainId?: number;
  blockTimeMs: number;
  /** Providers lagging more than this many blocks behind consensus are excluded. Default 2. */
  maxLagBlocks?: number;
  providers: SimProvider[];
}

export interface SimProfile {
  slug: string;
  name?: string;
  chains: SimChain[];
}

export interface Defects {
  /** Strategy routes return the first failed attempt instead of failing over. */
  noFailover: boolean;
  /** WS failover skips backfill: blocks produced during the switch are never delivered. */
  gapOnFailover: boolean;
  /** WS failover re-delivers the last 2 delivered events and does not dedup. */
  duplicatesOnFailover: boolean;
  /** Selection prefers the most lagging provider instead of excluding laggards. */
  staleRouting: boolean;
  /** Client sockets stay open but subscription events are no longer delivered. */
  silentDrop: boolean;
  /** Retain this many MB per minute (visible in /api/metrics system_metrics.memory_mb). */
  memoryGrowthMbPerMin: number;
}

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. Default 5. */
  failureThreshold?: number;
  /** How long the circuit stays open before half-open. Default 60000. */
  openMs?: number;
  /** Successes in half-open that close the circuit. Default 2. */
  halfOpenSuccesses?: number;
  /** Each reopen doubles the open time up to this bound (Lasso: 10 min). Default 600000. */
  maxOpenMs?: number;
  /**
   * Whether attempt timeouts count as breaker failures. Default false: in Lasso's default
   * shared mode a latency-only fault does not trip a breaker (docs/lasso-contract.md).
   */
  timeoutsTrip?: boolean;
}

export interface LassoSimOptions {
  /** Must include slug "public" (the profile used by routes without /profile/:slug). */
  profiles: SimProfile[];
  /** Listening port, default 0 (ephemeral). Host is always 127.0.0.1. */
  port?: number;
  breaker?: BreakerOptions;
  /** Provider head polling interval; default the chain's block time (min 100 ms). */
  healthPollMs?: number;
  /** WS server ping interval, default 30000; a connection missing two pongs is closed. */
  wsPingIntervalMs?: number;
  /** Upstream WS staleness: failover after this many block times without newHeads. Default 3. */
  staleBlockTimes?: number;
  defects?: Partial<Defects>;
  /** Version string reported by /api/health. Default "0.2.0-sim". */
  version?: string;
  /**
   * Models an authenticating reverse proxy in front of Lasso (open-source Lasso has no client
   * auth): every HTTP request (rpc, /api/*) and WS upgrade without exactly these header values
   * gets HTTP 401 `{"error":"unauthorized"}`. Names are case-insensitive. The sim's own
   * /_sim/* control API is exempt.
   */
  requireHeaders?: Record<string, string>;
  /**
   * In-flight request byte budget for POST /rpc/* (Lasso's RequestByteBudget plug, default
   * 128 MiB). Each request reserves max(Content-Length, 4096) bytes (9,000,000 without a
   * Content-Length) until its answer is sent; a request that does not fit gets HTTP 503 -32008.
   */
  inflightByteBudget?: number;
}

export interface LassoSim {
  /** http://127.0.0.1:port */
  url: string;
  /** ws://127.0.0.1:port */
  wsUrl: string;
  port: number;
  setDefects(d: Partial<Defects>): void;
  defects(): Defects;
  stop(): Promise<void>;
}
