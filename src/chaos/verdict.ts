/**
 * The verdict of one chaos window: pure functions from what the window measured
 * (WindowObservations) to a WindowResult. No I/O, no clock: the same observations always
 * give the same verdict.
 *
 * Order of judgement (the first that applies decides):
 * 1. fail          the abort guard ended the fault early (client success fell below the floor:
 *                  that is the finding); aborted: an operator, a reload or a restart ended it.
 * 2. inconclusive  the fault never started; fewer than `minSamples` experiment or control
 *                  answers in [start, end); the control's success was below the window's
 *                  minClientSuccess (the public profile was unhealthy too: not the fault's doing).
 * 3. fail          any criterion of the window's expectation failed (each one a reason).
 * 4. inconclusive  a criterion the expectation needs could not be measured.
 * 5. pass          otherwise.
 * Every reason is "<code>: <words with figures>"; README's "Reading a verdict" lists the codes.
 *
 * Criteria by expectation (experiment success >= slo.minClientSuccess always applies):
 * - failover, a fault acting on HTTP: the faulted provider stopped serving clients within
 *   maxFailoverMs (routing metadata) and served again within maxRecoveryMs after the end
 *   (judged only when observed that long); the breaker seen upstream is reported.
 * - failover, ws_drop / ws_stall: HTTP routing is untouched; judged by continuity.
 * - no_failover: Lasso kept sending to the provider (no quiet stretch in its traffic: the
 *   breaker stayed closed). With a latency fault (a "latency window") the experiment must
 *   also be measurably slower than the control (rank test shift "higher").
 * - failover_storm: continuity is required and at least one failover must have happened.
 * - continuity, whenever observed: zero gaps / missing blocks and zero duplicates.
 */
import type { Fault } from "./faults.js";
import { breakerFromTraffic, type BreakerView } from "./breakerFromTraffic.js";
import { failoverFromRouting, recoveryFromRouting, type RoutingFailover, type RoutingRecovery } from "./failoverFromRouting.js";
import { mannWhitneyU, median } from "./stats.js";
import type { ContinuityObservation, LatencyShift, ProbeObservation, WindowObservations, WindowResult, WindowSpec } from "./windowTypes.js";

export interface JudgeOptions {
  /** Significance level of the latency rank test (two-sided). */
  alpha: number;
  /** Fewest answers per side (experiment, control) in the window for a verdict and for the rank test. */
  minSamples: number;
}

export const DEFAULT_JUDGE_OPTIONS: Readonly<JudgeOptions> = { alpha: 0.01, minSamples: 20 };

export type ReasonCode =
  | "aborted"
  | "not_started"
  | "too_few_samples"
  | "control_unhealthy"
  | "client_success"
  | "client_success_low"
  | "failover"
  | "failover_slow"
  | "failover_none"
  | "failover_unmeasurable"
  | "failover_not_judged"
  | "recovery"
  | "recovery_slow"
  | "recovery_none"
  | "recovery_unmeasurable"
  | "breaker"
  | "breaker_kept_sending"
  | "breaker_opened"
  | "breaker_unmeasurable"
  | "latency_shift"
  | "latency_not_detected"
  | "latency_inconclusive"
  | "continuity"
  | "continuity_gaps"
  | "continuity_duplicates"
  | "continuity_missing"
  | "storm_failovers"
  | "storm_no_failover";

/** ok/fail: a judged criterion; unknown: a needed criterion that could not be measured; info: reported, not judged. */
type Outcome = "fail" | "unknown" | "ok" | "info";
const OUTCOME_ORDER: readonly Outcome[] = ["fail", "unknown", "ok", "info"];

interface Finding {
  code: ReasonCode;
  outcome: Outcome;
  text: string;
}

const finding = (code: ReasonCode, outcome: Outcome, text: string): Finding => ({ code, outcome, text });

/** Faults that act on plain HTTP requests (the others only touch WebSocket connections). */
const HTTP_FAULTS: ReadonlySet<Fault["kind"]> = new Set(["latency", "blackhole", "reset", "http_5xx", "http_429", "rpc_error", "malformed", "stale_head"]);

