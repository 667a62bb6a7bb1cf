/**
 * The Lasso-compatible target against Lasso's own code (jaxernst/lasso-rpc, mix version
 * 0.2.0): error codes of the request pipeline, forced transports and pinned WS fallback,
 * subscription capabilities, refused upgrades, /api/metrics, chain-wide consensus, and the
 * sim's auth front and byte budget. Real anvil, four FaultProxy providers:
 * a (ws), b (ws, no newHeads), c (no ws_url) in "public"; d (ws) alone in "side".
 */
import assert from "node:assert/strict";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { after, afterEach, before, describe, test } from "node:test";
import { startLassoSim, type LassoSim, type LassoSimOptions, type SimProvider } from "../sim/lasso/index.js";
import { startTestBed } from "../sim/testbed.js";
import { FaultProxy, type Fault } from "../src/chaos/faultProxy.js";
import { isObj, obj, type Json, type Obj } from "./helpers/json.js";
import { CHAIN, CHAIN_ID, providerStatus, SimWsClient, useSimBed, waitHealthy, type Id } from "./helpers/simBed.js";
import { waitFor } from "./helpers/waitFor.js";

let proxyD: FaultProxy | undefined;
const clients = new Set<SimWsClient>();
function providersOf(proxy: (id: Id) => FaultProxy): { a: SimProvider; b: SimProvider; c: SimProvider } {
  return {
    a: { id: "a", name: "Provider A", priority: 0, url: proxy("a").httpUrl, wsUrl: proxy("a").wsUrl },
    b: { id: "b", name: "Provider B", priority: 1, url: proxy("b").httpUrl, wsUrl: proxy("b").wsUrl, subscribeNewHeads: false },
    c: { id: "c", name: "Provider C", priority: 2, url: proxy("c").httpUrl },
  };
}

function chainOf(providers: SimProvider[]): LassoSimOptions["profiles"][number]["chains"][number] {
  return { name: CHAIN, chainId: CHAIN_ID, blockTimeMs: 1000, providers };
}

const bed = useSimBed(
  (proxy) => {
    const { a, b, c } = providersOf(proxy);
    assert.ok(proxyD, "proxy d started");
    return {
      profiles: [
        { slug: "public", chains: [chainOf([a, b, c])] },
        { slug: "side", chains: [chainOf([{ id: "d", priority: 0, url: proxyD.httpUrl, wsUrl: proxyD.wsUrl }])] },
        { slug: "nows", chains: [chainOf([{ ...c, priority: 0 }])] },
        // Priority order c, b, a: newHeads can only go to a, logs to b (a ws_url suffices).
        { slug: "mixed", chains: [chainOf([{ ...c, priority: 0 }, { ...b, priority: 1 }, { ...a, priority: 2 }])] },
      ],
      breaker: { openMs: 1500 },
      healthPollMs: 250,
    };
  },
  () => {
    for (const c of [...clients]) c.close();
  },
  async (anvil) => {
    proxyD = new FaultProxy({ name: "d", upstreamHttpUrl: anvil.httpUrl, upstreamWsUrl: anvil.wsUrl });
    await proxyD.start();
  },
);
after(async () => {
  await proxyD?.stop();
});
const proxy = bed.proxy;
const theSim = bed.sim;

async function post(sim: LassoSim, path: string, body: Json, headers: Record<string, string> = {}): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await fetch(sim.url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? null : (JSON.parse(text) as Json), headers: res.headers };
}

function req(method: string, params: Json[] = []): Obj {
  return { jsonrpc: "2.0", id: 1, method, params };
}

/** One eth_blockNumber on `path` with body metadata: the response, its error (if any) and meta. */
async function probe(path: string, headers: Record<string, string> = {}, method = "eth_blockNumber"): Promise<{ body: Obj; error: Obj | null; meta: Obj }> {
  const sep = path.includes("?") ? "&" : "?";
  const body = obj((await post(theSim(), `${path}${sep}include_meta=body`, req(method), headers)).body, "response");
  return { body, error: isObj(body["error"]) ? body["error"] : null, meta: obj(body["lasso_meta"], "lasso_meta") };
}

