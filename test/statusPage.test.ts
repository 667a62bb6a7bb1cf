import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Sample } from "../src/samples.js";
import { StatusBoard, type ChainState } from "../src/status/board.js";
import { cachedFor } from "../src/status/cache.js";
import { renderStatusPage } from "../src/status/page.js";
import { MIN, T0, continuitySample, probeSample } from "./helpers/storeFixtures.js";

const SLOS = [{ chain: "ethereum", successRatio: 0.99, p95LatencyMs: 300, maxHeadLagBlocks: 2 }];
const NOW = T0 + 30 * MIN;

/** 20 answers per route over the last 5 minutes: default and pin:alpha, well-formed unless told. */
function traffic(over: (route: string, i: number) => Partial<import("../src/samples.js").ProbeSample> = () => ({})): Sample[] {
  const out: Sample[] = [];
  for (const route of ["default", "pin:alpha"]) {
    for (let i = 0; i < 20; i++) out.push(probeSample(NOW - 5 * MIN + i * 15_000, { route, ...over(route, i) }));
  }
  return out;
}

const failed = { outcome: "error", errorClass: "timeout", correct: null, headLagBlocks: null } as const;

describe("status board", () => {
  const cases: { name: string; samples: Sample[]; state: ChainState; reason?: RegExp }[] = [
    { name: "healthy: up", samples: traffic(), state: "up" },
    { name: "nothing seen: no data", samples: [], state: "no_data" },
    { name: "a pin failing: degraded (its SLO fails, clients are fine)", samples: traffic((r) => (r === "pin:alpha" ? failed : {})), state: "degraded", reason: /^pin:alpha: 0% answered/ },
    { name: "the strategy route failing: down", samples: traffic((r) => (r === "default" ? failed : {})), state: "down", reason: /^clients: 0% of requests answered/ },
    { name: "slow answers: degraded", samples: traffic((_r, i) => (i % 4 === 0 ? { latencyMs: 900 } : {})), state: "degraded", reason: /p95 latency over 300 ms/ },
    { name: "stale answers: degraded", samples: traffic((_r, i) => (i % 2 === 0 ? { headLagBlocks: 5 } : {})), state: "degraded", reason: /more than 2 blocks behind/ },
    { name: "a stalled watcher: degraded", samples: [...traffic(), continuitySample(NOW - MIN, { event: "stall", delayMs: null, count: 6000 })], state: "degraded", reason: /newHeads:default: stalled since/ },
    { name: "a stall that ended: up", samples: [...traffic(), continuitySample(NOW - 2 * MIN, { event: "stall", delayMs: null }), continuitySample(NOW - MIN, { event: "stall", delayMs: 60_000 })], state: "up" },
    { name: "a gap in the window: degraded", samples: [...traffic(), continuitySample(NOW - MIN, { event: "gap", count: 2, delayMs: null })], state: "degraded", reason: /2 never delivered/ },
    { name: "failures older than the window: up", samples: [...traffic(), ...Array.from({ length: 10 }, (_, i) => probeSample(NOW - 20 * MIN + i, { ...failed }))], state: "up" },
    { name: "the canary profile failing (chaos): up", samples: [...traffic(), ...Array.from({ length: 10 }, (_, i) => probeSample(NOW - MIN + i, { route: "canary/fastest", ...failed }))], state: "up" },
    { name: "plan mismatches: left out", samples: [...traffic(), ...Array.from({ length: 10 }, (_, i) => probeSample(NOW - MIN + i, { route: "pin:zulu", ...failed, errorClass: "plan_mismatch" }))], state: "up" },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const board = new StatusBoard(() => SLOS);
      for (const s of c.samples) board.accept(s);
      const [eth] = board.snapshot(NOW).chains;
      assert.equal(eth?.chain, "ethereum");
      assert.equal(eth?.state, c.state, `reasons: ${JSON.stringify(eth?.reasons)}`);
      if (c.reason) assert.ok(eth?.reasons.some((r) => c.reason?.test(r)), `a reason matching ${c.reason}: ${JSON.stringify(eth?.reasons)}`);
      else assert.deepEqual(eth?.reasons, []);
    });
  }

  test("last incident: the latest failure, kept after the window", () => {
    const board = new StatusBoard(() => SLOS);
    board.accept(probeSample(T0, { ...failed, errorDetail: "no answer in 1000 ms" }));
    board.accept(probeSample(T0 + MIN, { route: "pin:alpha", ...failed, errorClass: "http_502", errorDetail: null }));
    board.accept(probeSample(T0 + 2 * MIN));
    assert.deepEqual(board.snapshot(NOW).chains[0]?.lastIncident, { at: T0 + MIN, text: "pin:alpha eth_blockNumber: http_502" });
  });
});

describe("status page", () => {
  test("escapes names, links the report ranges in html, refreshes itself without a script", () => {
    const hostile = `<script>alert(1)</script>`;
    const board = new StatusBoard(() => []);
    // No slash in the route: a slash names a profile, and only the public one is judged.
    board.accept(probeSample(NOW - MIN, { chain: hostile, route: `r<img src=x onerror="alert(2)">`, ...failed, errorDetail: hostile }));
    const html = renderStatusPage(board.snapshot(NOW));
    assert.equal(html.match(/<script|<img/gi)?.length ?? 0, 0, "no script or img element");
    assert.ok(html.includes("r&lt;img src=x onerror=&quot;alert(2)&quot;&gt;"), "the route is shown escaped");
    assert.match(html, /data-chain="&lt;script&gt;alert\(1\)&lt;\/script&gt;" data-state="down"/);
    assert.match(html, /<meta http-equiv="refresh" content="15">/);
    for (const r of ["1h", "24h", "7d", "30d"]) assert.ok(html.includes(`<a href="report?since=${r}&amp;format=html">last ${r}</a>`), `link to ${r}`);
    assert.ok(html.includes(`href="report?since=24h&amp;chain=%3Cscript%3Ealert(1)%3C%2Fscript%3E&amp;format=html"`), "per-chain links encode the name");
    assert.match(html, /As of 2025-01-15 00:30 UTC, over the last 10 min/);
  });

  test("cachedFor renders at most once per ttl", () => {
    let now = 0;
    let renders = 0;
    const page = cachedFor(5000, () => `r${++renders}`, () => now);
    assert.equal(page(), "r1");
    now = 4999;
    assert.equal(page(), "r1");
    now = 5000;
    assert.equal(page(), "r2");
    assert.equal(renders, 2);
  });
});
