import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLogger } from "../src/log.js";
import type { Report } from "../src/report/index.js";
import { startDemo } from "../sim/demoStack.js";
import { describeRow, failingRow, parseDemoArgs, SCENARIO_NAMES, SCENARIOS } from "../sim/scenarios.js";
import { waitFor } from "./helpers/waitFor.js";

// README's "Break Lasso on purpose": every scenario, on a fresh demo (defects and faults interact,
// and a failover moves a shared subscription for good), through the function `npm run demo` uses.
const FAILS_WITHIN_MS = 60_000;

describe("every demo scenario fails its SLO row within 60 s", { timeout: 600_000 }, () => {
  for (const scenario of SCENARIOS) {
    test(`${scenario.name}: ${describeRow(scenario.expect)} FAIL`, { timeout: 180_000 }, async (t) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "canary-scenario-"));
      const demo = await startDemo({
        env: { CANARY_LISTEN: "127.0.0.1:0", CANARY_DB: path.join(dir, "demo.db") },
        logger: createLogger("silent"),
        scenario,
      });
      try {
        assert.ok(demo.scenario, "a scenario was asked for");
        const applied = await demo.scenario;
        const row = await waitFor(
          async () => {
            const res = await fetch(`${demo.daemon.url}/report?since=${(applied.appliedAt / 1000).toFixed(3)}`);
            assert.equal(res.status, 200);
            return failingRow((await res.json()) as Report, scenario.expect);
          },
          { timeoutMs: FAILS_WITHIN_MS, intervalMs: 500, message: `${describeRow(scenario.expect)} to FAIL` },
        );
        const after = Date.now() - applied.appliedAt;
        t.diagnostic(`${scenario.name}: failing ${after} ms after the scenario started (${row.reason ?? `actual ${row.actual}`})`);
        assert.ok(after <= FAILS_WITHIN_MS, `failed ${after} ms after the scenario started`);
        assert.ok(row.bad > 0, `the failing row counts bad events: ${JSON.stringify(row)}`);
      } finally {
        await demo.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe("the demo's command line", () => {
  const cases: Array<{ argv: string[]; scenario: string | null; help: boolean }> = [
    { argv: [], scenario: null, help: false },
    { argv: ["--scenario", "dead-provider"], scenario: "dead-provider", help: false },
    { argv: ["--scenario=silent-drop"], scenario: "silent-drop", help: false },
    { argv: ["--help"], scenario: null, help: true },
  ];
  for (const c of cases) {
    test(`accepts ${JSON.stringify(c.argv)}`, () => {
      const args = parseDemoArgs(c.argv);
      assert.deepEqual({ scenario: args.scenario?.name ?? null, help: args.help }, { scenario: c.scenario, help: c.help });
    });
  }
  const bad: Array<{ argv: string[]; error: RegExp }> = [
    { argv: ["--scenario", "staleRouting"], error: /unknown scenario "staleRouting"; one of: stale-provider, dead-provider, gap-on-failover, silent-drop, duplicates/ },
    { argv: ["--scenario"], error: /--scenario/ },
    { argv: ["--fault", "reset"], error: /Unknown option '--fault'/ },
    { argv: ["stale-provider"], error: /positional/i },
  ];
  for (const c of bad) {
    test(`refuses ${JSON.stringify(c.argv)}`, () => {
      assert.throws(() => parseDemoArgs(c.argv), c.error);
    });
  }

  test("every scenario has a distinct name", () => {
    assert.deepEqual(SCENARIOS.map((s) => s.name), [...SCENARIO_NAMES]);
  });

  test("an unknown scenario exits 2 with the list, before starting anything", { timeout: 60_000 }, () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "sim/demo.ts", "--scenario", "nope"], { encoding: "utf8", timeout: 50_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /unknown scenario "nope"; one of: stale-provider, dead-provider/);
    assert.match(r.stderr, /usage: npm run demo/);
    assert.doesNotMatch(r.stdout, /demo is running/);
  });
});
