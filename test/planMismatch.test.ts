import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { createLogger } from "../src/log.js";
import { startDaemon } from "../src/main.js";
import type { Report } from "../src/report/index.js";
import { blockNumberChecks, startCanaryBed, type CanaryBed } from "./helpers/canaryBed.js";
import { waitFor } from "./helpers/waitFor.js";

// The plan names a provider the target lacks (pin:ghost), a profile it lacks (nope/fastest)
// and a whole chain it does not serve (polygon). The real routes keep working.
const PROVIDERS = ["alpha", "bravo"];
const ETHEREUM = blockNumberChecks("ethereum", 1, [...PROVIDERS, "ghost"]).replace(
  "  - { provider: ghost }",
  "  - { provider: ghost }\n  - { strategy: fastest, profile: nope }",
).concat("\nwatchers:\n  - { subscription: newHeads, routes: [load-balanced, pin:ghost] }\n");

async function report(c: CanaryBed, since: number, format = "json"): Promise<string> {
  const res = await fetch(`${c.daemon.url}/report?since=${(since / 1000).toFixed(3)}&format=${format}`);
  assert.equal(res.status, 200, `report answered ${res.status}`);
  return res.text();
}

describe("plan mismatch: what the target does not know is our error, not Lasso's outage", { timeout: 120_000 }, () => {
  let c: CanaryBed;
  const t0 = Date.now();
  before(async () => {
    c = await startCanaryBed(
      { chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: PROVIDERS }], healthPollMs: 250 },
      { ethereum: ETHEREUM, polygon: blockNumberChecks("polygon", 137, ["alpha"]) },
    );
  });
  after(async () => {
    await c?.stop();
  });

  test("the plan check finds each mismatch, with its kind and a fix naming the checks file", async () => {
    const found = await waitFor(() => (c.daemon.planCheck.current().length >= 4 ? c.daemon.planCheck.current() : null), {
      timeoutMs: 30_000,
      message: "the first plan check to find the mismatches",
    });
    const byRoute = found.map((m) => `${m.chain} ${m.route ?? "-"} ${m.kind}`).sort();
    assert.deepEqual(byRoute, [
      "ethereum nope/fastest profile",
      "ethereum pin:ghost provider",
      "polygon load-balanced chain",
      "polygon pin:alpha chain",
    ]);
    const ghost = found.find((m) => m.route === "pin:ghost");
    assert.match(ghost?.fix ?? "", /no provider "ghost" on ethereum: .*checks\/ethereum\.yaml/);
    assert.match(found.find((m) => m.route === "nope/fastest")?.fix ?? "", /no profile "nope"/);
    assert.match(found.find((m) => m.chain === "polygon")?.fix ?? "", /does not serve chain "polygon" \(it lists: ethereum\)/);
  });

  test("/readyz fails with the mismatches as reasons; /metrics counts them apart from Lasso's errors", async () => {
    const res = await fetch(`${c.daemon.url}/readyz`);
    assert.equal(res.status, 503);
    const body = (await res.json()) as { reasons: string[] };
    assert.ok(body.reasons.some((r) => /plan mismatch: target lb, ethereum route pin:ghost/.test(r)), body.reasons.join("\n"));
    const metrics = await waitFor(async () => {
      const text = await (await fetch(`${c.daemon.url}/metrics`)).text();
      return /route="pin:ghost",method="eth_blockNumber",outcome="excluded",error_class="plan_mismatch"\} [1-9]/.test(text) ? text : null;
    }, { timeoutMs: 20_000, message: "pin:ghost answers counted as excluded" });
    assert.match(metrics, /lasso_canary_plan_mismatches\{target="lb",chain="ethereum"\} 2\n/);
    assert.match(metrics, /lasso_canary_plan_mismatches\{target="lb",chain="polygon"\} 2\n/);
    assert.match(metrics, /lasso_canary_plan_checks_total\{target="lb",result="mismatch"\} [1-9]/);
    // The error series exist from start-up (at 0, for increase()); none of pin:ghost's answers landed there.
    const ghostErrors = [...metrics.matchAll(/route="pin:ghost",method="eth_blockNumber",outcome="error",error_class="([^"]+)"\} (\S+)/g)];
    assert.notEqual(ghostErrors.length, 0, "pin:ghost's error series are exported");
    assert.deepEqual(ghostErrors.filter((m) => m[2] !== "0").map((m) => m[1]), [], "no pin:ghost answer counted as Lasso's error");
  });

  test("the report lists the mismatches, excludes their answers and fails no SLO over them", async () => {
    const r = await waitFor(async () => {
      const rep = JSON.parse(await report(c, t0)) as Report;
      const eth = rep.chains.find((x) => x.chain === "ethereum");
      const okAlpha = eth?.series.find((s) => s.route === "pin:alpha")?.ok ?? 0;
      const ghostWatcher = eth?.continuity.watchers.find((w) => w.watcher === "newHeads:pin:ghost");
      return okAlpha >= 5 && ghostWatcher?.state.status === "plan_mismatch" ? rep : null;
    }, { timeoutMs: 30_000, message: "5 good answers on pin:alpha and the pin:ghost watcher's refusals seen as plan mismatches" });
    assert.equal(r.planMismatches.length, 4);
    const eth = r.chains.find((x) => x.chain === "ethereum");
    const ghost = eth?.series.find((s) => s.route === "pin:ghost");
    assert.ok(ghost !== undefined && ghost.requests > 0, "pin:ghost was probed");
    assert.equal(ghost.planMismatches, ghost.requests, "every answer on pin:ghost is a plan mismatch");
    assert.equal(ghost.successRatio, null, "no answer left to judge Lasso by");
    const failing = r.chains.flatMap((ch) => ch.slo.filter((row) => row.pass === false).map((row) => `${ch.chain} ${row.route} ${row.sli}`));
    assert.deepEqual(failing, [], "no SLO fails because of our own plan");
    assert.equal(eth?.series.find((s) => s.route === "pin:alpha")?.successRatio, 1);
    const ghostWatcher = eth?.continuity.watchers.find((w) => w.watcher === "newHeads:pin:ghost");
    assert.equal(ghostWatcher?.unservedBlocks, 0, "refusals on an unknown route owe no blocks");
    const delivery = eth?.slo.find((row) => row.watcher === "newHeads:pin:ghost" && row.sli === "delivery");
    assert.match(delivery?.reason ?? "", /excluded: the target does not know this route/);
    assert.ok((eth?.continuity.watchers.find((w) => w.watcher === "newHeads:load-balanced")?.delivered ?? 0) > 0, "the real watcher delivers");
    assert.match(await report(c, t0, "md"), /## Plan mismatches[\s\S]*\| lb \| ethereum \| pin:ghost \| provider \|/);
  });

  test("the plan is checked again and again, and each mismatch is logged once, with its fix", async () => {
    // A second daemon on the same plan and target (its own database), checking every 300 ms, logging to memory.
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split("\n")) if (line !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const dir = mkdtempSync(path.join(os.tmpdir(), "canary-plancheck-"));
    const daemon = await startDaemon({
      plan: { ...c.plan, store: { ...c.plan.store, path: path.join(dir, "second.db") } },
      logger: createLogger("info", sink),
      listen: { host: "127.0.0.1", port: 0 },
      planCheckIntervalMs: 300,
    });
    try {
      await waitFor(() => (daemon.planCheck.stats.runs.get("lb")?.mismatch ?? 0) >= 3,
        { timeoutMs: 30_000, intervalMs: 50, message: "three plan checks that found the mismatches" });
      const logged = lines.filter((l) => String(l["msg"]).startsWith("plan mismatch:"));
      assert.deepEqual(logged.map((l) => `${String(l["chain"])} ${String(l["route"])} ${String(l["kind"])}`).sort(), [
        "ethereum nope/fastest profile",
        "ethereum pin:ghost provider",
        "polygon load-balanced chain",
        "polygon pin:alpha chain",
      ], "one warning per mismatch, not one per check");
      for (const l of logged) assert.match(String(l["fix"]), /checks\/(ethereum|polygon)\.yaml/, `the fix names the checks file: ${JSON.stringify(l)}`);
      assert.equal(logged.every((l) => l["level"] === 40), true, "logged as warnings");
    } finally {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
