/**
 * Soak samples (table soak_samples, schema v4): one row per poll of a Lasso node or of the
 * daemon itself, kept raw for the raw retention. Few rows (one a minute per subject), so a
 * restarted daemon reloads its sliding window from here and a report judges it again.
 */
import type Database from "better-sqlite3";
import type { SoakRestart, SoakSample } from "../samples.js";

/** A detail is for people: bounded, so a hostile answer cannot grow the file. */
const MAX_DETAIL_CHARS = 300;

interface Row {
  ts: number;
  subject: string;
  target: string;
  series_start: number | null;
  restart: string | null;
  uptime: number | null;
  error: string | null;
  detail: string | null;
  data: string | null;
}

type Prepare = (sql: string) => Database.Statement;

/** Values that are finite numbers, by name; anything else is left out. */
function finiteValues(values: SoakSample["values"]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(values)) if (typeof v === "number" && Number.isFinite(v)) out[k] = v;
  return out;
}

/** Writes one sample in the caller's transaction; false when malformed (non-finite time). */
export function writeSoakSample(prepare: Prepare, s: SoakSample): boolean {
  if (!Number.isFinite(s.ts)) return false;
  const values = finiteValues(s.values);
  prepare(
    "INSERT INTO soak_samples (ts, subject, target, series_start, restart, uptime, error, detail, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
  ).run(
    Math.round(s.ts), s.subject, s.target,
    s.seriesStart !== null && Number.isFinite(s.seriesStart) ? Math.round(s.seriesStart) : null,
    s.restart, s.uptimeSeconds !== null && Number.isFinite(s.uptimeSeconds) ? s.uptimeSeconds : null,
    s.errorClass, s.errorDetail === null ? null : s.errorDetail.slice(0, MAX_DETAIL_CHARS),
    Object.keys(values).length === 0 ? null : JSON.stringify(values),
  );
  return true;
}

function toSample(r: Row): SoakSample {
  let values: Record<string, number> = {};
  if (r.data !== null) {
    try {
      const parsed = JSON.parse(r.data) as unknown;
      if (parsed !== null && typeof parsed === "object") values = finiteValues(parsed as Record<string, number>);
    } catch {
      values = {};
    }
  }
  return {
    kind: "soak", ts: r.ts, subject: r.subject === "canary" ? "canary" : "lasso", target: r.target, values, uptimeSeconds: r.uptime,
    seriesStart: r.series_start, restart: r.restart === "uptime" || r.restart === "memory_drop" ? (r.restart as SoakRestart) : null,
    errorClass: r.error as SoakSample["errorClass"], errorDetail: r.detail,
  };
}

/** Samples with since <= ts < until, oldest first. */
export function readSoakSamples(prepare: Prepare, since: number, until: number = Number.MAX_SAFE_INTEGER): SoakSample[] {
  const rows = prepare(
    "SELECT ts, subject, target, series_start, restart, uptime, error, detail, data FROM soak_samples WHERE ts >= ? AND ts < ? ORDER BY ts, id",
  ).all(since, until) as Row[];
  return rows.map(toSample);
}

export interface SoakPollCounts {
  subject: "lasso" | "canary";
  target: string;
  polls: number;
  errors: number;
  restarts: number;
  /** Poll errors by class. */
  errorClasses: Record<string, number>;
}

/** Polls, errors and restarts per subject in [since, until), counted in SQL (a 30-day range is ~43k rows a node). */
export function soakPollCounts(prepare: Prepare, since: number, until: number): SoakPollCounts[] {
  const rows = prepare(
    "SELECT subject, target, error, count(*) AS n, sum(restart IS NOT NULL) AS restarts FROM soak_samples " +
      "WHERE ts >= ? AND ts < ? GROUP BY subject, target, error",
  ).all(since, until) as { subject: string; target: string; error: string | null; n: number; restarts: number }[];
  const out = new Map<string, SoakPollCounts>();
  for (const r of rows) {
    const key = `${r.subject}\u0000${r.target}`;
    let c = out.get(key);
    if (c === undefined) {
      c = { subject: r.subject === "canary" ? "canary" : "lasso", target: r.target, polls: 0, errors: 0, restarts: 0, errorClasses: {} };
      out.set(key, c);
    }
    c.polls += r.n;
    c.restarts += r.restarts;
    if (r.error !== null) {
      c.errors += r.n;
      c.errorClasses[r.error] = (c.errorClasses[r.error] ?? 0) + r.n;
    }
  }
  return [...out.values()];
}
