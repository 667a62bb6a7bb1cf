import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:net";
import { performance } from "node:perf_hooks";
import { WebSocket } from "ws";
import { z } from "zod";
import { startAnvil, type AnvilNode } from "../sim/anvil.js";
import { FaultProxy, parseFault, type ClearReason, type Fault, type FaultProxyOptions } from "../src/chaos/faultProxy.js";
import { waitFor } from "./helpers/waitFor.js";

/** How late after expiresAt a fault may still be seen to revert, on a loaded 2-core machine. */
const REVERT_SLACK_MS = 2500;

let node: AnvilNode;
const proxies: FaultProxy[] = [];
const sockets: RpcSocket[] = [];

before(async () => {
  node = await startAnvil({ chainId: 74_001, blockTimeSec: 1 });
  await rpcResult(node.httpUrl, "anvil_mine", ["0x10"]);
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.ws.terminate();
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
});

after(async () => {
  await node?.stop();
});

async function newProxy(extra: Partial<FaultProxyOptions> = {}): Promise<FaultProxy> {
  const proxy = new FaultProxy({ name: "test", upstreamHttpUrl: node.httpUrl, upstreamWsUrl: node.wsUrl, ...extra });
  proxies.push(proxy);
  await proxy.start();
  return proxy;
}

// ---- JSON-RPC over plain fetch -------------------------------------------------------------

const rpcAnswer = z.object({
  id: z.union([z.number(), z.string(), z.null()]),
  result: z.unknown().optional(),
  error: z.object({ code: z.number(), message: z.string() }).optional(),
});
const blockSchema = z.object({ number: z.string(), hash: z.string() });

function call(method: string, params: unknown[] = [], id = 1): object {
  return { jsonrpc: "2.0", id, method, params };
}

interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
}

async function post(url: string, body: unknown, timeoutMs = 5000): Promise<HttpAnswer> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function rpcResult(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const answer = await post(url, call(method, params));
  assert.equal(answer.status, 200, `${method}: HTTP ${answer.status}`);
  const parsed = rpcAnswer.parse(JSON.parse(answer.text));
  assert.equal(parsed.error, undefined, `${method}: ${JSON.stringify(parsed.error)}`);
  return parsed.result;
}

function quantity(value: unknown): number {
  return Number.parseInt(z.string().regex(/^0x[0-9a-f]+$/).parse(value), 16);
}

async function headOf(url: string): Promise<number> {
  return quantity(await rpcResult(url, "eth_blockNumber"));
}

/** True when eth_blockNumber through `url` gets a normal answer. */
async function answersNormally(url: string): Promise<boolean> {
  try {
    const answer = await post(url, call("eth_blockNumber"), 1000);
    return answer.status === 200 && typeof rpcAnswer.parse(JSON.parse(answer.text)).result === "string";
  } catch {
    return false;
  }
}

/**
 * Polls until `ok` holds and asserts the fault reverted at its expiry: not before expiresAt
 * (the proxy decided after it), and not much later.
 */
async function assertRevertsAt(expiresAt: number, ok: () => Promise<boolean>, label: string): Promise<number> {
  const okAt = await waitFor(async () => ((await ok()) ? Date.now() : null), {
    timeoutMs: Math.max(0, expiresAt - Date.now()) + 8000,
    intervalMs: 20,
    message: `${label} to revert`,
  });
  assert.ok(okAt >= expiresAt, `${label} reverted ${expiresAt - okAt} ms before its expiry`);
  assert.ok(okAt - expiresAt <= REVERT_SLACK_MS, `${label} reverted ${okAt - expiresAt} ms after its expiry`);
  return okAt;
}

function clearedReasons(proxy: FaultProxy): ClearReason[] {
  const reasons: ClearReason[] = [];
  proxy.on("fault-cleared", (reason) => reasons.push(reason));
  return reasons;
}

function count(proxy: FaultProxy, method: string, outcome: string): number {
  return proxy.counts()[method]?.[outcome] ?? 0;
}

function assertCountAtLeast(proxy: FaultProxy, method: string, outcome: string, min: number): void {
  const n = count(proxy, method, outcome);
  assert.ok(n >= min, `${method} ${outcome}: counted ${n}, want at least ${min} (all counts: ${JSON.stringify(proxy.counts())})`);
}

