/**
 * Where a chain's planned requests land, for quota and capacity planning. The budget counts
 * requests sent to Lasso; upstream providers see them differently:
 * - a pin reaches exactly its provider and never fails over: that provider's quota pays
 *   every request, from every target and every canary;
 * - a strategy route reaches one provider Lasso picks (more attempts when upstreams fail);
 * - eth_chainId on a strategy route is answered by Lasso itself and reaches no provider.
 */
import type { ChainPlan } from "./types.js";

export interface UpstreamLoad {
  /** Requests per second per pinned route name ("pin:alchemy", "canary/pin:alchemy"), all targets. */
  pins: Map<string, number>;
  /** Requests per second through strategy routes, spread by Lasso over the chain's providers. */
  strategies: number;
  /** Requests per second Lasso answers without an upstream. */
  lassoOnly: number;
  /** Long-lived WebSocket subscriptions (watchers x targets); a pinned one holds that provider's stream. */
  subscriptions: number;
}

export function upstreamLoad(chain: ChainPlan): UpstreamLoad {
  const load: UpstreamLoad = { pins: new Map(), strategies: 0, lassoOnly: 0, subscriptions: chain.watchers.length * chain.targets.length };
  const kind = new Map(chain.routes.map((r) => [r.name, r.kind]));
  const add = (route: string, perSecond: number, answeredByLasso = false): void => {
    if (kind.get(route) === "pin") load.pins.set(route, (load.pins.get(route) ?? 0) + perSecond);
    else if (answeredByLasso) load.lassoOnly += perSecond;
    else load.strategies += perSecond;
  };
  for (const s of chain.series) add(s.route, 1000 / s.intervalMs, s.method === "eth_chainId");
  const targets = chain.targets.length;
  if (chain.consistency !== null) for (const r of chain.consistency.routes) add(r, (targets * 1000) / chain.consistency.intervalMs);
  if (chain.watch !== null) add(chain.watch.httpRoute, targets * chain.watch.requestsPerSecondPerTarget);
  return load;
}
