import type { RouteTimeline, WatcherTimeline } from "../../../store/timeline.js";
import type { ChainReport } from "../../types.js";
import { esc, ms, num, pct, utc } from "../format.js";
import type { HtmlContext, Section } from "../section.js";
import { bucketTime, dataTable, laneChart, lineChart, shareChart, type Band, type Lane, type LaneMark, type TimeAxis } from "../svg.js";
import { chaosBand } from "./chaos.js";

/** Lower bounds a success chart may start at: the highest one under every value and the objective. */
const SUCCESS_FLOORS = [0.999, 0.99, 0.9, 0.5, 0];

function successFloor(values: readonly (number | null)[], objective: number): number {
  const lowest = Math.min(objective, ...values.filter((v): v is number => v !== null));
  return SUCCESS_FLOORS.find((f) => f < lowest) ?? 0;
}

/** 1, 2 or 5 times a power of ten, at least v. */
function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 5, 10].find((m) => m * p >= v) ?? 10) * p;
}

function worst(values: readonly (number | null)[], pick: "min" | "max"): { value: number; index: number } | null {
  let best: { value: number; index: number } | null = null;
  values.forEach((v, index) => {
    if (v === null) return;
    if (best === null || (pick === "min" ? v < best.value : v > best.value)) best = { value: v, index };
  });
  return best;
}

const BUCKET = "Bucket start (UTC)";

const isPin = (route: string): boolean => route.startsWith("pin:") || route.includes("/pin:");

interface ChainCharts {
  chain: ChainReport;
  axis: TimeAxis;
  bands: Band[];
  routes: RouteTimeline[];
  watchers: WatcherTimeline[];
  label(r: { target: string; route: string }): string;
}

function objectiveOf(c: ChainReport, r: RouteTimeline, sli: "success_ratio" | "latency_p95_ms"): number | null {
  return c.slo.find((row) => row.target === r.target && row.route === r.route && row.sli === sli && row.watcher === null)?.objective ?? null;
}

function routeFigure(cc: ChainCharts, r: RouteTimeline): string {
  const { axis } = cc;
  const name = cc.label(r);
  const at = (i: number): string => utc(axis.times[i] ?? 0);
  const successObjective = objectiveOf(cc.chain, r, "success_ratio") ?? 1;
  const latencyObjective = objectiveOf(cc.chain, r, "latency_p95_ms");
  const low = worst(r.successRatio, "min");
  const below = r.successRatio.filter((v) => v !== null && v < successObjective).length;
  const success = lineChart({
    title: `${cc.chain.chain} ${name}: success ratio`,
    summary: low === null
      ? "No probe in this range."
      : `Lowest ${pct(low.value)} in the bucket starting ${at(low.index)}; ${below} of ${r.successRatio.filter((v) => v !== null).length} buckets below the objective ${pct(successObjective)}.`,
    axis, bands: cc.bands,
    series: [{ name: "success ratio", values: r.successRatio }],
    y: { min: successFloor(r.successRatio, successObjective), max: 1, format: (v) => pct(v) },
    guides: [{ value: successObjective, label: `objective ${pct(successObjective)}` }],
  });
  const high = worst(r.p95, "max");
  const topLatency = Math.max(latencyObjective ?? 0, ...r.p99.filter((v): v is number => v !== null));
  const latency = lineChart({
    title: `${cc.chain.chain} ${name}: latency p50, p95, p99`,
    summary: high === null
      ? "No well-formed answer in this range."
      : `p95 highest ${ms(high.value)} in the bucket starting ${at(high.index)}${latencyObjective === null ? "" : `; objective p95 <= ${ms(latencyObjective)}`}.`,
    axis, bands: cc.bands,
    series: [{ name: "p50", values: r.p50 }, { name: "p95", values: r.p95 }, { name: "p99", values: r.p99 }],
    y: { min: 0, max: niceCeil(topLatency * 1.1), format: (v) => ms(v) },
    guides: latencyObjective === null ? [] : [{ value: latencyObjective, label: `objective p95 <= ${ms(latencyObjective)}` }],
  });
  const rows = axis.times.map((t, i) => [
    bucketTime(t, axis.stepMs), r.requests[i] ?? 0, pct(r.successRatio[i]), num(r.p50[i], 1), num(r.p95[i], 1), num(r.p99[i], 1), num(r.headLagMax[i], 0),
  ]);
  return `<figure class="route" data-route="${esc(name)}"><figcaption>${esc(name)}: success and latency</figcaption><div class="pair"><div>${success}</div><div>${latency}</div></div>` +
    dataTable(`Data: ${name} per bucket`, [BUCKET, "Requests", "Success", "p50 ms", "p95 ms", "p99 ms", "Head lag max"], rows) + "</figure>";
}

