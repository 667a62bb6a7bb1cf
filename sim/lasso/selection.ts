/** Provider selection: filtering (open circuit, lag) and ordering per strategy. */
import type { ChainRuntime, ProviderRuntime } from "./providerPool.js";
import type { Strategy } from "./routes.js";

export interface SelectionInput {
  chain: ChainRuntime;
  strategy: Strategy;
  /** Defect: prefer the most lagging provider instead of excluding laggards. */
  staleRouting: boolean;
  random?: () => number;
}

/** Eligible providers in the order they should be tried. */
export function selectCandidates(input: SelectionInput): ProviderRuntime[] {
  const { chain } = input;
  const open = chain.providers.filter((p) => p.instance.breaker.allows());
  if (input.staleRouting) {
    // Regression: laggards are not excluded and the most lagging one is preferred.
    return [...open].sort((a, b) => (chain.lagOf(b) ?? 0) - (chain.lagOf(a) ?? 0) || a.priority - b.priority);
  }
  const eligible = open.filter((p) => !chain.isLagging(p));
  switch (input.strategy) {
    case "load_balanced":
      return rotate(eligible, chain.rr++);
    case "fastest":
      return [...eligible].sort((a, b) => (a.instance.latencyEwmaMs ?? 0) - (b.instance.latencyEwmaMs ?? 0) || a.priority - b.priority);
    case "latency_weighted":
      return weightedOrder(eligible, input.random ?? Math.random);
  }
}

function rotate<T>(xs: T[], cursor: number): T[] {
  if (xs.length === 0) return [];
  const start = cursor % xs.length;
  return [...xs.slice(start), ...xs.slice(0, start)];
}

/** Random order, each draw weighted by inverse latency (unmeasured providers get the best weight). */
function weightedOrder(xs: ProviderRuntime[], random: () => number): ProviderRuntime[] {
  const pool = xs.map((p) => ({ p, w: 1 / Math.max(1, p.instance.latencyEwmaMs ?? 1) }));
  const out: ProviderRuntime[] = [];
  while (pool.length > 0) {
    const total = pool.reduce((s, x) => s + x.w, 0);
    let r = random() * total;
    let idx = pool.length - 1;
    for (let i = 0; i < pool.length; i++) {
      const item = pool[i];
      if (!item) continue;
      r -= item.w;
      if (r <= 0) {
        idx = i;
        break;
      }
    }
    const [picked] = pool.splice(idx, 1);
    if (picked) out.push(picked.p);
  }
  return out;
}
