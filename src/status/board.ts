/**
 * The status page's memory: a sink on the recorder that keeps, per chain and route, one small
 * counter per minute of the last few minutes, each watcher's current state, and each chain's
 * last incident. Constant work per sample and memory bounded by routes x minutes, so the
 * page is judged from what the daemon already sees, never by reading the store.
 */
import { profileOf } from "../chaos/recentProbes.js";
import { sloFor, type ResolvedSlo, type SloObjective } from "../report/types.js";
import type { ContinuitySample, ProbeSample, Sample, SampleSink } from "../samples.js";

/** The window states are judged over. */
export const STATUS_WINDOW_MS = 10 * 60_000;
const SLOT_MS = 60_000;
/** A chain is down when its strategy routes answer less than this share well-formed in the window. */
export const DOWN_BELOW = 0.9;

export type ChainState = "up" | "degraded" | "down" | "no_data";

interface Slot {
  at: number;
  n: number;
  ok: number;
  /** Well-formed answers slower than the chain's p95 objective. */
  slow: number;
  lagJudged: number;
  stale: number;
  judged: number;
  incorrect: number;
}

export type WatcherState = "live" | "stalled" | "refused" | "never_live" | "unreachable" | "excluded";

interface WatcherMemory {
  state: WatcherState;
  since: number;
  /** Missing and repeated deliveries, per minute slot. */
  slots: { at: number; missing: number; duplicates: number }[];
}

export interface Incident {
  at: number;
  text: string;
}

export interface RouteStatus {
  route: string;
  requests: number;
  successRatio: number | null;
  /** Share of well-formed answers slower than the p95 objective (over 5%: p95 is over it). */
  slowShare: number | null;
  staleShare: number | null;
}

export interface WatcherStatus {
  watcher: string;
  state: WatcherState;
  since: number;
  missing: number;
  duplicates: number;
}

export interface ChainStatus {
  chain: string;
  state: ChainState;
  /** Why it is not up, one line each (empty when up). */
  reasons: string[];
  routes: RouteStatus[];
  watchers: WatcherStatus[];
  lastIncident: Incident | null;
}

export interface StatusSnapshot {
  at: number;
  windowMs: number;
  chains: ChainStatus[];
}

const isPin = (route: string): boolean => route.startsWith("pin:");
const pct = (r: number): string => `${Number((r * 100).toFixed(2))}%`;

/**
 * Per chain: the public profile only (routes of another profile, e.g. `canary/fastest`, are the
 * chaos experiment's, faulted on purpose), plan mismatches left out as everywhere else.
 */
export class StatusBoard implements SampleSink {
  private readonly routes = new Map<string, Map<string, Slot[]>>();
  private readonly watchers = new Map<string, Map<string, WatcherMemory>>();
  private readonly incidents = new Map<string, Incident>();
  private resolved: { from: readonly SloObjective[]; byChain: Map<string, ResolvedSlo> } | null = null;

  constructor(private readonly slos: () => readonly SloObjective[], private readonly windowMs: number = STATUS_WINDOW_MS) {}

  accept(s: Sample): void {
    if (s.kind === "consistency" || s.kind === "soak" || profileOf(s.route) !== null) return;
    if (s.kind === "probe") this.probe(s);
    else this.continuity(s);
  }

  private slo(chain: string): ResolvedSlo {
    const list = this.slos();
    if (this.resolved?.from !== list) this.resolved = { from: list, byChain: new Map() };
    let slo = this.resolved.byChain.get(chain);
    if (!slo) this.resolved.byChain.set(chain, (slo = sloFor(chain, list)));
    return slo;
  }

