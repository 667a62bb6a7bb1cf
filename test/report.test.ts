import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { MetricsSink } from "../src/metrics/registry.js";
import { buildReport } from "../src/report/build.js";
import { renderMarkdown } from "../src/report/markdown.js";
import { ReportRunner } from "../src/report/runner.js";
import { parseReportQuery, parseTimeParam, TimeParamError } from "../src/report/time.js";
import type { ChainReport, Report, SloObjective, SloRow, WatcherReport } from "../src/report/types.js";
import type { ContinuitySample, ProbeSample, Sample } from "../src/samples.js";
import { SampleStore } from "../src/store/store.js";
import { DAY, HOUR, MIN, T0, continuitySample, probeSample, rng, tempDbPaths } from "./helpers/storeFixtures.js";
import { waitFor } from "./helpers/waitFor.js";

const newPath = tempDbPaths("lasso-canary-report-test-");

/** Report tests count on these defaults: chain base, 100 ms, no head. */
function probe(ts: number, over: Partial<ProbeSample> = {}): ProbeSample {
  return probeSample(ts, {
    chain: "base", latencyMs: 100, upstreamLatencyMs: null, lassoOverheadMs: 2, blockHeight: null, headLagBlocks: null, ...over,
  });
}

/** Writes samples through the real writer path and compacts them; returns the open store. */
function storeWith(samples: readonly Sample[], now: number): SampleStore {
  const store = new SampleStore({ path: newPath(), now: () => now, flushIntervalMs: 0 });
  for (const s of samples) store.accept(s);
  assert.equal(store.flush(), true, "the queued samples are written");
  store.compact();
  return store;
}

/** Fails on NaN, Infinity or undefined anywhere in a JSON-bound value. */
function assertJsonClean(v: unknown, path = "report"): void {
  if (typeof v === "number") assert.ok(Number.isFinite(v), `${path} is ${v}`);
  else if (v === undefined) assert.fail(`${path} is undefined`);
  else if (Array.isArray(v)) v.forEach((x, i) => assertJsonClean(x, `${path}[${i}]`));
  else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) assertJsonClean(x, `${path}.${k}`);
}

const parseReport = (body: string): Report => JSON.parse(body) as Report;

/**
 * HdrHistogram with 2 significant digits (the report's stated latencyPrecision): a percentile
 * reads back as the highest value of the sample's bucket, at most 10^-2 (1%) above it.
 */
const HDR_PRECISION = 10 ** -2;

function chain(r: Report, name: string): ChainReport {
  const c = r.chains.find((x) => x.chain === name);
  assert.ok(c, `chain ${name} in report`);
  return c;
}

function sloRow(c: ChainReport, route: string | null, sli: SloRow["sli"], target = "lb"): SloRow {
  const row = c.slo.find((r) => r.route === route && r.sli === sli && r.target === target);
  assert.ok(row, `SLO row ${target} ${route} ${sli}`);
  return row;
}

describe("parseTimeParam", () => {
  const now = Date.UTC(2025, 5, 1, 12);

  test("durations count back from now", () => {
    assert.equal(parseTimeParam("since", "24h", now), now - DAY);
    assert.equal(parseTimeParam("since", "7d", now), now - 7 * DAY);
    assert.equal(parseTimeParam("until", "90m", now), now - 90 * MIN);
    assert.equal(parseTimeParam("since", "1h30m", now), now - 90 * MIN);
  });

  test("ISO-8601 and unix seconds are absolute", () => {
    assert.equal(parseTimeParam("since", "2025-01-31T12:00:00Z", now), Date.UTC(2025, 0, 31, 12));
    assert.equal(parseTimeParam("since", "2025-01-31T12:00:00+02:00", now), Date.UTC(2025, 0, 31, 10));
    assert.equal(parseTimeParam("until", "2025-01-31", now), Date.UTC(2025, 0, 31));
    assert.equal(parseTimeParam("since", "1738324800", now), 1_738_324_800_000);
    assert.equal(parseTimeParam("since", "1738324800.5", now), 1_738_324_800_500);
  });

  test("bad values throw an error naming the parameter", async (t) => {
    for (const [name, value] of [["since", "yesterday-ish"], ["until", ""], ["since", "2025-13-45"], ["until", "-5m"], ["since", "7dx"]] as const) await t.test(`${name}=${value}`, () => {
      assert.throws(() => parseTimeParam(name, value, now), (err: unknown) => {
        assert.ok(err instanceof TimeParamError, `a TimeParamError, got ${String(err)}`);
        assert.equal(err.param, name);
        assert.match(err.message, new RegExp(`^invalid ${name} `));
        return true;
      }, `${name}=${value}`);
    });
  });

  test("parseReportQuery defaults to the last 24h and checks the order", () => {
    assert.deepEqual(parseReportQuery({}, now), { since: now - DAY, until: now });
    assert.deepEqual(parseReportQuery({ since: "30d", chain: "base" }, now), { since: now - 30 * DAY, until: now, chain: "base" });
    assert.throws(() => parseReportQuery({ since: "1h", until: "2h" }, now), /invalid since/);
    assert.throws(() => parseReportQuery({ until: ["1h", "2h"] }, now), /invalid until/);
    assert.throws(() => parseReportQuery({ chain: "a b" }, now), /invalid chain/);
  });
});

