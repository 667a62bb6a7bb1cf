/**
 * Chaos windows: the shared vocabulary of the plan (windows as code), the runner (schedule,
 * guard, leases, persistence) and the verdict (statistics over what the window measured).
 */
import type { Fault } from "./faults.js";
import type { TrafficBucket } from "./control.js";

export type WindowKind = "fault" | "failover_storm";

/**
 * What the window is expected to show:
 * - failover: clients keep succeeding while the faulted provider stops serving them
 *   (breaker opens or Lasso routes around it) within the failover objective;
 * - no_failover: the fault must NOT open the breaker (429s, pure latency in Lasso): the
 *   provider keeps receiving traffic; clients keep succeeding (latency may shift).
 */
export type ExpectedOutcome = "failover" | "no_failover";

export type ChaosVerdict = "pass" | "fail" | "aborted" | "inconclusive";

/** One window as the plan declares it (checks/<chain>.yaml `chaos:`), resolved. */
export interface WindowSpec {
  /** Unique per plan; a metric label. */
  name: string;
  chain: string;
  /** Provider of the canary profile the fault targets. */
  provider: string;
  /** The Lasso profile the experiment probes (default "canary"); the control is the public profile. */
  profile: string;
  /** Target (Lasso base URL from the daemon config) both experiment and control probes go through. */
  target: string;
  kind: WindowKind;
  /** The fault for kind "fault"; for a failover storm, ws_drop applied every `stormEveryMs`. */
  fault: Fault;
  /** node-cron expression (seconds optional). */
  schedule: string;
  durationMs: number;
  expect: ExpectedOutcome;
  /** Experiment and control probe interval during the window (same for both). */
  probeIntervalMs: number;
  /** Failover storm only: drop the serving provider's subscription every this often. */
  stormEveryMs: number | null;
  slo: {
    /** Client-visible success of the experiment over the window, e.g. 0.99. */
    minClientSuccess: number;
    /** Fault start until the faulted provider stops serving client requests. */
    maxFailoverMs: number;
    /** Window end until the provider serves again. */
    maxRecoveryMs: number;
  };
  /** Abort guard: experiment success over the last `abortWindowMs` below this ends the fault at once. */
  abortFloor: number;
  abortWindowMs: number;
  /** Precondition: experiment and control healthy (success >= minClientSuccess) over this long before start. */
  preconditionMs: number;
  /** Optional Alertmanager silence for the window's duration. */
  silence: { matchers: Array<{ name: string; value: string; isRegex: boolean; isEqual: boolean }>; comment: string } | null;
}

/** One probe answer seen during (or around) a window. */
export interface ProbeObservation {
  ts: number;
  ok: boolean;
  latencyMs: number;
  /** Provider that served, from routing metadata. */
  provider: string | null;
}

/** Subscription continuity over the window (the experiment's watchers on the canary profile). */
export interface ContinuityObservation {
  gaps: number;
  missingBlocks: number;
  duplicates: number;
  backfilledBlocks: number;
  stalls: number;
  /** Failovers Lasso performed (storm: drops that made it switch). */
  failovers: number;
}

export interface WindowObservations {
  plannedStart: number;
  /** When the fault was set (null: it never started, e.g. precondition failed). */
  start: number | null;
  /** When the fault ended (window end, abort, lease loss). */
  end: number | null;
  plannedEnd: number;
  experiment: ProbeObservation[];
  control: ProbeObservation[];
  /** Experiment probes after the window, for the recovery time. */
  after: ProbeObservation[];
  /** Upstream side of the faulted proxy, from before start to the end of the recovery period. */
  traffic: TrafficBucket[];
  continuity: ContinuityObservation | null;
  /**
   * The fault ended early. `byGuard`: the abort guard saw client success fall below the floor,
   * which is itself the finding (verdict fail); otherwise an operator, a reload or a restart
   * ended it and the window cannot be judged (verdict aborted).
   */
  aborted: { at: number; reason: string; byGuard?: boolean } | null;
}

export interface LatencyShift {
  experimentP50Ms: number | null;
  controlP50Ms: number | null;
  /** Mann-Whitney U (or null when too few samples). */
  u: number | null;
  /** Two-sided p-value (normal approximation with tie correction). */
  p: number | null;
  shift: "higher" | "lower" | "none" | "inconclusive";
}

export interface WindowResult {
  verdict: ChaosVerdict;
  /** Why, in words, one per finding. */
  reasons: string[];
  clientSuccess: { experiment: number | null; control: number | null; experimentSamples: number; controlSamples: number };
  latency: LatencyShift;
  /** Fault start until the faulted provider stopped serving client requests (metadata); null: it never stopped. */
  failoverMs: number | null;
  /** From the proxy's side: when Lasso stopped sending, half-open probes seen, when it resumed. */
  breaker: { stoppedAt: number | null; halfOpenProbes: number; resumedAt: number | null };
  /** Window end until the provider served client requests again; null: not within the observation. */
  recoveryMs: number | null;
  continuity: ContinuityObservation | null;
}
