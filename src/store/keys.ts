/**
 * Row keys of the bucketed tables: bucket * 2^16 + series id, an integer rowid. Minute
 * buckets (~2.9e7 today) times 2^16 stay far below 2^53. A series id must be < 2^16.
 */
export const SERIES_SPAN = 65_536;

export function rowKey(bucket: number, series: number): number {
  return bucket * SERIES_SPAN + series;
}

export function bucketOfKey(key: number): number {
  return Math.floor(key / SERIES_SPAN);
}

export function seriesOfKey(key: number): number {
  return key % SERIES_SPAN;
}
