/**
 * The abort guard: ends a window at once when clients of the experiment profile suffer.
 *
 * Rule: over the last `abortWindowMs`, failures > (1 - abortFloor) x max(answers seen, answers
 * expected), where expected = abortWindowMs / probeIntervalMs. Once the window is full this
 * is exactly "success below the floor"; before that, the expected count keeps one early
 * failure from aborting a window that would have met the floor, while a fault that fails
 * every request (no failover at all) aborts after a few probes instead of a full abortWindow.
 */
import type { ProbeObservation } from "./windowTypes.js";

export class AbortGuard {
  private readonly seen: Array<{ ts: number; ok: boolean }> = [];

  constructor(private readonly floor: number, private readonly windowMs: number, private readonly probeIntervalMs: number) {}

  record(o: Pick<ProbeObservation, "ts" | "ok">): void {
    this.seen.push({ ts: o.ts, ok: o.ok });
  }

  /** Why the window must end now, or null. */
  check(now: number): string | null {
    const from = now - this.windowMs;
    while (this.seen.length > 0 && (this.seen[0]?.ts ?? 0) < from) this.seen.shift();
    const answers = this.seen.length;
    const failures = this.seen.filter((o) => !o.ok).length;
    const expected = this.windowMs / this.probeIntervalMs;
    const allowed = (1 - this.floor) * Math.max(answers, expected);
    if (failures <= allowed + 1e-9) return null;
    const success = answers > 0 ? (answers - failures) / answers : 0;
    return `abort guard: ${failures} of ${answers} experiment probes failed over the last ${this.windowMs / 1000} s ` +
      `(success ${(success * 100).toFixed(1)}%, floor ${(this.floor * 100).toFixed(1)}% of ${Math.round(Math.max(answers, expected))} expected answers)`;
  }
}
