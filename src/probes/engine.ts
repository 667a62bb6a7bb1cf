import type { LoopLag } from "../metrics/loopLag.js";
import type { Recorder } from "../recorder.js";
import { RpcHttpClient } from "../lasso/rpcClient.js";
import { checkConsistency } from "./consistency.js";
import { startGridTimer, type GridTimer } from "./grid.js";
import { HeadBoard, type ChainTiming } from "./heads.js";
import { toSample, type SeriesState } from "./probe.js";
import type { ConsistencySpec, ProbeSeriesSpec } from "./types.js";

export interface ProbeEngineOptions {
  series: ProbeSeriesSpec[];
  consistency: ConsistencySpec[];
  recorder: Recorder;
  onError?: (err: unknown, what: string) => void;
  now?: () => number;
  lag?: LoopLag;
}

/** Runs every probe series and consistency check on its grid and records the samples. */
export class ProbeEngine {
  private readonly client = new RpcHttpClient();
  private readonly board: HeadBoard;
  private readonly timers: GridTimer[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly now: () => number;

  constructor(private readonly opts: ProbeEngineOptions) {
    this.now = opts.now ?? Date.now;
    this.board = new HeadBoard(chainTimings(opts.series));
  }

  start(): void {
    const grid = { now: this.now, lag: this.opts.lag };
    for (const spec of this.opts.series) {
      const state: SeriesState = { lastHeight: null };
      this.timers.push(startGridTimer(spec.id, spec.intervalMs, () => this.track(this.runSeries(spec, state)), grid));
    }
    for (const spec of this.opts.consistency) {
      this.timers.push(
        startGridTimer(`consistency|${spec.target}|${spec.chain}`, spec.intervalMs, () => this.track(this.runConsistency(spec)), grid),
      );
    }
  }

  private track(p: Promise<void>): Promise<void> {
    this.inFlight.add(p);
    return p.finally(() => this.inFlight.delete(p));
  }

  private async runSeries(spec: ProbeSeriesSpec, state: SeriesState): Promise<void> {
    try {
      const sentAt = this.now();
      const call = await this.client.call(spec.url, spec.method, spec.params, spec.timeoutMs, spec.headers);
      this.opts.recorder.record(toSample(spec, sentAt, call, this.board, state));
    } catch (err) {
      this.opts.onError?.(err, `probe ${spec.id}`);
    }
  }

  private async runConsistency(spec: ConsistencySpec): Promise<void> {
    try {
      const sample = await checkConsistency(spec, this.client, this.board, this.now);
      if (sample) this.opts.recorder.record(sample);
    } catch (err) {
      this.opts.onError?.(err, `consistency ${spec.target}/${spec.chain}`);
    }
  }

  /** Stops scheduling and waits (bounded by the probes' own timeouts) for probes in flight. */
  async stop(): Promise<void> {
    for (const t of this.timers) t.stop();
    await Promise.allSettled([...this.inFlight]);
    await this.client.close();
  }
}

/**
 * Per chain: the block time heads are carried forward by (the longest any series states: a longer
 * one only reads low), and the horizon past which a pinned answer says nothing about now (two
 * pinned probe intervals, so one lost probe does not drop the provider, or three block times).
 * Computed once: the board asks on every probe.
 */
function chainTimings(series: readonly ProbeSeriesSpec[]): (chain: string) => ChainTiming {
  const timings = new Map<string, ChainTiming>();
  for (const s of series) {
    const known = timings.get(s.chain);
    const blockTimeMs = Math.max(known?.blockTimeMs ?? 0, s.blockTimeMs);
    const pinnedSpan = s.feedsConsensus ? 2 * s.intervalMs : 0;
    timings.set(s.chain, { blockTimeMs, horizonMs: Math.max(known?.horizonMs ?? 0, pinnedSpan, 3 * blockTimeMs) });
  }
  // A chain no series names has no pinned answers either; the fallback is never used to carry a head.
  return (chain) => timings.get(chain) ?? { blockTimeMs: Number.POSITIVE_INFINITY, horizonMs: 0 };
}