describe("buildReport", () => {
  const slos: SloObjective[] = [{ chain: "base", successRatio: 0.99, p95LatencyMs: 300, maxHeadLagBlocks: 2, headFreshRatio: 0.9 }];

  test("p95 from merged histograms agrees with the raw samples within the stated precision", async (t) => {
    const rand = rng(7);
    const samples: ProbeSample[] = [];
    // 3000 samples over three hours: log-normal latency (median ~60 ms) plus 5% slow failures
    // that must not count towards latency.
    for (let i = 0; i < 3000; i++) {
      const ts = T0 + Math.floor((i * 3 * HOUR) / 3000);
      const g = Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
      const latencyMs = Math.round(Math.exp(4.1 + 0.6 * g) * 100) / 100;
      const failed = rand() < 0.05;
      samples.push(probe(ts, failed ? { outcome: "error", errorClass: "timeout", latencyMs: 10_000 } : { latencyMs }));
    }
    const store = storeWith(samples, T0 + DAY);
    const reader = store.reader();
    const ranges = [
      { since: T0, until: T0 + 3 * HOUR, granularity: "hour" },
      { since: T0 + 10 * MIN, until: T0 + 2 * HOUR + 30 * MIN, granularity: "mixed" },
      { since: T0 - DAY, until: T0 + 2 * DAY, granularity: "day" },
      // Mid-minute edges: the partial minutes come from raw samples, so counts match exactly.
      { since: T0 + 10 * MIN + 17_250, until: T0 + 2 * HOUR + 30 * MIN + 41_000, granularity: "mixed" },
      { since: T0 + 61 * MIN + 1, until: T0 + 61 * MIN + 59_999, granularity: "raw" },
    ];
    for (const r of ranges) await t.test(`${r.granularity} ${new Date(r.since).toISOString()} .. ${new Date(r.until).toISOString()}`, () => {
      const report = buildReport(r, slos, reader, T0 + DAY);
      const delivered = { from: Math.floor(r.since / MIN) * MIN, to: Math.ceil(r.until / MIN) * MIN };
      const stamps = reader.probeSamples(r).map((x) => x.ts);
      assert.deepEqual(report.coverage, { from: Math.min(...stamps), to: Math.max(...stamps), samplesExact: true,
        read: { from: r.since, to: r.until }, granularity: r.granularity, exactEdges: true,
        continuity: { from: r.since, to: r.until, exactEdges: true,
          delivered: { ...delivered, exactEdges: delivered.from === r.since && delivered.to === r.until } } });
      const raw = reader.probeSamples(r).filter((s) => s.outcome === "ok").map((s) => s.latencyMs).sort((a, b) => a - b);
      const s = chain(report, "base").series[0];
      assert.ok(s, "a base series in the report");
      assert.equal(s.ok, raw.length);
      for (const [p, got] of [[50, s.latencyMs.p50], [95, s.latencyMs.p95], [99, s.latencyMs.p99]] as const) {
        const want = raw[Math.ceil((p / 100) * raw.length) - 1] as number;
        assert.ok(got !== null, `p${p} over ${r.granularity} is computed`);
        assert.ok(Math.abs(got - want) <= want * HDR_PRECISION,
          `p${p} over ${r.granularity}: report ${got} vs raw ${want}`);
      }
    });
    store.close();
  });

  test("error classes, providers, overhead, head lag, retries and SLO verdicts are counted right", () => {
    const s: ProbeSample[] = [];
    let t = T0;
    const add = (n: number, over: Partial<ProbeSample>): void => {
      for (let i = 0; i < n; i++) s.push(probe((t += 1000), over));
    };
    // route default / eth_blockNumber: 100 requests
    // ok latency: 70 x 100 ms, 5 x 300 ms (at the objective: good), 2 x 304 ms and 3 x 500 ms (slow)
    add(40, { provider: "alchemy", transport: "http", headLagBlocks: 0 });
    add(5, { provider: "alchemy", transport: "http", headLagBlocks: 0, latencyMs: 300 });
    add(2, { provider: "alchemy", transport: "http", headLagBlocks: 0, latencyMs: 304 });
    add(3, { provider: "alchemy", transport: "http", headLagBlocks: 0, latencyMs: 500 });
    add(25, { provider: "infura", transport: "http", headLagBlocks: 0 });
    add(5, { provider: "infura", transport: "ws", headLagBlocks: 5, retries: 1, headRegression: true });
    // lag 2 is at the threshold: fresh
    add(10, { outcome: "error", errorClass: "timeout", provider: null, headLagBlocks: 2, latencyMs: 5000 });
    add(7, { outcome: "error", errorClass: "http_502", provider: "drpc", transport: "http", headLagBlocks: 0, lassoOverheadMs: 9.5, retries: 3 });
    add(3, { outcome: "error", errorClass: "rpc_-32000", provider: "drpc", transport: "http", headLagBlocks: 0, lassoOverheadMs: null });
    // route fastest: two methods, judged together
    add(10, { route: "fastest", method: "eth_call" });
    add(9, { route: "fastest", method: "eth_chainId" });
    add(1, { route: "fastest", method: "eth_chainId", outcome: "error", errorClass: "connect", provider: null });
    const store = storeWith(s, T0 + DAY);
    for (const agree of [true, true, false, true]) {
      store.accept({ kind: "consistency", ts: (t += 1000), target: "lb", chain: "base", blockNumber: 1, hashes: { a: "0x1", b: agree ? "0x1" : "0x2" }, agree });
    }
    store.flush();
    const report = buildReport({ since: T0, until: T0 + HOUR }, slos, store.reader(), T0 + DAY);
    assertJsonClean(report);
    const c = chain(report, "base");
    assert.equal(c.requests, 120);
    assert.equal(c.ok, 99);

    const d = c.series.find((x) => x.route === "default");
    assert.ok(d, "the default route's series");
    assert.equal(d.requests, 100);
    assert.equal(d.ok, 80);
    assert.equal(d.successRatio, 0.8);
    assert.deepEqual(d.errors, [
      { errorClass: "timeout", count: 10 }, { errorClass: "http_502", count: 7 }, { errorClass: "rpc_-32000", count: 3 },
    ]);
    // per provider and the transport that served (the 5 lagging infura answers came over ws)
    assert.deepEqual(d.providers, [
      { provider: "alchemy", transport: "http", count: 50, share: 0.5 }, { provider: "infura", transport: "http", count: 25, share: 0.25 },
      { provider: "drpc", transport: "http", count: 10, share: 0.1 }, { provider: null, transport: null, count: 10, share: 0.1 },
      { provider: "infura", transport: "ws", count: 5, share: 0.05 },
    ]);
    assert.equal(d.overheadMs.samples, 97);
    assert.ok(Math.abs((d.overheadMs.mean ?? 0) - (90 * 2 + 7 * 9.5) / 97) < 1e-9, `overhead mean ${d.overheadMs.mean}`);
    assert.equal(d.overheadMs.max, 9.5);
    assert.deepEqual(d.head, { samples: 100, meanLag: 0.45, maxLag: 5, threshold: 2, overThreshold: 5, overThresholdShare: 0.05 });
    assert.equal(d.headRegressions, 5);
    assert.deepEqual(d.retries, { total: 26, retriedRequests: 12 });
    assert.ok(d.latencyMs.p50 !== null && Math.abs(d.latencyMs.p50 - 100) <= 1, `p50 ${d.latencyMs.p50}`);
    assert.ok(d.latencyMs.p95 !== null && Math.abs(d.latencyMs.p95 - 304) <= 3.04, `p95 ${d.latencyMs.p95}`);
    assert.ok(d.latencyMs.p99 !== null && Math.abs(d.latencyMs.p99 - 500) <= 5, `p99 ${d.latencyMs.p99}`);

    const success = sloRow(c, "default", "success_ratio");
    assert.equal(success.actual, 0.8);
    assert.equal(success.bad, 20);
    assert.ok(Math.abs((success.budgetLeft ?? 0) - (1 - 20 / 1)) < 1e-9, "allowed bad = 1% of 100");
    assert.equal(success.pass, false);
    const latency = sloRow(c, "default", "latency_p95_ms");
    assert.equal(latency.events, 80);
    assert.equal(latency.bad, 5, "304 and 500 ms are over 300 ms; 300 ms is not");
    assert.ok(Math.abs((latency.budgetLeft ?? 0) - (1 - 5 / 4)) < 1e-9, "allowed slow = 5% of 80");
    assert.equal(latency.pass, false);
    const fresh = sloRow(c, "default", "head_freshness");
    assert.equal(fresh.actual, 0.95);
    assert.ok(Math.abs((fresh.budgetLeft ?? 0) - 0.5) < 1e-9, "5 stale of 10 allowed");
    assert.equal(fresh.pass, true);

    const fastest = sloRow(c, "fastest", "success_ratio");
    assert.equal(fastest.events, 20, "methods of a route are judged together");
    assert.equal(fastest.actual, 0.95);
    assert.equal(sloRow(c, "fastest", "latency_p95_ms").pass, true);
    assert.equal(c.slo.some((r) => r.route === "fastest" && r.sli === "head_freshness"), false, "no head samples, no row");

    assert.deepEqual(c.consistency, {
      checks: 4, mismatches: 1, mismatchRatio: 0.25, byTarget: [{ target: "lb", checks: 4, mismatches: 1 }],
    });
    const consistent = sloRow(c, null, "consistency");
    assert.deepEqual([consistent.objective, consistent.actual, consistent.events, consistent.bad, consistent.pass], [0.999, 0.75, 4, 1, false]);
    const md = renderMarkdown(report);
    for (const want of ["## base", "### SLOs", "well-formed answers >= 99%", "| lb | — | — | providers agree on block hashes >= 99.9% of checks | 75.000% |", "FAIL", "PASS", "timeout: 10", "alchemy (http) 50.0%", "infura (ws) 5.0%", "1 of 4 checks found providers disagreeing"]) {
      assert.ok(md.includes(want), `markdown contains ${want}`);
    }
    assert.doesNotMatch(md, /NaN|undefined|Infinity/);
    store.close();
  });

  test("availability, correctness, freshness and consistency are separate SLIs with separate budgets", () => {
    const s: ProbeSample[] = [];
    let t = T0;
    const add = (n: number, over: Partial<ProbeSample>): void => {
      for (let i = 0; i < n; i++) s.push(probe((t += 1000), over));
    };
    // route default, eth_blockNumber: 100 probes. 90 right and fresh; 5 wrong (chain id); 3 right but stale; 2 without an answer.
    add(90, { headLagBlocks: 0 });
    add(5, { headLagBlocks: 0, correct: false, failedAssertions: ["chainId"] });
    add(3, { headLagBlocks: 5, failedAssertions: ["freshness"] });
    add(2, { outcome: "error", errorClass: "timeout", latencyMs: 5000 });
    // and 4 answers of a method with no correctness assertion: available, never judged.
    add(4, { method: "eth_call", correct: null });
    // route fastest: no correctness assertion configured (never judged), all answered.
    add(10, { route: "fastest", correct: null });
    const store = storeWith(s, T0 + DAY);
    for (const [target, agree] of [["lb", true], ["lb", false], ["lb", true], ["lb", true], ["node-a", true], ["node-a", true]] as const) {
      store.accept({ kind: "consistency", ts: (t += 1000), target, chain: "base", blockNumber: 1, hashes: { a: "0x1", b: agree ? "0x1" : "0x2" }, agree });
    }
    store.flush();
    const objectives: SloObjective[] = [{ ...slos[0] as SloObjective, correctnessRatio: 0.9, consistencyRatio: 0.8, headFreshRatio: 0.95 }];
    const report = buildReport({ since: T0, until: T0 + HOUR }, objectives, store.reader(), T0 + DAY);
    const c = chain(report, "base");

    const available = sloRow(c, "default", "success_ratio");
    assert.deepEqual([available.events, available.bad, available.actual], [104, 2, 102 / 104], "wrong and stale answers are available");
    const correct = sloRow(c, "default", "correctness");
    assert.deepEqual([correct.objective, correct.events, correct.bad, correct.actual, correct.pass], [0.9, 98, 5, 93 / 98, true]);
    assert.ok(Math.abs((correct.budgetLeft ?? NaN) - (1 - 5 / (0.1 * 98))) < 1e-9, `its own budget: ${correct.budgetLeft}`);
    const fresh = sloRow(c, "default", "head_freshness");
    assert.deepEqual([fresh.objective, fresh.events, fresh.bad, fresh.actual, fresh.pass], [0.95, 98, 3, 95 / 98, true]);
    assert.equal(sloRow(c, "default", "latency_p95_ms").events, 102, "latency covers every well-formed answer");
    assert.equal(c.slo.some((r) => r.route === "fastest" && r.sli === "correctness"), false, "nothing judged, no correctness row");

    const d = c.series.find((x) => x.route === "default" && x.method === "eth_blockNumber");
    assert.deepEqual(d?.correctness, { judged: 98, incorrect: 5, ratio: 93 / 98 });
    assert.deepEqual(d?.failedAssertions, [{ assertion: "chainId", count: 5 }, { assertion: "freshness", count: 3 }]);
    assert.deepEqual(d?.errors, [{ errorClass: "timeout", count: 2 }]);
    assert.equal(c.series.find((x) => x.route === "fastest")?.correctness.ratio, null);

    const lb = sloRow(c, null, "consistency");
    assert.deepEqual([lb.objective, lb.events, lb.bad, lb.actual, lb.pass], [0.8, 4, 1, 0.75, false]);
    const nodeA = sloRow(c, null, "consistency", "node-a");
    assert.deepEqual([nodeA.events, nodeA.bad, nodeA.pass], [2, 0, true]);
    const md = renderMarkdown(report);
    for (const want of ["right answers (chain id, shape, monotonic head) >= 90%", "| chainId: 5, freshness: 3 |", "burns the correctness budget"]) {
      assert.ok(md.includes(want), `markdown contains ${want}\n${md}`);
    }
    store.close();
  });

  test("the p95 SLO row's value is the p95 of the well-formed answers' latencies, within HdrHistogram's 1%", async (t) => {
    // 180 right answers at 50 + 1.37 i ms, 20 wrong ones (chain id) at 400.11 + 3.3 i ms, 30 timeouts
    // at 5 s. Nearest rank 190 of the 200 answers is a wrong one; leaving the wrong answers out or
    // counting the timeouts would move p95 far away (to ~221 ms or to 5 s).
    const s: ProbeSample[] = [];
    for (let i = 0; i < 180; i++) s.push(probe(T0 + 1000 * i, { latencyMs: Math.round((50 + 1.37 * i) * 100) / 100 }));
    for (let i = 0; i < 20; i++) s.push(probe(T0 + 200_000 + 1000 * i, { latencyMs: Math.round((400.11 + 3.3 * i) * 100) / 100, correct: false, failedAssertions: ["chainId"] }));
    for (let i = 0; i < 30; i++) s.push(probe(T0 + 250_000 + 1000 * i, { outcome: "error", errorClass: "timeout", latencyMs: 5000 }));
    const answered = s.filter((x) => x.outcome === "ok").map((x) => x.latencyMs).sort((a, b) => a - b);
    const exact = answered[Math.ceil(0.95 * answered.length) - 1] as number;
    assert.equal(exact, Math.round((400.11 + 3.3 * 9) * 100) / 100, "the test's own nearest-rank p95");
    const store = storeWith(s, T0 + DAY);
    for (const range of [{ since: T0, until: T0 + HOUR }, { since: T0, until: T0 + 300_000 + 30 * 1000 + 1 }]) await t.test(`until T0 + ${range.until - T0} ms`, () => {
      const c = chain(buildReport(range, slos, store.reader(), T0 + DAY), "base");
      const row = sloRow(c, "default", "latency_p95_ms");
      assert.ok(row.actual !== null && row.actual >= exact && row.actual <= exact * (1 + HDR_PRECISION),
        `p95 row ${row.actual} ms vs exact ${exact} ms (+${HDR_PRECISION * 100}% at most)`);
      assert.deepEqual([row.objective, row.events, row.bad, row.pass], [300, 200, 20, false], "20 answers over 300 ms");
      assert.ok(Math.abs((row.budgetLeft ?? NaN) - (1 - 20 / (0.05 * 200))) < 1e-9, `budget ${row.budgetLeft}`);
      assert.equal(c.series[0]?.latencyMs.p95, row.actual, "the series and the SLO row read the same population");
    });
    store.close();
  });

  test("/metrics latency histogram and the report's percentiles cover the same answers", async () => {
    const s: ProbeSample[] = [
      ...Array.from({ length: 7 }, (_, i) => probe(T0 + 1000 * i)),
      ...Array.from({ length: 3 }, (_, i) => probe(T0 + 10_000 + 1000 * i, { correct: false, failedAssertions: ["shape:quantity"] })),
      ...Array.from({ length: 4 }, (_, i) => probe(T0 + 20_000 + 1000 * i, { outcome: "error", errorClass: "connect" })),
      probe(T0 + 30_000, { outcome: "error", errorClass: "plan_mismatch" }),
    ];
    const metrics = new MetricsSink({ version: "t", collectDefaults: false });
    for (const x of s) metrics.accept(x);
    const text = await metrics.registry.metrics();
    const value = (line: string): number => {
      const found = text.split("\n").find((l) => l.startsWith(`${line} `));
      assert.ok(found, `${line} exported\n${text}`);
      return Number(found.split(" ")[1]);
    };
    const series = 'target="lb",chain="base",route="default",method="eth_blockNumber"';
    const store = storeWith(s, T0 + DAY);
    const c = chain(buildReport({ since: T0, until: T0 + HOUR }, slos, store.reader(), T0 + DAY), "base");
    const row = sloRow(c, "default", "latency_p95_ms");
    assert.equal(row.events, 10);
    assert.equal(value(`lasso_canary_probe_latency_seconds_count{${series}}`), row.events);
    assert.equal(value(`lasso_canary_probe_requests_total{${series},outcome="ok",error_class="none"}`), 10, "wrong answers are ok for availability");
    assert.equal(value('lasso_canary_assertion_failures_total{target="lb",chain="base",route="default",assertion="shape"}'), 3);
    store.close();
  });

  test("since a provider died mid-minute: providers, error classes and p95 count only samples from then on", async (t) => {
    // Every 2 s for 4 minutes. Until t1 (mid-minute) bravo serves slowly and one request times
    // out; from t1 on bravo is dead: alpha serves fast and every 5th request fails to connect.
    const t1 = T0 + MIN + 10_500;
    const samples: ProbeSample[] = [];
    for (let i = 0, ts = T0 + 500; ts < T0 + 4 * MIN; i++, ts += 2000) {
      if (ts < t1) {
        samples.push(i === 30 ? probe(ts, { outcome: "error", errorClass: "timeout", provider: "bravo" })
          : probe(ts, i % 2 === 0 ? { provider: "bravo", latencyMs: 2000 + i } : { provider: "alpha", latencyMs: 40 }));
      } else {
        samples.push(i % 5 === 0 ? probe(ts, { outcome: "error", errorClass: "connect", provider: null })
          : probe(ts, { provider: "alpha", latencyMs: 100 + (i % 10) * 10 }));
      }
    }
    const range = { since: t1, until: T0 + 3 * MIN + 33_300 };
    const inRange = samples.filter((x) => x.ts >= range.since && x.ts < range.until);
    const okLatency = inRange.filter((x) => x.outcome === "ok").map((x) => x.latencyMs).sort((a, b) => a - b);
    const p95 = okLatency[Math.ceil(0.95 * okLatency.length) - 1] as number;
    const failed = inRange.filter((x) => x.outcome === "error").length;
    // Edge minutes staged; the since-edge minute compacted and the rest staged; all compacted.
    for (const [now, stagedFrom] of [[T0 + 3 * MIN + 29_000, T0 + MIN], [T0 + 3 * MIN + 30_000, T0 + 2 * MIN], [T0 + DAY, Infinity]] as const) await t.test(`now = T0 + ${now - T0} ms, staged from ${stagedFrom === Infinity ? "nothing" : `T0 + ${stagedFrom - T0} ms`}`, () => {
      const store = storeWith(samples, now);
      assert.equal(store.reader().rowCounts()["staging"], samples.filter((x) => x.ts >= stagedFrom).length);
      const report = buildReport(range, slos, store.reader(), now);
      assert.deepEqual(report.coverage, { from: inRange[0]?.ts, to: inRange.at(-1)?.ts, samplesExact: true,
        read: { from: range.since, to: range.until }, granularity: "minute", exactEdges: true,
        continuity: { from: range.since, to: range.until, exactEdges: true, delivered: { from: T0 + MIN, to: T0 + 4 * MIN, exactEdges: false } } });
      const d = chain(report, "base").series[0];
      assert.ok(d, "a base series in the report");
      assert.equal(d.requests, inRange.length, `requests (now = T0 + ${now - T0} ms)`);
      assert.deepEqual(d.providers.map((p) => [p.provider, p.count]), [["alpha", inRange.length - failed], [null, failed]],
        "bravo served nothing after it died");
      assert.deepEqual(d.errors, [{ errorClass: "connect", count: failed }], "the timeout before t1 is not counted");
      assert.ok(d.latencyMs.p95 !== null && Math.abs(d.latencyMs.p95 - p95) <= p95 * HDR_PRECISION,
        `p95 ${d.latencyMs.p95} vs raw ${p95}`);
      assert.match(renderMarkdown(report), /\(minute rollups, edges exact to the millisecond\)/);
      store.close();
    });
  });

  test("an edge past raw retention is rounded out to its minute, and coverage and markdown say so", () => {
    const now = T0 + 10 * DAY + 12 * HOUR;
    const store = new SampleStore({ path: newPath(), now: () => now, flushIntervalMs: 0 });
    const oldMinute = T0 + DAY + 5 * HOUR + 3 * MIN; // raw pruned after 7 days, minute rollups kept 14
    const recentMinute = now - HOUR;
    for (const m of [oldMinute, recentMinute]) {
      for (let i = 0; i < 12; i++) store.accept(probe(m + i * 5000, { provider: i < 6 ? "early" : "late" }));
    }
    assert.equal(store.flush(), true, "the queued samples are written");
    store.compact();
    store.pruneAll();
    const range = { since: oldMinute + 30_000, until: recentMinute + 30_000 };
    const report = buildReport(range, slos, store.reader(), now);
    const oldHour = Math.floor(oldMinute / HOUR) * HOUR; // continuity minute rollups are kept 3 days
    // The old minute's raw samples are gone: its first sample is known to the minute only.
    assert.deepEqual(report.coverage, { from: range.since, to: recentMinute + 25_000, samplesExact: false,
      read: { from: oldMinute, to: range.until }, granularity: "mixed", exactEdges: false,
      continuity: { from: oldHour, to: range.until, exactEdges: false, delivered: { from: oldHour, to: recentMinute + MIN, exactEdges: false } } });
    const d = chain(report, "base").series[0];
    assert.deepEqual(d?.providers.map((p) => [p.provider, p.count]), [["early", 12], ["late", 6]], "whole old minute");
    const md = renderMarkdown(report);
    assert.ok(md.includes(`start to ${new Date(oldMinute).toISOString()} rounded out to whole buckets`), md);
    assert.doesNotMatch(md, /edges exact/);
    store.close();
  });

  const oldMinute = T0 + DAY + 5 * HOUR + 3 * MIN;
  const spanCases = [
    // raw pruned (7 days), minute rollups kept (14): the minute the sample is in
    { name: "minute rollups", now: T0 + 10 * DAY, first: oldMinute },
    // minute rollups pruned too: the hour
    { name: "hour rollups", now: T0 + 20 * DAY, first: Math.floor(oldMinute / HOUR) * HOUR },
  ];
  for (const c of spanCases) {
    test(`data covered past raw retention: the first sample is known to its bucket in ${c.name}, not the requested since`, () => {
      const store = new SampleStore({ path: newPath(), now: () => c.now, flushIntervalMs: 0 });
      store.accept(probe(oldMinute + 17_000));
      store.accept(probe(c.now - HOUR + 5_000));
      assert.ok(store.flush(), "written");
      store.compact();
      store.pruneAll();
      const report = buildReport({ since: T0, until: c.now }, slos, store.reader(), c.now);
      assert.deepEqual([report.coverage.from, report.coverage.to, report.coverage.samplesExact], [c.first, c.now - HOUR + 5_000, false]);
      assert.match(renderMarkdown(report), /\(known to their rollup bucket where raw samples are past retention\)/);
      store.close();
    });
  }

  test("an empty range says so, with nulls and no NaN", () => {
    const store = storeWith([probe(T0)], T0 + DAY);
    const report = buildReport({ since: T0 + 2 * DAY, until: T0 + 3 * DAY }, slos, store.reader(), T0 + 3 * DAY);
    assert.equal(report.empty, true);
    assert.deepEqual(report.chains, []);
    assert.match(report.note ?? "", /No samples/);
    assertJsonClean(report);
    assert.match(renderMarkdown(report), /No samples in this range/);

    // A chain filter that matches nothing is empty too; one that matches is not.
    assert.equal(buildReport({ since: T0, until: T0 + HOUR, chain: "nope" }, slos, store.reader()).empty, true);
    assert.equal(buildReport({ since: T0, until: T0 + HOUR, chain: "base" }, slos, store.reader()).empty, false);
    store.close();
  });

  test("a chain with only failures reports null latency and a failed SLO, not NaN", () => {
    const store = storeWith([probe(T0, { outcome: "error", errorClass: "timeout" })], T0 + DAY);
    const report = buildReport({ since: T0, until: T0 + HOUR }, [], store.reader(), T0 + DAY);
    assertJsonClean(report);
    const c = chain(report, "base");
    assert.deepEqual(c.series[0]?.latencyMs, { p50: null, p95: null, p99: null });
    assert.equal(sloRow(c, "default", "latency_p95_ms").pass, null);
    assert.equal(sloRow(c, "default", "success_ratio").pass, false);
    assert.equal(sloRow(c, "default", "success_ratio").objective, 0.999, "default SLO applies");
    store.close();
  });

  test("plan-mismatch answers are counted per series and left out of the success SLI; live mismatches are listed", () => {
    const samples: ProbeSample[] = [];
    for (let i = 0; i < 10; i++) samples.push(probe(T0 + 1000 * (i + 1), { route: "pin:ghost" }));
    for (let i = 0; i < 5; i++) samples.push(probe(T0 + 20_000 + 1000 * i, { route: "pin:ghost", outcome: "error", errorClass: "plan_mismatch", provider: null }));
    samples.push(probe(T0 + 30_000, { route: "pin:ghost", outcome: "error", errorClass: "timeout", provider: null }));
    const store = storeWith(samples, T0 + DAY);
    const mismatch = { target: "lb", chain: "base", route: "pin:ghost", kind: "provider", detail: "HTTP 400", fix: "remove it", since: T0 };
    const other = { ...mismatch, chain: "ethereum" };
    const report = buildReport({ since: T0, until: T0 + HOUR, chain: "base" }, slos, store.reader(), T0 + DAY, { planMismatches: [mismatch, other] });
    const c = chain(report, "base");
    const series = c.series[0];
    assert.equal(series?.requests, 16);
    assert.equal(series?.planMismatches, 5);
    assert.equal(series?.successRatio, 10 / 11, "ok / (requests - plan mismatches)");
    assert.equal(c.requests, 11, "the chain counts only requests that judge Lasso");
    const success = sloRow(c, "pin:ghost", "success_ratio");
    assert.deepEqual([success.events, success.bad], [11, 1]);
    assert.deepEqual(report.planMismatches, [mismatch], "the chain filter applies to the live list");
    assert.match(renderMarkdown(report), /## Plan mismatches[\s\S]*\| lb \| base \| pin:ghost \| provider \|/);
    store.close();
  });
});

/** Subscription samples of the report tests: chain base, target lb, 1 s apart from T0 + 1 s. */
function subscriptionSamples(): ContinuitySample[] {
  const out: ContinuitySample[] = [];
  let t = T0;
  const at = (over: Partial<ContinuitySample>): void => void out.push(continuitySample((t += 1000), { chain: "base", ...over }));
  const anomaly = (event: ContinuitySample["event"], count: number, over: Partial<ContinuitySample> = {}): void =>
    at({ event, count, delayMs: null, sightingDelayMs: null, backfilled: null, detail: event, ...over });
  // A: newHeads on default. 100 delivered: 2 skewed (negative, counted as 0), 10 at 3 s, 88 at 500 ms; 3 backfilled.
  for (let i = 0; i < 100; i++) {
    at({ delayMs: i < 2 ? -20 : i % 10 === 9 ? 3000 : 500, sightingDelayMs: i === 50 ? 700 : 100, backfilled: i >= 2 && i < 5 });
  }
  anomaly("gap", 2);
  anomaly("gap", 1);
  anomaly("duplicate", 1);
  anomaly("duplicate", 2);
  anomaly("reorg", 2);
  anomaly("reorg", 5);
  anomaly("out_of_order", 1);
  anomaly("stall", 4000);
  anomaly("stall", 3000, { delayMs: 7000 });
  anomaly("reconnect", 1, { delayMs: 800 });
  anomaly("reconnect", 2, { delayMs: 2500 });
  anomaly("client_gap", 4);
  anomaly("subscription_id_change", 1);
  anomaly("first_event", 1, { delayMs: 300 });
  anomaly("first_event", 1, { delayMs: 900 });
  // B: newHeads pinned to alpha: clean delivery, but our own socket dropped once (10 blocks fetched over HTTP).
  const b = { watcher: "newHeads:pin:alpha", route: "pin:alpha" };
  for (let i = 0; i < 50; i++) at({ ...b, delayMs: 200 });
  anomaly("reconnect", 1, b);
  anomaly("client_gap", 10, b);
  // C: logs on default: 2 logs missing against eth_getLogs, 1 delivered twice.
  const c = { watcher: "logs:default", subscription: "logs" as const };
  for (let i = 0; i < 20; i++) at({ ...c, delayMs: 400 });
  anomaly("log_missing", 2, c);
  anomaly("log_duplicate", 1, c);
  // D: another target's watcher that only reconnected: no data to judge.
  anomaly("reconnect", 1, { target: "node-a" });
  return out;
}

function watcherRow(c: ChainReport, target: string, watcher: string): WatcherReport {
  const w = c.continuity.watchers.find((x) => x.target === target && x.watcher === watcher);
  assert.ok(w, `watcher ${target} ${watcher}`);
  return w;
}

function watcherSlo(c: ChainReport, target: string, watcher: string, sli: SloRow["sli"]): SloRow | undefined {
  return c.slo.find((r) => r.target === target && r.watcher === watcher && r.sli === sli);
}

describe("subscription continuity in the report", () => {
  test("delivery, gaps, duplicates, reorgs, stalls, reconnects and client gaps are counted and judged per watcher", () => {
    const store = storeWith(subscriptionSamples(), T0 + DAY);
    const range = { since: T0, until: T0 + HOUR };
    const report = buildReport(range, [], store.reader(), T0 + DAY);
    assertJsonClean(report);
    assert.equal(report.empty, false, "a chain with watchers only is not empty");
    const c = chain(report, "base");
    assert.deepEqual([c.requests, c.series, c.consistency.checks], [0, [], 0]);
    assert.deepEqual(c.continuity.watchers.map((w) => `${w.target} ${w.watcher}`),
      ["lb logs:default", "lb newHeads:default", "lb newHeads:pin:alpha", "node-a newHeads:default"]);

    const a = watcherRow(c, "lb", "newHeads:default");
    const { delayMs, sightingDelayMs, ...counts } = a;
    assert.deepEqual(counts, {
      target: "lb", watcher: "newHeads:default", route: "default", subscription: "newHeads",
      delivered: 100, backfilled: 3, missingBlocks: 3, duplicates: 3, reorgs: 2, maxReorgDepth: 5, outOfOrder: 1,
      stalls: 1, stallSeconds: 7, reconnects: 2, clientGapBlocks: 4, idChanges: 1, deliveryRatio: 100 / 103,
      firstEventMs: { events: 2, max: 900 }, logsMissing: 0, logsDuplicate: 0,
      subscribeRefused: 0, upgradeRefused: 0, unservedBlocks: 0, connectFailures: 0, neverLive: 0,
      state: { status: "live", at: T0 + 115_000, since: null, detail: "first_event" },
    });
    assert.deepEqual([delayMs.samples, delayMs.max, delayMs.clamped], [100, 3000, 2]);
    for (const [got, want] of [[delayMs.p50, 500], [delayMs.p95, 3000], [delayMs.p99, 3000]] as const) {
      assert.ok(got !== null && Math.abs(got - want) <= want * HDR_PRECISION, `delay ${got} vs ${want}`);
    }
    assert.deepEqual([sightingDelayMs.samples, sightingDelayMs.max, sightingDelayMs.clamped], [100, 700, 0]);
    assert.ok(sightingDelayMs.p95 !== null && Math.abs(sightingDelayMs.p95 - 100) <= 1, `sighting delay p95 ${sightingDelayMs.p95}`);
    assert.deepEqual(watcherSlo(c, "lb", "newHeads:default", "delivery"), {
      target: "lb", route: "default", watcher: "newHeads:default", sli: "delivery", objective: 1,
      objectiveText: "100% of blocks delivered (after gap filling; client gaps excluded)",
      actual: 100 / 103, events: 103, bad: 3, budgetLeft: 0, pass: false, reason: "3 block(s) never delivered",
    });
    assert.deepEqual(watcherSlo(c, "lb", "newHeads:default", "duplicates"), {
      target: "lb", route: "default", watcher: "newHeads:default", sli: "duplicates", objective: 0,
      objectiveText: "0 duplicate deliveries", actual: 3, events: 100, bad: 3, budgetLeft: 0, pass: false, reason: null,
    });
    assert.equal(c.slo.some((r) => r.sli === "delivery_delay_p95_ms"), false, "no delay SLO unless its objective is given");

    // Client gaps are the watcher's own: shown, never held against delivery.
    const b = watcherRow(c, "lb", "newHeads:pin:alpha");
    assert.deepEqual([b.delivered, b.missingBlocks, b.clientGapBlocks, b.reconnects, b.deliveryRatio, b.maxReorgDepth, b.stalls],
      [50, 0, 10, 1, 1, null, 0]);
    const bDelivery = watcherSlo(c, "lb", "newHeads:pin:alpha", "delivery");
    assert.deepEqual([bDelivery?.events, bDelivery?.bad, bDelivery?.budgetLeft, bDelivery?.pass], [50, 0, 1, true]);
    const bDup = watcherSlo(c, "lb", "newHeads:pin:alpha", "duplicates");
    assert.deepEqual([bDup?.actual, bDup?.budgetLeft, bDup?.pass], [0, 1, true]);

    const logs = watcherRow(c, "lb", "logs:default");
    assert.deepEqual([logs.subscription, logs.delivered, logs.logsMissing, logs.logsDuplicate, logs.deliveryRatio],
      ["logs", 20, 2, 1, 20 / 22]);
    const lDelivery = watcherSlo(c, "lb", "logs:default", "delivery");
    assert.deepEqual([lDelivery?.objectiveText, lDelivery?.events, lDelivery?.bad, lDelivery?.pass],
      ["100% of logs delivered (after gap filling; client gaps excluded)", 22, 2, false]);
    assert.deepEqual([watcherSlo(c, "lb", "logs:default", "duplicates")?.actual, watcherSlo(c, "lb", "logs:default", "duplicates")?.pass], [1, false]);

    // Nothing delivered or missed: nulls and "no data", not NaN and not a pass.
    const d = watcherRow(c, "node-a", "newHeads:default");
    assert.deepEqual([d.delivered, d.reconnects, d.deliveryRatio, d.delayMs.p95, d.delayMs.max, d.firstEventMs.max],
      [0, 1, null, null, null, null]);
    for (const sli of ["delivery", "duplicates"] as const) {
      const row = watcherSlo(c, "node-a", "newHeads:default", sli);
      assert.deepEqual([row?.actual, row?.budgetLeft, row?.pass], [null, null, null], sli);
    }

    const md = renderMarkdown(report);
    for (const want of ["### Subscriptions", "| lb | newHeads:default | default | 100 (3) | 3 | 97.087% | 3 | 2 (5) | 1 | 1 (7.0) | 2 | 4 | 1 |",
      "newHeads:pin:alpha", "| 2 / 1 |", "2 negative as 0", "never count against Lasso",
      "100% of blocks delivered", "0 duplicate deliveries"]) {
      assert.ok(md.includes(want), `markdown contains ${want}\n${md}`);
    }
    assert.doesNotMatch(md, /NaN|undefined|Infinity/);
    store.close();
  });

  test("the delay SLO is judged only when maxDeliveryDelayMs is given", () => {
    const store = storeWith(subscriptionSamples(), T0 + DAY);
    const slos: SloObjective[] = [{ chain: "base", successRatio: 0.999, p95LatencyMs: 300, maxHeadLagBlocks: 2, maxDeliveryDelayMs: 1000 }];
    const report = buildReport({ since: T0, until: T0 + HOUR }, slos, store.reader(), T0 + DAY);
    assertJsonClean(report);
    const c = chain(report, "base");
    const a = watcherSlo(c, "lb", "newHeads:default", "delivery_delay_p95_ms");
    assert.ok(a && a.actual !== null && Math.abs(a.actual - 3000) <= 30, `delivery delay p95 row: ${JSON.stringify(a)}`);
    assert.deepEqual([a.objective, a.events, a.bad, a.budgetLeft, a.pass], [1000, 100, 10, 1 - 10 / 5, false],
      "10 of 100 over 1 s where 5 are allowed");
    const b = watcherSlo(c, "lb", "newHeads:pin:alpha", "delivery_delay_p95_ms");
    assert.deepEqual([b?.events, b?.bad, b?.budgetLeft, b?.pass], [50, 0, 1, true]);
    const d = watcherSlo(c, "node-a", "newHeads:default", "delivery_delay_p95_ms");
    assert.deepEqual([d?.actual, d?.budgetLeft, d?.pass], [null, null, null]);
    const md = renderMarkdown(report);
    assert.ok(md.includes("delivery delay p95 <= 1000 ms"), md);
    store.close();
  });

  test("a mid-minute range counts anomalies exactly and says delivered counts are whole minutes", () => {
    const store = storeWith(subscriptionSamples(), T0 + DAY);
    // From 101.5 s on: A's 100 deliveries (1-100 s) are in the edge minute [60 s, 120 s) partly; its first gap (101 s) is out.
    const range = { since: T0 + 101_500, until: T0 + HOUR };
    const report = buildReport(range, [], store.reader(), T0 + DAY);
    assert.deepEqual(report.coverage.continuity, {
      from: range.since, to: range.until, exactEdges: true, delivered: { from: T0 + MIN, to: T0 + HOUR, exactEdges: false },
    });
    const a = watcherRow(chain(report, "base"), "lb", "newHeads:default");
    assert.deepEqual([a.delivered, a.missingBlocks, a.duplicates], [41, 1, 3], "deliveries of 60-100 s, gaps and duplicates from 101.5 s");
    assert.match(renderMarkdown(report), /Subscriptions: delivered counts and delays .* \(whole rollup buckets.*; gaps, duplicates and other anomalies exact\./);
    store.close();
  });
});

/** Ten blocks delivered on lb newHeads:default (chain base), 1 s apart from T0 + 1 s; then `rest`, 1 s apart. */
function delivering(rest: Array<Partial<ContinuitySample>>): ContinuitySample[] {
  const out: ContinuitySample[] = [];
  for (let i = 1; i <= 10; i++) out.push(continuitySample(T0 + i * 1000, { chain: "base", blockNumber: 100 + i, delayMs: 500 }));
  rest.forEach((over, i) => out.push(continuitySample(T0 + (11 + i) * 1000, {
    chain: "base", delayMs: null, sightingDelayMs: null, backfilled: null, blockNumber: null, detail: over.event ?? null, ...over,
  })));
  return out;
}

/** The delivery row and watcher of `delivering(rest)` over the first hour. */
function deliveryRow(rest: Array<Partial<ContinuitySample>>): { row: SloRow; w: WatcherReport; md: string } {
  const store = storeWith(delivering(rest), T0 + DAY);
  const range = { since: T0, until: T0 + HOUR };
  try {
    const report = buildReport(range, [], store.reader(), T0 + DAY);
    assertJsonClean(report);
    const c = chain(report, "base");
    const row = watcherSlo(c, "lb", "newHeads:default", "delivery");
    assert.ok(row, "a delivery row");
    return { row, w: watcherRow(c, "lb", "newHeads:default"), md: renderMarkdown(report) };
  } finally {
    store.close();
  }
}

describe("watchers that never work, open stalls and planned watchers in the report", () => {
  test("a refused subscribe fails delivery with the refusal as reason; blocks between refused attempts count as undelivered", () => {
    const detail = (n: number, blocks: string): string => `error -32602: does not support WebSocket subscriptions (attempt ${n}${blocks})`;
    const { row, w, md } = deliveryRow([
      { event: "subscribe_refused", count: 0, detail: detail(1, "") },
      { event: "subscribe_refused", count: 3, detail: detail(2, "; 3 block(s) 111-113 produced since the previous refused attempt") },
      { event: "subscribe_refused", count: 2, detail: detail(3, "; 2 block(s) 114-115 produced since the previous refused attempt") },
    ]);
    assert.deepEqual([w.subscribeRefused, w.upgradeRefused, w.unservedBlocks, w.state.status], [3, 0, 5, "subscribe_refused"]);
    assert.deepEqual([row.events, row.bad, row.actual, row.budgetLeft, row.pass], [15, 5, 10 / 15, 0, false]);
    assert.match(row.reason ?? "", /^subscribe refused at 2025-01-15T00:00:13\.000Z: error -32602: does not support WebSocket subscriptions \(attempt 3;.*\(3 refused attempt\(s\) in range, 5 block\(s\) unserved\)$/);
    assert.ok(md.includes("FAIL: subscribe refused at"), md);
    assert.ok(md.includes("| 3 / 0 (5) | 0 | 0 | subscribe refused |"), md);
  });

  test("a watcher refused from its first attempt fails at once, before a block is counted", () => {
    const { row } = deliveryRow([{ event: "upgrade_refused", count: 0, detail: "handshake answered HTTP 403 (empty body) (attempt 1)" }]);
    assert.deepEqual([row.bad, row.pass, row.budgetLeft], [0, false, 0]);
    assert.match(row.reason ?? "", /^upgrade refused at .*: handshake answered HTTP 403 \(empty body\)/);
  });

  test("refusals that ended: the unserved blocks still fail the range, the watcher is live again", () => {
    const { row, w } = deliveryRow([
      { event: "subscribe_refused", count: 0 },
      { event: "subscribe_refused", count: 4 },
      { event: "first_event", count: 1, delayMs: 300 },
    ]);
    assert.equal(w.state.status, "live");
    assert.deepEqual([row.events, row.bad, row.pass], [14, 4, false]);
    assert.equal(row.reason, "2 refused attempt(s) in range, 4 block(s) unserved");
  });

  test("an open stall fails delivery now, with the block that proved it owed; once closed, its gap judges it", () => {
    const opening = { event: "stall" as const, count: 3000, blockNumber: 111, detail: "no event for 3000 ms with the socket open while HTTP saw block 111 600 ms ago" };
    const open = deliveryRow([opening]);
    assert.deepEqual([open.w.state.status, open.w.state.since], ["stalled", T0 + 11_000 - 3000]);
    assert.deepEqual([open.row.events, open.row.bad, open.row.pass], [11, 1, false]);
    assert.equal(open.row.reason, `stalled since 2025-01-15T00:00:08.000Z: ${opening.detail}`);
    // The same stall over a range that holds its end: the stall's blocks are a gap now, not an open stall.
    const closed = deliveryRow([opening, { event: "stall", count: 5000, delayMs: 8000 }, { event: "gap", count: 6, blockNumber: 111 }]);
    assert.equal(closed.w.state.status, "live");
    assert.deepEqual([closed.row.events, closed.row.bad, closed.row.pass, closed.row.reason], [16, 6, false, "6 block(s) never delivered"]);
  });

  test("a subscription acknowledged but never live fails with that reason", () => {
    const { row, w } = deliveryRow([
      { event: "stall", count: 3200 },
      { event: "never_live", count: 1, delayMs: 3300, blockNumber: 111, detail: "subscription 0xab acknowledged 3300 ms ago has delivered no event while HTTP saw block 111 900 ms ago" },
    ]);
    assert.deepEqual([w.neverLive, w.stalls, w.state.status, w.state.since], [1, 1, "never_live", T0 + 12_000 - 3300]);
    assert.deepEqual([row.bad, row.pass], [1, false]);
    assert.match(row.reason ?? "", /^never live since 2025-01-15T00:00:08\.700Z: subscription 0xab acknowledged/);
  });

  test("an unreachable target is shown, never held against Lasso", () => {
    const { row, w } = deliveryRow([{ event: "connect_failed", count: 1, detail: "target unreachable: connect ECONNREFUSED 127.0.0.1:9 (attempt 1)" }]);
    assert.deepEqual([w.connectFailures, w.state.status], [1, "unreachable"]);
    assert.deepEqual([row.events, row.bad, row.pass], [10, 0, true]);
    assert.match(row.reason ?? "", /^target unreachable at .* \(not counted against Lasso\): target unreachable: connect ECONNREFUSED/);
  });

  test("every planned watcher is listed: one without samples shows zeros and no data, not a FAIL", () => {
    const store = storeWith(delivering([]), T0 + DAY);
    try {
      const planned = [
        { target: "lb", chain: "base", watcher: "newHeads:default", route: "default", subscription: "newHeads" as const },
        { target: "lb", chain: "base", watcher: "newHeads:pin:alpha", route: "pin:alpha", subscription: "newHeads" as const },
        { target: "lb", chain: "arbitrum", watcher: "logs:default", route: "default", subscription: "logs" as const },
      ];
      const report = buildReport({ since: T0, until: T0 + HOUR }, [], store.reader(), T0 + DAY, {}, planned);
      assertJsonClean(report);
      const c = chain(report, "base");
      assert.deepEqual(c.continuity.watchers.map((w) => w.watcher), ["newHeads:default", "newHeads:pin:alpha"], "a stored watcher is listed once");
      const idle = watcherRow(c, "lb", "newHeads:pin:alpha");
      assert.deepEqual([idle.delivered, idle.deliveryRatio, idle.state.status], [0, null, "no_data"]);
      const row = watcherSlo(c, "lb", "newHeads:pin:alpha", "delivery");
      assert.deepEqual([row?.events, row?.pass, row?.budgetLeft], [0, null, null]);
      assert.match(row?.reason ?? "", /no samples in this range/);
      assert.equal(watcherRow(chain(report, "arbitrum"), "lb", "logs:default").delivered, 0, "a chain with only a planned watcher is listed");
      assert.equal(buildReport({ since: T0 + DAY, until: T0 + 2 * DAY }, [], store.reader(), T0 + DAY, {}, planned).empty, true,
        "planned watchers alone do not make a range hold data");
      const only = buildReport({ since: T0, until: T0 + HOUR, chain: "base" }, [], store.reader(), T0 + DAY, {}, planned);
      assert.deepEqual(only.chains.map((x) => x.chain), ["base"], "the chain filter applies to planned watchers");
    } finally {
      store.close();
    }
  });
});

describe("ReportRunner", () => {
  test("builds in a worker the same report as inline, while the writer stays open", async () => {
    const samples = Array.from({ length: 200 }, (_, i) =>
      probe(T0 + i * 10_000, { latencyMs: 50 + (i % 50), provider: i % 3 === 0 ? "infura" : "alchemy" }));
    const store = storeWith(samples, T0 + DAY);
    const range = { since: T0, until: T0 + DAY };
    const runner = new ReportRunner({ path: store.path });
    try {
      const viaWorker = await runner.render(range, [], "json", T0 + DAY).then(parseReport);
      const inline = buildReport(range, [], store.reader(), T0 + DAY);
      assert.deepEqual(viaWorker, JSON.parse(JSON.stringify(inline)));
      assert.equal(chain(viaWorker, "base").requests, 200);
      // The worker reads fresh data on the next request.
      store.accept(probe(T0 + HOUR));
      store.flush();
      store.compact();
      assert.equal(chain(await runner.render(range, [], "json", T0 + DAY).then(parseReport), "base").requests, 201);
    } finally {
      await runner.close();
      store.close();
    }
  });

  test("a worker report carries subscriptions and the optional delay objective like inline", async () => {
    const store = storeWith(subscriptionSamples(), T0 + DAY);
    const runner = new ReportRunner({ path: store.path });
    const slos: SloObjective[] = [{ chain: "base", successRatio: 0.99, p95LatencyMs: 300, maxHeadLagBlocks: 2, maxDeliveryDelayMs: 1000 }];
    try {
      const range = { since: T0, until: T0 + DAY };
      const viaWorker = await runner.render(range, slos, "json", T0 + DAY).then(parseReport);
      assert.deepEqual(viaWorker, JSON.parse(JSON.stringify(buildReport(range, slos, store.reader(), T0 + DAY))));
      assert.equal(chain(viaWorker, "base").continuity.watchers.length, 4);
      assert.equal(chain(viaWorker, "base").slo.filter((r) => r.sli === "delivery_delay_p95_ms").length, 4);
    } finally {
      await runner.close();
      store.close();
    }
  });

  test("a report that fails in the worker rejects with the reason, and the worker keeps answering", async () => {
    const store = storeWith([probe(T0)], T0 + DAY);
    const damaged = `${store.path}.damaged`;
    writeFileSync(damaged, "this is not an SQLite database, and it is long enough to have a header");
    const runner = new ReportRunner({ path: damaged });
    try {
      await assert.rejects(runner.render({ since: T0, until: T0 + DAY }, [], "json"), /not a database/);
      await assert.rejects(runner.render({ since: T0, until: T0 + DAY }, [], "json"), /not a database/);
    } finally {
      await runner.close();
      store.close();
    }
  });

  test("an idle worker exits to give its memory back, and the next report starts a new one", async () => {
    const store = storeWith([probe(T0)], T0 + DAY);
    const runner = new ReportRunner({ path: store.path, idleMs: 100 });
    try {
      const range = { since: T0, until: T0 + DAY };
      await runner.render(range, [], "json", T0 + DAY).then(parseReport);
      assert.equal(runner.workerRunning, true);
      await waitFor(() => !runner.workerRunning, { timeoutMs: 10_000, message: "the idle worker to exit" });
      assert.equal(chain(await runner.render(range, [], "json", T0 + DAY).then(parseReport), "base").requests, 1);
    } finally {
      await runner.close();
      store.close();
    }
  });

  test("a report on a missing file rejects instead of hanging", async () => {
    const runner = new ReportRunner({ path: join(newPath(), "..", "no-such-dir", "missing.sqlite") });
    try {
      await assert.rejects(runner.render({ since: 0, until: 1 }, [], "json"), /missing\.sqlite|unable to open|directory does not exist/);
    } finally {
      await runner.close();
    }
  });
});