async function recover(): Promise<void> {
  for (const c of [...clients]) c.close();
  for (const p of [...bed.proxies(), proxyD]) p?.clearFault();
  await waitHealthy(theSim());
}

describe("errors as Lasso's request pipeline returns them", () => {
  afterEach(recover);

  const cases: Array<{ fault: Fault; code: number; message: RegExp; data: (d: Json | undefined) => void }> = [
    { fault: { kind: "blackhole" }, code: -32007, message: /^Request timeout$/, data: (d) => assert.equal(d, undefined, "no data") },
    { fault: { kind: "malformed" }, code: -32000, message: /^Invalid upstream response$/, data: (d) => assert.equal(d, undefined, "no data") },
    { fault: { kind: "http_5xx", status: 502 }, code: -32002, message: /^Server error$/, data: (d) => assert.equal(obj(d, "data")["status"], 502) },
    { fault: { kind: "http_429", retryAfterSec: 3 }, code: -32005, message: /^Rate limited by provider$/, data: (d) => assert.equal(obj(d, "data")["status"], 429) },
    { fault: { kind: "reset" }, code: -32004, message: /^Network error: "/, data: (d) => assert.equal(d, undefined, "no data") },
  ];
  for (const c of cases) {
    test(`upstream ${c.fault.kind} on the final attempt: ${c.code}`, async () => {
      await recover();
      proxy("a").setFault(c.fault, 60_000);
      const t0 = performance.now();
      const r = await probe(`/rpc/provider/a/${CHAIN}?transport=http`);
      assert.ok(performance.now() - t0 < 2500, "bounded by eth_blockNumber's 1 s deadline");
      assert.ok(r.error, `an error: ${JSON.stringify(r.body)}`);
      assert.equal(r.error["code"], c.code, JSON.stringify(r.error));
      assert.match(String(r.error["message"]), c.message);
      c.data(r.error["data"]);
      assert.equal(r.meta["retries"], 0);
    });
  }

  test("429s never open the breaker, 5xx do; then the pin answers No channels available without data", async () => {
    await recover();
    const circuit = async (): Promise<Json | undefined> => (await providerStatus(theSim())).find((p) => p["id"] === "a")?.["circuit"];
    proxy("a").setFault({ kind: "http_429", retryAfterSec: 1 }, 60_000);
    for (let i = 0; i < 8; i++) assert.equal((await probe(`/rpc/provider/a/${CHAIN}?transport=http`)).error?.["code"], -32005);
    assert.equal(await circuit(), "closed", "eight 429s in a row leave the circuit closed");
    proxy("a").setFault({ kind: "http_5xx", status: 503 }, 60_000);
    for (let i = 0; i < 8; i++) await probe(`/rpc/provider/a/${CHAIN}?transport=http`);
    assert.equal(await circuit(), "open", "eight 503s in a row open it");
    const r = await probe(`/rpc/provider/a/${CHAIN}?transport=http`);
    assert.deepEqual(r.error, { code: -32000, message: "No channels available" }, "no data on a pin whose circuit is open");
    assert.deepEqual(r.meta["selected_provider"], { id: "a", protocol: "http" }, "the skipped first candidate");
    assert.equal(r.meta["retries"], 1, "the skip counts as a retry");
  });

  test("the deadline spent between attempts: Request deadline exhausted with data.reason", async () => {
    await recover();
    for (const id of ["a", "b", "c"] as const) proxy(id).setFault({ kind: "blackhole" }, 60_000);
    const r = await probe(`/rpc/${CHAIN}?transport=http`);
    assert.deepEqual(r.error, { code: -32000, message: "Request deadline exhausted", data: { reason: "deadline_exhausted" } });
    assert.equal(r.meta["retries"], 2, "two attempts (60% of the deadline, then the rest), then no time for a third");
  });
});

describe("transport: forced channels, alternation, pinned WS fallback", () => {
  afterEach(recover);

  test("unforced strategy requests are served over both HTTP and the upstream WS; transport stays http", async () => {
    await recover();
    const protocols = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const { meta } = await probe(`/rpc/${CHAIN}`);
      assert.equal(meta["transport"], "http", "Lasso's transport field is the requested one (default http)");
      protocols.add(String(obj(meta["selected_provider"], "sel")["protocol"]));
    }
    assert.deepEqual([...protocols].sort(), ["http", "ws"]);
  });

  const forced: Array<{ name: string; path: string; headers: Record<string, string>; want: "http" | "ws" }> = [
    { name: "?transport=ws", path: `/rpc/${CHAIN}?transport=ws`, headers: {}, want: "ws" },
    { name: "X-Lasso-Transport: ws", path: `/rpc/fastest/${CHAIN}`, headers: { "X-Lasso-Transport": "ws" }, want: "ws" },
    { name: "?transport=http", path: `/rpc/${CHAIN}?transport=http`, headers: {}, want: "http" },
    { name: "the query beats the header", path: `/rpc/${CHAIN}?transport=http`, headers: { "X-Lasso-Transport": "ws" }, want: "http" },
  ];
  for (const f of forced) {
    test(`forced by ${f.name}: every answer over ${f.want}`, async () => {
      await recover();
      for (let i = 0; i < 6; i++) {
        const { meta, body } = await probe(f.path, f.headers);
        assert.match(String(body["result"]), /^0x[0-9a-f]+$/);
        assert.equal(obj(meta["selected_provider"], "sel")["protocol"], f.want);
        assert.equal(meta["transport"], f.want);
        const cands = meta["candidate_providers"];
        assert.ok(Array.isArray(cands) && cands.length > 0 && cands.every((x) => String(x).endsWith(`:${f.want}`)), JSON.stringify(cands));
      }
    });
  }

  test("a ws-served request really crosses the provider's WebSocket", async () => {
    await recover();
    proxy("a").resetCounts();
    const { body, meta } = await probe(`/rpc/provider/a/${CHAIN}?transport=ws`, {}, "web3_clientVersion");
    assert.equal(typeof body["result"], "string", JSON.stringify(body));
    assert.deepEqual(meta["selected_provider"], { id: "a", protocol: "ws" });
    assert.deepEqual(proxy("a").counts()["web3_clientVersion"], { "ws:forwarded": 1 });
  });

  test("an unforced pin whose HTTP fails and whose WS is down ends as No channels available", async () => {
    await recover();
    proxy("b").setFault({ kind: "reset" }, 60_000);
    await waitFor(async () => (await providerStatus(theSim())).find((p) => p["id"] === "b")?.["ws_connected"] === false, { timeoutMs: 10_000, message: "b's upstream WS down" });
    const r = await probe(`/rpc/provider/b/${CHAIN}`);
    assert.deepEqual(r.error, { code: -32000, message: "No channels available" }, "the WS channel was never dispatched to");
    assert.equal(r.meta["retries"], 1);
    const forced = await probe(`/rpc/provider/b/${CHAIN}?transport=http`);
    assert.equal(forced.error?.["code"], -32004, "forcing http shows the provider's own failure");
  });

  test("transport=ws pinned to a provider without ws_url: no channel, no fallback to HTTP", async () => {
    await recover();
    const r = await probe(`/rpc/provider/c/${CHAIN}?transport=ws`);
    assert.deepEqual(r.error, { code: -32000, message: "No available channels for method: eth_blockNumber. All circuit breakers are open.", data: {} });
    assert.deepEqual(r.meta["candidate_providers"], []);
    const unforced = await probe(`/rpc/provider/c/${CHAIN}`);
    assert.deepEqual(unforced.meta["candidate_providers"], ["c:http"], "without ws_url a pin has its HTTP channel only");
  });
});

