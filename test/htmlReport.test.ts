import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildReport } from "../src/report/build.js";
import { renderHtml } from "../src/report/html/page.js";
import { ReportRunner } from "../src/report/runner.js";
import type { ChaosWindowReport, Report, SloObjective } from "../src/report/types.js";
import type { Sample } from "../src/samples.js";
import { createRequire } from "node:module";
import { latencyIndex, percentilesOfCounts } from "../src/store/latency.js";
import { chooseStep } from "../src/store/timeline.js";
import { SampleStore } from "../src/store/store.js";
import { DAY, HOUR, MIN, T0, continuitySample, probeSample, rng, tempDbPaths } from "./helpers/storeFixtures.js";

const newPath = tempDbPaths("lasso-canary-html-test-");
const HOSTILE = `<script>alert("x")</script>'"&`;
const SLOS: SloObjective[] = [{ chain: "ethereum", successRatio: 0.999, p95LatencyMs: 300, maxHeadLagBlocks: 2 }];

function storeWith(samples: readonly Sample[], now: number, compact = true): SampleStore {
  const store = new SampleStore({ path: newPath(), now: () => now, flushIntervalMs: 0 });
  for (const s of samples) store.accept(s);
  assert.equal(store.flush(), true, "the queued samples are written");
  if (compact) store.compact();
  return store;
}

/** Every 5 min for `span` from T0: ethereum default + pin:alpha (head lag), base default (no head), one newHeads watcher on ethereum. */
function fixture(span: number, over: { chain?: string; route?: string; provider?: string; errorDetail?: string; watcher?: string } = {}): Sample[] {
  const out: Sample[] = [];
  const eth = over.chain ?? "ethereum";
  for (let t = T0; t < T0 + span; t += 5 * MIN) {
    out.push(probeSample(t, { chain: eth, route: over.route ?? "default", provider: over.provider ?? "alpha", headLagBlocks: 1 }));
    out.push(probeSample(t + 1000, { chain: eth, route: "pin:alpha", provider: "alpha", headLagBlocks: 0 }));
    out.push(probeSample(t + 2000, { chain: "base", route: "default", provider: "bravo", headLagBlocks: null, blockHeight: null }));
    out.push(continuitySample(t, { chain: eth, watcher: over.watcher ?? "newHeads:default" }));
  }
  // One failure with a detail, one gap.
  out.push(probeSample(T0 + 2 * HOUR + 10, {
    chain: eth, route: over.route ?? "default", outcome: "error", errorClass: "timeout", errorDetail: over.errorDetail ?? "no answer", provider: null,
  }));
  out.push(continuitySample(T0 + 3 * HOUR, { chain: eth, watcher: over.watcher ?? "newHeads:default", event: "gap", count: 2, delayMs: null, detail: over.errorDetail ?? "gap" }));
  return out;
}

function render(samples: Sample[], range: { since: number; until: number }, extra: (r: Report) => void = () => undefined): { html: string; report: Report } {
  const store = storeWith(samples, range.until);
  try {
    const reader = store.reader();
    const report = buildReport(range, SLOS, reader, range.until);
    extra(report);
    return { html: renderHtml(report, reader.timeline(range)), report };
  } finally {
    store.close();
  }
}

/** The HTML of each chain's section, by its data-chain attribute (escaped as written). */
function chainSections(html: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /<section class="chain" data-chain="([^"]*)">([\s\S]*?)<\/section>/g;
  for (let m = re.exec(html); m !== null; m = re.exec(html)) out.set(m[1] ?? "", m[2] ?? "");
  return out;
}

const count = (s: string, re: RegExp): number => s.match(re)?.length ?? 0;

function chaosWindow(over: Partial<ChaosWindowReport> = {}): ChaosWindowReport {
  return {
    id: 1, name: "eth-alpha-5xx", chain: "ethereum", provider: "alpha", kind: "fault", fault: { kind: "http_5xx", status: 503 } as ChaosWindowReport["fault"],
    trigger: "schedule", plannedStart: T0 + HOUR, plannedEnd: T0 + HOUR + 5 * MIN, started: T0 + HOUR, ended: T0 + HOUR + 5 * MIN,
    verdict: "fail", reasons: ["failover_slow: 12 s > 5 s"], abortReason: null, figures: null, ...over,
  };
}