// ---- JSON-RPC over a raw ws client ---------------------------------------------------------

const notificationSchema = z.object({
  method: z.literal("eth_subscription"),
  params: z.object({ subscription: z.string(), result: blockSchema }),
});

interface Head {
  number: number;
  hash: string;
  at: number;
}

class RpcSocket {
  readonly heads: Head[] = [];
  readonly texts: string[] = [];
  closedAt: number | null = null;
  #nextId = 1;
  readonly #waiting = new Map<number, (answer: z.infer<typeof rpcAnswer>) => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const text = String(data);
      this.texts.push(text);
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return;
      }
      const note = notificationSchema.safeParse(value);
      if (note.success) {
        const block = note.data.params.result;
        this.heads.push({ number: quantity(block.number), hash: block.hash, at: Date.now() });
        return;
      }
      const answer = rpcAnswer.safeParse(value);
      if (answer.success && typeof answer.data.id === "number") this.#waiting.get(answer.data.id)?.(answer.data);
    });
    ws.on("close", () => {
      this.closedAt = Date.now();
    });
  }

  static async open(url: string): Promise<RpcSocket> {
    const ws = new WebSocket(url);
    ws.on("error", () => {});
    const opened = new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("unexpected-response", (_req, res) => {
        ws.terminate();
        reject(new Error(`handshake refused with HTTP ${res.statusCode}`));
      });
      ws.once("close", () => reject(new Error("closed during handshake")));
    });
    await opened;
    const socket = new RpcSocket(ws);
    sockets.push(socket);
    return socket;
  }

  /** Sends a request; resolves with its answer, or null when none came within timeoutMs. */
  request(method: string, params: unknown[] = [], timeoutMs = 5000): Promise<z.infer<typeof rpcAnswer> | null> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        resolve(null);
      }, timeoutMs);
      this.#waiting.set(id, (answer) => {
        clearTimeout(timer);
        this.#waiting.delete(id);
        resolve(answer);
      });
      this.ws.send(JSON.stringify(call(method, params, id)));
    });
  }

  async subscribeNewHeads(): Promise<string> {
    const answer = await this.request("eth_subscribe", ["newHeads"]);
    return z.string().parse(answer?.result);
  }

  maxHead(): number {
    return Math.max(-1, ...this.heads.map((h) => h.number));
  }
}

/** Mines a block now so the test need not wait for anvil's 1 s block time. */
/** A WS client subscribed to newHeads through the proxy that has seen a first head. */
async function headsClient(proxy: FaultProxy): Promise<RpcSocket> {
  const client = await RpcSocket.open(proxy.wsUrl);
  await client.subscribeNewHeads();
  await waitFor(async () => {
    await mine();
    return client.heads.length > 0;
  }, { timeoutMs: 5000, message: "a first head" });
  return client;
}

async function mine(): Promise<void> {
  await rpcResult(node.httpUrl, "evm_mine");
}

function assertConsecutive(heads: Head[], label: string): void {
  for (let i = 1; i < heads.length; i++) {
    const prev = heads[i - 1];
    const cur = heads[i];
    assert.ok(prev && cur, `${label}: heads ${i - 1} and ${i} exist`);
    assert.equal(cur.number, prev.number + 1, `${label}: head ${cur.number} after ${prev.number} (gap or duplicate)`);
  }
}

// ---- tests --------------------------------------------------------------------------------

test("a new proxy passes HTTP requests through (single, batch, not JSON) and counts them per method", async () => {
  const proxy = await newProxy();
  assert.equal(proxy.currentFault(), null);
  assert.match(proxy.httpUrl, /^http:\/\/127\.0\.0\.1:\d+$/);

  assert.equal(await rpcResult(proxy.httpUrl, "eth_chainId"), "0x12111");
  const batch = await post(proxy.httpUrl, [call("eth_chainId", [], 1), call("eth_blockNumber", [], 2)]);
  assert.equal(batch.status, 200);
  const items = z.array(rpcAnswer).parse(JSON.parse(batch.text));
  assert.deepEqual(items.map((i) => i.id).sort(), [1, 2]);
  const notJson = await post(proxy.httpUrl, "{not json");
  assert.equal(typeof rpcAnswer.parse(JSON.parse(notJson.text)).error?.code, "number", "the upstream's own error comes back");

  assert.deepEqual(proxy.counts(), {
    eth_chainId: { forwarded: 2 },
    eth_blockNumber: { forwarded: 1 },
    "(unparseable)": { forwarded: 1 },
  });
  proxy.resetCounts();
  assert.deepEqual(proxy.counts(), {});
});

