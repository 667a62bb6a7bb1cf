import { DAY_MS, HOUR_MS, MINUTE_MS } from "./time.js";

export type Level = "day" | "hour" | "minute";

/** What a range was read from, per level, and what that covers. */
export interface ReadPlan {
  /** Half-open bucket-number ranges to read per rollup level. */
  day: [number, number][];
  hour: [number, number][];
  minute: [number, number][];
  /**
   * Half-open ms intervals, each inside one minute, read from the raw samples (packed raw
   * rows, staging, consistency rows) filtered by exact timestamp: the partial minutes at
   * the edges of the range.
   */
  exact: [number, number][];
  /** Effective time range the buckets and exact intervals cover, ms (null when the range is empty). */
  from: number | null;
  to: number | null;
  /**
   * Rollup level the whole buckets were read from ("mixed" when several); "raw" when the
   * range holds no whole minute and was read from raw samples only; "none" when empty.
   */
  granularity: Level | "mixed" | "raw" | "none";
  /**
   * True when the data read covers exactly [since, until): each edge is minute-aligned or
   * was read from raw samples. False when an edge was rounded out to the enclosing
   * minute, hour or day bucket because its raw samples (or finer rollups) are past
   * retention; `from`/`to` then say how far.
   */
  exactEdges: boolean;
}

/**
 * Where each level's rows are complete from (ms); earlier ones may be pruned. `raw` is the
 * raw samples' horizon (packed raw rows and consistency rows, minute-aligned).
 */
export interface Horizons {
  hour: number;
  minute: number;
  raw: number;
}

const LEVELS: { level: Level; size: number }[] = [
  { level: "day", size: DAY_MS },
  { level: "hour", size: HOUR_MS },
  { level: "minute", size: MINUTE_MS },
];

function pushRange(list: [number, number][], bucket: number): void {
  const last = list.at(-1);
  if (last && last[1] === bucket) last[1] = bucket + 1;
  else list.push([bucket, bucket + 1]);
}

/**
 * Picks the coarsest rollups that tile [since, until): whole UTC days from day rows, the
 * partial days at the edges from whole hours, the partial hours from whole minutes, and the
 * partial minutes at the very edges from raw samples filtered by timestamp (`exact`). A
 * finer level is used only where it is still retained (>= its horizon); otherwise the
 * enclosing coarser bucket is read whole and the coverage says so. Likewise a partial minute
 * whose raw samples are past the raw horizon, or listed in `rawGaps` (minute numbers whose
 * raw rows the reader found incomplete), is read from its whole minute rollup.
 * A 30-day report reads ~30 day rows per series plus <= ~46 hour and ~118 minute rows,
 * and the raw rows of at most two minutes.
 */
export function planRead(
  since: number, until: number, horizons: Horizons, rawGaps: ReadonlySet<number> = new Set(),
): ReadPlan {
  const plan: ReadPlan = {
    day: [], hour: [], minute: [], exact: [], from: null, to: null, granularity: "none", exactEdges: true,
  };
  if (!(until > since)) return plan;
  const used = new Set<Level>();
  const cover = (from: number, to: number): void => {
    plan.from = Math.min(plan.from ?? Infinity, from);
    plan.to = Math.max(plan.to ?? -Infinity, to);
  };
  const take = (i: number, bucket: number): void => {
    const { level, size } = LEVELS[i] as { level: Level; size: number };
    pushRange(plan[level], bucket);
    used.add(level);
    cover(bucket * size, (bucket + 1) * size);
  };
  const walk = (i: number, from: number, to: number): void => {
    const { size } = LEVELS[i] as { size: number };
    const finer = LEVELS[i + 1];
    for (let b = Math.floor(from / size); b < Math.ceil(to / size); b++) {
      const start = Math.max(from, b * size);
      const end = Math.min(to, (b + 1) * size);
      if (start === b * size && end === (b + 1) * size) {
        take(i, b);
      } else if (!finer) {
        // A partial minute: exact from raw samples where they are still complete.
        if (b * size >= horizons.raw && !rawGaps.has(b)) {
          plan.exact.push([start, end]);
          cover(start, end);
        } else {
          take(i, b);
        }
      } else {
        const horizon = finer.level === "hour" ? horizons.hour : horizons.minute;
        if (Math.floor(start / finer.size) * finer.size >= horizon) walk(i + 1, start, end);
        else take(i, b);
      }
    }
  };
  walk(0, since, until);
  plan.granularity = used.size > 1 ? "mixed" : ([...used][0] ?? (plan.exact.length > 0 ? "raw" : "none"));
  plan.exactEdges = plan.from === since && plan.to === until;
  return plan;
}
