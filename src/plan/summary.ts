/** Human listing of a Plan for `lasso-canary validate`. Never prints an unredacted URL. */
import { formatRate } from "./build.js";
import { displayFile, formatIssue } from "./errors.js";
import { upstreamLoad } from "./load.js";
import { formatDuration } from "./schema.js";
import type { Assertion, Plan } from "./types.js";

function assertionText(a: Assertion): string {
  switch (a.kind) {
    case "shape":
      return `shape: ${a.shape}`;
    case "chainId":
      return `chainId = ${a.expected}`;
    case "freshness":
      return `freshness <= ${a.maxHeadLagBlocks} blocks`;
    case "monotonicHead":
      return "monotonicHead";
  }
}

/** Header names only: their values are credentials. */
function headerNames(headers: Record<string, string>): string {
  const names = Object.keys(headers);
  return names.length === 0 ? "" : ` (headers: ${names.map((n) => `${n}: ***`).join(", ")})`;
}

export function summarizePlan(plan: Plan): string {
  const out: string[] = [];
  const budget = plan.budget.maxRequestsPerSecondPerChain;
  const host = plan.listen.host.includes(":") ? `[${plan.listen.host}]` : plan.listen.host;
  out.push(`config ${displayFile(plan.configFile)}: listen ${host}:${plan.listen.port}, log ${plan.log.level}`);
  out.push(`store ${displayFile(plan.store.path)} (raw ${plan.store.rawRetentionDays} d, minute rollups ${plan.store.minuteRollupRetentionDays} d, hour/day rollups ${plan.store.rollupRetentionDays} d)`);
  out.push(`targets: ${plan.targets.map((t) => `${t.name} ${t.redactedUrl}${headerNames(t.headers)}`).join(", ")}`);
  const soak = plan.soak;
  if (soak !== null) {
    out.push(
      `soak: every ${formatDuration(soak.pollIntervalMs)} (timeout ${formatDuration(soak.timeoutMs)}), window ${formatDuration(soak.windowMs)}, warm-up ${formatDuration(soak.warmupMs)}, ` +
        `judged from ${formatDuration(soak.minSpanMs)}; leak when the ${soak.confidence * 100}% lower bound > ${soak.minPercentPerHour} %/h; ` +
        `nodes: ${soak.targets.length === 0 ? "none (the daemon samples only itself)" : soak.targets.map((t) => `${t.target} (/api/metrics/${t.chain})`).join(", ")}`,
    );
  }
  const routes = plan.chains.reduce((n, c) => n + c.routes.length, 0);
  const total = plan.chains.reduce((n, c) => n + c.ratePerSecond, 0);
  out.push(
    `${plan.chains.length} chain(s), ${routes} route(s), ${plan.series.length} series, ${formatRate(total)} req/s in total (budget ${formatRate(budget)} req/s per chain)`,
  );
  for (const c of plan.chains) {
    out.push("");
    out.push(`${c.chain} (chain id ${c.chainId}, block time ${formatDuration(c.blockTimeMs)}) from ${displayFile(c.file)}`);
    out.push(`  targets: ${c.targets.join(", ")}`);
    out.push(`  slo: available >= ${c.slo.successRatio * 100}%, p95 <= ${c.slo.p95LatencyMs} ms, head lag <= ${c.slo.maxHeadLagBlocks} blocks for >= ${c.slo.headFreshRatio * 100}%, ` +
      `correct >= ${c.slo.correctnessRatio * 100}%, consistent >= ${c.slo.consistencyRatio * 100}%` +
      (c.slo.maxDeliveryDelayMs === null ? "" : `, delivery delay p95 <= ${formatDuration(c.slo.maxDeliveryDelayMs)}`));
    out.push(`  routes:`);
    for (const r of c.routes) out.push(`    ${r.name.padEnd(24)} ${r.path}${r.transport === "any" ? "" : `?transport=${r.transport}`}`);
    out.push(`  probes:`);
    const groups = new Map<string, typeof c.series>();
    for (const s of c.series) {
      const list = groups.get(s.method) ?? [];
      list.push(s);
      groups.set(s.method, list);
    }
    for (const [method, list] of groups) {
      const first = list[0];
      if (first === undefined) continue;
      const routeNames = [...new Set(list.map((s) => s.route))];
      const asserts = first.assertions.length > 0 ? ` [${first.assertions.map(assertionText).join(", ")}]` : "";
      out.push(
        `    ${method} every ${formatDuration(first.intervalMs)} (timeout ${formatDuration(first.timeoutMs)}) on ${routeNames.join(", ")}: ${list.length} series${asserts}`,
      );
    }
    if (c.consistency !== null)
      out.push(`  consistency: every ${formatDuration(c.consistency.intervalMs)}, block head-${c.consistency.depth} across ${c.consistency.routes.join(", ")}`);
    if (c.watch !== null) {
      const w = c.watch;
      out.push(
        `  watchers (HTTP via ${w.httpRoute}: eth_blockNumber every ${formatDuration(w.headPollIntervalMs)}, ${formatRate(w.confirmationsPerMinute)} confirmations/min; ${formatRate(w.requestsPerSecondPerTarget)} req/s per target):`,
      );
      const width = Math.max(24, ...c.watchers.map((x) => x.name.length));
      for (const x of c.watchers) {
        const how =
          x.subscription === "logs"
            ? `eth_getLogs every ${formatDuration(w.logsCheckIntervalMs)} ${w.logsConfirmBlocks} blocks deep; filter ${JSON.stringify(x.filter)}`
            : `stall after ${x.stallBlockTimes} block times`;
        out.push(`    ${x.name.padEnd(width)} ${x.wsPath} (${how})`);
      }
    }
    if (c.chaos.length > 0) {
      out.push(`  chaos windows (one at a time; experiment ${c.chaos[0]?.profile ?? "canary"} profile vs control public profile):`);
      for (const w of c.chaos) {
        const what = w.kind === "failover_storm" ? `failover storm every ${formatDuration(w.stormEveryMs ?? 0)}` : `${w.fault.kind} on ${w.provider}, expect ${w.expect}`;
        out.push(
          `    ${w.name}: "${w.schedule}" for ${formatDuration(w.durationMs)}, ${what}, profile ${w.profile} via ${w.target}; ` +
            `probes every ${formatDuration(w.probeIntervalMs)}, abort below ${w.abortFloor * 100}% over ${formatDuration(w.abortWindowMs)}, ` +
            `precondition ${formatDuration(w.preconditionMs)}; slo success >= ${w.slo.minClientSuccess * 100}%, failover <= ${formatDuration(w.slo.maxFailoverMs)}, recovery <= ${formatDuration(w.slo.maxRecoveryMs)}`,
        );
      }
    }
    out.push(`  rate: ${formatRate(c.ratePerSecond)} req/s (${Math.round((c.ratePerSecond / budget) * 100)}% of budget)`);
    const load = upstreamLoad(c);
    const perDay = (r: number): string => `${Math.round(r * 86_400).toLocaleString("en-US")}/day`;
    out.push(`  upstream: ${formatRate(load.strategies)} req/s through strategies (${perDay(load.strategies)}, Lasso picks the provider), ${formatRate(load.lassoOnly)} req/s answered by Lasso`);
    for (const [route, r] of load.pins) out.push(`    ${route.padEnd(24)} ${formatRate(r)} req/s (${perDay(r)}) on that provider's quota`);
  }
  if (plan.warnings.length > 0) {
    out.push("");
    out.push(`warnings:`);
    for (const w of plan.warnings) out.push(`  ${formatIssue(w)}`);
  }
  return out.join("\n");
}