test("http_5xx answers 502 and reverts by itself at its expiry", async () => {
  const proxy = await newProxy();
  const reasons = clearedReasons(proxy);
  const { expiresAt } = proxy.setFault({ kind: "http_5xx", status: 502 }, 600);
  assert.deepEqual(proxy.currentFault(), { fault: { kind: "http_5xx", status: 502 }, expiresAt });

  const faulted = await post(proxy.httpUrl, call("eth_blockNumber"));
  assert.equal(faulted.status, 502);
  await assertRevertsAt(expiresAt, () => answersNormally(proxy.httpUrl), "http_5xx");

  assert.equal(proxy.currentFault(), null);
  assert.deepEqual(reasons, ["expired"]);
  assertCountAtLeast(proxy, "eth_blockNumber", "fault:http_5xx", 1);
  assertCountAtLeast(proxy, "eth_blockNumber", "forwarded", 1);
});

test("http_429 answers 429 with Retry-After and reverts at its expiry", async () => {
  const proxy = await newProxy();
  const { expiresAt } = proxy.setFault({ kind: "http_429", retryAfterSec: 7 }, 500);
  const faulted = await post(proxy.httpUrl, call("eth_blockNumber"));
  assert.equal(faulted.status, 429);
  assert.equal(faulted.headers.get("retry-after"), "7");
  await assertRevertsAt(expiresAt, () => answersNormally(proxy.httpUrl), "http_429");
  assertCountAtLeast(proxy, "eth_blockNumber", "fault:http_429", 1);
});

test("rpc_error answers HTTP 200 with a JSON-RPC error per request, batch-aware, and reverts", async () => {
  const proxy = await newProxy();
  const { expiresAt } = proxy.setFault({ kind: "rpc_error", code: -32005, message: "limit exceeded" }, 600);

  const single = await post(proxy.httpUrl, call("eth_blockNumber", [], 42));
  assert.equal(single.status, 200);
  assert.deepEqual(JSON.parse(single.text), { jsonrpc: "2.0", id: 42, error: { code: -32005, message: "limit exceeded" } });
  const batch = await post(proxy.httpUrl, [call("eth_chainId", [], 7), call("eth_getBalance", ["0x0000000000000000000000000000000000000000", "latest"], 8)]);
  const items = z.array(rpcAnswer).parse(JSON.parse(batch.text));
  assert.deepEqual(items.map((i) => [i.id, i.error?.code]), [[7, -32005], [8, -32005]]);

  await assertRevertsAt(expiresAt, () => answersNormally(proxy.httpUrl), "rpc_error");
  assert.equal(count(proxy, "eth_chainId", "fault:rpc_error"), 1);
  assert.equal(count(proxy, "eth_getBalance", "fault:rpc_error"), 1);
  assertCountAtLeast(proxy, "eth_blockNumber", "fault:rpc_error", 1);
});

test("malformed answers HTTP 200 with a body that is not JSON, and reverts", async () => {
  const proxy = await newProxy();
  const { expiresAt } = proxy.setFault({ kind: "malformed" }, 500);
  const faulted = await post(proxy.httpUrl, call("eth_blockNumber"));
  assert.equal(faulted.status, 200);
  assert.throws(() => JSON.parse(faulted.text), SyntaxError);
  await assertRevertsAt(expiresAt, () => answersNormally(proxy.httpUrl), "malformed");
  assertCountAtLeast(proxy, "eth_blockNumber", "fault:malformed", 1);
});

