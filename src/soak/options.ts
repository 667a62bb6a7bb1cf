import type { SoakMetric, SoakPlan } from "../plan/types.js";
import type { VerdictOptions } from "./verdict.js";

/**
 * Slopes taken per fit at most: a 6 h window at 60 s holds 361 points (64,980 pairs); beyond
 * this a fixed subsample stands in, so a fit costs ~2 ms whatever the window and interval.
 */
export const MAX_PAIRS = 20_000;

/** The plan's thresholds for one metric. */
export function verdictOptions(plan: Omit<SoakPlan, "targets" | "pollIntervalMs" | "timeoutMs" | "restartDropRatio">, metric: SoakMetric): VerdictOptions {
  return {
    windowMs: plan.windowMs,
    warmupMs: plan.warmupMs,
    minSpanMs: plan.minSpanMs,
    confidence: plan.confidence,
    minPercentPerHour: plan.minPercentPerHour,
    minAbsPerHour: plan.minAbsPerHour[metric],
    maxPairs: MAX_PAIRS,
  };
}
