/**
 * The same probe series for both systems of bench/peers.ts: lasso-canary's checks, and what
 * an SRE would write instead, a blackbox_exporter module per JSON-RPC body and a Prometheus
 * scrape job per series (target = the Lasso route's URL).
 */
import { routeName, routePath } from "../src/plan/build.js";

export const CHAIN_NAMES = ["ethereum", "base", "arbitrum", "optimism", "polygon"];
export const PROVIDERS = ["alpha", "bravo", "charlie"];

interface Call {
  method: string;
  params: unknown[];
  /** lasso-canary's assertion on the answer. */
  assert: string;
}

const CALLS: Record<string, Call> = {
  eth_blockNumber: { method: "eth_blockNumber", params: [], assert: "shape: quantity" },
  eth_getBlockByNumber: { method: "eth_getBlockByNumber", params: ["latest", false], assert: "shape: block" },
  eth_chainId: { method: "eth_chainId", params: [], assert: "chainId" },
};

type RouteSpec = { strategy: string } | { provider: string };

/** Ten series per chain: the head on every strategy and pin, a block on the default route, the chain id on a pin (Lasso answers it itself elsewhere). */
const PER_CHAIN: Array<{ call: string; route: RouteSpec }> = [
  ...["default", "fastest", "load-balanced", "latency-weighted", "round-robin"].map((strategy) => ({ call: "eth_blockNumber", route: { strategy } })),
  ...PROVIDERS.map((provider) => ({ call: "eth_blockNumber", route: { provider } })),
  { call: "eth_getBlockByNumber", route: { strategy: "default" } },
  { call: "eth_chainId", route: { provider: PROVIDERS[0] as string } },
];

export interface Series {
  chain: string;
  chainId: number;
  call: Call;
  route: RouteSpec;
  /** The route's path on the Lasso target, e.g. /rpc/fastest/base. */
  path: string;
}

export interface PeersChain {
  name: string;
  chainId: number;
}

/** The chains that `n` series need, ten per chain. */
export function peersChains(n: number): PeersChain[] {
  const count = Math.ceil(n / PER_CHAIN.length);
  return Array.from({ length: count }, (_, i) => ({ name: CHAIN_NAMES[i] ?? `chain${i}`, chainId: 1000 + i }));
}

/** The first `n` series over peersChains(n). */
export function peersSeries(n: number): Series[] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`the number of series must be a positive integer, got ${n}`);
  return peersChains(n)
    .flatMap((c) => PER_CHAIN.map(({ call, route }) => ({ chain: c.name, chainId: c.chainId, call: CALLS[call] as Call, route, path: routePath(route, c.name) })))
    .slice(0, n);
}

/** The JSON-RPC request body a client sends for `call`. */
export function rpcBody(call: Call): string {
  return JSON.stringify({ jsonrpc: "2.0", id: 1, method: call.method, params: call.params });
}

const routeYaml = (r: RouteSpec): string => ("provider" in r ? `{ provider: ${r.provider} }` : `{ strategy: ${r.strategy} }`);

/**
 * One checks file per chain: its series as probes at `intervalSec`. `watchers` adds the demo's
 * (config/demo/checks): newHeads on the default route and every pin, logs of the emitter at
 * `logsAddress` on the default route.
 */
export function peersChecks(series: readonly Series[], intervalSec: number, watchers: { logsAddress: (chain: string) => string } | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const chain of [...new Set(series.map((s) => s.chain))]) {
    const mine = series.filter((s) => s.chain === chain);
    const routes = [...new Map(mine.map((s) => [routeName(s.route), s.route])).values()];
    const probes = [...new Set(mine.map((s) => s.call.method))].map((method) => {
      const of = mine.filter((s) => s.call.method === method);
      const call = of[0]?.call as Call;
      return `  - { method: ${method}, params: ${JSON.stringify(call.params)}, interval: ${intervalSec}s, timeout: 2s, routes: [${of.map((s) => routeName(s.route)).join(", ")}], assert: [${call.assert}] }`;
    });
    const watch = watchers === null
      ? []
      : [
          "watch: { confirmationsPerMinute: 12, logsCheckInterval: 10s }",
          "watchers:",
          `  - { subscription: newHeads, routes: [default, ${PROVIDERS.map((p) => `pin:${p}`).join(", ")}] }`,
          `  - { subscription: logs, routes: [default], filter: { address: "${watchers.logsAddress(chain)}" } }`,
        ];
    const routeLines = [...routes, ...(watchers === null ? [] : [{ strategy: "default" }, ...PROVIDERS.map((provider) => ({ provider }))])]
      .filter((r, i, all) => all.findIndex((o) => routeName(o) === routeName(r)) === i)
      .map((r) => `  - ${routeYaml(r)}`);
    out[chain] = [`chain: ${chain}`, `chainId: ${mine[0]?.chainId}`, "blockTimeMs: 2000", "routes:", ...routeLines, "probes:", ...probes, ...watch].join("\n");
  }
  return out;
}

const moduleName = (call: Call): string => call.method;

/** blackbox.yml: one http module per JSON-RPC body, POSTing it as lasso-canary does and requiring a `result`. */
export function blackboxConfig(series: readonly Series[]): string {
  const calls = [...new Map(series.map((s) => [moduleName(s.call), s.call])).values()];
  return [
    "modules:",
    ...calls.flatMap((call) => [
      `  ${moduleName(call)}:`,
      "    prober: http",
      "    timeout: 2s",
      "    http:",
      "      method: POST",
      "      preferred_ip_protocol: ip4",
      "      headers: { Content-Type: application/json, Accept: application/json }",
      `      body: '${rpcBody(call)}'`,
      "      valid_status_codes: [200]",
      "      fail_if_body_not_matches_regexp: ['\"result\"']",
    ]),
    "",
  ].join("\n");
}

/** prometheus.yml: one job per series, scraping blackbox's /probe at the probe interval. */
export function prometheusConfig(series: readonly Series[], intervalSec: number, blackbox: string, lassoUrl: string): string {
  return [
    "global:",
    `  scrape_interval: ${intervalSec}s`,
    `  scrape_timeout: ${Math.min(intervalSec, 3)}s`,
    "  evaluation_interval: 1m",
    "scrape_configs:",
    ...series.flatMap((s, i) => [
      `  - job_name: s${String(i).padStart(3, "0")}_${s.chain}_${s.call.method}`,
      "    metrics_path: /probe",
      `    params: { module: [${moduleName(s.call)}], target: ["${lassoUrl}${s.path}"] }`,
      `    static_configs: [{ targets: ["${blackbox}"], labels: { route: "${routeName(s.route)}" } }]`,
    ]),
    "",
  ].join("\n");
}
