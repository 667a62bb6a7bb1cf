/**
 * The Lasso-compatible target (sim/lasso) over HTTP, against a real anvil node with three
 * FaultProxy "providers" in front of it: strategy routes hide a dead provider, pinned routes
 * expose it, routing metadata decodes, limits and local answers, /api endpoints, defects.
 */
import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { NO_DEFECTS } from "../sim/lasso/index.js";
import { isObj, obj, type Json, type Obj } from "./helpers/json.js";
import { CHAIN, CHAIN_ID, IDS, providerStatus as providerStatusOf, useSimBed, waitHealthy, type Id } from "./helpers/simBed.js";
import { waitFor } from "./helpers/waitFor.js";

const bed = useSimBed((proxy) => {
  const providers = IDS.map((id, i) => ({ id, name: `Provider ${id.toUpperCase()}`, priority: i, url: proxy(id).httpUrl, wsUrl: proxy(id).wsUrl }));
  return {
    profiles: [
      { slug: "public", chains: [{ name: CHAIN, displayName: "Anvil Local", chainId: CHAIN_ID, blockTimeMs: 1000, providers }] },
      {
        slug: "canary",
        chains: [{ name: CHAIN, chainId: CHAIN_ID, blockTimeMs: 1000, providers: [{ id: "canary-x", priority: 0, url: proxy("a").httpUrl, wsUrl: proxy("a").wsUrl }] }],
      },
    ],
    breaker: { openMs: 1500 },
    healthPollMs: 250,
  };
});
const proxy = bed.proxy;
const theSim = bed.sim;

interface HttpAnswer {
  status: number;
  headers: Headers;
  body: Json;
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const res = await fetch(theSim().url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === "" ? null : (JSON.parse(text) as Json) };
}

async function get(path: string, headers: Record<string, string> = { accept: "application/json" }): Promise<HttpAnswer> {
  const res = await fetch(theSim().url + path, { headers, signal: AbortSignal.timeout(15_000) });
  return { status: res.status, headers: res.headers, body: JSON.parse(await res.text()) as Json };
}

function req(method: string, params: Json[] = [], id: Json = 1): Obj {
  return { jsonrpc: "2.0", id, method, params };
}

function meta(body: Json): Obj {
  return obj(obj(body, "response")["lasso_meta"], "lasso_meta");
}

function selectedId(m: Obj): string {
  return String(obj(m["selected_provider"], "selected_provider")["id"]);
}

function decodeMetaHeader(h: Headers): Obj {
  const raw = h.get("x-lasso-meta");
  assert.ok(raw, "X-Lasso-Meta header present");
  assert.match(raw, /^[A-Za-z0-9_-]+$/, "base64url without padding");
  return obj(JSON.parse(Buffer.from(raw, "base64url").toString("utf8")), "decoded X-Lasso-Meta");
}

/** Clears faults and defects and waits until every provider is back in rotation with closed circuits. */
async function recover(): Promise<void> {
  for (const p of bed.proxies()) p.clearFault();
  theSim().setDefects(NO_DEFECTS);
  await waitHealthy(theSim());
}

const providerStatus = (): Promise<Obj[]> => providerStatusOf(theSim());