/** Provider share of the strategy routes (pins always go to their provider). */
function providerFigure(cc: ChainCharts): string | null {
  const strategies = cc.routes.filter((r) => !isPin(r.route));
  const counts = new Map<string, number[]>();
  for (const r of strategies) {
    for (const p of r.providers) {
      const list = counts.get(p.provider) ?? new Array<number>(cc.axis.times.length).fill(0);
      p.counts.forEach((c, i) => (list[i] = (list[i] ?? 0) + c));
      counts.set(p.provider, list);
    }
  }
  if (counts.size === 0) return null;
  const total = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
  const stacks = [...counts.entries()].map(([name, c]) => ({ name, counts: c })).sort((a, b) => total(b.counts) - total(a.counts));
  const all = total(stacks.flatMap((s) => s.counts));
  const chart = shareChart({
    title: `${cc.chain.chain}: provider share of strategy routes`,
    summary: `Over the range: ${stacks.map((s) => `${s.name} ${pct(total(s.counts) / all)}`).join(", ")}.`,
    axis: cc.axis, bands: cc.bands, stacks,
  });
  const rows = cc.axis.times.map((t, i) => {
    const sum = stacks.reduce((n, s) => n + (s.counts[i] ?? 0), 0);
    return [bucketTime(t, cc.axis.stepMs), ...stacks.map((s) => (sum === 0 ? "-" : pct((s.counts[i] ?? 0) / sum)))];
  });
  return `<figure class="providers"><figcaption>Provider share over time (${esc(strategies.map((r) => cc.label(r)).join(", "))})</figcaption>${chart}` +
    dataTable("Data: provider share per bucket", [BUCKET, ...stacks.map((s) => s.name)], rows) + "</figure>";
}

function headLagFigure(cc: ChainCharts): string | null {
  const routes = cc.routes.filter((r) => r.headLagMax.some((v) => v !== null));
  if (routes.length === 0) return null;
  const threshold = cc.chain.series.find((s) => s.head.samples > 0)?.head.threshold ?? null;
  const top = Math.max(threshold === null ? 0 : threshold + 1, ...routes.flatMap((r) => r.headLagMax.filter((v): v is number => v !== null)));
  const high = routes.map((r) => ({ r, w: worst(r.headLagMax, "max") })).sort((a, b) => (b.w?.value ?? 0) - (a.w?.value ?? 0))[0];
  const chart = lineChart({
    title: `${cc.chain.chain}: head lag (max per bucket, blocks behind the providers' consensus)`,
    summary: high?.w ? `Largest lag ${high.w.value} block(s) on ${cc.label(high.r)} in the bucket starting ${utc(cc.axis.times[high.w.index] ?? 0)}${threshold === null ? "" : `; objective lag <= ${threshold}`}.` : "No head samples.",
    axis: cc.axis, bands: cc.bands,
    series: routes.map((r) => ({ name: cc.label(r), values: r.headLagMax })),
    // A multiple of the 4 grid steps: whole blocks on every line.
    y: { min: 0, max: Math.max(4, Math.ceil(top / 4) * 4), format: (v) => num(v, 0) },
    guides: threshold === null ? [] : [{ value: threshold, label: `objective lag <= ${threshold} blocks` }],
  });
  const rows = cc.axis.times.map((t, i) => [bucketTime(t, cc.axis.stepMs), ...routes.map((r) => `${num(r.headLagMax[i], 0)} / ${num(r.headLagMean[i], 2)}`)]);
  return `<figure class="headlag"><figcaption>Head lag over time</figcaption>${chart}` +
    dataTable("Data: head lag per bucket (max / mean blocks)", [BUCKET, ...routes.map((r) => cc.label(r))], rows) + "</figure>";
}

/** Severity order of a bucket's marks: the first that occurred colours it. */
const MARKS: { kind: string; field: keyof Pick<WatcherTimeline, "missing" | "refused" | "neverLive" | "stalls" | "duplicates" | "reorgs">; words: string }[] = [
  { kind: "gap", field: "missing", words: "never delivered" },
  { kind: "refused", field: "refused", words: "refused attempt(s)" },
  { kind: "refused", field: "neverLive", words: "session(s) never live" },
  { kind: "stall", field: "stalls", words: "stall(s)" },
  { kind: "dup", field: "duplicates", words: "duplicate(s)" },
];

