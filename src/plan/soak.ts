/**
 * The config's `soak:` section against the rest of the plan: soaked targets must be config
 * targets, each gets a chain for `/api/metrics/:chain` (by default the first chain planned for
 * it), and its polls count toward that chain's request budget.
 */
import { formatRate } from "./build.js";
import { didYouMean, type PathSegment } from "./errors.js";
import { SOAK_METRICS } from "../soak/metricNames.js";
import { formatDuration, SOAK_DEFAULTS, type ParsedSoak } from "./schema.js";
import type { ChainPlan, PlanIssue, SoakMetric, SoakPlan, SoakTarget } from "./types.js";

/** Each poll of a node asks /api/metrics/:chain and /api/health. */
export const SOAK_REQUESTS_PER_POLL = 2;

export interface SoakBuild {
  plan: SoakPlan | null;
  /** chain -> what the soak polls add to its rate, and the budget message's line. */
  rates: Map<string, { ratePerSecond: number; breakdown: string }>;
}

/** `issue(at, message)`: an issue at `soak.<at>` in the config file. */
export function buildSoak(
  parsed: ParsedSoak | undefined, targetNames: readonly string[], chains: readonly ChainPlan[], issue: (at: PathSegment[], message: string) => PlanIssue,
): { build: SoakBuild; issues: PlanIssue[] } {
  const issues: PlanIssue[] = [];
  const build: SoakBuild = { plan: null, rates: new Map() };
  if (parsed === undefined || !parsed.enabled) return { build, issues };
  const targets: SoakTarget[] = [];
  const seen = new Map<string, number>();
  parsed.targets.forEach((entry, i) => {
    const name = typeof entry === "string" ? entry : entry.name;
    const at = (...rest: PathSegment[]): PathSegment[] => ["soak", "targets", i, ...rest];
    const prev = seen.get(name);
    if (prev !== undefined) {
      issues.push(issue(at(), `target "${name}" is listed twice (same as soak.targets[${prev}])`));
      return;
    }
    seen.set(name, i);
    if (!targetNames.includes(name)) {
      issues.push(issue(at(), `unknown target "${name}"${didYouMean(name, targetNames)}; targets: ${targetNames.join(", ")}`));
      return;
    }
    const wanted = typeof entry === "string" ? undefined : entry.chain;
    if (wanted !== undefined) {
      if (!chains.some((c) => c.chain === wanted)) {
        issues.push(issue(at("chain"), `chain "${wanted}" is not in the checks${didYouMean(wanted, chains.map((c) => c.chain))}; its budget carries the polls, so it must be a planned chain`));
        return;
      }
      targets.push({ target: name, chain: wanted });
      return;
    }
    const first = chains.find((c) => c.targets.includes(name));
    if (first === undefined) {
      issues.push(issue(at(), `no chain is planned for target "${name}": give one, e.g. { name: ${name}, chain: ${chains[0]?.chain ?? "ethereum"} }`));
      return;
    }
    targets.push({ target: name, chain: first.chain });
  });
  const pollIntervalMs = parsed.pollInterval;
  const minAbsPerHour = Object.fromEntries(SOAK_METRICS.map((m) => [m, parsed.minAbsPerHour[m] ?? SOAK_DEFAULTS.minAbsPerHour])) as Record<SoakMetric, number>;
  build.plan = {
    pollIntervalMs,
    timeoutMs: parsed.timeout ?? Math.min(SOAK_DEFAULTS.maxTimeoutMs, Math.floor(pollIntervalMs / 2)),
    windowMs: parsed.window,
    warmupMs: parsed.warmup,
    minSpanMs: parsed.minSpan,
    confidence: parsed.confidence,
    minPercentPerHour: parsed.minPercentPerHour,
    minAbsPerHour,
    restartDropRatio: parsed.restartDropRatio,
    targets,
  };
  for (const chain of new Set(targets.map((t) => t.chain))) {
    const names = targets.filter((t) => t.chain === chain).map((t) => t.target);
    const ratePerSecond = (names.length * SOAK_REQUESTS_PER_POLL * 1000) / pollIntervalMs;
    build.rates.set(chain, {
      ratePerSecond,
      breakdown: `soak: ${names.length} node(s) (${names.join(", ")}) x ${SOAK_REQUESTS_PER_POLL} requests (/api/metrics, /api/health) every ${formatDuration(pollIntervalMs)} = ${formatRate(ratePerSecond)}`,
    });
  }
  return { build, issues };
}

/** The chain with the soak polls it carries added to its rate. */
export function withSoakRate(chain: ChainPlan, build: SoakBuild): ChainPlan {
  const extra = build.rates.get(chain.chain);
  if (extra === undefined) return chain;
  return { ...chain, ratePerSecond: Math.round((chain.ratePerSecond + extra.ratePerSecond) * 1e6) / 1e6 };
}
