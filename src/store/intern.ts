import type Database from "better-sqlite3";
import { CIRCUIT_STATES, errorFamilyOf, isKnownErrorClass, OTHER, overflowErrorClass } from "../lasso/answerValues.js";
import type { Db } from "./schema.js";

export const SERIES_PROBE = 0;
export const SERIES_CONSISTENCY = 1;

export const NAME_PROVIDER = 1;
export const NAME_ERROR_CLASS = 2;
export const NAME_CIRCUIT = 3;
export const NAME_ASSERTION = 4;

export type NameKind = "provider" | "errorClass" | "circuit" | "assertion";
const KIND_CODES: Record<NameKind, number> = {
  provider: NAME_PROVIDER, errorClass: NAME_ERROR_CLASS, circuit: NAME_CIRCUIT, assertion: NAME_ASSERTION,
};
const KINDS = Object.keys(KIND_CODES) as NameKind[];
const kindOf = (code: number): NameKind | undefined => KINDS.find((k) => KIND_CODES[k] === code);

/**
 * Most distinct names of a kind the `names` table takes, over the database's life (they are
 * never deleted: raw rows and rollups refer to them). Names that are always kept (known error
 * classes, Lasso's circuit states, "other") do not need room. Provider names are per transport
 * (`alpha`, `alpha|http`, `alpha|ws`).
 */
export type NameCaps = Record<NameKind, number>;
export const DEFAULT_NAME_CAPS: NameCaps = { provider: 256, errorClass: 64, circuit: 16, assertion: 64 };

export function zeroByKind(): Record<NameKind, number> {
  return { provider: 0, errorClass: 0, circuit: 0, assertion: 0 };
}

/** The finite names of each kind that never need room, and where a name that finds none goes. */
function alwaysKept(kind: NameKind, name: string): boolean {
  if (name === OTHER) return true;
  if (kind === "errorClass") return isKnownErrorClass(name);
  return kind === "circuit" && CIRCUIT_STATES.has(name);
}

function overflowName(kind: NameKind, name: string): string {
  const family = kind === "errorClass" ? errorFamilyOf(name) : null;
  return family === null ? OTHER : overflowErrorClass(family);
}

export interface SeriesKey {
  target: string;
  chain: string;
  route: string;
  method: string;
}

/** A subscription watcher series (cseries): the unit continuity rollups are kept per. */
export interface ContinuityKey {
  target: string;
  chain: string;
  watcher: string;
  route: string;
  subscription: string;
}

export interface ContinuitySeriesRow extends ContinuityKey {
  id: number;
}

export interface SeriesRow extends SeriesKey {
  id: number;
  kind: number;
}

/**
 * String -> id interning for series and names. Must be called inside the write
 * transaction; if that transaction rolls back, call reset() because ids handed out for
 * rows that were never committed would otherwise be reused from the cache; after it
 * commits, call committed() so the names it sent to "other" are counted once.
 *
 * Names come from Lasso's answers, so the `names` table is capped per kind (NameCaps): once
 * a kind is full, a new name is stored as "other" (rpc_other / http_other for error classes).
 */
export class Interner {
  private readonly series = new Map<string, number>();
  private readonly names = new Map<string, number>();
  private readonly insSeries: Database.Statement<[number, string, string, string, string]>;
  private readonly getSeries: Database.Statement<[number, string, string, string, string], { id: number }>;
  private readonly insName: Database.Statement<[number, string]>;
  private readonly getName: Database.Statement<[number, string], { id: number }>;
  private readonly cseries = new Map<string, number>();
  private readonly insCseries: Database.Statement<[string, string, string, string, string]>;
  private readonly getCseries: Database.Statement<[string, string, string, string, string], { id: number }>;
  private readonly countNames: Database.Statement<[], { kind: number; n: number }>;
  /** Rows in `names` per kind, as the current transaction sees them. */
  private stored = zeroByKind();
  private pendingOverflow = zeroByKind();
  private readonly overflowed = zeroByKind();

