/**
 * Chaos windows of one chain (checks `chaos:`): the rules that need the chain's routes,
 * probes and targets, the WindowSpec expansion and what the windows add to the chain's rate.
 */
import { didYouMean, type PathSegment } from "./errors.js";
import { formatDuration, type ParsedWindow } from "./schema.js";
import type { PlanIssue, Route, WindowSpec } from "./types.js";
import type { YamlSource } from "./yamlfile.js";

export interface ChaosInput {
  chain: string;
  /** null: an entry is invalid (already reported). */
  windows: (ParsedWindow | null)[];
  routes: Route[];
  /** Routes at least one probe of the chain runs on (the precondition reads their recent answers). */
  probedRoutes: Route[];
  targets: string[];
}

export interface ChaosBuild {
  windows: WindowSpec[];
  /** Requests per second the busiest window adds while it runs (experiment + control). */
  ratePerSecond: number;
  breakdown: string | null;
}

/** Experiment and control probe once each per interval, through one target. */
export function windowRatePerSecond(w: Pick<WindowSpec, "probeIntervalMs">): number {
  return (2 * 1000) / w.probeIntervalMs;
}

export function buildChaos(input: ChaosInput, err: (at: PathSegment[], message: string) => void, warn: (at: PathSegment[], message: string) => void): ChaosBuild {
  const { chain, routes } = input;
  const pinned = routes.filter((r) => r.kind === "pin");
  const known = [...new Set(pinned.map((r) => r.provider))];
  const windows: WindowSpec[] = [];
  const names = new Map<string, number>();
  input.windows.forEach((w, i) => {
    if (w === null) return;
    const at = (...rest: PathSegment[]): PathSegment[] => ["chaos", i, ...rest];
    const prev = names.get(w.name);
    if (prev !== undefined) err(at("name"), `window "${w.name}" is already defined by chaos[${prev}]; window names are metric labels and must be unique`);
    else names.set(w.name, i);

    if (!known.includes(w.provider)) {
      err(at("provider"), `provider "${w.provider}" is not named by any route of ${chain}${didYouMean(w.provider, known)}; add a pin such as { provider: ${w.provider}, profile: ${w.profile} } to routes` +
        (known.length > 0 ? ` (pinned providers: ${known.join(", ")})` : ""));
    } else if (!pinned.some((r) => r.provider === w.provider && r.profile === w.profile)) {
      warn(at("provider"), `no route pins ${w.provider} in profile ${w.profile}: add { provider: ${w.provider}, profile: ${w.profile} } so the plan check confirms the ${w.profile} profile knows it`);
    }

    const target = w.target ?? input.targets[0];
    if (target === undefined) return;
    if (!input.targets.includes(target)) {
      err(at("target"), `unknown target "${target}"${didYouMean(target, input.targets)}; ${chain} is probed through: ${input.targets.join(", ")}`);
      return;
    }

    // The precondition judges the recent answers of the chain's own probes on both sides.
    if (!input.probedRoutes.some((r) => r.profile === w.profile))
      err(at("profile"), `the precondition needs recent answers from the ${w.profile} profile: probe at least one route with profile: ${w.profile} on ${chain}`);
    if (!input.probedRoutes.some((r) => r.profile === undefined))
      err(at(), `the precondition needs recent answers from the public profile (the control): probe at least one route without a profile on ${chain}`);

    windows.push({
      name: w.name,
      chain,
      provider: w.provider,
      profile: w.profile,
      target,
      kind: w.kind,
      fault: w.fault,
      schedule: w.schedule,
      durationMs: w.durationMs,
      expect: w.expect,
      probeIntervalMs: w.probeIntervalMs,
      stormEveryMs: w.stormEveryMs,
      slo: w.slo,
      abortFloor: w.abortFloor,
      abortWindowMs: w.abortWindowMs,
      preconditionMs: w.preconditionMs,
      silence: w.silence,
    });
  });
  const busiest = windows.reduce<WindowSpec | null>((a, w) => (a === null || windowRatePerSecond(w) > windowRatePerSecond(a) ? w : a), null);
  if (busiest === null) return { windows, ratePerSecond: 0, breakdown: null };
  const rate = windowRatePerSecond(busiest);
  return {
    windows,
    ratePerSecond: rate,
    breakdown: `chaos (one window at a time, the busiest: ${busiest.name}): experiment + control every ${formatDuration(busiest.probeIntervalMs)} = ${Math.round(rate * 1000) / 1000}`,
  };
}

/** Window names are unique across the whole plan (a metric label, an API handle). */
export function chaosNameIssues(chains: Array<{ src: YamlSource; chaos: (ParsedWindow | null)[] | undefined | null }>): PlanIssue[] {
  const issues: PlanIssue[] = [];
  const first = new Map<string, string>();
  for (const c of chains) {
    const seenHere = new Set<string>();
    (c.chaos ?? []).forEach((w, i) => {
      if (w === null || seenHere.has(w.name)) return;
      seenHere.add(w.name);
      const prev = first.get(w.name);
      if (prev !== undefined) issues.push(c.src.issue(["chaos", i, "name"], `window "${w.name}" is already defined in ${prev}; window names are unique across the plan`));
      else {
        const line = c.src.lineOf(["chaos", i, "name"]);
        first.set(w.name, `${c.src.file}${line === undefined ? "" : ` line ${line}`}`);
      }
    });
  }
  return issues;
}
