import { test } from "node:test";
import assert from "node:assert/strict";
import { breakerFromTraffic } from "../src/chaos/breakerFromTraffic.js";
import type { TrafficBucket } from "../src/chaos/control.js";
import { failoverFromRouting, quietAnswersNeeded, recoveryFromRouting } from "../src/chaos/failoverFromRouting.js";
import { mannWhitneyU, median } from "../src/chaos/stats.js";
import { judgeWindow, latencyShift } from "../src/chaos/verdict.js";
import { windowSpec } from "./helpers/windowSpec.js";
import type { ContinuityObservation, ProbeObservation, WindowObservations, WindowSpec } from "../src/chaos/windowTypes.js";

/** erfc is a fit with 1.2e-7 relative error; p-values below agree with the references to 1e-6. */
const P_TOLERANCE = 1e-6;

// ---------------------------------------------------------------- Mann-Whitney U

test("Mann-Whitney U against reference values", async (t) => {
  const cases: Array<{ name: string; x: number[]; y: number[]; u: number; p: number }> = [
    {
      // SciPy's scipy.stats.mannwhitneyu documentation example (males vs females ages);
      // scipy 1.17 method="asymptotic": U 17, p 0.11134688653314041. By hand: no ties,
      // E[U] = 5*4/2 = 10, sd = sqrt(5*4*10/12) = 4.0825, z = (7 - 0.5)/4.0825 = 1.5922,
      // p = 2 * (1 - Phi(1.5922)) = 0.1113.
      name: "textbook, no ties",
      x: [19, 22, 16, 29, 24],
      y: [20, 11, 17, 12],
      u: 17,
      p: 0.11134688653314041,
    },
    {
      // The same samples swapped: U' = nX*nY - U = 3, same two-sided p.
      name: "swapped samples give nX*nY - U and the same p",
      x: [20, 11, 17, 12],
      y: [19, 22, 16, 29, 24],
      u: 3,
      p: 0.11134688653314041,
    },
    {
      // By hand: pooled ranks 1 | 2,2 -> 2.5 | 3 x4 -> 5.5 | 4 x3 -> 9 | 5 x2 -> 11.5 | 6 -> 13.
      // R_x = 1 + 2*2.5 + 3*5.5 + 9 = 31.5, U = 31.5 - 7*8/2 = 3.5, E[U] = 21,
      // ties: sum(t^3 - t) = 6 + 60 + 24 + 6 = 96, var = 42/12 * (14 - 96/156) = 46.846,
      // z = (17.5 - 0.5)/6.8444 = 2.4838, p = 0.0130 (scipy 1.17: 0.012999854364387305).
      name: "ties: mid-ranks and the tie-corrected variance",
      x: [1, 2, 2, 3, 3, 3, 4],
      y: [3, 4, 4, 5, 5, 6],
      u: 3.5,
      p: 0.012999854364387305,
    },
    {
      // scipy 1.17 method="asymptotic": U 205.5, p 0.004129746841521596 (n >= 20, heavy ties).
      name: "samples the verdict's size, heavy ties",
      x: Array.from({ length: 25 }, (_, i) => i % 10),
      y: Array.from({ length: 30 }, (_, i) => (i % 10) + 2),
      u: 205.5,
      p: 0.004129746841521596,
    },
    {
      // Disjoint ranges of 30 each overlapping in 20 values; scipy 1.17: U 200, p 0.00022448380595775603.
      name: "shifted ranges",
      x: Array.from({ length: 30 }, (_, i) => 100 + i),
      y: Array.from({ length: 30 }, (_, i) => 110 + i),
      u: 200,
      p: 0.00022448380595775603,
    },
    { name: "every value equal: no evidence, p 1", x: [10, 10, 10, 10], y: [10, 10, 10], u: 6, p: 1 },
    { name: "|U - E[U]| under the continuity correction: p 1", x: [3, 1], y: [2], u: 1, p: 1 },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const r = mannWhitneyU(c.x, c.y);
      assert.equal(r.u, c.u);
      assert.equal(r.meanU, (c.x.length * c.y.length) / 2);
      assert.ok(Math.abs(r.p - c.p) < P_TOLERANCE, `p ${r.p} should be ${c.p}`);
    });
  }
});

