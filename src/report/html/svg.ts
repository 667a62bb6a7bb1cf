/**
 * Small inline SVG charts, rendered on the server: line charts, stacked shares and event lanes
 * over a time axis of equal buckets. No script and no external resource; colours come from the
 * page's CSS classes (s0..s5, with dash patterns so series differ without colour too). Every
 * chart carries a <title> and <desc> (its text summary) and is labelled for screen readers; the
 * caller puts a data table next to it.
 */
import { esc, utcShort } from "./format.js";

const W = 640;
const H = 190;
const LEFT = 56;
const RIGHT = 8;
const TOP = 8;
const BOTTOM = 22;
const PLOT_W = W - LEFT - RIGHT;
const PLOT_H = H - TOP - BOTTOM;
const X_TICKS = 5;
const Y_TICKS = 4;

let ids = 0;
/** Ids for aria-labelledby, unique within a page: the page renderer resets them first. */
const nextId = (): string => `g${(++ids).toString(36)}`;

/** Starts a page's chart ids from 1, so one report renders the same bytes every time. */
export function resetChartIds(): void {
  ids = 0;
}

/** The time axis shared by every chart of a report. */
export interface TimeAxis {
  /** Bucket start times, ms, ascending. */
  times: readonly number[];
  stepMs: number;
}

/** A shaded time span drawn behind the data (a chaos window), with a tooltip. */
export interface Band {
  from: number;
  to: number;
  label: string;
}

export interface ChartText {
  /** Short name: the SVG <title> and the accessible name. */
  title: string;
  /** What the chart shows in words (worst point, range): the SVG <desc>. */
  summary: string;
}

const r1 = (v: number): string => String(Math.round(v * 10) / 10);
/** Path coordinates: whole units of a 640-wide view box are finer than a screen shows them. */
const r0 = (v: number): string => String(Math.round(v));

function span(axis: TimeAxis): [number, number] {
  const t0 = axis.times[0] ?? 0;
  const t1 = (axis.times.at(-1) ?? t0) + axis.stepMs;
  return [t0, t1];
}

function xOf(axis: TimeAxis): (t: number) => number {
  const [t0, t1] = span(axis);
  return (t) => LEFT + ((Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0)) * PLOT_W;
}

function open(text: ChartText, kind: string): string {
  const id = nextId();
  return `<svg class="chart ${kind}" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="${id}t ${id}d" xmlns="http://www.w3.org/2000/svg">` +
    `<title id="${id}t">${esc(text.title)}</title><desc id="${id}d">${esc(text.summary)}</desc>`;
}

/** Time ticks under a plot whose bottom edge is at `base` in a chart `height` high. */
function xAxis(axis: TimeAxis, base = TOP + PLOT_H, height = H): string {
  const [t0, t1] = span(axis);
  const x = xOf(axis);
  let out = `<line class="axis" x1="${LEFT}" y1="${base}" x2="${W - RIGHT}" y2="${base}"/>`;
  const n = axis.times.length;
  for (let k = 0; k <= X_TICKS; k++) {
    const i = Math.round((k * n) / X_TICKS);
    const t = i >= n ? t1 : (axis.times[i] ?? t0);
    const anchor = k === 0 ? "start" : k === X_TICKS ? "end" : "middle";
    out += `<text class="tick" x="${r1(x(t))}" y="${height - 6}" text-anchor="${anchor}">${esc(utcShort(t, t1 - t0))}</text>`;
  }
  return out;
}

function bandsSvg(axis: TimeAxis, bands: readonly Band[], plotH = PLOT_H): string {
  const x = xOf(axis);
  return bands
    .map((b) => {
      const x0 = x(b.from);
      const w = Math.max(x(b.to) - x0, 1.5);
      return `<rect class="band" x="${r1(x0)}" y="${TOP}" width="${r1(w)}" height="${plotH}"><title>${esc(b.label)}</title></rect>`;
    })
    .join("");
}

export interface LineSeries {
  name: string;
  values: readonly (number | null)[];
}

export interface LineChartSpec extends ChartText {
  axis: TimeAxis;
  series: readonly LineSeries[];
  y: { min: number; max: number; format(v: number): string };
  /** Horizontal dashed lines (objectives). */
  guides?: readonly { value: number; label: string }[];
  bands?: readonly Band[];
}

