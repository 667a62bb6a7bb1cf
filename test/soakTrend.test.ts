import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { replay, shapeSeries, type ShapeOptions } from "../sim/soakShapes.js";
import { SubjectSeries } from "../src/soak/series.js";
import { normalQuantile, selectKth, theilSen, type Point } from "../src/soak/trend.js";
import { judgeSeries, type VerdictOptions } from "../src/soak/verdict.js";

const H = 3_600_000;
const MIN = 60_000;

/** Thresholds of these tests, chosen here (not the product's defaults). */
const OPTS: VerdictOptions = {
  windowMs: 6 * H, warmupMs: 30 * MIN, minSpanMs: 2 * H, confidence: 0.95, minPercentPerHour: 0.5, minAbsPerHour: 0, maxPairs: 20_000,
};

function line(n: number, slopePerHour: number, at0 = 100, stepMs = MIN): Point[] {
  return Array.from({ length: n }, (_, i) => ({ t: i * stepMs, v: at0 + (slopePerHour * i * stepMs) / H }));
}

describe("Theil-Sen", () => {
  test("normal quantiles match the tables", () => {
    assert.equal(normalQuantile(0.975).toFixed(4), "1.9600");
    assert.equal(normalQuantile(0.995).toFixed(4), "2.5758");
    assert.equal(normalQuantile(0.5), 0);
    assert.equal(normalQuantile(0.01).toFixed(4), "-2.3263");
  });

  test("selectKth agrees with sorting, duplicates included", () => {
    let seed = 7;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (const n of [1, 2, 3, 10, 101, 1000]) {
      const values = Array.from({ length: n }, () => Math.floor(rand() * 20));
      const sorted = [...values].sort((a, b) => a - b);
      for (const k of [0, n >> 1, n - 1]) assert.equal(selectKth(Float64Array.from(values), k), sorted[k], `n=${n} k=${k}`);
    }
  });

  test("an exact line gives its slope, bounds on it and tau 1", () => {
    const fit = theilSen(line(120, 3), { confidence: 0.95, maxPairs: 1e9 });
    assert.ok(fit !== null, "fitted");
    assert.equal(fit.slopePerHour.toFixed(9), "3.000000000");
    assert.equal(fit.lowerPerHour.toFixed(9), "3.000000000");
    assert.equal(fit.upperPerHour.toFixed(9), "3.000000000");
    assert.equal(fit.startValue.toFixed(9), "100.000000000");
    assert.equal(fit.tau, 1);
    assert.equal(fit.totalPairs, (120 * 119) / 2);
  });

  test("a quarter of wild outliers does not move the slope", () => {
    const pts = line(200, 2).map((p, i) => (i % 4 === 0 ? { t: p.t, v: p.v + (i % 8 === 0 ? 500 : -500) } : p));
    const fit = theilSen(pts, { confidence: 0.95, maxPairs: 1e9 });
    assert.ok(fit !== null, "fitted");
    assert.ok(Math.abs(fit.slopePerHour - 2) < 0.05, `slope ${fit.slopePerHour} should stay ~2/h`);
  });

  test("the bounds bracket the true slope of a noisy line, and a subsample agrees with all pairs", () => {
    const pts = shapeSeries({ shape: "leak", leakPercentPerHour: 1, sawAmplitude: 0, durationMs: 6 * H, seed: 3, noise: 0.01 }).map((o) => ({ t: o.ts, v: o.values.memory_mb ?? NaN }));
    const all = theilSen(pts, { confidence: 0.95, maxPairs: 1e9 });
    const some = theilSen(pts, { confidence: 0.95, maxPairs: 5_000 });
    assert.ok(all !== null && some !== null, "fitted");
    assert.ok(all.lowerPerHour < 2 && all.upperPerHour > 2, `[${all.lowerPerHour}, ${all.upperPerHour}] should hold the true 2 MB/h`);
    assert.ok(all.upperPerHour - all.lowerPerHour < 0.5, `bounds [${all.lowerPerHour}, ${all.upperPerHour}] should be tight for 361 points`);
    assert.equal(some.pairs, 5_000);
    assert.ok(Math.abs(some.slopePerHour - all.slopePerHour) < 0.05, `subsampled ${some.slopePerHour} vs all ${all.slopePerHour}`);
    assert.ok(Math.abs(some.lowerPerHour - all.lowerPerHour) < 0.1, `subsampled lower ${some.lowerPerHour} vs ${all.lowerPerHour}`);
  });
});

describe("verdict per shape (24 h at one sample a minute, judged every 5 minutes)", () => {
  const cases: { name: string; shape: Omit<ShapeOptions, "durationMs" | "seed">; flaggedWithinHours: number | null }[] = [
    { name: "flat with noise", shape: { shape: "flat" }, flaggedWithinHours: null },
    { name: "GC sawtooth 15%, 20 min", shape: { shape: "sawtooth" }, flaggedWithinHours: null },
    { name: "one step +15%", shape: { shape: "step" }, flaggedWithinHours: null },
    { name: "restart with a 20 min warm-up", shape: { shape: "restart" }, flaggedWithinHours: null },
    { name: "leak +1 %/h", shape: { shape: "leak", leakPercentPerHour: 1 }, flaggedWithinHours: 6 },
    { name: "leak +2 %/h", shape: { shape: "leak", leakPercentPerHour: 2 }, flaggedWithinHours: 6 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      // 5-minute judging keeps the 24 h replay short; the shapes move on an hourly scale.
      const r = replay(shapeSeries({ ...c.shape, durationMs: 24 * H, seed: 11 }), OPTS, 0.5, 5 * MIN);
      if (c.flaggedWithinHours === null) {
        assert.equal(r.detectedAfterMs, null, `never flagged; final: ${r.final.reason}`);
        assert.equal(r.final.status, "no_leak");
      } else {
        assert.ok(r.detectedAfterMs !== null && r.detectedAfterMs <= c.flaggedWithinHours * H, `flagged within ${c.flaggedWithinHours} h (after ${r.detectedAfterMs} ms)`);
        assert.equal(r.final.status, "leak_suspected", r.final.reason);
      }
    });
  }

  test("a restart is counted and starts a new series", () => {
    const r = replay(shapeSeries({ shape: "restart", durationMs: 12 * H, restartAtMs: 4 * H, seed: 2 }), OPTS, 0.5, 5 * MIN);
    assert.equal(r.restarts, 1);
  });
});