describe("subscriptions need a ws_url (and subscribe_new_heads for newHeads)", () => {
  afterEach(recover);

  const open = (path: string): Promise<SimWsClient> => SimWsClient.open(theSim().wsUrl + path, clients);

  test("pinned subscribes to incapable providers are refused with -32602", async (t) => {
    const refusals: Array<[string, Json[], Id, string]> = [
      [`/ws/rpc/provider/c/${CHAIN}`, ["newHeads"], "c", "Provider 'c' does not support WebSocket subscriptions"],
      [`/ws/rpc/${CHAIN}/c`, ["logs", {}], "c", "Provider 'c' does not support WebSocket subscriptions"],
      [`/ws/rpc/provider/b/${CHAIN}`, ["newHeads"], "b", "Provider 'b' does not support newHeads subscriptions"],
    ];
    for (const [path, params, id, message] of refusals) await t.test(`${String(params[0])} on ${path}`, async () => {
      const c = await open(path);
      const r = await c.call("eth_subscribe", params);
      assert.deepEqual(r["error"], { code: -32602, message, data: { provider_id: id, chain_id: CHAIN_ID, profile: "public" } }, path);
    });
    const logsOnB = await (await open(`/ws/rpc/provider/b/${CHAIN}`)).call("eth_subscribe", ["logs", {}]);
    assert.match(String(logsOnB["result"]), /^[0-9a-f]{16}$/, "logs need only a ws_url");
  });

  test("a strategy route with no capable provider acknowledges and never delivers", async () => {
    const c = await open(`/ws/rpc/profile/nows/${CHAIN}`);
    const sub = await c.subscribeHeads();
    assert.match(sub, /^[0-9a-f]{16}$/);
    const start = Number(obj(await c.call("eth_blockNumber"), "bn")["result"]);
    await waitFor(async () => Number(obj(await c.call("eth_blockNumber"), "bn")["result"]) >= start + 3, { timeoutMs: 15_000, message: "3 more blocks" });
    assert.equal(c.events(sub).length, 0, "no event in 3 block times");
    assert.equal(c.closed, false, "and the socket stays open");
  });

  test("shared upstreams go to the first capable provider by priority", async () => {
    const heads = await open(`/ws/rpc/profile/mixed/${CHAIN}`);
    const hs = await heads.subscribeHeads();
    const logs = await heads.call("eth_subscribe", ["logs", {}]);
    assert.match(String(logs["result"]), /^[0-9a-f]{16}$/);
    await waitFor(() => heads.events(hs).length >= 1, { timeoutMs: 15_000, message: "a head on the mixed profile" });
    const streams = async (): Promise<Obj[]> => {
      const s = obj(await (await fetch(`${theSim().url}/_sim/status`)).json(), "status")["streams"];
      assert.ok(Array.isArray(s), "streams");
      return s.map((x) => obj(x, "stream")).filter((x) => String(x["key"]).startsWith("mixed|"));
    };
    await waitFor(async () => (await streams()).every((s) => s["phase"] === "live") && (await streams()).length === 2, { timeoutMs: 15_000, message: "both streams live" });
    const byKind = Object.fromEntries((await streams()).map((s) => [String(s["key"]).split("|")[2]?.split(":")[0], s["provider"]]));
    assert.deepEqual(byKind, { newHeads: "a", logs: "b" });
  });
});

