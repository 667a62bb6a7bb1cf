import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLogger } from "../src/log.js";
import type { Report } from "../src/report/index.js";
import { startDemo } from "../sim/demoStack.js";
import { NO_DEFECTS } from "../sim/lasso/index.js";
import { applyScenario, describeRow, failingRow, findScenario, parseDemoArgs, SCENARIO_NAMES, SCENARIOS } from "../sim/scenarios.js";
import { startTestBed } from "../sim/testbed.js";
import { spawnDemo } from "./helpers/demoProcess.js";
import { waitFor } from "./helpers/waitFor.js";

// README's "Break Lasso on purpose": every scenario, on a fresh demo (defects and faults interact,
// and a failover moves a shared subscription for good), through the function `npm run demo` uses.
const FAILS_WITHIN_MS = 60_000;

/**
 * The SLO row each scenario must fail, written here rather than read from the scenario table,
 * so a scenario that quietly moved its expectation to a row that fails anyway is caught.
 */
const FAILING_ROW: Record<string, { route: string; watcher: string | null; sli: string; reason?: RegExp }> = {
  // charlie 6 blocks behind and preferred by the default route: its answers are stale.
  "stale-provider": { route: "default", watcher: null, sli: "head_freshness" },
  // bravo resets every connection: only its own pin cannot fail over.
  "dead-provider": { route: "pin:bravo", watcher: null, sli: "success_ratio" },
  // the failover skips the backfill: blocks are never delivered.
  "gap-on-failover": { route: "default", watcher: "newHeads:default", sli: "delivery", reason: /block\(s\) never delivered/ },
  // events dropped on an open socket: the watcher stalls.
  "silent-drop": { route: "default", watcher: "newHeads:default", sli: "delivery", reason: /^stalled since/ },
  // the failover replays delivered heads.
  "duplicates": { route: "default", watcher: "newHeads:default", sli: "duplicates" },
};

test("every scenario expects the row this test states for it", () => {
  assert.deepEqual(
    Object.fromEntries(SCENARIOS.map((s) => [s.name, { chain: s.expect.chain, route: s.expect.route, watcher: s.expect.watcher, sli: s.expect.sli, reason: String(s.expect.reason) }])),
    Object.fromEntries(Object.entries(FAILING_ROW).map(([name, r]) => [name, { chain: "ethereum", route: r.route, watcher: r.watcher, sli: r.sli, reason: String(r.reason) }])),
  );
});

/** README's "Break Lasso on purpose" section: the scenarios its command line offers and the row its table names for each. */
function readmeScenarios(): { offered: string[]; rows: Record<string, { route: string; watcher: string | null; sli: string }> } {
  const readme = readFileSync("README.md", "utf8");
  const section = /### Break Lasso on purpose\n([\s\S]*?)\n## /.exec(readme)?.[1];
  assert.notEqual(section, undefined, "README has the section");
  const command = /npm run demo -- --scenario ([a-z-]+)\s+# or ([a-z| -]+)\n/.exec(section ?? "");
  assert.notEqual(command, null, "README shows the --scenario command with its alternatives");
  const offered = [command?.[1] ?? "", ...(command?.[2] ?? "").split("|").map((x) => x.trim())];
  const rows = Object.fromEntries([...(section ?? "").matchAll(/^\| `([a-z-]+)` \| .* \| ethereum `([^`]+)` (?:watcher `([^`]+)` )?`([a-z_]+)`.*\|$/gm)]
    .map((m) => [m[1] ?? "", { route: m[2] ?? "", watcher: m[3] ?? null, sli: m[4] ?? "" }]));
  return { offered, rows };
}

