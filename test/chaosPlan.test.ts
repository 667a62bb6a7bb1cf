import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { loadPlan, PlanError, summarizePlan, type Plan, type PlanIssue } from "../src/plan/index.js";
import { writePlan } from "./helpers/canaryBed.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A chain probed on the public and the canary profile, both pinned to alpha and bravo. */
function chainFile(chaos: string[], opts: { chain?: string; chainId?: number; routes?: string[] } = {}): string {
  return [
    `chain: ${opts.chain ?? "ethereum"}`,
    `chainId: ${opts.chainId ?? 1}`,
    "blockTimeMs: 1000",
    "routes:",
    ...(opts.routes ?? [
      "  - { strategy: default }",
      "  - { strategy: default, profile: canary }",
      "  - { provider: alpha }",
      "  - { provider: bravo }",
      "  - { provider: alpha, profile: canary }",
      "  - { provider: bravo, profile: canary }",
    ]),
    "probes:",
    "  - method: eth_blockNumber",
    "    interval: 10s",
    ...(chaos.length > 0 ? ["chaos:", ...chaos] : []),
  ].join("\n");
}

function load(checks: Record<string, string>, opts: { budget?: number; extraConfig?: string[] } = {}): Plan {
  const dir = mkdtempSync(path.join(os.tmpdir(), "chaos-plan-"));
  dirs.push(dir);
  const config = writePlan(dir, checks, { budget: opts.budget ?? 20, extraConfig: opts.extraConfig ?? [] });
  return loadPlan(config, { LASSO_URL: "http://127.0.0.1:4000" });
}

function issuesOf(checks: Record<string, string>, opts: { budget?: number; extraConfig?: string[] } = {}): PlanIssue[] {
  try {
    load(checks, opts);
  } catch (err) {
    if (err instanceof PlanError) return err.issues;
    throw err;
  }
  assert.fail("the plan was accepted");
}

/** One window entry; a line whose key is one of the base keys replaces it. */
const window = (...lines: string[]): string[] => {
  const keyOf = (l: string): string => l.trim().replace(/^- /, "").split(":")[0] ?? "";
  const base = ["name: eth-alpha-reset", 'schedule: "0 3 * * *"', "duration: 5m", "provider: alpha"];
  const all = [...base.filter((b) => !lines.some((l) => keyOf(l) === keyOf(b))), ...lines];
  return all.map((l, i) => (i === 0 ? `  - ${l}` : `    ${l}`));
};

