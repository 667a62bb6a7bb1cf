import type { SoakMetricReport, SoakSubjectReport } from "../../types.js";
import { esc, num, utc } from "../format.js";
import type { Section } from "../section.js";

function signed(v: number | null, digits: number): string {
  return v === null ? "-" : `${v >= 0 ? "+" : ""}${v.toFixed(digits)}`;
}

function slope(v: number | null, lo: number | null, hi: number | null, unit: string): string {
  return v === null ? "-" : `${signed(v, 3)} ${unit} [${signed(lo, 3)}, ${signed(hi, 3)}]`;
}

function row(sub: SoakSubjectReport, m: SoakMetricReport): string {
  const who = sub.subject === "canary" ? "canary (self)" : `${sub.target}${sub.chain === null ? "" : ` (${sub.chain})`}`;
  const window = m.window === null ? "-" : `${utc(m.window.from)} to ${utc(m.window.to)}`;
  return `<tr class="soak-row s-${esc(m.status)}"><td>${esc(who)}<td>${esc(m.metric)}<td class="verdict">${esc(m.status.replace("_", " "))}<td>${esc(num(m.value, 1))}` +
    `<td>${esc(slope(m.slopePerHour, m.lowerPerHour, m.upperPerHour, "/h"))}<td>${esc(slope(m.percentPerHour, m.lowerPercentPerHour, m.upperPercentPerHour, "%/h"))}` +
    `<td>${esc(m.tau === null ? "-" : `tau ${m.tau.toFixed(2)}`)}<td>${esc(window)}<td>${esc(m.samples)}<td>${esc(sub.restarts)}<td>${esc(`${sub.polls} / ${sub.pollErrors}`)}<td>${esc(m.reason)}`;
}

/** Soak leak detection: each node's and the daemon's series with its verdict and Theil-Sen slope. */
export const soakSection: Section = {
  id: "soak",
  title: "Soak (leak detection)",
  render({ report }) {
    const s = report.soak;
    if (s === null) return null;
    const suspected = s.subjects.flatMap((sub) => sub.metrics.filter((m) => m.status === "leak_suspected").map((m) => `${sub.target} ${m.metric}`));
    const rows = s.subjects.flatMap((sub) => sub.metrics.map((m) => row(sub, m)));
    return `<p class="${suspected.length > 0 ? "bad" : "good"}"><strong>${suspected.length > 0 ? `Leak suspected: ${esc(suspected.join(", "))}` : "No leak suspected"}</strong>` +
      ` (verdicts as of ${esc(utc(s.at))}, each over the sliding window before it; a restart starts a new series).</p>` +
      `<div class="scroll"><table class="soak"><thead><tr><th scope="col">Subject<th scope="col">Metric<th scope="col">Verdict<th scope="col">Latest` +
      `<th scope="col">Slope [bounds]<th scope="col">%/h [bounds]<th scope="col">Fit<th scope="col">Window<th scope="col">Samples<th scope="col">Restarts<th scope="col">Polls / errors<th scope="col">Why</thead><tbody>${rows.join("\n")}</tbody></table></div>`;
  },
};
