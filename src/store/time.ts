export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export const minuteOf = (ts: number): number => Math.floor(ts / MINUTE_MS);
export const hourOf = (ts: number): number => Math.floor(ts / HOUR_MS);
/** UTC days. */
export const dayOf = (ts: number): number => Math.floor(ts / DAY_MS);
