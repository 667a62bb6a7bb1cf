import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expectedSeries } from "../src/metrics/fromPlan.js";
import { MetricsSink } from "../src/metrics/registry.js";
import { loadPlan, type Plan } from "../src/plan/index.js";
import type { ProbeSample } from "../src/samples.js";
import { writePlan } from "./helpers/canaryBed.js";
import { parsePromText, seriesValue, type PromSample } from "./helpers/promText.js";

// What MetricsSink.expect() creates from a plan, before any sample: checked name by name.
const CHECKS = [
  "chain: ethereum",
  "chainId: 1",
  "blockTimeMs: 2000",
  "slo: { successRatio: 0.99, p95LatencyMs: 400, maxHeadLagBlocks: 3, headFreshRatio: 0.95, correctnessRatio: 0.98 }",
  "routes:",
  "  - { strategy: fastest }",
  "  - { provider: alpha }",
  "  - { provider: bravo, transport: ws }",
  "probes:",
  "  - { method: eth_blockNumber, interval: 2s, routes: all, assert: [shape: quantity, freshness] }",
  "  - { method: eth_chainId, interval: 10s, routes: [pin:alpha], assert: [chainId] }",
  "consistency: { interval: 10s }",
  "watchers:",
  "  - { subscription: newHeads, routes: [fastest] }",
  "  - { subscription: logs, routes: [pin:alpha], filter: { address: '0x0000000000000000000000000000000000000001' } }",
].join("\n");

const ERROR_CLASSES = ["timeout", "connect", "invalid_response", "rpc_-32000", "rpc_-32002", "rpc_-32004", "rpc_-32005", "rpc_-32007", "http_503"];
const COMMON_EVENTS = ["delivered", "reconnect", "client_gap", "subscription_id_change", "first_event", "out_of_order", "subscribe_refused", "upgrade_refused", "connect_failed", "plan_mismatch"];

function labelSets(samples: readonly PromSample[], name: string, fixed: Record<string, string>, key: string): string[] {
  return samples
    .filter((s) => s.name === name && Object.entries(fixed).every(([k, v]) => s.labels[k] === v))
    .map((s) => `${s.labels[key]}=${s.value}`)
    .sort();
}

