/**
 * The precondition's memory: recent answers of the plan's own probes per chain and profile
 * (a route "canary/default" is the canary profile, "default" the public one), so a window only
 * starts when both the experiment's profile and the control were healthy just before.
 */
import type { Sample, SampleSink } from "../samples.js";

/** Answers of one chain and profile in one second. */
interface Second {
  at: number;
  n: number;
  ok: number;
}

export interface RecentHealth {
  samples: number;
  ok: number;
  /** ok / samples; null without samples. */
  ratio: number | null;
}

/** Per chain and profile, one counter per second of the last `keepMs`: memory does not grow with the probe rate. */
export class RecentProbes implements SampleSink {
  private readonly byKey = new Map<string, Second[]>();
  /** When this memory started listening: before it, nothing is known. */
  readonly since: number;

  /** `keepMs`: the longest precondition it must answer for. */
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
    const at = Math.floor(sample.ts / 1000) * 1000;
    // Answers arrive out of send order by up to a timeout: find the second from the end.
    let i = list.length - 1;
    while (i >= 0 && (list[i]?.at ?? 0) > at) i--;
    let second = list[i];
    if (second === undefined || second.at !== at) {
      second = { at, n: 0, ok: 0 };
      list.splice(i + 1, 0, second);
    }
    second.n++;
    if (sample.outcome === "ok") second.ok++;
    const cutoff = at - this.keepMs;
    let drop = 0;
    while (drop < list.length && (list[drop]?.at ?? 0) < cutoff) drop++;
    if (drop > 0) list.splice(0, drop);
  }

  /** Answers of `chain` on `profile` (null: public) sent at or after `from` (to the second). */
  health(chain: string, profile: string | null, from: number): RecentHealth {
    const fromSecond = Math.floor(from / 1000) * 1000;
    let samples = 0;
    let ok = 0;
    for (const s of this.byKey.get(keyOf(chain, profile)) ?? []) {
      if (s.at < fromSecond) continue;
      samples += s.n;
      ok += s.ok;
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
