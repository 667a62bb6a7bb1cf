/**
 * Chaos windows in SQLite (table chaos_windows, schema v3): one row per window that ran or
 * was skipped. A row is inserted "running" before the fault is set, so a daemon that dies
 * mid-window leaves a row the next start finds and closes as aborted.
 */
import type Database from "better-sqlite3";
import type { Fault } from "../chaos/faults.js";
import type { ChaosVerdict, WindowKind, WindowObservations, WindowResult, WindowSpec } from "../chaos/windowTypes.js";
import type { Db } from "./schema.js";

export type WindowStatus = "running" | "finished" | "skipped";
/** What started the window: its cron schedule or an operator (POST /api/chaos/run). */
export type WindowTrigger = "schedule" | "manual";

export interface ChaosWindowRecord {
  id: number;
  name: string;
  chain: string;
  provider: string;
  kind: WindowKind;
  fault: Fault;
  trigger: WindowTrigger;
  status: WindowStatus;
  plannedStart: number;
  plannedEnd: number;
  /** When the fault was set; null when it never was (skipped, or interrupted before). */
  started: number | null;
  /** When the fault ended (window end, abort, stop). */
  ended: number | null;
  skipReason: string | null;
  abortReason: string | null;
  verdict: ChaosVerdict | null;
  result: WindowResult | null;
}

export interface WindowQuery {
  /** Windows planned in [since, until). */
  since?: number;
  until?: number;
  chain?: string;
  /** Newest first; default 100, at most 1000. */
  limit?: number;
}

interface Row {
  id: number;
  name: string;
  chain: string;
  provider: string;
  kind: string;
  fault: string;
  trigger: string;
  status: string;
  planned_start: number;
  planned_end: number;
  started: number | null;
  ended: number | null;
  skip_reason: string | null;
  abort_reason: string | null;
  verdict: string | null;
  result: string | null;
}

type Prepare = (sql: string) => Database.Statement;

const COLUMNS = "id, name, chain, provider, kind, fault, trigger, status, planned_start, planned_end, started, ended, skip_reason, abort_reason, verdict, result";
const MAX_LIMIT = 1000;

function toRecord(r: Row): ChaosWindowRecord {
  return {
    id: r.id,
    name: r.name,
    chain: r.chain,
    provider: r.provider,
    kind: r.kind as WindowKind,
    fault: JSON.parse(r.fault) as Fault,
    trigger: r.trigger as WindowTrigger,
    status: r.status as WindowStatus,
    plannedStart: r.planned_start,
    plannedEnd: r.planned_end,
    started: r.started,
    ended: r.ended,
    skipReason: r.skip_reason,
    abortReason: r.abort_reason,
    verdict: r.verdict as ChaosVerdict | null,
    result: r.result === null ? null : (JSON.parse(r.result) as WindowResult),
  };
}

/** Windows planned in the range, newest first: for the API (writer connection) and reports (read-only). */
export function listChaosWindows(prepare: Prepare, q: WindowQuery = {}): ChaosWindowRecord[] {
  const limit = Math.max(1, Math.min(MAX_LIMIT, Math.floor(q.limit ?? 100)));
  const rows = prepare(
    `SELECT ${COLUMNS} FROM chaos_windows WHERE planned_start >= ? AND planned_start < ? AND (? IS NULL OR chain = ?) ORDER BY planned_start DESC, id DESC LIMIT ?`,
  ).all(q.since ?? 0, q.until ?? Number.MAX_SAFE_INTEGER, q.chain ?? null, q.chain ?? null, limit) as Row[];
  return rows.map(toRecord);
}

export class ChaosWindowStore {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Db) {}

  private readonly prepare: Prepare = (sql) => {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  };

  /** A window about to run: inserted before its fault is set. Returns its id. */
  insertRunning(spec: WindowSpec, trigger: WindowTrigger, plannedStart: number, plannedEnd: number): number {
    return this.insert(spec, trigger, "running", plannedStart, plannedEnd, null);
  }

  insertSkipped(spec: WindowSpec, trigger: WindowTrigger, plannedStart: number, plannedEnd: number, reason: string): number {
    return this.insert(spec, trigger, "skipped", plannedStart, plannedEnd, reason);
  }

  private insert(spec: WindowSpec, trigger: WindowTrigger, status: WindowStatus, plannedStart: number, plannedEnd: number, skipReason: string | null): number {
    const r = this.prepare(
      "INSERT INTO chaos_windows (name, chain, provider, kind, fault, trigger, status, planned_start, planned_end, skip_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ).run(spec.name, spec.chain, spec.provider, spec.kind, JSON.stringify(spec.fault), trigger, status, plannedStart, plannedEnd, skipReason);
    return Number(r.lastInsertRowid);
  }

  markStarted(id: number, at: number): void {
    this.prepare("UPDATE chaos_windows SET started = ? WHERE id = ?").run(at, id);
  }

  /** A window that ran closes with its verdict; also used for one the precondition stopped after insert. */
  finish(id: number, f: { ended: number | null; abortReason: string | null; verdict: ChaosVerdict; result: WindowResult | null; observations: WindowObservations | null }): void {
    this.prepare("UPDATE chaos_windows SET status = 'finished', ended = ?, abort_reason = ?, verdict = ?, result = ?, observations = ? WHERE id = ?").run(
      f.ended, f.abortReason, f.verdict, f.result === null ? null : JSON.stringify(f.result), f.observations === null ? null : JSON.stringify(f.observations), id,
    );
  }

  /**
   * Windows left "running" by a process that stopped without closing them (crash, SIGKILL):
   * closed as aborted with `reason`, ended at `now` (the fault itself ended with its lease).
   */
  closeInterrupted(now: number, reason: string): ChaosWindowRecord[] {
    return this.db.transaction(() => {
      const rows = this.prepare(`SELECT ${COLUMNS} FROM chaos_windows WHERE status = 'running' ORDER BY id`).all() as Row[];
      for (const r of rows)
        this.prepare("UPDATE chaos_windows SET status = 'finished', ended = ?, abort_reason = ?, verdict = 'aborted' WHERE id = ?").run(r.started === null ? null : now, reason, r.id);
      return rows.map((r) => ({ ...toRecord(r), status: "finished" as const, ended: r.started === null ? null : now, abortReason: reason, verdict: "aborted" as const }));
    })();
  }

  get(id: number): ChaosWindowRecord | null {
    const r = this.prepare(`SELECT ${COLUMNS} FROM chaos_windows WHERE id = ?`).get(id) as Row | undefined;
    return r === undefined ? null : toRecord(r);
  }

  observations(id: number): WindowObservations | null {
    const r = this.prepare("SELECT observations FROM chaos_windows WHERE id = ?").get(id) as { observations: string | null } | undefined;
    return r?.observations ? (JSON.parse(r.observations) as WindowObservations) : null;
  }

  list(q: WindowQuery = {}): ChaosWindowRecord[] {
    return listChaosWindows(this.prepare, q);
  }

  /** Drops observations after `rawMs` and whole rows after `keepMs` (by planned start). */
  prune(now: number, rawMs: number, keepMs: number): void {
    this.prepare("UPDATE chaos_windows SET observations = NULL WHERE planned_start < ? AND observations IS NOT NULL AND status != 'running'").run(now - rawMs);
    this.prepare("DELETE FROM chaos_windows WHERE planned_start < ? AND status != 'running'").run(now - keepMs);
  }
}