describe("HTML report", () => {
  test("escapes every string from data: chain, route, provider, watcher, error detail, chaos window", () => {
    const range = { since: T0, until: T0 + 6 * HOUR };
    const { html } = render(fixture(6 * HOUR, { chain: `eth${HOSTILE}`, route: `r${HOSTILE}`, provider: `p${HOSTILE}`, errorDetail: `d${HOSTILE}`, watcher: `w${HOSTILE}` }), range,
      (r) => r.chaos.push(chaosWindow({ chain: `eth${HOSTILE}`, name: `n${HOSTILE}`, provider: `p${HOSTILE}`, reasons: [`why${HOSTILE}`] })));
    assert.equal(count(html, /<script/gi), 0, "no script element made it through");
    assert.doesNotMatch(html, /alert\("x"\)/, "quotes inside data are escaped too");
    // Each hostile string shows up escaped where it belongs.
    for (const prefix of ["eth", "r", "p", "w", "n", "why"]) {
      assert.ok(html.includes(`${prefix}&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&quot;&amp;`), `${prefix}<script>... is shown escaped`);
    }
    assert.ok(chainSections(html).has(`eth&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&quot;&amp;`), "the chain's section attribute holds the escaped name");
  });

  test("states the range in UTC and reads nothing from the network", () => {
    const range = { since: T0 + 90 * MIN, until: T0 + 5 * HOUR + 30 * MIN };
    const { html } = render(fixture(6 * HOUR), range);
    assert.match(html, /<p>2025-01-15 01:30 UTC to 2025-01-15 05:30 UTC \(4 h, UTC\)<\/p>/);
    assert.match(html, /Range: <strong>2025-01-15 01:30 UTC<\/strong> to <strong>2025-01-15 05:30 UTC<\/strong>/);
    assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
    assert.match(html, /@media print/);
    assert.match(html, /Content-Security-Policy" content="default-src &#39;none&#39;/);
    assert.doesNotMatch(html, /\b(src|href)="(https?:)?\/\//, "no external resource or link");
    assert.doesNotMatch(html, /url\(|@import/, "no CSS fetch");
  });

  test("every chart has a title, a description and a data table next to it", () => {
    const range = { since: T0, until: T0 + 6 * HOUR };
    const { html } = render(fixture(6 * HOUR), range);
    const svgs = html.match(/<svg[^>]*>[\s\S]*?<\/svg>/g) ?? [];
    assert.ok(svgs.length > 0, "the page has charts");
    for (const svg of svgs) {
      const labelled = /aria-labelledby="(\w+) (\w+)"/.exec(svg);
      assert.ok(labelled, `chart labelled: ${svg.slice(0, 120)}`);
      assert.match(svg, new RegExp(`<title id="${labelled[1]}">[^<]+</title><desc id="${labelled[2]}">[^<]+</desc>`));
    }
    const figures = html.match(/<figure[\s\S]*?<\/figure>/g) ?? [];
    assert.equal(figures.length > 0, true);
    for (const f of figures) assert.match(f, /<details><summary>Data[^<]*<\/summary><div class="scroll"><table class="data">/);
    assert.equal(count(html, /<svg /g), figures.reduce((n, f) => n + count(f, /<svg /g), 0), "every chart sits in a figure with its table");
    // The data table has one row per bucket: 6 h at 5 min buckets = 72.
    const defaultTable = /data-route="default">[\s\S]*?<tbody>\n([\s\S]*?)\n<\/tbody>/.exec(chainSections(html).get("ethereum") ?? "");
    assert.equal(defaultTable?.[1]?.split("\n").length, 72);
    assert.match(defaultTable?.[1] ?? "", /<tr><th scope="row">01-15 02:00<td>2<td>50%<td>/, "the failed probe's bucket shows 1 of 2 answered");
  });

  test("charts per chain: 2 per route, provider share, head lag when there is one, continuity when watched", () => {
    const range = { since: T0, until: T0 + 6 * HOUR };
    const { html, report } = render(fixture(6 * HOUR), range);
    const sections = chainSections(html);
    assert.deepEqual([...sections.keys()], ["base", "ethereum"]);
    // base: default only (no head lag, no watcher): success + latency + provider share.
    assert.equal(count(sections.get("base") ?? "", /<svg class="chart /g), 3);
    // ethereum: default + pin:alpha (4) + provider share of default + head lag + continuity.
    assert.equal(count(sections.get("ethereum") ?? "", /<svg class="chart /g), 7);
    assert.equal(count(html, /<tr class="slo-row /g), report.chains.reduce((n, c) => n + c.slo.length, 0), "one row per SLO row");
    assert.match(sections.get("ethereum") ?? "", /class="m-gap"[^>]*><title>newHeads:default, bucket from 2025-01-15 03:00 UTC: 2 never delivered<\/title>/);
  });

  test("chaos windows: a row with the verdict and reasons, and a band on that chain's charts only", () => {
    const range = { since: T0, until: T0 + 6 * HOUR };
    const { html } = render(fixture(6 * HOUR), range, (r) => r.chaos.push(chaosWindow()));
    assert.match(html, /<tr class="chaos-row v-fail"><td>eth-alpha-5xx<td>ethereum<td>alpha<td>http_5xx<td>schedule<td>2025-01-15 01:00 UTC<td>2025-01-15 01:05 UTC<td class="verdict">fail<td>-<td>failover_slow: 12 s &gt; 5 s/);
    const s = chainSections(html);
    assert.equal(count(s.get("ethereum") ?? "", /<rect class="band"/g), 7, "one band per ethereum chart");
    assert.equal(count(s.get("base") ?? "", /<rect class="band"/g), 0);
  });

  test("a baseline comparison is a section with one row per compared metric, regressions first, names escaped", () => {
    // Day 2 is twice as slow as day 1 on the hostile chain's default route.
    const samples = [...fixture(2 * DAY, { chain: `eth${HOSTILE}` })].map((x) =>
      x.kind === "probe" && x.ts >= T0 + DAY && x.route === "default" && x.latencyMs !== null ? { ...x, latencyMs: x.latencyMs * 2 } : x);
    const range = { since: T0 + DAY, until: T0 + 2 * DAY, baseline: { kind: "range" as const, since: T0, until: T0 + DAY } };
    const { html, report } = render(samples, range);
    const c = report.comparison;
    assert.notEqual(c, null, "the report compared the ranges");
    if (c === null) return;
    const section = /<section id="comparison">([\s\S]*?)<\/section>/.exec(html)?.[1] ?? "";
    assert.equal(count(section, /<tr class="cmp-row /g), c.rows.length, "one row per compared metric");
    const verdicts = [...section.matchAll(/<tr class="cmp-row v-([a-z_]+)"/g)].map((m) => m[1]);
    const order = ["regression", "improved", "inconclusive", "ok", "no_data"];
    assert.deepEqual(verdicts, [...verdicts].sort((a, b) => order.indexOf(a ?? "") - order.indexOf(b ?? "")), "regressions come first");
    assert.equal(verdicts[0], "regression", `the doubled latency is a regression: ${verdicts.join(",")}`);
    assert.match(section, /<strong>Regression<\/strong>/);
    assert.equal(count(html, /<script/gi), 0, "no script element made it through");
  });

  test("soak verdicts are a section (absent without soak sampling)", () => {
    const range = { since: T0, until: T0 + 6 * HOUR };
    const judged = {
      status: "leak_suspected" as const, window: { from: T0, to: T0 + 6 * HOUR }, samples: 360, slopePerHour: 2, lowerPerHour: 1.8, upperPerHour: 2.2,
      baseline: 200, percentPerHour: 1, lowerPercentPerHour: 0.9, upperPercentPerHour: 1.1, halvesPerHour: [2, 2] as [number, number], tau: 0.9,
      residualMad: 0.5, residualMadPercent: 0.25, reason: `lower bound 0.9 %/h${HOSTILE}`,
    };
    const plain = render(fixture(6 * HOUR), range).html;
    assert.doesNotMatch(plain, /<section id="soak">/, "no soak section without soak sampling");
    const { html } = render(fixture(6 * HOUR), range, (r) => {
      r.soak = {
        at: range.until,
        settings: {
          pollIntervalMs: 60_000, timeoutMs: 10_000, windowMs: 6 * HOUR, warmupMs: 30 * MIN, minSpanMs: 2 * HOUR, confidence: 0.95, minPercentPerHour: 0.5, restartDropRatio: 0.5,
          minAbsPerHour: { memory_mb: 1, process_count: 1, run_queue: 1, rss_mb: 1, heap_mb: 1, loop_lag_ms: 1 },
        },
        subjects: [{
          subject: "lasso", target: `node${HOSTILE}`, chain: "ethereum", polls: 360, pollErrors: 0, errorClasses: [], restarts: 0, seriesStart: T0, lastRestart: null,
          metrics: [{ ...judged, metric: "memory_mb", value: 212 }],
        }],
      };
    });
    const section = /<section id="soak">([\s\S]*?)<\/section>/.exec(html)?.[1] ?? "";
    assert.equal(count(section, /<tr class="soak-row s-leak_suspected"/g), 1, "the suspected series is a row");
    assert.match(section, /Leak suspected: node&lt;script&gt;/);
    assert.match(section, /\+2\.000 \/h \[\+1\.800, \+2\.200\]/);
    assert.equal(count(html, /<script/gi), 0, "no script element made it through");
  });

  test("an empty range renders a page that says so, without charts", () => {
    const range = { since: T0 + 10 * DAY, until: T0 + 11 * DAY };
    const { html } = render(fixture(HOUR), range);
    assert.match(html, /No samples in this range/);
    assert.equal(count(html, /<svg/g), 0);
  });

  test("the daemon's worker renders html (format=html through ReportRunner)", async () => {
    const now = T0 + 2 * HOUR;
    const store = storeWith(fixture(2 * HOUR), now);
    const runner = new ReportRunner({ path: store.path });
    try {
      const html = await runner.render({ since: T0, until: now }, SLOS, "html", now);
      assert.match(html, /^<!doctype html>/);
      assert.equal(count(html, /<section class="chain"/g), 2);
    } finally {
      await runner.close();
      store.close();
    }
  });
});

describe("timeline", () => {
  const none = { minute: 0, hour: 0, continuityMinute: 0 };
  for (const [label, span, stepMs, level] of [
    ["1h", HOUR, MIN, "minute"],
    ["6h", 6 * HOUR, 5 * MIN, "minute"],
    ["24h", DAY, HOUR, "hour"],
    ["7d", 7 * DAY, 2 * HOUR, "hour"],
    ["30d", 30 * DAY, DAY, "day"],
    ["90d", 90 * DAY, DAY, "day"],
  ] as const) {
    test(`${label}: step ${stepMs / MIN} min from ${level} rollups (at most 500 rows per series, 120 buckets)`, () => {
      const since = T0 + 17 * MIN + 5_000;
      assert.deepEqual(chooseStep(since, since + span, none), { stepMs, level });
    });
  }

  test("percentiles of sparse counts are HdrHistogram's own (same histogram, replayed)", () => {
    const Hist = (createRequire(import.meta.url)("hdr-histogram-js/dist/Float64Histogram.js") as typeof import("hdr-histogram-js/dist/Float64Histogram.js")).default;
    const rand = rng(5);
    for (const n of [1, 2, 7, 100, 1000]) {
      const h = new Hist(1, 3_600_000_000, 2);
      const counts = new Map<number, number>();
      for (let i = 0; i < n; i++) {
        const us = Math.round(Math.exp(7 + 4 * rand()));
        h.recordValue(us);
        counts.set(latencyIndex(us), (counts.get(latencyIndex(us)) ?? 0) + 1);
      }
      const ps = [0, 50, 95, 99, 99.9, 100];
      assert.deepEqual(percentilesOfCounts(counts, ps), ps.map((p) => h.getValueAtPercentile(p) / 1000), `n=${n}`);
    }
    assert.deepEqual(percentilesOfCounts(new Map(), [50]), [null]);
  });

  test("minute rollups pruned before since: hour buckets", () => {
    assert.deepEqual(chooseStep(T0, T0 + HOUR, { minute: T0 + DAY, hour: 0, continuityMinute: 0 }), { stepMs: HOUR, level: "hour" });
  });

  test("buckets merge methods per route, skip plan mismatches, and include samples not yet compacted", () => {
    const samples: Sample[] = [
      probeSample(T0 + 10_000, { method: "eth_blockNumber", latencyMs: 10 }),
      probeSample(T0 + 20_000, { method: "eth_chainId", latencyMs: 30 }),
      probeSample(T0 + 30_000, { outcome: "error", errorClass: "plan_mismatch", correct: null }),
      probeSample(T0 + 40_000, { outcome: "error", errorClass: "timeout", correct: null }),
      continuitySample(T0 + 5_000),
      continuitySample(T0 + 6_000, { event: "duplicate", count: 3, delayMs: null }),
    ];
    const store = storeWith(samples, T0 + 2 * MIN, false);
    try {
      const tl = store.reader().timeline({ since: T0, until: T0 + 2 * MIN });
      assert.equal(tl.stepMs, MIN);
      assert.deepEqual(tl.buckets, [T0, T0 + MIN]);
      const [route] = tl.routes;
      assert.equal(tl.routes.length, 1, "two methods of one route are one timeline");
      assert.deepEqual(route?.requests, [3, 0], "the plan mismatch is not counted");
      assert.deepEqual(route?.successRatio, [2 / 3, null]);
      assert.ok(Math.abs((route?.p50[0] ?? 0) - 10) <= 0.1, `p50 ${route?.p50[0]} of 10 and 30 ms`);
      assert.deepEqual(tl.watchers.map((w) => [w.delivered, w.duplicates]), [[[1, 0], [3, 0]]]);
    } finally {
      store.close();
    }
  });
});
