/**
 * Rules that span objects or files (route references, assertion applicability, unique
 * names, targets, budget), series expansion and the request-rate computation.
 */
import { buildChaos, type ChaosBuild } from "./chaos.js";
import { displayFile, didYouMean, type PathSegment } from "./errors.js";
import type { z } from "zod";
import {
  chainFields,
  chaosWindowSchema,
  consistencySchema,
  formatDuration,
  probeSchema,
  routeSchema,
  watcherSchema,
  watchOptionsSchema,
  type ParsedAssertion,
  type ParsedChain,
  type ParsedConsistency,
  type ParsedProbe,
  type ParsedRoute,
  type ParsedWatcher,
  type ParsedWatchOptions,
  type ParsedWindow,
  type RouteSelector,
} from "./schema.js";
import type { Assertion, ChainPlan, ConsistencyPlan, PlanIssue, ProbeSeries, Route, Shape, Slo, WatcherSpec, WatchPlan } from "./types.js";
import type { YamlSource } from "./yamlfile.js";
import { DEFAULT_SLO } from "../report/types.js";

/**
 * DESIGN.md: the served head must be within max(2 blocks, 2 block times) of the consensus.
 * Expressed in blocks, 2 block times is 2 blocks, so the default is 2 whatever the block time.
 */
export const DEFAULT_MAX_HEAD_LAG_BLOCKS = DEFAULT_SLO.maxHeadLagBlocks;

/** Block timestamps have 1 s resolution, so a measured delivery delay carries up to 1 s of rounding. */
const BLOCK_TIMESTAMP_RESOLUTION_MS = 1000;

/** Route name: "fastest", "pin:alchemy", and with a profile "canary/fastest", "canary/pin:alchemy". */
export function routeName(r: { strategy?: string | undefined; provider?: string | undefined; profile?: string | undefined }): string {
  const base = r.provider !== undefined ? `pin:${r.provider}` : (r.strategy ?? "default");
  return r.profile !== undefined ? `${r.profile}/${base}` : base;
}

/** URL path per docs/lasso-contract.md: /rpc/:chain, /rpc/:strategy/:chain, /rpc/provider/:id/:chain, under /rpc/profile/:profile/... */
export function routePath(r: { strategy?: string | undefined; provider?: string | undefined; profile?: string | undefined }, chain: string): string {
  const prefix = r.profile !== undefined ? `/rpc/profile/${encodeURIComponent(r.profile)}` : "/rpc";
  const c = encodeURIComponent(chain);
  if (r.provider !== undefined) return `${prefix}/provider/${encodeURIComponent(r.provider)}/${c}`;
  if (r.strategy === undefined || r.strategy === "default") return `${prefix}/${c}`;
  return `${prefix}/${r.strategy}/${c}`;
}

function toRoute(r: ParsedRoute, chain: string): Route {
  const transport = r.transport ?? (r.provider !== undefined ? "http" : "any");
  const common = { name: routeName(r), path: routePath(r, chain), transport, ...(r.profile !== undefined ? { profile: r.profile } : {}) };
  if (r.provider !== undefined) return { ...common, kind: "pin", provider: r.provider };
  return { ...common, kind: "strategy", strategy: r.strategy ?? "default" };
}

/** Result shapes of well-known methods, to catch an assertion that can never pass. */
const METHOD_SHAPES: Record<string, Shape> = {
  eth_blockNumber: "quantity",
  eth_chainId: "quantity",
  eth_gasPrice: "quantity",
  eth_maxPriorityFeePerGas: "quantity",
  eth_getBalance: "quantity",
  eth_getTransactionCount: "quantity",
  eth_estimateGas: "quantity",
  eth_getBlockByNumber: "block",
  eth_getBlockByHash: "block",
  eth_getLogs: "array",
  eth_feeHistory: "object",
  net_version: "any",
};

