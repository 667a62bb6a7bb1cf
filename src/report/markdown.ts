import type { ChainReport, Comparison, ComparisonRow, Report, SloRow } from "./types.js";

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
  if (r.sli === "latency_p95_ms" || r.sli === "delivery_delay_p95_ms") return r.actual === null ? DASH : `${num(r.actual)} ms`;
  if (r.sli === "duplicates") return r.actual === null ? DASH : String(r.actual);
  return pct(r.actual);
}

function ms(v: number | null): string {
  return v === null ? DASH : num(v, 0);
}

function subscriptions(c: ChainReport): string[] {
  const ws = c.continuity.watchers;
  if (ws.length === 0) return [];
  const out = ["### Subscriptions", ""];
  out.push(table(
    ["target", "watcher", "route", "delivered (backfilled)", "missing", "delivery", "duplicates", "reorgs (max depth)",
      "out of order", "stalls (s)", "reconnects", "client gaps", "id changes", "delay ms p50/p95/p99/max",
      "sighting ms p95/max", "first event max ms", "logs missing/dup", "refused subscribe/upgrade (unserved blocks)",
      "connect failures", "never live", "state at end"],
    ws.map((w) => [
      w.target, w.watcher, w.route, `${w.delivered} (${w.backfilled})`, String(w.missingBlocks), pct(w.deliveryRatio),
      String(w.duplicates), w.reorgs === 0 ? "0" : `${w.reorgs} (${w.maxReorgDepth ?? DASH})`, String(w.outOfOrder),
      w.stalls === 0 ? "0" : `${w.stalls} (${num(w.stallSeconds)})`, String(w.reconnects), String(w.clientGapBlocks),
      String(w.idChanges),
      w.delayMs.samples === 0
        ? DASH
        : [w.delayMs.p50, w.delayMs.p95, w.delayMs.p99, w.delayMs.max].map(ms).join(" / ") +
          (w.delayMs.clamped > 0 ? ` (${w.delayMs.clamped} negative as 0)` : ""),
      w.sightingDelayMs.samples === 0 ? DASH : `${ms(w.sightingDelayMs.p95)} / ${ms(w.sightingDelayMs.max)}`,
      ms(w.firstEventMs.max),
      w.subscription === "logs" || w.logsMissing + w.logsDuplicate > 0 ? `${w.logsMissing} / ${w.logsDuplicate}` : DASH,
      `${w.subscribeRefused} / ${w.upgradeRefused} (${w.unservedBlocks})`, String(w.connectFailures), String(w.neverLive),
      w.state.status.replace(/_/g, " ") + (w.state.since === null ? "" : ` since ${iso(w.state.since)}`),
    ]),
  ), "");
  out.push("Missing = blocks Lasso never delivered (confirmed over HTTP after its gap filling). Client gaps (blocks " +
    "missed while the watcher's own socket was down) are shown but never count against Lasso, nor do connect " +
    "failures (target unreachable). Unserved blocks (produced between attempts Lasso refused) count as undelivered; " +
    "a watcher refused, never live or stalled at the end of the range fails its delivery SLO.", "");
  return out;
}

