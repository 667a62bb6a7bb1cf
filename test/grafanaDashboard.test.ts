/**
 * config/grafana/lasso-canary.json against the daemon it charts: every metric name in every
 * panel query, annotation and template variable must be one the daemon's real /metrics
 * exports (the daemon runs against the test bed with probes, watchers, consistency and a chaos
 * window planned), and every expression must parse (promtool check rules on a generated rule
 * file holding each one, Grafana's variables replaced by values).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { startAlertsBed, type AlertsBed } from "./helpers/alertsBed.js";
import { parsePromText } from "./helpers/promText.js";
import { run } from "./helpers/promStack.js";

const DASHBOARD = "config/grafana/lasso-canary.json";

/** Prometheus's own series, never the daemon's. */
const FROM_PROMETHEUS = new Set(["up"]);

const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan", "Inf", "NaN"]);

/**
 * The metric names a PromQL expression selects: identifiers left once strings, label matchers,
 * ranges and label lists (by, without, on, ignoring, group_left, group_right) are removed,
 * other than functions (followed by "("), keywords and number exponents.
 */
export function metricNames(expr: string): string[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const m of s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const before = s[m.index - 1] ?? " ";
    if (/[0-9.$]/.test(before)) continue;
    if (s.slice(m.index + m[0].length).trimStart().startsWith("(")) continue;
    if (KEYWORDS.has(m[0])) continue;
    names.add(m[0]);
  }
  return [...names];
}

interface Target { expr?: string }
interface Panel { title?: string; type?: string; datasource?: { uid?: string }; targets?: Target[]; panels?: Panel[] }
interface Dashboard {
  panels: Panel[];
  annotations: { list: Array<{ name: string; expr?: string }> };
  templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as Dashboard;
const allPanels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== "row");

/** Every query of the dashboard: [where, PromQL]. label_values(selector, label) contributes its selector. */
function queries(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const p of allPanels) for (const t of p.targets ?? []) if (t.expr) out.push([`panel "${p.title ?? "?"}"`, t.expr]);
  for (const a of dashboard.annotations.list) if (a.expr) out.push([`annotation "${a.name}"`, a.expr]);
  for (const v of dashboard.templating.list) {
    if (v.type !== "query") continue;
    const q = typeof v.query === "string" ? v.query : v.query?.query ?? "";
    const m = /^label_values\((.+), *[a-zA-Z_]+\)$/.exec(q);
    assert.ok(m?.[1], `variable ${v.name}: a label_values(selector, label) query, got ${q}`);
    out.push([`variable "${v.name}"`, m[1]]);
  }
  return out;
}

/** Grafana's variables as Prometheus would receive them. */
function substituted(expr: string): string {
  const s = expr.replace(/\$__range\b/g, "1h").replace(/\$__rate_interval\b/g, "1m").replace(/\$(chain|target|job)\b/g, ".+");
  assert.doesNotMatch(s, /\$/, `a variable the test does not know in ${expr}`);
  return s;
}

test("metricNames finds selected metrics only", async (t) => {
  const cases: Array<[string, string[]]> = [
    ['sum by (chain, route) (rate(a_total{outcome="ok",x=~"$chain"}[$__rate_interval])) / on (chain) group_left () b', ["a_total", "b"]],
    ["histogram_quantile(0.95, sum by (le) (rate(c_bucket[5m]))) > 1e3", ["c_bucket"]],
    ['time() - max by (w) (d{e="f(g)"}) and bool h offset 5m', ["d", "h"]],
    ["1 - (x / y) or vector(0)", ["x", "y"]],
  ];
  for (const [expr, want] of cases) await t.test(expr, () => assert.deepEqual(metricNames(expr), want));
});

test("every panel queries the datasource variable", () => {
  assert.ok(dashboard.templating.list.some((v) => v.name === "datasource" && v.type === "datasource"), "a datasource variable");
  for (const p of allPanels) assert.equal(p.datasource?.uid, "${datasource}", `panel "${p.title}"`);
  assert.ok(allPanels.length >= 20, `panels: ${allPanels.length}`);
});

describe("every metric name exists in the daemon's /metrics", { timeout: 120_000 }, () => {
  let bed: AlertsBed | null = null;
  /** Sample names and declared families (a family with no series yet still prints # TYPE). */
  const exported = new Set<string>();
  before(async () => {
    // Soak on (sampling the daemon itself and the target) so its metric families are declared.
    bed = await startAlertsBed(["soak: { pollInterval: 1s, window: 60s, warmup: 0s, minSpan: 20s, targets: [lb] }"]);
    const text = await (await fetch(`${bed.daemon.url}/metrics`)).text();
    for (const s of parsePromText(text)) exported.add(s.name);
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      const [, name = "", type] = m;
      exported.add(name);
      if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) exported.add(name + suffix);
    }
  });
  after(async () => {
    await bed?.stop();
  });

  for (const [where, expr] of queries()) {
    test(`${where}: ${expr.slice(0, 80)}`, () => {
      const names = metricNames(expr);
      assert.ok(names.length > 0, `no metric found in ${expr}`);
      const unknown = names.filter((n) => !exported.has(n) && !FROM_PROMETHEUS.has(n));
      assert.deepEqual(unknown, [], `names the daemon does not export, in ${expr}`);
    });
  }
});

test("every expression parses (promtool check rules, one recording rule per expression)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "dashboard-exprs-"));
  try {
    const rules = queries().map(([, expr], i) => ({ record: `dashboard:expr_${i}`, expr: substituted(expr) }));
    const file = path.join(dir, "dashboard.rules.yml");
    writeFileSync(file, stringify({ groups: [{ name: "dashboard", rules }] }));
    const r = run("promtool", ["check", "rules", file]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, new RegExp(`SUCCESS: ${rules.length} rules found`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
