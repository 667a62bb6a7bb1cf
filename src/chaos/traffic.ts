import type { TrafficBucket } from "./control.js";

/** Seconds of traffic kept: an hour plus a margin, so "the last hour" is always whole. */
export const TRAFFIC_HORIZON_SEC = 3_900;

/**
 * What Lasso sent through one proxy, per wall-clock second, in a fixed ring (no growth over
 * days): request items that reached the upstream (`forwarded`) and those the fault acted on
 * (`faulted`), HTTP and WS alike, WS handshakes included (a breaker's half-open probe on a
 * WS channel is a reconnect). Notifications from the upstream are not what Lasso sent: they
 * are counted apart (`notifications`, delivered to Lasso), which tells which provider serves a
 * shared subscription. Items the upstream failed to answer are not counted.
 */
export class TrafficRing {
  readonly #seconds = new Float64Array(TRAFFIC_HORIZON_SEC).fill(-1);
  readonly #forwarded = new Uint32Array(TRAFFIC_HORIZON_SEC);
  readonly #faulted = new Uint32Array(TRAFFIC_HORIZON_SEC);
  readonly #notifications = new Uint32Array(TRAFFIC_HORIZON_SEC);
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Feeds one OutcomeCounts entry (method, outcome name as counted, n items). */
  readonly observe = (method: string, outcome: string, n: number): void => {
    if (method === "eth_subscription") {
      if (outcome === "ws:forwarded") this.#add(this.#notifications, n);
      return;
    }
    const bare = outcome.startsWith("ws:") ? outcome.slice(3) : outcome;
    if (bare === "forwarded") this.#add(this.#forwarded, n);
    else if (bare.startsWith("fault:")) this.#add(this.#faulted, n);
  };

  /** Dense one-second buckets from `since` (clamped to the horizon) through the current second, oldest first. */
  since(sinceMs: number): TrafficBucket[] {
    const nowSec = Math.floor(this.#now() / 1000);
    const first = Math.max(Math.floor(sinceMs / 1000), nowSec - TRAFFIC_HORIZON_SEC + 1);
    const out: TrafficBucket[] = [];
    for (let sec = first; sec <= nowSec; sec++) {
      const i = slot(sec);
      const current = this.#seconds[i] === sec;
      out.push({
        at: sec * 1000,
        forwarded: current ? (this.#forwarded[i] ?? 0) : 0,
        faulted: current ? (this.#faulted[i] ?? 0) : 0,
        notifications: current ? (this.#notifications[i] ?? 0) : 0,
      });
    }
    return out;
  }

  #add(into: Uint32Array, n: number): void {
    const sec = Math.floor(this.#now() / 1000);
    const i = slot(sec);
    if (this.#seconds[i] !== sec) {
      this.#seconds[i] = sec;
      this.#forwarded[i] = 0;
      this.#faulted[i] = 0;
      this.#notifications[i] = 0;
    }
    into[i] = (into[i] ?? 0) + n;
  }
}

function slot(sec: number): number {
  return ((sec % TRAFFIC_HORIZON_SEC) + TRAFFIC_HORIZON_SEC) % TRAFFIC_HORIZON_SEC;
}
