import type Database from "better-sqlite3";
import type { Db } from "./schema.js";

export const SERIES_PROBE = 0;
export const SERIES_CONSISTENCY = 1;

export const NAME_PROVIDER = 1;
export const NAME_ERROR_CLASS = 2;
export const NAME_CIRCUIT = 3;
export const NAME_ASSERTION = 4;

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
 * rows that were never committed would otherwise be reused from the cache.
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

  constructor(db: Db) {
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
      this.insName.run(kind, name);
      const row = this.getName.get(kind, name);
      if (row === undefined) throw new Error("name row vanished after insert");
      id = row.id;
      this.names.set(key, id);
    }
    return id;
  }

  reset(): void {
    this.series.clear();
    this.names.clear();
    this.cseries.clear();
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