/** One polyline per series, broken where a bucket has no value; a lone point becomes a dot. */
export function lineChart(spec: LineChartSpec): string {
  const { axis, y } = spec;
  const x = xOf(axis);
  const yOf = (v: number): number => TOP + PLOT_H - ((Math.min(Math.max(v, y.min), y.max) - y.min) / (y.max - y.min || 1)) * PLOT_H;
  const mid = (i: number): number => x((axis.times[i] ?? 0) + axis.stepMs / 2);
  let out = open(spec, "line") + bandsSvg(axis, spec.bands ?? []);
  for (let k = 0; k <= Y_TICKS; k++) {
    const v = y.min + ((y.max - y.min) * k) / Y_TICKS;
    const py = r1(yOf(v));
    out += `<line class="grid" x1="${LEFT}" y1="${py}" x2="${W - RIGHT}" y2="${py}"/>` +
      `<text class="tick" x="${LEFT - 4}" y="${py}" dy="3" text-anchor="end">${esc(y.format(v))}</text>`;
  }
  for (const g of spec.guides ?? []) {
    const py = r1(yOf(g.value));
    out += `<line class="guide" x1="${LEFT}" y1="${py}" x2="${W - RIGHT}" y2="${py}"><title>${esc(g.label)}</title></line>`;
  }
  spec.series.forEach((s, si) => {
    let d = "";
    let dots = "";
    let run = 0;
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) {
        if (run === 1) dots += `<circle cx="${r1(mid(i - 1))}" cy="${r1(yOf(s.values[i - 1] as number))}" r="1.8"/>`;
        run = 0;
        return;
      }
      d += `${run === 0 ? "M" : "L"}${r0(mid(i))} ${r0(yOf(v))}`;
      run++;
    });
    const last = s.values.length - 1;
    if (run === 1) dots += `<circle cx="${r1(mid(last))}" cy="${r1(yOf(s.values[last] as number))}" r="1.8"/>`;
    out += `<g class="s${si % 6}"><title>${esc(s.name)}</title>${d ? `<path d="${d}"/>` : ""}${dots}</g>`;
  });
  return `${out}${xAxis(axis)}</svg>${legend(spec.series.map((s) => s.name))}`;
}

export interface ShareSpec extends ChartText {
  axis: TimeAxis;
  /** Per stack, a count per bucket; shares are counts / the bucket's total. */
  stacks: readonly { name: string; counts: readonly number[] }[];
  bands?: readonly Band[];
}

/** Stacked shares (0-100%) per bucket as step areas; a bucket without counts is left empty. */
export function shareChart(spec: ShareSpec): string {
  const { axis } = spec;
  const x = xOf(axis);
  const n = axis.times.length;
  const totals = Array.from({ length: n }, (_, i) => spec.stacks.reduce((t, s) => t + (s.counts[i] ?? 0), 0));
  const below = new Array<number>(n).fill(0);
  const yOf = (share: number): number => TOP + PLOT_H - share * PLOT_H;
  let out = open(spec, "share") + bandsSvg(axis, spec.bands ?? []);
  for (const v of [0, 0.5, 1]) {
    const py = r1(yOf(v));
    out += `<line class="grid" x1="${LEFT}" y1="${py}" x2="${W - RIGHT}" y2="${py}"/><text class="tick" x="${LEFT - 4}" y="${py}" dy="3" text-anchor="end">${v * 100}%</text>`;
  }
  spec.stacks.forEach((s, si) => {
    let d = "";
    let i = 0;
    while (i < n) {
      if ((totals[i] ?? 0) === 0) {
        i++;
        continue;
      }
      // One closed shape per run of buckets with data: top edge forwards, bottom edge back.
      const top: string[] = [];
      const bottom: string[] = [];
      for (; i < n && (totals[i] ?? 0) > 0; i++) {
        const t = axis.times[i] ?? 0;
        const lo = below[i] ?? 0;
        const hi = lo + (s.counts[i] ?? 0) / (totals[i] ?? 1);
        below[i] = hi;
        const xa = r0(x(t));
        const xb = r0(x(t + axis.stepMs));
        top.push(`${xa} ${r0(yOf(hi))}L${xb} ${r0(yOf(hi))}`);
        bottom.unshift(`${xb} ${r0(yOf(lo))}L${xa} ${r0(yOf(lo))}`);
      }
      d += `M${top.join("L")}L${bottom.join("L")}Z`;
    }
    out += `<g class="a${si % 6}"><title>${esc(s.name)}</title>${d ? `<path d="${d}"/>` : ""}</g>`;
  });
  return `${out}${xAxis(axis)}</svg>${legend(spec.stacks.map((s) => s.name), "a")}`;
}

