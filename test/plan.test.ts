import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { formatPlanErrors, loadPlan, PlanError, redactUrl, summarizePlan, type Plan, type PlanIssue } from "../src/plan/index.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const FIX = path.join(REPO, "test/fixtures/plan");
const SECRET_KEY = "AbCdEf0123456789GhIjKl0123456789";
const LASSO_URL = `https://lasso.example.com/v2/${SECRET_KEY}?apikey=topsecret`;

// ------------------------------------------------------------------ helpers

const tmpRoots: string[] = [];
after(() => {
  for (const d of tmpRoots) rmSync(d, { recursive: true, force: true });
});

/** Write files (relative path -> text) into a fresh temp dir; returns the dir. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "plan-test-"));
  tmpRoots.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

function planError(fn: () => unknown): PlanError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PlanError) return err;
    throw err;
  }
  assert.fail("expected loadPlan to throw PlanError");
}

interface Expected {
  /** Absolute file the issue must name. */
  file: string;
  path: string;
  message: RegExp;
}

function hasIssue(issues: PlanIssue[], e: Expected): boolean {
  return issues.some((i) => path.resolve(i.file) === e.file && i.path === e.path && e.message.test(i.message));
}

function assertIssues(issues: PlanIssue[], expected: Expected[], exact = true): void {
  const shown = issues.map((i) => `${i.file}: ${i.path}: ${i.message}`).join("\n");
  for (const e of expected) assert.ok(hasIssue(issues, e), `missing issue ${e.file}: ${e.path}: ${e.message}\ngot:\n${shown}`);
  if (exact) assert.equal(issues.length, expected.length, `unexpected extra issues:\n${shown}`);
}

const CONFIG = `targets:
  - { name: lb, url: "http://127.0.0.1:4000" }
  - { name: node-a, url: "http://127.0.0.1:4001" }
budget: { maxRequestsPerSecondPerChain: 100 }
checks: checks
`;

const HEAD = "chain: ethereum\nchainId: 1\nblockTimeMs: 12000\n";
const ROUTES = "routes:\n  - { strategy: fastest }\n  - { provider: alchemy }\n  - { provider: infura }\n";
const PROBES = "probes:\n  - { method: eth_blockNumber, interval: 10s, assert: [freshness] }\n";

function eth(parts: { head?: string; routes?: string; probes?: string; extra?: string } = {}): string {
  return `${parts.head ?? HEAD}${parts.routes ?? ROUTES}${parts.probes ?? PROBES}${parts.extra ?? ""}`;
}

// ------------------------------------------------------------------ shipped examples

describe("shipped configs", () => {
  it("config/canary.yaml loads with LASSO_URL set and stays within budget", () => {
    const plan = loadPlan(path.join(REPO, "config/canary.yaml"), { LASSO_URL });
    assert.deepEqual(
      plan.chains.map((c) => c.chain),
      ["base", "ethereum"],
    );
    assert.deepEqual(plan.targets, [{ name: "lb", url: LASSO_URL, redactedUrl: "https://lasso.example.com/v2/***?apikey=***", headers: {} }]);
    assert.equal(plan.checksDir, path.join(REPO, "checks"));
    assert.equal(plan.store.path, path.join(REPO, "data/canary.db"));
    assert.deepEqual(plan.listen, { host: "127.0.0.1", port: 9464 });
    for (const c of plan.chains) assert.ok(c.ratePerSecond <= plan.budget.maxRequestsPerSecondPerChain, c.chain);
    // checks/ethereum.yaml, one target: 7 routes / 12s + 3 pins / 60s + 4 strategies / 30s + 3 pins / 60s,
    // watchers: head poll / 12 s + eth_getLogs / 60 s + 3 confirmations / min
    const ethRate = 7 / 12 + 3 / 60 + 4 / 30 + 3 / 60 + (1 / 12 + 1 / 60 + 3 / 60);
    assert.ok(Math.abs((plan.ratePerChain.ethereum ?? NaN) - ethRate) < 1e-6, `ethereum ${plan.ratePerChain.ethereum} req/s, want ${ethRate}`);
    // checks/base.yaml: 6 routes / 5s + 3 pins / 60s + 3 routes / 20s + 3 pins / 60s, watchers: head poll / 4 s + 3 confirmations / min
    const baseRate = 6 / 5 + 3 / 60 + 3 / 20 + 3 / 60 + (1 / 4 + 3 / 60);
    assert.ok(Math.abs((plan.ratePerChain.base ?? NaN) - baseRate) < 1e-6, `base ${plan.ratePerChain.base} req/s, want ${baseRate}`);
    const eth = plan.chains.find((c) => c.chain === "ethereum");
    assert.deepEqual(
      eth?.watchers.map((w) => `${w.name} ${w.wsPath}`),
      [
        "newHeads:default /ws/rpc/ethereum",
        "newHeads:pin:ethereum_drpc /ws/rpc/provider/ethereum_drpc/ethereum",
        "newHeads:pin:ethereum_publicnode /ws/rpc/provider/ethereum_publicnode/ethereum",
        "newHeads:pin:ethereum_llamarpc /ws/rpc/provider/ethereum_llamarpc/ethereum",
        "swaps:default /ws/rpc/ethereum",
      ],
    );
    assert.deepEqual(plan.warnings, []);
  });

  it("config/canary.yaml without LASSO_URL is refused naming the variable", () => {
    const err = planError(() => loadPlan(path.join(REPO, "config/canary.yaml"), {}));
    assertIssues(err.issues, [{ file: path.join(REPO, "config/canary.yaml"), path: "targets[0].url", message: /LASSO_URL is not set/ }]);
  });

  it("config/demo loads with watchers on every chain, within its budget", () => {
    const plan = loadPlan(path.join(REPO, "config/demo/canary.yaml"), { LASSO_URL: "http://127.0.0.1:4000" });
    for (const c of plan.chains) {
      assert.deepEqual(c.watchers.map((w) => w.name), ["newHeads:default", "newHeads:pin:alpha", "newHeads:pin:bravo", "newHeads:pin:charlie", "logs:default"], c.chain);
      assert.ok(c.ratePerSecond <= plan.budget.maxRequestsPerSecondPerChain, c.chain);
    }
  });

  it("the multi-node example loads: three targets, a chain by id, a profile route", () => {
    const plan = loadPlan(path.join(REPO, "config/examples/multi-node/canary.yaml"), { LASSO_URL });
    assert.deepEqual(
      plan.targets.map((t) => [t.name, t.url]),
      [
        ["lb", LASSO_URL],
        ["node-a", "http://lasso-a:4000"],
        ["node-b", "http://lasso-b:4000"],
      ],
    );
    const eth = plan.chains.find((c) => c.chain === "ethereum");
    assert.deepEqual(eth?.targets, ["lb", "node-a", "node-b"]);
    const arb = plan.chains.find((c) => c.chain === "42161");
    assert.equal(arb?.chainId, 42161);
    assert.deepEqual(arb?.targets, ["lb"]);
    assert.equal(eth?.routes.find((r) => r.name === "canary/fastest")?.path, "/rpc/profile/canary/fastest/ethereum");
  });
});

// ------------------------------------------------------------------ the valid fixture, computed by hand

