/**
 * The typed Plan: everything the daemon will do, resolved from config/canary.yaml and
 * checks/*.yaml and validated as a whole. Producers (probes, consistency) schedule from
 * it; nothing downstream re-reads YAML.
 */

import type { WindowSpec } from "../chaos/windowTypes.js";
import type { ComparisonSettings } from "../report/types.js";

export type { WindowSpec };

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/** Lasso strategy route segments (docs/lasso-contract.md). "default" is `/rpc/:chain`; round-robin is an alias of load-balanced. */
export type Strategy = "default" | "fastest" | "load-balanced" | "latency-weighted" | "round-robin";

/**
 * Which upstream channel Lasso must use (`?transport=`): "http", "ws", or "any" (Lasso picks;
 * no parameter sent). Pins default to http: a pin measures a provider's HTTP endpoint.
 */
export type Transport = "http" | "ws" | "any";

/** Result shapes the `shape:` assertion understands. */
export type Shape = "quantity" | "block" | "hash" | "array" | "object" | "any";

/** One Lasso base URL from the daemon config (the load-balanced entry or one Lasso node). */
export interface Target {
  name: string;
  /** The URL as configured after ${ENV} substitution: MAY CONTAIN SECRETS. Use only to send requests. */
  url: string;
  /** `redactUrl(url)`: safe for logs, errors, reports. */
  redactedUrl: string;
  /**
   * Sent on every request to this target (HTTP probes, watcher HTTP, WebSocket upgrades), after
   * ${ENV} substitution: VALUES ARE SECRETS. Empty when none are configured.
   */
  headers: Record<string, string>;
}

/**
 * A chain's SLO objectives (checks `slo:`), defaults filled in (report/types.ts DEFAULT_SLO).
 * Availability, latency, freshness, correctness, consistency and delivery each have their own.
 */
export interface Slo {
  /** Availability: share of probes Lasso answers with a well-formed JSON-RPC result, (0..1]. Default 0.999. */
  successRatio: number;
  /** p95 latency objective per route, ms, of well-formed answers. Default 300. */
  p95LatencyMs: number;
  /** Served head may lag the pinned providers' consensus by at most this many blocks. Default 2. */
  maxHeadLagBlocks: number;
  /** Share of head samples within maxHeadLagBlocks, (0..1]. Default 0.99. */
  headFreshRatio: number;
  /** Share of judged answers that pass chainId, shape and monotonicHead, (0..1]. Default 0.999. */
  correctnessRatio: number;
  /** Share of cross-provider block hash checks that agree, (0..1]. Default 0.999. */
  consistencyRatio: number;
  /** p95 subscription delivery delay (arrival - block timestamp) per watcher, ms (`maxDeliveryDelay`); null: not judged (default). */
  maxDeliveryDelayMs: number | null;
}

interface RouteCommon {
  /** "default", "fastest", "pin:alchemy"; with a profile: "canary/fastest", "canary/pin:alchemy". Unique per chain. */
  name: string;
  /** Lasso profile slug; absent means the public profile (no /profile/ segment). */
  profile?: string;
  /** URL path to append to a target's base URL, e.g. `/rpc/provider/alchemy/ethereum`. */
  path: string;
  /** Upstream channel requested from Lasso on HTTP requests of this route. */
  transport: Transport;
}

export interface StrategyRoute extends RouteCommon {
  kind: "strategy";
  strategy: Strategy;
  provider?: undefined;
}

export interface PinRoute extends RouteCommon {
  kind: "pin";
  /** Lasso provider id; a pinned request never fails over. */
  provider: string;
  strategy?: undefined;
}

export type Route = StrategyRoute | PinRoute;

/** A check applied to each successful answer of a series. Expected values are resolved here. */
export type Assertion =
  | { kind: "chainId"; expected: number }
  | { kind: "shape"; shape: Shape }
  | { kind: "monotonicHead" }
  | { kind: "freshness"; maxHeadLagBlocks: number };

