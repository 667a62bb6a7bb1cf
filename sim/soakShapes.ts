/**
 * Synthetic memory series in the shapes a BEAM node's `memory_mb` takes (no recordings of
 * production Lasso are available: the shapes are modelled, and named for what they model):
 * noise around a level, GC sawtooth, a one-off step (a cache filled), a restart with its
 * warm-up, and linear leaks of a given percent of the starting level per hour. Deterministic
 * (seeded), so tests and the benchmark see the same series every run.
 */
import { SubjectSeries, type SoakObservation } from "../src/soak/series.js";
import { prng } from "../src/prng.js";
import type { SoakJudgement, VerdictOptions } from "../src/soak/verdict.js";

export type ShapeName = "flat" | "sawtooth" | "step" | "restart" | "leak";

export interface ShapeOptions {
  shape: ShapeName;
  /** Level at the start, MB. Default 200. */
  base?: number;
  /** Sample spacing, ms. Default 60 s. */
  stepMs?: number;
  /** Series length, ms. */
  durationMs: number;
  /** Standard deviation of the white noise, fraction of base. Default 0.005. */
  noise?: number;
  /** sawtooth (and the ripple under leaks): amplitude as a fraction of base, period ms. Defaults 0.15, 20 min (sawtooth); 0.05, 10 min (leak). */
  sawAmplitude?: number;
  sawPeriodMs?: number;
  /** step: when, and by how much (fraction of base). Defaults: a third of the way in, +0.15. */
  stepAtMs?: number;
  stepSize?: number;
  /** restart: when; memory falls to `restartLevel` x base and warms back up with time constant `warmupTauMs`. */
  restartAtMs?: number;
  restartLevel?: number;
  warmupTauMs?: number;
  /** leak: growth, percent of base per hour. */
  leakPercentPerHour?: number;
  seed?: number;
  /** Time of the first sample, ms. Default 0. */
  t0?: number;
}

/** Box-Muller over the soak code's own seeded PRNG. */
function gaussian(seed: number): () => number {
  const u = prng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

const HOUR_MS = 3_600_000;

/** Observations of `memory_mb` (rounded to 0.1 MB as Lasso does) with the node's uptime. */
export function shapeSeries(o: ShapeOptions): SoakObservation[] {
  const base = o.base ?? 200;
  const stepMs = o.stepMs ?? 60_000;
  const noise = gaussian(o.seed ?? 1);
  const sigma = (o.noise ?? 0.005) * base;
  const t0 = o.t0 ?? 0;
  const leak = o.shape === "leak";
  const sawA = (o.sawAmplitude ?? (leak ? 0.05 : 0.15)) * base;
  const sawP = o.sawPeriodMs ?? (leak ? 10 * 60_000 : 20 * 60_000);
  const out: SoakObservation[] = [];
  const uptimeAtStart = 3 * 86_400;
  for (let e = 0; e <= o.durationMs; e += stepMs) {
    let v = base + sigma * noise();
    let uptime = uptimeAtStart + e / 1000;
    switch (o.shape) {
      case "flat":
        break;
      case "sawtooth":
        v += sawA * ((e % sawP) / sawP);
        break;
      case "step":
        if (e >= (o.stepAtMs ?? o.durationMs / 3)) v += (o.stepSize ?? 0.15) * base;
        break;
      case "restart": {
        const at = o.restartAtMs ?? o.durationMs / 3;
        if (e >= at) {
          uptime = (e - at) / 1000;
          const level = o.restartLevel ?? 0.4;
          v = base * (1 - (1 - level) * Math.exp(-(e - at) / (o.warmupTauMs ?? 20 * 60_000))) + sigma * noise();
        }
        break;
      }
      case "leak":
        v += sawA * ((e % sawP) / sawP) + (base * (o.leakPercentPerHour ?? 1) * (e / HOUR_MS)) / 100;
        break;
    }
    out.push({ ts: t0 + e, uptimeSeconds: Math.floor(uptime), values: { memory_mb: Math.round(v * 10) / 10 } });
  }
  return out;
}

export interface ReplayResult {
  /** Time from the first observation to the first "leak suspected" verdict, ms; null: never flagged. */
  detectedAfterMs: number | null;
  /** The verdict at the last observation. */
  final: SoakJudgement;
  restarts: number;
}

/**
 * Feeds observations one by one through the daemon's series tracking and verdict (as the
 * soak engine does at each poll) and reports when memory_mb was first flagged.
 */
export function replay(observations: readonly SoakObservation[], o: VerdictOptions, dropRatio = 0.5, judgeEveryMs = 0): ReplayResult {
  const series = new SubjectSeries({ metrics: ["memory_mb"], primary: "memory_mb", dropRatio, keepMs: o.windowMs });
  const first = observations[0]?.ts ?? 0;
  let detectedAfterMs: number | null = null;
  let final = null as SoakJudgement | null;
  let judgedAt = -Infinity;
  observations.forEach((obs, i) => {
    series.add(obs);
    // The engine judges at every poll; a long replay may judge less often (detection time to that resolution).
    if (obs.ts - judgedAt < judgeEveryMs && i < observations.length - 1) return;
    judgedAt = obs.ts;
    final = series.judge("memory_mb", o);
    if (detectedAfterMs === null && final.status === "leak_suspected") detectedAfterMs = obs.ts - first;
  });
  if (final === null) throw new Error("replay needs at least one observation");
  return { detectedAfterMs, final, restarts: series.restarts };
}