describe("chaos windows in checks files", () => {
  test("a window gets its defaults, the chain's first target and adds its probes to the chain's rate", () => {
    const without = load({ ethereum: chainFile([]) });
    const plan = load({ ethereum: chainFile(window("fault: reset", "expect: failover")) });
    assert.equal(plan.chaos.length, 1);
    const w = plan.chaos[0];
    assert.deepEqual(w, {
      name: "eth-alpha-reset",
      chain: "ethereum",
      provider: "alpha",
      profile: "canary",
      target: "lb",
      kind: "fault",
      fault: { kind: "reset" },
      schedule: "0 3 * * *",
      durationMs: 300_000,
      expect: "failover",
      probeIntervalMs: 2000,
      stormEveryMs: null,
      slo: { minClientSuccess: 0.99, maxFailoverMs: 5000, maxRecoveryMs: 90_000 },
      abortFloor: 0.9,
      abortWindowMs: 30_000,
      preconditionMs: 300_000,
      silence: null,
    });
    assert.deepEqual(plan.chains[0]?.chaos, plan.chaos);
    // experiment + control, one request each every 2 s
    assert.equal(Math.round(((plan.ratePerChain.ethereum ?? 0) - (without.ratePerChain.ethereum ?? 0)) * 1000) / 1000, 1);
    assert.equal(plan.chaosControl, null);
  });

  test("validate lists the windows with what they do and cost", () => {
    const text = summarizePlan(load({ ethereum: chainFile(window("fault: { kind: http_5xx, status: 503 }", "expect: failover")) }));
    assert.match(text, /chaos windows \(one at a time; experiment canary profile vs control public profile\):/);
    assert.match(text, /eth-alpha-reset: "0 3 \* \* \*" for 5m, http_5xx on alpha, expect failover, profile canary via lb; probes every 2s, abort below 90% over 30s, precondition 5m; slo success >= 99%, failover <= 5s, recovery <= 1m30s/);
  });

  test("a failover storm defaults to ws_drop, expect failover and a storm period; a silence gets a comment", () => {
    const plan = load({
      ethereum: chainFile(window(
        "kind: failover_storm", "duration: 2m", "stormEvery: 10s", "probeInterval: 500ms", "abortWindow: 5s",
        "silence: { matchers: [{ name: alertname, value: 'LassoCanary.*', isRegex: true }] }",
      )),
    });
    const w = plan.chaos[0];
    assert.deepEqual(w?.fault, { kind: "ws_drop" });
    assert.equal(w?.expect, "failover");
    assert.equal(w?.stormEveryMs, 10_000);
    assert.deepEqual(w?.silence, { matchers: [{ name: "alertname", value: "LassoCanary.*", isRegex: true, isEqual: true }], comment: "lasso-canary chaos window eth-alpha-reset" });
  });

  test("a parameterised fault and the config's proxy control", () => {
    const plan = load(
      { ethereum: chainFile(window("fault: { kind: http_5xx, status: 503 }", "expect: failover", "target: lb")) },
      { extraConfig: ['chaos: { proxyControl: "http://127.0.0.1:9470", proxyToken: "0123456789abcdef0123" }'] },
    );
    assert.deepEqual(plan.chaos[0]?.fault, { kind: "http_5xx", status: 503 });
    assert.deepEqual(plan.chaosControl, { proxyControl: "http://127.0.0.1:9470", proxyToken: "0123456789abcdef0123" });
  });

  test("a provider pinned only on the public profile is accepted with a warning", () => {
    const plan = load({
      ethereum: chainFile(window("fault: reset", "expect: failover"), {
        routes: ["  - { strategy: default }", "  - { strategy: default, profile: canary }", "  - { provider: alpha }"],
      }),
    });
    assert.equal(plan.chaos.length, 1);
    assert.ok(plan.warnings.some((w) => w.path === "chaos[0].provider" && /no route pins alpha in profile canary/.test(w.message)), JSON.stringify(plan.warnings));
  });

  const cases: Array<{ name: string; chaos: string[]; path: string; message: RegExp; routes?: string[] }> = [
    { name: "cron that is not one", chaos: window("fault: reset", "expect: failover", 'schedule: "61 * * * *"'), path: "chaos[0].schedule", message: /not a cron expression \(61 is a invalid expression for minute\)/ },
    { name: "unknown provider", chaos: window("fault: reset", "expect: failover", "provider: alpa"), path: "chaos[0].provider", message: /provider "alpa" is not named by any route of ethereum \(did you mean "alpha"\?\); add a pin such as \{ provider: alpa, profile: canary \} to routes \(pinned providers: alpha, bravo\)/ },
    { name: "the public profile", chaos: window("fault: reset", "expect: failover", "profile: public"), path: "chaos[0].profile", message: /must not be the public profile/ },
    { name: "fault missing", chaos: window("expect: failover"), path: "chaos[0].fault", message: /is required for a fault window/ },
    { name: "expect missing", chaos: window("fault: reset"), path: "chaos[0].expect", message: /is required for a fault window: failover .* or no_failover/ },
    { name: "unknown fault kind", chaos: window("fault: rest", "expect: failover"), path: "chaos[0].fault", message: /unknown fault kind "rest" \(did you mean "reset"\?\)/ },
    { name: "fault parameter missing", chaos: window("fault: { kind: http_5xx }", "expect: failover"), path: "chaos[0].fault.status", message: /is required for a http_5xx fault/ },
    { name: "pass is no fault", chaos: window("fault: pass", "expect: failover"), path: "chaos[0].fault", message: /pass is no fault/ },
    { name: "a storm with another fault", chaos: window("kind: failover_storm", "fault: reset"), path: "chaos[0].fault", message: /drops the serving provider's WebSocket \(ws_drop\)/ },
    { name: "a storm expecting no failover", chaos: window("kind: failover_storm", "expect: no_failover"), path: "chaos[0].expect", message: /expect failover/ },
    { name: "stormEvery on a fault window", chaos: window("fault: reset", "expect: failover", "stormEvery: 10s"), path: "chaos[0].stormEvery", message: /only failover_storm windows/ },
    { name: "probe interval not shorter than the window", chaos: window("fault: reset", "expect: failover", "duration: 2s", "probeInterval: 2s", "abortWindow: 4s"), path: "chaos[0].probeInterval", message: /must be shorter than duration \(2s\)/ },
    { name: "abort floor above the objective", chaos: window("fault: reset", "expect: failover", "abortFloor: 0.995"), path: "chaos[0].abortFloor", message: /must not exceed slo.minClientSuccess \(0.99\)/ },
    { name: "abort window under two probes", chaos: window("fault: reset", "expect: failover", "abortWindow: 3s"), path: "chaos[0].abortWindow", message: /at least 2 probe intervals \(4s\)/ },
    { name: "bad duration", chaos: window("fault: reset", "expect: failover", "slo: { maxFailover: soon }"), path: "chaos[0].slo.maxFailover", message: /"soon" is not a duration/ },
    { name: "unknown key", chaos: window("fault: reset", "expect: failover", "abortFlor: 0.8"), path: "chaos[0].abortFlor", message: /unknown key \(did you mean "abortFloor"\?\)/ },
    { name: "unknown target", chaos: window("fault: reset", "expect: failover", "target: nope"), path: "chaos[0].target", message: /unknown target "nope"; ethereum is probed through: lb/ },
    {
      name: "no probes on the canary profile",
      chaos: window("fault: reset", "expect: failover"),
      routes: ["  - { strategy: default }", "  - { provider: alpha }"],
      path: "chaos[0].profile",
      message: /the precondition needs recent answers from the canary profile/,
    },
    { name: "a silence without matchers", chaos: window("fault: reset", "expect: failover", "silence: { matchers: [] }"), path: "chaos[0].silence.matchers", message: /needs at least one matcher/ },
  ];
  for (const c of cases) {
    test(`refused: ${c.name}`, () => {
      const issues = issuesOf({ ethereum: chainFile(c.chaos, c.routes ? { routes: c.routes } : {}) });
      const hit = issues.find((i) => i.path === c.path);
      assert.ok(hit, `no issue at ${c.path}: ${JSON.stringify(issues)}`);
      assert.match(hit.message, c.message);
      assert.match(hit.file, /ethereum\.yaml$/);
      assert.equal(typeof hit.line, "number", "the issue names its line");
    });
  }

  test("window names are unique across files, with the first definition's place", () => {
    const issues = issuesOf({
      base: chainFile(window("fault: reset", "expect: failover"), { chain: "base", chainId: 8453 }),
      ethereum: chainFile(window("fault: reset", "expect: failover")),
    });
    const dup = issues.find((i) => i.path === "chaos[0].name");
    assert.ok(dup, JSON.stringify(issues));
    assert.match(dup.file, /ethereum\.yaml$/);
    assert.match(dup.message, /window "eth-alpha-reset" is already defined in .*base\.yaml line \d+/);
  });

  test("two windows of one chain with one name", () => {
    const issues = issuesOf({ ethereum: chainFile([...window("fault: reset", "expect: failover"), ...window("fault: blackhole", "expect: failover")]) });
    const dup = issues.find((i) => i.path === "chaos[1].name");
    assert.ok(dup, JSON.stringify(issues));
    assert.match(dup.message, /already defined by chaos\[0\]/);
  });

  test("a window that puts the chain over its budget is refused with its share in the breakdown", () => {
    // probes: 6 routes every 10 s = 0.6; the window at 250 ms adds 8
    const issues = issuesOf({ ethereum: chainFile(window("fault: reset", "expect: failover", "probeInterval: 250ms")) }, { budget: 2 });
    const over = issues.find((i) => /over the budget/.test(i.message));
    assert.ok(over, JSON.stringify(issues));
    assert.match(over.message, /plans 8\.6 req\/s/);
    assert.match(over.message, /chaos \(one window at a time, the busiest: eth-alpha-reset\): experiment \+ control every 250ms = 8/);
  });

  test("the config's chaos section needs a long enough token", () => {
    const issues = issuesOf({ ethereum: chainFile([]) }, { extraConfig: ['chaos: { proxyControl: "http://127.0.0.1:9470", proxyToken: "short" }'] });
    const hit = issues.find((i) => i.path === "chaos.proxyToken");
    assert.ok(hit, JSON.stringify(issues));
    assert.match(hit.message, /at least 16 characters/);
  });
});
