import type Database from "better-sqlite3";
import type { Db } from "./schema.js";

/** A table whose rows age out by an indexed leading time column (bucket number or ms). */
export interface PruneTable {
  table: string;
  column: string;
}

/**
 * Deletes at most about `maxRows` rows with `column < cutoff`, oldest first: it finds the
 * key `maxRows` rows in and deletes below it, so each step is a short, bounded range
 * delete on the index instead of one long DELETE that would hold the event loop.
 */
export class Pruner {
  private readonly oldest: Database.Statement<[], { k: number }>;
  private readonly nth: Database.Statement<[number, number], { k: number }>;
  private readonly below: Database.Statement<[number]>;
  private readonly exactly: Database.Statement<[number]>;

  constructor(db: Db, t: PruneTable) {
    const { table, column } = t;
    this.oldest = db.prepare(`SELECT ${column} AS k FROM ${table} ORDER BY ${column} LIMIT 1`);
    this.nth = db.prepare(`SELECT ${column} AS k FROM ${table} WHERE ${column} < ? ORDER BY ${column} LIMIT 1 OFFSET ?`);
    this.below = db.prepare(`DELETE FROM ${table} WHERE ${column} < ?`);
    this.exactly = db.prepare(`DELETE FROM ${table} WHERE ${column} = ?`);
  }

  /** Rows deleted (0 when nothing is older than `cutoff`). */
  step(cutoff: number, maxRows: number): number {
    const first = this.oldest.get();
    if (first === undefined || first.k >= cutoff) return 0;
    const boundary = this.nth.get(cutoff, maxRows);
    if (boundary === undefined) return this.below.run(cutoff).changes;
    // Many rows share the oldest key: delete just that key (bounded by the series count).
    if (boundary.k === first.k) return this.exactly.run(first.k).changes;
    return this.below.run(boundary.k).changes;
  }
}
