import { EventEmitter } from "node:events";
import { parseFault, type Fault } from "./faults.js";

export type ClearReason = "expired" | "cleared" | "replaced";

export interface ActiveFault {
  fault: Fault;
  /** Wall-clock ms at which the fault ends. */
  expiresAt: number;
}

/** The open window as seen by request handlers: `ended` aborts the moment the window ends. */
export interface FaultWindow extends ActiveFault {
  ended: AbortSignal;
}

export interface FaultClockEvents {
  fault: [active: ActiveFault];
  "fault-cleared": [reason: ClearReason, fault: Fault];
}

interface OpenWindow extends FaultWindow {
  timer: NodeJS.Timeout;
  end: AbortController;
}

// setTimeout silently fires at once for delays above 2^31-1 ms.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Holds at most one fault and guarantees it never outlives its window: a dead-man timer ends
 * it, and every read re-checks the wall clock so a late timer cannot stretch the window.
 */
export class FaultClock extends EventEmitter<FaultClockEvents> {
  #open: OpenWindow | null = null;
  readonly #maxFaultMs: number;

  constructor(maxFaultMs: number) {
    super();
    if (!Number.isFinite(maxFaultMs) || maxFaultMs <= 0) throw new RangeError(`maxFaultMs must be > 0, got ${maxFaultMs}`);
    this.#maxFaultMs = Math.min(maxFaultMs, MAX_TIMER_MS);
  }

  /** `notAfter`: an absolute end (ms) the window never passes, however late this call runs. */
  set(fault: Fault, durationMs: number, notAfter = Infinity): ActiveFault {
    const parsed = parseFault(fault);
    if (!Number.isFinite(durationMs) || durationMs <= 0) throw new RangeError(`durationMs must be > 0, got ${durationMs}`);
    const now = Date.now();
    const windowMs = Math.max(1, Math.min(durationMs, this.#maxFaultMs, notAfter - now));
    if (this.#open) this.#end("replaced");
    const end = new AbortController();
    const expiresAt = now + windowMs;
    const open: OpenWindow = {
      fault: parsed,
      expiresAt,
      ended: end.signal,
      end,
      timer: setTimeout(() => this.#onTimer(open), windowMs),
    };
    open.timer.unref();
    this.#open = open;
    this.emit("fault", { fault: parsed, expiresAt });
    return { fault: parsed, expiresAt };
  }

  /**
   * A lease renewal: when the same fault is open, moves its end to now + durationMs (earlier
   * or later) without ending it, so held latency delays, blackholed requests and stale_head's
   * held heads are not let go at every renewal. Otherwise opens it like set().
   */
  renew(fault: Fault, durationMs: number, notAfter = Infinity): ActiveFault {
    const parsed = parseFault(fault);
    const open = this.current();
    if (open === null || !sameFault(open.fault, parsed)) return this.set(parsed, durationMs, notAfter);
    if (!Number.isFinite(durationMs) || durationMs <= 0) throw new RangeError(`durationMs must be > 0, got ${durationMs}`);
    const o = this.#open as OpenWindow;
    const now = Date.now();
    const windowMs = Math.max(1, Math.min(durationMs, this.#maxFaultMs, notAfter - now));
    clearTimeout(o.timer);
    o.expiresAt = now + windowMs;
    o.timer = setTimeout(() => this.#onTimer(o), windowMs);
    o.timer.unref();
    return { fault: o.fault, expiresAt: o.expiresAt };
  }

  clear(): void {
    if (this.#open) this.#end("cleared");
  }

  /** The open window, or null; ends an overdue window on the spot. */
  current(): FaultWindow | null {
    const open = this.#open;
    if (!open) return null;
    if (Date.now() >= open.expiresAt) {
      this.#end("expired");
      return null;
    }
    return open;
  }

  #onTimer(open: OpenWindow): void {
    if (this.#open !== open) return;
    const left = open.expiresAt - Date.now();
    // Timers may fire a millisecond early by the wall clock: never end a window before expiresAt.
    if (left > 0) {
      open.timer = setTimeout(() => this.#onTimer(open), left);
      open.timer.unref();
      return;
    }
    this.#end("expired");
  }

  #end(reason: ClearReason): void {
    const open = this.#open;
    if (!open) return;
    this.#open = null;
    clearTimeout(open.timer);
    open.end.abort();
    this.emit("fault-cleared", reason, open.fault);
  }
}

/** Faults are flat objects: equal when every field is. */
function sameFault(a: Fault, b: Fault): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k]);
}
