import v8 from "node:v8";

/**
 * Keeps the V8 heap close to its live size, for a sidecar judged on resident memory.
 *
 * Why: the daemon's live heap is ~20 MB, but V8 lets the old generation grow by half again
 * (or more) before its next full collection, and with a 1 MiB young generation much of each
 * probe's short-lived state is promoted, so the committed heap swings between ~21 and ~31 MB
 * and RSS with it. When the heap has grown past the size the last full collection left by
 * the slack, one full collection is run at a quiet moment (a timer, not mid-probe). The slack
 * is `slackBytes` or `slackFraction` of the live size, whichever is larger: a forced
 * collection costs time in proportion to the live heap, so a large plan (a large heap that
 * also promotes faster) is collected less often than a fixed slack would, never more often
 * than a small one. Needs node's `--expose-gc` (the shipped flags have it); without it this
 * does nothing.
 */
export interface HeapTrimOptions {
  /** Growth over the last post-collection size that triggers a collection, at least. */
  slackBytes: number;
  /** ... or this fraction of the last post-collection size, when larger. Default 0. */
  slackFraction?: number;
  /** How often the heap size is read. */
  checkIntervalMs: number;
  /** The collector; default globalThis.gc (present only under --expose-gc); null: none. */
  gc?: (() => void) | null;
  /** Heap bytes in use now; default V8's used_heap_size. */
  usedBytes?: () => number;
}

export interface HeapTrimStats {
  collections: number;
  /** The heap size the last collection left (0 before the first). */
  liveBytes: number;
}

export class HeapTrim {
  private timer: NodeJS.Timeout | null = null;
  private readonly gc: (() => void) | undefined;
  private readonly usedBytes: () => number;
  readonly stats: HeapTrimStats = { collections: 0, liveBytes: 0 };

  constructor(private readonly opts: HeapTrimOptions) {
    this.gc = opts.gc === undefined ? (globalThis.gc as (() => void) | undefined) : (opts.gc ?? undefined);
    this.usedBytes = opts.usedBytes ?? (() => v8.getHeapStatistics().used_heap_size);
  }

  get enabled(): boolean {
    return this.gc !== undefined;
  }

  /** One check: collect when the heap outgrew the last post-collection size by the slack. */
  check(): void {
    if (this.gc === undefined) return;
    if (this.stats.liveBytes === 0) return this.collect();
    const used = this.usedBytes();
    // V8's own full collections also shrink the heap: follow them down.
    if (used < this.stats.liveBytes) {
      this.stats.liveBytes = used;
      return;
    }
    const slack = Math.max(this.opts.slackBytes, (this.opts.slackFraction ?? 0) * this.stats.liveBytes);
    if (used - this.stats.liveBytes >= slack) this.collect();
  }

  private collect(): void {
    this.gc?.();
    this.stats.collections++;
    this.stats.liveBytes = this.usedBytes();
  }

  start(): void {
    if (this.timer || this.gc === undefined) return;
    this.timer = setInterval(() => this.check(), this.opts.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
