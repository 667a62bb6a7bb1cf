/**
 * FaultControl over a test bed's own FaultProxies of one profile (default "canary"), in this
 * process: the same lease semantics as the proxy process's control API (a fault ends at
 * min(now + lease, until) unless renewed), and upstream traffic in one-second buckets from
 * the proxies' counts, sampled every 250 ms.
 */
import { MAX_LEASE_MS, type FaultControl, type ProxyInfo, type TrafficBucket } from "../src/chaos/control.js";
import type { Fault } from "../src/chaos/faults.js";
import type { FaultProxy } from "../src/chaos/faultProxy.js";
import type { TestBed } from "./testbed.js";

const SAMPLE_MS = 250;
const KEEP_MS = 3_600_000;

interface Tracked {
  chain: string;
  provider: string;
  proxy: FaultProxy;
  hasWs: boolean;
  last: { forwarded: number; faulted: number; notifications: number };
  buckets: TrafficBucket[];
}

/** Requests that reached the upstream, requests that met the fault, notifications delivered to Lasso. */
function totals(counts: Record<string, Record<string, number>>): Tracked["last"] {
  let forwarded = 0;
  let faulted = 0;
  for (const [method, outcomes] of Object.entries(counts)) {
    if (method === "eth_subscription" || method === "(ws_connect)") continue;
    for (const [outcome, n] of Object.entries(outcomes)) {
      if (outcome === "forwarded" || outcome === "ws:forwarded") forwarded += n;
      else if (outcome.startsWith("fault:") || outcome.startsWith("ws:fault:")) faulted += n;
    }
  }
  return { forwarded, faulted, notifications: counts.eth_subscription?.["ws:forwarded"] ?? 0 };
}

export class InProcessFaultControl implements FaultControl {
  private readonly proxies: Tracked[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(bed: TestBed, profile = "canary") {
    for (const [chain, c] of bed.chains) {
      const byId = c.providers.get(profile);
      if (!byId) throw new Error(`the test bed has no ${profile} profile (startTestBed extraProfiles)`);
      for (const [provider, proxy] of byId) {
        const spec = c.spec.providers.find((p) => (typeof p === "string" ? p : p.id) === provider);
        const hasWs = typeof spec === "string" || spec?.ws !== false;
        this.proxies.push({ chain, provider, proxy, hasWs, last: totals(proxy.counts()), buckets: [] });
      }
    }
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  list(): Promise<ProxyInfo[]> {
    return Promise.resolve(
      this.proxies.map((t) => {
        const f = t.proxy.currentFault();
        return { chain: t.chain, provider: t.provider, httpUrl: t.proxy.httpUrl, wsUrl: t.hasWs ? t.proxy.wsUrl : null, fault: f?.fault ?? null, expiresAt: f?.expiresAt ?? null };
      }),
    );
  }

  setFault(chain: string, provider: string, fault: Fault, leaseMs: number, until: number): Promise<{ expiresAt: number }> {
    try {
      if (!(leaseMs > 0 && leaseMs <= MAX_LEASE_MS)) throw new RangeError(`lease must be in (0, ${MAX_LEASE_MS}] ms, got ${leaseMs}`);
      const now = Date.now();
      const expiresAt = Math.min(now + leaseMs, until);
      if (expiresAt <= now) throw new RangeError("the window's end has passed: no fault is set");
      // Renewed in place, capped at `until`, as the proxy process does.
      return Promise.resolve(this.find(chain, provider).proxy.leaseFault(fault, expiresAt - now, until));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  clearFault(chain: string, provider: string): Promise<void> {
    try {
      this.find(chain, provider).proxy.clearFault();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  traffic(chain: string, provider: string, since: number): Promise<TrafficBucket[]> {
    try {
      this.sample();
      const from = Math.floor(since / 1000) * 1000;
      return Promise.resolve(this.find(chain, provider).buckets.filter((b) => b.at >= from).map((b) => ({ ...b })));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private find(chain: string, provider: string): Tracked {
    const t = this.proxies.find((p) => p.chain === chain && p.provider === provider);
    if (!t) throw new Error(`no proxy for ${chain}/${provider}`);
    return t;
  }

  private sample(): void {
    const now = Date.now();
    const at = Math.floor(now / 1000) * 1000;
    for (const t of this.proxies) {
      const cur = totals(t.proxy.counts());
      let b = t.buckets.at(-1);
      if (b === undefined || b.at !== at) {
        b = { at, forwarded: 0, faulted: 0, notifications: 0 };
        t.buckets.push(b);
      }
      b.forwarded += Math.max(0, cur.forwarded - t.last.forwarded);
      b.faulted += Math.max(0, cur.faulted - t.last.faulted);
      b.notifications = (b.notifications ?? 0) + Math.max(0, cur.notifications - t.last.notifications);
      t.last = cur;
      while ((t.buckets[0]?.at ?? now) < now - KEEP_MS) t.buckets.shift();
    }
  }
}
