import type { Timeline } from "../../store/timeline.js";
import type { Report } from "../types.js";
import type { TimeAxis } from "./svg.js";

/** What every section of the HTML report renders from. */
export interface HtmlContext {
  report: Report;
  /** Time-bucketed series for the charts; null when none were read (charts are left out). */
  timeline: Timeline | null;
  /** The timeline's time axis (null with it). */
  axis: TimeAxis | null;
}

/**
 * One part of the page: a heading in the table of contents and its HTML, or null to leave it
 * out (nothing to show). Adding a part of the report is adding one of these to SECTIONS.
 */
export interface Section {
  id: string;
  title: string;
  render(ctx: HtmlContext): string | null;
}
