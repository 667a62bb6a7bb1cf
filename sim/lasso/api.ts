/** Lasso's non-RPC JSON endpoints: /api/health, /api/chains, /api/metrics/:chain. */
import type { JsonObject, JsonValue } from "./jsonrpc.js";
import type { CallStats, ProviderPool } from "./providerPool.js";
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

/**
 * Like Lasso's MetricsController (public profile; chain by name or id; unknown chain -> 404
 * `{error, chain, available_chains}`). `providers` is BenchmarkStore's leaderboard: only
 * providers with recorded calls, by score, with exactly Lasso's fields (no circuit, no lag).
 * chain_performance carries the placeholders Lasso's realtime stats leave empty.
 */
export function metrics(deps: ApiDeps, chainIdent: string): ApiResponse {
  const profile = deps.pool.profile(DEFAULT_PROFILE);
  const chain = deps.pool.chain(DEFAULT_PROFILE, chainIdent);
  if (!chain) {
    return { status: 404, body: { error: "Chain not found", chain: chainIdent, available_chains: (profile?.chains ?? []).map((c) => c.name) } };
  }
  const called = chain.providers.filter((p) => p.stats.totalCalls > 0);
  const providers: JsonValue[] = called
    .map((p) => ({ p, score: providerScore(p.stats) }))
    .sort((a, b) => b.score - a.score)
    .map(({ p, score }) => ({
      id: p.id,
      name: p.name,
      score: round2(score),
      success_rate: round2(p.stats.successRate()),
      total_calls: p.stats.totalCalls,
      avg_latency_ms: round2(p.stats.avgLatencyMs()),
      calls_last_minute: p.callsLastMinute(),
    }));
  const methods = [...new Set(called.flatMap((p) => [...p.methodStats.keys()]))].sort();
  const methodRow = (method: string, st: CallStats): JsonObject => ({
    method,
    avg_latency_ms: round2(st.avgLatencyMs()),
    p50_latency_ms: st.percentile(50),
    p90_latency_ms: st.percentile(90),
    p95_latency_ms: st.percentile(95),
    p99_latency_ms: st.percentile(99),
    success_rate: Math.round(st.successRate() * 10_000) / 10_000,
    total_calls: st.totalCalls,
    last_updated: st.lastUpdatedMs,
  });
  const byProvider: JsonValue[] = chain.providers.flatMap((p) => {
    const rows = methods.flatMap((m) => {
      const st = p.methodStats.get(m);
      return st ? [methodRow(m, st)] : [];
    });
    return rows.length === 0 ? [] : [{ provider_id: p.id, provider_name: p.name, methods: rows }];
  });
  const byMethod: JsonValue[] = methods.map((m) => ({
    method: m,
    providers: chain.providers.flatMap((p) => {
      const st = p.methodStats.get(m);
      return st ? [{ ...methodRow(m, st), provider_id: p.id, provider_name: p.name }] : [];
    }),
  }));
  const now = Date.now();
  return {
    status: 200,
    body: {
      chain: chain.name,
      chain_id: chain.chainId,
      timestamp: now,
      system_metrics: {
        memory_mb: vmMemoryMb(),
        cpu_percent: Math.min(100, deps.cpu.sample()),
        process_count: process.getActiveResourcesInfo().length,
        run_queue: deps.inFlight(),
      },
      chain_performance: {
        total_calls: chain.providers.reduce((s, p) => s + p.stats.totalCalls, 0),
        success_rate: null,
        p50_latency: null,
        p95_latency: null,
        failovers_last_minute: 0,
        connected_providers: 0,
        total_providers: 0,
        recent_activity: 0,
        rpc_calls_per_second: 0,
        error_rate_percent: 0,
      },
      providers,
      rpc_methods: methods,
      rpc_performance_by_provider: byProvider,
      rpc_performance_by_method: byMethod,
      last_updated: now,
    },
  };
}

/**
 * The model of `:erlang.memory(:total)` in MB to 0.1: memory the runtime allocated (JS heap
 * plus buffers outside it), not the OS's RSS.
 */
export function vmMemoryMb(): number {
  const m = process.memoryUsage();
  return Math.round(((m.heapTotal + m.external) / (1024 * 1024)) * 10) / 10;
}

/** BenchmarkStore.calculate_rpc_provider_score/3. */
function providerScore(s: CallStats): number {
  const avg = s.avgLatencyMs();
  const latencyFactor = avg > 0 ? 1000 / (1000 + avg) : 1;
  return s.successRate() * latencyFactor * Math.log10(Math.max(s.totalCalls, 1));
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
