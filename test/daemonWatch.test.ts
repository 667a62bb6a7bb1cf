import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { Report, WatcherReport } from "../src/report/index.js";
import { blockNumberChecks, startCanaryBed, type CanaryBed } from "./helpers/canaryBed.js";
import { waitFor } from "./helpers/waitFor.js";

// The daemon with watchers end to end: samples reach SQLite, /metrics and /report.
const PROVIDERS = ["alpha", "bravo", "charlie"];
const WATCHERS = ["watchers:", "  - { subscription: newHeads, routes: [load-balanced, pin:alpha] }"].join("\n");

async function report(c: CanaryBed, since: number): Promise<Report> {
  const res = await fetch(`${c.daemon.url}/report?since=${(since / 1000).toFixed(3)}`);
  assert.equal(res.status, 200);
  return (await res.json()) as Report;
}

function watcher(r: Report, name: string): WatcherReport | undefined {
  return r.chains.find((ch) => ch.chain === "ethereum")?.continuity.watchers.find((w) => w.watcher === name);
}

describe("daemon watchers against the test bed", { timeout: 150_000 }, () => {
  let c: CanaryBed;
  before(async () => {
    c = await startCanaryBed(
      { chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: PROVIDERS }], healthPollMs: 250 },
      { ethereum: blockNumberChecks("ethereum", 1, PROVIDERS, WATCHERS) },
    );
  });
  after(async () => {
    await c?.stop();
  });

  test("a clean stream: every block once, delivery SLO met, exported to /metrics", async () => {
    const t0 = Date.now();
    const r = await waitFor(
      async () => {
        const rep = await report(c, t0 - 60_000);
        return (watcher(rep, "newHeads:load-balanced")?.delivered ?? 0) >= 10 ? rep : null;
      },
      { timeoutMs: 40_000, intervalMs: 500, message: "10 heads delivered" },
    );
    const w = watcher(r, "newHeads:load-balanced");
    assert.equal(w?.missingBlocks, 0);
    assert.equal(w?.duplicates, 0);
    assert.equal(w?.deliveryRatio, 1);
    assert.ok((w?.delayMs.samples ?? 0) > 0 && w?.delayMs.p95 !== null, "delivery delay measured");
    const delivery = r.chains[0]?.slo.find((s) => s.watcher === "newHeads:load-balanced" && s.sli === "delivery");
    assert.equal(delivery?.pass, true);
    const metrics = await (await fetch(`${c.daemon.url}/metrics`)).text();
    assert.match(metrics, /lasso_canary_watch_events_total\{[^}]*watcher="newHeads:load-balanced"[^}]*event="delivered"[^}]*\} [1-9]/);
    assert.match(metrics, /lasso_canary_watch_delivery_delay_seconds_count\{[^}]*watcher="newHeads:load-balanced"[^}]*\} [1-9]/);
  });

  test("gap on failover: a stalled serving provider with the backfill defect shows as missing blocks and a failed delivery SLO", async () => {
    const alpha = c.bed.provider("ethereum", "alpha"); // priority 1: it serves the shared subscription
    c.bed.lasso.setDefects({ gapOnFailover: true });
    alpha.setFault({ kind: "ws_stall" }, 60_000);
    const t1 = Date.now();
    try {
      const r = await waitFor(
        async () => {
          const rep = await report(c, t1);
          return (watcher(rep, "newHeads:load-balanced")?.missingBlocks ?? 0) > 0 ? rep : null;
        },
        { timeoutMs: 40_000, intervalMs: 500, message: "a gap on the load-balanced watcher" },
      );
      const w = watcher(r, "newHeads:load-balanced");
      assert.ok((w?.deliveryRatio ?? 1) < 1);
      const delivery = r.chains[0]?.slo.find((s) => s.watcher === "newHeads:load-balanced" && s.sli === "delivery");
      assert.equal(delivery?.pass, false, "the delivery SLO fails");
      // The pinned watcher never fails over: alpha's stall is a stall there, not a gap filled by others.
      const pinned = await waitFor(
        async () => {
          const p = watcher(await report(c, t1), "newHeads:pin:alpha");
          return p && p.stalls > 0 ? p : null;
        },
        { timeoutMs: 30_000, intervalMs: 500, message: "a stall on the pinned watcher" },
      );
      assert.equal(pinned.reconnects, 0, "the socket stayed open: Lasso's silence, not ours");
    } finally {
      alpha.clearFault();
      c.bed.lasso.setDefects({ gapOnFailover: false });
    }
  });
});