/** One scheduled probe: a (target, route, method) triple with its own timer. */
export interface ProbeSeries {
  /** Stable id: `${target}|${chain}|${route}|${method}`, e.g. "lb|ethereum|pin:alchemy|eth_blockNumber". */
  id: string;
  target: string;
  chain: string;
  /** Route name (see Route.name). */
  route: string;
  routeKind: Route["kind"];
  /** Pinned provider id on a pin route (its head feeds the consensus), else null. */
  provider: string | null;
  /** Lasso profile of the route; null for the public profile. */
  profile: string | null;
  /** Route path, same as the route's `path`. */
  path: string;
  /** The route's transport. */
  transport: Transport;
  method: string;
  params: JsonValue[];
  intervalMs: number;
  timeoutMs: number;
  assertions: Assertion[];
}

/**
 * Cross-provider agreement on the hash of block (head - depth), per target. The head is the
 * consensus of the pinned eth_blockNumber series (validation requires one); a round then asks
 * each compared route for eth_getBlockByNumber(head - depth, false).
 */
export interface ConsistencyPlan {
  intervalMs: number;
  timeoutMs: number;
  depth: number;
  /**
   * Names of the pinned routes compared: the pins without a profile (a profile such as
   * "canary" may be fault-injected), so one route per provider id. At least two.
   */
  routes: string[];
  /** Requests one round sends to one target: one per compared route. */
  requestsPerRound: number;
}

/** A logs subscription filter as sent to Lasso (and to eth_getLogs); hex strings lowercased. */
export interface LogsFilter {
  address?: string | string[];
  topics?: (string | string[] | null)[];
}

/**
 * One long-lived subscription of a chain on one route (opened once per target of the chain).
 * Name: `<subscription or name>:<route>`, e.g. "newHeads:default", "logs:pin:alpha",
 * "transfers:fastest"; unique per chain and bounded (it is a metric label).
 */
export interface WatcherSpec {
  name: string;
  subscription: "newHeads" | "logs";
  route: string;
  routeKind: Route["kind"];
  /** Pinned provider id on a pin route, else null. */
  provider: string | null;
  /** Lasso profile of the route; null for the public profile. */
  profile: string | null;
  /** WebSocket path per docs/lasso-contract.md, e.g. `/ws/rpc/ethereum`, `/ws/rpc/provider/alpha/ethereum`. */
  wsPath: string;
  /** logs only. */
  filter: LogsFilter | null;
  /** A stall is this many block times without an event while newer blocks exist. */
  stallBlockTimes: number;
}

/** Settings shared by a chain's watchers; their HTTP traffic runs per target and is budgeted. */
export interface WatchPlan {
  /** Route the watchers' HTTP requests use (head poll, gap confirmations, eth_getLogs) and its path. */
  httpRoute: string;
  httpPath: string;
  httpTransport: Transport;
  /** eth_blockNumber poll per target (the HTTP sighting of each height). Default: the block time. */
  headPollIntervalMs: number;
  /** Closed log ranges are compared with eth_getLogs this often, per logs watcher. Default max(5 block times, 5 s). */
  logsCheckIntervalMs: number;
  /** A log range is closed (checked) when it is this many blocks below the HTTP head. */
  logsConfirmBlocks: number;
  /** Allowance for event-driven requests per target (gap confirmations, client-gap fetches, reorg depth, session heads). */
  confirmationsPerMinute: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  /** HTTP requests per second one target's watchers of this chain plan (counted in ratePerSecond). */
  requestsPerSecondPerTarget: number;
}

export interface ChainPlan {
  /** Chain as Lasso knows it in URLs: a name ("ethereum") or a decimal chain id ("1"). */
  chain: string;
  chainId: number;
  blockTimeMs: number;
  /** Target names this chain is probed through (default: all targets). */
  targets: string[];
  slo: Slo;
  routes: Route[];
  series: ProbeSeries[];
  consistency: ConsistencyPlan | null;
  /** Subscription watchers (each opened once per target); empty when the chain has none. */
  watchers: WatcherSpec[];
  /** Shared watcher settings; null when the chain has no watchers. */
  watch: WatchPlan | null;
  /** Chaos windows against this chain (checks `chaos:`); empty when none. */
  chaos: WindowSpec[];
  /**
   * Planned requests per second for this chain summed over its targets, consistency and watchers
   * included, plus the busiest chaos window's experiment and control probes (windows run one at a time).
   */
  ratePerSecond: number;
  /** Absolute path of the checks file that declared the chain. */
  file: string;
}

