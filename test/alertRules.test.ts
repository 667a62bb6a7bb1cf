/**
 * The shipped alert rules and Alertmanager example, checked by the tools that will run them:
 * promtool (Debian package `prometheus`) checks and unit-tests the rules
 * (config/prometheus/tests/*.yml); every alert of the rules file must have a firing and a
 * non-firing case there, labels and annotations operators rely on, and a runbook section;
 * amtool checks the Alertmanager example and its routes, and a real Alertmanager running it
 * applies its inhibit rules.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import path from "node:path";
import { parse } from "yaml";
import { alertNames, ALERTMANAGER_EXAMPLE, exampleAlertmanagerConfig, RULES_FILE, run, startAlertmanager, type LoopbackProcess } from "./helpers/promStack.js";
import { waitFor } from "./helpers/waitFor.js";

const TESTS_DIR = "config/prometheus/tests";
const RUNBOOK = "docs/runbook.md";
const rulesText = readFileSync(RULES_FILE, "utf8");
const ALERTS = alertNames(rulesText);

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function alertRules(): AlertRule[] {
  const doc = parse(rulesText) as { groups: Array<{ rules: Array<AlertRule | { record: string }> }> };
  return doc.groups.flatMap((g) => g.rules.filter((r): r is AlertRule => "alert" in r));
}

const testFiles = readdirSync(TESTS_DIR).filter((f) => f.endsWith(".yml")).map((f) => path.join(TESTS_DIR, f));

interface UnitCase {
  alertname: string;
  exp_alerts?: unknown[];
}

/** Every alert_rule_test case of every promtool test file. */
function unitCases(): UnitCase[] {
  return testFiles.flatMap((f) => {
    const doc = parse(readFileSync(f, "utf8")) as { tests: Array<{ alert_rule_test?: UnitCase[] }> };
    return doc.tests.flatMap((t) => t.alert_rule_test ?? []);
  });
}

/** GitHub's anchor of a markdown heading: lowercase, punctuation dropped, spaces to dashes. */
function anchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-");
}

test("the rules file has the alerts issue 11 asks for", () => {
  assert.ok(ALERTS.length >= 20, `alerts parsed from ${RULES_FILE}: ${ALERTS.join(", ")}`);
  assert.equal(new Set(ALERTS).size, ALERTS.length, "alert names are unique");
});

test("promtool check rules accepts the rules file", () => {
  const r = run("promtool", ["check", "rules", RULES_FILE]);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /SUCCESS: \d+ rules found/);
});

test("promtool test rules passes every unit test file", { timeout: 180_000 }, () => {
  assert.ok(testFiles.length > 0, `test files in ${TESTS_DIR}`);
  const r = run("promtool", ["test", "rules", ...testFiles]);
  assert.equal(r.status, 0, r.out);
  assert.equal((r.out.match(/SUCCESS/g) ?? []).length, testFiles.length, r.out);
});

describe("every alert has a firing and a non-firing unit test", () => {
  const cases = unitCases();
  for (const name of ALERTS) {
    test(name, () => {
      const mine = cases.filter((c) => c.alertname === name);
      assert.ok(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${name}: a case where it fires`);
      assert.ok(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${name}: a case where it does not fire`);
    });
  }
  test("no case names an alert the rules file does not have", () => {
    assert.deepEqual([...new Set(cases.map((c) => c.alertname))].filter((n) => !ALERTS.includes(n)), []);
  });
});