/** Collects a response's status and text body. */
function readResponse(res: IncomingMessage, done: (r: { status: number; body: string }) => void): void {
  let body = "";
  res.setEncoding("utf8");
  res.on("data", (c: string) => (body += c));
  res.on("end", () => done({ status: res.statusCode ?? 0, body }));
}

/** A raw WebSocket upgrade: status and body of a refusal (null status when it was accepted). */
function upgrade(sim: LassoSim, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = httpRequest(sim.url + path, {
      headers: { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", ...headers },
      timeout: 10_000,
    });
    r.on("upgrade", (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, body: "" });
    });
    r.on("response", (res) => readResponse(res, resolve));
    r.on("error", reject);
    r.end();
  });
}

test("a refused WebSocket upgrade (unknown chain, provider, profile) is 403 with an empty body", async (t) => {
  for (const path of [`/ws/rpc/nochain`, `/ws/rpc/provider/zzz/${CHAIN}`, `/ws/rpc/profile/nope/${CHAIN}`]) await t.test(path, async () => {
    assert.deepEqual(await upgrade(theSim(), path), { status: 403, body: "" }, path);
  });
  assert.equal((await upgrade(theSim(), `/ws/rpc/${CHAIN}`)).status, 101, "a known route upgrades");
});

test("consensus is chain-wide across profiles: the head at floor(n/4) of four instances", async (t) => {
  await recover();
  const heads = async (): Promise<Record<string, number>> => {
    const rows = [...(await providerStatus(theSim())), ...(await providerStatus(theSim(), "side"))];
    return Object.fromEntries(rows.map((p) => [String(p["id"]), Number(p["head"])]));
  };
  const candidates = async (): Promise<string[]> => {
    const { meta } = await probe(`/rpc/${CHAIN}?transport=http`);
    return (meta["candidate_providers"] as Json[]).map(String).sort();
  };
  // a fresh; b, c (public) and d (side) 6 blocks behind: sorted [H, H-6, H-6, H-6], index 1 -> H-6.
  for (const p of [proxy("b"), proxy("c"), proxyD]) p?.setFault({ kind: "stale_head", blocks: 6 }, 60_000);
  t.after(recover);
  await waitFor(async () => {
    const h = await heads();
    return ["b", "c", "d"].every((id) => (h["a"] ?? 0) - (h[id] ?? 0) >= 5);
  }, { timeoutMs: 15_000, message: "b, c and d report 6 behind" });
  for (let i = 0; i < 5; i++) assert.deepEqual(await candidates(), ["a:http", "b:http", "c:http"], "the side profile's laggard pulls consensus down to b and c");
  // d catches up: [H, H, H-6, H-6] -> consensus H, and b, c (6 behind, max_lag 2) leave selection.
  proxyD?.clearFault();
  await waitFor(async () => (await candidates()).join() === "a:http", { timeoutMs: 15_000, message: "b and c excluded once d is at the head" });
});