/** A figure soak sampling reads: Lasso's (system_metrics of /api/metrics/:chain) or the daemon's own. */
export type SoakLassoMetric = "memory_mb" | "process_count" | "run_queue";
export type SoakCanaryMetric = "rss_mb" | "heap_mb" | "loop_lag_ms";
export type SoakMetric = SoakLassoMetric | SoakCanaryMetric;

/** One soaked Lasso node: polled at its own URL (a single node, never a load balancer). */
export interface SoakTarget {
  target: string;
  /** Chain named in `/api/metrics/:chain` (the figures are VM-wide; any chain Lasso knows will do); its budget carries the polls. */
  chain: string;
}

/** Soak sampling and leak detection (config `soak:`), defaults filled in. */
export interface SoakPlan {
  pollIntervalMs: number;
  timeoutMs: number;
  /** Sliding window judged. */
  windowMs: number;
  /** The start of each series (daemon start, node restart) that is never judged. */
  warmupMs: number;
  /** Judged data must span at least this long. */
  minSpanMs: number;
  /** Two-sided confidence of the slope's bounds. */
  confidence: number;
  /** Leak suspected when the slope's lower bound exceeds this (percent of the baseline per hour) ... */
  minPercentPerHour: number;
  /** ... and this, per metric, in its units per hour. */
  minAbsPerHour: Record<SoakMetric, number>;
  /** A drop of memory_mb (rss_mb for the daemon) by more than this share between two samples starts a new series. */
  restartDropRatio: number;
  /** Lasso nodes polled; may be empty (the daemon then samples only itself). */
  targets: SoakTarget[];
}

export interface PlanIssue {
  /** File the issue is in, relative to the working directory when below it. */
  file: string;
  /** Location inside the file, e.g. "probes[1].timeout"; "" for the whole file. */
  path: string;
  message: string;
  /** 1-based line in the file when known. */
  line?: number;
}

export interface Plan {
  /** Absolute path of the daemon config file. */
  configFile: string;
  /** Absolute path of the checks directory, and the checks files loaded (sorted). */
  checksDir: string;
  checksFiles: string[];
  listen: { host: string; port: number };
  targets: Target[];
  store: {
    /** Absolute path of the SQLite file. */
    path: string;
    rawRetentionDays: number;
    /** Hour and day rollups. */
    rollupRetentionDays: number;
    /** Minute rollups (default 14: at 90 days they alone would exceed the size budget). */
    minuteRollupRetentionDays: number;
  };
  log: { level: LogLevel };
  budget: { maxRequestsPerSecondPerChain: number };
  /** Bearer token for the admin endpoints (POST /-/reload); null: disabled. A secret. */
  adminToken: string | null;
  /** Baseline comparison thresholds and significance (config `comparison:`, defaults DEFAULT_COMPARISON). */
  comparison: ComparisonSettings;
  /** Alertmanager for chaos windows' silences; null: not configured. Its URL may hold credentials. */
  alertmanager: { url: string } | null;
  /** The fault proxies' control API (config `chaos:`); null: chaos windows are declared but none runs. */
  chaosControl: { proxyControl: string; proxyToken: string } | null;
  /** Soak sampling; null when the config has no `soak:` or it is disabled. */
  soak: SoakPlan | null;
  chains: ChainPlan[];
  /** Every chaos window of every chain, in chain order (same objects as chains[].chaos). */
  chaos: WindowSpec[];
  /** Every series of every chain, in chain order (same objects as chains[].series). */
  series: ProbeSeries[];
  /** chain -> planned requests per second (series + consistency + watchers, all targets). */
  ratePerChain: Record<string, number>;
  /** Things that are allowed but probably not intended. */
  warnings: PlanIssue[];
}
