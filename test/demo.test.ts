import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Report } from "../src/report/index.js";
import { spawnDemo } from "./helpers/demoProcess.js";
import { alive, descendants } from "./helpers/processes.js";
import { waitFor } from "./helpers/waitFor.js";

// README's quick start: `npm run demo` (tsx sim/demo.ts). Same script, on an ephemeral port and a temp store.
test("the demo covers every chain and route in /report within 60 s, and Ctrl-C leaves nothing behind", { timeout: 150_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "canary-demo-"));
  const { child, output } = spawnDemo(dir);
  try {
    const url = await waitFor(() => /daemon\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output())?.[1], { timeoutMs: 60_000, message: "the demo to print the daemon URL" });
    assert.match(output(), /\/report\?since=5m/);
    assert.match(output(), /\/metrics/);
    const started = Date.now();
    const expected = ["default", "fastest", "load-balanced", "latency-weighted", "pin:alpha", "pin:bravo", "pin:charlie", "canary/fastest"];
    const report = await waitFor(
      async () => {
        const r = (await (await fetch(`${url}/report?since=5m`)).json()) as Report;
        const covered = ["base", "ethereum"].every((chain) => {
          const routes = new Set(r.chains.find((c) => c.chain === chain)?.series.filter((s) => s.requests > 0).map((s) => s.route));
          return expected.every((route) => routes.has(route));
        });
        return covered ? r : null;
      },
      { timeoutMs: 60_000, intervalMs: 1000, message: "every chain and route in /report?since=5m" },
    );
    const tookMs = Date.now() - started;
    assert.ok(tookMs <= 60_000, `every chain and route reported after ${tookMs} ms`);
    for (const chain of report.chains) assert.equal(chain.successRatio, 1, `${chain.chain}: a healthy demo has no failures`);

    const children = descendants(child.pid ?? -1);
    assert.ok(children.length >= 2, "the demo runs its anvil nodes as child processes");
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGINT");
    assert.equal(await exited, 0, output().slice(-2000));
    assert.match(output(), /stopped cleanly/);
    await waitFor(() => children.every((pid) => !alive(pid)), { timeoutMs: 10_000, message: "every child process of the demo to exit" });
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