describe("lasso sim over HTTP", () => {
  afterEach(recover);

  test("a dead provider is invisible on strategy routes: 200/200 succeed, only the others serve", async () => {
    await recover();
    proxy("b").setFault({ kind: "reset" }, 120_000);
    const routes = [`/rpc/${CHAIN}`, `/rpc/load-balanced/${CHAIN}`, `/rpc/round-robin/${CHAIN}`, `/rpc/fastest/${CHAIN}`, `/rpc/latency-weighted/${CHAIN}`];
    let failedOver = 0;
    const served = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const r = await post(`${routes[i % routes.length]}?include_meta=body`, req("eth_blockNumber", [], i));
      const body = obj(r.body, "response");
      assert.equal(r.status, 200);
      assert.equal(typeof body["result"], "string", `request ${i} succeeded: ${JSON.stringify(body)}`);
      const m = meta(body);
      const sel = selectedId(m);
      assert.notEqual(sel, "b", "the dead provider never serves");
      served.add(sel);
      if (Number(m["retries"]) > 0) failedOver += 1;
    }
    assert.ok(failedOver > 0, "some requests reached the dead provider and failed over");
    assert.deepEqual([...served].sort(), ["a", "c"]);
    // After the breaker opens (or the provider falls behind) it is no longer even a candidate.
    await waitFor(
      async () => {
        const m = meta((await post(`/rpc/${CHAIN}?include_meta=body`, req("eth_blockNumber"))).body);
        const cands = m["candidate_providers"];
        return Array.isArray(cands) && !cands.includes("b:http") && cands.includes("a:http");
      },
      { timeoutMs: 15_000, message: "b dropped from candidate_providers" },
    );
    const ps = await providerStatus();
    const b = ps.find((p) => p["id"] === "b");
    assert.ok(b && (b["circuit"] === "open" || b["lagging"] === true), "b excluded by breaker or lag");
  });

  test("noFailover defect: a failed attempt reaches the client", async () => {
    await recover();
    theSim().setDefects({ noFailover: true });
    proxy("c").setFault({ kind: "http_5xx", status: 503 }, 120_000);
    const errors: Obj[] = [];
    for (let i = 0; i < 30 && errors.length === 0; i++) {
      const body = obj((await post(`/rpc/${CHAIN}`, req("eth_blockNumber"))).body, "response");
      if ("error" in body) errors.push(obj(body["error"], "error"));
    }
    assert.ok(errors.length > 0, "with noFailover the dead provider's failure is visible");
    assert.equal(errors[0]?.["code"], -32002);
  });

  test("a dead provider under its pinned routes fails visibly when HTTP is forced", async (t) => {
    const killB = async (): Promise<void> => {
      await recover();
      proxy("b").setFault({ kind: "http_5xx", status: 503 }, 120_000);
    };
    // afterEach(recover) runs after every subtest too: each case kills b itself.
    for (const path of [`/rpc/provider/b/${CHAIN}`, `/rpc/${CHAIN}/b`, `/rpc/profile/public/provider/b/${CHAIN}`]) await t.test(path, async () => {
      await killB();
      const r = await post(`${path}?include_meta=body&transport=http`, req("eth_blockNumber"));
      const body = obj(r.body, "response");
      assert.ok(!("result" in body), `${path} has no result`);
      const err = obj(body["error"], "error");
      assert.equal(err["code"], -32002, `pinned error surfaced: ${JSON.stringify(err)}`);
      assert.equal(err["message"], "Server error");
      assert.equal(obj(err["data"], "data")["status"], 503);
      assert.equal(meta(body)["retries"], 0, "pinned requests never fail over");
      assert.deepEqual(meta(body)["candidate_providers"], ["b:http"]);
    });
    await killB();
    // eth_chainId is forwarded on pinned routes, so it fails too.
    const chainIdPinned = obj((await post(`/rpc/provider/b/${CHAIN}?transport=http`, req("eth_chainId"))).body, "response");
    assert.ok("error" in chainIdPinned, JSON.stringify(chainIdPinned));
    // Unforced, the pin falls back to the same provider's upstream WebSocket (already open).
    const viaWs = obj((await post(`/rpc/provider/b/${CHAIN}?include_meta=body`, req("eth_blockNumber"))).body, "response");
    assert.match(String(viaWs["result"]), /^0x[0-9a-f]+$/, JSON.stringify(viaWs));
    assert.deepEqual(meta(viaWs)["selected_provider"], { id: "b", protocol: "ws" });
    assert.deepEqual(meta(viaWs)["candidate_providers"], ["b:http", "b:ws"]);
    assert.equal(meta(viaWs)["retries"], 1, "one step from b:http to b:ws, never to another provider");
    // A healthy pinned provider answers over HTTP first and is named in the metadata.
    const ok = obj((await post(`/rpc/${CHAIN}/a?include_meta=body`, req("eth_blockNumber"))).body, "response");
    assert.equal(typeof ok["result"], "string");
    const m = meta(ok);
    assert.deepEqual(m["selected_provider"], { id: "a", protocol: "http" });
    assert.deepEqual(m["candidate_providers"], ["a:http", "a:ws"]);
  });

  test("routing metadata decodes in headers and body mode with every documented field", async (t) => {
    await recover();
    const cases: Array<[string, string]> = [
      [`/rpc/${CHAIN}`, "load_balanced"],
      [`/rpc/round-robin/${CHAIN}`, "load_balanced"],
      [`/rpc/fastest/${CHAIN}`, "fastest"],
      [`/rpc/latency-weighted/${CHAIN}`, "latency_weighted"],
      [`/rpc/profile/public/fastest/${CHAIN_ID}`, "fastest"],
    ];
    const check = (m: Obj, strategy: string): void => {
      assert.equal(m["version"], "1.0");
      assert.match(String(m["request_id"]), /^[0-9a-f]{32}$/);
      assert.equal(m["strategy"], strategy);
      assert.equal(m["chain_id"], CHAIN_ID);
      assert.equal(m["transport"], "http", "no transport forced: Lasso reports http whatever channel served");
      const cands = m["candidate_providers"];
      assert.ok(Array.isArray(cands) && cands.length === 6 && cands.every((c) => typeof c === "string" && /^[abc]:(http|ws)$/.test(c)), JSON.stringify(cands));
      const sel = obj(m["selected_provider"], "selected_provider");
      assert.ok(IDS.includes(String(sel["id"]) as Id), `selected provider ${String(sel["id"])} is one of ${IDS.join(", ")}`);
      assert.ok(sel["protocol"] === "http" || sel["protocol"] === "ws", JSON.stringify(sel));
      for (const k of ["selection_latency_ms", "upstream_latency_ms", "end_to_end_latency_ms", "lasso_overhead_ms"]) {
        assert.equal(typeof m[k], "number", k);
        assert.ok(Number(m[k]) >= 0, k);
      }
      assert.ok(Number(m["end_to_end_latency_ms"]) >= Number(m["upstream_latency_ms"]),
        `end to end ${String(m["end_to_end_latency_ms"])} ms includes upstream ${String(m["upstream_latency_ms"])} ms`);
      assert.equal(m["retries"], 0);
      assert.equal(m["circuit_breaker_state"], "closed");
    };
    for (const [path, strategy] of cases) await t.test(`${path} (${strategy})`, async () => {
      const viaQuery = await post(`${path}?include_meta=headers`, req("eth_blockNumber"));
      const hm = decodeMetaHeader(viaQuery.headers);
      check(hm, strategy);
      assert.equal(viaQuery.headers.get("x-lasso-request-id"), hm["request_id"]);
      assert.ok(!("lasso_meta" in obj(viaQuery.body, "response")), "headers mode leaves the body alone");

      const viaHeader = await post(path, req("eth_blockNumber"), { "X-Lasso-Include-Meta": "headers" });
      check(decodeMetaHeader(viaHeader.headers), strategy);

      const viaBody = await post(`${path}?include_meta=body`, req("eth_blockNumber"));
      check(meta(viaBody.body), strategy);
      assert.equal(viaBody.headers.get("x-lasso-meta"), null);
    });
    // Without opt-in there is no metadata at all.
    const plain = await post(`/rpc/${CHAIN}`, req("eth_blockNumber"));
    assert.equal(plain.headers.get("x-lasso-meta"), null);
    assert.equal(obj(plain.body, "response")["lasso_meta"], undefined, "no lasso_meta in the body unless asked for");
    // Profiles route to their own providers.
    const canary = await post(`/rpc/profile/canary/${CHAIN}?include_meta=body`, req("eth_blockNumber"));
    assert.equal(selectedId(meta(canary.body)), "canary-x");
  });

  test("staleRouting defect: a lagging provider is excluded unless the defect is on", async () => {
    await recover();
    proxy("c").setFault({ kind: "stale_head", blocks: 6 }, 120_000);
    await waitFor(async () => (await providerStatus()).find((p) => p["id"] === "c")?.["lagging"] === true, {
      timeoutMs: 15_000,
      message: "c reported lagging",
    });
    for (let i = 0; i < 30; i++) {
      const m = meta((await post(`/rpc/${CHAIN}?include_meta=body`, req("eth_blockNumber"))).body);
      assert.notEqual(selectedId(m), "c", "a provider 6 blocks behind is not selected");
      assert.ok(!(m["candidate_providers"] as Json[]).includes("c:http"), `c:http not a candidate: ${JSON.stringify(m["candidate_providers"])}`);
    }
    theSim().setDefects({ staleRouting: true });
    for (let i = 0; i < 10; i++) {
      const m = meta((await post(`/rpc/${CHAIN}?include_meta=body`, req("eth_blockNumber"))).body);
      assert.equal(selectedId(m), "c", "with staleRouting the most lagging provider is preferred");
    }
  });

  test("local eth_chainId, chain by id, and no channels left", async () => {
    await recover();
    for (const id of IDS) proxy(id).setFault({ kind: "blackhole" }, 120_000);
    const t0 = performance.now();
    const chainId = obj((await post(`/rpc/${CHAIN}`, req("eth_chainId"))).body, "response");
    assert.equal(chainId["result"], "0x7a69", "answered by the sim itself");
    assert.ok(performance.now() - t0 < 900, "no upstream round trip");
    const byId = obj((await post(`/rpc/${CHAIN_ID}`, req("eth_chainId", [], 7))).body, "response");
    assert.deepEqual(byId, { jsonrpc: "2.0", id: 7, result: "0x7a69" });
    // Every upstream down: blackholes time out inside the 1 s eth_blockNumber deadline.
    const t1 = performance.now();
    const dead = obj((await post(`/rpc/${CHAIN_ID}`, req("eth_blockNumber"))).body, "response");
    assert.ok("error" in dead, `an error answer, got ${JSON.stringify(dead)}`);
    assert.ok(performance.now() - t1 < 2500, "bounded by the per-method deadline");
    for (const id of IDS) proxy(id).setFault({ kind: "reset" }, 120_000);
    const noChannels = await waitFor(
      async () => {
        const b = obj((await post(`/rpc/${CHAIN}`, req("eth_blockNumber"))).body, "response");
        const e = isObj(b["error"]) ? b["error"] : null;
        return e && /^No available channels/.test(String(e["message"])) ? e : null;
      },
      { timeoutMs: 20_000, message: "No available channels error" },
    );
    assert.equal(noChannels["code"], -32000);
    assert.equal(typeof obj(noChannels["data"], "data")["retry_after_ms"], "number");
    // With chain id in the URL a live chain answers normally again.
    for (const id of IDS) proxy(id).clearFault();
    await recover();
    const live = obj((await post(`/rpc/${CHAIN_ID}`, req("eth_blockNumber"))).body, "response");
    assert.match(String(live["result"]), /^0x[0-9a-f]+$/);
  });

  test("batches, body limits, parse errors, refused methods, unknown routes", async (t) => {
    await recover();
    const fifty = Array.from({ length: 50 }, (_, i) => req(i % 2 ? "eth_blockNumber" : "eth_chainId", [], i));
    const ok = await post(`/rpc/${CHAIN}`, fifty);
    assert.ok(Array.isArray(ok.body), `a batch answer, got ${JSON.stringify(ok.body)}`);
    assert.equal(ok.body.length, 50);
    assert.deepEqual(ok.body.map((r) => obj(r, "item")["id"]), fifty.map((r) => r["id"]));
    assert.deepEqual(ok.body.filter((r) => typeof obj(r, "item")["result"] !== "string"), [], "every item has a string result");

    const tooMany = await post(`/rpc/${CHAIN}`, [...fifty, req("eth_blockNumber", [], 50)]);
    assert.equal(obj(obj(tooMany.body, "r")["error"], "e")["code"], -32600);
    const empty = await post(`/rpc/${CHAIN}`, []);
    assert.equal(obj(obj(empty.body, "r")["error"], "e")["code"], -32600);

    const huge = await post(`/rpc/${CHAIN}`, JSON.stringify({ ...req("eth_blockNumber"), pad: "x".repeat(8 * 1024 * 1024 + 16) }));
    assert.equal(obj(obj(huge.body, "r")["error"], "e")["code"], -32600);

    const malformed = await post(`/rpc/${CHAIN}`, '{"jsonrpc":"2.0","id":1,"method":');
    assert.equal(obj(obj(malformed.body, "r")["error"], "e")["code"], -32700);

    for (const m of ["eth_sendRawTransaction", "eth_sendTransaction", "eth_sign"]) await t.test(`${m} is refused with -32601`, async () => {
      const r = await post(`/rpc/${CHAIN}`, req(m, ["0x00"]));
      assert.equal(obj(obj(r.body, "r")["error"], "e")["code"], -32601, m);
    });
    const sub = obj(obj((await post(`/rpc/fastest/${CHAIN}`, req("eth_subscribe", ["newHeads"]))).body, "r")["error"], "e");
    assert.equal(sub["code"], -32601);
    assert.equal(obj(sub["data"], "data")["websocket_url"], `/ws/rpc/fastest/${CHAIN}`);

    const noteOnly = await post(`/rpc/${CHAIN}`, { jsonrpc: "2.0", method: "eth_blockNumber" });
    assert.equal(noteOnly.status, 204, "a notification gets no body");

    const badChain = await post(`/rpc/nochain`, req("eth_blockNumber"));
    assert.equal(badChain.status, 400);
    assert.equal(obj(obj(badChain.body, "r")["error"], "e")["code"], -32602);
    const badProfile = await post(`/rpc/profile/nope/${CHAIN}`, req("eth_blockNumber"));
    assert.equal(badProfile.status, 404);
    assert.equal(obj(obj(badProfile.body, "r")["error"], "e")["code"], -32000);
    const badProvider = await post(`/rpc/provider/zzz/${CHAIN}`, req("eth_blockNumber"));
    assert.equal(badProvider.status, 400);
    assert.match(String(obj(obj(badProvider.body, "r")["error"], "e")["message"]), /Provider 'zzz'/);
  });

  test("/api endpoints have Lasso's shape; memory growth defect shows in memory_mb", async () => {
    await recover();
    const h = obj((await get("/api/health")).body, "health");
    assert.equal(h["status"], "healthy");
    assert.ok(!Number.isNaN(Date.parse(String(h["timestamp"]))), `a parseable timestamp, got ${String(h["timestamp"])}`);
    assert.equal(typeof h["uptime_seconds"], "number");
    assert.equal(typeof h["version"], "string");
    assert.deepEqual(h["cluster"], { enabled: false, nodes_connected: 1, nodes_responding: 1, nodes_total: 1, regions: [], status: "standalone" });

    const chains = obj((await get("/api/chains")).body, "chains");
    assert.deepEqual(chains["chains"], [{ chain_id: "31337", name: "Anvil Local", chain_name: CHAIN, supported: true }]);

    for (let i = 0; i < 3; i++) await post(`/rpc/provider/a/${CHAIN}?transport=http`, req("eth_blockNumber"));
    await post(`/rpc/provider/b/${CHAIN}?transport=http`, req("eth_getBalance", ["0x0000000000000000000000000000000000000000", "latest"]));
    const m = obj((await get(`/api/metrics/${CHAIN}`)).body, "metrics");
    assert.equal(m["chain"], CHAIN);
    assert.equal(m["chain_id"], CHAIN_ID);
    const sys = obj(m["system_metrics"], "system_metrics");
    assert.deepEqual(Object.keys(sys).sort(), ["cpu_percent", "memory_mb", "process_count", "run_queue"]);
    for (const k of ["memory_mb", "process_count", "run_queue", "cpu_percent"]) assert.equal(typeof sys[k], "number", k);
    assert.equal(Number(Number(sys["memory_mb"]).toFixed(1)), Number(sys["memory_mb"]), "memory_mb to 0.1 MB");
    const mem = process.memoryUsage();
    const vmMb = (mem.heapTotal + mem.external) / (1024 * 1024);
    assert.ok(Math.abs(Number(sys["memory_mb"]) - vmMb) < 64, `memory_mb models runtime-allocated memory (${String(sys["memory_mb"])} vs ${vmMb.toFixed(1)})`);
    const provs = m["providers"];
    assert.ok(Array.isArray(provs), "providers is a list");
    assert.ok(provs.some((x) => obj(x, "provider")["id"] === "a") && provs.some((x) => obj(x, "provider")["id"] === "b"), "providers with calls are listed");
    for (const p of provs.map((x) => obj(x, "provider"))) {
      assert.deepEqual(Object.keys(p).sort(), ["avg_latency_ms", "calls_last_minute", "id", "name", "score", "success_rate", "total_calls"], "exactly Lasso's provider fields");
      assert.match(String(p["name"]), /^Provider [ABC]$/);
      assert.ok(Number(p["calls_last_minute"]) >= 1 && Number(p["calls_last_minute"]) <= Number(p["total_calls"]), JSON.stringify(p));
    }
    const scores = provs.map((x) => Number(obj(x, "provider")["score"]));
    assert.deepEqual([...scores].sort((x, y) => y - x), scores, "sorted by score, best first");
    const byMethod = m["rpc_performance_by_method"];
    assert.ok(Array.isArray(byMethod), "rpc_performance_by_method");
    const balance = byMethod.map((x) => obj(x, "row")).find((x) => x["method"] === "eth_getBalance");
    assert.ok(balance, "eth_getBalance row");
    const row = obj((balance["providers"] as Json[])[0] ?? null, "provider row");
    assert.equal(row["provider_id"], "b");
    for (const k of ["avg_latency_ms", "p50_latency_ms", "p90_latency_ms", "p95_latency_ms", "p99_latency_ms", "success_rate", "total_calls", "last_updated"]) assert.equal(typeof row[k], "number", k);
    const byProvider = m["rpc_performance_by_provider"];
    assert.ok(Array.isArray(byProvider) && byProvider.map((x) => obj(x, "row")["provider_id"]).includes("b"), "rpc_performance_by_provider");
    assert.ok(!("consensus_height" in obj(m["chain_performance"], "chain_performance")), "Lasso exposes no consensus height");
    const byId = await get(`/api/metrics/${CHAIN_ID}`);
    assert.equal(obj(byId.body, "by id")["chain"], CHAIN, "chain by numeric id too");

    const missing = await get("/api/metrics/nochain");
    assert.equal(missing.status, 404);
    const mb = obj(missing.body, "404");
    assert.equal(typeof mb["error"], "string");
    assert.equal(mb["chain"], "nochain");
    assert.deepEqual(mb["available_chains"], [CHAIN]);

    const before = Number(sys["memory_mb"]);
    const put = await fetch(`${theSim().url}/_sim/defects`, { method: "PUT", body: JSON.stringify({ memoryGrowthMbPerMin: 1800 }) });
    assert.equal(put.status, 200);
    assert.equal(theSim().defects().memoryGrowthMbPerMin, 1800);
    await waitFor(
      async () => Number(obj(obj((await get(`/api/metrics/${CHAIN}`)).body, "m")["system_metrics"], "s")["memory_mb"]) > before + 40,
      { timeoutMs: 15_000, message: "memory_mb grows by 40 MB" },
    );
    const bad = await fetch(`${theSim().url}/_sim/defects`, { method: "PUT", body: JSON.stringify({ nope: true }) });
    assert.equal(bad.status, 400);
    const cur = obj((await get("/_sim/defects")).body, "defects");
    assert.equal(cur["memoryGrowthMbPerMin"], 1800);
    assert.equal(cur["noFailover"], false);
  });
});