test("reset destroys the client connection without an answer, and reverts", async () => {
  const proxy = await newProxy();
  const { expiresAt } = proxy.setFault({ kind: "reset" }, 500);
  const err: unknown = await post(proxy.httpUrl, call("eth_blockNumber")).then(
    () => assert.fail("a reset request must not be answered"),
    (e: unknown) => e,
  );
  const cause = z.object({ cause: z.object({ code: z.string() }) }).parse(err).cause.code;
  assert.ok(["ECONNRESET", "UND_ERR_SOCKET"].includes(cause), `connection error, got ${cause}`);
  await assertRevertsAt(expiresAt, () => answersNormally(proxy.httpUrl), "reset");
  assertCountAtLeast(proxy, "eth_blockNumber", "fault:reset", 1);
});

test("blackhole holds requests until the client gives up; held ones are dropped at expiry", async () => {
  const proxy = await newProxy();
  const { expiresAt } = proxy.setFault({ kind: "blackhole" }, 900);

  const started = performance.now();
  await assert.rejects(post(proxy.httpUrl, call("eth_blockNumber"), 250), { name: "TimeoutError" });
  const waited = performance.now() - started;
  assert.ok(waited >= 240, `the client gave up after ${waited} ms, before its 250 ms timeout`);

  // No client timeout: the proxy holds it to the end of the window, then drops it unanswered.
  const held = post(proxy.httpUrl, call("eth_chainId"), 15_000).then(
    () => assert.fail("a blackholed request must not be answered"),
    () => Date.now(),
  );
  await assertRevertsAt(expiresAt, () => answersNormally(proxy.httpUrl), "blackhole");
  const droppedAt = await held;
  assert.ok(droppedAt >= expiresAt && droppedAt - expiresAt <= REVERT_SLACK_MS, `held request dropped ${droppedAt - expiresAt} ms after expiry`);
  assert.equal(count(proxy, "eth_chainId", "fault:blackhole"), 1);
  assertCountAtLeast(proxy, "eth_blockNumber", "fault:blackhole", 1);
});

test("latency delays each request by at least fixedMs", async () => {
  const proxy = await newProxy();
  const reasons = clearedReasons(proxy);
  proxy.setFault({ kind: "latency", fixedMs: 300, jitterMs: 100 }, 10_000);
  for (let i = 0; i < 2; i++) {
    const started = performance.now();
    assert.equal((await post(proxy.httpUrl, call("eth_blockNumber"))).status, 200);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 300, `answered after ${elapsed} ms`);
  }
  proxy.clearFault();
  assert.deepEqual(reasons, ["cleared"]);
  assert.equal(count(proxy, "eth_blockNumber", "fault:latency"), 2);
});

test("a latency delay longer than the window ends with the window", async () => {
  const proxy = await newProxy();
  const { expiresAt } = proxy.setFault({ kind: "latency", fixedMs: 20_000, jitterMs: 0 }, 600);
  const answer = await post(proxy.httpUrl, call("eth_blockNumber"), 15_000);
  const at = Date.now();
  assert.equal(answer.status, 200);
  assert.ok(at >= expiresAt && at - expiresAt <= REVERT_SLACK_MS, `answered ${at - expiresAt} ms after expiry`);
});

test("stale_head answers eth_blockNumber and latest block k behind over HTTP, and reverts", async () => {
  const proxy = await newProxy();
  const k = 3;
  const { expiresAt } = proxy.setFault({ kind: "stale_head", blocks: k }, 1500);

  const before = await headOf(node.httpUrl);
  const stale = await headOf(proxy.httpUrl);
  const latest = blockSchema.parse(await rpcResult(proxy.httpUrl, "eth_getBlockByNumber", ["latest", false]));
  const afterHead = await headOf(node.httpUrl);
  assert.ok(stale >= before - k && stale <= afterHead - k, `stale head ${stale}, upstream ${before}..${afterHead}`);
  const latestNumber = quantity(latest.number);
  assert.ok(latestNumber >= before - k && latestNumber <= afterHead - k, `stale latest ${latestNumber}, upstream ${before}..${afterHead}`);
  const real = blockSchema.parse(await rpcResult(node.httpUrl, "eth_getBlockByNumber", [latest.number, false]));
  assert.equal(latest.hash, real.hash, "the older block is the real one");

  const batch = await post(proxy.httpUrl, [call("eth_blockNumber", [], 1), call("eth_chainId", [], 2)]);
  const items = z.array(rpcAnswer).parse(JSON.parse(batch.text));
  assert.equal(items.find((i) => i.id === 2)?.result, "0x12111");

  await assertRevertsAt(
    expiresAt,
    async () => {
      const upstream = await headOf(node.httpUrl);
      return (await headOf(proxy.httpUrl)) >= upstream;
    },
    "stale_head",
  );
  assert.equal(count(proxy, "eth_getBlockByNumber", "fault:stale_head"), 1);
  assertCountAtLeast(proxy, "eth_blockNumber", "fault:stale_head", 2);
  assert.equal(count(proxy, "eth_chainId", "forwarded"), 1);
});

