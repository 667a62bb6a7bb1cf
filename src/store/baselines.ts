/**
 * Named baselines (table `baselines`, schema v4): the aggregated statistics of a period, saved
 * by `lasso-canary baseline save NAME` for later reports to compare with. The store keeps the
 * statistics as opaque JSON text (the report layer defines and validates it); retention never
 * prunes this table, so a baseline outlives the data it was computed from.
 */
import type Database from "better-sqlite3";
import { StoreOpenError } from "./openError.js";
import { openDatabase, SCHEMA_VERSION, SchemaVersionError, schemaVersion, type Db } from "./schema.js";

export interface BaselineRecord {
  name: string;
  /** Wall-clock ms it was saved. */
  savedAt: number;
  /** The period it was computed from, [since, until). */
  since: number;
  until: number;
  /** The one chain it holds; null: every chain. */
  chain: string | null;
  /** The statistics, JSON (src/report/periodStats.ts). */
  stats: string;
}

export type BaselineSummary = Omit<BaselineRecord, "stats"> & { bytes: number };

/** A name already taken (save without replace). */
export class BaselineExistsError extends Error {
  constructor(readonly baseline: string) {
    super(`baseline ${JSON.stringify(baseline)} already exists; delete it first or save with --force to replace it`);
    this.name = "BaselineExistsError";
  }
}

interface Row {
  name: string;
  saved_at: number;
  since: number;
  until: number;
  chain: string | null;
  stats: string;
}

type Prepare = <P extends unknown[], R>(sql: string) => Database.Statement<P, R>;

function record(r: Row): BaselineRecord {
  return { name: r.name, savedAt: r.saved_at, since: r.since, until: r.until, chain: r.chain, stats: r.stats };
}

/** One baseline by name, or null. Works on any connection (the report worker's read-only one). */
export function getBaseline(prepare: Prepare, name: string): BaselineRecord | null {
  const r = prepare<[string], Row>("SELECT name, saved_at, since, until, chain, stats FROM baselines WHERE name = ?").get(name);
  return r === undefined ? null : record(r);
}

/** Every baseline, by name, without its statistics. */
export function listBaselines(prepare: Prepare): BaselineSummary[] {
  return prepare<[], Omit<Row, "stats"> & { bytes: number }>(
    "SELECT name, saved_at, since, until, chain, length(stats) AS bytes FROM baselines ORDER BY name",
  ).all().map((r) => ({ name: r.name, savedAt: r.saved_at, since: r.since, until: r.until, chain: r.chain, bytes: r.bytes }));
}

/** Saves and deletes baselines on a writable connection. */
export class BaselineStore {
  constructor(private readonly db: Db) {}

  /**
   * A writable connection to an existing store file for commands run beside the daemon
   * (`baseline save|delete`). It never migrates: the file must already be at this version's
   * schema (the daemon migrates it at start), so a CLI cannot change a file under an older daemon.
   */
  static openFile(path: string): { store: BaselineStore; db: Db } {
    let db: Db;
    try {
      db = openDatabase(path, { readonly: true });
      db.close();
      db = openDatabase(path, { busyTimeoutMs: 5000 });
    } catch (err) {
      throw err instanceof SchemaVersionError ? err : new StoreOpenError(path, err, true);
    }
    const v = schemaVersion(db);
    if (v !== SCHEMA_VERSION) {
      db.close();
      throw new SchemaVersionError(v, SCHEMA_VERSION, path);
    }
    return { store: new BaselineStore(db), db };
  }

  private readonly prepare: Prepare = (sql) => this.db.prepare(sql);

  /** Saves `b`; throws BaselineExistsError when the name is taken and `replace` is false. */
  save(b: BaselineRecord, replace = false): void {
    const verb = replace ? "INSERT OR REPLACE" : "INSERT OR IGNORE";
    const r = this.db
      .prepare(`${verb} INTO baselines (name, saved_at, since, until, chain, stats) VALUES (?, ?, ?, ?, ?, ?)`)
      .run(b.name, b.savedAt, b.since, b.until, b.chain, b.stats);
    if (r.changes === 0) throw new BaselineExistsError(b.name);
  }

  /** True when it existed. */
  delete(name: string): boolean {
    return this.db.prepare("DELETE FROM baselines WHERE name = ?").run(name).changes > 0;
  }

  get(name: string): BaselineRecord | null {
    return getBaseline(this.prepare, name);
  }

  list(): BaselineSummary[] {
    return listBaselines(this.prepare);
  }
}
