import type { Timeline } from "../store/timeline.js";
import { renderHtml } from "./html/page.js";
import { renderMarkdown } from "./markdown.js";
import type { ReportFormat } from "./time.js";
import type { Report } from "./types.js";

/**
 * A built report in one of REPORT_FORMATS. `timeline` is read only for html (its charts):
 * JSON and markdown carry the range's totals, not series over time.
 */
export function renderReport(format: ReportFormat, report: Report, timeline: () => Timeline, jsonIndent?: number): string {
  switch (format) {
    case "md":
      return renderMarkdown(report);
    case "html":
      return renderHtml(report, timeline());
    case "json":
      return JSON.stringify(report, null, jsonIndent);
  }
}