describe("valid fixture: routes, series, rates", () => {
  const configFile = path.join(FIX, "valid/canary.yaml");
  let plan: Plan;
  it("loads", () => {
    plan = loadPlan(configFile, { LASSO_URL });
    assert.deepEqual(plan.warnings, []);
  });

  it("resolves config values, defaults and paths relative to the config file", () => {
    assert.equal(plan.configFile, configFile);
    assert.equal(plan.store.path, path.join(FIX, "data/fixture.db"));
    assert.equal(plan.store.rawRetentionDays, 3);
    assert.equal(plan.store.rollupRetentionDays, 30);
    assert.deepEqual(plan.listen, { host: "127.0.0.1", port: 19464 });
    assert.deepEqual(plan.log, { level: "debug" });
    assert.deepEqual(plan.budget, { maxRequestsPerSecondPerChain: 4 });
    assert.deepEqual(plan.checksFiles, [path.join(FIX, "valid/checks/base-by-id.yaml"), path.join(FIX, "valid/checks/ethereum.yaml")]);
    assert.deepEqual(
      plan.targets.map((t) => [t.name, t.url]),
      [
        ["lb", LASSO_URL],
        ["node-a", "http://127.0.0.1:4001"],
      ],
    );
  });

  it("builds every route kind's path per docs/lasso-contract.md", () => {
    const eth = plan.chains.find((c) => c.chain === "ethereum");
    assert.deepEqual(eth?.routes, [
      { name: "default", kind: "strategy", strategy: "default", path: "/rpc/ethereum", transport: "any" },
      { name: "fastest", kind: "strategy", strategy: "fastest", path: "/rpc/fastest/ethereum", transport: "any" },
      { name: "load-balanced", kind: "strategy", strategy: "load-balanced", path: "/rpc/load-balanced/ethereum", transport: "any" },
      { name: "latency-weighted", kind: "strategy", strategy: "latency-weighted", path: "/rpc/latency-weighted/ethereum", transport: "any" },
      { name: "round-robin", kind: "strategy", strategy: "round-robin", path: "/rpc/round-robin/ethereum", transport: "any" },
      { name: "pin:alchemy", kind: "pin", provider: "alchemy", path: "/rpc/provider/alchemy/ethereum", transport: "http" },
      { name: "pin:infura", kind: "pin", provider: "infura", path: "/rpc/provider/infura/ethereum", transport: "http" },
      { name: "canary/fastest", kind: "strategy", strategy: "fastest", profile: "canary", path: "/rpc/profile/canary/fastest/ethereum", transport: "any" },
      { name: "canary/pin:alchemy", kind: "pin", provider: "alchemy", profile: "canary", path: "/rpc/profile/canary/provider/alchemy/ethereum", transport: "http" },
      { name: "canary/default", kind: "strategy", strategy: "default", profile: "canary", path: "/rpc/profile/canary/ethereum", transport: "any" },
    ]);
    const base = plan.chains.find((c) => c.chain === "8453");
    assert.deepEqual(
      base?.routes.map((r) => [r.name, r.path]),
      [
        ["default", "/rpc/8453"],
        ["pin:base_official", "/rpc/provider/base_official/8453"],
        ["pin:base_publicnode", "/rpc/provider/base_publicnode/8453"],
      ],
    );
  });

  it("resolves chain ids and SLO defaults", () => {
    const eth = plan.chains.find((c) => c.chain === "ethereum");
    const base = plan.chains.find((c) => c.chain === "8453");
    assert.equal(eth?.chainId, 1);
    assert.equal(eth?.blockTimeMs, 12000);
    assert.deepEqual(eth?.slo, { successRatio: 0.999, p95LatencyMs: 300, maxHeadLagBlocks: 2, headFreshRatio: 0.99, correctnessRatio: 0.999, consistencyRatio: 0.999, maxDeliveryDelayMs: null });
    assert.equal(base?.chainId, 8453);
    assert.equal(base?.blockTimeMs, 2000);
    assert.deepEqual(base?.slo, { successRatio: 0.999, p95LatencyMs: 500, maxHeadLagBlocks: 2, headFreshRatio: 0.99, correctnessRatio: 0.999, consistencyRatio: 0.999, maxDeliveryDelayMs: null });
    assert.deepEqual(eth?.targets, ["lb", "node-a"]);
    assert.deepEqual(base?.targets, ["lb"]);
  });

  it("expands one series per (target, route, method)", () => {
    const targets = ["lb", "node-a"];
    const all = ["default", "fastest", "load-balanced", "latency-weighted", "round-robin", "pin:alchemy", "pin:infura", "canary/fastest", "canary/pin:alchemy", "canary/default"];
    const pinned = ["pin:alchemy", "pin:infura", "canary/pin:alchemy"];
    const strategies = all.filter((r) => !pinned.includes(r));
    const ids = (method: string, routes: string[], ts = targets, chain = "ethereum"): string[] => ts.flatMap((t) => routes.map((r) => `${t}|${chain}|${r}|${method}`));
    const expected = [
      ...ids("eth_blockNumber", ["default", "pin:base_official", "pin:base_publicnode"], ["lb"], "8453"),
      ...ids("eth_blockNumber", all),
      ...ids("eth_chainId", pinned),
      ...ids("eth_getBlockByNumber", strategies),
      ...ids("eth_gasPrice", ["fastest", "canary/fastest"]),
    ];
    assert.equal(expected.length, 3 + 20 + 6 + 14 + 4);
    assert.deepEqual([...plan.series.map((s) => s.id)].sort(), [...expected].sort());
    assert.equal(new Set(plan.series.map((s) => s.id)).size, plan.series.length);
    assert.deepEqual(
      plan.chains.flatMap((c) => c.series),
      plan.series,
    );
  });

  it("carries params, durations (given and default) and resolved assertions on each series", () => {
    const byId = new Map(plan.series.map((s) => [s.id, s]));
    assert.deepEqual(byId.get("node-a|ethereum|pin:alchemy|eth_blockNumber"), {
      id: "node-a|ethereum|pin:alchemy|eth_blockNumber",
      target: "node-a",
      chain: "ethereum",
      route: "pin:alchemy",
      routeKind: "pin",
      provider: "alchemy",
      profile: null,
      path: "/rpc/provider/alchemy/ethereum",
      method: "eth_blockNumber",
      params: [],
      intervalMs: 10000,
      timeoutMs: 2000,
      transport: "http",
      assertions: [{ kind: "shape", shape: "quantity" }, { kind: "monotonicHead" }, { kind: "freshness", maxHeadLagBlocks: 2 }],
    });
    const chainIdSeries = byId.get("lb|ethereum|canary/pin:alchemy|eth_chainId");
    assert.equal(chainIdSeries?.profile, "canary");
    assert.equal(chainIdSeries?.intervalMs, 10000); // default interval
    assert.equal(chainIdSeries?.timeoutMs, 5000); // default timeout: 5s < interval/2
    assert.deepEqual(chainIdSeries?.assertions, [{ kind: "chainId", expected: 1 }]);
    const block = byId.get("lb|ethereum|default|eth_getBlockByNumber");
    assert.deepEqual(block?.params, ["latest", false]);
    assert.equal(block?.intervalMs, 20000);
    assert.equal(block?.provider, null);
    assert.deepEqual(block?.assertions, [{ kind: "shape", shape: "block" }]);
    const gas = byId.get("node-a|ethereum|canary/fastest|eth_gasPrice");
    assert.equal(gas?.intervalMs, 60000);
    assert.equal(gas?.timeoutMs, 500);
    assert.deepEqual(gas?.assertions, []);
    const base = byId.get("lb|8453|pin:base_official|eth_blockNumber");
    assert.equal(base?.intervalMs, 2000);
    assert.equal(base?.timeoutMs, 1000); // default timeout: half of a 2 s interval
    assert.deepEqual(base?.assertions, [{ kind: "shape", shape: "quantity" }, { kind: "freshness", maxHeadLagBlocks: 2 }]);
  });

  it("plans consistency over the public pinned routes", () => {
    const eth = plan.chains.find((c) => c.chain === "ethereum");
    assert.deepEqual(eth?.consistency, { intervalMs: 30000, timeoutMs: 5000, depth: 4, routes: ["pin:alchemy", "pin:infura"], requestsPerRound: 2 });
    assert.equal(plan.chains.find((c) => c.chain === "8453")?.consistency, null);
  });

  it("computes the request rate per chain, consistency included", () => {
    // ethereum, 2 targets: eth_blockNumber 10 routes / 10 s, eth_chainId 3 pins / 10 s,
    // eth_getBlockByNumber 7 strategies / 20 s, eth_gasPrice 2 routes / 60 s,
    // consistency 2 public pins / 30 s.
    const eth = 2 * (10 / 10 + 3 / 10 + 7 / 20 + 2 / 60 + 2 / 30);
    // 8453, lb only: 3 routes / 2 s.
    const base = 3 / 2;
    assert.deepEqual(Object.keys(plan.ratePerChain).sort(), ["8453", "ethereum"]);
    assert.ok(Math.abs((plan.ratePerChain.ethereum ?? NaN) - eth) < 1e-6, `ethereum ${plan.ratePerChain.ethereum} != ${eth}`);
    assert.ok(Math.abs((plan.ratePerChain["8453"] ?? NaN) - base) < 1e-6, `8453 ${plan.ratePerChain["8453"]} != ${base}`);
    assert.equal(plan.chains.find((c) => c.chain === "ethereum")?.ratePerSecond, plan.ratePerChain.ethereum);
  });

  it("summarizes chains, routes, series count and req/s per chain without secrets", () => {
    const text = summarizePlan(plan);
    assert.match(text, /2 chain\(s\), 13 route\(s\), 47 series/);
    assert.match(text, /ethereum \(chain id 1/);
    assert.match(text, /canary\/pin:alchemy\s+\/rpc\/profile\/canary\/provider\/alchemy\/ethereum/);
    assert.match(text, /rate: 3\.5 req\/s/);
    assert.match(text, /rate: 1\.5 req\/s/);
    assert.ok(!text.includes(SECRET_KEY) && !text.includes("hunter2") && !text.includes("topsecret"), text);
  });
});

// ------------------------------------------------------------------ watchers

describe("watchers", () => {
  const ADDR = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
  const TOPIC = "0xD1B812972756E0A62E7B67C44B2BB9E6247655581F31031B458BE9F9B07EFBC9";
  const withWatchers = (extra: string, routes?: string): Plan =>
    loadPlan(path.join(tree({ "canary.yaml": CONFIG.replace("http://127.0.0.1:4000", "https://lasso.example.com/base/"), "checks/ethereum.yaml": eth({ extra, ...(routes ? { routes } : {}) }) }), "canary.yaml"), {});

  it("expand to one named watcher per selected route, with the WS path per docs/lasso-contract.md and lowercased filters", () => {
    const plan = withWatchers(
      [
        "watchers:",
        "  - { subscription: newHeads, routes: all }",
        `  - { subscription: logs, name: pings, routes: [pin:alchemy], filter: { address: "${ADDR}", topics: [null, ["${TOPIC}"]] } }`,
        "  - { subscription: newHeads, name: quick, routes: [fastest], stallBlockTimes: 2 }",
      ].join("\n"),
      `${ROUTES}  - { strategy: fastest, profile: canary }\n`,
    );
    const c = plan.chains[0];
    assert.ok(c, "one chain planned");
    assert.deepEqual(
      c.watchers.map((w) => [w.name, w.subscription, w.route, w.routeKind, w.provider, w.profile, w.wsPath, w.stallBlockTimes]),
      [
        ["newHeads:fastest", "newHeads", "fastest", "strategy", null, null, "/ws/rpc/fastest/ethereum", 3],
        ["newHeads:pin:alchemy", "newHeads", "pin:alchemy", "pin", "alchemy", null, "/ws/rpc/provider/alchemy/ethereum", 3],
        ["newHeads:pin:infura", "newHeads", "pin:infura", "pin", "infura", null, "/ws/rpc/provider/infura/ethereum", 3],
        ["newHeads:canary/fastest", "newHeads", "canary/fastest", "strategy", null, "canary", "/ws/rpc/profile/canary/fastest/ethereum", 3],
        ["pings:pin:alchemy", "logs", "pin:alchemy", "pin", "alchemy", null, "/ws/rpc/provider/alchemy/ethereum", 3],
        ["quick:fastest", "newHeads", "fastest", "strategy", null, null, "/ws/rpc/fastest/ethereum", 2],
      ],
    );
    assert.deepEqual(c.watchers[4]?.filter, { address: ADDR.toLowerCase(), topics: [null, [TOPIC.toLowerCase()]] });
    // HTTP through the first public strategy route; defaults from the 12 s block time.
    assert.deepEqual(c.watch, {
      httpRoute: "fastest",
      httpTransport: "any",
      httpPath: "/rpc/fastest/ethereum",
      headPollIntervalMs: 12_000,
      logsCheckIntervalMs: 60_000,
      logsConfirmBlocks: 3,
      confirmationsPerMinute: 6,
      reconnectInitialMs: 500,
      reconnectMaxMs: 30_000,
      requestsPerSecondPerTarget: Math.round((1 / 12 + 1 / 60 + 6 / 60) * 1e6) / 1e6,
    });
  });

  it("count in the chain's rate, per target, with a line in the budget breakdown", () => {
    const plain = withWatchers("");
    const watched = withWatchers("watch: { headPollInterval: 2s, confirmationsPerMinute: 12 }\nwatchers:\n  - { subscription: newHeads, routes: [fastest] }\n");
    const extra = (watched.ratePerChain.ethereum ?? NaN) - (plain.ratePerChain.ethereum ?? NaN);
    assert.ok(Math.abs(extra - 2 * (1 / 2 + 12 / 60)) < 1e-6, `2 targets x (head poll every 2 s + 12 confirmations/min), got ${extra}`);
    assert.equal(plain.chains[0]?.watch, null);
    assert.deepEqual(plain.chains[0]?.watchers, []);
    const over = tree({
      "canary.yaml": CONFIG.replace("maxRequestsPerSecondPerChain: 100", "maxRequestsPerSecondPerChain: 2"),
      "checks/ethereum.yaml": eth({ extra: "watch: { headPollInterval: 1s }\nwatchers:\n  - { subscription: newHeads, routes: [fastest] }\n" }),
    });
    const err = planError(() => loadPlan(path.join(over, "canary.yaml"), {}));
    assert.match(err.issues[0]?.message ?? "", /watchers: 2 target\(s\) x \(eth_blockNumber every 1s \+ 6 confirmations\/min\) = 2\.2/);
  });

  it("summarize with their paths, HTTP route and rate, never the target URL", () => {
    const text = summarizePlan(withWatchers("watchers:\n  - { subscription: newHeads, routes: [pin:infura] }\n"));
    assert.match(text, /watchers \(HTTP via fastest: eth_blockNumber every 12s, 6 confirmations\/min; 0\.183 req\/s per target\):/);
    assert.match(text, /newHeads:pin:infura\s+\/ws\/rpc\/provider\/infura\/ethereum \(stall after 3 block times\)/);
    assert.doesNotMatch(text, /key@/);
  });

  it("SLO objectives are read from slo: every ratio, and the delivery delay as a duration", () => {
    const plan = withWatchers(
      "slo: { successRatio: 0.99, headFreshRatio: 0.95, correctnessRatio: 0.9999, consistencyRatio: 0.98, maxDeliveryDelay: 3s }\n" +
      "watchers:\n  - { subscription: newHeads, routes: [fastest] }\n",
    );
    assert.deepEqual(plan.chains[0]?.slo, {
      successRatio: 0.99, p95LatencyMs: 300, maxHeadLagBlocks: 2, headFreshRatio: 0.95, correctnessRatio: 0.9999,
      consistencyRatio: 0.98, maxDeliveryDelayMs: 3000,
    });
    assert.deepEqual(plan.warnings.map((w) => `${w.path}: ${w.message}`), ["slo.consistencyRatio: has no effect: this chain has no consistency checks"]);
    assert.match(summarizePlan(plan), /correct >= 99\.99%, consistent >= 98%, delivery delay p95 <= 3s/);
  });

  it("a delivery delay objective without watchers, or within the block timestamps' 1 s resolution, is a warning", () => {
    assert.deepEqual(withWatchers("slo: { maxDeliveryDelay: 3s }\n").warnings.map((w) => `${w.path}: ${w.message}`),
      ["slo.maxDeliveryDelay: has no effect: this chain has no watchers"]);
    assert.deepEqual(withWatchers("slo: { maxDeliveryDelay: 800ms }\nwatchers:\n  - { subscription: newHeads, routes: [fastest] }\n").warnings.map((w) => w.message),
      ["800ms is within the 1 s resolution of block timestamps: on-time blocks can measure up to 1 s late and fail it"]);
  });

  it("watch settings without watchers are a warning", () => {
    assert.match(withWatchers("watch: { stallBlockTimes: 4 }\n").warnings[0]?.message ?? "", /has no effect: this chain has no watchers/);
  });
});

// ------------------------------------------------------------------ env substitution

describe("${ENV} substitution", () => {
  const config = `listen: \${LISTEN:-127.0.0.1:9999}
targets:
  - name: lb
    url: \${LASSO_URL}
  - name: node-a
    url: \${NODE_A_URL:-http://127.0.0.1:4001}
budget:
  maxRequestsPerSecondPerChain: \${BUDGET:-50}
store: { path: "$\${HOME}/x.db" }
checks: checks
`;
  const checks = eth({ routes: "routes:\n  - { strategy: fastest }\n  - { provider: \"${PIN:-alchemy}\" }\n" });
  const dir = tree({ "canary.yaml": config, "checks/ethereum.yaml": checks });

  it("substitutes variables and defaults, in the config and in checks files", () => {
    const plan = loadPlan(path.join(dir, "canary.yaml"), { LASSO_URL: "http://lb:4000" });
    assert.deepEqual(
      plan.targets.map((t) => t.url),
      ["http://lb:4000", "http://127.0.0.1:4001"],
    );
    assert.deepEqual(plan.listen, { host: "127.0.0.1", port: 9999 });
    assert.equal(plan.budget.maxRequestsPerSecondPerChain, 50); // a whole-value reference becomes a number
    assert.equal(plan.store.path, path.join(dir, "${HOME}/x.db")); // $${ is a literal ${
    assert.deepEqual(
      plan.chains[0]?.routes.map((r) => r.name),
      ["fastest", "pin:alchemy"],
    );
  });

  it("uses the variable over the default when it is set, the default when it is empty", () => {
    const plan = loadPlan(path.join(dir, "canary.yaml"), { LASSO_URL: "http://lb:4000", NODE_A_URL: "http://other:5000", BUDGET: "7", PIN: "" });
    assert.equal(plan.targets[1]?.url, "http://other:5000");
    assert.equal(plan.budget.maxRequestsPerSecondPerChain, 7);
    assert.equal(plan.chains[0]?.routes[1]?.name, "pin:alchemy");
  });

  it("a missing variable without default is an error naming file, path and variable (and nothing else)", () => {
    const err = planError(() => loadPlan(path.join(dir, "canary.yaml"), {}));
    assertIssues(err.issues, [{ file: path.join(dir, "canary.yaml"), path: "targets[0].url", message: /environment variable LASSO_URL is not set/ }]);
    assert.equal(err.issues[0]?.line, 4);
  });

  it("an unquoted reference inside { } is a YAML syntax error with a hint", () => {
    const d = tree({ "canary.yaml": CONFIG.replace("maxRequestsPerSecondPerChain: 100", "maxRequestsPerSecondPerChain: ${BUDGET}"), "checks/ethereum.yaml": eth() });
    const err = planError(() => loadPlan(path.join(d, "canary.yaml"), { BUDGET: "3" }));
    assert.ok(hasIssue(err.issues, { file: path.join(d, "canary.yaml"), path: "", message: /YAML syntax error: .*must be quoted/ }), formatPlanErrors(err));
    assert.equal(err.issues[0]?.line, 4);
  });

  it("a missing variable in a checks file is reported there", () => {
    const d = tree({ "canary.yaml": CONFIG, "checks/ethereum.yaml": eth({ routes: "routes:\n  - { strategy: fastest }\n  - { provider: \"${PIN_A}\" }\n  - { provider: b }\n" }) });
    const err = planError(() => loadPlan(path.join(d, "canary.yaml"), {}));
    assertIssues(err.issues, [{ file: path.join(d, "checks/ethereum.yaml"), path: "routes[1].provider", message: /PIN_A is not set/ }]);
  });
});

// ------------------------------------------------------------------ one case per validation rule

interface RuleCase {
  name: string;
  config?: string;
  checks?: Record<string, string>;
  /** Path of the file the error must be in, relative to the case dir. */
  file: string;
  path: string;
  message: RegExp;
}

const RULES: RuleCase[] = [
  { name: "unknown config key (typo)", config: CONFIG.replace("budget:", "budgte:"), file: "canary.yaml", path: "budgte", message: /unknown key \(did you mean "budget"\?\)/ },
  { name: "unknown nested config key", config: `${CONFIG}store: { pth: x.db }\n`, file: "canary.yaml", path: "store.pth", message: /unknown key \(did you mean "path"\?\)/ },
  { name: "listen not host:port", config: `${CONFIG}listen: localhost\n`, file: "canary.yaml", path: "listen", message: /not host:port/ },
  { name: "no targets", config: "targets: []\nchecks: checks\n", file: "canary.yaml", path: "targets", message: /at least one target/ },
  { name: "duplicate target names", config: CONFIG.replace("name: node-a", "name: lb"), file: "canary.yaml", path: "targets[1].name", message: /duplicate target name "lb"/ },
  { name: "target URL with a non-http scheme", config: CONFIG.replace("http://127.0.0.1:4001", "ws://127.0.0.1:4001"), file: "canary.yaml", path: "targets[1].url", message: /must be an http:\/\/ or https:\/\/ URL, got ws:/ },
  { name: "target URL that does not parse", config: CONFIG.replace("http://127.0.0.1:4001", "lasso-a:4001:x"), file: "canary.yaml", path: "targets[1].url", message: /not a valid URL/ },
  { name: "invalid log level", config: `${CONFIG}log: { level: verbose }\n`, file: "canary.yaml", path: "log.level", message: /unknown log level "verbose"/ },
  { name: "raw retention longer than rollups", config: `${CONFIG}store: { rawRetentionDays: 30, rollupRetentionDays: 7 }\n`, file: "canary.yaml", path: "store.rawRetentionDays", message: /must not exceed rollupRetentionDays \(7\)/ },
  { name: "non-positive budget", config: CONFIG.replace("maxRequestsPerSecondPerChain: 100", "maxRequestsPerSecondPerChain: 0"), file: "canary.yaml", path: "budget.maxRequestsPerSecondPerChain", message: /must be > 0/ },
  { name: "checks directory missing", config: CONFIG.replace("checks: checks", "checks: nope"), file: "canary.yaml", path: "checks", message: /checks directory .*nope does not exist/ },
  { name: "checks directory without yaml files", checks: { "checks/README.md": "x" }, file: "canary.yaml", path: "checks", message: /no \*\.yaml files/ },
  { name: "YAML syntax error", checks: { "checks/ethereum.yaml": eth().replace("chainId: 1", "chainId: [1") }, file: "checks/ethereum.yaml", path: "", message: /YAML syntax error/ },
  { name: "duplicate YAML key", checks: { "checks/ethereum.yaml": `${eth()}chainId: 2\n` }, file: "checks/ethereum.yaml", path: "", message: /YAML syntax error: Map keys must be unique/ },
  { name: "checks document that is not a mapping", checks: { "checks/ethereum.yaml": "- chain: ethereum\n" }, file: "checks/ethereum.yaml", path: "", message: /the document must be a mapping \(keys: chain, chainId, blockTimeMs, targets, slo, routes, probes, consistency, watchers, watch, chaos\), got a list/ },
  { name: "empty checks file", checks: { "checks/ethereum.yaml": "# nothing yet\n" }, file: "checks/ethereum.yaml", path: "", message: /checks file is empty/ },
  { name: "unknown checks key (typo)", checks: { "checks/ethereum.yaml": `${eth()}consistancy: { interval: 60s }\n` }, file: "checks/ethereum.yaml", path: "consistancy", message: /unknown key \(did you mean "consistency"\?\)/ },
  { name: "unknown probe key (typo)", checks: { "checks/ethereum.yaml": eth({ probes: "probes:\n  - { method: eth_blockNumber, intreval: 10s, assert: [freshness] }\n" }) }, file: "checks/ethereum.yaml", path: "probes[0].intreval", message: /did you mean "interval"/ },
  { name: "missing required field", checks: { "checks/ethereum.yaml": eth({ head: "chain: ethereum\nchainId: 1\n" }) }, file: "checks/ethereum.yaml", path: "blockTimeMs", message: /^is required$/ },
  { name: "chainId missing for a named chain", checks: { "checks/ethereum.yaml": eth({ head: "chain: ethereum\nblockTimeMs: 12s\n" }) }, file: "checks/ethereum.yaml", path: "chainId", message: /is required when chain is a name/ },
  { name: "chainId contradicts a numeric chain", checks: { "checks/ethereum.yaml": eth({ head: "chain: 1\nchainId: 5\nblockTimeMs: 12s\n" }) }, file: "checks/ethereum.yaml", path: "chainId", message: /is 5 but chain is the numeric id 1/ },
  {
    name: "duplicate chain name across files",
    checks: { "checks/a.yaml": eth(), "checks/b.yaml": eth({ head: "chain: ethereum\nchainId: 11155111\nblockTimeMs: 12000\n" }) },
    file: "checks/b.yaml",
    path: "chain",
    message: /chain "ethereum" is already defined in .*a\.yaml/,
  },
  {
    name: "same chain id under two names",
    checks: { "checks/a.yaml": eth(), "checks/b.yaml": eth({ head: "chain: mainnet\nchainId: 1\nblockTimeMs: 12000\n" }) },
    file: "checks/b.yaml",
    path: "chainId",
    message: /chain id 1 is already used by chain "ethereum"/,
  },
  { name: "unknown target", checks: { "checks/ethereum.yaml": `${eth()}targets: [lb, node-b]\n` }, file: "checks/ethereum.yaml", path: "targets[1]", message: /unknown target "node-b" \(did you mean "node-a"\?\)/ },
  { name: "unknown strategy", checks: { "checks/ethereum.yaml": eth({ routes: `${ROUTES}  - { strategy: fastes }\n` }) }, file: "checks/ethereum.yaml", path: "routes[3].strategy", message: /unknown strategy "fastes" \(did you mean "fastest"\?\)/ },
  { name: "route with strategy and provider", checks: { "checks/ethereum.yaml": eth({ routes: `${ROUTES}  - { strategy: fastest, provider: x }\n` }) }, file: "checks/ethereum.yaml", path: "routes[3]", message: /either \{ strategy: \.\.\. \} or \{ provider: \.\.\. \}/ },
  { name: "duplicate route name", checks: { "checks/ethereum.yaml": eth({ routes: `${ROUTES}  - { provider: alchemy }\n` }) }, file: "checks/ethereum.yaml", path: "routes[3]", message: /duplicate route "pin:alchemy" \(same as routes\[1\]\)/ },
  {
    name: "probe names a route that does not exist",
    checks: { "checks/ethereum.yaml": eth({ probes: `${PROBES}  - { method: eth_chainId, routes: [pin:alchemy, pin:quicknode], assert: [chainId] }\n` }) },
    file: "checks/ethereum.yaml",
    path: "probes[1].routes[1]",
    message: /unknown route "pin:quicknode"; routes of ethereum: fastest, pin:alchemy, pin:infura/,
  },
  {
    name: "routes: pinned with no pinned route",
    checks: { "checks/ethereum.yaml": eth({ routes: "routes:\n  - { strategy: fastest }\n", probes: "probes:\n  - { method: eth_chainId, routes: pinned }\n" }) },
    file: "checks/ethereum.yaml",
    path: "probes[0].routes",
    message: /"pinned" selects no route/,
  },
  { name: "bad route selector", checks: { "checks/ethereum.yaml": eth({ probes: "probes:\n  - { method: eth_blockNumber, routes: pined }\n" }) }, file: "checks/ethereum.yaml", path: "probes[0].routes", message: /"all", "pinned", "strategies" or a list/ },
  {
    name: "timeout not shorter than interval",
    checks: { "checks/ethereum.yaml": eth({ probes: "probes:\n  - { method: eth_blockNumber, interval: 10s, timeout: 10s, assert: [freshness] }\n" }) },
    file: "checks/ethereum.yaml",
    path: "probes[0].timeout",
    message: /^must be shorter than interval \(10s\)$/,
  },
  {
    name: "timeout longer than a default interval",
    checks: { "checks/ethereum.yaml": eth({ probes: "probes:\n  - { method: eth_blockNumber, timeout: 15s, assert: [freshness] }\n" }) },
    file: "checks/ethereum.yaml",
    path: "probes[0].timeout",
    message: /must be shorter than interval \(10s\)/,
  },
  { name: "interval under 1 s", checks: { "checks/ethereum.yaml": eth({ probes: "probes:\n  - { method: eth_blockNumber, interval: 900ms, timeout: 100ms, assert: [freshness] }\n" }) }, file: "checks/ethereum.yaml", path: "probes[0].interval", message: /must be at least 1s \(got 900ms\)/ },
  { name: "interval that is not a duration", checks: { "checks/ethereum.yaml": eth({ probes: "probes:\n  - { method: eth_blockNumber, interval: 10 secs please, assert: [freshness] }\n" }) }, file: "checks/ethereum.yaml", path: "probes[0].interval", message: /is not a duration/ },
  { name: "consistency interval under 1 s", checks: { "checks/ethereum.yaml": eth({ extra: "consistency: { interval: 500, timeout: 100 }\n" }) }, file: "checks/ethereum.yaml", path: "consistency.interval", message: /must be at least 1s/ },
  { name: "write method refused", checks: { "checks/ethereum.yaml": eth({ probes: `${PROBES}  - { method: eth_sendRawTransaction, params: ["0x00"] }\n` }) }, file: "checks/ethereum.yaml", path: "probes[1].method", message: /refused by Lasso/ },
  { name: "unknown assertion", checks: { "checks/ethereum.yaml": eth({ probes: "probes:\n  - { method: eth_blockNumber, assert: [freshnes] }\n" }) }, file: "checks/ethereum.yaml", path: "probes[0].assert[0]", message: /unknown assertion "freshnes" \(did you mean "freshness"\?\)/ },
  { name: "unknown shape", checks: { "checks/ethereum.yaml": eth({ probes: `${PROBES}  - { method: eth_getLogs, params: [{}], assert: [shape: list] }\n` }) }, file: "checks/ethereum.yaml", path: "probes[1].assert[0]", message: /unknown shape "list"/ },
  { name: "shape that can never match the method", checks: { "checks/ethereum.yaml": eth({ probes: "probes:\n  - { method: eth_blockNumber, assert: [shape: block, freshness] }\n" }) }, file: "checks/ethereum.yaml", path: "probes[0].assert[0]", message: /eth_blockNumber returns a quantity/ },
  {
    name: "chainId assertion on an unpinned route",
    checks: { "checks/ethereum.yaml": eth({ probes: `${PROBES}  - { method: eth_chainId, routes: all, assert: [chainId] }\n` }) },
    file: "checks/ethereum.yaml",
    path: "probes[1].assert[0]",
    message: /only meaningful on pinned routes: Lasso answers eth_chainId itself on fastest/,
  },
  {
    name: "chainId assertion on another method",
    checks: { "checks/ethereum.yaml": eth({ probes: `${PROBES}  - { method: net_version, routes: pinned, assert: [chainId] }\n` }) },
    file: "checks/ethereum.yaml",
    path: "probes[1].assert[0]",
    message: /this probe calls net_version/,
  },
  {
    name: "freshness without a pinned eth_blockNumber",
    checks: { "checks/ethereum.yaml": eth({ probes: "probes:\n  - { method: eth_blockNumber, routes: [fastest], assert: [freshness] }\n" }) },
    file: "checks/ethereum.yaml",
    path: "probes[0].assert[0]",
    message: /add an eth_blockNumber probe on at least one pinned route/,
  },
  {
    name: "monotonicHead on a method without a head",
    checks: { "checks/ethereum.yaml": eth({ probes: `${PROBES}  - { method: eth_gasPrice, assert: [monotonicHead] }\n` }) },
    file: "checks/ethereum.yaml",
    path: "probes[1].assert[0]",
    message: /monotonicHead needs a head/,
  },
  {
    name: "the same (route, method) in two probes",
    checks: { "checks/ethereum.yaml": eth({ probes: `${PROBES}  - { method: eth_blockNumber, routes: [fastest], interval: 1m }\n` }) },
    file: "checks/ethereum.yaml",
    path: "probes[1].method",
    message: /already probed on route "fastest" by probes\[0\]/,
  },
  {
    name: "consistency with fewer than two pinned routes",
    checks: { "checks/ethereum.yaml": eth({ routes: "routes:\n  - { strategy: fastest }\n  - { provider: alchemy }\n", extra: "consistency: { interval: 60s }\n" }) },
    file: "checks/ethereum.yaml",
    path: "consistency",
    message: /needs at least two pinned routes .* ethereum has 1 \(pin:alchemy\)/,
  },
  {
    name: "consistency without a pinned head",
    checks: { "checks/ethereum.yaml": eth({ probes: "probes:\n  - { method: eth_blockNumber, routes: [fastest] }\n", extra: "consistency: { interval: 60s }\n" }) },
    file: "checks/ethereum.yaml",
    path: "consistency",
    message: /needs the pinned providers' consensus head/,
  },
  {
    name: "watcher on an unknown route",
    checks: { "checks/ethereum.yaml": eth({ extra: "watchers:\n  - { subscription: newHeads, routes: [fastest, pin:alchemi] }\n" }) },
    file: "checks/ethereum.yaml",
    path: "watchers[0].routes[1]",
    message: /unknown route "pin:alchemi" \(did you mean "pin:alchemy"\?\); routes of ethereum: fastest, pin:alchemy, pin:infura/,
  },
  { name: "unknown subscription type", checks: { "checks/ethereum.yaml": eth({ extra: "watchers:\n  - { subscription: newPendingTransactions, routes: all }\n" }) }, file: "checks/ethereum.yaml", path: "watchers[0].subscription", message: /unknown subscription "newPendingTransactions"; expected one of newHeads, logs/ },
  { name: "unknown watcher key (typo)", checks: { "checks/ethereum.yaml": eth({ extra: "watchers:\n  - { subscription: newHeads, routes: all, stalBlockTimes: 2 }\n" }) }, file: "checks/ethereum.yaml", path: "watchers[0].stalBlockTimes", message: /did you mean "stallBlockTimes"/ },
  { name: "watcher without routes", checks: { "checks/ethereum.yaml": eth({ extra: "watchers:\n  - { subscription: newHeads }\n" }) }, file: "checks/ethereum.yaml", path: "watchers[0].routes", message: /^is required$/ },
  { name: "logs watcher without a filter", checks: { "checks/ethereum.yaml": eth({ extra: "watchers:\n  - { subscription: logs, routes: [fastest] }\n" }) }, file: "checks/ethereum.yaml", path: "watchers[0].filter", message: /is required for a logs watcher/ },
  { name: "newHeads watcher with a filter", checks: { "checks/ethereum.yaml": eth({ extra: 'watchers:\n  - { subscription: newHeads, routes: [fastest], filter: { topics: ["0x' + "a".repeat(64) + '"] } }\n' }) }, file: "checks/ethereum.yaml", path: "watchers[0].filter", message: /newHeads takes no filter/ },
  { name: "logs filter with a bad address", checks: { "checks/ethereum.yaml": eth({ extra: 'watchers:\n  - { subscription: logs, routes: [fastest], filter: { address: "0x1234" } }\n' }) }, file: "checks/ethereum.yaml", path: "watchers[0].filter.address", message: /must be a contract address \("0x" \+ 40 hex digits\)/ },
  { name: "logs filter with five topics", checks: { "checks/ethereum.yaml": eth({ extra: "watchers:\n  - { subscription: logs, routes: [fastest], filter: { topics: [null, null, null, null, null] } }\n" }) }, file: "checks/ethereum.yaml", path: "watchers[0].filter.topics", message: /a log has at most 4 topics/ },
  { name: "logs filter matching everything", checks: { "checks/ethereum.yaml": eth({ extra: "watchers:\n  - { subscription: logs, routes: [fastest], filter: { topics: [null] } }\n" }) }, file: "checks/ethereum.yaml", path: "watchers[0].filter", message: /needs an address or at least one topic/ },
  { name: "unknown logs filter key", checks: { "checks/ethereum.yaml": eth({ extra: "watchers:\n  - { subscription: logs, routes: [fastest], filter: { fromBlock: latest } }\n" }) }, file: "checks/ethereum.yaml", path: "watchers[0].filter.fromBlock", message: /unknown key; allowed here: address, topics/ },
  { name: "stallBlockTimes on a logs watcher", checks: { "checks/ethereum.yaml": eth({ extra: 'watchers:\n  - { subscription: logs, routes: [fastest], stallBlockTimes: 3, filter: { address: "0x' + "1".repeat(40) + '" } }\n' }) }, file: "checks/ethereum.yaml", path: "watchers[0].stallBlockTimes", message: /only newHeads watchers detect stalls/ },
  {
    name: "two watchers with the same name",
    checks: { "checks/ethereum.yaml": eth({ extra: "watchers:\n  - { subscription: newHeads, routes: [fastest] }\n  - { subscription: newHeads, routes: all }\n" }) },
    file: "checks/ethereum.yaml",
    path: "watchers[1]",
    message: /watcher "newHeads:fastest" is already defined by watchers\[0\]; give one of them a name/,
  },
  { name: "watch.httpRoute unknown", checks: { "checks/ethereum.yaml": eth({ extra: "watch: { httpRoute: fastes }\nwatchers:\n  - { subscription: newHeads, routes: all }\n" }) }, file: "checks/ethereum.yaml", path: "watch.httpRoute", message: /unknown route "fastes" \(did you mean "fastest"\?\)/ },
  { name: "reconnect initial above max", checks: { "checks/ethereum.yaml": eth({ extra: "watch: { reconnect: { initial: 10s, max: 5s } }\nwatchers:\n  - { subscription: newHeads, routes: all }\n" }) }, file: "checks/ethereum.yaml", path: "watch.reconnect.initial", message: /must not exceed max \(5s\)/ },
  { name: "head poll faster than 100 ms", checks: { "checks/ethereum.yaml": eth({ extra: "watch: { headPollInterval: 50ms }\nwatchers:\n  - { subscription: newHeads, routes: all }\n" }) }, file: "checks/ethereum.yaml", path: "watch.headPollInterval", message: /must be at least 100ms/ },
  { name: "SLO ratio above 1", checks: { "checks/ethereum.yaml": `${eth()}slo: { successRatio: 99.9 }\n` }, file: "checks/ethereum.yaml", path: "slo.successRatio", message: /must be <= 1/ },
  { name: "freshness ratio above 1", checks: { "checks/ethereum.yaml": `${eth()}slo: { headFreshRatio: 2 }\n` }, file: "checks/ethereum.yaml", path: "slo.headFreshRatio", message: /must be <= 1/ },
  { name: "correctness ratio of 0", checks: { "checks/ethereum.yaml": `${eth()}slo: { correctnessRatio: 0 }\n` }, file: "checks/ethereum.yaml", path: "slo.correctnessRatio", message: /must be > 0/ },
  { name: "consistency ratio not a number", checks: { "checks/ethereum.yaml": `${eth()}slo: { consistencyRatio: high }\n` }, file: "checks/ethereum.yaml", path: "slo.consistencyRatio", message: /must be a ratio, e\.g\. 0\.999/ },
  { name: "delivery delay not a duration", checks: { "checks/ethereum.yaml": `${eth()}slo: { maxDeliveryDelay: soon }\n` }, file: "checks/ethereum.yaml", path: "slo.maxDeliveryDelay", message: /"soon" is not a duration/ },
  { name: "delivery delay of 0", checks: { "checks/ethereum.yaml": `${eth()}slo: { maxDeliveryDelay: 0 }\n` }, file: "checks/ethereum.yaml", path: "slo.maxDeliveryDelay", message: /must be at least 1ms/ },
  { name: "unknown SLO key", checks: { "checks/ethereum.yaml": `${eth()}slo: { maxDeliveryDelayMs: 3000 }\n` }, file: "checks/ethereum.yaml", path: "slo.maxDeliveryDelayMs", message: /unknown key \(did you mean "maxDeliveryDelay"\?\)/ },
];

describe("every validation rule names file, path and reason", () => {
  it("the base case of the rule table is valid", () => {
    const dir = tree({ "canary.yaml": CONFIG, "checks/ethereum.yaml": eth() });
    const plan = loadPlan(path.join(dir, "canary.yaml"), {});
    assert.equal(plan.series.length, 6);
  });

  for (const c of RULES) {
    it(c.name, () => {
      const files: Record<string, string> = { "canary.yaml": c.config ?? CONFIG, ...(c.checks ?? { "checks/ethereum.yaml": eth() }) };
      const dir = tree(files);
      const err = planError(() => loadPlan(path.join(dir, "canary.yaml"), {}));
      assertIssues(err.issues, [{ file: path.join(dir, c.file), path: c.path, message: c.message }]);
    });
  }

  it("a missing config file is reported", () => {
    const dir = tree({});
    const err = planError(() => loadPlan(path.join(dir, "nope.yaml"), {}));
    assertIssues(err.issues, [{ file: path.join(dir, "nope.yaml"), path: "", message: /cannot read config file: file not found/ }]);
  });

  it("points at the line of the offending value", () => {
    const dir = tree({ "canary.yaml": CONFIG, "checks/ethereum.yaml": eth({ probes: "probes:\n  - method: eth_blockNumber\n    interval: 10s\n    timeout: 20s\n" }) });
    const err = planError(() => loadPlan(path.join(dir, "canary.yaml"), {}));
    // HEAD is 3 lines, ROUTES 4, then "probes:", "- method", "interval", "timeout" on line 11
    assert.equal(err.issues[0]?.line, 11);
  });
});

// ------------------------------------------------------------------ many errors, many files

describe("all errors across files are listed", () => {
  it("invalid/multi: config and two checks files, six errors", () => {
    const dir = path.join(FIX, "invalid/multi");
    const err = planError(() => loadPlan(path.join(dir, "canary.yaml"), { LASSO_URL: "http://127.0.0.1:4000" }));
    assertIssues(err.issues, [
      { file: path.join(dir, "canary.yaml"), path: "lsiten", message: /unknown key \(did you mean "listen"\?\)/ },
      { file: path.join(dir, "canary.yaml"), path: "targets[1].url", message: /NODE_A_URL is not set/ },
      { file: path.join(dir, "checks/a.yaml"), path: "probes[0].timeout", message: /must be shorter than interval \(10s\)/ },
      { file: path.join(dir, "checks/a.yaml"), path: "probes[1].routes[0]", message: /unknown route "pin:alchmy" \(did you mean "pin:alchemy"\?\)/ },
      { file: path.join(dir, "checks/b.yaml"), path: "targets[1]", message: /unknown target "node-c"/ },
      { file: path.join(dir, "checks/b.yaml"), path: "probes[0].assert[1]", message: /unknown assertion "fresh"/ },
    ]);
    // PlanError.message and formatPlanErrors list them all, one line each: file: path: message (line N)
    const lines = formatPlanErrors(err).split("\n");
    assert.equal(lines.length, 6);
    const aFile = path.relative(process.cwd(), path.join(dir, "checks/a.yaml"));
    assert.ok(lines.includes(`${aFile}: probes[0].timeout: must be shorter than interval (10s) (line 10)`), lines.join("\n"));
    assert.ok(err.message.includes(`${aFile}: probes[0].timeout: must be shorter than interval (10s)`), err.message);
  });

  it("invalid/syntax: a syntax error with its line, and the other file is still validated", () => {
    const dir = path.join(FIX, "invalid/syntax");
    const err = planError(() => loadPlan(path.join(dir, "canary.yaml"), {}));
    assertIssues(err.issues, [
      { file: path.join(dir, "checks/broken.yaml"), path: "", message: /^YAML syntax error: .*\(column \d+\)$/ },
      { file: path.join(dir, "checks/good.yaml"), path: "probes[0].timeout", message: /must be shorter than interval \(1m\)/ },
    ]);
    const syntax = err.issues.find((i) => i.file.endsWith("broken.yaml"));
    assert.equal(syntax?.line, 6);
  });

  it("a config with a syntax error still gets its checks validated", () => {
    const dir = tree({ "canary.yaml": `${CONFIG}listen: [\n`, "checks/ethereum.yaml": eth({ probes: "probes:\n  - { method: eth_blockNumber, interval: 1s, timeout: 1s }\n" }) });
    const err = planError(() => loadPlan(path.join(dir, "canary.yaml"), {}));
    assertIssues(err.issues, [
      { file: path.join(dir, "canary.yaml"), path: "", message: /YAML syntax error/ },
      { file: path.join(dir, "checks/ethereum.yaml"), path: "probes[0].timeout", message: /shorter than interval/ },
    ], false);
  });

  it("several documents in one file are each validated and labelled", () => {
    const dir = tree({ "canary.yaml": CONFIG, "checks/l2.yaml": `${eth()}---\nchain: base\nchainId: 8453\nblockTimeMs: 2s\nroutes: [{ strategy: fastest }]\nprobes: [{ method: eth_blockNumber, timeout: 20s }]\n` });
    const err = planError(() => loadPlan(path.join(dir, "canary.yaml"), {}));
    assertIssues(err.issues, [{ file: path.join(dir, "checks/l2.yaml"), path: "(document 2) probes[0].timeout", message: /shorter than interval/ }]);
  });
});

// ------------------------------------------------------------------ budget

describe("budget", () => {
  it("a chain over budget is refused with its rate, the budget and a breakdown", () => {
    const dir = path.join(FIX, "invalid/budget");
    const err = planError(() => loadPlan(path.join(dir, "canary.yaml"), {}));
    // 2 targets x 3 routes / 5 s + consistency 2 targets x 2 pins / 60 s
    const rate = (2 * 3) / 5 + (2 * 2) / 60;
    const shown = String(Math.round(rate * 1000) / 1000); // "1.267"
    assertIssues(err.issues, [{ file: path.join(dir, "checks/ethereum.yaml"), path: "probes", message: new RegExp(`chain ethereum plans ${shown.replace(".", "\\.")} req/s, over the budget of 1 req/s`) }]);
    assert.match(err.issues[0]?.message ?? "", /probes\[0\] eth_blockNumber: 6 series every 5s = 1\.2; consistency: 2 target\(s\) x 2 requests every 1m = 0\.067/);
  });

  it("a chain exactly at budget is accepted (no float rounding refusal)", () => {
    // 2 targets x 3 routes / 5 s = 1.2 req/s against a budget of 1.2; 3 x 0.1 style sums must not tip it over
    const config = CONFIG.replace("maxRequestsPerSecondPerChain: 100", "maxRequestsPerSecondPerChain: 1.2");
    const checks = eth({ probes: "probes:\n  - { method: eth_blockNumber, interval: 10s, assert: [freshness] }\n  - { method: eth_chainId, interval: 10s, routes: pinned }\n  - { method: eth_gasPrice, interval: 10s, routes: [fastest] }\n" });
    const plan = loadPlan(path.join(tree({ "canary.yaml": config, "checks/ethereum.yaml": checks }), "canary.yaml"), {});
    // 2 x (3 + 2 + 1) / 10 = 1.2
    assert.ok(Math.abs((plan.ratePerChain.ethereum ?? NaN) - 1.2) < 1e-9, `ethereum ${plan.ratePerChain.ethereum} req/s`);
    const over = config.replace("1.2", "1.19");
    const err = planError(() => loadPlan(path.join(tree({ "canary.yaml": over, "checks/ethereum.yaml": checks }), "canary.yaml"), {}));
    assert.match(err.issues[0]?.message ?? "", /plans 1\.2 req\/s, over the budget of 1\.19 req\/s/);
  });
});

// ------------------------------------------------------------------ secrets

describe("redaction", () => {
  it("redactUrl keeps scheme, host and port and masks credentials", () => {
    assert.equal(redactUrl("https://user:pass@eth-mainnet.g.alchemy.com/v2/AbCdEfGhIjKlMnOpQrStUvWxYz012345"), "https://***@eth-mainnet.g.alchemy.com/v2/***");
    assert.equal(redactUrl("https://rpc.example.com/v3/0123456789abcdef0123456789abcdef"), "https://rpc.example.com/v3/***");
    assert.equal(redactUrl("http://lasso:4000/rpc?key=s3cret&chain=1"), "http://lasso:4000/rpc?key=***&chain=***");
    assert.equal(redactUrl("https://lasso.example.com:8443/base/path"), "https://lasso.example.com:8443/base/path");
    assert.equal(redactUrl("http://lasso-a:4000"), "http://lasso-a:4000");
    assert.equal(redactUrl("https://x.quiknode.pro/9f8e7d6c5b4a39281716/"), "https://x.quiknode.pro/***/");
    const junk = redactUrl("not a url //me:pw@h token AbCdEf0123456789XyZ ?k=v");
    assert.ok(!junk.includes("pw") && !junk.includes("AbCdEf0123456789XyZ") && !junk.includes("=v"), junk);
  });

  it("validation errors about a URL never show its secrets", () => {
    const config = CONFIG.replace("http://127.0.0.1:4001", `ftp://me:hunter2@lasso/v2/${SECRET_KEY}?apikey=topsecret`);
    const err = planError(() => loadPlan(path.join(tree({ "canary.yaml": config, "checks/ethereum.yaml": eth() }), "canary.yaml"), {}));
    const text = formatPlanErrors(err);
    assert.match(text, /targets\[1\]\.url: must be an http/);
    assert.ok(!text.includes("hunter2") && !text.includes(SECRET_KEY) && !text.includes("topsecret"), text);
  });

  it("an unparseable URL from the environment is not echoed", () => {
    const err = planError(() => loadPlan(path.join(REPO, "config/canary.yaml"), { LASSO_URL: `lasso.example.com/${SECRET_KEY}` }));
    const text = formatPlanErrors(err);
    assert.match(text, /targets\[0\]\.url: .*not a valid URL/);
    assert.ok(!text.includes(SECRET_KEY), text);
  });
});

// ------------------------------------------------------------------ auth headers and transport

describe("target headers and route transport", () => {
  const withConfig = (config: string, checks = eth(), env: Record<string, string> = {}): Plan =>
    loadPlan(path.join(tree({ "canary.yaml": config, "checks/ethereum.yaml": checks }), "canary.yaml"), env);
  const HEADER_CONFIG = `targets:
  - name: lb
    url: "http://127.0.0.1:4000"
    headers: { Authorization: "Bearer \${LASSO_TOKEN}", X-Api-Key: "\${LASSO_KEY:-k-default}" }
checks: checks
`;

  it("resolves ${ENV} in header values and shows only header names in the summary", () => {
    const plan = withConfig(HEADER_CONFIG, eth(), { LASSO_TOKEN: "tok-s3cret" });
    assert.deepEqual(plan.targets[0]?.headers, { Authorization: "Bearer tok-s3cret", "X-Api-Key": "k-default" });
    const summary = summarizePlan(plan);
    assert.match(summary, /headers: Authorization: \*\*\*, X-Api-Key: \*\*\*/);
    assert.ok(!summary.includes("tok-s3cret") && !summary.includes("k-default"), summary);
  });

  it("refuses credentials in a target URL's userinfo, hinting at headers, without echoing them", () => {
    const config = CONFIG.replace("http://127.0.0.1:4000", "https://canary:hunter2@lasso.example.com/");
    const err = planError(() => withConfig(config));
    const text = formatPlanErrors(err);
    assert.match(text, /targets\[0\]\.url: must not carry credentials before the host .*headers: \{ Authorization: "Basic \$\{LASSO_BASIC_AUTH\}" \}/);
    assert.ok(!text.includes("hunter2"), text);
  });

  const badHeaders: [string, string, RegExp][] = [
    ["a reserved header", '{ Host: "x" }', /targets\[0\]\.headers\.Host: "Host" is set by lasso-canary itself/],
    ["a WebSocket handshake header", '{ Sec-WebSocket-Protocol: "x" }', /Sec-WebSocket-Protocol: .*set by lasso-canary itself/],
    ["an invalid name", '{ "bad header": "x" }', /"bad header" is not a valid HTTP header name/],
    ["a multi-line value", '{ X-Key: "a\\nb" }', /X-Key: value must be a single line/],
    ["a number value", "{ X-Key: 5 }", /X-Key: must be a string/],
  ];
  for (const [name, headers, message] of badHeaders) {
    it(`refuses ${name}`, () => {
      const config = `targets:\n  - { name: lb, url: "http://127.0.0.1:4000", headers: ${headers} }\nchecks: checks\n`;
      assert.match(formatPlanErrors(planError(() => withConfig(config))), message);
    });
  }

  it("pins request transport=http by default; a route may ask for ws or any; strategies default to any", () => {
    const routes = "routes:\n  - { strategy: fastest }\n  - { strategy: load-balanced, transport: ws }\n  - { provider: alchemy }\n  - { provider: infura, transport: any }\n";
    const plan = withConfig(CONFIG, eth({ routes }));
    assert.deepEqual(plan.chains[0]?.routes.map((r) => [r.name, r.transport]), [
      ["fastest", "any"], ["load-balanced", "ws"], ["pin:alchemy", "http"], ["pin:infura", "any"],
    ]);
    assert.match(summarizePlan(plan), /pin:alchemy\s+\/rpc\/provider\/alchemy\/ethereum\?transport=http/);
  });

  it("refuses an unknown transport", () => {
    const routes = "routes:\n  - { provider: alchemy, transport: grpc }\n";
    assert.match(formatPlanErrors(planError(() => withConfig(CONFIG, eth({ routes })))), /routes\[0\]\.transport: unknown transport "grpc"; expected one of http, ws, any/);
  });
});

// ------------------------------------------------------------------ soak

describe("soak", () => {
  const withSoak = (soak: string, config = CONFIG): string => tree({ "canary.yaml": `${config}${soak}\n`, "checks/ethereum.yaml": eth() });

  it("absent or disabled: no soak plan; defaults filled in; the first chain planned for a node", () => {
    assert.equal(loadPlan(path.join(withSoak(""), "canary.yaml"), {}).soak, null);
    assert.equal(loadPlan(path.join(withSoak("soak: { enabled: false, targets: [node-a] }"), "canary.yaml"), {}).soak, null);
    const plan = loadPlan(path.join(withSoak("soak: { targets: [node-a] }"), "canary.yaml"), {});
    assert.deepEqual(plan.soak, {
      pollIntervalMs: 60_000, timeoutMs: 10_000, windowMs: 6 * 3_600_000, warmupMs: 30 * 60_000, minSpanMs: 2 * 3_600_000, confidence: 0.95,
      minPercentPerHour: 0.5, minAbsPerHour: { memory_mb: 1, process_count: 1, run_queue: 1, rss_mb: 1, heap_mb: 1, loop_lag_ms: 1 },
      restartDropRatio: 0.5, targets: [{ target: "node-a", chain: "ethereum" }],
    });
    assert.match(summarizePlan(plan), /soak: every 1m .*nodes: node-a \(\/api\/metrics\/ethereum\)/);
  });

  it("the polls count toward the chain's budget and appear in its breakdown", () => {
    const without = loadPlan(path.join(withSoak(""), "canary.yaml"), {}).ratePerChain.ethereum ?? NaN;
    const plan = loadPlan(path.join(withSoak("soak: { pollInterval: 10s, targets: [node-a, { name: lb, chain: ethereum }] }"), "canary.yaml"), {});
    // 2 nodes x 2 requests every 10 s.
    assert.equal(((plan.ratePerChain.ethereum ?? NaN) - without).toFixed(6), "0.400000");
    const over = withSoak("soak: { pollInterval: 1s, targets: [node-a] }", CONFIG.replace("maxRequestsPerSecondPerChain: 100", `maxRequestsPerSecondPerChain: ${without + 1}`));
    const err = planError(() => loadPlan(path.join(over, "canary.yaml"), {}));
    assert.match(formatPlanErrors(err), /over the budget.*soak: 1 node\(s\) \(node-a\) x 2 requests \(\/api\/metrics, \/api\/health\) every 1s = 2/);
  });

  it("bad soak settings are refused with file and path", () => {
    const dir = withSoak([
      "soak:",
      "  pollInterval: 10s",
      "  timeout: 10s",
      "  window: 1h",
      "  minSpan: 2h",
      "  confidence: 1.5",
      "  minAbsPerHour: { memory_mb: -1, swap_mb: 3 }",
      "  targets: [node-x, node-a, node-a, { name: lb, chain: solana }]",
    ].join("\n"));
    const file = path.join(dir, "canary.yaml");
    const err = planError(() => loadPlan(file, {}));
    assertIssues(err.issues, [
      { file, path: "soak.timeout", message: /must be shorter than pollInterval \(10s\)/ },
      { file, path: "soak.minSpan", message: /must not exceed window \(1h\)/ },
      { file, path: "soak.confidence", message: /must be < 1/ },
      { file, path: "soak.minAbsPerHour.memory_mb", message: /must be >= 0/ },
      { file, path: "soak.minAbsPerHour.swap_mb", message: /unknown key.*allowed here: memory_mb, process_count, run_queue, rss_mb, heap_mb, loop_lag_ms/ },
    ]);
    const targetsOnly = withSoak("soak: { targets: [node-x, node-a, node-a, { name: lb, chain: solana }] }");
    const file2 = path.join(targetsOnly, "canary.yaml");
    assertIssues(planError(() => loadPlan(file2, {})).issues, [
      { file: file2, path: "soak.targets[0]", message: /unknown target "node-x" \(did you mean "node-a"\?\)/ },
      { file: file2, path: "soak.targets[2]", message: /listed twice/ },
      { file: file2, path: "soak.targets[3].chain", message: /chain "solana" is not in the checks/ },
    ]);
  });

  it("a window too short to hold the minimum of polls is refused", () => {
    const file = path.join(withSoak("soak: { pollInterval: 1m, window: 5m, minSpan: 5m }"), "canary.yaml");
    assertIssues(planError(() => loadPlan(file, {})).issues, [{ file, path: "soak.minSpan", message: /must hold at least 10 polls/ }]);
  });
});
