/**
 * Baseline comparison end to end: the real test bed (anvil, fault proxies as providers, the
 * Lasso-compatible target), the daemon probing it and writing its store, and the CLI reading
 * that store beside it. A latency fault on every provider in the current period, against a
 * clean baseline, is a regression and `report --baseline` exits 3; a clean period exits 0.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Report } from "../src/report/index.js";
import { startCanaryBed, type CanaryBed } from "./helpers/canaryBed.js";
import { waitFor } from "./helpers/waitFor.js";

const PROVIDERS = ["alpha", "bravo"];
const ROUTES = ["load-balanced", ...PROVIDERS.map((p) => `pin:${p}`)];
/** Every provider answers this much later in every period, so a loaded machine's few ms of jitter stay far below 10%. */
const BASE = { kind: "latency", fixedMs: 80, jitterMs: 0 } as const;
/** The defect: every provider 80 ms slower still (+~100%). */
const SLOW = { kind: "latency", fixedMs: 160, jitterMs: 0 } as const;
/** Answered probes per series and period: enough for the p50 test (20), with a margin (probes run once a second). */
const SAMPLES = 30;

const CHECKS = [
  "chain: ethereum",
  "chainId: 1",
  "blockTimeMs: 1000",
  "routes:",
  "  - { strategy: load-balanced }",
  ...PROVIDERS.map((p) => `  - { provider: ${p} }`),
  "probes:",
  "  - method: eth_blockNumber",
  "    interval: 1s",
  "    timeout: 800ms",
  "    routes: all",
  "    assert: [shape: quantity]",
].join("\n");

/**
 * The test bed's "Lasso overhead" is the target's own event-loop time on a machine shared with
 * other work: a few ms of scheduling noise, so its floor is raised through the config's
 * thresholds (which this also exercises); latency keeps the defaults.
 */
const COMPARISON_CONFIG = ["comparison:", "  thresholds:", "    overhead: { absolute: 20ms }"];

interface Period {
  since: number;
  until: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function cli(c: CanaryBed, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", ...args, "--config", path.join(c.dir, "canary.yaml")], {
    encoding: "utf8", env: { ...process.env, LASSO_URL: c.bed.lasso.url }, timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function setAll(c: CanaryBed, fault: typeof BASE | typeof SLOW): void {
  for (const id of PROVIDERS) c.bed.provider("ethereum", id).setFault(fault, 600_000);
}

/** A period of SAMPLES answered probes per route under `fault`, starting 1 s after the fault is set (probes in flight finish first). */
async function period(c: CanaryBed, fault: typeof BASE | typeof SLOW): Promise<Period> {
  setAll(c, fault);
  const since = Date.now() + 1000;
  const fewest = (): number => {
    const ok = c.daemon.store.reader().probeSamples({ since, until: Date.now() }).filter((s) => s.outcome === "ok");
    return Math.min(...ROUTES.map((r) => ok.filter((s) => s.route === r).length));
  };
  await waitFor(() => fewest() >= SAMPLES, { timeoutMs: 90_000, message: `${SAMPLES} answered probes per route under ${fault.fixedMs} ms` });
  const until = Date.now();
  c.daemon.store.flush();
  return { since, until };
}

describe("baseline comparison over the test bed", { timeout: 300_000 }, () => {
  let c: CanaryBed;
  let clean: Period;
  let slow: Period;
  let cleanAgain: Period;

  before(async () => {
    c = await startCanaryBed({ chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: PROVIDERS }] }, { ethereum: CHECKS }, {
      budget: 40, extraConfig: COMPARISON_CONFIG,
    });
    clean = await period(c, BASE);
    slow = await period(c, SLOW);
    cleanAgain = await period(c, BASE);
  });

  after(async () => {
    await c?.stop();
  });

  test("a latency fault against a clean range baseline is a regression: report --baseline exits 3", () => {
    const r = cli(c, ["report", "--since", iso(slow.since), "--until", iso(slow.until), "--baseline", `${iso(clean.since)}..${iso(clean.until)}`, "--format", "json"]);
    assert.equal(r.status, 3, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    const p50s = report.comparison?.rows.filter((x) => x.metric === "latency_p50_ms") ?? [];
    assert.deepEqual(p50s.map((x) => x.route).sort(), [...ROUTES].sort(), "a p50 row per route");
    for (const p50 of p50s) {
      assert.equal(p50.verdict, "regression", `${p50.route}: ${p50.reason}`);
      assert.ok(p50.change.relative !== null && p50.change.relative > 0.5, `${p50.route}: p50 rose by over 50% (${p50.change.relative})`);
    }
    assert.equal(report.comparison?.settings.thresholds.overhead.absolute, 20, "the config's threshold reached the comparison");
  });

  test("a named baseline saved from the clean period: the slow period exits 3, a clean one 0", async () => {
    const saved = cli(c, ["baseline", "save", "clean", "--since", iso(clean.since), "--until", iso(clean.until)]);
    assert.equal(saved.status, 0, saved.stderr);
    assert.match(saved.stdout, /^saved baseline clean: .* 3 series, 0 watchers/);
    const again = cli(c, ["baseline", "save", "clean", "--since", iso(clean.since), "--until", iso(clean.until)]);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /already exists/);
    assert.match(cli(c, ["baseline", "list"]).stdout, new RegExp(`^clean\\t${iso(clean.since)}\\t${iso(clean.until)}\\tall chains`));

    const regressed = cli(c, ["report", "--since", iso(slow.since), "--until", iso(slow.until), "--baseline", "clean"]);
    assert.equal(regressed.status, 3, regressed.stderr);
    assert.match(regressed.stdout, /## Baseline comparison[\s\S]*REGRESSION:[\s\S]*latency_p50_ms[^\n]*REGRESSION/);

    const fine = cli(c, ["report", "--since", iso(cleanAgain.since), "--until", iso(cleanAgain.until), "--baseline", "@clean", "--format", "json"]);
    assert.equal(fine.status, 0, fine.stderr);
    const report = JSON.parse(fine.stdout) as Report;
    assert.equal(report.comparison?.regression, false, report.comparison?.rows.filter((x) => x.verdict === "regression").map((x) => `${x.metric}: ${x.reason}`).join("; "));
    const p50 = report.comparison?.rows.find((x) => x.metric === "latency_p50_ms");
    assert.ok(p50?.test, "the clean period's p50 was tested, not left inconclusive for want of samples");

    // The daemon serves the same comparison (report worker, read-only connection).
    const res = await fetch(`${c.daemon.url}/report?since=${iso(slow.since)}&until=${iso(slow.until)}&baseline=@clean`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as Report).comparison?.regression, true);
    const unknown = await fetch(`${c.daemon.url}/report?since=1h&baseline=@nope`);
    assert.equal(unknown.status, 400);
    assert.match(await unknown.text(), /unknown baseline \\"nope\\"/);

    const deleted = cli(c, ["baseline", "delete", "clean"]);
    assert.equal(deleted.status, 0, deleted.stderr);
    assert.equal(cli(c, ["report", "--since", "1h", "--baseline", "clean"]).status, 2, "an unknown baseline is bad input");
  });
});
