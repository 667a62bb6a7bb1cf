import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { ChainReport, Report, SloRow } from "../src/report/index.js";
import { blockNumberChecks, startCanaryBed, type CanaryBed } from "./helpers/canaryBed.js";
import { waitFor } from "./helpers/waitFor.js";

// Subscriptions that can never work, as in production: on ethereum, bravo has no ws_url, so a
// pinned newHeads subscription to it is refused (-32602); on base no provider can serve
// subscriptions at all, so Lasso acknowledges the subscribe and never sends an event.
const ETHEREUM = blockNumberChecks("ethereum", 1, ["alpha", "bravo"], "watchers:\n  - { subscription: newHeads, routes: [load-balanced, pin:alpha, pin:bravo] }");
const BASE = blockNumberChecks("base", 8453, ["alpha"], "watchers:\n  - { subscription: newHeads, routes: [load-balanced] }");

async function report(c: CanaryBed, since: number): Promise<Report> {
  const res = await fetch(`${c.daemon.url}/report?since=${(since / 1000).toFixed(3)}`);
  assert.equal(res.status, 200);
  return (await res.json()) as Report;
}

function chain(r: Report, name: string): ChainReport | undefined {
  return r.chains.find((ch) => ch.chain === name);
}

function delivery(r: Report, chainName: string, watcher: string): SloRow | undefined {
  return chain(r, chainName)?.slo.find((row) => row.watcher === watcher && row.sli === "delivery");
}

describe("subscriptions that never work are failures, not log lines", { timeout: 150_000 }, () => {
  let c: CanaryBed;
  const t0 = Date.now();
  before(async () => {
    c = await startCanaryBed(
      {
        chains: [
          { name: "ethereum", chainId: 1, blockTimeSec: 1, providers: ["alpha", { id: "bravo", ws: false }] },
          { name: "base", chainId: 8453, blockTimeSec: 1, providers: [{ id: "alpha", ws: false }] },
        ],
        healthPollMs: 250,
      },
      { ethereum: ETHEREUM, base: BASE },
    );
  });
  after(async () => {
    await c?.stop();
  });

  test("a pinned newHeads watcher on a provider without WebSocket support fails delivery with the refusal as the reason", async () => {
    const r = await waitFor(async () => {
      const rep = await report(c, t0);
      const row = delivery(rep, "ethereum", "newHeads:pin:bravo");
      return row?.pass === false && (chain(rep, "ethereum")?.continuity.watchers.find((w) => w.watcher === "newHeads:pin:alpha")?.delivered ?? 0) >= 3 ? rep : null;
    }, { timeoutMs: 40_000, intervalMs: 250, message: "pin:bravo's delivery SLO to fail while pin:alpha delivers" });
    assert.match(delivery(r, "ethereum", "newHeads:pin:bravo")?.reason ?? "", /subscribe refused .*-32602.*does not support WebSocket subscriptions/);
    assert.equal(delivery(r, "ethereum", "newHeads:pin:alpha")?.pass, true, "the capable pin passes");
    assert.equal(delivery(r, "ethereum", "newHeads:load-balanced")?.pass, true, "the strategy route is served by alpha");
    const metrics = await (await fetch(`${c.daemon.url}/metrics`)).text();
    assert.match(metrics, /lasso_canary_watch_events_total\{target="lb",chain="ethereum",watcher="newHeads:pin:bravo",event="subscribe_refused"\} [1-9]/);
  });

  test("a strategy route with no capable provider is acknowledged, never live, and fails delivery", async () => {
    const r = await waitFor(async () => {
      const rep = await report(c, t0);
      return delivery(rep, "base", "newHeads:load-balanced")?.pass === false ? rep : null;
    }, { timeoutMs: 40_000, intervalMs: 250, message: "base's newHeads watcher to be judged never live" });
    const w = chain(r, "base")?.continuity.watchers.find((x) => x.watcher === "newHeads:load-balanced");
    assert.equal(w?.delivered, 0, "no event ever came");
    assert.ok((w?.neverLive ?? 0) >= 1, `never_live recorded: ${JSON.stringify(w?.state)}`);
    assert.match(delivery(r, "base", "newHeads:load-balanced")?.reason ?? "", /never live/);
    assert.equal((chain(r, "base")?.series.find((s) => s.route === "load-balanced")?.successRatio), 1, "HTTP through the same route is fine");
  });
});
