import type Database from "better-sqlite3";
import { rowKey } from "./keys.js";
import { packRecords, unpackRecords, type StoredProbe } from "./record.js";
import { addSample, encodeAgg, mergeAgg, mergeEncoded, newAgg, SparseCounts, type Agg } from "./rollup.js";
import type { Db } from "./schema.js";
import { DAY_MS, HOUR_MS, MINUTE_MS, minuteOf } from "./time.js";

export interface Outputs {
  raw: boolean;
  minute: boolean;
  /** Hour and day rollups (the coarse levels always go together). */
  coarse: boolean;
}

export const ALL_OUTPUTS: Outputs = { raw: true, minute: true, coarse: true };

interface RollupRow {
  n: number;
  ok: number;
  data: Buffer;
}

type SparseAgg = Agg<SparseCounts>;

/** Read-merge-write access to one rollup table. */
class RollupTable {
  private readonly get: Database.Statement<[number], RollupRow>;
  private readonly put: Database.Statement<[number, number, number, Buffer]>;

  constructor(db: Db, table: string, private readonly withOverheadHistogram: boolean) {
    this.get = db.prepare(`SELECT n, ok, data FROM ${table} WHERE key = ?`);
    this.put = db.prepare(`INSERT OR REPLACE INTO ${table} (key, n, ok, data) VALUES (?, ?, ?, ?)`);
  }

  /** Adds `agg` to the stored row (mutating `agg` into the merged result). */
  mergeInto(bucket: number, series: number, agg: SparseAgg): void {
    const key = rowKey(bucket, series);
    const prev = this.get.get(key);
    if (prev) mergeEncoded(agg, prev.n, prev.ok, prev.data);
    this.put.run(key, agg.n, agg.ok, encodeAgg(agg, this.withOverheadHistogram));
  }
}

function copyAgg(a: SparseAgg): SparseAgg {
  const c = newAgg(new SparseCounts(), new SparseCounts());
  mergeAgg(c, a);
  return c;
}

/**
 * Folds closed samples into the packed raw rows and the minute, hour and day rollups.
 * Every target row is read-merged-written, so a batch that lands on an already compacted
 * bucket (a late sample, or samples staged before a restart) adds to it instead of
 * replacing it. The caller runs this inside the same transaction that deletes the staged
 * rows, which is what makes a crash at any point neither lose nor double count.
 */
export class RollupWriter {
  private readonly getRaw: Database.Statement<[number], { data: Buffer }>;
  private readonly putRaw: Database.Statement<[number, Buffer]>;
  private readonly minute: RollupTable;
  private readonly coarse: { table: RollupTable; size: number }[];

  constructor(db: Db) {
    this.getRaw = db.prepare("SELECT data FROM raw WHERE key = ?");
    this.putRaw = db.prepare("INSERT OR REPLACE INTO raw (key, data) VALUES (?, ?)");
    this.minute = new RollupTable(db, "rollup_m", false);
    this.coarse = [
      { table: new RollupTable(db, "rollup_h", true), size: HOUR_MS },
      { table: new RollupTable(db, "rollup_d", true), size: DAY_MS },
    ];
  }

  apply(records: readonly StoredProbe[], out: Outputs = ALL_OUTPUTS): void {
    const groups = new Map<number, Map<number, StoredProbe[]>>();
    for (const r of records) {
      const m = minuteOf(r.ts);
      let bySeries = groups.get(m);
      if (!bySeries) groups.set(m, (bySeries = new Map()));
      const list = bySeries.get(r.series);
      if (list) list.push(r);
      else bySeries.set(r.series, [r]);
    }
    // Per coarse level: bucket -> series -> aggregate of this batch.
    const coarse = this.coarse.map(() => new Map<number, Map<number, SparseAgg>>());
    for (const [minute, bySeries] of groups) {
      for (const [series, list] of bySeries) {
        list.sort((a, b) => a.ts - b.ts);
        if (out.raw) this.writeRaw(minute, series, list);
        const fresh = newAgg(new SparseCounts(), new SparseCounts());
        for (const r of list) addSample(fresh, r);
        if (out.coarse) {
          this.coarse.forEach((level, i) => {
            const bucket = Math.floor((minute * MINUTE_MS) / level.size);
            const byBucket = coarse[i] as Map<number, Map<number, SparseAgg>>;
            let aggs = byBucket.get(bucket);
            if (!aggs) byBucket.set(bucket, (aggs = new Map()));
            const acc = aggs.get(series);
            // Copy: `fresh` is merged with the stored minute row below.
            if (acc) mergeAgg(acc, fresh);
            else aggs.set(series, copyAgg(fresh));
          });
        }
        if (out.minute) this.minute.mergeInto(minute, series, fresh);
      }
    }
    if (!out.coarse) return;
    this.coarse.forEach((level, i) => {
      for (const [bucket, aggs] of coarse[i] as Map<number, Map<number, SparseAgg>>) {
        for (const [series, agg] of aggs) level.table.mergeInto(bucket, series, agg);
      }
    });
  }

  private writeRaw(minute: number, series: number, list: StoredProbe[]): void {
    const start = minute * MINUTE_MS;
    const key = rowKey(minute, series);
    const prev = this.getRaw.get(key);
    let records = list;
    if (prev) {
      records = [...unpackRecords(prev.data, series, start), ...list];
      records.sort((a, b) => a.ts - b.ts);
    }
    this.putRaw.run(key, packRecords(records, start));
  }
}
