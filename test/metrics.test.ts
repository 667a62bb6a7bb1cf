import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { startCanaryBed, type CanaryBed } from "./helpers/canaryBed.js";
import { scrape, seriesValue, type PromSample } from "./helpers/promText.js";
import { waitFor } from "./helpers/waitFor.js";
import type { Report } from "../src/report/index.js";

// /metrics as Prometheus sees it: every planned series exists at 0 before its first event, and
// the exposition passes promtool's lint.
const PROVIDERS = ["alpha", "bravo", "charlie"];
const WATCHER = "newHeads:load-balanced";
/**
 * bravo's pin is probed alone, every 5 s: the test sets a fault right after one of its probes and
 * clears it as soon as the next one has failed, so exactly one probe meets the fault.
 */
const CHECKS = [
  "chain: ethereum",
  "chainId: 1",
  "blockTimeMs: 1000",
  "slo: { successRatio: 0.995, p95LatencyMs: 250, maxHeadLagBlocks: 2 }",
  "routes:",
  "  - { strategy: load-balanced }",
  ...PROVIDERS.map((p) => `  - { provider: ${p} }`),
  "probes:",
  "  - method: eth_blockNumber",
  "    interval: 1s",
  "    timeout: 800ms",
  "    routes: [load-balanced, pin:alpha, pin:charlie]",
  "    assert: [shape: quantity, monotonicHead, freshness]",
  "  - method: eth_blockNumber",
  "    interval: 5s",
  "    timeout: 800ms",
  "    routes: [pin:bravo]",
  "    assert: [shape: quantity, freshness]",
  "consistency: { interval: 2s }",
  "watchers:",
  "  - { subscription: newHeads, routes: [load-balanced] }",
].join("\n");

const W = { target: "lb", chain: "ethereum", watcher: WATCHER };
const BRAVO = { target: "lb", chain: "ethereum", route: "pin:bravo", method: "eth_blockNumber" };
/** The incidents' series, named as an alert rule would select them. */
const INCIDENT_SERIES: Array<{ what: string; name: string; labels: Record<string, string> }> = [
  { what: "gap blocks", name: "lasso_canary_watch_events_total", labels: { ...W, event: "gap" } },
  { what: "stalls begun", name: "lasso_canary_watch_events_total", labels: { ...W, event: "stall" } },
  { what: "gap incidents", name: "lasso_canary_watch_incidents_total", labels: { ...W, event: "gap" } },
  { what: "stall incidents", name: "lasso_canary_watch_incidents_total", labels: { ...W, event: "stall" } },
];

/** bravo's pin's error series (every class), keyed by class. */
function bravoErrors(samples: readonly PromSample[]): Map<string, number> {
  return new Map(samples
    .filter((s) => s.name === "lasso_canary_probe_requests_total" && s.labels["route"] === "pin:bravo" && s.labels["outcome"] === "error")
    .map((s) => [s.labels["error_class"] ?? "?", s.value]));
}

function value(samples: readonly PromSample[], name: string, labels: Record<string, string>): number {
  const v = seriesValue(samples, name, labels);
  assert.notEqual(v, undefined, `${name}${JSON.stringify(labels)} exported`);
  return v ?? NaN;
}

/** All of bravo's pin probes so far, whatever their outcome. */
function bravoProbes(samples: readonly PromSample[]): number {
  return samples
    .filter((s) => s.name === "lasso_canary_probe_requests_total" && s.labels["route"] === "pin:bravo")
    .reduce((n, s) => n + s.value, 0);
}

