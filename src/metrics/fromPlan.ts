import type { Plan } from "../plan/index.js";
import { sloFor, type ResolvedSlo } from "../report/types.js";
import type { ContinuityEvent } from "../samples.js";

/**
 * Error classes every probe series starts with at 0, so increase() sees the first one after a
 * restart: the daemon's own classes, and the answers Lasso's contract gives for upstream
 * trouble (docs/lasso-source-notes.md): -32000 no channel / deadline spent / invalid upstream
 * reply, -32002 upstream 5xx, -32004 upstream network error, -32005 upstream 429, -32007
 * request timeout, HTTP 503 in-flight budget. Any other http_<status> or rpc_<code> appears at
 * its first occurrence: sum over outcome="error" for alerts, not over one class.
 */
export const PLANNED_ERROR_CLASSES = [
  "timeout", "connect", "invalid_response",
  "rpc_-32000", "rpc_-32002", "rpc_-32004", "rpc_-32005", "rpc_-32007", "http_503",
] as const;

/** Which watchers can emit each event: their watch_events_total series start at 0. */
const EVENT_SUBSCRIPTIONS: Record<ContinuityEvent, "any" | "newHeads" | "logs"> = {
  delivered: "any", reconnect: "any", client_gap: "any", subscription_id_change: "any", first_event: "any", out_of_order: "any",
  subscribe_refused: "any", upgrade_refused: "any", connect_failed: "any", plan_mismatch: "any",
  gap: "newHeads", duplicate: "newHeads", reorg: "newHeads", stall: "newHeads", never_live: "newHeads",
  log_missing: "logs", log_duplicate: "logs",
};

export function plannedWatchEvents(subscription: "newHeads" | "logs"): ContinuityEvent[] {
  return (Object.entries(EVENT_SUBSCRIPTIONS) as Array<[ContinuityEvent, string]>).filter(([, s]) => s === "any" || s === subscription).map(([e]) => e);
}

/** The series the plan implies: created at start-up so the first incident is an increase from 0. */
export interface ExpectedSeries {
  probes: ExpectedProbeSeries[];
  /** (target, chain) pairs whose chain runs consistency checks. */
  consistency: Array<{ target: string; chain: string }>;
  watchers: ExpectedWatcher[];
  slos: SloObjectiveValue[];
  /** Lasso nodes soak sampling polls (their poll and restart counters). */
  soakTargets: string[];
}

export interface ExpectedProbeSeries {
  target: string;
  chain: string;
  route: string;
  method: string;
  /** Assertion kinds checked on the series: the `assertion` label of assertion failures. */
  assertions: string[];
  /** A pin's provider and the transport it must use: the served series known before any answer. */
  pinned: { provider: string; transport: "http" | "ws" } | null;
}

export interface ExpectedWatcher {
  target: string;
  chain: string;
  watcher: string;
  subscription: "newHeads" | "logs";
}

/**
 * One objective in Prometheus base units. `sli` names the objective and its unit:
 * success_ratio and head_fresh_ratio (0..1), latency_p95_seconds, head_lag_max_blocks,
 * delivery_delay_p95_seconds (only when the plan sets it).
 */
export interface SloObjectiveValue {
  chain: string;
  sli: string;
  value: number;
}

export function sloObjectiveValues(slo: ResolvedSlo): SloObjectiveValue[] {
  const out: SloObjectiveValue[] = [
    { chain: slo.chain, sli: "success_ratio", value: slo.successRatio },
    { chain: slo.chain, sli: "latency_p95_seconds", value: slo.p95LatencyMs / 1000 },
    { chain: slo.chain, sli: "head_lag_max_blocks", value: slo.maxHeadLagBlocks },
    { chain: slo.chain, sli: "head_fresh_ratio", value: slo.headFreshRatio },
    { chain: slo.chain, sli: "correctness_ratio", value: slo.correctnessRatio },
    { chain: slo.chain, sli: "consistency_ratio", value: slo.consistencyRatio },
  ];
  if (slo.maxDeliveryDelayMs !== null) out.push({ chain: slo.chain, sli: "delivery_delay_p95_seconds", value: slo.maxDeliveryDelayMs / 1000 });
  return out;
}

export function expectedSeries(plan: Plan): ExpectedSeries {
  return {
    probes: plan.series.map((s) => ({
      target: s.target,
      chain: s.chain,
      route: s.route,
      method: s.method,
      assertions: [...new Set(s.assertions.map((a) => a.kind))],
      pinned: s.provider !== null && s.transport !== "any" ? { provider: s.provider, transport: s.transport } : null,
    })),
    consistency: plan.chains.flatMap((c) => (c.consistency ? c.targets.map((target) => ({ target, chain: c.chain })) : [])),
    watchers: plan.chains.flatMap((c) =>
      c.targets.flatMap((target) => c.watchers.map((w) => ({ target, chain: c.chain, watcher: w.name, subscription: w.subscription }))),
    ),
    slos: plan.chains.flatMap((c) => sloObjectiveValues(sloFor(c.chain, [{ chain: c.chain, ...c.slo }]))),
    soakTargets: plan.soak?.targets.map((t) => t.target) ?? [],
  };
}
