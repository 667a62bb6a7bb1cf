/**
 * Failover and recovery of the faulted provider as clients saw it: from the routing metadata
 * of the experiment's answers (ProbeObservation.provider, Lasso's `selected_provider`).
 *
 * Failover: the faulted provider "stopped serving" at its last experiment answer in
 * [start, end) (or at `start` when it served none after the fault started), PROVIDED enough
 * experiment answers came from other providers after that instant to rule out chance. Under
 * load-balanced routing a provider that gets a share s of the answers is skipped n times in a
 * row with probability (1-s)^n; the evidence needed is the n that makes this <= 1 %.
 * Every answer attributed to the faulted provider counts, failed ones too: an error that Lasso
 * passed through from it (no failover) is it still serving clients, badly. Answers without
 * metadata (provider null) are no evidence either way.
 *
 * Recovery: the first experiment answer after the window that the provider served successfully.
 *
 * Resolution: one probe interval (the stop lies between two answers).
 */
import type { ProbeObservation } from "./windowTypes.js";

/** Chance of calling a provider "stopped" although routing merely skipped it that often. */
const SKIP_CHANCE = 0.01;
/** Answers from other providers needed when the provider's normal share is unknown. */
const FALLBACK_QUIET_ANSWERS = 10;
const MIN_QUIET_ANSWERS = 3;
const MAX_QUIET_ANSWERS = 50;

export type RoutingFailoverStatus =
  /** It stopped: failoverMs is set. */
  | "stopped"
  /** It served experiment answers until (too close to) the end: no failover seen. */
  | "still_serving"
  /** No experiment answer before, during or after the window came from it: routing never picked it, nothing to see. */
  | "never_served";

export interface RoutingFailover {
  status: RoutingFailoverStatus;
  /** Fault start until it stopped serving; null unless status is "stopped". */
  failoverMs: number | null;
  /** Its last experiment answer in [start, end); null: none after the fault started. */
  lastServedAt: number | null;
  /** Answers from other providers after that instant, and how many were needed. */
  quietAnswers: number;
  neededQuietAnswers: number;
  /** Its share of the attributed experiment answers before the fault started; null: none to go by. */
  baselineShare: number | null;
}

/** How many answers from other providers in a row rule out routing chance for a provider with that share. */
export function quietAnswersNeeded(share: number | null): number {
  if (share === null || share <= 0) return FALLBACK_QUIET_ANSWERS;
  if (share >= 1) return MIN_QUIET_ANSWERS;
  const n = Math.ceil(Math.log(SKIP_CHANCE) / Math.log(1 - share));
  return Math.min(MAX_QUIET_ANSWERS, Math.max(MIN_QUIET_ANSWERS, n));
}

export function failoverFromRouting(
  provider: string,
  experiment: readonly ProbeObservation[],
  after: readonly ProbeObservation[],
  start: number,
  end: number,
): RoutingFailover {
  const attributed = (o: ProbeObservation): boolean => o.provider !== null;
  const byFaulted = (o: ProbeObservation): boolean => o.provider === provider;

  const before = experiment.filter((o) => o.ts < start && attributed(o));
  const baselineShare = before.length > 0 ? before.filter(byFaulted).length / before.length : null;
  const neededQuietAnswers = quietAnswersNeeded(baselineShare);

  const during = experiment.filter((o) => o.ts >= start && o.ts < end).sort((a, b) => a.ts - b.ts);
  const lastServed = during.filter(byFaulted).at(-1);
  const lastServedAt = lastServed?.ts ?? null;
  const stopAt = lastServedAt ?? start;
  const quietAnswers = during.filter((o) => o.ts > stopAt && attributed(o) && !byFaulted(o)).length;

  const everServed = lastServedAt !== null || experiment.some(byFaulted) || after.some(byFaulted);
  if (!everServed) return { status: "never_served", failoverMs: null, lastServedAt, quietAnswers, neededQuietAnswers, baselineShare };
  if (quietAnswers < neededQuietAnswers) return { status: "still_serving", failoverMs: null, lastServedAt, quietAnswers, neededQuietAnswers, baselineShare };
  return { status: "stopped", failoverMs: stopAt - start, lastServedAt, quietAnswers, neededQuietAnswers, baselineShare };
}

export interface RoutingRecovery {
  /** Window end until the provider's first successful experiment answer; null: none seen. */
  recoveryMs: number | null;
  /** How long after the end the observation reaches (its last answer). */
  observedMs: number;
}

export function recoveryFromRouting(provider: string, after: readonly ProbeObservation[], end: number): RoutingRecovery {
  const later = after.filter((o) => o.ts >= end);
  const back = later.filter((o) => o.ok && o.provider === provider).reduce<number | null>((min, o) => (min === null || o.ts < min ? o.ts : min), null);
  const observedMs = later.reduce((max, o) => Math.max(max, o.ts - end), 0);
  return { recoveryMs: back === null ? null : back - end, observedMs };
}