/** A method whose answer carries the served head. */
function carriesHead(p: ParsedProbe): boolean {
  return p.method === "eth_blockNumber" || (p.method === "eth_getBlockByNumber" && p.params[0] === "latest");
}

export function formatRate(r: number): string {
  return String(Math.round(r * 1000) / 1000);
}

/**
 * A checks document split into its parts, each parsed on its own: cross-object rules run
 * on whatever is valid, so one run reports e.g. both a typo'd key and an unknown route.
 * `full` is set only when the whole document is valid; only then is it expanded.
 */
export interface ChainInput {
  src: YamlSource;
  full: ParsedChain | null;
  chain: string | undefined;
  /** Explicit, or implied by a numeric chain. */
  chainId: number | undefined;
  /** undefined: not given (all targets); null: invalid. */
  targets: string[] | undefined | null;
  /** null: not a list; an entry is null when that route is invalid. */
  routes: (ParsedRoute | null)[] | null;
  probes: (ParsedProbe | null)[] | null;
  /** undefined: not given; null: invalid. */
  consistency: ParsedConsistency | undefined | null;
  maxHeadLagBlocks: number;
  /** undefined: not given; null: not a list; an entry is null when that watcher is invalid. */
  watchers: (ParsedWatcher | null)[] | undefined | null;
  /** null: invalid. */
  watch: ParsedWatchOptions | null;
  /** undefined: not given; null: not a list; an entry is null when that window is invalid. */
  chaos: (ParsedWindow | null)[] | undefined | null;
}

function parsePart<S extends z.ZodType>(schema: S, value: unknown): z.output<S> | null {
  const r = schema.safeParse(value);
  return r.success ? r.data : null;
}

export function chainInput(src: YamlSource, full: ParsedChain | null): ChainInput {
  const raw: Record<string, unknown> = src.value !== null && typeof src.value === "object" && !Array.isArray(src.value) ? (src.value as Record<string, unknown>) : {};
  const chain = full?.chain ?? parsePart(chainFields.chain, raw.chain) ?? undefined;
  const explicitId = full?.chainId ?? parsePart(chainFields.chainId, raw.chainId) ?? undefined;
  const chainId = chain !== undefined && /^\d+$/.test(chain) ? Number(chain) : explicitId;
  const list = <T>(v: unknown, parse: (x: unknown) => T | null): (T | null)[] | null => (Array.isArray(v) ? v.map(parse) : null);
  return {
    src,
    full,
    chain,
    chainId,
    targets: raw.targets === undefined ? undefined : parsePart(chainFields.targets, raw.targets),
    routes: full?.routes ?? list(raw.routes, (v) => parsePart(routeSchema, v)),
    probes: full?.probes ?? list(raw.probes, (v) => parsePart(probeSchema, v)),
    consistency: raw.consistency === undefined ? undefined : (full?.consistency ?? parsePart(consistencySchema, raw.consistency)),
    maxHeadLagBlocks: full?.slo.maxHeadLagBlocks ?? parsePart(chainFields.slo, raw.slo)?.maxHeadLagBlocks ?? DEFAULT_MAX_HEAD_LAG_BLOCKS,
    watchers: raw.watchers === undefined ? undefined : (full?.watchers ?? list(raw.watchers, (v) => parsePart(watcherSchema, v))),
    watch: full?.watch ?? parsePart(watchOptionsSchema, raw.watch),
    chaos: raw.chaos === undefined ? undefined : (full?.chaos ?? list(raw.chaos, (v) => parsePart(chaosWindowSchema, v))),
  };
}

export interface ConfigTargets {
  names: string[];
  file: string;
  /** False when the config itself is invalid: names are checked, nothing is expanded. */
  complete: boolean;
}

export interface ChainResult {
  plan: ChainPlan | null;
  issues: PlanIssue[];
  warnings: PlanIssue[];
  /** Per-contributor rate explanation, for the budget message. */
  breakdown: string[];
}