function promtool(body: string): { status: number | null; output: string } {
  const r = spawnSync("promtool", ["check", "metrics"], { input: body, encoding: "utf8", timeout: 30_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT")
    throw new Error("promtool not found: install Debian package `prometheus` (.ci/run does when promtool is missing)");
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe("/metrics for Prometheus", { timeout: 150_000 }, () => {
  let c: CanaryBed;
  let first: PromSample[];
  before(async () => {
    c = await startCanaryBed(
      { chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: PROVIDERS }], healthPollMs: 250 },
      { ethereum: CHECKS },
    );
    // At once: nothing has happened yet, so whatever exists now exists because the plan implies it.
    first = await scrape(c.daemon.url);
  });
  after(async () => {
    await c?.stop();
  });

  test("the first gap, stall and probe error after a start are each an increase Prometheus can see", async () => {
    for (const s of INCIDENT_SERIES) assert.equal(seriesValue(first, s.name, s.labels), 0, `${s.what}: the series exists at 0 before any event`);
    const t0 = Date.now();

    // One gap: Lasso drops events with the socket open until the watcher opens a stall, then delivers again.
    await waitFor(async () => (seriesValue(await scrape(c.daemon.url), "lasso_canary_watch_events_total", { ...W, event: "delivered" }) ?? 0) > 0,
      { timeoutMs: 30_000, intervalMs: 200, message: "the watcher delivering" });
    c.bed.lasso.setDefects({ silentDrop: true });
    try {
      await waitFor(async () => seriesValue(await scrape(c.daemon.url), "lasso_canary_watch_stalled", W) === 1,
        { timeoutMs: 30_000, intervalMs: 100, message: "the watcher to open a stall" });
    } finally {
      c.bed.lasso.setDefects({ silentDrop: false });
    }
    await waitFor(async () => {
      const m = await scrape(c.daemon.url);
      return seriesValue(m, "lasso_canary_watch_stalled", W) === 0 && (seriesValue(m, "lasso_canary_watch_events_total", { ...W, event: "gap" }) ?? 0) > 0;
    }, { timeoutMs: 30_000, intervalMs: 200, message: "the stall to end and its gap to be confirmed" });

    // One error: bravo answers 3 s late (past the probe's 800 ms timeout; latency trips no breaker),
    // for one probe only: set right after one of its 5 s probes, cleared once the next has failed.
    const errorsBefore = [...bravoErrors(first).values()].reduce((a, b) => a + b, 0);
    const before = bravoProbes(await scrape(c.daemon.url));
    await waitFor(async () => bravoProbes(await scrape(c.daemon.url)) > before, { timeoutMs: 15_000, intervalMs: 100, message: "a probe of bravo's pin" });
    const bravo = c.bed.provider("ethereum", "bravo");
    bravo.setFault({ kind: "latency", fixedMs: 3000, jitterMs: 0 }, 60_000);
    let failed: PromSample[];
    try {
      failed = await waitFor(async () => {
        const m = await scrape(c.daemon.url);
        return [...bravoErrors(m).values()].reduce((a, b) => a + b, 0) > errorsBefore ? m : null;
      }, { timeoutMs: 15_000, intervalMs: 100, message: "bravo's next probe to fail" });
    } finally {
      bravo.clearFault();
    }
    assert.equal(value(failed, "lasso_canary_probe_success", BRAVO), 0, "probe_success is 0 after the failed probe");

    const second = await scrape(c.daemon.url);
    const errorIncrease = new Map<string, number>();
    for (const [cls, v] of bravoErrors(second)) {
      const was = bravoErrors(first).get(cls);
      assert.notEqual(was, undefined, `error class ${cls} on pin:bravo existed at 0 before its first event`);
      if (v - (was ?? 0) !== 0) errorIncrease.set(cls, v - (was ?? 0));
    }
    assert.equal([...errorIncrease.values()].reduce((a, b) => a + b, 0), 1, `exactly one probe error on pin:bravo: ${JSON.stringify([...errorIncrease])}`);
    const increases = Object.fromEntries(INCIDENT_SERIES.map((s) => [s.what, value(second, s.name, s.labels) - value(first, s.name, s.labels)]));
    // The gap's size in blocks is how long the drop lasted; the store counted the same incident.
    const res = await fetch(`${c.daemon.url}/report?since=${((t0 - 1000) / 1000).toFixed(3)}`);
    assert.equal(res.status, 200);
    const report = (await res.json()) as Report;
    const missing = report.chains[0]?.continuity.watchers.find((w) => w.watcher === WATCHER)?.missingBlocks;
    assert.ok(missing !== undefined && missing > 0, `the report counts the gap: ${missing}`);
    // One gap and one stall as incidents: exactly 1 each; the gap's size in blocks is the drop's length.
    assert.deepEqual(increases, { "gap blocks": missing, "stalls begun": 1, "gap incidents": 1, "stall incidents": 1 });
  });

  test("Node's metrics under their standard names, SLO objectives in base units, a 0/1 probe_success per series", async () => {
    const m = await scrape(c.daemon.url);
    const names = new Set(m.map((s) => s.name));
    for (const n of ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds", "nodejs_heap_size_used_bytes", "nodejs_version_info"])
      assert.equal(names.has(n), true, `${n} exported under its standard name`);
    assert.deepEqual([...names].filter((n) => !/^(lasso_canary_|process_|nodejs_)/.test(n)), [], "nothing outside the three name spaces");
    assert.deepEqual([...names].filter((n) => /^lasso_canary_(process|nodejs)_|^nodejs_eventloop_lag/.test(n)), [], "no prefixed Node metrics, no eventloop-lag monitor");
    const objectives = Object.fromEntries(m.filter((s) => s.name === "lasso_canary_slo_objective" && s.labels["chain"] === "ethereum").map((s) => [s.labels["sli"], s.value]));
    // Not set in these checks: head_fresh_ratio, correctness_ratio and consistency_ratio take their documented defaults.
    assert.deepEqual(objectives, {
      success_ratio: 0.995, latency_p95_seconds: 0.25, head_lag_max_blocks: 2, head_fresh_ratio: 0.99, correctness_ratio: 0.999, consistency_ratio: 0.999,
    });
    const routes = ["load-balanced", "pin:alpha", "pin:bravo", "pin:charlie"];
    const success = routes.map((route) => seriesValue(m, "lasso_canary_probe_success", { target: "lb", chain: "ethereum", route, method: "eth_blockNumber" }));
    assert.deepEqual(success.map((v) => v === 0 || v === 1), routes.map(() => true), `one 0/1 probe_success per series: ${JSON.stringify(success)}`);
  });

  test("promtool check metrics finds nothing to complain about", async () => {
    const body = await (await fetch(`${c.daemon.url}/metrics`)).text();
    const r = promtool(body);
    assert.equal(r.output, "", "promtool prints nothing");
    assert.equal(r.status, 0, "promtool exits 0");
  });
});
