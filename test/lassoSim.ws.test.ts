/**
 * The Lasso-compatible target (sim/lasso) over WebSocket, against a real anvil node (1 s
 * blocks) with three FaultProxy "providers": consecutive heads, a shared upstream, failover
 * with backfill and dedup (and the gap / duplicate / silent-drop defects), limits, pings.
 */
import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import WebSocket from "ws";
import { NO_DEFECTS, type Defects } from "../sim/lasso/index.js";
import { isObj, obj, type Json, type Obj } from "./helpers/json.js";
import { CHAIN, CHAIN_ID, IDS, SimWsClient, useSimBed, type Id } from "./helpers/simBed.js";
import { waitFor } from "./helpers/waitFor.js";

const clients = new Set<SimWsClient>();
const bed = useSimBed(
  (proxy) => ({
    profiles: [
      {
        slug: "public",
        chains: [{ name: CHAIN, chainId: CHAIN_ID, blockTimeMs: 1000, providers: IDS.map((id, i) => ({ id, priority: i, url: proxy(id).httpUrl, wsUrl: proxy(id).wsUrl })) }],
      },
    ],
    breaker: { openMs: 1500 },
    healthPollMs: 250,
    wsPingIntervalMs: 300,
  }),
  () => {
    for (const c of [...clients]) c.close();
  },
);
const proxy = bed.proxy;
const theSim = bed.sim;

function openClient(path: string, opts: WebSocket.ClientOptions = {}): Promise<SimWsClient> {
  return SimWsClient.open(theSim().wsUrl + path, clients, opts);
}

function num(h: Obj): number {
  return Number.parseInt(String(h["number"]), 16);
}

