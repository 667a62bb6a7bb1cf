import type { ReportFormat } from "./time.js";
import type { ReportContext, ReportRange, SloObjective } from "./types.js";

export type { ReportFormat };

/**
 * Messages between ReportRunner and its worker. Both ends are this code base in one
 * process and SLOs come from the validated plan, so the worker trusts their shape.
 */
export interface RequestMessage {
  id: number;
  range: ReportRange;
  slos: SloObjective[];
  now: number;
  format: ReportFormat;
  context: ReportContext;
}

/** The rendered report: one flat string crosses threads, not an object graph to clone and re-serialise. */
export type ResponseMessage =
  | { id: number; ok: true; body: string }
  /** badQuery: the error is the caller's (a ReportQueryError, e.g. an unknown baseline name): HTTP 400, not 500. */
  | { id: number; ok: false; error: string; badQuery?: boolean };