/** Validate one chain against itself and the config's targets; expand it when everything is valid. */
export function buildChain(input: ChainInput, targets: ConfigTargets | null): ChainResult {
  const { src } = input;
  const chainLabel = input.chain ?? "this chain";
  const issues: PlanIssue[] = [];
  const warnings: PlanIssue[] = [];
  const err = (at: PathSegment[], message: string): void => void issues.push(src.issue(at, message));
  const warn = (at: PathSegment[], message: string): void => void warnings.push(src.issue(at, message));

  // targets
  let chainTargets: string[] = targets?.names ?? [];
  if (input.targets) {
    const seen = new Set<string>();
    input.targets.forEach((t, i) => {
      if (seen.has(t)) err(["targets", i], `target "${t}" is listed twice`);
      seen.add(t);
      if (targets !== null && !targets.names.includes(t))
        err(["targets", i], `unknown target "${t}"${didYouMean(t, targets.names)}; targets in ${targets.file}: ${targets.names.join(", ")}`);
    });
    chainTargets = [...seen];
  }

  // routes: rules that need the whole route list run only when every route is valid,
  // so a broken route does not also show up as "unknown route" everywhere it is used
  const parsedRoutes = input.routes ?? [];
  const routesComplete = input.routes !== null && parsedRoutes.every((r) => r !== null);
  const routes: Route[] = [];
  const firstByName = new Map<string, number>();
  parsedRoutes.forEach((pr, j) => {
    if (pr === null) return;
    const r = toRoute(pr, input.chain ?? "");
    const prev = firstByName.get(r.name);
    if (prev !== undefined) err(["routes", j], `duplicate route "${r.name}" (same as routes[${prev}]); each route may appear once per chain`);
    else firstByName.set(r.name, j);
    routes.push(r);
  });
  const routeNames = routes.map((r) => r.name);
  const pins = routes.filter((r) => r.kind === "pin");
  const strategies = routes.filter((r) => r.kind === "strategy");
  const probes = input.probes ?? [];

  // route selection per probe (null: unknown because routes are incomplete)
  const selected: (Route[] | null)[] = probes.map((p, i) => {
    if (p === null) return null;
    if (!routesComplete) return null;
    if (p.routes === "all") return routes;
    if (p.routes === "pinned" || p.routes === "strategies") {
      const sel = p.routes === "pinned" ? pins : strategies;
      if (sel.length === 0)
        err(["probes", i, "routes"], p.routes === "pinned" ? `"pinned" selects no route: this chain has no { provider: ... } route` : `"strategies" selects no route: this chain has no { strategy: ... } route`);
      return sel;
    }
    const out: Route[] = [];
    p.routes.forEach((name, k) => {
      const r = routes.find((x) => x.name === name);
      if (r === undefined) err(["probes", i, "routes", k], `unknown route "${name}"${didYouMean(name, routeNames)}; routes of ${chainLabel}: ${routeNames.join(", ")}`);
      else if (out.includes(r)) err(["probes", i, "routes", k], `route "${name}" is listed twice`);
      else out.push(r);
    });
    return out;
  });

  // Known when routes and probes are complete; otherwise freshness's precondition is not judged.
  const probesComplete = input.probes !== null && probes.every((p) => p !== null);
  const hasPinnedHead = probes.some((p, i) => p?.method === "eth_blockNumber" && (selected[i] ?? []).some((r) => r.kind === "pin"));
  const pinnedHeadKnown = routesComplete && probesComplete;

  // assertions
  probes.forEach((p, i) => {
    if (p === null) return;
    const sel = selected[i];
    const seen: ParsedAssertion[] = [];
    p.assert.forEach((a, k) => {
      const at: PathSegment[] = ["probes", i, "assert", k];
      if (seen.some((x) => x.kind === a.kind)) {
        err(at, a.kind === "shape" ? "only one shape assertion per probe" : `"${a.kind}" is listed twice`);
        return;
      }
      seen.push(a);
      switch (a.kind) {
        case "chainId": {
          if (p.method !== "eth_chainId") err(at, `chainId compares the result of eth_chainId with ${input.chainId ?? "chainId"}; this probe calls ${p.method}`);
          const unpinned = (sel ?? []).filter((r) => r.kind !== "pin").map((r) => r.name);
          if (unpinned.length > 0)
            err(at, `chainId is only meaningful on pinned routes: Lasso answers eth_chainId itself on ${unpinned.join(", ")}; use routes: pinned`);
          break;
        }
        case "shape": {
          const expected = METHOD_SHAPES[p.method];
          if (expected !== undefined && a.shape !== "any" && expected !== "any" && a.shape !== expected)
            err(at, `${p.method} returns ${expected === "array" || expected === "object" ? "an" : "a"} ${expected}, so "shape: ${a.shape}" can never pass`);
          break;
        }
        case "monotonicHead":
        case "freshness":
          if (!carriesHead(p)) err(at, `${a.kind} needs a head: use it on eth_blockNumber or eth_getBlockByNumber with params ["latest", ...]`);
          if (a.kind === "freshness" && pinnedHeadKnown && !hasPinnedHead)
            err(at, `freshness compares with the pinned providers' consensus head: add an eth_blockNumber probe on at least one pinned route ({ provider: ... }) of ${chainLabel}`);
          break;
      }
    });
  });

  // a (route, method) pair is one series per target: probe it once
  const owner = new Map<string, number>();
  probes.forEach((p, i) => {
    if (p === null) return;
    for (const r of selected[i] ?? []) {
      const key = `${r.name}|${p.method}`;
      const prev = owner.get(key);
      if (prev === undefined) owner.set(key, i);
      else if (prev !== i) {
        err(["probes", i, "method"], `${p.method} is already probed on route "${r.name}" by probes[${prev}]; probe each (route, method) once`);
        break;
      }
    }
  });

  // consistency
  // Compared: the public-profile pins (a profile such as "canary" may be fault-injected, and
  // the samples key hashes by provider id, so one route per provider).
  let consistency: ConsistencyPlan | null = null;
  if (input.consistency && routesComplete) {
    const publicPins = pins.filter((r) => r.profile === undefined);
    if (publicPins.length < 2) {
      err(
        ["consistency"],
        `needs at least two pinned routes without a profile ({ provider: ... }) to compare block hashes; ${chainLabel} has ${publicPins.length}${publicPins.length > 0 ? ` (${publicPins.map((r) => r.name).join(", ")})` : ""}`,
      );
    } else if (pinnedHeadKnown && !hasPinnedHead) {
      err(["consistency"], `needs the pinned providers' consensus head to pick block (head - depth): add an eth_blockNumber probe on the pinned routes of ${chainLabel}`);
    } else {
      consistency = { ...input.consistency, routes: publicPins.map((r) => r.name), requestsPerRound: publicPins.length };
      if (input.consistency.depth <= input.maxHeadLagBlocks)
        warn(["consistency", "depth"], `depth ${input.consistency.depth} is not deeper than slo.maxHeadLagBlocks (${input.maxHeadLagBlocks}): a provider lagging within its objective may not have the block yet`);
    }
  }

  // watchers: route references, unique names, the HTTP route
  const watcherSelections = selectWatcherRoutes(input, routes, routesComplete, err);
  const watchOpts = input.watch;
  const rawDoc = input.src.value;
  if ((input.watchers === undefined || input.watchers?.length === 0) && rawDoc !== null && typeof rawDoc === "object" && "watch" in rawDoc)
    warn(["watch"], "has no effect: this chain has no watchers");
  const delayObjective = input.full?.slo.maxDeliveryDelay;
  if (delayObjective !== undefined) {
    if (input.watchers === undefined || input.watchers?.length === 0)
      warn(["slo", "maxDeliveryDelay"], "has no effect: this chain has no watchers");
    else if (delayObjective <= BLOCK_TIMESTAMP_RESOLUTION_MS)
      warn(["slo", "maxDeliveryDelay"], `${formatDuration(delayObjective)} is within the 1 s resolution of block timestamps: on-time blocks can measure up to 1 s late and fail it`);
  }
  if (input.full?.slo.consistencyRatio !== undefined && input.consistency === undefined)
    warn(["slo", "consistencyRatio"], "has no effect: this chain has no consistency checks");
  let httpRoute: Route | undefined;
  if (watchOpts !== null && routesComplete) {
    if (watchOpts.httpRoute !== undefined) {
      httpRoute = routes.find((r) => r.name === watchOpts.httpRoute);
      if (httpRoute === undefined) err(["watch", "httpRoute"], `unknown route "${watchOpts.httpRoute}"${didYouMean(watchOpts.httpRoute, routeNames)}; routes of ${chainLabel}: ${routeNames.join(", ")}`);
    } else {
      // A strategy route of the public profile fails over, so a head poll through it sees the chain, not one provider.
      httpRoute = routes.find((r) => r.kind === "strategy" && r.profile === undefined) ?? routes.find((r) => r.profile === undefined) ?? routes[0];
    }
  }

  let chaos: ChaosBuild = { windows: [], ratePerSecond: 0, breakdown: null };
  if (Array.isArray(input.chaos) && routesComplete && input.chain !== undefined) {
    const probedRoutes = [...new Set(selected.flatMap((sel) => sel ?? []))];
    chaos = buildChaos({ chain: input.chain, windows: input.chaos, routes, probedRoutes, targets: chainTargets }, err, warn);
  }

  const c = input.full;
  if (c === null || issues.length > 0 || targets === null || !targets.complete) return { plan: null, issues, warnings, breakdown: [] };
  const chainId = input.chainId ?? 0;
  const slo: Slo = {
    successRatio: c.slo.successRatio ?? DEFAULT_SLO.successRatio,
    p95LatencyMs: c.slo.p95LatencyMs ?? DEFAULT_SLO.p95LatencyMs,
    maxHeadLagBlocks: input.maxHeadLagBlocks,
    headFreshRatio: c.slo.headFreshRatio ?? DEFAULT_SLO.headFreshRatio,
    correctnessRatio: c.slo.correctnessRatio ?? DEFAULT_SLO.correctnessRatio,
    consistencyRatio: c.slo.consistencyRatio ?? DEFAULT_SLO.consistencyRatio,
    maxDeliveryDelayMs: c.slo.maxDeliveryDelay ?? null,
  };

  // expansion and rate
  const series: ProbeSeries[] = [];
  const breakdown: string[] = [];
  let rate = 0;
  c.probes.forEach((p, i) => {
    const sel = selected[i] ?? [];
    const assertions: Assertion[] = p.assert.map((a): Assertion => {
      switch (a.kind) {
        case "chainId":
          return { kind: "chainId", expected: chainId };
        case "freshness":
          return { kind: "freshness", maxHeadLagBlocks: slo.maxHeadLagBlocks };
        default:
          return a;
      }
    });
    for (const target of chainTargets) {
      for (const r of sel) {
        series.push({
          id: `${target}|${c.chain}|${r.name}|${p.method}`,
          target,
          chain: c.chain,
          route: r.name,
          routeKind: r.kind,
          provider: r.kind === "pin" ? r.provider : null,
          profile: r.profile ?? null,
          path: r.path,
          transport: r.transport,
          method: p.method,
          params: p.params,
          intervalMs: p.intervalMs,
          timeoutMs: p.timeoutMs,
          assertions,
        });
      }
    }
    const n = chainTargets.length * sel.length;
    const r = (n * 1000) / p.intervalMs;
    rate += r;
    breakdown.push(`probes[${i}] ${p.method}: ${n} series every ${formatDuration(p.intervalMs)} = ${formatRate(r)}`);
  });
  if (consistency !== null) {
    const r = (chainTargets.length * consistency.requestsPerRound * 1000) / consistency.intervalMs;
    rate += r;
    breakdown.push(`consistency: ${chainTargets.length} target(s) x ${consistency.requestsPerRound} requests every ${formatDuration(consistency.intervalMs)} = ${formatRate(r)}`);
  }

  let watch: WatchPlan | null = null;
  const watchers: WatcherSpec[] = [];
  if (c.watchers !== undefined && c.watchers.length > 0 && httpRoute !== undefined) {
    c.watchers.forEach((w, i) => {
      for (const r of watcherSelections[i] ?? []) watchers.push(toWatcherSpec(w, r, c.chain, c.watch.stallBlockTimes));
    });
    const headPollIntervalMs = c.watch.headPollInterval ?? c.blockTimeMs;
    const logsCheckIntervalMs = c.watch.logsCheckInterval ?? Math.max(5 * c.blockTimeMs, 5000);
    const logsWatchers = watchers.filter((w) => w.subscription === "logs").length;
    const perTarget = 1000 / headPollIntervalMs + (logsWatchers * 1000) / logsCheckIntervalMs + c.watch.confirmationsPerMinute / 60;
    watch = {
      httpRoute: httpRoute.name,
      httpPath: httpRoute.path,
      httpTransport: httpRoute.transport,
      headPollIntervalMs,
      logsCheckIntervalMs,
      logsConfirmBlocks: c.watch.logsConfirmBlocks,
      confirmationsPerMinute: c.watch.confirmationsPerMinute,
      reconnectInitialMs: c.watch.reconnect.initial,
      reconnectMaxMs: c.watch.reconnect.max,
      requestsPerSecondPerTarget: Math.round(perTarget * 1e6) / 1e6,
    };
    const r = chainTargets.length * perTarget;
    rate += r;
    breakdown.push(
      `watchers: ${chainTargets.length} target(s) x (eth_blockNumber every ${formatDuration(headPollIntervalMs)}` +
        `${logsWatchers > 0 ? ` + ${logsWatchers} eth_getLogs every ${formatDuration(logsCheckIntervalMs)}` : ""} + ${formatRate(c.watch.confirmationsPerMinute)} confirmations/min) = ${formatRate(r)}`,
    );
  }

  if (chaos.breakdown !== null) {
    rate += chaos.ratePerSecond;
    breakdown.push(chaos.breakdown);
  }

  return {
    plan: {
      chain: c.chain,
      chainId,
      blockTimeMs: c.blockTimeMs,
      targets: chainTargets,
      slo,
      routes,
      series,
      consistency,
      watchers,
      watch,
      chaos: chaos.windows,
      ratePerSecond: Math.round(rate * 1e6) / 1e6,
      file: src.abs,
    },
    issues,
    warnings,
    breakdown,
  };
}