describe("the sim's front door: auth proxy and byte budget", () => {
  let authSim: LassoSim | undefined;
  let budgetSim: LassoSim | undefined;
  before(async () => {
    const { a, b, c } = providersOf(proxy);
    const profiles = [{ slug: "public", chains: [chainOf([a, b, c])] }];
    authSim = await startLassoSim({ profiles, healthPollMs: 250, requireHeaders: { "X-Api-Key": "s3cret" } });
    budgetSim = await startLassoSim({ profiles, healthPollMs: 250, inflightByteBudget: 9_000_000 });
  });
  after(async () => {
    await authSim?.stop();
    await budgetSim?.stop();
  });

  test("requireHeaders: 401 on every HTTP path and on the upgrade without the exact header", async (t) => {
    assert.ok(authSim, "auth sim");
    const sim = authSim;
    // eth_chainId is answered by the target itself: no provider call to skew the metrics test.
    const paths: Array<[string, "GET" | "POST"]> = [[`/rpc/${CHAIN}`, "POST"], ["/api/health", "GET"], ["/api/chains", "GET"], [`/api/metrics/${CHAIN}`, "GET"]];
    for (const [path, method] of paths) await t.test(`${method} ${path}`, async () => {
      const refusedHeaders: Array<Record<string, string>> = [{}, { "X-Api-Key": "wrong" }];
      for (const headers of refusedHeaders) {
        const res = await fetch(sim.url + path, { method, headers, ...(method === "POST" ? { body: JSON.stringify(req("eth_chainId")) } : {}) });
        assert.equal(res.status, 401, `${method} ${path} ${JSON.stringify(headers)}`);
        assert.deepEqual(await res.json(), { error: "unauthorized" });
      }
      const ok = await fetch(sim.url + path, { method, headers: { "x-api-key": "s3cret", "content-type": "application/json" }, ...(method === "POST" ? { body: JSON.stringify(req("eth_chainId")) } : {}) });
      assert.equal(ok.status, 200, `${method} ${path} with the key`);
      await ok.text();
    });
    assert.deepEqual(await upgrade(sim, `/ws/rpc/${CHAIN}`), { status: 401, body: JSON.stringify({ error: "unauthorized" }) });
    assert.equal((await upgrade(sim, `/ws/rpc/${CHAIN}`, { "X-Api-Key": "s3cret" })).status, 101);
    assert.equal((await fetch(`${sim.url}/_sim/status`)).status, 200, "the sim's control API is not behind the proxy");
  });

  test("/api/metrics lists only providers with calls, with Lasso's fields", async () => {
    assert.ok(authSim, "auth sim");
    const headers = { "x-api-key": "s3cret" };
    for (const id of ["a", "a", "b"]) await post(authSim, `/rpc/provider/${id}/${CHAIN}?transport=http`, req("eth_blockNumber"), headers);
    const m = obj(await (await fetch(`${authSim.url}/api/metrics/${CHAIN}`, { headers })).json(), "metrics");
    const provs = (m["providers"] as Json[]).map((p) => obj(p, "provider"));
    assert.deepEqual(provs.map((p) => p["id"]).sort(), ["a", "b"], "c had no calls");
    assert.deepEqual(provs.find((p) => p["id"] === "a")?.["total_calls"], 2);
    assert.deepEqual(provs.find((p) => p["id"] === "a")?.["calls_last_minute"], 2);
    const missing = await fetch(`${authSim.url}/api/metrics/nochain`, { headers });
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: "Chain not found", chain: "nochain", available_chains: [CHAIN] });
  });

  test("a request that does not fit the in-flight byte budget gets HTTP 503 -32008; capacity comes back", async () => {
    assert.ok(budgetSim, "budget sim");
    const sim = budgetSim;
    // No Content-Length: Lasso reserves the largest admissible body (9,000,000 bytes), the whole budget.
    let heldRequest: ReturnType<typeof httpRequest> | undefined;
    const held = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const r = httpRequest(`${sim.url}/rpc/provider/a/${CHAIN}?transport=http`, { method: "POST", headers: { "content-type": "application/json" } });
      r.on("response", (res) => readResponse(res, resolve));
      r.on("error", reject);
      r.write('{"jsonrpc":"2.0","id":1,');
      heldRequest = r;
    });
    const refused = await waitFor(async () => {
      const r = await post(sim, `/rpc/${CHAIN}`, req("eth_blockNumber"));
      return r.status === 503 ? r : null;
    }, { timeoutMs: 10_000, message: "a request refused for capacity" });
    assert.deepEqual(refused.body, { jsonrpc: "2.0", id: null, error: { code: -32008, message: "Local request byte capacity unavailable" } });
    assert.equal(refused.headers.get("content-type"), "application/json; charset=utf-8");
    assert.equal((await fetch(`${sim.url}/api/health`)).status, 200, "only /rpc is budgeted");
    heldRequest?.end('"method":"eth_blockNumber","params":[]}');
    const done = await held;
    assert.equal(done.status, 200);
    assert.match(String(obj(JSON.parse(done.body), "held")["result"]), /^0x[0-9a-f]+$/);
    await waitFor(async () => (await post(sim, `/rpc/${CHAIN}`, req("eth_blockNumber"))).status === 200, { timeoutMs: 5_000, message: "capacity released" });
  });
});