  constructor(db: Db, private readonly caps: NameCaps = DEFAULT_NAME_CAPS) {
    this.insSeries = db.prepare(
      "INSERT INTO series (kind, target, chain, route, method) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    );
    this.getSeries = db.prepare(
      "SELECT id FROM series WHERE kind = ? AND target = ? AND chain = ? AND route = ? AND method = ?",
    );
    this.insName = db.prepare("INSERT INTO names (kind, name) VALUES (?, ?) ON CONFLICT DO NOTHING");
    this.getName = db.prepare("SELECT id FROM names WHERE kind = ? AND name = ?");
    this.insCseries = db.prepare(
      "INSERT INTO cseries (target, chain, watcher, route, subscription) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    );
    this.getCseries = db.prepare(
      "SELECT id FROM cseries WHERE target = ? AND chain = ? AND watcher = ? AND route = ? AND subscription = ?",
    );
    this.countNames = db.prepare("SELECT kind, count(*) AS n FROM names GROUP BY kind");
    this.loadCounts();
  }

  continuitySeriesId(k: ContinuityKey): number {
    const key = `${k.target}\u0000${k.chain}\u0000${k.watcher}\u0000${k.route}\u0000${k.subscription}`;
    let id = this.cseries.get(key);
    if (id === undefined) {
      this.insCseries.run(k.target, k.chain, k.watcher, k.route, k.subscription);
      const row = this.getCseries.get(k.target, k.chain, k.watcher, k.route, k.subscription);
      if (row === undefined) throw new Error("continuity series row vanished after insert");
      id = row.id;
      this.cseries.set(key, id);
    }
    return id;
  }

  seriesId(kind: number, k: SeriesKey): number {
    const key = `${kind}\u0000${k.target}\u0000${k.chain}\u0000${k.route}\u0000${k.method}`;
    let id = this.series.get(key);
    if (id === undefined) {
      this.insSeries.run(kind, k.target, k.chain, k.route, k.method);
      const row = this.getSeries.get(kind, k.target, k.chain, k.route, k.method);
      if (row === undefined) throw new Error("series row vanished after insert");
      id = row.id;
      this.series.set(key, id);
    }
    return id;
  }

  /** 0 stands for null. */
  nameId(kind: number, name: string | null): number {
    if (name === null) return 0;
    const key = `${kind}\u0000${name}`;
    let id = this.names.get(key);
    if (id === undefined) {
      let row = this.getName.get(kind, name);
      if (row === undefined) {
        const k = kindOf(kind);
        if (k !== undefined && !alwaysKept(k, name) && this.stored[k] >= this.caps[k]) {
          // Not cached: the cache holds only names that have a row, so it stays as small as the table.
          this.pendingOverflow[k]++;
          return this.nameId(kind, overflowName(k, name));
        }
        this.insName.run(kind, name);
        row = this.getName.get(kind, name);
        if (row === undefined) throw new Error("name row vanished after insert");
        if (k !== undefined) this.stored[k]++;
      }
      id = row.id;
      this.names.set(key, id);
    }
    return id;
  }

  /** The transaction that used this interner committed: its overflows are now fact. */
  committed(): void {
    for (const k of KINDS) this.overflowed[k] += this.pendingOverflow[k];
    this.pendingOverflow = zeroByKind();
  }

  /** Names sent to "other" because their kind was full, per kind, over this interner's life (committed writes only). */
  overflowCounts(): Record<NameKind, number> {
    return { ...this.overflowed };
  }

  /** Names held in memory (at most the rows of `names` this process used). */
  get cachedNames(): number {
    return this.names.size;
  }

  reset(): void {
    this.series.clear();
    this.names.clear();
    this.cseries.clear();
    this.pendingOverflow = zeroByKind();
    this.loadCounts();
  }

  private loadCounts(): void {
    this.stored = zeroByKind();
    for (const r of this.countNames.all()) {
      const k = kindOf(r.kind);
      if (k !== undefined) this.stored[k] = r.n;
    }
  }
}

/** Read side: id -> strings, loaded once per query (the tables are tiny). */
export interface Dictionary {
  series: Map<number, SeriesRow>;
  names: Map<number, string>;
  continuity: Map<number, ContinuitySeriesRow>;
}

/** Reads the whole dictionary; `db` is a connection or anything that prepares statements on one. */
export function loadDictionary(db: { prepare(sql: string): Database.Statement }): Dictionary {
  const series = new Map<number, SeriesRow>();
  for (const r of db.prepare("SELECT id, kind, target, chain, route, method FROM series").all() as SeriesRow[]) {
    series.set(r.id, r);
  }
  const names = new Map<number, string>();
  for (const r of db.prepare("SELECT id, name FROM names").all() as { id: number; name: string }[]) {
    names.set(r.id, r.name);
  }
  const continuity = new Map<number, ContinuitySeriesRow>();
  const cseries = db.prepare("SELECT id, target, chain, watcher, route, subscription FROM cseries").all() as ContinuitySeriesRow[];
  for (const r of cseries) continuity.set(r.id, r);
  return { series, names, continuity };
}
