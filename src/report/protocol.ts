import type { Report, ReportRange, SloObjective } from "./types.js";

/**
 * Messages between ReportRunner and its worker. Both ends are this code base in one
 * process and SLOs come from the validated plan, so the worker trusts their shape.
 */
export interface RequestMessage {
  id: number;
  range: ReportRange;
  slos: SloObjective[];
  now: number;
}

export type ResponseMessage = { id: number; ok: true; report: Report } | { id: number; ok: false; error: string };
