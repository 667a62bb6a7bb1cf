/** Channel selection: a channel is one provider over one transport; filtering and ordering per strategy. */
import type { ChainRuntime, ProviderRuntime, Transport } from "./providerPool.js";
import type { Strategy } from "./routes.js";

export interface Channel {
  provider: ProviderRuntime;
  transport: Transport;
}

/** `"id:http"` / `"id:ws"`, as in `candidate_providers`. */
export function channelLabel(c: Channel): string {
  return `${c.provider.id}:${c.transport}`;
}

export interface SelectionInput {
  chain: ChainRuntime;
  strategy: Strategy;
  /** Forced transport (`?transport=` / `X-Lasso-Transport`); null: both. */
  transport: Transport | null;
  /** Defect: prefer the most lagging provider instead of excluding laggards. */
  staleRouting: boolean;
  random?: () => number;
}

/**
 * A pinned provider's channels, http first (RequestPipeline.get_provider_channels/4): with no
 * forced transport a failed HTTP attempt falls back to the same provider's WS channel; a forced
 * transport the provider lacks leaves no channel at all. Open circuits are skipped later.
 */
export function pinnedChannels(p: ProviderRuntime, transport: Transport | null): Channel[] {
  return p.transports()
    .filter((t) => transport === null || t === transport)
    .map((t) => ({ provider: p, transport: t }));
}

/**
 * Eligible channels in the order they should be tried. A WS channel is a candidate only while
 * its upstream socket is connected (CandidateListing.live_transports/4). load_balanced is a
 * deterministic rotation over all channels where Lasso shuffles, so successive unforced
 * requests alternate between providers and between HTTP and WS.
 */
export function selectCandidates(input: SelectionInput): Channel[] {
  const { chain } = input;
  const channels: Channel[] = [];
  for (const p of chain.providers) {
    for (const t of p.transports()) {
      if (input.transport !== null && t !== input.transport) continue;
      if (t === "ws" && !p.instance.ws?.connected()) continue;
      if (p.breaker(t).allows()) channels.push({ provider: p, transport: t });
    }
  }
  if (input.staleRouting) {
    // Regression: laggards are not excluded and the most lagging one is preferred.
    return [...channels].sort((a, b) => (chain.lagOf(b.provider) ?? 0) - (chain.lagOf(a.provider) ?? 0) || a.provider.priority - b.provider.priority);
  }
  const eligible = channels.filter((c) => !chain.isLagging(c.provider));
  switch (input.strategy) {
    case "load_balanced":
      return rotate(eligible, chain.rr++);
    case "fastest":
      return [...eligible].sort((a, b) => latencyOf(a) - latencyOf(b) || a.provider.priority - b.provider.priority);
    case "latency_weighted":
      return weightedOrder(eligible, input.random ?? Math.random);
  }
}

function latencyOf(c: Channel): number {
  return c.provider.instance.latencyEwmaMs[c.transport] ?? 0;
}

function rotate<T>(xs: T[], cursor: number): T[] {
  if (xs.length === 0) return [];
  const start = cursor % xs.length;
  return [...xs.slice(start), ...xs.slice(0, start)];
}

/** Random order, each draw weighted by inverse latency (unmeasured channels get the best weight). */
function weightedOrder(xs: Channel[], random: () => number): Channel[] {
  const pool = xs.map((c) => ({ c, w: 1 / Math.max(1, c.provider.instance.latencyEwmaMs[c.transport] ?? 1) }));
  const out: Channel[] = [];
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
    if (picked) out.push(picked.c);
  }
  return out;
}
