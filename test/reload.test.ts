import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startTestBed } from "../sim/testbed.js";
import type { Report } from "../src/report/index.js";
import { blockNumberChecks, startCanaryBed, writePlan, type CanaryBed } from "./helpers/canaryBed.js";
import { spawnCliDaemon } from "./helpers/cliDaemon.js";
import { scrape, seriesValue } from "./helpers/promText.js";
import { waitFor } from "./helpers/waitFor.js";

// Reload as Prometheus tools do it: re-read config and checks without a restart; an invalid
// plan is refused with the same errors `validate` prints and the running plan keeps running.
const TOKEN = "reload-token-0123456789";
const PROVIDERS = ["alpha", "bravo", "charlie"];

async function reload(c: CanaryBed, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${c.daemon.url}/-/reload`, { method: "POST", headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function report(c: CanaryBed, since: number): Promise<Report> {
  const res = await fetch(`${c.daemon.url}/report?since=${(since / 1000).toFixed(3)}`);
  assert.equal(res.status, 200);
  return (await res.json()) as Report;
}

function requests(r: Report, route: string): number {
  return r.chains.find((ch) => ch.chain === "ethereum")?.series.find((s) => s.route === route)?.requests ?? 0;
}

describe("config reload without a restart", { timeout: 120_000 }, () => {
  let c: CanaryBed;
  const t0 = Date.now();
  const checksFile = (): string => path.join(c.dir, "checks", "ethereum.yaml");
  before(async () => {
    c = await startCanaryBed(
      { chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: PROVIDERS }], healthPollMs: 250 },
      { ethereum: blockNumberChecks("ethereum", 1, ["alpha", "bravo"]) },
      { extraConfig: [`adminToken: "${TOKEN}"`] },
    );
  });
  after(async () => {
    await c?.stop();
  });

  test("POST /-/reload needs the admin token", async () => {
    assert.equal((await reload(c)).status, 401, "no token");
    assert.equal((await reload(c, "reload-token-WRONG-0000")).status, 401, "wrong token");
  });

  test("a valid new plan replaces the running one: removed series stop and leave /metrics, new ones start at 0", async () => {
    await waitFor(async () => requests(await report(c, t0), "pin:bravo") >= 2, { timeoutMs: 20_000, message: "pin:bravo probed" });
    const before = await scrape(c.daemon.url);
    const loadedAt = seriesValue(before, "lasso_canary_config_last_reload_success_timestamp_seconds", {}) ?? NaN;
    const bravo = { target: "lb", chain: "ethereum", route: "pin:bravo", method: "eth_blockNumber" };
    assert.equal(seriesValue(before, "lasso_canary_probe_requests_total", { ...bravo, outcome: "ok", error_class: "none" }) !== undefined, true, "pin:bravo exported before");

    writeFileSync(checksFile(), blockNumberChecks("ethereum", 1, ["alpha", "charlie"]));
    const r = await reload(c, TOKEN);
    assert.deepEqual(r, { status: 200, body: { status: "reloaded", warnings: [] } });
    assert.deepEqual(c.daemon.plan.chains[0]?.routes.map((x) => x.name), ["load-balanced", "pin:alpha", "pin:charlie"]);

    const after = await scrape(c.daemon.url);
    assert.deepEqual(after.filter((s) => s.labels["route"] === "pin:bravo").map((s) => s.name), [], "no pin:bravo series left");
    assert.equal(seriesValue(after, "lasso_canary_probe_requests_total", { ...bravo, route: "pin:charlie", outcome: "ok", error_class: "none" }) !== undefined, true, "pin:charlie exported");
    assert.equal(seriesValue(after, "lasso_canary_config_last_reload_successful", {}), 1);
    assert.ok((seriesValue(after, "lasso_canary_config_last_reload_success_timestamp_seconds", {}) ?? 0) > loadedAt, "success time moved on");

    const reloadedAt = Date.now();
    const rep = await waitFor(async () => {
      const x = await report(c, t0);
      return requests(x, "pin:charlie") >= 2 ? x : null;
    }, { timeoutMs: 20_000, message: "pin:charlie probed after the reload" });
    assert.ok(requests(rep, "pin:bravo") >= 2, "pin:bravo's history stays in the store");
    // Evidence that probing went on after the reload settled: pin:charlie answered twice since then.
    const settled = reloadedAt + 1500;
    const bravoSince = await waitFor(async () => {
      if (Date.now() <= settled) return null; // a since in the future is a 400
      const x = await report(c, settled);
      return requests(x, "pin:charlie") >= 2 ? x : null;
    }, { timeoutMs: 20_000, message: "pin:charlie probed after the reload settled" });
    assert.equal(requests(bravoSince, "pin:bravo"), 0, "pin:bravo is no longer probed");
  });

  test("an invalid plan is refused with validate's errors; the running plan keeps running", async () => {
    writeFileSync(checksFile(), blockNumberChecks("ethereum", 1, ["alpha"]).replace("    timeout: 800ms", "    timeout: 5s"));
    const r = await reload(c, TOKEN);
    assert.equal(r.status, 400);
    assert.match(String(r.body.error), /checks\/ethereum\.yaml: probes\[0\]\.timeout: must be shorter than interval \(1s\) \(line \d+\)/);
    assert.equal(r.body.note, "the running plan is kept");
    assert.equal(seriesValue(await scrape(c.daemon.url), "lasso_canary_config_last_reload_successful", {}), 0);
    assert.deepEqual(c.daemon.plan.chains[0]?.routes.map((x) => x.name), ["load-balanced", "pin:alpha", "pin:charlie"], "old plan kept");
    const n = requests(await report(c, t0), "pin:charlie");
    await waitFor(async () => requests(await report(c, t0), "pin:charlie") > n, { timeoutMs: 10_000, message: "pin:charlie still probed" });
  });
});

describe("reload over HTTP without an admin token", { timeout: 60_000 }, () => {
  let c: CanaryBed;
  before(async () => {
    c = await startCanaryBed({ chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: ["alpha"] }] }, { ethereum: blockNumberChecks("ethereum", 1, ["alpha"]) });
  });
  after(async () => {
    await c?.stop();
  });

  test("is disabled (403), whatever token is sent", async () => {
    const r = await reload(c, "anything-at-all-0123");
    assert.equal(r.status, 403);
    assert.match(String(r.body.error), /disabled: set adminToken/);
  });
});

test("SIGHUP reloads the running CLI daemon's config and checks", { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "canary-sighup-"));
  const bed = await startTestBed({ chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: ["alpha", "bravo"] }] });
  const config = writePlan(dir, { ethereum: blockNumberChecks("ethereum", 1, ["alpha"]) }, { logLevel: "info" });
  const { child, log, listen } = await spawnCliDaemon(config, { LASSO_URL: bed.lasso.url });
  try {
    writeFileSync(path.join(dir, "checks", "ethereum.yaml"), blockNumberChecks("ethereum", 1, ["alpha", "bravo"]));
    child.kill("SIGHUP");
    await waitFor(() => log().includes('"msg":"config reloaded"'), { timeoutMs: 20_000, message: "the reload to be logged" });
    const metrics = await waitFor(async () => {
      const text = await (await fetch(`http://${listen}/metrics`)).text();
      return /lasso_canary_probe_requests_total\{target="lb",chain="ethereum",route="pin:bravo",method="eth_blockNumber",outcome="ok",error_class="none"\} [1-9]/.test(text) ? text : null;
    }, { timeoutMs: 20_000, message: "the pin added by the reload to be probed" });
    assert.match(metrics, /lasso_canary_config_last_reload_successful 1/);
    assert.equal(child.exitCode, null, "still running after SIGHUP");
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await bed.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