/** WebSocket path of a route per docs/lasso-contract.md: the HTTP path under `/ws` (`/ws/rpc/...`). */
export function wsRoutePath(r: { strategy?: string | undefined; provider?: string | undefined; profile?: string | undefined }, chain: string): string {
  return `/ws${routePath(r, chain)}`;
}

function toWatcherSpec(w: ParsedWatcher, r: Route, chain: string, defaultStall: number): WatcherSpec {
  return {
    name: `${w.name ?? w.subscription}:${r.name}`,
    subscription: w.subscription,
    route: r.name,
    routeKind: r.kind,
    provider: r.kind === "pin" ? r.provider : null,
    profile: r.profile ?? null,
    wsPath: `/ws${r.path}`,
    filter: w.filter ?? null,
    stallBlockTimes: w.stallBlockTimes ?? defaultStall,
  };
}

/** Routes each watcher selects (null: unknown), with unknown/duplicate route and name errors. */
function selectWatcherRoutes(input: ChainInput, routes: Route[], routesComplete: boolean, err: (at: PathSegment[], message: string) => void): (Route[] | null)[] {
  const list = input.watchers ?? [];
  const routeNames = routes.map((r) => r.name);
  const chainLabel = input.chain ?? "this chain";
  const byName = new Map<string, number>();
  return list.map((w, i) => {
    if (w === null || !routesComplete) return null;
    const sel = selectRoutes(w.routes, routes, (k, message) => err(["watchers", i, "routes", ...(k === null ? [] : [k])], message), chainLabel, routeNames);
    for (const r of sel) {
      const name = `${w.name ?? w.subscription}:${r.name}`;
      const prev = byName.get(name);
      if (prev !== undefined) {
        err(["watchers", i], `watcher "${name}" is already defined by watchers[${prev}]; give one of them a name (name: transfers -> "transfers:${r.name}")`);
        break;
      }
      byName.set(name, i);
    }
    return sel;
  });
}

