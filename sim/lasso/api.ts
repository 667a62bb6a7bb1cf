/** Lasso's non-RPC JSON endpoints: /api/health, /api/chains, /api/metrics/:chain. */
import type { JsonObject, JsonValue } from "./jsonrpc.js";
import type { ProviderPool } from "./providerPool.js";
import { DEFAULT_PROFILE } from "./routes.js";

export interface ApiResponse {
  status: number;
  body: JsonValue;
}

/** CPU% of this process between successive samples (process.cpuUsage deltas). */
export class CpuSampler {
  private lastCpu = process.cpuUsage();
  private lastAt = performance.now();

  sample(): number {
    const cpu = process.cpuUsage();
    const now = performance.now();
    const usedUs = cpu.user - this.lastCpu.user + (cpu.system - this.lastCpu.system);
    const wallUs = (now - this.lastAt) * 1000;
    this.lastCpu = cpu;
    this.lastAt = now;
    return wallUs <= 0 ? 0 : round2((usedUs / wallUs) * 100);
  }
}

export interface ApiDeps {
  pool: ProviderPool;
  version: string;
  startedAtMs: number;
  cpu: CpuSampler;
  /** Requests currently being processed (reported as run_queue). */
  inFlight: () => number;
}

export function health(deps: ApiDeps): ApiResponse {
  return {
    status: 200,
    body: {
      status: "healthy",
      timestamp: new Date().toISOString(),
      uptime_seconds: Math.floor((Date.now() - deps.startedAtMs) / 1000),
      version: deps.version,
      cluster: { enabled: false, nodes_connected: 1, nodes_responding: 1, nodes_total: 1, regions: [], status: "standalone" },
    },
  };
}

export function chains(deps: ApiDeps): ApiResponse {
  const profile = deps.pool.profile(DEFAULT_PROFILE);
  const list: JsonValue[] = (profile?.chains ?? []).map((c) => ({
    chain_id: String(c.chainId),
    name: c.displayName ?? c.name,
    chain_name: c.name,
    supported: true,
  }));
  return { status: 200, body: { chains: list } };
}

/** Like Lasso's MetricsController: public profile, chain by name; unknown chain -> 404. */
export function metrics(deps: ApiDeps, chainName: string): ApiResponse {
  const profile = deps.pool.profile(DEFAULT_PROFILE);
  const cfg = profile?.chains.find((c) => c.name === chainName);
  const chain = cfg ? deps.pool.chain(DEFAULT_PROFILE, cfg.name) : undefined;
  if (!chain) {
    return { status: 404, body: { error: "Chain not found", chain: chainName, available_chains: (profile?.chains ?? []).map((c) => c.name) } };
  }
  const providers: JsonValue[] = chain.providers.map((p) => {
    const s = p.instance.stats;
    return {
      id: p.id,
      name: p.name,
      score: round2(s.successRate()),
      success_rate: round2(s.successRate()),
      total_calls: s.totalCalls,
      avg_latency_ms: round2(s.avgLatencyMs()),
      circuit_state: p.instance.breaker.state(),
      block_height: p.instance.head,
      blocks_behind: chain.lagOf(p),
    };
  });
  const methods = new Set<string>();
  for (const p of chain.providers) for (const m of p.instance.methodStats.keys()) methods.add(m);
  const byMethod: JsonValue[] = [...methods].sort().map((m) => ({
    method: m,
    providers: chain.providers.flatMap((p) => {
      const st = p.instance.methodStats.get(m);
      if (!st) return [];
      const row: JsonObject = {
        provider_id: p.id,
        provider_name: p.name,
        avg_latency_ms: round2(st.avgLatencyMs()),
        p50_latency_ms: st.percentile(50),
        p95_latency_ms: st.percentile(95),
        success_rate: round2(st.successRate()),
        total_calls: st.totalCalls,
      };
      return [row];
    }),
  }));
  const totalCalls = chain.providers.reduce((s, p) => s + p.instance.stats.totalCalls, 0);
  const successes = chain.providers.reduce((s, p) => s + p.instance.stats.successes, 0);
  const mem = process.memoryUsage();
  return {
    status: 200,
    body: {
      chain: chain.name,
      chain_id: chain.chainId,
      timestamp: Date.now(),
      system_metrics: {
        memory_mb: round2(mem.rss / (1024 * 1024)),
        process_count: process.getActiveResourcesInfo().length,
        run_queue: deps.inFlight(),
        cpu_percent: deps.cpu.sample(),
      },
      chain_performance: {
        total_calls: totalCalls,
        success_rate: totalCalls === 0 ? null : round2(successes / totalCalls),
        connected_providers: chain.providers.filter((p) => p.instance.pollOk === true).length,
        total_providers: chain.providers.length,
        consensus_height: chain.consensusHead(),
      },
      providers,
      rpc_methods: [...methods].sort(),
      rpc_performance_by_method: byMethod,
      last_updated: Date.now(),
    },
  };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
