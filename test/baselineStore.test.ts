import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { loadPlan, PlanError } from "../src/plan/index.js";
import { buildReport } from "../src/report/build.js";
import { renderMarkdown } from "../src/report/markdown.js";
import { periodStats } from "../src/report/periodStats.js";
import { parseReportQuery, ReportQueryError } from "../src/report/time.js";
import type { ComparisonRow, Report } from "../src/report/types.js";
import type { ProbeSample } from "../src/samples.js";
import { BaselineExistsError, BaselineStore } from "../src/store/index.js";
import { SampleStore } from "../src/store/store.js";
import { DEFAULT_COMPARISON } from "../src/report/types.js";
import { blockNumberChecks, writePlan } from "./helpers/canaryBed.js";
import { DAY, HOUR, MIN, T0, probeSample, tempDbPaths } from "./helpers/storeFixtures.js";

const newPath = tempDbPaths("lasso-canary-baseline-test-");

/** One probe every 10 s over [from, from + span), each `ms` (+0..4 ms so buckets differ). */
function probes(from: number, span: number, ms: number, over: Partial<ProbeSample> = {}): ProbeSample[] {
  const out: ProbeSample[] = [];
  for (let t = from, i = 0; t < from + span; t += 10_000, i++) out.push(probeSample(t, { latencyMs: ms + (i % 5), lassoOverheadMs: 2, ...over }));
  return out;
}

interface Clocked {
  store: SampleStore;
  at(ms: number): void;
}

function openStore(path: string, start: number): Clocked {
  let now = start;
  const store = new SampleStore({ path, now: () => now, flushIntervalMs: 0 });
  return { store, at: (ms) => void (now = ms) };
}

function write(c: Clocked, samples: readonly ProbeSample[], now: number): void {
  c.at(now);
  for (const s of samples) c.store.accept(s);
  assert.equal(c.store.flush(), true, "the queued samples are written");
  c.store.compact();
}

function p50Row(r: Report): ComparisonRow {
  const row = r.comparison?.rows.find((x) => x.metric === "latency_p50_ms");
  assert.ok(row, "a latency p50 comparison row");
  return row;
}

