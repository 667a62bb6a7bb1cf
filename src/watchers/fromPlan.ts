import { routeUrl } from "../lasso/urls.js";
import type { Plan, Target, Transport } from "../plan/index.js";
import type { WatchGroupSpec } from "./types.js";

/** Target base URL + a /ws/rpc/... path, with the scheme moved to ws(s). */
export function watchWsUrl(targetUrl: string, wsPath: string): string {
  return routeUrl(targetUrl, wsPath, { websocket: true });
}

/** Target base URL + the watch HTTP route's path (no routing metadata: watchers do not use it). */
export function watchHttpUrl(targetUrl: string, path: string, transport: Transport = "any"): string {
  return routeUrl(targetUrl, path, { transport });
}

/** Every watcher of the groups, as the report lists them (report/types.ts PlannedWatcher). */
export function plannedWatchers(groups: readonly WatchGroupSpec[]): Array<{ target: string; chain: string; watcher: string; route: string; subscription: "newHeads" | "logs" }> {
  return groups.flatMap((g) => g.watchers.map((w) => ({ target: g.target, chain: g.chain, watcher: w.name, route: w.route, subscription: w.subscription })));
}

/** One group per (chain, target) of every chain that has watchers. */
export function watchGroupSpecs(plan: Plan): WatchGroupSpec[] {
  const targets = new Map<string, Target>(plan.targets.map((t) => [t.name, t]));
  return plan.chains.flatMap((chain) => {
    const w = chain.watch;
    if (w === null || chain.watchers.length === 0) return [];
    return chain.targets.map((name): WatchGroupSpec => {
      const target = targets.get(name);
      if (!target) throw new Error(`chain ${chain.chain} names unknown target ${name}`);
      return {
        target: name,
        chain: chain.chain,
        blockTimeMs: chain.blockTimeMs,
        httpUrl: watchHttpUrl(target.url, w.httpPath, w.httpTransport),
        headers: target.headers,
        httpRoute: w.httpRoute,
        headPollIntervalMs: w.headPollIntervalMs,
        logsCheckIntervalMs: w.logsCheckIntervalMs,
        logsConfirmBlocks: w.logsConfirmBlocks,
        confirmationsPerMinute: w.confirmationsPerMinute,
        reconnectInitialMs: w.reconnectInitialMs,
        reconnectMaxMs: w.reconnectMaxMs,
        watchers: chain.watchers.map((s) => ({
          name: s.name,
          route: s.route,
          subscription: s.subscription,
          wsUrl: watchWsUrl(target.url, s.wsPath),
          filter: s.filter,
          stallBlockTimes: s.stallBlockTimes,
        })),
      };
    });
  });
}
