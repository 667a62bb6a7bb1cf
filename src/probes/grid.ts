import { createHash } from "node:crypto";

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

/** Calls `fire(scheduledAt)` on the grid until stopped. A fire that is still running when the next is due is skipped, not queued. */
export function startGridTimer(
  seriesId: string,
  intervalMs: number,
  fire: (scheduledAt: number) => Promise<void>,
  now: () => number = Date.now,
): GridTimer {
  const offset = gridOffsetMs(seriesId, intervalMs);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running = false;
  const arm = (): void => {
    if (stopped) return;
    const at = nextFireAt(now(), intervalMs, offset);
    timer = setTimeout(() => {
      arm();
      if (running) return;
      running = true;
      fire(at).finally(() => {
        running = false;
      });
    }, Math.max(0, at - now()));
  };
  arm();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
