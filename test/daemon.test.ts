import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { Report, SeriesReport } from "../src/report/index.js";
import { StoreReader } from "../src/store/index.js";
import { blockNumberChecks, startCanaryBed, type CanaryBed } from "./helpers/canaryBed.js";
import { waitFor } from "./helpers/waitFor.js";

// One test bed and daemon for the whole file: the tests run in order and each undoes the
// faults it sets. Probes run every second on every route.
const PROVIDERS = ["alpha", "bravo", "charlie"];
/** The delivery delay objective the checks set, and the watcher it judges. */
const MAX_DELIVERY_DELAY_MS = 3000;
const CHECKS = blockNumberChecks("ethereum", 1, PROVIDERS, "watchers:\n  - { subscription: newHeads, routes: [load-balanced] }\n")
  .replace("maxHeadLagBlocks: 2 }", `maxHeadLagBlocks: 2, maxDeliveryDelay: ${MAX_DELIVERY_DELAY_MS / 1000}s }`);
/** HdrHistogram with 2 significant digits: a percentile reads back at most 10^-2 (1%) above the sample. */
const HDR_PRECISION = 10 ** -2;

async function report(c: CanaryBed, since: number): Promise<Report> {
  const res = await fetch(`${c.daemon.url}/report?since=${(since / 1000).toFixed(3)}`);
  assert.equal(res.status, 200);
  return (await res.json()) as Report;
}

function series(r: Report, route: string, method = "eth_blockNumber"): SeriesReport | undefined {
  return r.chains.find((ch) => ch.chain === "ethereum")?.series.find((s) => s.route === route && s.method === method);
}

function served(s: SeriesReport | undefined, provider: string): number {
  return s?.providers.find((p) => p.provider === provider)?.count ?? 0;
}

/** Waits until the report since `since` has at least `n` requests on `route`, and returns it. */
async function reportWith(c: CanaryBed, since: number, route: string, n: number): Promise<Report> {
  return waitFor(
    async () => {
      const r = await report(c, since);
      return (series(r, route)?.requests ?? 0) >= n ? r : null;
    },
    { timeoutMs: 45_000, intervalMs: 250, message: `${n} probes on ${route}` },
  );
}