/** A mark on an event lane: a kind (CSS class `m-<kind>`) in one bucket, with a tooltip. */
export interface LaneMark {
  index: number;
  kind: string;
  label: string;
}

export interface Lane {
  name: string;
  /** Buckets where the lane was healthy (drawn as runs of a thin bar). */
  ok: readonly boolean[];
  marks: readonly LaneMark[];
  /** Buckets with a minor event drawn as a tick (reorgs: frequent on real chains), and the ticks' tooltip. */
  ticks?: { indexes: readonly number[]; kind: string; label: string };
}

export interface LaneSpec extends ChartText {
  axis: TimeAxis;
  lanes: readonly Lane[];
  bands?: readonly Band[];
}

/** A lane: its name on top, the bar and marks under it. */
const LANE_H = 26;
const LANE_BAR_Y = 13;

/** One row per lane: runs of healthy buckets as a bar, each event as a coloured mark over its bucket. */
export function laneChart(spec: LaneSpec): string {
  const { axis } = spec;
  const height = TOP + spec.lanes.length * LANE_H + BOTTOM;
  const x = xOf(axis);
  const id = nextId();
  let out = `<svg class="chart lanes" viewBox="0 0 ${W} ${height}" role="img" aria-labelledby="${id}t ${id}d" xmlns="http://www.w3.org/2000/svg">` +
    `<title id="${id}t">${esc(spec.title)}</title><desc id="${id}d">${esc(spec.summary)}</desc>`;
  out += bandsSvg(axis, spec.bands ?? [], spec.lanes.length * LANE_H);
  spec.lanes.forEach((lane, li) => {
    const y0 = TOP + li * LANE_H;
    out += `<text class="tick" x="${LEFT}" y="${y0 + 10}">${esc(lane.name)}</text>`;
    let i = 0;
    let bars = "";
    while (i < lane.ok.length) {
      if (!lane.ok[i]) {
        i++;
        continue;
      }
      const start = i;
      while (i < lane.ok.length && lane.ok[i]) i++;
      const xa = x(axis.times[start] ?? 0);
      const xb = x((axis.times[i - 1] ?? 0) + axis.stepMs);
      bars += `<rect x="${r1(xa)}" y="${y0 + LANE_BAR_Y + 4}" width="${r1(xb - xa)}" height="4"/>`;
    }
    out += `<g class="lane-ok">${bars}</g>`;
    if (lane.ticks && lane.ticks.indexes.length > 0) {
      const d = lane.ticks.indexes.map((i) => `M${r0(x((axis.times[i] ?? 0) + axis.stepMs / 2))} ${y0 + LANE_BAR_Y}v${LANE_H - LANE_BAR_Y - 1}`).join("");
      out += `<path class="t-${esc(lane.ticks.kind)}" d="${d}"><title>${esc(lane.ticks.label)}</title></path>`;
    }
    for (const m of lane.marks) {
      const xa = x(axis.times[m.index] ?? 0);
      const w = Math.max(x((axis.times[m.index] ?? 0) + axis.stepMs) - xa, 2);
      out += `<rect class="m-${esc(m.kind)}" x="${r1(xa)}" y="${y0 + LANE_BAR_Y}" width="${r1(w)}" height="${LANE_H - LANE_BAR_Y - 1}"><title>${esc(m.label)}</title></rect>`;
    }
  });
  return `${out}${xAxis(axis, height - BOTTOM, height)}</svg>`;
}

function legend(names: readonly string[], prefix = "s"): string {
  if (names.length <= 1) return "";
  return `<ul class="legend">${names.map((n, i) => `<li class="${prefix}${i % 6}">${esc(n)}</li>`).join("")}</ul>`;
}

/** A bucket's start in a data table: minutes unless buckets are whole days (the range states the year and UTC). */
export function bucketTime(t: number, stepMs: number): string {
  const iso = new Date(t).toISOString();
  return stepMs % 86_400_000 === 0 ? iso.slice(0, 10) : `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
}

/** A data table: the text equivalent of a chart (cells are escaped here). */
export function dataTable(caption: string, headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  // End tags of td and tr are optional in HTML: leaving them out keeps a 30-day page light.
  const body = rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${esc(c)}` : `<td>${esc(c)}`)).join("")}`).join("\n");
  return `<details><summary>${esc(caption)}</summary><div class="scroll"><table class="data"><thead><tr>${headers.map((h) => `<th scope="col">${esc(h)}`).join("")}</thead><tbody>\n${body}\n</tbody></table></div></details>`;
}