  private probe(s: ProbeSample): void {
    if (s.errorClass === "plan_mismatch") return;
    const slo = this.slo(s.chain);
    const slot = this.slotOf(this.routes, s.chain, s.route, s.ts, (at) => ({ at, n: 0, ok: 0, slow: 0, lagJudged: 0, stale: 0, judged: 0, incorrect: 0 }));
    slot.n++;
    if (s.outcome === "ok") {
      slot.ok++;
      if (s.latencyMs > slo.p95LatencyMs) slot.slow++;
    } else {
      this.incident(s.chain, s.ts, `${s.route} ${s.method}: ${s.errorClass ?? "error"}${s.errorDetail ? ` (${s.errorDetail.slice(0, 120)})` : ""}`);
    }
    if (s.headLagBlocks !== null) {
      slot.lagJudged++;
      if (s.headLagBlocks > slo.maxHeadLagBlocks) {
        slot.stale++;
        this.incident(s.chain, s.ts, `${s.route} ${s.method}: ${s.headLagBlocks} blocks behind the providers' consensus`);
      }
    }
    if (s.correct !== null) {
      slot.judged++;
      if (!s.correct) {
        slot.incorrect++;
        this.incident(s.chain, s.ts, `${s.route} ${s.method}: wrong answer (${s.failedAssertions.join(", ")})`);
      }
    }
  }

  private continuity(s: ContinuitySample): void {
    const byWatcher = this.watchers.get(s.chain) ?? new Map<string, WatcherMemory>();
    this.watchers.set(s.chain, byWatcher);
    let w = byWatcher.get(s.watcher);
    if (!w) byWatcher.set(s.watcher, (w = { state: "live", since: s.ts, slots: [] }));
    const set = (state: WatcherState): void => {
      if (w.state !== state) Object.assign(w, { state, since: s.ts });
    };
    const what = `${s.watcher}: ${s.event}${s.count > 1 ? ` (${s.count})` : ""}`;
    switch (s.event) {
      case "delivered":
      case "first_event":
      case "reconnect":
        set("live");
        return;
      case "stall":
        // Opened (no delay) or closed (its length as delay).
        if (s.delayMs === null) {
          set("stalled");
          this.incident(s.chain, s.ts, `${s.watcher}: stalled`);
        } else {
          set("live");
        }
        return;
      case "subscribe_refused":
      case "upgrade_refused":
        set("refused");
        this.incident(s.chain, s.ts, what);
        return;
      case "never_live":
        set("never_live");
        this.incident(s.chain, s.ts, what);
        return;
      case "connect_failed":
        set("unreachable");
        return;
      case "plan_mismatch":
        set("excluded");
        return;
      case "gap":
      case "log_missing":
      case "duplicate":
      case "log_duplicate": {
        const missing = s.event === "gap" || s.event === "log_missing";
        const at = Math.floor(s.ts / SLOT_MS) * SLOT_MS;
        let slot = w.slots.at(-1);
        if (!slot || slot.at !== at) w.slots.push((slot = { at, missing: 0, duplicates: 0 }));
        if (missing) slot.missing += s.count;
        else slot.duplicates += s.count;
        while ((w.slots[0]?.at ?? Infinity) < at - this.windowMs) w.slots.shift();
        this.incident(s.chain, s.ts, what);
        return;
      }
      default:
        return;
    }
  }

  private incident(chain: string, at: number, text: string): void {
    const last = this.incidents.get(chain);
    if (!last || last.at <= at) this.incidents.set(chain, { at, text });
  }

  /** The slot of `ts` in a per-minute list (answers arrive out of order by up to a timeout). */
  private slotOf<T extends { at: number }>(m: Map<string, Map<string, T[]>>, chain: string, key: string, ts: number, make: (at: number) => T): T {
    const byKey = m.get(chain) ?? new Map<string, T[]>();
    m.set(chain, byKey);
    const list = byKey.get(key) ?? [];
    byKey.set(key, list);
    const at = Math.floor(ts / SLOT_MS) * SLOT_MS;
    let i = list.length - 1;
    while (i >= 0 && (list[i]?.at ?? 0) > at) i--;
    let slot = list[i];
    if (slot === undefined || slot.at !== at) {
      slot = make(at);
      list.splice(i + 1, 0, slot);
    }
    while ((list[0]?.at ?? Infinity) < at - this.windowMs) list.shift();
    return slot;
  }