describe("metrics sink: series the plan implies", () => {
  let dir: string;
  let plan: Plan;
  let samples: PromSample[];
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "canary-metrics-"));
    // The URL is never contacted: nothing runs but the sink.
    plan = loadPlan(writePlan(dir, { ethereum: CHECKS }), { LASSO_URL: "http://127.0.0.1:9" });
    const sink = new MetricsSink({ version: "t", collectDefaults: false });
    sink.expect(expectedSeries(plan));
    samples = parsePromText(await sink.registry.metrics());
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const lb = { target: "lb", chain: "ethereum" };
  const cases: Array<{ name: string; metric: string; fixed: Record<string, string>; key: string; want: string[] }> = [
    ...["fastest", "pin:alpha", "pin:bravo"].map((route) => ({
      name: `probe outcomes of ${route} eth_blockNumber: ok, excluded and the planned error classes`,
      metric: "lasso_canary_probe_requests_total", fixed: { ...lb, route, method: "eth_blockNumber" }, key: "error_class",
      want: ["none=0", "plan_mismatch=0", ...ERROR_CLASSES.map((e) => `${e}=0`)].sort(),
    })),
    { name: "assertion failures of pin:alpha: the kinds its series check", metric: "lasso_canary_assertion_failures_total", fixed: { ...lb, route: "pin:alpha" }, key: "assertion", want: ["chainId=0", "freshness=0", "shape=0"] },
    { name: "assertion failures of fastest", metric: "lasso_canary_assertion_failures_total", fixed: { ...lb, route: "fastest" }, key: "assertion", want: ["freshness=0", "shape=0"] },
    { name: "served: the pins' providers on their transports, nothing guessed for the strategy route", metric: "lasso_canary_probe_served_total", fixed: lb, key: "route", want: ["pin:alpha=0", "pin:bravo=0"] },
    { name: "consistency results", metric: "lasso_canary_consistency_checks_total", fixed: lb, key: "result", want: ["agree=0", "mismatch=0"] },
    {
      name: "events of the newHeads watcher", metric: "lasso_canary_watch_events_total", fixed: { ...lb, watcher: "newHeads:fastest" }, key: "event",
      want: [...COMMON_EVENTS, "gap", "duplicate", "reorg", "stall", "never_live"].map((e) => `${e}=0`).sort(),
    },
    {
      name: "incidents of the newHeads watcher (every event but delivered)", metric: "lasso_canary_watch_incidents_total", fixed: { ...lb, watcher: "newHeads:fastest" }, key: "event",
      want: [...COMMON_EVENTS.filter((e) => e !== "delivered"), "gap", "duplicate", "reorg", "stall", "never_live"].map((e) => `${e}=0`).sort(),
    },
    {
      name: "events of the logs watcher", metric: "lasso_canary_watch_events_total", fixed: { ...lb, watcher: "logs:pin:alpha" }, key: "event",
      want: [...COMMON_EVENTS, "log_missing", "log_duplicate"].map((e) => `${e}=0`).sort(),
    },
    { name: "delivery delay histograms per source", metric: "lasso_canary_watch_delivery_delay_seconds_count", fixed: { ...lb, watcher: "newHeads:fastest" }, key: "source", want: ["block_time=0", "http_sighting=0"] },
    { name: "stalled gauges", metric: "lasso_canary_watch_stalled", fixed: lb, key: "watcher", want: ["logs:pin:alpha=0", "newHeads:fastest=0"] },
    { name: "stall seconds", metric: "lasso_canary_watch_stall_seconds_total", fixed: lb, key: "watcher", want: ["logs:pin:alpha=0", "newHeads:fastest=0"] },
    { name: "unserved blocks", metric: "lasso_canary_watch_unserved_blocks_total", fixed: lb, key: "watcher", want: ["logs:pin:alpha=0", "newHeads:fastest=0"] },
    { name: "latency histograms per series", metric: "lasso_canary_probe_latency_seconds_count", fixed: { ...lb, method: "eth_blockNumber" }, key: "route", want: ["fastest=0", "pin:alpha=0", "pin:bravo=0"] },
    { name: "overhead histograms per route", metric: "lasso_canary_lasso_overhead_seconds_count", fixed: lb, key: "route", want: ["fastest=0", "pin:alpha=0", "pin:bravo=0"] },
    { name: "head regressions per route", metric: "lasso_canary_head_regressions_total", fixed: lb, key: "route", want: ["fastest=0", "pin:alpha=0", "pin:bravo=0"] },
    { name: "upstream retries per route", metric: "lasso_canary_probe_upstream_retries_total", fixed: lb, key: "route", want: ["fastest=0", "pin:alpha=0", "pin:bravo=0"] },
    {
      name: "SLO objectives in base units", metric: "lasso_canary_slo_objective", fixed: { chain: "ethereum" }, key: "sli",
      // consistencyRatio is not set in the checks: 0.999 is the documented default.
      want: ["consistency_ratio=0.999", "correctness_ratio=0.98", "head_fresh_ratio=0.95", "head_lag_max_blocks=3", "latency_p95_seconds=0.4", "success_ratio=0.99"],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(labelSets(samples, c.metric, c.fixed, c.key), c.want);
    });
  }

  test("served series carry the pinned provider and its transport", () => {
    assert.equal(seriesValue(samples, "lasso_canary_probe_served_total", { ...lb, route: "pin:bravo", provider: "bravo", transport: "ws" }), 0);
    assert.equal(seriesValue(samples, "lasso_canary_probe_served_total", { ...lb, route: "pin:alpha", provider: "alpha", transport: "http" }), 0);
  });

  test("nothing without a planned cause: no probe_success, head lag or last-event time before a result", () => {
    const names = new Set(samples.map((s) => s.name));
    for (const n of ["lasso_canary_probe_success", "lasso_canary_head_lag_blocks", "lasso_canary_watch_last_event_timestamp_seconds"])
      assert.equal(names.has(n), false, `${n} absent before its first sample`);
  });
});

describe("metrics sink: probe_success", () => {
  const base: ProbeSample = {
    kind: "probe", ts: 1_700_000_000_000, target: "lb", chain: "ethereum", route: "fastest", method: "eth_blockNumber",
    outcome: "ok", errorClass: null, errorDetail: null, latencyMs: 12, provider: "alpha", transport: "http", retries: 0,
    circuitState: null, upstreamLatencyMs: null, lassoOverheadMs: null, blockHeight: 10, headLagBlocks: 0, headRegression: false, failedAssertions: [], correct: null,
  };
  const steps: Array<{ name: string; sample: Partial<ProbeSample>; want: number }> = [
    { name: "an ok answer", sample: {}, want: 1 },
    { name: "a timeout", sample: { outcome: "error", errorClass: "timeout" }, want: 0 },
    { name: "ok again", sample: {}, want: 1 },
    { name: "a well-formed answer that failed an assertion (blackbox-style: not a success)", sample: { failedAssertions: ["freshness"] }, want: 0 },
    { name: "a plan mismatch (excluded from SLIs, still not a success)", sample: { outcome: "error", errorClass: "plan_mismatch" }, want: 0 },
  ];
  const sink = new MetricsSink({ version: "t", collectDefaults: false });
  for (const s of steps) {
    test(`the last result is ${s.name}: ${s.want}`, async () => {
      sink.accept({ ...base, ...s.sample });
      const m = parsePromText(await sink.registry.metrics());
      assert.equal(seriesValue(m, "lasso_canary_probe_success", { target: "lb", chain: "ethereum", route: "fastest", method: "eth_blockNumber" }), s.want);
    });
  }
});
