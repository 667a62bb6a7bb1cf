/**
 * The precondition's memory: recent answers of the plan's own probes per chain and profile
 * (a route "canary/default" is the canary profile, "default" the public one), so a window only
 * starts when both the experiment's profile and the control were healthy just before.
 */
import type { Sample, SampleSink } from "../samples.js";

interface Answer {
  ts: number;
  ok: boolean;
}

/** Per chain and profile at most this many answers are kept (a few minutes of a busy plan). */
const MAX_PER_KEY = 20_000;

export interface RecentHealth {
  samples: number;
  ok: number;
  /** ok / samples; null without samples. */
  ratio: number | null;
}

export class RecentProbes implements SampleSink {
  private readonly byKey = new Map<string, Answer[]>();
  /** When this memory started listening: before it, nothing is known. */
  readonly since: number;

  /** `keepMs`: the longest precondition of the plan. */
  constructor(private readonly keepMs: number, now: number = Date.now()) {
    this.since = now;
  }

  accept(sample: Sample): void {
    // Plan mismatches are our configuration, not the profile's health.
    if (sample.kind !== "probe" || sample.errorClass === "plan_mismatch") return;
    const key = keyOf(sample.chain, profileOf(sample.route));
    let list = this.byKey.get(key);
    if (!list) {
      list = [];
      this.byKey.set(key, list);
    }
    list.push({ ts: sample.ts, ok: sample.outcome === "ok" });
    const cutoff = sample.ts - this.keepMs;
    let drop = 0;
    while (drop < list.length && (list[drop]?.ts ?? 0) < cutoff) drop++;
    if (list.length - drop > MAX_PER_KEY) drop = list.length - MAX_PER_KEY;
    if (drop > 0) list.splice(0, drop);
  }

  /** Answers of `chain` on `profile` (null: public) sent at or after `from`. */
  health(chain: string, profile: string | null, from: number): RecentHealth {
    let samples = 0;
    let ok = 0;
    for (const a of this.byKey.get(keyOf(chain, profile)) ?? []) {
      if (a.ts < from) continue;
      samples++;
      if (a.ok) ok++;
    }
    return { samples, ok, ratio: samples > 0 ? ok / samples : null };
  }
}

/** "canary/fastest" -> "canary"; "fastest", "pin:alpha" -> null (the public profile). */
export function profileOf(route: string): string | null {
  const slash = route.indexOf("/");
  return slash < 0 ? null : route.slice(0, slash);
}

function keyOf(chain: string, profile: string | null): string {
  return `${chain}\u0000${profile ?? ""}`;
}