  /** Each chain of the plan (and any other seen), judged over the window ending at `now`. */
  snapshot(now: number): StatusSnapshot {
    const from = now - this.windowMs;
    const chains = new Set([...this.slos().map((s) => s.chain), ...this.routes.keys(), ...this.watchers.keys()]);
    return {
      at: now, windowMs: this.windowMs,
      chains: [...chains].sort().map((chain) => this.chainStatus(chain, from)),
    };
  }

  private chainStatus(chain: string, from: number): ChainStatus {
    const slo = this.slo(chain);
    const reasons: string[] = [];
    const routes: RouteStatus[] = [];
    let clientN = 0;
    let clientOk = 0;
    let allN = 0;
    let allOk = 0;
    for (const [route, slots] of [...(this.routes.get(chain) ?? new Map<string, Slot[]>())].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const t = { n: 0, ok: 0, slow: 0, lagJudged: 0, stale: 0, judged: 0, incorrect: 0 };
      for (const s of slots) {
        if (s.at < from) continue;
        for (const k of Object.keys(t) as (keyof typeof t)[]) t[k] += s[k];
      }
      if (t.n === 0) continue;
      const success = t.ok / t.n;
      const slowShare = t.ok > 0 ? t.slow / t.ok : null;
      const staleShare = t.lagJudged > 0 ? t.stale / t.lagJudged : null;
      routes.push({ route, requests: t.n, successRatio: success, slowShare, staleShare });
      allN += t.n;
      allOk += t.ok;
      if (!isPin(route)) {
        clientN += t.n;
        clientOk += t.ok;
      }
      if (success < slo.successRatio) reasons.push(`${route}: ${pct(success)} answered (objective ${pct(slo.successRatio)})`);
      if (slowShare !== null && slowShare > 0.05) reasons.push(`${route}: p95 latency over ${slo.p95LatencyMs} ms (${pct(slowShare)} of answers slower)`);
      if (staleShare !== null && staleShare > 1 - slo.headFreshRatio) reasons.push(`${route}: ${pct(staleShare)} of answers more than ${slo.maxHeadLagBlocks} blocks behind`);
      if (t.judged > 0 && t.incorrect / t.judged > 1 - slo.correctnessRatio) reasons.push(`${route}: ${t.incorrect} wrong answer(s)`);
    }
    const watchers: WatcherStatus[] = [];
    for (const [watcher, w] of [...(this.watchers.get(chain) ?? new Map<string, WatcherMemory>())].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const recent = w.slots.filter((s) => s.at >= from);
      const missing = recent.reduce((n, s) => n + s.missing, 0);
      const duplicates = recent.reduce((n, s) => n + s.duplicates, 0);
      watchers.push({ watcher, state: w.state, since: w.since, missing, duplicates });
      if (w.state === "stalled" || w.state === "refused" || w.state === "never_live") reasons.push(`${watcher}: ${w.state.replace("_", " ")} since ${new Date(w.since).toISOString()}`);
      if (missing > 0) reasons.push(`${watcher}: ${missing} never delivered`);
      if (duplicates > 0) reasons.push(`${watcher}: ${duplicates} duplicate(s)`);
    }
    // Strategy routes are what clients use; a chain probed through pins only is judged on them.
    if (clientN === 0) {
      clientN = allN;
      clientOk = allOk;
    }
    const anything = routes.length > 0 || watchers.length > 0;
    let state: ChainState = !anything ? "no_data" : reasons.length > 0 ? "degraded" : "up";
    if (clientN > 0 && clientOk / clientN < DOWN_BELOW) {
      state = "down";
      reasons.unshift(`clients: ${pct(clientOk / clientN)} of requests answered (down below ${pct(DOWN_BELOW)})`);
    }
    return { chain, state, reasons, routes, watchers, lastIncident: this.incidents.get(chain) ?? null };
  }
}