describe("daemon against the test bed", { timeout: 200_000 }, () => {
  let c: CanaryBed;
  before(async () => {
    c = await startCanaryBed(
      { chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: PROVIDERS }], healthPollMs: 250, breakerOpenMs: 120_000 },
      { ethereum: CHECKS },
    );
  });
  after(async () => {
    await c?.stop();
  });

  test("healthy: every provider serves the strategy route; /metrics and /readyz agree", async () => {
    const t0 = Date.now();
    await waitFor(async () => {
      const lb = series(await report(c, t0), "load-balanced");
      return PROVIDERS.every((p) => served(lb, p) > 0);
    }, {
      timeoutMs: 30_000,
      message: "every provider to serve the load-balanced route",
    });
    const metrics = await (await fetch(`${c.daemon.url}/metrics`)).text();
    assert.match(metrics, /lasso_canary_probe_requests_total\{target="lb",chain="ethereum",route="load-balanced",method="eth_blockNumber",outcome="ok",error_class="none"\} \d+/);
    assert.match(metrics, /lasso_canary_probe_served_total\{target="lb",chain="ethereum",route="load-balanced",provider="bravo",transport="(http|ws|unknown)"\} [1-9]/);
    assert.match(metrics, /lasso_canary_build_info\{version="[^"]+",node_version="v20/);
    assert.doesNotMatch(metrics, /127\.0\.0\.1/, "no URL leaks into labels");
    // prom-client's process and heap metrics under their standard names, loaded one by one; the probe timers feed the loop-lag histogram.
    for (const m of ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "nodejs_heap_size_used_bytes"]) {
      assert.match(metrics, new RegExp(`^${m}(\\{[^}]*\\})? \\d`, "m"), m);
    }
    assert.match(metrics, /^lasso_canary_eventloop_lag_seconds_count [1-9]/m);
    // Each report flushes the store first: its write transactions are timed.
    assert.match(metrics, /^lasso_canary_store_transaction_duration_seconds_count\{phase="write"\} [1-9]/m);
    const ready = await fetch(`${c.daemon.url}/readyz`);
    assert.equal(ready.status, 200);
  });

  test("a dead provider behind a strategy route shifts the distribution, success unchanged; its pin fails visibly", async () => {
    const bravo = c.bed.provider("ethereum", "bravo");
    bravo.setFault({ kind: "reset" }, 120_000);
    const t1 = Date.now();
    try {
      const r = await reportWith(c, t1, "load-balanced", 15);
      const lb = series(r, "load-balanced");
      assert.equal(lb?.successRatio, 1, `clients see no failure: ${JSON.stringify(lb?.errors)}`);
      assert.equal(served(lb, "bravo"), 0, "bravo served nothing after it died");
      assert.ok(served(lb, "alpha") > 0 && served(lb, "charlie") > 0, "the others took over");

      const pin = series(r, "pin:bravo");
      assert.ok(pin && pin.requests > 0, "bravo's pin was probed");
      assert.equal(pin.ok, 0, "every probe through bravo's pin failed");
      // Lasso's network-error code until the breaker opens, then its no-channel error: never a timeout or a crash.
      const classes = pin.errors.map((e) => e.errorClass);
      assert.ok(classes.includes("rpc_-32004"), `the reset is seen as an upstream network error: ${classes.join(", ")}`);
      assert.ok(classes.every((k) => k === "rpc_-32004" || k === "rpc_-32000"), `only Lasso's upstream error codes: ${classes.join(", ")}`);
      for (const p of ["alpha", "charlie"]) assert.equal(series(r, `pin:${p}`)?.successRatio, 1, `pin:${p} unaffected`);
    } finally {
      bravo.clearFault();
    }
  });

  test("a stale provider is excluded by healthy routing, and the stale-routing defect shows as head lag over the threshold", async () => {
    const charlie = c.bed.provider("ethereum", "charlie");
    charlie.setFault({ kind: "stale_head", blocks: 6 }, 120_000);
    try {
      // Control: Lasso excludes the laggard; the strategy route stays fresh while charlie's pin lags.
      const tControl = Date.now() + 2000; // let Lasso's head poll see charlie fall behind
      const control = await reportWith(c, tControl, "load-balanced", 8);
      assert.equal(series(control, "load-balanced")?.head.overThreshold, 0, "no stale answers while routing excludes charlie");
      assert.ok((series(control, "pin:charlie")?.head.maxLag ?? 0) >= 4, "charlie's own pin shows its lag");

      c.bed.lasso.setDefects({ staleRouting: true });
      const tDefect = Date.now();
      const r = await reportWith(c, tDefect, "load-balanced", 8);
      const lb = series(r, "load-balanced");
      assert.ok(lb && (lb.head.maxLag ?? 0) > 2, `served head lags: ${JSON.stringify(lb?.head)}`);
      assert.ok(lb.head.overThreshold > 0, `answers over the lag threshold: ${JSON.stringify(lb.head)}`);
      assert.ok(served(lb, "charlie") > 0, "the lagging provider served");
      const freshness = r.chains[0]?.slo.find((s) => s.route === "load-balanced" && s.sli === "head_freshness");
      assert.equal(freshness?.pass, false, "the freshness SLO fails");
      // A stale answer burns the freshness budget, not availability: it is stored as a well-formed answer.
      const reader = StoreReader.open(c.plan.store.path);
      let stale;
      try {
        stale = reader.probeSamples({ since: tDefect, until: Date.now() })
          .filter((x) => x.route === "load-balanced" && x.failedAssertions.includes("freshness"));
      } finally {
        reader.close();
      }
      assert.ok(stale.length > 0, "stale answers were recorded");
      assert.deepEqual([...new Set(stale.map((x) => `${x.outcome} ${x.errorClass}`))], ["ok null"]);
      assert.equal(lb.errors.some((e) => e.errorClass === "assertion"), false, `no answer counted unavailable: ${JSON.stringify(lb.errors)}`);
      const metrics = await (await fetch(`${c.daemon.url}/metrics`)).text();
      assert.match(metrics, /lasso_canary_assertion_failures_total\{target="lb",chain="ethereum",route="load-balanced",assertion="freshness"\} [1-9]/);
    } finally {
      c.bed.lasso.setDefects({ staleRouting: false });
      charlie.clearFault();
    }
  });

  test("p95 in /report is the raw well-formed answers' p95, within the histogram's 1%", async () => {
    const since = Date.now() - 60 * 60_000;
    // Ends in the past so that every probe sent before it has been answered and recorded.
    const until = Date.now() - 3000;
    const res = await fetch(`${c.daemon.url}/report?since=${(since / 1000).toFixed(3)}&until=${(until / 1000).toFixed(3)}`);
    assert.equal(res.status, 200);
    const r = (await res.json()) as Report;
    const reader = StoreReader.open(c.plan.store.path);
    let raw;
    try {
      raw = reader.probeSamples({ since, until }).filter((s) => s.route === "load-balanced" && s.method === "eth_blockNumber" && s.outcome === "ok");
    } finally {
      reader.close();
    }
    const reported = series(r, "load-balanced");
    assert.ok(reported && raw.length >= 10, `enough samples (${raw.length})`);
    assert.equal(reported.ok, raw.length, "the report counts exactly the raw well-formed answers");
    const sorted = raw.map((s) => s.latencyMs).sort((a, b) => a - b);
    const exact = sorted[Math.ceil(0.95 * sorted.length) - 1] ?? NaN;
    const row = r.chains[0]?.slo.find((s) => s.route === "load-balanced" && s.sli === "latency_p95_ms");
    for (const [what, p95] of [["series", reported.latencyMs.p95], ["SLO row", row?.actual]] as const) {
      assert.ok(p95 !== null && p95 !== undefined && p95 >= exact && p95 <= exact * (1 + HDR_PRECISION), `${what} p95 ${p95} vs raw ${exact}`);
    }
  });

  test("the delivery delay objective set in the checks is judged per watcher in /report", async () => {
    const since = Date.now() - 60 * 60_000;
    const r = await waitFor(async () => {
      const rep = await report(c, since);
      const w = rep.chains[0]?.continuity.watchers.find((x) => x.watcher === "newHeads:load-balanced");
      return (w?.delayMs.samples ?? 0) >= 3 ? rep : null;
    }, { timeoutMs: 30_000, intervalMs: 500, message: "3 heads delivered with a delay" });
    const w = r.chains[0]?.continuity.watchers.find((x) => x.watcher === "newHeads:load-balanced");
    const row = r.chains[0]?.slo.find((s) => s.watcher === "newHeads:load-balanced" && s.sli === "delivery_delay_p95_ms");
    assert.deepEqual([row?.objective, row?.objectiveText, row?.events, row?.actual],
      [MAX_DELIVERY_DELAY_MS, `delivery delay p95 <= ${MAX_DELIVERY_DELAY_MS} ms`, w?.delayMs.samples, w?.delayMs.p95]);
    assert.equal(row?.pass, (w?.delayMs.p95 ?? Infinity) <= MAX_DELIVERY_DELAY_MS);
  });

  test("a restart keeps history and the accounting resumes", async () => {
    const since = Date.now() - 60 * 60_000;
    const before = series(await report(c, since), "load-balanced")?.requests ?? 0;
    assert.ok(before > 0, `requests recorded before the restart: ${before}`);
    await c.restartDaemon();
    const after = await report(c, since);
    assert.ok((series(after, "load-balanced")?.requests ?? 0) >= before, "nothing recorded before the restart is lost");
    await reportWith(c, since, "load-balanced", before + 3);
  });

  test("/report?format=md is the same report rendered as markdown", async () => {
    const res = await fetch(`${c.daemon.url}/report?since=10m&format=md`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/markdown/);
    const text = await res.text();
    assert.match(text, /^# lasso-canary report/);
    assert.match(text, /### SLOs/);
    assert.match(text, /load-balanced/);
  });

  test("a bad report parameter is a 400 that names it", async (t) => {
    for (const [query, param] of [["since=yesterday-ish", "since"], ["since=1h&until=bogus", "until"], ["format=xml", "format"]] as const) await t.test(query, async () => {
      const res = await fetch(`${c.daemon.url}/report?${query}`);
      assert.equal(res.status, 400, query);
      const body = (await res.json()) as { error: string };
      assert.match(body.error, new RegExp(param), query);
    });
  });
});
