/**
 * What the chaos runner needs from the fault proxies, wherever they run. In production the
 * proxies live in their own process (`lasso-canary proxy`) and this is spoken over its
 * loopback control API (ProxyControlClient); tests may also drive in-process FaultProxies.
 *
 * A fault is a lease: it ends at min(now + leaseMs, until) unless renewed by setting it
 * again before then, so a runner that stops renewing (crash, stuck scheduler) ends the fault
 * within one lease, and no renewal can carry it past the window's planned end (`until`).
 */
import type { Fault } from "./faults.js";

/** One proxy: a provider of one chain in the canary profile, forwarding to the real upstream. */
export interface ProxyInfo {
  chain: string;
  provider: string;
  /** URLs Lasso's canary profile uses for this provider (ws: null when the provider has no ws_url). */
  httpUrl: string;
  wsUrl: string | null;
  fault: Fault | null;
  /** When the current fault ends (ms); null without a fault. */
  expiresAt: number | null;
}

/**
 * Upstream-side traffic of one proxy in one-second buckets: what Lasso sent to this provider.
 * `forwarded` reached the upstream; `faulted` met the fault. Used to see when Lasso stopped
 * sending to a faulted provider (its breaker opened), its half-open probes, and when it resumed.
 */
export interface TrafficBucket {
  /** Start of the second (ms). */
  at: number;
  forwarded: number;
  faulted: number;
  /**
   * newHeads/logs notifications the upstream sent through this proxy to Lasso in that second
   * (`eth_subscription` frames delivered): the provider serving the profile's shared
   * subscription has them, the others none. Optional: a failover storm without it drops the
   * window's configured provider every time.
   */
  notifications?: number;
}

export interface FaultControl {
  list(): Promise<ProxyInfo[]>;
  /** Sets (or renews) a fault lease; returns when it will end unless renewed. */
  setFault(chain: string, provider: string, fault: Fault, leaseMs: number, until: number): Promise<{ expiresAt: number }>;
  clearFault(chain: string, provider: string): Promise<void>;
  /**
   * Buckets from `since` (ms) up to now, oldest first; the proxy keeps at least the last hour.
   * ProxyControlClient / FaultProxy.traffic return them dense: one per second, zeros included,
   * the first at since's whole second, the last the current (partial) second.
   */
  traffic(chain: string, provider: string, since: number): Promise<TrafficBucket[]>;
}

/** Longest lease a proxy accepts: renewals must come more often than this. */
export const MAX_LEASE_MS = 30_000;
/** Default lease the runner asks for; it renews every third of it. */
export const DEFAULT_LEASE_MS = 5_000;
