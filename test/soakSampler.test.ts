/**
 * Soak sampling end to end: the daemon (its own process, as deployed) polls a real test-bed
 * Lasso target (real anvil behind it) and a node that answers malformed figures; memory
 * growth switched on in the target (the test bed's memoryGrowthMbPerMin defect) is flagged
 * within the short window this test configures, nothing is flagged without it, the window
 * survives a daemon restart, and a Lasso restart starts a new series.
 *
 * The window is compressed (poll 250 ms, window 8 s): thresholds are in units per hour, so
 * they are set here for this time scale. The test bed runs in this process: its memory_mb is
 * this process's heap and external memory, so the defect's 5 MB/s stands out against a floor
 * of 1.5 MB/s that an idle test process does not climb in both halves of a window.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { startTestBed, type TestBed } from "../sim/testbed.js";
import { blockNumberChecks, writePlan } from "./helpers/canaryBed.js";
import { spawnCliDaemon, type CliDaemon } from "./helpers/cliDaemon.js";
import { scrape, seriesValue, type PromSample } from "./helpers/promText.js";
import { waitFor } from "./helpers/waitFor.js";

const GROWTH_MB_PER_MIN = 300;
const FLOOR_MB_PER_HOUR = 5400;
const WINDOW_MS = 8000;
const NEVER = 1_000_000_000;

const SOAK = [
  "soak:",
  "  pollInterval: 250ms",
  "  timeout: 200ms",
  `  window: ${WINDOW_MS}ms`,
  "  warmup: 1s",
  "  minSpan: 4s",
  "  minPercentPerHour: 0",
  // Only the node's memory is judged here: the other figures (and the daemon's own) get a floor they cannot reach.
  `  minAbsPerHour: { memory_mb: ${FLOOR_MB_PER_HOUR}, process_count: ${NEVER}, run_queue: ${NEVER}, rss_mb: ${NEVER}, heap_mb: ${NEVER}, loop_lag_ms: ${NEVER} }`,
  "  targets: [node, { name: bad, chain: ethereum }]",
];

const node = { subject: "lasso", target: "node", metric: "memory_mb" };

describe("soak sampling against the test bed", () => {
  let bed: TestBed;
  let bad: http.Server;
  let dir: string;
  let config: string;
  let env: Record<string, string>;
  let daemon: CliDaemon;
  const url = (): string => `http://${daemon.listen}`;

  before(async () => {
    bed = await startTestBed({ chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: ["alpha", "bravo"] }] });
    // A "node" whose /api/metrics answer is malformed (memory_mb a string).
    bad = http.createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(req.url?.startsWith("/api/health") ? '{"uptime_seconds": 5}' : '{"system_metrics": {"memory_mb": "lots", "process_count": 1, "run_queue": 0}}');
    });
    bad.listen(0, "127.0.0.1");
    await once(bad, "listening");
    dir = mkdtempSync(path.join(os.tmpdir(), "canary-soak-"));
    config = writePlan(dir, { ethereum: blockNumberChecks("ethereum", 1, ["alpha", "bravo"], "targets: [node]") }, {
      budget: 40,
      logLevel: "info",
      targets: ["  - name: node", "    url: ${LASSO_URL}", "  - name: bad", "    url: ${BAD_URL}"],
      extraConfig: SOAK,
    });
    env = { LASSO_URL: bed.lasso.url, BAD_URL: `http://127.0.0.1:${(bad.address() as AddressInfo).port}` };
    daemon = await spawnCliDaemon(config, env);
  });

  after(async () => {
    if (daemon !== undefined && daemon.child.exitCode === null) {
      daemon.child.kill("SIGKILL");
      await once(daemon.child, "exit");
    }
    bed?.lasso.setDefects({ memoryGrowthMbPerMin: 0 });
    await bed?.stop();
    bad?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const value = (m: PromSample[], name: string, labels: Record<string, string> = node): number | undefined => seriesValue(m, name, labels);

  test("without the defect: judged, never flagged; a malformed node is a poll error", async () => {
    const first = await waitFor(async () => {
      const m = await scrape(url());
      return value(m, "lasso_canary_soak_slope_per_hour", { ...node, unit: "abs" }) !== undefined ? m : null;
    }, { timeoutMs: 30_000, intervalMs: 100, message: "node memory_mb judged (a slope exported)" });
    const startAge = value(first, "lasso_canary_soak_series_age_seconds") ?? NaN;
    // Watch a whole window's worth of verdicts after the first one.
    let scrapes = 0;
    for (;;) {
      const m = await scrape(url());
      scrapes++;
      for (const metric of ["memory_mb", "process_count", "run_queue"]) {
        assert.equal(value(m, "lasso_canary_soak_leak_suspected", { ...node, metric }), 0, `${metric} not flagged at scrape ${scrapes}`);
      }
      if ((value(m, "lasso_canary_soak_series_age_seconds") ?? 0) - startAge >= WINDOW_MS / 1000) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const m = await scrape(url());
    assert.equal(value(m, "lasso_canary_soak_leak_suspected", { subject: "canary", target: "self", metric: "rss_mb" }), 0);
    assert.ok((value(m, "lasso_canary_soak_value") ?? 0) > 0, "memory_mb sampled");
    assert.ok((value(m, "lasso_canary_soak_value", { subject: "canary", target: "self", metric: "rss_mb" }) ?? 0) > 10, "the daemon's own RSS sampled");
    assert.equal(value(m, "lasso_canary_soak_restarts_total", { target: "node" }), 0);
    // The malformed node: every poll an error of class invalid_response, and the daemon carries on.
    assert.equal(value(m, "lasso_canary_soak_polls_total", { target: "bad", result: "ok" }), 0);
    assert.ok((value(m, "lasso_canary_soak_polls_total", { target: "bad", result: "error" }) ?? 0) > 5, "bad node polled, each poll an error");
    assert.ok((value(m, "lasso_canary_soak_poll_errors_total", { target: "bad", error_class: "invalid_response" }) ?? 0) > 5, "classified invalid_response");
    assert.equal(value(m, "lasso_canary_soak_leak_suspected", { subject: "lasso", target: "bad", metric: "memory_mb" }), 0);
    assert.equal(value(m, "lasso_canary_soak_value", { subject: "lasso", target: "bad", metric: "memory_mb" }), undefined);
  });

  test("memoryGrowthMbPerMin is flagged within the window, with its slope", async (t) => {
    const startedAt = Date.now();
    bed.lasso.setDefects({ memoryGrowthMbPerMin: GROWTH_MB_PER_MIN });
    const m = await waitFor(async () => {
      const s = await scrape(url());
      return value(s, "lasso_canary_soak_leak_suspected") === 1 ? s : null;
    }, { timeoutMs: 60_000, intervalMs: 100, message: "node memory_mb flagged" });
    const detectMs = Date.now() - startedAt;
    t.diagnostic(`flagged ${detectMs} ms after the defect was switched on`);
    assert.ok(detectMs < 4 * WINDOW_MS, `flagged after ${detectMs} ms`);
    const slope = value(m, "lasso_canary_soak_slope_per_hour", { ...node, unit: "abs" }) ?? NaN;
    assert.ok(slope > FLOOR_MB_PER_HOUR, `slope ${slope} MB/h above the floor`);
    assert.ok((value(m, "lasso_canary_soak_slope_lower_per_hour", { ...node, unit: "abs" }) ?? NaN) > FLOOR_MB_PER_HOUR, "its lower bound too");
    assert.ok((value(m, "lasso_canary_soak_slope_per_hour", { ...node, unit: "percent" }) ?? NaN) > 0, "percent slope exported");
  });

  test("the report's soak section judges the same from the store", async () => {
    const json = await waitFor(async () => {
      const r = (await (await fetch(`${url()}/report?since=5m`)).json()) as {
        soak: { subjects: { target: string; polls: number; pollErrors: number; metrics: { metric: string; status: string; slopePerHour: number | null; samples: number }[] }[] } | null;
      };
      const mem = r.soak?.subjects.find((s) => s.target === "node")?.metrics.find((x) => x.metric === "memory_mb");
      return mem?.status === "leak_suspected" ? r : null;
    }, { timeoutMs: 20_000, intervalMs: 250, message: "the report to flag node memory_mb" });
    const soak = json.soak;
    assert.ok(soak !== null, "soak section present");
    assert.deepEqual(soak.subjects.map((s) => s.target), ["node", "bad", "self"]);
    const badNode = soak.subjects.find((s) => s.target === "bad");
    assert.equal(badNode?.pollErrors, badNode?.polls);
    const md = await (await fetch(`${url()}/report?since=5m&format=md`)).text();
    assert.match(md, /## Soak/);
    assert.match(md, /\| node \(ethereum\) \| memory_mb \| LEAK SUSPECTED \|/);
  });

  test("a daemon restart keeps the window: the series goes on", async () => {
    const before = value(await scrape(url()), "lasso_canary_soak_series_age_seconds") ?? NaN;
    daemon.child.kill("SIGTERM");
    await once(daemon.child, "exit");
    daemon = await spawnCliDaemon(config, env);
    const m = await waitFor(async () => {
      const s = await scrape(url());
      return value(s, "lasso_canary_soak_series_age_seconds") !== undefined ? s : null;
    }, { timeoutMs: 30_000, intervalMs: 100, message: "the restarted daemon's node series" });
    assert.ok((value(m, "lasso_canary_soak_series_age_seconds") ?? 0) >= before, `age ${value(m, "lasso_canary_soak_series_age_seconds")} s kept from ${before} s`);
    // The daemon's own restart is not a Lasso restart.
    assert.equal(value(m, "lasso_canary_soak_restarts_total", { target: "node" }), 0);
  });

  test("a Lasso restart starts a new series, counted", async () => {
    await bed.restartLasso();
    const m = await waitFor(async () => {
      const s = await scrape(url());
      return value(s, "lasso_canary_soak_restarts_total", { target: "node" }) === 1 ? s : null;
    }, { timeoutMs: 30_000, intervalMs: 100, message: "the node's restart counted" });
    assert.ok((value(m, "lasso_canary_soak_series_age_seconds") ?? Infinity) < 2, `a fresh series (age ${value(m, "lasso_canary_soak_series_age_seconds")} s)`);
    assert.equal(value(m, "lasso_canary_soak_leak_suspected"), 0, "the new series is warming up, not a leak");
  });
});