function renderChain(c: ChainReport): string {
  const out: string[] = [`## ${c.chain}`, ""];
  out.push(`Requests: ${c.requests}, well-formed answers ${pct(c.successRatio)}.`, "");
  out.push("### SLOs", "");
  out.push(table(
    ["target", "route", "watcher", "objective", "actual", "events", "bad", "budget left", "verdict"],
    c.slo.map((r) => [r.target, r.route ?? DASH, r.watcher ?? DASH, r.objectiveText, sloActual(r), String(r.events), String(r.bad),
      pct(r.budgetLeft, 1), verdict(r.pass) + (r.reason === null ? "" : `: ${r.reason}`)]),
  ), "");
  out.push("Availability counts every well-formed answer as good; a wrong answer (chain id, shape, monotonic head) " +
    "burns the correctness budget and a stale one the freshness budget instead. Latency is of well-formed answers.", "");
  out.push("### Series", "");
  out.push(table(
    ["target", "route", "method", "requests", "well-formed", "p50 ms", "p95 ms", "p99 ms", "errors", "failed assertions", "providers",
      "overhead ms (mean/max)", "head lag (mean/max, >thr)", "regressions", "retries"],
    c.series.map((s) => [
      s.target, s.route, s.method, String(s.requests), pct(s.successRatio),
      num(s.latencyMs.p50), num(s.latencyMs.p95), num(s.latencyMs.p99),
      s.errors.length === 0 ? DASH : s.errors.map((e) => `${e.errorClass}: ${e.count}`).join(", "),
      s.failedAssertions.length === 0 ? DASH : s.failedAssertions.map((a) => `${a.assertion}: ${a.count}`).join(", "),
      s.providers.length === 0 ? DASH : s.providers.map((p) => `${p.provider ?? "unknown"}${p.transport === null ? "" : ` (${p.transport})`} ${pct(p.share, 1)}`).join(", "),
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
  out.push(...subscriptions(c));
  return out.join("\n");
}

/** What the data read came from and whether its edges are the range's own. */
function coverageText(r: Report): string {
  const c = r.coverage;
  if (c.granularity === "none") return "nothing to read";
  const source = c.granularity === "raw" ? "raw samples" : `${c.granularity} rollups`;
  if (c.exactEdges) return `${source}, edges exact to the millisecond`;
  const rounded: string[] = [];
  if (c.read.from !== null && c.read.from < r.range.since) rounded.push(`start to ${iso(c.read.from)}`);
  if (c.read.to !== null && c.read.to > r.range.until) rounded.push(`end to ${iso(c.read.to)}`);
  return `${source}; ${rounded.join(" and ")} rounded out to whole buckets: the raw samples there are past retention`;
}

/** A readable rendering of the report; the JSON is the source of truth. */
function renderPlanMismatches(r: Report): string {
  return [
    "## Plan mismatches",
    "",
    "The plan names routes the target does not know. This is lasso-canary's configuration, not a Lasso outage: " +
      "answers from these routes are excluded from every SLI.",
    "",
    table(["target", "chain", "route", "kind", "since", "target said", "fix"],
      r.planMismatches.map((m) => [m.target, m.chain, m.route ?? DASH, m.kind, iso(m.since), m.detail, m.fix])),
  ].join("\n");
}

function faultText(f: Record<string, unknown> & { kind: string }): string {
  const params = Object.entries(f).filter(([k]) => k !== "kind").map(([k, v]) => `${k}=${String(v)}`);
  return params.length === 0 ? f.kind : `${f.kind} (${params.join(", ")})`;
}

function seconds(v: number | null | undefined): string {
  return v === null || v === undefined ? DASH : `${(v / 1000).toFixed(1)} s`;
}

/** Chaos windows planned in the range: what ran, its figures and why its verdict is what it is. */
function renderChaos(r: Report): string {
  return [
    "## Chaos windows",
    "",
    "Experiment: the window's profile (e.g. canary) with one provider faulted; control: the public profile at the same instants. " +
      "Failover: fault start until the faulted provider stopped serving; recovery: window end until it served again.",
    "",
    table(["window", "chain / provider", "fault", "planned start", "verdict", "client success (experiment / control)", "failover", "recovery", "reasons"],
      r.chaos.map((w) => [
        `${w.name} (#${w.id}${w.trigger === "manual" ? ", manual" : ""})`,
        `${w.chain} / ${w.provider}`,
        w.kind === "failover_storm" ? `failover storm: ${faultText(w.fault)}` : faultText(w.fault),
        iso(w.plannedStart),
        w.verdict.toUpperCase(),
        w.figures === null ? DASH : `${pct(w.figures.clientSuccess.experiment, 2)} (${w.figures.clientSuccess.experimentSamples}) / ${pct(w.figures.clientSuccess.control, 2)} (${w.figures.clientSuccess.controlSamples})`,
        seconds(w.figures?.failoverMs),
        seconds(w.figures?.recoveryMs),
        w.reasons.join("; ") || DASH,
      ])),
  ].join("\n");
}

function comparedValue(row: ComparisonRow, side: "baseline" | "current"): string {
  const { value, samples } = row[side];
  if (value === null) return DASH;
  const text = row.metric === "success_ratio" ? pct(value) : row.metric === "head_lag_blocks" ? `${num(value, 2)} blocks` : `${num(value)} ms`;
  return `${text} (n=${samples})`;
}

/** The baseline comparison: what was compared with what, the verdicts, then one row per series (or watcher) and metric. */
export function renderComparison(c: Comparison): string {
  const b = c.baseline;
  const what = b.kind === "named"
    ? `saved baseline "${b.name ?? "?"}" (saved ${iso(b.savedAt)}, computed from ${iso(b.since)} to ${iso(b.until)}${b.chain === null ? "" : `, chain ${b.chain}`})`
    : `${iso(b.since)} to ${iso(b.until)}`;
  const counts = (["regression", "improved", "inconclusive", "ok", "no_data"] as const)
    .map((v) => `${c.counts[v]} ${v.replace("_", " ")}`).join(", ");
  const t = c.settings.thresholds;
  return [
    "## Baseline comparison",
    "",
    `Current: ${iso(c.current.since)} to ${iso(c.current.until)}; baseline: ${what}.`,
    `${c.regression ? "REGRESSION" : "No regression"}: ${counts}.`,
    "",
    `A change is a regression only when it is beyond its threshold in the worse direction (success ratio: failure share ` +
      `+${t.successRatio.relative * 100}%; latency +${t.latency.relative * 100}% and ${t.latency.absolute} ms; head lag ` +
      `+${t.headLag.relative * 100}% and ${t.headLag.absolute} blocks; overhead +${t.overhead.relative * 100}% and ${t.overhead.absolute} ms; ` +
      `delivery delay +${t.deliveryDelay.relative * 100}% and ${t.deliveryDelay.absolute} ms) AND significant at ${c.settings.alpha} after ` +
      `Holm's adjustment over all ${c.rows.filter((r) => r.test !== null).length} tests; with fewer samples than a test needs it is inconclusive.`,
    "",
    table(
      ["chain", "target", "route", "method / watcher", "metric", "baseline", "current", "verdict"],
      c.rows.map((r) => [r.chain, r.target, r.route, r.method ?? r.watcher ?? DASH, r.metric, comparedValue(r, "baseline"),
        comparedValue(r, "current"), `${r.verdict.toUpperCase().replace("_", " ")}: ${r.reason}`]),
    ),
  ].join("\n");
}

const SOAK_STATUS: Record<string, string> = {
  leak_suspected: "LEAK SUSPECTED", no_leak: "no leak", warming_up: "warming up", collecting: "collecting",
};

function hours(ms: number): string {
  return `${Number((ms / 3_600_000).toFixed(2))} h`;
}

/** Soak leak detection: per subject and metric, the verdict over the window ending at the range's end. */
function renderSoak(soak: NonNullable<Report["soak"]>): string {
  const st = soak.settings;
  const signed = (v: number | null, digits: number): string => (v === null ? DASH : `${v >= 0 ? "+" : ""}${v.toFixed(digits)}`);
  const rows = soak.subjects.flatMap((sub) => sub.metrics.map((m) => [
    sub.subject === "canary" ? "canary (self)" : `${sub.target}${sub.chain === null ? "" : ` (${sub.chain})`}`,
    m.metric,
    SOAK_STATUS[m.status] ?? m.status,
    num(m.value, 1),
    m.slopePerHour === null ? DASH : `${signed(m.slopePerHour, 3)} [${signed(m.lowerPerHour, 3)}, ${signed(m.upperPerHour, 3)}]`,
    m.percentPerHour === null ? DASH : `${signed(m.percentPerHour, 3)} [${signed(m.lowerPercentPerHour, 3)}, ${signed(m.upperPercentPerHour, 3)}]`,
    m.tau === null ? DASH : `tau ${m.tau.toFixed(2)}, MAD ${m.residualMadPercent === null ? num(m.residualMad, 2) : `${m.residualMadPercent.toFixed(2)}%`}`,
    m.window === null ? DASH : `${iso(m.window.from)} + ${hours(m.window.to - m.window.from)}`,
    String(m.samples),
    `${sub.restarts}${sub.lastRestart === null ? "" : ` (series since ${iso(sub.lastRestart.at)}: ${sub.lastRestart.reason})`}`,
    sub.pollErrors === 0 ? `${sub.polls} / 0` : `${sub.polls} / ${sub.pollErrors} (${sub.errorClasses.map((e) => `${e.errorClass}: ${e.count}`).join(", ")})`,
    m.reason,
  ]));
  return [
    "## Soak",
    "",
    `Verdicts as of ${iso(soak.at)}, each over the ${hours(st.windowMs)} window before it (after a ${hours(st.warmupMs)} warm-up per series; ` +
      `judged from ${hours(st.minSpanMs)} of data): leak suspected when the lower ${(st.confidence * 100).toFixed(0)}% bound of the Theil-Sen slope ` +
      `exceeds ${st.minPercentPerHour} %/h of the baseline and the metric's absolute floor, in both halves of the window. ` +
      "A restart (uptime went back, or memory dropped sharply) starts a new series. Restarts and polls are counted over the report's range.",
    "",
    table(["subject", "metric", "verdict", "latest", "slope /h [bounds]", "%/h [bounds]", "fit", "window", "samples", "restarts", "polls / errors", "why"], rows),
  ].join("\n");
}

export function renderMarkdown(r: Report): string {
  const out: string[] = ["# lasso-canary report", ""];
  out.push(`Range: ${iso(r.range.since)} to ${iso(r.range.until)}${r.range.chain ? `, chain ${r.range.chain}` : ""}.`);
  if (r.range.adjusted) out.push(`Range adjusted: ${r.range.adjusted.note}.`);
  out.push(r.coverage.from === null
    ? `Data covered: no probe or consistency sample in this range (${coverageText(r)}).`
    : `Data covered: first sample ${iso(r.coverage.from)}, last ${iso(r.coverage.to)}` +
      `${r.coverage.samplesExact ? "" : " (known to their rollup bucket where raw samples are past retention)"} (${coverageText(r)}).`);
  const k = r.coverage.continuity;
  if (r.chains.some((c) => c.continuity.watchers.length > 0) && !(k.exactEdges && k.delivered.exactEdges)) {
    const anomalies = k.exactEdges
      ? "gaps, duplicates and other anomalies exact"
      : `gaps, duplicates and other anomalies ${iso(k.from)} to ${iso(k.to)}, rounded out where their raw rows are past retention`;
    out.push(`Subscriptions: delivered counts and delays ${iso(k.delivered.from)} to ${iso(k.delivered.to)} (whole ` +
      `rollup buckets: delivered events are kept in rollups only); ${anomalies}.`);
  }
  out.push(`Latency percentiles are within ${r.latencyPrecision.relativeError * 100}% ` +
    `(HdrHistogram, ${r.latencyPrecision.significantDigits} significant digits), successful requests only.`, "");
  if (r.planMismatches.length > 0) out.push(renderPlanMismatches(r), "");
  if (r.empty) out.push(r.note ?? "No samples in this range.", "");
  else for (const c of r.chains) out.push(renderChain(c));
  if (r.chaos.length > 0) out.push(renderChaos(r), "");
  if (r.comparison !== null) out.push(renderComparison(r.comparison), "");
  if (r.soak !== null) out.push(renderSoak(r.soak), "");
  return out.join("\n");
}
