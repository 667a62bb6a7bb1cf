import type { ChainReport, Report, SloRow } from "./types.js";

const DASH = "—";

function iso(ms: number | null): string {
  return ms === null ? DASH : new Date(ms).toISOString();
}

function pct(r: number | null, digits = 3): string {
  return r === null ? DASH : `${(r * 100).toFixed(digits)}%`;
}

function num(v: number | null, digits = 1): string {
  return v === null ? DASH : v.toFixed(digits);
}

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function table(head: string[], rows: string[][]): string {
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  for (const r of rows) lines.push(`| ${r.map(cell).join(" | ")} |`);
  return lines.join("\n");
}

function verdict(pass: boolean | null): string {
  return pass === null ? "no data" : pass ? "PASS" : "FAIL";
}

function sloActual(r: SloRow): string {
  return r.sli === "latency_p95_ms" ? (r.actual === null ? DASH : `${num(r.actual)} ms`) : pct(r.actual);
}

function renderChain(c: ChainReport): string {
  const out: string[] = [`## ${c.chain}`, ""];
  out.push(`Requests: ${c.requests}, success ${pct(c.successRatio)}.`, "");
  out.push("### SLOs", "");
  out.push(table(
    ["target", "route", "objective", "actual", "events", "bad", "budget left", "verdict"],
    c.slo.map((r) => [r.target, r.route, r.objectiveText, sloActual(r), String(r.events), String(r.bad),
      pct(r.budgetLeft, 1), verdict(r.pass)]),
  ), "");
  out.push("### Series", "");
  out.push(table(
    ["target", "route", "method", "requests", "success", "p50 ms", "p95 ms", "p99 ms", "errors", "providers",
      "overhead ms (mean/max)", "head lag (mean/max, >thr)", "regressions", "retries"],
    c.series.map((s) => [
      s.target, s.route, s.method, String(s.requests), pct(s.successRatio),
      num(s.latencyMs.p50), num(s.latencyMs.p95), num(s.latencyMs.p99),
      s.errors.length === 0 ? DASH : s.errors.map((e) => `${e.errorClass}: ${e.count}`).join(", "),
      s.providers.length === 0 ? DASH : s.providers.map((p) => `${p.provider ?? "unknown"} ${pct(p.share, 1)}`).join(", "),
      s.overheadMs.samples === 0 ? DASH : `${num(s.overheadMs.mean, 2)} / ${num(s.overheadMs.max, 2)}`,
      s.head.samples === 0
        ? DASH
        : `${num(s.head.meanLag, 2)} / ${num(s.head.maxLag, 0)}, ${pct(s.head.overThresholdShare, 2)} > ${s.head.threshold}`,
      String(s.headRegressions),
      s.retries.total === 0 ? "0" : `${s.retries.total} (${s.retries.retriedRequests} requests)`,
    ]),
  ), "");
  const k = c.consistency;
  out.push("### Consistency", "");
  out.push(k.checks === 0
    ? "No consistency checks in this range."
    : `${k.mismatches} of ${k.checks} checks found providers disagreeing on a block hash (${pct(k.mismatchRatio)}).`, "");
  return out.join("\n");
}

/** What the data read came from and whether its edges are the range's own. */
function coverageText(r: Report): string {
  const c = r.coverage;
  if (c.granularity === "none") return "nothing to read";
  const source = c.granularity === "raw" ? "raw samples" : `${c.granularity} rollups`;
  if (c.exactEdges) return `${source}, edges exact to the millisecond`;
  const rounded: string[] = [];
  if (c.from !== null && c.from < r.range.since) rounded.push(`start to ${iso(c.from)}`);
  if (c.to !== null && c.to > r.range.until) rounded.push(`end to ${iso(c.to)}`);
  return `${source}; ${rounded.join(" and ")} rounded out to whole buckets: the raw samples there are past retention`;
}

/** A readable rendering of the report; the JSON is the source of truth. */
export function renderMarkdown(r: Report): string {
  const out: string[] = ["# lasso-canary report", ""];
  out.push(`Range: ${iso(r.range.since)} to ${iso(r.range.until)}${r.range.chain ? `, chain ${r.range.chain}` : ""}.`);
  out.push(`Data covered: ${iso(r.coverage.from)} to ${iso(r.coverage.to)} (${coverageText(r)}).`);
  out.push(`Latency percentiles are within ${r.latencyPrecision.relativeError * 100}% ` +
    `(HdrHistogram, ${r.latencyPrecision.significantDigits} significant digits), successful requests only.`, "");
  if (r.empty) {
    out.push(r.note ?? "No samples in this range.", "");
    return out.join("\n");
  }
  for (const c of r.chains) out.push(renderChain(c));
  return out.join("\n");
}