test("Mann-Whitney U refuses empty samples and non-numbers", async (t) => {
  await t.test("empty", () => assert.throws(() => mannWhitneyU([], [1]), /two non-empty samples/));
  await t.test("NaN", () => assert.throws(() => mannWhitneyU([1, Number.NaN], [1]), /finite/));
});

test("median", async (t) => {
  const cases: Array<[number[], number | null]> = [
    [[], null],
    [[5], 5],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
  ];
  for (const [values, want] of cases) await t.test(JSON.stringify(values), () => assert.equal(median(values), want));
});

test("latency shift: direction at alpha, too few samples -> inconclusive", async (t) => {
  const base = Array.from({ length: 40 }, (_, i) => 40 + (i % 9));
  const cases: Array<{ name: string; experiment: number[]; control: number[]; shift: string }> = [
    { name: "experiment slower", experiment: base.map((v) => v + 30), control: base, shift: "higher" },
    { name: "experiment faster", experiment: base, control: base.map((v) => v + 30), shift: "lower" },
    { name: "same distribution", experiment: base, control: [...base].reverse(), shift: "none" },
    // One slow answer in three (a latency fault on one of three providers) is still a shift.
    { name: "a third of the answers slowed", experiment: base.map((v, i) => (i % 3 === 0 ? v + 200 : v)), control: base, shift: "higher" },
    { name: "19 experiment answers", experiment: base.slice(0, 19).map((v) => v + 300), control: base, shift: "inconclusive" },
    { name: "19 control answers", experiment: base.map((v) => v + 300), control: base.slice(0, 19), shift: "inconclusive" },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const r = latencyShift(c.experiment, c.control, { alpha: 0.01, minSamples: 20 });
      assert.equal(r.shift, c.shift);
      assert.equal(r.experimentP50Ms, median(c.experiment));
      assert.equal(r.controlP50Ms, median(c.control));
      if (c.shift === "inconclusive") assert.deepEqual([r.u, r.p], [null, null]);
    });
  }
  await t.test("p just above alpha is no shift", () => {
    // The "ties" reference above has p 0.0130: a shift at alpha 0.05, none at 0.01.
    const x = [1, 2, 2, 3, 3, 3, 4];
    const y = [3, 4, 4, 5, 5, 6];
    assert.equal(latencyShift(x, y, { alpha: 0.05, minSamples: 5 }).shift, "lower");
    assert.equal(latencyShift(x, y, { alpha: 0.01, minSamples: 5 }).shift, "none");
  });
});

// ---------------------------------------------------------------- synthetic windows

/** Fault start; a multiple of 750 ms so a 3-way round robin at 250 ms puts p1 on every 750 ms. */
const T0 = 1_700_000_001_000;
const DURATION = 30_000;
const END = T0 + DURATION;
const STEP = 250;
const PROVIDERS = ["p1", "p2", "p3"];

/** Round robin over the providers every STEP: p1 at T0 + k*750. */
const roundRobin = (ts: number, among: readonly string[] = PROVIDERS): string => among[(((ts - T0) / STEP) % among.length + among.length) % among.length] as string;
const withoutP1 = (ts: number): string => roundRobin(ts, ["p2", "p3"]);
const latencyAt = (ts: number): number => 40 + ((ts - T0) / STEP) % 7;

function answers(from: number, to: number, serve: (ts: number) => Partial<ProbeObservation> & { provider: string | null }): ProbeObservation[] {
  const out: ProbeObservation[] = [];
  for (let ts = from; ts < to; ts += STEP) out.push({ ts, ok: true, latencyMs: latencyAt(ts), ...serve(ts) });
  return out;
}

/** Dense one-second buckets from T0 - 60 s to END + 60 s, `perSecond(at)` requests each. */
function traffic(perSecond: (at: number) => number, faulted = true): TrafficBucket[] {
  const out: TrafficBucket[] = [];
  for (let at = T0 - 60_000; at < END + 60_000; at += 1000) {
    const n = perSecond(at);
    out.push({ at, forwarded: faulted && at >= T0 && at < END ? 0 : n, faulted: faulted && at >= T0 && at < END ? n : 0 });
  }
  return out;
}

function spec(over: Partial<WindowSpec> = {}): WindowSpec {
  return windowSpec({ durationMs: DURATION, probeIntervalMs: STEP, ...over });
}

