import type { ChaosWindowReport } from "../../types.js";
import { duration, esc, pct, utc } from "../format.js";
import type { Section } from "../section.js";
import type { Band } from "../svg.js";

/** A window's span on a chart: when it ran (planned when it never started). */
export function chaosBand(w: ChaosWindowReport): Band {
  const from = w.started ?? w.plannedStart;
  const to = w.ended ?? (w.started !== null ? Math.max(w.plannedEnd, from) : w.plannedEnd);
  return { from, to, label: `chaos window ${w.name} (${w.provider}, ${w.fault.kind}): ${w.verdict}` };
}

function figures(w: ChaosWindowReport): string {
  const f = w.figures;
  if (f === null) return "-";
  const parts = [
    `clients ${pct(f.clientSuccess.experiment)} (control ${pct(f.clientSuccess.control)})`,
    `failover ${f.failoverMs === null ? "none" : duration(f.failoverMs)}`,
    `recovery ${f.recoveryMs === null ? "not seen" : duration(f.recoveryMs)}`,
  ];
  if (f.continuity !== null) parts.push(`gaps ${f.continuity.gaps}, duplicates ${f.continuity.duplicates}`);
  return parts.join("; ");
}

/** Every chaos window planned in the range, with its verdict and reasons (also shaded on the charts). */
export const chaosSection: Section = {
  id: "chaos",
  title: "Chaos windows",
  render({ report }) {
    if (report.chaos.length === 0) return "<p>No chaos window was planned in this range.</p>";
    const rows = report.chaos.map((w) =>
      `<tr class="chaos-row v-${esc(w.verdict)}"><td>${esc(w.name)}<td>${esc(w.chain)}<td>${esc(w.provider)}<td>${esc(w.fault.kind)}<td>${esc(w.trigger)}` +
      `<td>${esc(utc(w.started ?? w.plannedStart))}<td>${esc(w.ended === null ? "-" : utc(w.ended))}<td class="verdict">${esc(w.verdict)}` +
      `<td>${esc(figures(w))}<td>${w.reasons.map((r) => esc(r)).join("<br>")}`);
    return `<div class="scroll"><table class="chaos"><thead><tr><th scope="col">Window<th scope="col">Chain<th scope="col">Provider<th scope="col">Fault<th scope="col">Trigger` +
      `<th scope="col">Started (planned)<th scope="col">Ended<th scope="col">Verdict<th scope="col">Measured<th scope="col">Reasons</thead><tbody>${rows.join("\n")}</tbody></table></div>`;
  },
};
