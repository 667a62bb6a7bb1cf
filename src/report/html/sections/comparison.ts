import type { ComparisonRow } from "../../types.js";
import { esc, num, pct, utc } from "../format.js";
import type { Section } from "../section.js";

function value(row: ComparisonRow, side: "baseline" | "current"): string {
  const { value: v, samples } = row[side];
  if (v === null) return "-";
  const text = row.metric === "success_ratio" ? pct(v) : row.metric === "head_lag_blocks" ? `${num(v)} blocks` : `${num(v, 1)} ms`;
  return `${text} (n=${samples})`;
}

function change(row: ComparisonRow): string {
  const r = row.change.relative;
  return r === null ? "-" : `${r >= 0 ? "+" : ""}${(r * 100).toFixed(1)}%`;
}

/** The baseline comparison (`baseline=`): regressions first, then the rest, one row per series or watcher and metric. */
export const comparisonSection: Section = {
  id: "comparison",
  title: "Baseline comparison",
  render({ report }) {
    const c = report.comparison;
    if (c === null) return null;
    const b = c.baseline;
    const what = b.kind === "named" ? `saved baseline "${b.name ?? "?"}" (computed from ${utc(b.since)} to ${utc(b.until)})` : `${utc(b.since)} to ${utc(b.until)}`;
    const counts = (["regression", "improved", "inconclusive", "ok", "no_data"] as const).map((v) => `${c.counts[v]} ${v.replace("_", " ")}`).join(", ");
    const order = { regression: 0, improved: 1, inconclusive: 2, ok: 3, no_data: 4 } as const;
    const rows = [...c.rows].sort((x, y) => order[x.verdict] - order[y.verdict]).map((r) =>
      `<tr class="cmp-row v-${esc(r.verdict)}"><td>${esc(r.chain)}<td>${esc(r.route)}<td>${esc(r.method ?? r.watcher ?? "-")}<td>${esc(r.metric)}` +
      `<td>${esc(value(r, "baseline"))}<td>${esc(value(r, "current"))}<td>${esc(change(r))}` +
      `<td>${esc(r.test === null ? "-" : `${r.test.name} p=${r.test.adjustedP.toPrecision(2)}`)}<td class="verdict">${esc(r.verdict)}<td>${esc(r.reason)}`);
    return `<p>Current ${esc(utc(c.current.since))} to ${esc(utc(c.current.until))}; baseline ${esc(what)}.</p>` +
      `<p class="${c.regression ? "bad" : "good"}"><strong>${c.regression ? "Regression" : "No regression"}</strong>: ${esc(counts)}. ` +
      `A change counts only beyond its threshold AND significant at ${esc(c.settings.alpha)} (Holm-adjusted); positive changes are worse.</p>` +
      `<div class="scroll"><table class="comparison"><thead><tr><th scope="col">Chain<th scope="col">Route<th scope="col">Method / watcher<th scope="col">Metric` +
      `<th scope="col">Baseline<th scope="col">Current<th scope="col">Change<th scope="col">Test<th scope="col">Verdict<th scope="col">Why</thead><tbody>${rows.join("\n")}</tbody></table></div>`;
  },
};