const STOPS_AT = T0 + 1500; // p1's last answer after the fault started
const BACK_AT = END + 19_500; // p1's first answer after the window (19_500 / 250 = 78, a multiple of 3)

/**
 * A healthy failover window: experiment round-robins p1..p3 until p1's answer at +1.5 s,
 * then p2/p3 only; p1 is back 19.5 s after the end. Lasso sends p1 4 req/s, stops from
 * +2 s, sends one half-open probe at +20 s and one 5 s after the end, resumes 19 s after the end.
 */
function failoverWindow(): WindowObservations {
  return {
    plannedStart: T0,
    start: T0,
    end: END,
    plannedEnd: END,
    experiment: answers(T0 - 10_000, END, (ts) => ({ provider: ts <= STOPS_AT ? roundRobin(ts) : withoutP1(ts) })),
    control: answers(T0 - 10_000, END, (ts) => ({ provider: `public-${roundRobin(ts)}` })),
    after: answers(END, END + 60_000, (ts) => ({ provider: ts >= BACK_AT ? roundRobin(ts) : withoutP1(ts) })),
    traffic: traffic((at) => {
      if (at < T0 + 2000 || at >= END + 19_000) return 4;
      return at === T0 + 20_000 || at === END + 5000 ? 1 : 0;
    }),
    continuity: null,
    aborted: null,
  };
}

/** A no_failover window (429 or latency): p1 keeps serving, Lasso keeps sending it 4 req/s. */
function keptServingWindow(latencyOfP1 = (ts: number) => latencyAt(ts)): WindowObservations {
  return {
    ...failoverWindow(),
    experiment: answers(T0 - 10_000, END, (ts) => ({ provider: roundRobin(ts), latencyMs: roundRobin(ts) === "p1" ? latencyOfP1(ts) : latencyAt(ts) })),
    after: answers(END, END + 60_000, (ts) => ({ provider: roundRobin(ts) })),
    traffic: traffic(() => 4),
  };
}

/** Lasso without failover: p1 keeps getting its third of the requests and passes its errors on. */
const noFailoverExperiment = (): ProbeObservation[] =>
  answers(T0 - 10_000, END, (ts) => ({ provider: roundRobin(ts), ok: !(ts >= T0 && roundRobin(ts) === "p1") }));

const slo = (over: Partial<WindowSpec["slo"]>): Pick<WindowSpec, "slo"> => ({ slo: { ...windowSpec().slo, ...over } });

const continuity = (over: Partial<ContinuityObservation> = {}): ContinuityObservation => ({
  gaps: 0,
  missingBlocks: 0,
  duplicates: 0,
  backfilledBlocks: 3,
  stalls: 0,
  failovers: 12,
  ...over,
});

/** Fail the answers whose index (from T0) is a multiple of `every`, in the window. */
function failEvery(obs: ProbeObservation[], every: number): ProbeObservation[] {
  return obs.map((o) => (o.ts >= T0 && o.ts < END && ((o.ts - T0) / STEP) % every === 0 ? { ...o, ok: false } : o));
}

// ---------------------------------------------------------------- failover from routing

test("failover from routing metadata", async (t) => {
  const w = failoverWindow();
  const cases: Array<{ name: string; experiment: ProbeObservation[]; after?: ProbeObservation[]; status: string; failoverMs: number | null }> = [
    { name: "last answer from the faulted provider 1.5 s after start", experiment: w.experiment, status: "stopped", failoverMs: 1500 },
    {
      name: "routed around at once (served before, none after start): 0",
      experiment: answers(T0 - 10_000, END, (ts) => ({ provider: ts < T0 ? roundRobin(ts) : withoutP1(ts) })),
      status: "stopped",
      failoverMs: 0,
    },
    {
      name: "its errors still count as serving (no failover in Lasso)",
      experiment: noFailoverExperiment(),
      status: "still_serving",
      failoverMs: null,
    },
    {
      name: "served until 2 s before the end: too few answers after it to call it stopped",
      experiment: answers(T0 - 10_000, END, (ts) => ({ provider: ts <= END - 2000 ? roundRobin(ts) : withoutP1(ts) })),
      status: "still_serving",
      failoverMs: null,
    },
    {
      name: "answers without metadata are no evidence it stopped",
      experiment: answers(T0 - 10_000, END, (ts) => ({ provider: ts <= STOPS_AT ? roundRobin(ts) : null })),
      status: "still_serving",
      failoverMs: null,
    },
    {
      name: "never served before, during or after: not measurable",
      experiment: answers(T0 - 10_000, END, (ts) => ({ provider: withoutP1(ts) })),
      after: answers(END, END + 60_000, (ts) => ({ provider: withoutP1(ts) })),
      status: "never_served",
      failoverMs: null,
    },
    {
      name: "served only after the window: it stopped at once",
      experiment: answers(T0, END, (ts) => ({ provider: withoutP1(ts) })),
      status: "stopped",
      failoverMs: 0,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const r = failoverFromRouting("p1", c.experiment, c.after ?? w.after, T0, END);
      assert.equal(r.status, c.status);
      assert.equal(r.failoverMs, c.failoverMs);
    });
  }
});