export function judgeWindow(spec: WindowSpec, obs: WindowObservations, options: JudgeOptions = DEFAULT_JUDGE_OPTIONS): WindowResult {
  const start = obs.start;
  const end = obs.end ?? obs.plannedEnd;
  const inWindow = (o: ProbeObservation): boolean => start !== null && o.ts >= start && o.ts < end;
  const experiment = obs.experiment.filter(inWindow);
  const control = obs.control.filter(inWindow);

  const clientSuccess = {
    experiment: successRate(experiment),
    control: successRate(control),
    experimentSamples: experiment.length,
    controlSamples: control.length,
  };
  const latency = latencyShift(okLatencies(experiment), okLatencies(control), options);
  const routing = start === null ? null : failoverFromRouting(spec.provider, obs.experiment, obs.after, start, end);
  const recovery = recoveryFromRouting(spec.provider, obs.after, end);
  const breaker = start === null ? null : breakerFromTraffic(obs.traffic, start, end);

  const gates: Finding[] = [];
  if (start === null) gates.push(finding("not_started", "unknown", "the fault never started: nothing was measured"));
  else {
    if (experiment.length < options.minSamples || control.length < options.minSamples)
      gates.push(
        finding(
          "too_few_samples",
          "unknown",
          `${experiment.length} experiment and ${control.length} control answers in the window; at least ${options.minSamples} per side are needed`,
        ),
      );
    else if ((clientSuccess.control ?? 0) < spec.slo.minClientSuccess)
      gates.push(
        finding(
          "control_unhealthy",
          "unknown",
          `control success ${fraction(control)} < ${pct(spec.slo.minClientSuccess)}: the control was unhealthy too: not the fault's doing`,
        ),
      );
  }

  const findings =
    start === null
      ? []
      : criteria(spec, { start, end, experiment, latency, routing, recovery, breaker, continuity: obs.continuity, options });
  const ordered = [...findings].sort((a, b) => OUTCOME_ORDER.indexOf(a.outcome) - OUTCOME_ORDER.indexOf(b.outcome));

  let verdict: WindowResult["verdict"];
  const lead: Finding[] = [];
  if (obs.aborted !== null) {
    verdict = obs.aborted.byGuard === true ? "fail" : "aborted";
    const after = start === null ? "before the fault started" : `at ${offset(obs.aborted.at, start)} after the fault started`;
    lead.push(finding("aborted", "fail", `${obs.aborted.reason} (${after})`));
    lead.push(...gates);
  } else if (gates.length > 0) {
    verdict = "inconclusive";
    lead.push(...gates);
  } else if (findings.some((f) => f.outcome === "fail")) verdict = "fail";
  else if (findings.some((f) => f.outcome === "unknown")) verdict = "inconclusive";
  else verdict = "pass";

  return {
    verdict,
    reasons: [...lead, ...ordered].map((f) => `${f.code}: ${f.text}`),
    clientSuccess,
    latency,
    failoverMs: routing?.failoverMs ?? null,
    breaker: { stoppedAt: breaker?.stoppedAt ?? null, halfOpenProbes: breaker?.halfOpenProbes ?? 0, resumedAt: breaker?.resumedAt ?? null },
    recoveryMs: recovery.recoveryMs,
    continuity: obs.continuity,
  };
}

/**
 * Latency of the experiment's successful answers against the control's, Mann-Whitney U at
 * `alpha`: "higher" when the experiment is significantly slower, "lower" when faster, "none"
 * otherwise, "inconclusive" with fewer than `minSamples` on either side. Failed answers are
 * left out: they show in the success rate, and a timeout's latency is the client's deadline.
 */
export function latencyShift(experimentMs: readonly number[], controlMs: readonly number[], options: JudgeOptions = DEFAULT_JUDGE_OPTIONS): LatencyShift {
  const base = { experimentP50Ms: median(experimentMs), controlP50Ms: median(controlMs) };
  if (experimentMs.length < options.minSamples || controlMs.length < options.minSamples) return { ...base, u: null, p: null, shift: "inconclusive" };
  const test = mannWhitneyU(experimentMs, controlMs);
  const shift = test.p >= options.alpha ? "none" : test.u > test.meanU ? "higher" : "lower";
  return { ...base, u: test.u, p: test.p, shift };
}

