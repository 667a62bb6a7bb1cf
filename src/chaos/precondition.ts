import { formatDuration } from "../plan/schema.js";
import type { RecentProbes } from "./recentProbes.js";
import type { WindowSpec } from "./windowTypes.js";

/**
 * Why a window must not start now, or null: the experiment's profile and the public profile
 * (the control) must both have answered the plan's probes at least as well as the window's
 * client-success objective over the last `preconditionMs`. No data is no go: a window never
 * starts blind (right after a daemon start, or when the probes of a side are all mismatched).
 */
export function preconditionFailure(spec: WindowSpec, recent: RecentProbes, now: number): string | null {
  const span = formatDuration(spec.preconditionMs);
  const from = now - spec.preconditionMs;
  if (recent.since > from) return `precondition: only ${formatDuration(Math.max(0, now - recent.since))} of probe history, ${span} needed`;
  const floor = spec.slo.minClientSuccess;
  for (const [side, profile] of [[`the ${spec.profile} profile`, spec.profile], ["the public profile (control)", null]] as const) {
    const h = recent.health(spec.chain, profile, from);
    if (h.ratio === null) return `precondition: no probe answers from ${side} of ${spec.chain} over the last ${span}`;
    if (h.ratio < floor)
      return `precondition: ${side} of ${spec.chain} unhealthy: ${h.ok} of ${h.samples} probes succeeded (${(h.ratio * 100).toFixed(1)}%) over the last ${span}, objective ${(floor * 100).toFixed(1)}%`;
  }
  return null;
}
