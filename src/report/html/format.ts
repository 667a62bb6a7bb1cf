/** Text helpers for the HTML report and the status page: escaping and UTC formatting. */

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes text for HTML element content and quoted attribute values (also inside SVG). */
export function esc(text: string | number | null | undefined): string {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** `2025-01-15 06:00:00 UTC`: seconds when they are not zero, else minutes. */
export function utc(ms: number): string {
  const iso = new Date(ms).toISOString();
  const secs = iso.slice(17, 23) === "00.000" ? "" : iso.slice(16, 19);
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}${secs} UTC`;
}

/** A time on a chart axis or in a data table, UTC; shorter when the span allows. */
export function utcShort(ms: number, spanMs: number): string {
  const iso = new Date(ms).toISOString();
  if (spanMs <= 86_400_000) return iso.slice(11, 16);
  if (spanMs <= 7 * 86_400_000) return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
  return iso.slice(5, 10);
}

/** A duration in words: 90 s, 45 min, 6 h, 30 d (largest whole unit, one decimal below 10). */
export function duration(ms: number): string {
  const units: [number, string][] = [[86_400_000, "d"], [3_600_000, "h"], [60_000, "min"], [1000, "s"]];
  for (const [size, unit] of units) {
    if (ms >= size) {
      const v = ms / size;
      return `${v < 10 && !Number.isInteger(v) ? v.toFixed(1) : Math.round(v)} ${unit}`;
    }
  }
  return `${Math.round(ms)} ms`;
}

/** 0.99912 -> `99.912%` (up to 3 decimals, trailing zeros dropped); null -> `-`. */
export function pct(r: number | null | undefined): string {
  return r === null || r === undefined ? "-" : `${Number((r * 100).toFixed(3))}%`;
}

/** 12.3456 -> `12.3 ms`; null -> `-`. */
export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined) return "-";
  return `${v >= 100 ? Math.round(v) : Number(v.toFixed(1))} ms`;
}

/** A number with at most `digits` decimals; null -> `-`. */
export function num(v: number | null | undefined, digits = 2): string {
  return v === null || v === undefined ? "-" : String(Number(v.toFixed(digits)));
}