describe("the sustained-trend rule", () => {
  test("a step makes the whole window's lower bound significant, but one half is flat: no leak", () => {
    const pts = shapeSeries({ shape: "step", durationMs: 6 * H, stepAtMs: 3.2 * H, stepSize: 0.15, seed: 5 }).map((o) => ({ t: o.ts, v: o.values.memory_mb ?? NaN }));
    const j = judgeSeries(pts, -H, 6 * H, OPTS);
    assert.ok((j.lowerPercentPerHour ?? 0) > OPTS.minPercentPerHour, `the step alone is significant (lower ${j.lowerPercentPerHour} %/h): the rule under test decides`);
    assert.equal(j.status, "no_leak");
    assert.match(j.reason, /not a sustained trend/);
  });

  test("growth that levels off (a warm-up longer than warmupMs) is not a leak", () => {
    const pts = Array.from({ length: 241 }, (_, i) => ({ t: i * MIN, v: 200 - 80 * Math.exp(-(i * MIN) / (40 * MIN)) }));
    const j = judgeSeries(pts, 0, 4 * H, { ...OPTS, warmupMs: 0 });
    const [first, second] = j.halvesPerHour;
    assert.ok((j.lowerPercentPerHour ?? 0) > OPTS.minPercentPerHour, `significant overall (${j.lowerPercentPerHour} %/h)`);
    assert.ok(first !== null && second !== null && second > 0 && second < first / 2, `halves ${first}, ${second}: slowing down`);
    assert.equal(j.status, "no_leak");
  });

  test("warming up, then collecting, then judged", () => {
    const pts = line(300, 5);
    assert.equal(judgeSeries(pts.slice(0, 20), 0, 19 * MIN, OPTS).status, "warming_up");
    assert.equal(judgeSeries(pts.slice(0, 90), 0, 89 * MIN, OPTS).status, "collecting");
    const j = judgeSeries(pts, 0, 299 * MIN, OPTS);
    assert.equal(j.status, "leak_suspected", j.reason);
    assert.deepEqual(j.window, { from: 30 * MIN, to: 299 * MIN });
  });

  test("the absolute floor applies when the baseline is zero (run_queue)", () => {
    const pts = line(300, 0.5, 0);
    assert.equal(judgeSeries(pts, 0, 299 * MIN, { ...OPTS, minAbsPerHour: 1 }).status, "no_leak");
    assert.equal(judgeSeries(pts, 0, 299 * MIN, { ...OPTS, minAbsPerHour: 0.25 }).status, "leak_suspected");
  });
});

describe("restart detection", () => {
  const opts = { metrics: ["memory_mb"], primary: "memory_mb", dropRatio: 0.5, keepMs: 6 * H };
  const cases: { name: string; second: { ts: number; uptimeSeconds: number | null; mb: number }; restart: string | null }[] = [
    { name: "uptime goes on: same series", second: { ts: 60_000, uptimeSeconds: 1060, mb: 100 }, restart: null },
    { name: "uptime went back", second: { ts: 60_000, uptimeSeconds: 20, mb: 100 }, restart: "uptime" },
    { name: "restart during a long gap (uptime grew past the old one)", second: { ts: 7_200_000, uptimeSeconds: 3000, mb: 100 }, restart: "uptime" },
    { name: "uptime unknown, memory halved", second: { ts: 60_000, uptimeSeconds: null, mb: 40 }, restart: "memory_drop" },
    { name: "uptime unknown, memory dipped 30% (GC)", second: { ts: 60_000, uptimeSeconds: null, mb: 70 }, restart: null },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const s = new SubjectSeries(opts);
      assert.deepEqual(s.add({ ts: 0, uptimeSeconds: 1000, values: { memory_mb: 100 } }), { seriesStart: 0, restart: null });
      const r = s.add({ ts: c.second.ts, uptimeSeconds: c.second.uptimeSeconds, values: { memory_mb: c.second.mb } });
      assert.equal(r.restart, c.restart);
      assert.equal(r.seriesStart, c.restart === null ? 0 : c.second.ts);
      assert.equal(s.points("memory_mb").length, c.restart === null ? 2 : 1);
    });
  }

  test("a failed poll changes nothing; restored samples continue their series", () => {
    const s = new SubjectSeries(opts);
    s.restore({ ts: 0, uptimeSeconds: 10, values: { memory_mb: 100 } }, -5000, null);
    s.restore({ ts: 60_000, uptimeSeconds: 70, values: { memory_mb: 101 } }, -5000, null);
    assert.deepEqual(s.add({ ts: 120_000, uptimeSeconds: null, values: {} }), { seriesStart: -5000, restart: null });
    assert.deepEqual(s.add({ ts: 180_000, uptimeSeconds: 190, values: { memory_mb: 102 } }), { seriesStart: -5000, restart: null });
    assert.equal(s.points("memory_mb").length, 3);
    // The daemon itself restarted: its uptime starts again.
    assert.deepEqual(s.add({ ts: 240_000, uptimeSeconds: 2, values: { memory_mb: 102 } }), { seriesStart: 240_000, restart: "uptime" });
  });
});