function continuityFigure(cc: ChainCharts): string | null {
  if (cc.watchers.length === 0) return null;
  const { axis } = cc;
  const lanes: Lane[] = [];
  const rows: string[][] = [];
  const totals = MARKS.map(() => 0);
  let reorgs = 0;
  for (const w of cc.watchers) {
    const marks: LaneMark[] = [];
    const ok: boolean[] = [];
    const ticks: number[] = [];
    let laneReorgs = 0;
    axis.times.forEach((t, i) => {
      const found = MARKS.map((m, k) => ({ m, k, n: w[m.field][i] ?? 0 })).filter((x) => x.n > 0);
      ok.push((w.delivered[i] ?? 0) > 0 && found.length === 0);
      const r = w.reorgs[i] ?? 0;
      if (r > 0) {
        ticks.push(i);
        laneReorgs += r;
      }
      const first = found[0];
      if (!first) return;
      for (const x of found) totals[x.k] = (totals[x.k] ?? 0) + x.n;
      const what = [...found.map((x) => `${x.n} ${x.m.words}`), ...(r > 0 ? [`${r} reorg(s)`] : [])].join(", ");
      marks.push({ index: i, kind: first.m.kind, label: `${w.watcher}, bucket from ${utc(t)}: ${what}` });
      rows.push([bucketTime(t, axis.stepMs), w.watcher, String(w.delivered[i] ?? 0), what]);
    });
    reorgs += laneReorgs;
    lanes.push({ name: w.watcher, ok, marks, ticks: { indexes: ticks, kind: "reorg", label: `${w.watcher}: ${laneReorgs} reorg(s) in ${ticks.length} bucket(s)` } });
  }
  const perWatcher = cc.watchers.map((w) => `${w.watcher}: ${w.delivered.reduce((a, b) => a + b, 0)} delivered, ${w.reorgs.reduce((a, b) => a + b, 0)} reorg(s)`).join("; ");
  const chart = laneChart({
    title: `${cc.chain.chain}: subscription continuity`,
    summary: `${cc.watchers.length} watcher(s); in the range: ${MARKS.map((m, i) => `${totals[i]} ${m.words}`).join(", ")}, ${reorgs} reorg(s). ${perWatcher}.`,
    axis, bands: cc.bands, lanes,
  });
  const key = `<ul class="legend"><li class="m-ok">delivered</li><li class="m-gap">gap</li><li class="m-refused">refused / never live</li><li class="m-stall">stall</li><li class="m-dup">duplicate</li><li class="m-reorg">reorg (tick)</li></ul>`;
  return `<figure class="continuity"><figcaption>Subscription continuity: each watcher's lane, events marked per bucket</figcaption>${chart}${key}` +
    `<p class="muted">${esc(perWatcher)}</p>` +
    dataTable(`Data: buckets with delivery problems (${rows.length}; reorgs are in the totals above)`, [BUCKET, "Watcher", "Delivered", "Events"], rows) + "</figure>";
}

function chainHtml(ctx: HtmlContext, c: ChainReport): string {
  const head = `<h3>${esc(c.chain)}</h3><p>${esc(c.requests)} probes, ${esc(pct(c.successRatio))} answered well-formed; ${esc(c.continuity.watchers.length)} watcher(s).</p>`;
  const { timeline, axis } = ctx;
  if (timeline === null || axis === null) return `<section class="chain" data-chain="${esc(c.chain)}">${head}<p>No time series.</p></section>`;
  const routes = timeline.routes.filter((r) => r.chain === c.chain);
  const targets = new Set(routes.map((r) => r.target));
  const cc: ChainCharts = {
    chain: c, axis, routes,
    watchers: timeline.watchers.filter((w) => w.chain === c.chain),
    bands: ctx.report.chaos.filter((w) => w.chain === c.chain).map(chaosBand),
    label: (r) => (targets.size > 1 ? `${r.target} ${r.route}` : r.route),
  };
  const parts = [...routes.map((r) => routeFigure(cc, r)), providerFigure(cc), headLagFigure(cc), continuityFigure(cc)];
  return `<section class="chain" data-chain="${esc(c.chain)}">${head}${parts.filter((p) => p !== null).join("")}</section>`;
}

/** Per chain: success and latency per route, provider share, head lag, subscription continuity. */
export const chainsSection: Section = {
  id: "charts",
  title: "Over time",
  render(ctx) {
    if (ctx.report.chains.length === 0) return null;
    const shaded = ctx.report.chaos.length > 0 ? " Shaded spans are chaos windows (hover for the verdict)." : "";
    return `<p>Per bucket of the time axis, UTC. Dashed lines are objectives.${shaded}</p>${ctx.report.chains.map((c) => chainHtml(ctx, c)).join("")}`;
  },
};
