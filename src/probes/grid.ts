import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { LoopLag } from "../metrics/loopLag.js";

/**
 * Fixed-grid scheduling: series fire at `offset + k * interval` on the wall clock, so a
 * slow probe never makes the next one drift, and the stable per-series offset (a hash of
 * the series id) spreads series over the interval instead of firing them all at once.
 */
export function gridOffsetMs(seriesId: string, intervalMs: number): number {
  const h = createHash("sha1").update(seriesId).digest().readUInt32BE(0);
  return h % intervalMs;
}

export function nextFireAt(now: number, intervalMs: number, offsetMs: number): number {
  const k = Math.floor((now - offsetMs) / intervalMs) + 1;
  return k * intervalMs + offsetMs;
}

export interface GridTimer {
  stop(): void;
}

export interface GridTimerOptions {
  /** The wall clock the grid is laid on. */
  now?: () => number;
  /** Told how late each fire ran: the grid's timers double as event-loop lag samples. */
  lag?: LoopLag | undefined;
}

/** Calls `fire(scheduledAt)` on the grid until stopped. A fire that is still running when the next is due is skipped, not queued. */
export function startGridTimer(
  seriesId: string,
  intervalMs: number,
  fire: (scheduledAt: number) => Promise<void>,
  opts: GridTimerOptions = {},
): GridTimer {
  const now = opts.now ?? Date.now;
  const offset = gridOffsetMs(seriesId, intervalMs);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running = false;
  const arm = (): void => {
    if (stopped) return;
    const t = now();
    const at = nextFireAt(t, intervalMs, offset);
    const delay = Math.max(0, at - t);
    const dueAt = performance.now() + delay;
    timer = setTimeout(() => {
      opts.lag?.ranLate(dueAt);
      arm();
      if (running) return;
      running = true;
      fire(at).finally(() => {
        running = false;
      });
    }, delay);
  };
  arm();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