test("ws_drop closes client sockets and refuses reconnects while active, then accepts again", async () => {
  const proxy = await newProxy();
  assert.match(proxy.wsUrl, /^ws:\/\/127\.0\.0\.1:\d+$/);
  const client = await RpcSocket.open(proxy.wsUrl);
  assert.equal((await client.request("eth_chainId"))?.result, "0x12111");

  const { expiresAt } = proxy.setFault({ kind: "ws_drop" }, 700);
  await waitFor(() => client.closedAt, { timeoutMs: 3000, message: "the client socket to close" });
  await assert.rejects(RpcSocket.open(proxy.wsUrl), /HTTP 503/);

  await assertRevertsAt(
    expiresAt,
    async () => {
      try {
        const again = await RpcSocket.open(proxy.wsUrl);
        return (await again.request("eth_chainId", [], 1000))?.result === "0x12111";
      } catch {
        return false;
      }
    },
    "ws_drop",
  );
  assertCountAtLeast(proxy, "(ws_connect)", "ws:fault:ws_drop", 1);
  assertCountAtLeast(proxy, "(ws_connect)", "ws:forwarded", 2);
  assertCountAtLeast(proxy, "eth_chainId", "ws:forwarded", 2);
});

test("ws_stall drops subscription notifications while requests are answered, then resumes", async () => {
  const proxy = await newProxy();
  const client = await headsClient(proxy);

  const { expiresAt } = proxy.setFault({ kind: "ws_stall" }, 2000);
  const atStart = await headOf(node.httpUrl);
  for (let i = 0; i < 3; i++) await mine();
  const mid = await headOf(node.httpUrl);
  assert.ok(mid >= atStart + 3, `head ${mid} after mining 3 blocks on ${atStart}`);
  const answer = await client.request("eth_blockNumber", [], 1500);
  assert.ok(quantity(answer?.result) >= mid, "requests are still answered during a stall");

  const resumedAt = await assertRevertsAt(expiresAt, async () => client.heads.some((h) => h.number > mid), "ws_stall");
  const missed = client.heads.filter((h) => h.number > atStart && h.number <= mid);
  assert.deepEqual(missed, [], "no head mined during the stall was delivered");
  assert.ok(resumedAt >= expiresAt, `resumed at ${resumedAt}, before the window expired at ${expiresAt}`);
  assertCountAtLeast(proxy, "eth_subscription", "ws:fault:ws_stall", 3);
  assertCountAtLeast(proxy, "eth_subscription", "ws:forwarded", 1);
  assert.equal(count(proxy, "eth_blockNumber", "ws:forwarded"), 1);
  assert.equal(count(proxy, "eth_subscribe", "ws:forwarded"), 1);
});

