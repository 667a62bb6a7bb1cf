import { DAY_MS, HOUR_MS, MINUTE_MS } from "./time.js";

export type Level = "day" | "hour" | "minute";

/** Half-open bucket-number ranges to read per rollup level. */
export interface ReadPlan {
  day: [number, number][];
  hour: [number, number][];
  minute: [number, number][];
  /** Effective time range the buckets cover, ms (null when the range is empty). */
  from: number | null;
  to: number | null;
  granularity: Level | "mixed" | "none";
}

/** Where each finer level's rollups are complete from (ms); earlier buckets may be pruned. */
export interface Horizons {
  hour: number;
  minute: number;
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
 * partial days at the edges from whole hours, the partial hours from minutes (the outer
 * minutes rounded outward). A finer level is used only where it is still retained
 * (>= its horizon); otherwise the enclosing coarser bucket is read whole and the coverage
 * says so. A 30-day report reads ~30 day rows per series plus <= ~46 hour and ~118 minute rows.
 */
export function planRead(since: number, until: number, horizons: Horizons): ReadPlan {
  const plan: ReadPlan = { day: [], hour: [], minute: [], from: null, to: null, granularity: "none" };
  if (!(until > since)) return plan;
  const used = new Set<Level>();
  const take = (i: number, bucket: number): void => {
    const { level, size } = LEVELS[i] as { level: Level; size: number };
    pushRange(plan[level], bucket);
    used.add(level);
    plan.from = Math.min(plan.from ?? Infinity, bucket * size);
    plan.to = Math.max(plan.to ?? -Infinity, (bucket + 1) * size);
  };
  const walk = (i: number, from: number, to: number): void => {
    const { size } = LEVELS[i] as { size: number };
    const finer = LEVELS[i + 1];
    for (let b = Math.floor(from / size); b < Math.ceil(to / size); b++) {
      const start = Math.max(from, b * size);
      const end = Math.min(to, (b + 1) * size);
      const whole = start === b * size && end === (b + 1) * size;
      if (whole || !finer) {
        take(i, b);
        continue;
      }
      const horizon = finer.level === "hour" ? horizons.hour : horizons.minute;
      if (Math.floor(start / finer.size) * finer.size >= horizon) walk(i + 1, start, end);
      else take(i, b);
    }
  };
  walk(0, since, until);
  plan.granularity = used.size > 1 ? "mixed" : ([...used][0] ?? "none");
  return plan;
}