describe("every alert has a severity, a summary, a description and a runbook section", () => {
  const runbook = readFileSync(RUNBOOK, "utf8");
  const anchors = new Set([...runbook.matchAll(/^#{2,3} (.+)$/gm)].map((m) => anchor(m[1] ?? "")));
  for (const rule of alertRules()) {
    test(rule.alert, () => {
      assert.match(rule.labels?.severity ?? "", /^(page|ticket|info)$/, "severity");
      assert.ok((rule.annotations?.summary ?? "").length > 10, `${rule.alert}: a summary`);
      assert.ok((rule.annotations?.description ?? "").length > 20, `${rule.alert}: a description`);
      const url = rule.annotations?.runbook_url ?? "";
      assert.equal(url, `${RUNBOOK}#${rule.alert.toLowerCase()}`);
      assert.ok(anchors.has(rule.alert.toLowerCase()), `${RUNBOOK} has a section "## ${rule.alert}"`);
    });
  }
});

test("burn-rate alerts read their thresholds from the objective gauges, never a copied objective", () => {
  const burn = alertRules().filter((r) => r.labels?.slo !== undefined);
  assert.deepEqual(burn.map((r) => r.labels?.slo).sort(), ["availability", "availability", "correctness", "freshness", "freshness", "latency", "latency"]);
  for (const r of burn) {
    assert.match(r.expr, /lasso_canary:slo_error_budget\{sli="[a-z_]+"\}|lasso_canary:slo_latency_objective_seconds/, `${r.alert} reads an objective`);
    // The default objectives (0.999, 0.99, 300 ms) must not appear as numbers.
    assert.doesNotMatch(r.expr, /0\.99|\b0\.3\b|\b300\b/, `${r.alert} copies no objective`);
  }
  const recorded = parse(rulesText) as { groups: Array<{ rules: Array<{ record?: string; expr: string }> }> };
  const budget = recorded.groups.flatMap((g) => g.rules).find((r) => r.record === "lasso_canary:slo_error_budget");
  assert.match(budget?.expr ?? "", /^1 - max by \(chain, sli\) \(lasso_canary_slo_objective\{sli=~"\.\+_ratio"\}\)$/);
});

test("README's Operating table quotes expressions the rules file really has", () => {
  const readme = readFileSync("README.md", "utf8");
  const table = /\*\*Alert expressions\*\*[\s\S]*?\n\n([\s\S]*?)\n\n/.exec(readme)?.[1];
  assert.notEqual(table, undefined, "README's Operating section has the alert expressions table");
  const squash = (s: string): string => s.replace(/\s+/g, " ").trim();
  const rules = squash(rulesText);
  const quoted = [...(table ?? "").matchAll(/`([^`]+)`/g)].map((m) => (m[1] ?? "").replaceAll("\\|", "|")).filter((q) => q.includes("(") && !q.includes("..."));
  assert.ok(quoted.length >= 5, `the table quotes at least 5 expressions (found ${quoted.length})`);
  for (const q of quoted) assert.ok(rules.includes(squash(q)), `README quotes an expression the rules file does not have: ${q}`);
});

describe("Alertmanager example", () => {
  test("amtool check-config accepts it", () => {
    const r = run("amtool", ["check-config", ALERTMANAGER_EXAMPLE]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /SUCCESS/);
  });

  const routes: Array<{ labels: string[]; receiver: string }> = [
    { labels: ["severity=page", "alertname=LassoCanaryAvailabilityBurnFast"], receiver: "page" },
    { labels: ["severity=ticket", "alertname=LassoCanarySubscriptionGap"], receiver: "ticket" },
    { labels: ["severity=info", "alertname=LassoCanaryChaosWindow"], receiver: "null" },
  ];
  for (const { labels, receiver } of routes) {
    test(`routes ${labels.join(" ")} to ${receiver}`, () => {
      const r = run("amtool", ["config", "routes", "test", `--config.file=${ALERTMANAGER_EXAMPLE}`, ...labels]);
      assert.equal(r.status, 0, r.out);
      assert.equal(r.out.split("\n").find((l) => !l.startsWith("Warning"))?.trim(), receiver);
    });
  }
  test("every severity the rules use has a route", () => {
    const severities = new Set(alertRules().map((r) => r.labels?.severity ?? ""));
    assert.deepEqual([...severities].sort(), ["info", "page", "ticket"]);
  });
});

describe("Alertmanager inhibits with the example's rules", { timeout: 60_000 }, () => {
  let am: LoopbackProcess | null = null;
  const webhook: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200).end());
  });
  before(async () => {
    await new Promise<void>((resolve) => webhook.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(webhook.address() as { port: number }).port}`;
    am = await startAlertmanager(exampleAlertmanagerConfig(base));
  });
  after(async () => {
    await am?.stop();
    webhook.closeAllConnections();
    await new Promise((resolve) => webhook.close(resolve));
  });

  type AmAlert = { labels: Record<string, string>; status: { state: string; inhibitedBy: string[] } };
  const route = { target: "lb", chain: "ethereum" };
  const cases: Array<{ name: string; labels: Record<string, string>; state: "suppressed" | "active" }> = [
    { name: "the faulted provider's canary pin: muted", labels: { alertname: "LassoCanaryAvailabilityBurnFast", severity: "page", slo: "availability", ...route, route: "canary/pin:alpha", profile: "canary", provider: "alpha" }, state: "suppressed" },
    { name: "its pinned watcher: muted", labels: { alertname: "LassoCanarySubscriptionStalled", severity: "page", ...route, watcher: "newHeads:canary/pin:alpha", profile: "canary", provider: "alpha" }, state: "suppressed" },
    { name: "the public profile's pin of the same provider: not muted", labels: { alertname: "LassoCanaryAvailabilityBurnFast", severity: "page", slo: "availability", ...route, route: "pin:alpha", profile: "public", provider: "alpha" }, state: "active" },
    { name: "another provider's canary pin: not muted", labels: { alertname: "LassoCanaryAvailabilityBurnFast", severity: "page", slo: "availability", ...route, route: "canary/pin:bravo", profile: "canary", provider: "bravo" }, state: "active" },
    { name: "the canary profile's strategy route: not muted", labels: { alertname: "LassoCanaryAvailabilityBurnFast", severity: "page", slo: "availability", ...route, route: "canary/default", profile: "canary" }, state: "active" },
    { name: "the same pin on another chain: not muted", labels: { alertname: "LassoCanaryAvailabilityBurnFast", severity: "page", slo: "availability", target: "lb", chain: "base", route: "canary/pin:alpha", profile: "canary", provider: "alpha" }, state: "active" },
    { name: "a ticket of the same SLO and route as a page: muted", labels: { alertname: "LassoCanaryAvailabilityBurnSlow", severity: "ticket", slo: "availability", ...route, route: "pin:alpha", profile: "public", provider: "alpha" }, state: "suppressed" },
    { name: "a ticket of another SLO on that route: not muted", labels: { alertname: "LassoCanaryFreshnessBurnSlow", severity: "ticket", slo: "freshness", ...route, route: "pin:alpha", profile: "public", provider: "alpha" }, state: "active" },
    { name: "a stall on a never-live watcher: muted", labels: { alertname: "LassoCanarySubscriptionStalled", severity: "page", ...route, watcher: "newHeads:pin:charlie", profile: "public", provider: "charlie" }, state: "suppressed" },
  ];

  test("posted alerts are muted or not as each inhibit rule says", async (t) => {
    assert.ok(am !== null, "alertmanager started");
    const url = am.url;
    const sources = [
      { labels: { alertname: "LassoCanaryChaosWindow", severity: "info", chain: "ethereum", provider: "alpha" } },
      { labels: { alertname: "LassoCanarySubscriptionNeverLive", severity: "page", ...route, watcher: "newHeads:pin:charlie", profile: "public", provider: "charlie" } },
    ];
    const posted = await fetch(`${url}/api/v2/alerts`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify([...sources, ...cases.map((c) => ({ labels: c.labels }))]),
    });
    assert.equal(posted.status, 200, await posted.text());
    const key = (labels: Record<string, string>): string => JSON.stringify(Object.entries(labels).sort());
    // Inhibition is computed when Alertmanager lists the alerts; wait until it lists them all.
    const listed = await waitFor(
      async () => {
        const all = (await (await fetch(`${url}/api/v2/alerts`)).json()) as AmAlert[];
        return all.length === sources.length + cases.length ? new Map(all.map((a) => [key(a.labels), a.status])) : null;
      },
      { timeoutMs: 15_000, message: "every posted alert listed" },
    );
    // The inhibition sources themselves stay active.
    for (const s of sources) assert.equal(listed.get(key(s.labels))?.state, "active", s.labels.alertname);
    for (const c of cases) {
      await t.test(c.name, () => {
        const status = listed.get(key(c.labels));
        assert.equal(status?.state, c.state, JSON.stringify(status));
        assert.equal((status?.inhibitedBy ?? []).length > 0, c.state === "suppressed", JSON.stringify(status));
      });
    }
  });
});
