import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { Report, SeriesReport } from "../src/report/index.js";
import { blockNumberChecks, startCanaryBed, type CanaryBed } from "./helpers/canaryBed.js";
import { waitFor } from "./helpers/waitFor.js";

// The target sits behind a proxy that wants `X-Api-Key`. Target `lb` sends it (from the
// environment), target `naked` does not: the same plan, with and without credentials.
// Routes: pin:alpha forces http (the default for pins), pin:bravo asks for any transport.
const KEY = "k-3f9a7c1e";
const CHECKS = blockNumberChecks("ethereum", 1, ["alpha", "bravo"])
  .replace("  - { provider: bravo }", "  - { provider: bravo, transport: any }")
  .concat("\nwatchers:\n  - { subscription: newHeads, routes: [load-balanced] }\n");

async function report(c: CanaryBed, since: number): Promise<Report> {
  const res = await fetch(`${c.daemon.url}/report?since=${(since / 1000).toFixed(3)}`);
  assert.equal(res.status, 200, `report answered ${res.status}`);
  return (await res.json()) as Report;
}

function series(r: Report, target: string, route: string): SeriesReport | undefined {
  return r.chains.find((ch) => ch.chain === "ethereum")?.series.find((s) => s.target === target && s.route === route && s.method === "eth_blockNumber");
}

describe("auth headers on every path, and the transport a probe means", { timeout: 180_000 }, () => {
  let c: CanaryBed;
  const t0 = Date.now();
  before(async () => {
    c = await startCanaryBed(
      { chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: ["alpha", "bravo"] }], healthPollMs: 250, requireHeaders: { "X-Api-Key": KEY } },
      { ethereum: CHECKS },
      {
        targets: ["  - name: lb", "    url: ${LASSO_URL}", '    headers: { X-Api-Key: "${LASSO_KEY}" }', "  - name: naked", "    url: ${LASSO_URL}"],
        env: { LASSO_KEY: KEY },
      },
    );
  });
  after(async () => {
    await c?.stop();
  });

  test("probes, the watcher's upgrade and its HTTP head poll all carry the header; without it every answer is a 401", async () => {
    const r = await waitFor(async () => {
      const rep = await report(c, t0);
      const w = rep.chains[0]?.continuity.watchers.find((x) => x.target === "lb");
      const naked = rep.chains[0]?.continuity.watchers.find((x) => x.target === "naked");
      return (series(rep, "lb", "pin:alpha")?.ok ?? 0) >= 5 && (w?.delivered ?? 0) >= 3 && naked?.state.status === "upgrade_refused" ? rep : null;
    }, { timeoutMs: 45_000, intervalMs: 250, message: "5 good pinned answers and 3 watcher events on lb, naked's upgrade refused" });
    for (const route of ["load-balanced", "pin:alpha", "pin:bravo"]) {
      const s = series(r, "lb", route);
      assert.deepEqual(s?.errors.filter((e) => e.errorClass === "http_401"), [], `lb ${route} sends the key`);
      const naked = series(r, "naked", route);
      assert.ok((naked?.requests ?? 0) > 0, `naked ${route} was probed`);
      assert.deepEqual(naked?.errors.map((e) => e.errorClass), ["http_401"], `naked ${route}: refused by the proxy`);
    }
    assert.match(r.chains[0]?.continuity.watchers.find((x) => x.target === "naked")?.state.detail ?? "", /401/, "naked's upgrade is refused with 401");
    const polls = c.daemon.watchers.groupStats();
    const lbPolls = polls.find((g) => g.target === "lb")?.http;
    const nakedPolls = polls.find((g) => g.target === "naked")?.http;
    assert.ok((lbPolls?.headPolls ?? 0) >= 3, `lb's watcher head poll ran: ${JSON.stringify(lbPolls)}`);
    assert.equal(lbPolls?.headPollErrors, 0, "and every poll carried the key");
    assert.equal(nakedPolls?.headPollErrors, nakedPolls?.headPolls, "naked's polls all fail");
  });

  test("every answer's provider breakdown names the transport that served", async () => {
    const r = await report(c, t0);
    const lb = series(r, "lb", "load-balanced")?.providers ?? [];
    assert.ok(lb.length > 0, "load-balanced served");
    for (const p of lb) assert.match(String(p.transport), /^(http|ws)$/, `${p.provider} served over ${p.transport}`);
    const pinned = series(r, "lb", "pin:alpha")?.providers.map((p) => [p.provider, p.transport]);
    assert.deepEqual(pinned, [["alpha", "http"]], "a forced-http pin is served over http only");
  });

  test("with the providers' HTTP failing, the forced-http pin shows it; the any-transport pin hides it behind WebSocket", async () => {
    const faultAt = Date.now();
    for (const id of ["alpha", "bravo"]) c.bed.provider("ethereum", id).setFault({ kind: "http_5xx", status: 503 }, 120_000);
    try {
      const r = await waitFor(async () => {
        const rep = await report(c, faultAt + 1500);
        return (series(rep, "lb", "pin:alpha")?.requests ?? 0) >= 5 && (series(rep, "lb", "pin:bravo")?.requests ?? 0) >= 5 ? rep : null;
      }, { timeoutMs: 30_000, intervalMs: 250, message: "5 probes on each pin since the fault" });
      const alpha = series(r, "lb", "pin:alpha");
      assert.equal(alpha?.ok, 0, `pin:alpha (transport=http) must fail: ${JSON.stringify(alpha?.errors)}`);
      const bravo = series(r, "lb", "pin:bravo");
      assert.equal(bravo?.ok, bravo?.requests, `pin:bravo (transport any) keeps answering: ${JSON.stringify(bravo?.errors)}`);
      assert.deepEqual(bravo?.providers.map((p) => [p.provider, p.transport]), [["bravo", "ws"]], "and the breakdown says it was WebSocket");
    } finally {
      for (const id of ["alpha", "bravo"]) c.bed.provider("ethereum", id).setFault({ kind: "pass" }, 1000);
    }
  });
});