test("stale_head over WS delays newHeads by k blocks without gaps and rewrites eth_blockNumber", async () => {
  const proxy = await newProxy();
  const k = 2;
  const client = await headsClient(proxy);

  const { expiresAt } = proxy.setFault({ kind: "stale_head", blocks: k }, 3000);
  const before = await headOf(node.httpUrl);
  const answer = await client.request("eth_blockNumber");
  const latest = await client.request("eth_getBlockByNumber", ["latest", false]);
  const afterHead = await headOf(node.httpUrl);
  const stale = quantity(answer?.result);
  assert.ok(stale >= before - k && stale <= afterHead - k, `stale head ${stale}, upstream ${before}..${afterHead}`);
  const latestNumber = quantity(blockSchema.parse(latest?.result).number);
  assert.ok(latestNumber >= before - k && latestNumber <= afterHead - k, `stale latest ${latestNumber}, upstream ${before}..${afterHead}`);

  // Heads keep coming, each k behind the upstream's.
  const seen = client.heads.length;
  await waitFor(async () => {
    await mine();
    return client.heads.length >= seen + 2;
  }, { timeoutMs: 5000, message: "delayed heads" });
  await waitFor(async () => client.maxHead() === (await headOf(node.httpUrl)) - k, {
    timeoutMs: Math.max(500, expiresAt - Date.now() - 200),
    message: `the client's head to be exactly ${k} behind`,
  });
  const upstreamNow = await headOf(node.httpUrl);
  for (const h of client.heads.slice(seen)) assert.ok(h.number <= upstreamNow - k, `head ${h.number} less than ${k} behind ${upstreamNow}`);

  // At expiry the held heads are released at once: the client catches up with the upstream.
  await assertRevertsAt(
    expiresAt,
    async () => client.maxHead() >= (await headOf(node.httpUrl)),
    "stale_head newHeads",
  );
  assertConsecutive(client.heads, "newHeads through the proxy");
  assertCountAtLeast(proxy, "eth_subscription", "ws:fault:stale_head", 2);
  assert.equal(count(proxy, "eth_blockNumber", "ws:fault:stale_head"), 1);
  assert.equal(count(proxy, "eth_getBlockByNumber", "ws:fault:stale_head"), 1);
});

test("WS requests see blackhole, rpc_error and malformed; each reverts", async () => {
  const proxy = await newProxy();
  const client = await RpcSocket.open(proxy.wsUrl);

  let { expiresAt } = proxy.setFault({ kind: "blackhole" }, 500);
  assert.equal(await client.request("eth_chainId", [], 200), null, "blackholed: no answer");
  await assertRevertsAt(expiresAt, async () => (await client.request("eth_chainId", [], 300))?.result === "0x12111", "WS blackhole");

  ({ expiresAt } = proxy.setFault({ kind: "rpc_error", code: -32603, message: "boom" }, 500));
  assert.deepEqual((await client.request("eth_chainId"))?.error, { code: -32603, message: "boom" });
  await assertRevertsAt(expiresAt, async () => (await client.request("eth_chainId", [], 300))?.result === "0x12111", "WS rpc_error");

  ({ expiresAt } = proxy.setFault({ kind: "malformed" }, 500));
  const texts = client.texts.length;
  assert.equal(await client.request("eth_chainId", [], 300), null);
  assert.throws(() => JSON.parse(client.texts[texts] ?? ""), SyntaxError);
  await assertRevertsAt(expiresAt, async () => (await client.request("eth_chainId", [], 300))?.result === "0x12111", "WS malformed");

  assertCountAtLeast(proxy, "eth_chainId", "ws:fault:blackhole", 1);
  assertCountAtLeast(proxy, "eth_chainId", "ws:fault:rpc_error", 1);
  assertCountAtLeast(proxy, "eth_chainId", "ws:fault:malformed", 1);
});

test("the proxy ends an overdue fault on read even when its timer has not fired", () => {
  const proxy = new FaultProxy({ name: "clock", upstreamHttpUrl: "http://127.0.0.1:9" });
  proxies.push(proxy);
  const reasons = clearedReasons(proxy);
  const { expiresAt } = proxy.setFault({ kind: "blackhole" }, 50);
  // Block the event loop past expiry so the dead-man timer cannot run.
  while (Date.now() <= expiresAt) {
    /* spin */
  }
  assert.equal(proxy.currentFault(), null);
  assert.deepEqual(reasons, ["expired"]);
});

