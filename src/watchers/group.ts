/**
 * What the watchers of one chain through one target share: the HTTP head poll (sightings),
 * block timestamps seen by newHeads watchers (for logs delays), and the budgeted HTTP lookups.
 */
import type { RpcHttpClient } from "../lasso/rpcClient.js";
import type { LoopLag } from "../metrics/loopLag.js";
import type { LogsFilter } from "../plan/index.js";
import { startGridTimer, type GridTimer } from "../probes/grid.js";
import { TokenBucket } from "./budget.js";
import { parseBlockResult, parseLogsResult, parseQuantity, toHex, type HeadEvent, type LogEvent } from "./frames.js";
import { Sightings } from "./sightings.js";
import type { WatchGroupSpec } from "./types.js";

// Bounded so that stopping (which waits for requests in flight) stays within a few seconds.
const LOOKUP_TIMEOUT_MS = 4000;
/** Lasso's own deadline for eth_getLogs is about 5 s (docs/lasso-contract.md). */
const GET_LOGS_TIMEOUT_MS = 5000;
const CONFIRM_BURST = 10;
const TIMESTAMPS_KEPT = 512;

export interface HttpCounts {
  headPolls: number;
  headPollErrors: number;
  lookups: number;
  getLogs: number;
}

export class WatchGroup {
  readonly sightings = new Sightings();
  readonly counts: HttpCounts = { headPolls: 0, headPollErrors: 0, lookups: 0, getLogs: 0 };
  private readonly timestamps = new Map<number, number>();
  private readonly bucket: TokenBucket;
  private readonly listeners = new Set<(t: number) => void>();
  private poll: GridTimer | null = null;
  private readonly stopping = new AbortController();

  constructor(
    readonly spec: WatchGroupSpec,
    private readonly client: RpcHttpClient,
    private readonly clock: () => number,
    private readonly lag?: LoopLag,
  ) {
    this.bucket = new TokenBucket(spec.confirmationsPerMinute / 60, CONFIRM_BURST, clock);
  }

  get key(): string {
    return `${this.spec.target}|${this.spec.chain}`;
  }

  start(): void {
    const timeoutMs = Math.max(250, Math.min(this.spec.headPollIntervalMs, 4000));
    this.poll = startGridTimer(`watch|${this.key}`, this.spec.headPollIntervalMs, () => this.pollHead(timeoutMs), { now: this.clock, lag: this.lag });
  }

  stop(): void {
    this.poll?.stop();
    this.stopping.abort();
  }

  /** Called after every new HTTP sighting. Returns an unsubscribe function. */
  onSighting(listener: (t: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  noteTimestamp(height: number, timestampSec: number): void {
    this.timestamps.set(height, timestampSec);
    if (this.timestamps.size > TIMESTAMPS_KEPT) {
      const oldest = this.timestamps.keys().next();
      if (oldest.done !== true) this.timestamps.delete(oldest.value);
    }
  }

  timestampOf(height: number): number | undefined {
    return this.timestamps.get(height);
  }

  private async pollHead(timeoutMs: number): Promise<void> {
    this.counts.headPolls += 1;
    const r = await this.client.call(this.spec.httpUrl, "eth_blockNumber", [], timeoutMs, this.spec.headers);
    const height = r.outcome === "ok" ? parseQuantity(r.result) : null;
    if (height === null) {
      this.counts.headPollErrors += 1;
      return;
    }
    const t = this.clock();
    const before = this.sightings.head();
    this.sightings.sight(height, t);
    if (before === null || height > before) for (const l of this.listeners) l(t);
  }

  /** eth_getBlockByNumber(h, false) within the confirmation allowance (waits for a token). */
  async getBlock(height: number): Promise<{ ok: true; block: HeadEvent | null } | { ok: false; error: string }> {
    if (!(await this.acquire())) return { ok: false, error: "stopping" };
    this.counts.lookups += 1;
    const r = await this.client.call(this.spec.httpUrl, "eth_getBlockByNumber", [toHex(height), false], LOOKUP_TIMEOUT_MS, this.spec.headers);
    if (r.outcome !== "ok") return { ok: false, error: `${r.errorClass ?? "error"}: ${r.errorDetail ?? ""}`.slice(0, 200) };
    const b = parseBlockResult(r.result);
    if (!b.ok) return { ok: false, error: `invalid block: ${b.reason}` };
    if (b.value !== null) this.noteTimestamp(b.value.number, b.value.timestampSec);
    return { ok: true, block: b.value };
  }

  /** eth_getLogs over a closed range (planned at the logs check interval, not from the allowance). */
  async getLogs(filter: LogsFilter, fromBlock: number, toBlock: number): Promise<{ ok: true; logs: LogEvent[] } | { ok: false; error: string }> {
    this.counts.getLogs += 1;
    const r = await this.client.call(this.spec.httpUrl, "eth_getLogs", [{ ...filter, fromBlock: toHex(fromBlock), toBlock: toHex(toBlock) }], GET_LOGS_TIMEOUT_MS, this.spec.headers);
    if (r.outcome !== "ok") return { ok: false, error: `${r.errorClass ?? "error"}: ${r.errorDetail ?? ""}`.slice(0, 200) };
    const logs = parseLogsResult(r.result);
    return logs.ok ? { ok: true, logs: logs.value } : { ok: false, error: logs.reason };
  }

  private async acquire(): Promise<boolean> {
    for (;;) {
      if (this.stopping.signal.aborted) return false;
      const r = this.bucket.take();
      if (r.ok) return true;
      await sleep(r.waitMs, this.stopping.signal);
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
