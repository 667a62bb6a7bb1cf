import { duration, esc, utc } from "../format.js";
import type { Section } from "../section.js";

/** The range (UTC), what was read, and notes about the range. */
export const overviewSection: Section = {
  id: "range",
  title: "Range",
  render({ report: r, timeline }) {
    const items = [
      `<li>Range: <strong>${esc(utc(r.range.since))}</strong> to <strong>${esc(utc(r.range.until))}</strong> (${esc(duration(r.range.until - r.range.since))}), all times UTC</li>`,
      `<li>Generated at ${esc(utc(r.generatedAt))}</li>`,
    ];
    if (r.range.chain !== null) items.push(`<li>Chain: ${esc(r.range.chain)}</li>`);
    if (r.range.adjusted !== null) items.push(`<li class="note">${esc(r.range.adjusted.note)}</li>`);
    if (r.coverage.from !== null && r.coverage.to !== null) {
      items.push(`<li>Samples from ${esc(utc(r.coverage.from))} to ${esc(utc(r.coverage.to))}${r.coverage.samplesExact ? "" : " (bucket bounds: raw samples past retention)"}; read from ${esc(r.coverage.granularity)} rollups${r.coverage.exactEdges ? "" : ", edges rounded out to whole buckets"}</li>`);
    }
    if (timeline !== null) {
      items.push(`<li>Charts: ${timeline.buckets.length} buckets of ${esc(duration(timeline.stepMs))} (${esc(timeline.level)} rollups) from ${esc(utc(timeline.from))} to ${esc(utc(timeline.to))}; verdicts are the SLO table's</li>`);
    }
    if (r.note !== null) items.push(`<li class="note">${esc(r.note)}</li>`);
    return `<ul class="facts">${items.join("")}</ul>`;
  },
};