function selectRoutes(sel: RouteSelector, routes: Route[], err: (k: number | null, message: string) => void, chainLabel: string, routeNames: string[]): Route[] {
  if (sel === "all") return routes;
  if (sel === "pinned" || sel === "strategies") {
    const out = routes.filter((r) => (sel === "pinned" ? r.kind === "pin" : r.kind === "strategy"));
    if (out.length === 0) err(null, `"${sel}" selects no route: this chain has no ${sel === "pinned" ? "{ provider: ... }" : "{ strategy: ... }"} route`);
    return out;
  }
  const out: Route[] = [];
  sel.forEach((name, k) => {
    const r = routes.find((x) => x.name === name);
    if (r === undefined) err(k, `unknown route "${name}"${didYouMean(name, routeNames)}; routes of ${chainLabel}: ${routeNames.join(", ")}`);
    else if (out.includes(r)) err(k, `route "${name}" is listed twice`);
    else out.push(r);
  });
  return out;
}

/** Unique chain names and chain ids across all checks files. */
export function crossChainIssues(chains: ChainInput[]): PlanIssue[] {
  const issues: PlanIssue[] = [];
  const byName = new Map<string, ChainInput>();
  const byId = new Map<number, ChainInput>();
  const where = (x: ChainInput): string => {
    const line = x.src.lineOf(["chain"]);
    return `${x.src.file}${line === undefined ? "" : ` line ${line}`}`;
  };
  for (const x of chains) {
    if (x.chain === undefined) continue;
    const prev = byName.get(x.chain);
    if (prev !== undefined) {
      issues.push(x.src.issue(["chain"], `chain "${x.chain}" is already defined in ${where(prev)}; each chain is declared once`));
      continue;
    }
    byName.set(x.chain, x);
    if (x.chainId === undefined) continue;
    const prevId = byId.get(x.chainId);
    if (prevId !== undefined)
      issues.push(
        x.src.issue(/^\d+$/.test(x.chain) ? ["chain"] : ["chainId"], `chain id ${x.chainId} is already used by chain "${prevId.chain ?? "?"}" in ${where(prevId)}; a chain may be declared once (by name or by id)`),
      );
    else byId.set(x.chainId, x);
  }
  return issues;
}

export function budgetIssue(chain: ChainPlan, src: YamlSource, budget: number, configFile: string, breakdown: string[]): PlanIssue | null {
  if (chain.ratePerSecond <= budget + 1e-9) return null;
  return src.issue(
    ["probes"],
    `chain ${chain.chain} plans ${formatRate(chain.ratePerSecond)} req/s, over the budget of ${formatRate(budget)} req/s per chain (budget.maxRequestsPerSecondPerChain in ${displayFile(configFile)}); ` +
      `${breakdown.join("; ")}. Lengthen intervals, probe fewer routes or targets, or raise the budget`,
  );
}