interface Measured {
  start: number;
  end: number;
  experiment: ProbeObservation[];
  latency: LatencyShift;
  routing: RoutingFailover | null;
  recovery: RoutingRecovery;
  breaker: BreakerView | null;
  continuity: ContinuityObservation | null;
  options: JudgeOptions;
}

/** The criteria of the window's expectation, each judged (ok/fail), unmeasurable (unknown) or only reported (info). */
function criteria(spec: WindowSpec, m: Measured): Finding[] {
  const out: Finding[] = [successFinding(spec, m.experiment)];
  const storm = spec.kind === "failover_storm";
  const latencyWindow = spec.expect === "no_failover" && spec.fault.kind === "latency";

  if (storm) out.push(...stormFindings(m.continuity));
  else if (spec.expect === "failover") {
    if (HTTP_FAULTS.has(spec.fault.kind)) out.push(failoverFinding(spec, m), recoveryFinding(spec, m), finding("breaker", "info", describeBreaker(spec, m)));
    else out.push(finding("failover_not_judged", "info", `${spec.fault.kind} does not act on HTTP requests: failover and recovery are judged by subscription continuity`));
  } else out.push(breakerFinding(spec, m));

  if (latencyWindow) out.push(latencyWindowFinding(m.latency, m.options));
  else out.push(finding("latency_shift", "info", describeLatency(m.latency, m.options)));

  if (m.continuity !== null) out.push(...continuityFindings(m.continuity));
  return out;
}

function successFinding(spec: WindowSpec, experiment: ProbeObservation[]): Finding {
  const rate = successRate(experiment) ?? 0;
  return rate >= spec.slo.minClientSuccess
    ? finding("client_success", "ok", `experiment success ${fraction(experiment)} >= ${pct(spec.slo.minClientSuccess)}`)
    : finding("client_success_low", "fail", `experiment success ${fraction(experiment)} < ${pct(spec.slo.minClientSuccess)}`);
}

function failoverFinding(spec: WindowSpec, m: Measured): Finding {
  const r = m.routing;
  if (r === null || r.status === "never_served")
    return finding("failover_unmeasurable", "unknown", `no experiment answer before, during or after the window came from ${spec.provider}: routing never picked it, so no failover can be seen`);
  if (r.status === "still_serving") {
    const last = r.lastServedAt === null ? "no answer from it after the start" : `its last answer at ${offset(r.lastServedAt, m.start)}`;
    return finding(
      "failover_none",
      "fail",
      `${spec.provider} kept serving clients: ${last}, then only ${r.quietAnswers} answers from other providers before the end (${r.neededQuietAnswers} needed to call it stopped)`,
    );
  }
  const ms = r.failoverMs as number;
  const text = `${spec.provider} stopped serving clients ${secs(ms)} after the fault started`;
  return ms <= spec.slo.maxFailoverMs
    ? finding("failover", "ok", `${text} (<= ${secs(spec.slo.maxFailoverMs)})`)
    : finding("failover_slow", "fail", `${text} (> ${secs(spec.slo.maxFailoverMs)})`);
}

function recoveryFinding(spec: WindowSpec, m: Measured): Finding {
  const { recoveryMs, observedMs } = m.recovery;
  if (m.routing === null || m.routing.status === "never_served")
    return finding("recovery_unmeasurable", "info", `${spec.provider} never served an experiment answer: recovery not judged`);
  if (recoveryMs !== null) {
    const text = `${spec.provider} served clients again ${secs(recoveryMs)} after the window ended`;
    return recoveryMs <= spec.slo.maxRecoveryMs
      ? finding("recovery", "ok", `${text} (<= ${secs(spec.slo.maxRecoveryMs)})`)
      : finding("recovery_slow", "fail", `${text} (> ${secs(spec.slo.maxRecoveryMs)})`);
  }
  if (observedMs >= spec.slo.maxRecoveryMs)
    return finding("recovery_none", "fail", `${spec.provider} served no client within ${secs(observedMs)} after the window ended (objective ${secs(spec.slo.maxRecoveryMs)})`);
  return finding("recovery_unmeasurable", "info", `${spec.provider} served no client in the ${secs(observedMs)} observed after the window (shorter than the ${secs(spec.slo.maxRecoveryMs)} objective): not judged`);
}