describe("named baselines", () => {
  test("save, list, refuse a taken name, replace with force, delete", () => {
    const c = openStore(newPath(), T0);
    write(c, probes(T0, HOUR, 50), T0 + HOUR + 5 * MIN);
    const stats = JSON.stringify(periodStats(c.store.reader().aggregate({ since: T0, until: T0 + HOUR })));
    const b = c.store.baselines();
    b.save({ name: "before-deploy", savedAt: T0 + 2 * HOUR, since: T0, until: T0 + HOUR, chain: null, stats });
    assert.deepEqual(b.list(), [{ name: "before-deploy", savedAt: T0 + 2 * HOUR, since: T0, until: T0 + HOUR, chain: null, bytes: stats.length }]);
    assert.throws(() => b.save({ name: "before-deploy", savedAt: T0, since: 0, until: 1, chain: "base", stats: "{}" }), BaselineExistsError);
    assert.equal(b.get("before-deploy")?.chain, null, "the refused save changed nothing");
    b.save({ name: "before-deploy", savedAt: T0, since: 0, until: 1, chain: "base", stats: "{}" }, true);
    assert.equal(b.get("before-deploy")?.chain, "base", "force replaced it");
    assert.equal(b.delete("before-deploy"), true);
    assert.equal(b.delete("before-deploy"), false, "a second delete finds nothing");
    assert.deepEqual(b.list(), []);
    c.store.close();
  });

  test("a saved baseline survives pruning of everything it was computed from and still compares", () => {
    const path = newPath();
    const c = openStore(path, T0);
    write(c, probes(T0, HOUR, 50), T0 + HOUR + 5 * MIN);
    const stats = periodStats(c.store.reader().aggregate({ since: T0, until: T0 + HOUR }));
    assert.equal(stats.series[0]?.requests, 360);
    c.store.baselines().save({ name: "clean", savedAt: T0 + HOUR, since: T0, until: T0 + HOUR, chain: null, stats: JSON.stringify(stats) });

    // 100 days on: past every retention (raw 7 d, minute rollups 14 d, hour and day rollups 90 d).
    const later = T0 + 100 * DAY;
    c.at(later);
    assert.ok(c.store.pruneAll() > 0, "pruning deleted the period's rows");
    assert.deepEqual(c.store.reader().aggregate({ since: T0, until: T0 + HOUR }).series, [], "nothing of the period is left");
    write(c, probes(later, HOUR, 65), later + HOUR + 5 * MIN);

    const now = later + HOUR + 5 * MIN;
    const named = parseReportQuery({ since: new Date(later).toISOString(), until: new Date(later + HOUR).toISOString(), baseline: "@clean" }, now);
    const r = buildReport(named, [], c.store.reader(), now);
    assert.equal(r.comparison?.baseline.kind, "named");
    assert.equal(r.comparison?.baseline.since, T0);
    const row = p50Row(r);
    assert.equal(row.baseline.samples, 360, "the baseline's samples come from the saved statistics");
    assert.equal(row.verdict, "regression", row.reason);
    assert.equal(r.comparison?.regression, true);
    assert.match(renderMarkdown(r), /## Baseline comparison[\s\S]*saved baseline "clean"[\s\S]*latency_p50_ms[^\n]*REGRESSION/);

    // The same period as a range has nothing left to compare with.
    const range = buildReport({ ...named, baseline: { kind: "range", since: T0, until: T0 + HOUR } }, [], c.store.reader(), now);
    assert.equal(p50Row(range).verdict, "no_data");
    assert.equal(range.comparison?.regression, false);

    assert.throws(() => buildReport({ ...named, baseline: { kind: "named", name: "nope" } }, [], c.store.reader(), now), ReportQueryError);
    c.store.close();

    // Another process (the CLI beside the daemon) reads and deletes it on its own connection.
    const { store, db } = BaselineStore.openFile(path);
    assert.deepEqual(store.list().map((b) => b.name), ["clean"]);
    assert.equal(store.delete("clean"), true);
    db.close();
  });
});

describe("baseline= query", () => {
  const now = T0 + 10 * DAY;
  test("a duration is the period of that length right before since", () => {
    const q = parseReportQuery({ since: "24h", baseline: "7d" }, now);
    assert.deepEqual(q.baseline, { kind: "range", since: now - 8 * DAY, until: now - DAY });
  });
  test("FROM..TO is an absolute range", () => {
    const q = parseReportQuery({ since: "24h", baseline: "2025-01-16T00:00:00Z..2025-01-17T00:00:00Z" }, now);
    assert.deepEqual(q.baseline, { kind: "range", since: Date.UTC(2025, 0, 16), until: Date.UTC(2025, 0, 17) });
  });
  test("@NAME and a bare name are a saved baseline", () => {
    assert.deepEqual(parseReportQuery({ baseline: "@pre-deploy" }, now).baseline, { kind: "named", name: "pre-deploy" });
    assert.deepEqual(parseReportQuery({ baseline: "v1.2" }, now).baseline, { kind: "named", name: "v1.2" });
  });
  const refused: [string, string, RegExp][] = [
    ["an overlapping range", "2025-01-24T00:00:00Z..2025-01-25T12:00:00Z", /must end at or before the report's since/],
    ["a single absolute time", "2025-01-16T00:00:00Z", /must be a duration/],
    ["a bad name", "@1abc", /invalid baseline name/],
    ["an empty value", "", /empty/],
    ["a reversed range", "2025-01-17T00:00:00Z..2025-01-16T00:00:00Z", /FROM must be before TO/],
  ];
  for (const [what, value, message] of refused) {
    test(`refuses ${what}`, () => {
      assert.throws(() => parseReportQuery({ since: "24h", baseline: value }, now), (e: unknown) => e instanceof ReportQueryError && message.test(e.message));
    });
  }
  test("a range wholly past retention is refused; one partly past it is clamped", () => {
    assert.throws(() => parseReportQuery({ since: "24h", baseline: "30d..20d" }, now, { retentionDays: 14 }), /older than the store's retention/);
    assert.deepEqual(parseReportQuery({ since: "24h", baseline: "30d" }, now, { retentionDays: 14 }).baseline, { kind: "range", since: now - 14 * DAY, until: now - DAY });
  });
});

describe("comparison: in the daemon config", () => {
  function planWith(lines: string[]): ReturnType<typeof loadPlan> {
    const dir = mkdtempSync(join(os.tmpdir(), "canary-comparison-config-"));
    try {
      return loadPlan(writePlan(dir, { ethereum: blockNumberChecks("ethereum", 1, ["alpha"]) }, { extraConfig: lines }), { LASSO_URL: "http://127.0.0.1:1" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test("absent: the defaults", () => {
    assert.deepEqual(planWith([]).comparison, DEFAULT_COMPARISON);
  });

  test("per-SLI thresholds and alpha override only what they name", () => {
    const c = planWith(["comparison:", "  alpha: 0.05", "  thresholds:", "    latency: { relative: 0.2, absolute: 5ms }", "    headLag: { absolute: 1 }"]).comparison;
    assert.equal(c.alpha, 0.05);
    assert.deepEqual(c.thresholds.latency, { relative: 0.2, absolute: 5 });
    assert.deepEqual(c.thresholds.headLag, { relative: 0.1, absolute: 1 });
    assert.deepEqual(c.thresholds.overhead, DEFAULT_COMPARISON.thresholds.overhead);
  });

  test("bad values are refused with their path", () => {
    assert.throws(
      () => planWith(["comparison:", "  alpha: 2", "  thresholds:", "    latency: { relative: -1 }", "    lag: {}"]),
      (e: unknown) => e instanceof PlanError &&
        /comparison\.alpha: must be < 1/.test(e.message) && /comparison\.thresholds\.latency\.relative: must be >= 0/.test(e.message) &&
        /comparison\.thresholds\.lag: unknown key/.test(e.message),
    );
  });
});