test("answers from other providers needed to call a provider stopped (1 % chance routing skipped it)", async (t) => {
  // n = ceil(ln 0.01 / ln(1 - share)), within [3, 50]; unknown share: 10.
  const cases: Array<[number | null, number]> = [
    [null, 10],
    [0, 10],
    [1 / 3, 12],
    [0.5, 7],
    [0.9, 3],
    [1, 3],
    [0.01, 50],
  ];
  for (const [share, want] of cases) await t.test(`share ${share}`, () => assert.equal(quietAnswersNeeded(share), want));
});

test("recovery from routing metadata", async (t) => {
  const cases: Array<{ name: string; after: ProbeObservation[]; recoveryMs: number | null; observedMs: number }> = [
    { name: "first answer from it 19.5 s after the end", after: failoverWindow().after, recoveryMs: 19_500, observedMs: 60_000 - STEP },
    {
      name: "its failed answers are not recovery",
      after: answers(END, END + 60_000, (ts) => ({ provider: roundRobin(ts), ok: !(roundRobin(ts) === "p1" && ts < END + 30_000) })),
      recoveryMs: 30_000,
      observedMs: 60_000 - STEP,
    },
    { name: "never back", after: answers(END, END + 10_000, (ts) => ({ provider: withoutP1(ts) })), recoveryMs: null, observedMs: 10_000 - STEP },
    { name: "nothing observed", after: [], recoveryMs: null, observedMs: 0 },
  ];
  for (const c of cases) {
    await t.test(c.name, () => assert.deepEqual(recoveryFromRouting("p1", c.after, END), { recoveryMs: c.recoveryMs, observedMs: c.observedMs }));
  }
});

// ---------------------------------------------------------------- breaker from the upstream side

test("breaker inferred from the faulted proxy's traffic", async (t) => {
  const cases: Array<{
    name: string;
    buckets: TrafficBucket[];
    start?: number;
    want: { stoppedAt: number | null; halfOpenProbes: number; resumedAt: number | null; baselinePerSecond: number | null; quietSeconds: number | null };
  }> = [
    {
      // 4 req/s: a quiet stretch is max(3, ceil(5/4)) = 3 s; resuming takes >= ceil(4*3/2) = 6 requests in 3 s.
      name: "stop, two half-open probes, resume after the end",
      buckets: failoverWindow().traffic,
      want: { stoppedAt: T0 + 2000, halfOpenProbes: 2, resumedAt: END + 19_000, baselinePerSecond: 4, quietSeconds: 3 },
    },
    {
      name: "kept sending (a 429 fault): no stop",
      buckets: traffic(() => 4),
      want: { stoppedAt: null, halfOpenProbes: 0, resumedAt: null, baselinePerSecond: 4, quietSeconds: 3 },
    },
    {
      // 1 request every other second: 0.5 req/s, a stop needs 10 quiet seconds; single idle seconds are normal.
      name: "sparse traffic with idle seconds is not a stop",
      buckets: traffic((at) => ((at - T0) / 1000) % 2 === 0 ? 1 : 0),
      want: { stoppedAt: null, halfOpenProbes: 0, resumedAt: null, baselinePerSecond: 0.5, quietSeconds: 10 },
    },
    {
      name: "sparse traffic that stops for good",
      buckets: traffic((at) => (at < T0 + 4000 && ((at - T0) / 1000) % 2 === 0 ? 1 : 0)),
      want: { stoppedAt: T0 + 3000, halfOpenProbes: 0, resumedAt: null, baselinePerSecond: 0.5, quietSeconds: 10 },
    },
    {
      name: "a straggler request moves the stop after it",
      buckets: traffic((at) => (at < T0 + 2000 ? 4 : at === T0 + 3000 ? 1 : 0)),
      want: { stoppedAt: T0 + 4000, halfOpenProbes: 0, resumedAt: null, baselinePerSecond: 4, quietSeconds: 3 },
    },
    {
      name: "fault starting mid-second: the stop is not before the start",
      buckets: traffic((at) => (at < T0 ? 4 : 0)),
      start: T0 + 400,
      want: { stoppedAt: T0 + 400, halfOpenProbes: 0, resumedAt: null, baselinePerSecond: 4, quietSeconds: 3 },
    },
    {
      name: "4 requests in the minute before: not measurable",
      buckets: traffic((at) => (at < T0 && at >= T0 - 4000 ? 1 : 0)),
      want: { stoppedAt: null, halfOpenProbes: 0, resumedAt: null, baselinePerSecond: 4 / 60, quietSeconds: null },
    },
    {
      name: "a quiet stretch past the end of the data is no evidence",
      buckets: traffic((at) => (at < END - 2000 ? 4 : 0)).filter((b) => b.at < END),
      want: { stoppedAt: null, halfOpenProbes: 0, resumedAt: null, baselinePerSecond: 4, quietSeconds: 3 },
    },
    { name: "no data", buckets: [], want: { stoppedAt: null, halfOpenProbes: 0, resumedAt: null, baselinePerSecond: null, quietSeconds: null } },
  ];
  for (const c of cases) {
    await t.test(c.name, () => assert.deepEqual(breakerFromTraffic(c.buckets, c.start ?? T0, END), c.want));
  }
});

