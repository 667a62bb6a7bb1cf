/**
 * Runs every watcher group of the plan: one HTTP head poll per (target, chain) and one
 * long-lived subscription per watcher, all emitting ContinuitySamples onto the recorder.
 */
import { performance } from "node:perf_hooks";
import { RpcHttpClient } from "../lasso/rpcClient.js";
import type { LoopLag } from "../metrics/loopLag.js";
import type { Recorder } from "../recorder.js";
import { WatchGroup, type HttpCounts } from "./group.js";
import type { WatchGroupSpec } from "./types.js";
import { Watcher, type WatcherStats, type WatchNotice } from "./watcher.js";

export type { WatchNotice } from "./watcher.js";

export interface WatchEngineOptions {
  groups: WatchGroupSpec[];
  recorder: Recorder;
  /** A bug in a watcher (never a Lasso failure: those are samples). */
  onError?: (err: unknown, what: string) => void;
  /** Connection trouble and malformed frames, for the log (never carries a URL). */
  onNotice?: (where: { target: string; chain: string; watcher: string }, notice: WatchNotice) => void;
  /** Whether the plan check found a route unknown to a target (its refusals are then plan mismatches). */
  planMismatch?: (target: string, chain: string, route: string) => boolean;
  /** Epoch ms on a monotonic clock; default performance.timeOrigin + performance.now(). */
  clock?: () => number;
  random?: () => number;
  /** Our own WS pings; a pong must come back before the next one. Default 15 s, 0 disables. */
  pingIntervalMs?: number;
  /** Told how late the watchers' own timers (head polls, getLogs checks) ran. */
  lag?: LoopLag;
}

export interface WatchEngineStats extends Omit<WatcherStats, "logsCheckedTo"> {
  watchers: number;
  connected: number;
  http: HttpCounts;
}

export class WatchEngine {
  private readonly client = new RpcHttpClient({ connectionsPerOrigin: 4 });
  private readonly groups: WatchGroup[] = [];
  private readonly watchers: Watcher[] = [];
  private started = false;
  private stopping: Promise<void> | null = null;

  constructor(opts: WatchEngineOptions) {
    const clock = opts.clock ?? (() => performance.timeOrigin + performance.now());
    const onError = opts.onError ?? (() => {});
    for (const spec of opts.groups) {
      const group = new WatchGroup(spec, this.client, clock, opts.lag);
      this.groups.push(group);
      for (const w of spec.watchers) {
        this.watchers.push(
          new Watcher(w, {
            group,
            client: this.client,
            emit: (sample) => opts.recorder.record(sample),
            notice: (watcher, notice) => opts.onNotice?.({ target: spec.target, chain: spec.chain, watcher }, notice),
            onError,
            clock,
            lag: opts.lag,
            random: opts.random ?? Math.random,
            pingIntervalMs: opts.pingIntervalMs ?? 15_000,
            planMismatch: opts.planMismatch === undefined ? undefined : (route) => opts.planMismatch?.(spec.target, spec.chain, route) === true,
          }),
        );
      }
    }
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const g of this.groups) g.start();
    for (const w of this.watchers) w.start();
  }

  /** Closes every subscription (an open stall is closed into a sample) and waits for lookups in flight. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const g of this.groups) g.stop();
      await Promise.allSettled(this.watchers.map((w) => w.stop()));
      await this.client.close();
    })();
    return this.stopping;
  }

  /** Per watcher, for readiness and tests. */
  watcherStats(): Array<{ target: string; chain: string; watcher: string; connected: boolean } & WatcherStats> {
    return this.watchers.map((w) => ({ target: w.target, chain: w.chain, watcher: w.spec.name, connected: w.connected, ...w.stats }));
  }

  /** HTTP counts per (target, chain) group: head polls, their errors, lookups. */
  groupStats(): Array<{ target: string; chain: string; http: HttpCounts }> {
    return this.groups.map((g) => ({ target: g.spec.target, chain: g.spec.chain, http: { ...g.counts } }));
  }

  stats(): WatchEngineStats {
    const sum: WatchEngineStats = {
      watchers: this.watchers.length,
      connected: 0,
      sessions: 0,
      reconnects: 0,
      connectFailures: 0,
      malformedFrames: 0,
      events: 0,
      http: { headPolls: 0, headPollErrors: 0, lookups: 0, getLogs: 0 },
    };
    for (const w of this.watchers) {
      sum.sessions += w.stats.sessions;
      sum.reconnects += w.stats.reconnects;
      sum.connectFailures += w.stats.connectFailures;
      sum.malformedFrames += w.stats.malformedFrames;
      sum.events += w.stats.events;
      if (w.connected) sum.connected += 1;
    }
    for (const g of this.groups) for (const k of Object.keys(sum.http) as (keyof HttpCounts)[]) sum.http[k] += g.counts[k];
    return sum;
  }
}
