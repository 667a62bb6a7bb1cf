import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { Report, WatcherReport } from "../src/report/index.js";
import { blockNumberChecks, startCanaryBed, type CanaryBed } from "./helpers/canaryBed.js";
import { waitFor } from "./helpers/waitFor.js";

// The daemon with watchers end to end: samples reach SQLite, /metrics and /report.
const PROVIDERS = ["alpha", "bravo", "charlie"];
/** The test bed's block time (blockTimeSec: 1). */
const BLOCK_TIME_MS = 1000;
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
      assert.ok((w?.deliveryRatio ?? 1) < 1, `delivery ratio ${w?.deliveryRatio} after a gap`);
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

  test("silentDrop: /report fails the delivery SLO within 3 block times of the stall opening, while it lasts; /metrics shows it", async (t) => {
    const name = "newHeads:load-balanced";
    const since = Date.now();
    await waitFor(async () => ((await report(c, since)).chains[0]?.continuity.watchers.find((w) => w.watcher === name)?.delivered ?? 0) > 0,
      { timeoutMs: 20_000, intervalMs: 250, message: "the watcher delivering before the defect" });
    c.bed.lasso.setDefects({ silentDrop: true });
    try {
      const failing = await waitFor(
        async () => {
          const rep = await report(c, since);
          const row = rep.chains[0]?.slo.find((s) => s.watcher === name && s.sli === "delivery");
          return row?.pass === false && watcher(rep, name)?.state.status === "stalled" ? { rep, row, at: Date.now() } : null;
        },
        { timeoutMs: 30_000, intervalMs: 100, message: "the delivery SLO failing on an open stall" },
      );
      const state = watcher(failing.rep, name)?.state;
      assert.ok(state?.at !== null && state?.at !== undefined, "the stall's opening sample is in the report");
      const lateBy = failing.at - state.at;
      t.diagnostic(`report failing ${lateBy} ms after the stall opened (${state.at - (state.since ?? state.at)} ms of silence before it)`);
      assert.ok(lateBy <= 3 * BLOCK_TIME_MS, `the report failed ${lateBy} ms after the stall opened`);
      assert.match(failing.row.reason ?? "", /^stalled since \d{4}-\d\d-\d\dT.*: no event for \d+ ms with the socket open/);

      const stallSeconds = async (): Promise<number> => {
        const text = await (await fetch(`${c.daemon.url}/metrics`)).text();
        assert.match(text, new RegExp(`lasso_canary_watch_stalled\\{[^}]*watcher="${name}"[^}]*\\} 1\\n`), "the stalled gauge is 1");
        const m = new RegExp(`lasso_canary_watch_stall_seconds_total\\{[^}]*watcher="${name}"[^}]*\\} ([0-9.e+-]+)\\n`).exec(text);
        assert.ok(m?.[1] !== undefined, "stall seconds exported");
        return Number(m[1]);
      };
      const first = await stallSeconds();
      // While it lasts: still failing a few block times later, and the stall seconds have grown.
      const later = await waitFor(async () => {
        const rep = await report(c, since);
        return Date.now() - failing.at >= 2 * BLOCK_TIME_MS ? rep : null;
      }, { timeoutMs: 10_000, intervalMs: 250, message: "two more block times" });
      const row = later.chains[0]?.slo.find((s) => s.watcher === name && s.sli === "delivery");
      assert.deepEqual([row?.pass, watcher(later, name)?.state.status], [false, "stalled"]);
      const second = await stallSeconds();
      assert.ok(second - first >= 1, `stall seconds grew while the stall lasted (${first} -> ${second})`);
    } finally {
      c.bed.lasso.setDefects({ silentDrop: false });
    }
  });
});