test("README offers exactly the scenarios this test runs, each with the row this test expects to fail", () => {
  const { offered, rows } = readmeScenarios();
  assert.deepEqual([...offered].sort(), [...SCENARIO_NAMES].sort(), "the command line in README lists every scenario, and no other");
  assert.deepEqual(rows, Object.fromEntries(Object.entries(FAILING_ROW).map(([name, r]) => [name, { route: r.route, watcher: r.watcher, sli: r.sli }])),
    "README's table names the row each scenario fails");
});

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
        const stated = FAILING_ROW[scenario.name];
        assert.deepEqual([row.route, row.watcher, row.sli, row.pass], [stated?.route, stated?.watcher, stated?.sli, false], "the row this test states");
        if (stated?.reason) assert.match(row.reason ?? "", stated.reason);
      } finally {
        await demo.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

// The controls: half a scenario shows nothing, so each row above fails because of Lasso's defect.
test("control: the staleRouting defect with no stale provider, and a stalled subscription provider with no defect, fail nothing", { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "canary-scenario-"));
  const demo = await startDemo({ env: { CANARY_LISTEN: "127.0.0.1:0", CANARY_DB: path.join(dir, "demo.db") }, logger: createLogger("silent") });
  const report = async (since: number): Promise<Report> => {
    const res = await fetch(`${demo.daemon.url}/report?since=${(since / 1000).toFixed(3)}&chain=ethereum`);
    assert.equal(res.status, 200);
    return (await res.json()) as Report;
  };
  const byName = (name: string) => SCENARIOS.find((s) => s.name === name)?.expect;
  const [stale, gap, dups] = [byName("stale-provider"), byName("gap-on-failover"), byName("duplicates")];
  assert.ok(stale && gap && dups, "the scenarios the controls are about exist");
  const watcher = (r: Report) => r.chains[0]?.continuity.watchers.find((w) => w.watcher === gap.watcher);
  try {
    const t0 = Date.now();
    await waitFor(async () => (watcher(await report(t0))?.delivered ?? 0) >= 3, { timeoutMs: 60_000, intervalMs: 500, message: "heads delivered before the stall" });
    const since = Date.now();
    demo.bed.lasso.setDefects({ staleRouting: true });
    demo.bed.provider(gap.chain, "alpha").setFault({ kind: "ws_stall" }, 120_000);
    // Lasso failed the shared subscription over and backfilled, and the default route was judged for freshness a few times.
    const r = await waitFor(
      async () => {
        const rep = await report(since);
        const w = watcher(rep);
        const head = rep.chains[0]?.series.find((s) => s.route === stale.route && s.head.samples > 0)?.head;
        return (w?.backfilled ?? 0) > 0 && w?.state.status === "live" && (head?.samples ?? 0) >= 5 ? rep : null;
      },
      { timeoutMs: 60_000, intervalMs: 500, message: "a backfilled failover and 5 freshness samples on the default route" },
    );
    t.diagnostic(`failover backfilled ${watcher(r)?.backfilled} block(s)`);
    for (const e of [stale, gap, dups]) {
      const row = r.chains[0]?.slo.find((x) => x.route === e.route && x.sli === e.sli && x.watcher === e.watcher);
      assert.deepEqual({ row: describeRow(e), pass: row?.pass, bad: row?.bad }, { row: describeRow(e), pass: true, bad: 0 });
    }
  } finally {
    await demo.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a scenario holds its fault past the proxy's window until stopped, then clears the fault and its defects", { timeout: 60_000 }, async () => {
  const bed = await startTestBed({ chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: ["alpha", "bravo", "charlie"] }] });
  try {
    const scenario = findScenario("duplicates");
    const alpha = bed.provider("ethereum", "alpha");
    const WINDOW_MS = 2000;
    const applied = applyScenario(bed, scenario, WINDOW_MS);
    assert.equal(bed.lasso.defects().duplicatesOnFailover, true);
    let renewals = 0;
    const ended: string[] = [];
    alpha.on("fault", () => (renewals += 1));
    alpha.on("fault-cleared", (reason) => ended.push(reason));
    // Two and a half windows: the fault never lapsed, each renewal replaced an open window.
    // Waiting out the clock is the behaviour under test here (held past the window), not a stand-in for a condition.
    await waitFor(() => Date.now() >= applied.appliedAt + 2.5 * WINDOW_MS, { timeoutMs: 20_000, message: "2.5 fault windows" });
    assert.deepEqual(alpha.currentFault()?.fault, { kind: "ws_stall" });
    assert.ok(renewals >= 3, `renewed every half window (${renewals} renewals)`);
    assert.deepEqual(new Set(ended), new Set(["replaced"]), `the fault lapsed between renewals: ${ended.join(", ")}`);
    alpha.removeAllListeners();
    applied.stop();
    assert.equal(alpha.currentFault(), null);
    assert.deepEqual(bed.lasso.defects(), NO_DEFECTS);
  } finally {
    await bed.stop();
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

  test("--scenario dead-provider prints the row to expect and a report URL that shows it failing; Ctrl-C stops it", { timeout: 150_000 }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "canary-demo-"));
    const { child, output } = spawnDemo(dir, ["--scenario", "dead-provider"]);
    try {
      await waitFor(() => output().includes("demo is running"), { timeoutMs: 60_000, message: "the demo to start" });
      assert.match(output(), /scenario dead-provider: ethereum\/bravo resets every connection/);
      assert.match(output(), /expect: ethereum pin:bravo success_ratio FAIL within 60 s of the scenario's start/);
      const url = await waitFor(() => /scenario dead-provider started at .*\n.*FAIL by .*\n\s+see (http:\/\/127\.0\.0\.1:\d+\/report\?\S+)/.exec(output())?.[1],
        { timeoutMs: 90_000, message: "the scenario to start and print its report URL" });
      assert.match(url, /since=\d+&chain=ethereum&format=md$/);
      // The availability row of bravo's pin (success_ratio, "well-formed answers >= ..."): | target | route | watcher | objective | ... | verdict |
      await waitFor(
        async () => /^\| lb \| pin:bravo \| — \| well-formed answers [^\n]*\| FAIL \|$/m.test(await (await fetch(url)).text()),
        { timeoutMs: 60_000, intervalMs: 500, message: `pin:bravo well-formed answers FAIL in ${url}` },
      );
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      child.kill("SIGINT");
      assert.equal(await exited, 0, output().slice(-2000));
      assert.match(output(), /stopped cleanly/);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an unknown scenario exits 2 with the list, before starting anything", { timeout: 60_000 }, () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "sim/demo.ts", "--scenario", "nope"], { encoding: "utf8", timeout: 50_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /unknown scenario "nope"; one of: stale-provider, dead-provider/);
    assert.match(r.stderr, /usage: npm run demo/);
    assert.doesNotMatch(r.stdout, /demo is running/);
  });
});