// ---------------------------------------------------------------- verdicts

test("verdict paths", async (t) => {
  const latencySpec = spec({ name: "p1-latency", fault: { kind: "latency", fixedMs: 300, jitterMs: 0 }, expect: "no_failover" });
  const http429Spec = spec({ name: "p1-429", fault: { kind: "http_429", retryAfterSec: 1 }, expect: "no_failover" });
  const stormSpec = spec({ name: "storm", kind: "failover_storm", fault: { kind: "ws_drop" }, stormEveryMs: 5000 });
  const cases: Array<{ name: string; spec: WindowSpec; obs: WindowObservations; verdict: string; reasons: RegExp[] }> = [
    {
      name: "failover pass with its figures",
      spec: spec(),
      obs: failoverWindow(),
      verdict: "pass",
      reasons: [/^client_success: experiment success 100\.00% \(120\/120\) >= 99\.00%$/, /^failover: p1 stopped serving clients 1\.5 s after the fault started/, /^recovery: p1 served clients again 19\.5 s after the window ended/, /^breaker: Lasso stopped sending to p1 at \+2\.0 s after the fault started \(2 requests while stopped; it resumed at \+19\.0 s after the window ended\)$/],
    },
    {
      name: "experiment success below the SLO",
      spec: spec(),
      obs: { ...failoverWindow(), experiment: failEvery(failoverWindow().experiment, 20) },
      verdict: "fail",
      reasons: [/^client_success_low: experiment success 95\.00% \(114\/120\) < 99\.00%$/],
    },
    {
      name: "failover slower than the objective",
      spec: spec(slo({ maxFailoverMs: 1000 })),
      obs: failoverWindow(),
      verdict: "fail",
      reasons: [/^failover_slow: p1 stopped serving clients 1\.5 s after the fault started \(> 1\.0 s\)$/],
    },
    {
      name: "no failover (Lasso kept routing to the faulted provider)",
      spec: spec(),
      obs: { ...keptServingWindow(), experiment: noFailoverExperiment() },
      verdict: "fail",
      reasons: [/^client_success_low: experiment success 66\.67% \(80\/120\)/, /^failover_none: p1 kept serving clients: its last answer at \+29\.3 s/],
    },
    {
      name: "recovery slower than the objective",
      spec: spec(slo({ maxRecoveryMs: 10_000 })),
      obs: failoverWindow(),
      verdict: "fail",
      reasons: [/^recovery_slow: p1 served clients again 19\.5 s after the window ended \(> 10\.0 s\)$/],
    },
    {
      name: "never back within the objective",
      spec: spec(slo({ maxRecoveryMs: 10_000 })),
      obs: { ...failoverWindow(), after: answers(END, END + 15_000, (ts) => ({ provider: withoutP1(ts) })) },
      verdict: "fail",
      reasons: [/^recovery_none: p1 served no client within 14\.8 s after the window ended \(objective 10\.0 s\)$/],
    },
    {
      name: "recovery not observed long enough: reported, not judged",
      spec: spec(),
      obs: { ...failoverWindow(), after: answers(END, END + 15_000, (ts) => ({ provider: withoutP1(ts) })) },
      verdict: "pass",
      reasons: [/^recovery_unmeasurable: /],
    },
    {
      name: "ended by the guard: clients failed, so the window fails",
      spec: spec(),
      obs: { ...failoverWindow(), end: T0 + 4000, aborted: { at: T0 + 4000, reason: "experiment success 80.0% < abort floor 90.0% over 10 s", byGuard: true } },
      verdict: "fail",
      reasons: [/^aborted: experiment success 80\.0% < abort floor 90\.0% over 10 s \(at \+4\.0 s after the fault started\)$/],
    },
    {
      name: "aborted by an operator",
      spec: spec(),
      obs: { ...failoverWindow(), end: T0 + 4000, aborted: { at: T0 + 4000, reason: "operator: maintenance" } },
      verdict: "aborted",
      reasons: [/^aborted: operator: maintenance \(at \+4\.0 s after the fault started\)$/],
    },
    {
      name: "aborted by a restart before the fault started",
      spec: spec(),
      obs: { ...failoverWindow(), start: null, end: null, aborted: { at: T0, reason: "daemon restarted mid-window" } },
      verdict: "aborted",
      reasons: [/^aborted: daemon restarted mid-window \(before the fault started\)$/, /^not_started: /],
    },
    {
      name: "the fault never started",
      spec: spec(),
      obs: { ...failoverWindow(), start: null, end: null },
      verdict: "inconclusive",
      reasons: [/^not_started: the fault never started/],
    },
    {
      name: "too few experiment answers",
      spec: spec(),
      obs: { ...failoverWindow(), experiment: failoverWindow().experiment.filter((o) => o.ts < T0 + 19 * STEP) },
      verdict: "inconclusive",
      reasons: [/^too_few_samples: 19 experiment and 120 control answers in the window; at least 20 per side are needed$/],
    },
    {
      name: "the control was unhealthy too",
      spec: spec(),
      obs: { ...failoverWindow(), experiment: failEvery(failoverWindow().experiment, 20), control: failEvery(failoverWindow().control, 10) },
      verdict: "inconclusive",
      reasons: [/^control_unhealthy: control success 90\.00% \(108\/120\) < 99\.00%: the control was unhealthy too: not the fault's doing$/, /^client_success_low: /],
    },
    {
      name: "the faulted provider never served: failover not measurable",
      spec: spec(),
      obs: {
        ...failoverWindow(),
        experiment: answers(T0 - 10_000, END, (ts) => ({ provider: withoutP1(ts) })),
        after: answers(END, END + 60_000, (ts) => ({ provider: withoutP1(ts) })),
      },
      verdict: "inconclusive",
      reasons: [/^failover_unmeasurable: no experiment answer before, during or after the window came from p1/],
    },
    {
      name: "failover window with duplicates in the subscription",
      spec: spec(),
      obs: { ...failoverWindow(), continuity: continuity({ duplicates: 2 }) },
      verdict: "fail",
      reasons: [/^continuity_duplicates: 2 duplicate blocks in the subscription \(claim: zero duplicates\)$/],
    },
    {
      name: "429 fault: Lasso kept sending, clients fine",
      spec: http429Spec,
      obs: keptServingWindow(),
      verdict: "pass",
      reasons: [/^breaker_kept_sending: Lasso kept sending to p1 through the fault \(baseline 4\.00 req\/s, no quiet stretch of 3 s\)$/],
    },
    {
      name: "429 fault that opened the breaker",
      spec: http429Spec,
      obs: failoverWindow(),
      verdict: "fail",
      reasons: [/^breaker_opened: Lasso stopped sending to p1 at \+2\.0 s after the fault started \(2 requests while stopped; it resumed at \+19\.0 s after the window ended\)/],
    },
    {
      name: "429 fault with too little traffic to see the breaker",
      spec: http429Spec,
      obs: { ...keptServingWindow(), traffic: traffic(() => 0) },
      verdict: "inconclusive",
      reasons: [/^breaker_unmeasurable: /],
    },
    {
      name: "latency fault: the shift is detected",
      spec: latencySpec,
      obs: keptServingWindow((ts) => latencyAt(ts) + 300),
      verdict: "pass",
      reasons: [/^latency_shift: experiment p50 \d+ ms vs control p50 \d+ ms, Mann-Whitney U [\d.]+, p [\d.e-]+ \(alpha 0\.01\): shift higher$/, /^breaker_kept_sending: /],
    },
    {
      name: "latency fault that clients never saw",
      spec: latencySpec,
      obs: keptServingWindow(),
      verdict: "fail",
      reasons: [/^latency_not_detected: .*shift none: a latency fault must make the experiment measurably slower$/],
    },
    {
      name: "storm, zero gaps and zero duplicates",
      spec: stormSpec,
      obs: { ...keptServingWindow(), continuity: continuity() },
      verdict: "pass",
      reasons: [/^continuity: 0 gaps, 0 duplicates \(3 backfilled blocks, 0 stalls, 12 failovers\)$/, /^storm_failovers: 12 failovers during the storm$/],
    },
    {
      name: "storm with gaps: fail, gaps counted",
      spec: stormSpec,
      obs: { ...keptServingWindow(), continuity: continuity({ gaps: 3, missingBlocks: 7 }) },
      verdict: "fail",
      reasons: [/^continuity_gaps: 3 gaps, 7 missing blocks in the subscription \(claim: zero gaps\)$/],
    },
    {
      name: "storm without continuity data",
      spec: stormSpec,
      obs: keptServingWindow(),
      verdict: "inconclusive",
      reasons: [/^continuity_missing: /],
    },
    {
      name: "storm that caused no failover",
      spec: stormSpec,
      obs: { ...keptServingWindow(), continuity: continuity({ failovers: 0 }) },
      verdict: "inconclusive",
      reasons: [/^storm_no_failover: /],
    },
    {
      name: "ws-only fault: failover judged by continuity, not routing",
      spec: spec({ fault: { kind: "ws_stall" } }),
      obs: { ...keptServingWindow(), continuity: continuity() },
      verdict: "pass",
      reasons: [/^failover_not_judged: ws_stall does not act on HTTP requests/],
    },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const r = judgeWindow(c.spec, c.obs);
      assert.equal(r.verdict, c.verdict, `reasons: ${r.reasons.join(" | ")}`);
      for (const re of c.reasons) assert.ok(r.reasons.some((s) => re.test(s)), `no reason matches ${re}: ${r.reasons.join(" | ")}`);
      if (c.verdict === "fail") assert.match(r.reasons[0] ?? "", /^[a-z_]+: /, "a failed window leads with a failed criterion");
    });
  }
});