/** no_failover: the fault must not open Lasso's breaker, so Lasso must keep sending to the provider. */
function breakerFinding(spec: WindowSpec, m: Measured): Finding {
  const b = m.breaker;
  const text = describeBreaker(spec, m);
  if (b === null || b.quietSeconds === null) return finding("breaker_unmeasurable", "unknown", text);
  if (b.stoppedAt === null) return finding("breaker_kept_sending", "ok", text);
  return finding("breaker_opened", "fail", `${text}: the fault should not open its breaker`);
}

function describeBreaker(spec: WindowSpec, m: Measured): string {
  const b = m.breaker;
  if (b === null || b.baselinePerSecond === null || b.quietSeconds === null)
    return `Lasso sent ${spec.provider} too few requests before the fault to tell whether it stopped`;
  if (b.stoppedAt === null)
    return `Lasso kept sending to ${spec.provider} through the fault (baseline ${b.baselinePerSecond.toFixed(2)} req/s, no quiet stretch of ${b.quietSeconds} s)`;
  const resumed = b.resumedAt === null ? "it had not resumed by the end of the data" : `it resumed at ${offset(b.resumedAt, m.end)} after the window ended`;
  return `Lasso stopped sending to ${spec.provider} at ${offset(b.stoppedAt, m.start)} after the fault started (${b.halfOpenProbes} requests while stopped; ${resumed})`;
}

function latencyWindowFinding(latency: LatencyShift, options: JudgeOptions): Finding {
  const text = describeLatency(latency, options);
  if (latency.shift === "higher") return finding("latency_shift", "ok", text);
  if (latency.shift === "inconclusive") return finding("latency_inconclusive", "unknown", text);
  return finding("latency_not_detected", "fail", `${text}: a latency fault must make the experiment measurably slower`);
}

function describeLatency(latency: LatencyShift, options: JudgeOptions): string {
  const p50 = `experiment p50 ${ms(latency.experimentP50Ms)} vs control p50 ${ms(latency.controlP50Ms)}`;
  if (latency.shift === "inconclusive" || latency.u === null || latency.p === null)
    return `${p50}; too few successful answers for the rank test (${options.minSamples} per side needed)`;
  return `${p50}, Mann-Whitney U ${latency.u}, p ${latency.p.toPrecision(3)} (alpha ${options.alpha}): shift ${latency.shift}`;
}

function stormFindings(continuity: ContinuityObservation | null): Finding[] {
  if (continuity === null) return [finding("continuity_missing", "unknown", "a failover storm is judged on subscription continuity and none was observed")];
  if (continuity.failovers === 0) return [finding("storm_no_failover", "unknown", "no failover happened during the storm: it tested nothing")];
  return [finding("storm_failovers", "info", `${continuity.failovers} failovers during the storm`)];
}

/** Lasso's claim across a failover: zero gaps, zero duplicates. */
function continuityFindings(c: ContinuityObservation): Finding[] {
  const out: Finding[] = [];
  if (c.gaps > 0 || c.missingBlocks > 0)
    out.push(finding("continuity_gaps", "fail", `${c.gaps} gaps, ${c.missingBlocks} missing blocks in the subscription (claim: zero gaps)`));
  if (c.duplicates > 0) out.push(finding("continuity_duplicates", "fail", `${c.duplicates} duplicate blocks in the subscription (claim: zero duplicates)`));
  if (out.length === 0)
    out.push(finding("continuity", "ok", `0 gaps, 0 duplicates (${c.backfilledBlocks} backfilled blocks, ${c.stalls} stalls, ${c.failovers} failovers)`));
  return out;
}

function successRate(obs: readonly ProbeObservation[]): number | null {
  return obs.length === 0 ? null : obs.filter((o) => o.ok).length / obs.length;
}

function okLatencies(obs: readonly ProbeObservation[]): number[] {
  return obs.filter((o) => o.ok).map((o) => o.latencyMs);
}

function fraction(obs: readonly ProbeObservation[]): string {
  const ok = obs.filter((o) => o.ok).length;
  return obs.length === 0 ? "n/a (no answers)" : `${pct(ok / obs.length)} (${ok}/${obs.length})`;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function ms(v: number | null): string {
  return v === null ? "n/a" : `${v.toFixed(0)} ms`;
}

function offset(at: number, from: number): string {
  return `+${secs(at - from)}`;
}
