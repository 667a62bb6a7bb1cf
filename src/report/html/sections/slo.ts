import type { SloRow } from "../../types.js";
import { esc, ms, num, pct } from "../format.js";
import type { Section } from "../section.js";

function actual(row: SloRow): string {
  if (row.actual === null) return "-";
  if (row.sli === "latency_p95_ms" || row.sli === "delivery_delay_p95_ms") return ms(row.actual);
  if (row.sli === "duplicates") return String(row.actual);
  return pct(row.actual);
}

function budget(row: SloRow): string {
  if (row.budgetLeft === null) return "-";
  return row.budgetLeft < 0 ? `overspent (${pct(row.budgetLeft)})` : pct(row.budgetLeft);
}

function verdict(row: SloRow): { text: string; cls: string } {
  return row.pass === null ? { text: "no data", cls: "nodata" } : row.pass ? { text: "PASS", cls: "pass" } : { text: "FAIL", cls: "fail" };
}

/** Every SLO row of every chain, with its budget left and verdict. */
export const sloSection: Section = {
  id: "slo",
  title: "SLOs",
  render({ report }) {
    if (report.chains.length === 0) return `<p>No SLO rows: ${esc(report.note ?? "no samples in this range")}.</p>`;
    const tables = report.chains.map((c) => {
      const rows = c.slo.map((row) => {
        const v = verdict(row);
        const where = row.watcher ?? row.route ?? "(all pinned routes)";
        return `<tr class="slo-row ${v.cls}"><td>${esc(row.target)}<td>${esc(where)}<td>${esc(row.sli)}<td>${esc(row.objectiveText)}` +
          `<td class="n">${esc(actual(row))}<td class="n">${esc(num(row.events, 0))}<td class="n">${esc(num(row.bad, 0))}` +
          `<td class="n">${esc(budget(row))}<td class="verdict">${v.text}<td>${esc(row.reason ?? "")}`;
      });
      const failing = c.slo.filter((r) => r.pass === false).length;
      return `<h3>${esc(c.chain)} <small>${esc(pct(c.successRatio))} of ${esc(c.requests)} probes answered; ${failing === 0 ? "every objective met" : `${failing} objective(s) missed`}</small></h3>` +
        `<div class="scroll"><table class="slo" data-chain="${esc(c.chain)}"><thead><tr><th scope="col">Target<th scope="col">Route / watcher<th scope="col">SLI<th scope="col">Objective` +
        `<th scope="col">Actual<th scope="col">Events<th scope="col">Bad<th scope="col">Budget left<th scope="col">Verdict<th scope="col">Why</thead><tbody>\n${rows.join("\n")}\n</tbody></table></div>`;
    });
    return tables.join("");
  },
};