test("the test bed: ws: false gives a provider no ws_url, subscribeNewHeads: false no newHeads", async () => {
  const tb = await startTestBed({
    chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: ["alpha", { id: "bravo", ws: false }, { id: "charlie", subscribeNewHeads: false }] }],
    healthPollMs: 250,
  });
  const local = new Set<SimWsClient>();
  try {
    const wsOf = async (id: string): Promise<Obj> => {
      const c = await SimWsClient.open(`${tb.lasso.wsUrl}/ws/rpc/provider/${id}/ethereum`, local);
      return c.call("eth_subscribe", ["newHeads"]);
    };
    assert.match(String((await wsOf("alpha"))["result"]), /^[0-9a-f]{16}$/);
    assert.equal(obj((await wsOf("bravo"))["error"], "e")["message"], "Provider 'bravo' does not support WebSocket subscriptions");
    assert.equal(obj((await wsOf("charlie"))["error"], "e")["message"], "Provider 'charlie' does not support newHeads subscriptions");
    assert.ok(tb.provider("ethereum", "bravo").httpUrl.startsWith("http://127.0.0.1:"), "bravo's proxy still serves HTTP");
    const viaBravo = await post(tb.lasso, "/rpc/provider/bravo/ethereum?include_meta=body", req("eth_blockNumber"));
    assert.deepEqual(obj(obj(viaBravo.body, "r")["lasso_meta"], "meta")["candidate_providers"], ["bravo:http"]);
  } finally {
    for (const c of [...local]) c.close();
    await tb.stop();
  }
});
