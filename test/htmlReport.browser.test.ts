import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { chromium, type Page } from "playwright-core";
import { startDemo } from "../sim/demoStack.js";
import { createLogger } from "../src/log.js";
import type { Report } from "../src/report/index.js";
import { waitFor } from "./helpers/waitFor.js";

const CHROMIUM = "/usr/bin/chromium";
const VIEWPORT = { width: 1024, height: 800 };
const PHONE = { width: 390, height: 844 };

/** Width and height from a PNG's IHDR chunk (the first chunk, right after the 8-byte signature). */
function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "PNG signature");
  assert.equal(b.subarray(12, 16).toString("latin1"), "IHDR");
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/** Everything that went wrong while a page loaded: console errors, page errors, failed or >= 400 requests. */
function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return problems;
}

test("Chromium loads the demo's HTML report and status page: no error, SLO rows, charts per chain, a real screenshot", { timeout: 170_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "canary-browser-"));
  const demo = await startDemo({ env: { CANARY_LISTEN: "127.0.0.1:0", CANARY_DB: path.join(dir, "demo.db") }, logger: createLogger("silent") });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] }).catch(async (err: unknown) => {
    await demo.stop();
    throw err;
  });
  try {
    const since = Math.floor(Date.now() / 1000) - 1;
    // Both chains probed on strategy routes and pins, and their watchers delivering.
    const until = await waitFor(async () => {
      const u = Math.floor(Date.now() / 1000);
      const r = (await (await fetch(`${demo.daemon.url}/report?since=${since}&until=${u}`)).json()) as Report;
      const ready = r.chains.length === 2 && r.chains.every((c) =>
        c.series.filter((s) => s.ok > 0).length >= 8 && c.continuity.watchers.some((w) => w.delivered >= 5));
      return ready ? u : null;
    }, { timeoutMs: 90_000, intervalMs: 1000, message: "both demo chains probed and delivering" });
    const query = `since=${since}&until=${until}`;
    const report = (await (await fetch(`${demo.daemon.url}/report?${query}`)).json()) as Report;

    const page = await browser.newPage({ viewport: VIEWPORT });
    const problems = watchProblems(page);
    const res = await page.goto(`${demo.daemon.url}/report?${query}&format=html`, { waitUntil: "load" });
    assert.equal(res?.status(), 200);
    assert.match(res?.headers()["content-type"] ?? "", /^text\/html/);
    assert.equal(await page.locator("tr.slo-row").count(), report.chains.reduce((n, c) => n + c.slo.length, 0), "one table row per SLO row");
    for (const c of report.chains) {
      const charts = await page.locator(`section.chain[data-chain="${c.chain}"] svg.chart`).count();
      // 2 per probed route (success, latency), provider share, head lag, continuity.
      assert.equal(charts, 2 * new Set(c.series.map((s) => s.route)).size + 3, `${c.chain}: charts`);
    }
    assert.match(await page.title(), /^lasso-canary report \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? UTC to /);
    const shot = path.join(dir, "report.png");
    await page.screenshot({ path: shot, fullPage: true });
    const size = pngSize(shot);
    assert.equal(size.width, VIEWPORT.width);
    assert.ok(size.height > 2 * VIEWPORT.height, `a full page holds the charts: ${size.height} px high`);
    assert.ok(statSync(shot).size > 50_000, `the screenshot has content: ${statSync(shot).size} bytes`);

    // On a phone the page fits its width (tables scroll inside their own box).
    await page.setViewportSize(PHONE);
    // A string: the test's tsconfig has no DOM types.
    const overflow: unknown = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth");
    assert.equal(overflow, 0, "no horizontal page scroll at 390 px");

    const statusRes = await page.goto(`${demo.daemon.url}/`, { waitUntil: "load" });
    assert.equal(statusRes?.status(), 200);
    const states = await page.locator("section.chain").evaluateAll((els) => els.map((e) => [e.getAttribute("data-chain"), e.getAttribute("data-state")]));
    assert.deepEqual(states.map(([c]) => c), ["base", "ethereum"]);
    for (const [c, s] of states) assert.match(s ?? "", /^(up|degraded|down)$/, `${c} has a state from its samples`);
    assert.equal(await page.locator('a[href="report?since=30d&format=html"]').count(), 1, "link to the 30-day report");
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await demo.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