test("setFault validates the fault and duration, caps the duration, and reports replacement", async () => {
  const proxy = await newProxy({ maxFaultMs: 400 });
  const reasons = clearedReasons(proxy);
  assert.throws(() => proxy.setFault({ kind: "pass" }, 0), RangeError);
  assert.throws(() => proxy.setFault({ kind: "pass" }, Number.NaN), RangeError);
  assert.throws(() => proxy.setFault({ kind: "http_5xx", status: 200 }, 100));
  assert.throws(() => parseFault({ kind: "stale_head", blocks: 0 }));
  assert.throws(() => parseFault({ kind: "latency", fixedMs: 10 }));
  const fromConfig: Fault = parseFault(JSON.parse('{"kind":"http_429","retryAfterSec":3}'));
  assert.deepEqual(fromConfig, { kind: "http_429", retryAfterSec: 3 });

  const now = Date.now();
  const { expiresAt } = proxy.setFault({ kind: "malformed" }, 3_600_000);
  assert.ok(expiresAt - now <= 400 + 50, `capped at maxFaultMs, got ${expiresAt - now} ms`);
  proxy.setFault(fromConfig, 300);
  assert.deepEqual(reasons, ["replaced"]);
  assert.equal(proxy.currentFault()?.fault.kind, "http_429");
  const [reason] = (await once(proxy, "fault-cleared")) as [ClearReason];
  assert.equal(reason, "expired");
  assert.equal(proxy.currentFault(), null);
});

test("stop() lets go of held requests, closes WS clients and ends the fault", async () => {
  const proxy = await newProxy();
  const client = await RpcSocket.open(proxy.wsUrl);
  await client.subscribeNewHeads();
  proxy.setFault({ kind: "blackhole" }, 60_000);
  const held = post(proxy.httpUrl, call("eth_blockNumber"), 30_000).then(
    () => "answered",
    () => "failed",
  );
  await waitFor(() => count(proxy, "eth_blockNumber", "fault:blackhole") === 1, { timeoutMs: 3000, message: "the request to be held" });

  const started = performance.now();
  await proxy.stop();
  assert.ok(performance.now() - started < 3000, "stop() does not wait for held requests");
  assert.equal(await held, "failed");
  await waitFor(() => client.closedAt, { timeoutMs: 3000, message: "the WS client to be closed" });
  assert.equal(proxy.currentFault(), null);
  assert.throws(() => proxy.setFault({ kind: "reset" }, 100));
  await assert.rejects(post(proxy.httpUrl, call("eth_chainId"), 1000));
});

test("an unreachable upstream is answered 502 over HTTP and refuses WS handshakes, counted as upstream_error", async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const address = closed.address();
  assert.ok(address && typeof address === "object", `a TCP address, got ${JSON.stringify(address)}`);
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const proxy = await newProxy({ upstreamHttpUrl: `http://127.0.0.1:${address.port}`, upstreamWsUrl: `ws://127.0.0.1:${address.port}` });

  assert.equal((await post(proxy.httpUrl, call("eth_chainId"))).status, 502);
  await assert.rejects(RpcSocket.open(proxy.wsUrl), /HTTP 502/);
  assert.deepEqual(proxy.counts(), {
    eth_chainId: { upstream_error: 1 },
    "(ws_connect)": { "ws:upstream_error": 1 },
  });
});

test("WS: reset cuts open connections and handshakes; latency delays requests; both revert", async () => {
  const proxy = await newProxy();
  const client = await RpcSocket.open(proxy.wsUrl);

  let { expiresAt } = proxy.setFault({ kind: "reset" }, 500);
  await waitFor(() => client.closedAt, { timeoutMs: 3000, message: "the open connection to be reset" });
  await assert.rejects(RpcSocket.open(proxy.wsUrl));
  await assertRevertsAt(
    expiresAt,
    async () => {
      try {
        return (await (await RpcSocket.open(proxy.wsUrl)).request("eth_chainId", [], 1000))?.result === "0x12111";
      } catch {
        return false;
      }
    },
    "WS reset",
  );

  const again = await RpcSocket.open(proxy.wsUrl);
  ({ expiresAt } = proxy.setFault({ kind: "latency", fixedMs: 300, jitterMs: 0 }, 5000));
  const started = performance.now();
  assert.equal((await again.request("eth_chainId"))?.result, "0x12111");
  const tookMs = performance.now() - started;
  assert.ok(tookMs >= 300, `answered after ${tookMs} ms under a fixed 300 ms latency`);
  proxy.clearFault();

  assertCountAtLeast(proxy, "(ws_connect)", "ws:fault:reset", 1);
  assert.equal(count(proxy, "eth_chainId", "ws:fault:latency"), 1);
});
