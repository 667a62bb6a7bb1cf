import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { decodeLassoMetaHeader } from "../src/lasso/meta.js";
import { RpcHttpClient } from "../src/lasso/rpcClient.js";
import { encodeMetaHeader } from "../sim/lasso/meta.js";

// A server whose every path misbehaves in one way a real Lasso (or a proxy in front of it) could.
const held: http.ServerResponse[] = [];
const server = http.createServer((req, res) => {
  let raw = "";
  req.on("data", (c: Buffer) => (raw += c.toString()));
  req.on("end", () => {
    const id = (JSON.parse(raw) as { id: number }).id;
    const reply = (status: number, body: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(body);
    };
    if (req.url?.startsWith("/echo-url")) return reply(200, JSON.stringify({ jsonrpc: "2.0", id, result: req.url }));
    switch (req.url) {
      case "/ok":
        return reply(200, JSON.stringify({ jsonrpc: "2.0", id, result: "0x10" }), {
          // The test bed's encoder (written from docs/lasso-contract.md on its own) so the decoder is not checked against itself.
          "x-lasso-meta": encodeMetaHeader({ version: "1.0", selected_provider: { id: "alpha", protocol: "http" }, retries: 1, lasso_overhead_ms: 2.5 }) ?? "",
        });
      case "/rpc-error":
        return reply(200, JSON.stringify({ jsonrpc: "2.0", id, error: { code: -32000, message: "No available channels" } }));
      case "/status-503":
        return reply(503, "upstream unavailable");
      case "/malformed":
        return reply(200, '{"jsonrpc":"2.0","id":');
      case "/wrong-id":
        return reply(200, JSON.stringify({ jsonrpc: "2.0", id: id + 1, result: "0x1" }));
      case "/not-jsonrpc":
        return reply(200, JSON.stringify({ hello: "world" }));
      case "/huge":
        // 9 MB of valid JSON: over the client's 8 MB limit.
        return reply(200, JSON.stringify({ jsonrpc: "2.0", id, result: "x".repeat(9 * 1024 * 1024) }));
      case "/reset":
        req.socket.destroy();
        return;
      case "/hang":
        held.push(res);
        return;
      default:
        return reply(404, "no");
    }
  });
});
let base = "";
const client = new RpcHttpClient();

before(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  for (const res of held) res.destroy();
  await client.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

test("a good answer yields the result and decoded routing metadata", async () => {
  const r = await client.call(`${base}/ok`, "eth_blockNumber", [], 2000);
  assert.equal(r.outcome, "ok");
  assert.equal(r.result, "0x10");
  assert.equal(r.meta?.selected_provider?.id, "alpha");
  assert.equal(r.meta?.retries, 1);
  assert.equal(r.meta?.lasso_overhead_ms, 2.5);
  assert.ok(r.latencyMs > 0, `latency ${r.latencyMs} ms`);
});

test("every way an answer can be wrong becomes a classified failure, never a throw", async (t) => {
  const cases: Array<[string, string]> = [
    ["/rpc-error", "rpc_-32000"],
    ["/status-503", "http_503"],
    ["/malformed", "invalid_response"],
    ["/wrong-id", "invalid_response"],
    ["/not-jsonrpc", "invalid_response"],
    ["/reset", "connect"],
    ["/huge", "invalid_response"],
  ];
  for (const [path, expected] of cases) await t.test(`${path} is ${expected}`, async () => {
    const r = await client.call(`${base}${path}`, "eth_blockNumber", [], 2000);
    assert.equal(r.outcome, "error", path);
    assert.equal(r.errorClass, expected, path);
    assert.ok(r.errorDetail && r.errorDetail.length > 0, `${path} has a detail`);
  });
});

test("a connection refused is a connect failure", async () => {
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const r = await client.call(`http://127.0.0.1:${port}/`, "eth_blockNumber", [], 2000);
  assert.equal(r.errorClass, "connect");
});

test("an answer that never comes is a timeout at the deadline", async () => {
  const r = await client.call(`${base}/hang`, "eth_blockNumber", [], 300);
  assert.equal(r.errorClass, "timeout");
  assert.ok(r.latencyMs >= 290, `latency ${r.latencyMs} respects the deadline`);
  assert.ok(r.latencyMs < 5000, `latency ${r.latencyMs} is bounded`);
});

test("the path and query of a route URL reach the server unchanged (API keys live there)", async () => {
  const r = await client.call(`${base}/echo-url/rpc/ethereum?key=abc&x=1`, "eth_blockNumber", [], 2000);
  assert.equal(r.result, "/echo-url/rpc/ethereum?key=abc&x=1");
});

test("a call abandoned at its deadline gives its connection back", async () => {
  const single = new RpcHttpClient({ connectionsPerOrigin: 1 });
  try {
    const hung = await single.call(`${base}/hang`, "eth_blockNumber", [], 200);
    assert.equal(hung.errorClass, "timeout");
    const next = await single.call(`${base}/ok`, "eth_blockNumber", [], 2000);
    assert.equal(next.outcome, "ok", `the only connection was still held: ${next.errorDetail}`);
  } finally {
    await single.close();
  }
});

test("routing metadata: typed fields are checked, nulls read as absent, unknown fields kept, garbage is null", () => {
  const header = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");
  assert.deepEqual(decodeLassoMetaHeader(header({ retries: 2, selected_provider: { id: "a", protocol: "http" }, future_field: [1] })), {
    retries: 2, selected_provider: { id: "a", protocol: "http" }, future_field: [1],
  });
  assert.deepEqual(decodeLassoMetaHeader(header({ retries: 0, selected_provider: null, circuit_breaker_state: "closed" })), {
    retries: 0, circuit_breaker_state: "closed",
  });
  assert.equal(decodeLassoMetaHeader(header({ retries: 1.5 })), null, "retries must be an integer");
  assert.equal(decodeLassoMetaHeader(header({ lasso_overhead_ms: "2" })), null, "latencies are numbers");
  assert.equal(decodeLassoMetaHeader(header({ selected_provider: { protocol: "http" } })), null, "a provider needs an id");
  assert.equal(decodeLassoMetaHeader(header({ candidate_providers: ["a:http", 3] })), null);
  assert.equal(decodeLassoMetaHeader(header([1, 2])), null);
  assert.equal(decodeLassoMetaHeader("%%% not base64url json"), null);
  assert.equal(decodeLassoMetaHeader(undefined), null);
});