/** JSON-RPC straight to anvil (not through the sim). */
async function anvilCall(method: string, params: Json[]): Promise<Json> {
  const res = await fetch(bed.anvil().httpUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = obj(await res.json(), "answer");
  assert.ok("result" in body, JSON.stringify(body));
  return body["result"] ?? null;
}

async function anvilHead(): Promise<number> {
  return Number.parseInt(String(await anvilCall("eth_blockNumber", [])), 16);
}

async function receipt(tx: string): Promise<Obj> {
  return waitFor(async () => {
    const r = await anvilCall("eth_getTransactionReceipt", [tx]);
    return isObj(r) ? r : null;
  }, { timeoutMs: 10_000, message: `receipt of ${tx}` });
}

async function streams(): Promise<Obj[]> {
  const res = await fetch(`${theSim().url}/_sim/status`);
  const s = obj(await res.json(), "status")["streams"];
  assert.ok(Array.isArray(s), `a streams array, got ${JSON.stringify(s)}`);
  return s.map((x) => obj(x, "stream"));
}

async function servingProvider(pinned: string | null = null): Promise<string | null> {
  const key = `|public|${CHAIN}|newHeads|${pinned ? `pin:${pinned}` : "*"}`;
  const s = (await streams()).find((x) => `|${String(x["key"])}`.endsWith(key));
  return s && s["phase"] === "live" ? String(s["provider"]) : null;
}

async function recover(): Promise<void> {
  for (const c of [...clients]) c.close();
  for (const p of bed.proxies()) p.clearFault();
  theSim().setDefects(NO_DEFECTS);
  await waitFor(async () => (await streams()).length === 0, { timeoutMs: 5_000, message: "no upstream streams left" });
}

/** Asserts block numbers +1 each and no repeated hash. */
function assertConsecutive(heads: Obj[]): void {
  const ns = heads.map(num);
  for (let i = 1; i < ns.length; i++) assert.equal(ns[i], (ns[i - 1] ?? 0) + 1, `consecutive heads: ${ns.join(",")}`);
  assert.equal(new Set(heads.map((h) => h["hash"])).size, heads.length, "no duplicate hash");
}

describe("lasso sim over WebSocket", () => {
  afterEach(recover);

  test("a newHeads subscription receives consecutive heads under Lasso's own id", async () => {
    const c = await openClient(`/ws/rpc/${CHAIN}`);
    const sub = await c.subscribeHeads();
    assert.match(sub, /^[0-9a-f]{16}$/);
    await waitFor(() => c.events(sub).length >= 4, { timeoutMs: 15_000, message: "4 heads" });
    const heads = c.events(sub);
    assertConsecutive(heads);
    assert.ok(heads.every((h) => !("transactions" in h)), "live heads are headers, not full blocks");
    const frame = c.frames.find((f) => f["method"] === "eth_subscription");
    assert.equal(frame?.["jsonrpc"], "2.0");
    assert.equal(await servingProvider(), "a", "shared upstream on the lowest priority value");
  });

  test("one shared upstream per filter whatever the strategy; pinned gets its own", async () => {
    const c1 = await openClient(`/ws/rpc/fastest/${CHAIN}`);
    const c2 = await openClient(`/ws/rpc/profile/public/latency-weighted/${CHAIN_ID}`);
    const c3 = await openClient(`/ws/rpc/provider/c/${CHAIN}`);
    const [s1, s2, s3] = [await c1.subscribeHeads(), await c2.subscribeHeads(), await c3.subscribeHeads()];
    assert.notEqual(s1, s2);
    await waitFor(() => c1.events(s1).length >= 2 && c2.events(s2).length >= 2 && c3.events(s3).length >= 2, { timeoutMs: 15_000, message: "heads on all" });
    const all = await streams();
    assert.equal(all.length, 2, JSON.stringify(all));
    const shared = all.find((s) => String(s["key"]).endsWith("|*"));
    assert.equal(shared?.["subscribers"], 2);
    assert.equal(shared?.["provider"], "a");
    assert.equal(await servingProvider("c"), "c");
    const common = c1.events(s1).map((h) => h["hash"]).filter((h) => c2.events(s2).some((x) => x["hash"] === h));
    assert.ok(common.length >= 1, "both clients see the same heads");
  });

  async function failoverRun(defects: Partial<Defects>): Promise<{ heads: Obj[]; served: string | null }> {
    theSim().setDefects({ ...NO_DEFECTS, ...defects });
    const c = await openClient(`/ws/rpc/${CHAIN}`);
    const sub = await c.subscribeHeads();
    await waitFor(() => c.events(sub).length >= 2, { timeoutMs: 15_000, message: "2 heads before the kill" });
    assert.equal(await servingProvider(), "a");
    // Kill the serving provider's WS. The others refuse WS too until blocks were produced,
    // so the switch certainly spans blocks that only a backfill can deliver.
    for (const id of IDS) proxy(id).setFault({ kind: "ws_drop" }, 120_000);
    const seen = Math.max(...c.events(sub).map(num));
    const missed = await waitFor(async () => {
      const h = await anvilHead();
      return h >= seen + 3 ? h : 0;
    }, { timeoutMs: 15_000, message: "3 blocks mined during the outage" });
    proxy("b").clearFault();
    await waitFor(() => c.events(sub).some((h) => num(h) >= missed + 2), { timeoutMs: 25_000, message: "heads after failover" });
    return { heads: c.events(sub), served: await servingProvider() };
  }

  test("killing the serving provider: consecutive heads, no gap, no duplicate, backfilled blocks", async () => {
    const { heads, served } = await failoverRun({});
    assertConsecutive(heads);
    const backfilled = heads.filter((h) => Array.isArray(h["transactions"]));
    assert.ok(backfilled.length >= 2, `missed blocks were backfilled as full blocks (${backfilled.length})`);
    assert.equal(served, "b", "moved to the next provider by priority");
  });

  test("gapOnFailover defect: blocks produced during the switch are lost", async () => {
    const { heads } = await failoverRun({ gapOnFailover: true });
    const ns = heads.map(num);
    assert.ok(ns.some((n, i) => i > 0 && n > (ns[i - 1] ?? 0) + 1), `a gap: ${ns.join(",")}`);
    assert.equal(new Set(heads.map((h) => h["hash"])).size, heads.length, "but no duplicates");
    assert.ok(heads.every((h) => !Array.isArray(h["transactions"])), "nothing backfilled");
  });

  test("duplicatesOnFailover defect: already-delivered heads come again", async () => {
    const { heads } = await failoverRun({ duplicatesOnFailover: true });
    const ns = heads.map(num);
    assert.ok(new Set(heads.map((h) => h["hash"])).size < heads.length, `duplicates: ${ns.join(",")}`);
    assert.ok(ns.every((n, i) => i === 0 || n <= (ns[i - 1] ?? 0) + 1), `but no gap: ${ns.join(",")}`);
  });

  test("a stalled upstream (no events, socket open) is detected and replaced without a gap", async () => {
    const c = await openClient(`/ws/rpc/${CHAIN}`);
    const sub = await c.subscribeHeads();
    await waitFor(() => c.events(sub).length >= 2, { timeoutMs: 15_000, message: "2 heads" });
    proxy("a").setFault({ kind: "ws_stall" }, 120_000);
    const stalledAt = Math.max(...c.events(sub).map(num));
    await waitFor(async () => (await servingProvider()) === "b", { timeoutMs: 15_000, message: "switched to b" });
    await waitFor(() => c.events(sub).some((h) => num(h) >= stalledAt + 5), { timeoutMs: 15_000, message: "heads after the stall" });
    const heads = c.events(sub);
    assertConsecutive(heads);
    assert.ok(heads.some((h) => Array.isArray(h["transactions"])), "the stall window was backfilled");
  });

  test("a logs subscription survives the kill: every log once, in order, missed ones backfilled", async () => {
    // A contract whose runtime code is LOG0 with empty data: every call emits one log.
    const from = String(((await anvilCall("eth_accounts", [])) as Json[])[0]);
    const deployTx = String(await anvilCall("eth_sendTransaction", [{ from, data: "0x6006600c60003960066000f360006000a000" }]));
    const address = String(obj(await receipt(deployTx), "receipt")["contractAddress"]);
    const emit = async (): Promise<string> => {
      const tx = String(await anvilCall("eth_sendTransaction", [{ from, to: address, data: "0x" }]));
      await receipt(tx);
      return tx;
    };
    const c = await openClient(`/ws/rpc/${CHAIN}`);
    const r = await c.call("eth_subscribe", ["logs", { address }]);
    const sub = String(r["result"]);
    assert.match(sub, /^[0-9a-f]{16}$/);
    const txs = [await emit()];
    const txOf = (): string[] => c.events(sub).map((l) => String(l["transactionHash"]));
    await waitFor(() => txOf().includes(txs[0] ?? ""), { timeoutMs: 15_000, message: "first log live" });
    for (const id of IDS) proxy(id).setFault({ kind: "ws_drop" }, 120_000);
    for (let i = 0; i < 3; i++) txs.push(await emit()); // mined while no upstream WS is up
    proxy("b").clearFault();
    txs.push(await emit());
    await waitFor(() => txs.every((t) => txOf().includes(t)), { timeoutMs: 25_000, message: "all logs delivered" });
    const logs = c.events(sub);
    assert.equal(new Set(txOf()).size, logs.length, "no duplicate log");
    const keys = logs.map((l) => [Number.parseInt(String(l["blockNumber"]), 16), Number.parseInt(String(l["logIndex"]), 16)] as const);
    assert.ok(keys.every((k, i) => i === 0 || k[0] > (keys[i - 1]?.[0] ?? 0) || (k[0] === keys[i - 1]?.[0] && k[1] > (keys[i - 1]?.[1] ?? 0))), "in order");
    assert.deepEqual(logs.filter((l) => String(l["address"]).toLowerCase() !== address.toLowerCase()), [], `only logs of ${address}`);
  });

  test("silentDrop defect: events stop while the socket stays open", async () => {
    const c = await openClient(`/ws/rpc/${CHAIN}`);
    const sub = await c.subscribeHeads();
    await waitFor(() => c.events(sub).length >= 1, { timeoutMs: 15_000, message: "a head" });
    theSim().setDefects({ silentDrop: true });
    await c.call("eth_chainId"); // frames are ordered: anything sent before the switch is in
    const count = c.events(sub).length;
    const last = Math.max(...c.events(sub).map(num));
    await waitFor(async () => (await anvilHead()) >= last + 3, { timeoutMs: 15_000, message: "3 more blocks" });
    const bn = await c.call("eth_blockNumber");
    assert.equal(typeof bn["result"], "string", "the socket still answers requests");
    assert.equal(c.events(sub).length, count, "no events while silently dropping");
    assert.equal(c.ws.readyState, WebSocket.OPEN);
    assert.equal(c.closed, false);
    theSim().setDefects({ silentDrop: false });
    await waitFor(() => c.events(sub).length > count, { timeoutMs: 15_000, message: "events resume" });
  });

  test("requests over WS, lasso_meta notify, errors and limits", async () => {
    const c = await openClient(`/ws/rpc/${CHAIN}`);
    const bn = await c.call("eth_blockNumber", [], { lasso_meta: "notify" });
    assert.match(String(bn["result"]), /^0x[0-9a-f]+$/);
    const idx = c.frames.indexOf(bn);
    const metaFrame = await waitFor(() => c.frames.slice(idx + 1).find((f) => f["method"] === "lasso_meta"), { timeoutMs: 5_000, message: "lasso_meta frame" });
    assert.equal(metaFrame["id"], undefined, "a lasso_meta frame is a notification, with no id");
    const m = obj(metaFrame["params"], "meta");
    assert.equal(m["transport"], "ws");
    assert.equal(m["chain_id"], CHAIN_ID);
    const selected = String(obj(m["selected_provider"], "sel")["id"]);
    assert.ok(IDS.includes(selected as Id), `selected provider ${selected} is one of ${IDS.join(", ")}`);

    assert.equal((await c.call("eth_chainId"))["result"], "0x7a69");
    assert.equal(obj((await c.call("eth_subscribe", ["newPendingTransactions"]))["error"], "e")["code"], -32602);
    assert.equal(obj((await c.call("eth_sendRawTransaction", ["0x00"]))["error"], "e")["code"], -32601);
    c.ws.send(JSON.stringify([{ jsonrpc: "2.0", id: 99, method: "eth_blockNumber" }]));
    const batchErr = await waitFor(() => c.frames.find((f) => f["id"] === null && isObj(f["error"])), { timeoutMs: 5_000, message: "batch refusal" });
    assert.equal(obj(batchErr["error"], "e")["code"], -32600);

    const subs: string[] = [];
    for (let i = 0; i < 128; i++) subs.push(await c.subscribeHeads());
    assert.equal(new Set(subs).size, 128);
    const over = await c.call("eth_subscribe", ["newHeads"]);
    assert.equal(obj(over["error"], "e")["code"], -32008);
    assert.equal((await c.call("eth_unsubscribe", [subs[0] ?? ""]))["result"], true);
    assert.equal((await c.call("eth_unsubscribe", [subs[0] ?? ""]))["result"], false);
    assert.equal(typeof (await c.call("eth_subscribe", ["logs", { address: "0x0000000000000000000000000000000000000001" }]))["result"], "string");

    await assert.rejects(openClient(`/ws/rpc/nochain`), "unknown chain refused");
    await assert.rejects(openClient(`/ws/rpc/provider/zzz/${CHAIN}`), "unknown provider refused");
  });

  test("the server pings; a client that never pongs is closed, one that does stays", async () => {
    const good = await openClient(`/ws/rpc/${CHAIN}`);
    const mute = await openClient(`/ws/rpc/${CHAIN}`, { autoPong: false });
    await waitFor(() => mute.closed, { timeoutMs: 10_000, message: "mute client closed after two missed pongs" });
    assert.equal(good.closed, false);
    assert.equal(typeof (await good.call("eth_blockNumber"))["result"], "string");
  });
});
