import { esc, utc } from "../format.js";
import type { Section } from "../section.js";

/** Routes the target does not know: our configuration, excluded from every SLI. */
export const mismatchSection: Section = {
  id: "plan-mismatches",
  title: "Plan mismatches",
  render({ report }) {
    if (report.planMismatches.length === 0) return null;
    const rows = report.planMismatches.map((m) =>
      `<tr><td>${esc(m.target)}<td>${esc(m.chain)}<td>${esc(m.route ?? "-")}<td>${esc(m.kind)}<td>${esc(m.detail)}<td>${esc(m.fix)}<td>${esc(utc(m.since))}`);
    return `<p>Answers from these routes are excluded from every SLI: fix the plan, not Lasso.</p><div class="scroll"><table><thead><tr><th>Target<th>Chain<th>Route<th>Kind<th>Detail<th>Fix<th>Since</thead><tbody>${rows.join("")}</tbody></table></div>`;
  },
};
