/** Run-time switchable defects that reproduce ways Lasso could regress. */
import { isObject, type JsonValue } from "./jsonrpc.js";
import type { Defects } from "./types.js";

export const NO_DEFECTS: Defects = {
  noFailover: false,
  gapOnFailover: false,
  duplicatesOnFailover: false,
  staleRouting: false,
  silentDrop: false,
  memoryGrowthMbPerMin: 0,
};

const BOOL_KEYS = ["noFailover", "gapOnFailover", "duplicatesOnFailover", "staleRouting", "silentDrop"] as const;
const GROWTH_TICK_MS = 1000;

/** Validates a JSON body for PUT /_sim/defects; unknown keys or wrong types are rejected. */
export function parseDefectsPatch(v: JsonValue): { ok: true; patch: Partial<Defects> } | { ok: false; error: string } {
  if (!isObject(v)) return { ok: false, error: "body must be a JSON object" };
  const patch: Partial<Defects> = {};
  for (const [k, val] of Object.entries(v)) {
    if ((BOOL_KEYS as readonly string[]).includes(k)) {
      if (typeof val !== "boolean") return { ok: false, error: `${k} must be a boolean` };
      patch[k as (typeof BOOL_KEYS)[number]] = val;
    } else if (k === "memoryGrowthMbPerMin") {
      if (typeof val !== "number" || !Number.isFinite(val) || val < 0 || val > 10_240) {
        return { ok: false, error: "memoryGrowthMbPerMin must be a number in [0, 10240]" };
      }
      patch.memoryGrowthMbPerMin = val;
    } else {
      return { ok: false, error: `unknown defect ${k}` };
    }
  }
  return { ok: true, patch };
}

export class DefectState {
  private current: Defects;
  /** Deliberately retained memory (memoryGrowthMbPerMin). */
  private readonly leak: Buffer[] = [];
  private leakCarry = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(initial: Partial<Defects> | undefined) {
    this.current = { ...NO_DEFECTS };
    this.set(initial ?? {});
  }

  get(): Defects {
    return { ...this.current };
  }

  set(patch: Partial<Defects>): void {
    const next: Defects = { ...this.current };
    for (const k of BOOL_KEYS) {
      const v = patch[k];
      if (typeof v === "boolean") next[k] = v;
    }
    if (typeof patch.memoryGrowthMbPerMin === "number" && Number.isFinite(patch.memoryGrowthMbPerMin)) {
      next.memoryGrowthMbPerMin = Math.max(0, patch.memoryGrowthMbPerMin);
    }
    this.current = next;
    this.updateGrowth();
  }

  retainedBytes(): number {
    return this.leak.reduce((s, b) => s + b.length, 0);
  }

  private updateGrowth(): void {
    const rate = this.current.memoryGrowthMbPerMin;
    if (rate > 0 && !this.timer) {
      this.timer = setInterval(() => this.grow(), GROWTH_TICK_MS);
      this.timer.unref();
    } else if (rate <= 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private grow(): void {
    const bytes = (this.current.memoryGrowthMbPerMin * 1024 * 1024 * GROWTH_TICK_MS) / 60_000 + this.leakCarry;
    const whole = Math.floor(bytes);
    this.leakCarry = bytes - whole;
    // Filled (not zero) so the pages are touched and counted in RSS.
    if (whole > 0) this.leak.push(Buffer.alloc(whole, 0xa5));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.leak.length = 0;
  }
}