test("a result carries the measures, whatever the verdict", () => {
  const r = judgeWindow(spec(), { ...failoverWindow(), continuity: continuity() });
  assert.deepEqual(r.clientSuccess, { experiment: 1, control: 1, experimentSamples: 120, controlSamples: 120 });
  assert.equal(r.failoverMs, 1500);
  assert.equal(r.recoveryMs, 19_500);
  assert.deepEqual(r.breaker, { stoppedAt: T0 + 2000, halfOpenProbes: 2, resumedAt: END + 19_000 });
  assert.deepEqual(r.continuity, continuity());
  assert.equal(r.latency.shift, "none");
  assert.equal(r.latency.experimentP50Ms, 43);
});

test("answers outside [start, end) do not count toward client success", () => {
  const w = failoverWindow();
  // Failures before the start and after the end (the after-window is separate) change nothing.
  const experiment = w.experiment.map((o) => (o.ts < T0 ? { ...o, ok: false } : o));
  const r = judgeWindow(spec(), { ...w, experiment, control: [...w.control, { ts: END, ok: false, latencyMs: 1, provider: null }] });
  assert.deepEqual([r.clientSuccess.experimentSamples, r.clientSuccess.experiment, r.clientSuccess.controlSamples, r.clientSuccess.control], [120, 1, 120, 1]);
  assert.equal(r.verdict, "pass", r.reasons.join(" | "));
});
