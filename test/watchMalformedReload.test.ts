/**
 * lasso_canary_watch_malformed_frames_total is a counter: a reload builds new watchers, and
 * no frame counted before it may be lost, including frames that arrived after the last scrape.
 * The target is a small loopback server speaking just enough of Lasso: eth_blockNumber and
 * eth_chainId over HTTP, and a WebSocket that acknowledges eth_subscribe and then sends
 * frames that are not JSON only when the test says so.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { after, before, test } from "node:test";
import { WebSocketServer, type WebSocket } from "ws";
import { createLogger } from "../src/log.js";
import { startDaemon, type Daemon } from "../src/main.js";
import { loadPlan } from "../src/plan/index.js";
import { writePlan } from "./helpers/canaryBed.js";
import { waitFor } from "./helpers/waitFor.js";

const TOKEN = "malformed-reload-token-0123";
const startedAt = Date.now();
const head = (): string => `0x${(100 + Math.floor((Date.now() - startedAt) / 1000)).toString(16)}`;

let server: http.Server;
const sockets = new Set<WebSocket>();
let subscriptions = 0;
let daemon: Daemon;
let dir = "";
let malformedLogged = 0;

function answer(call: { id: unknown; method: string }): unknown {
  const result = call.method === "eth_chainId" ? "0x1" : call.method === "eth_blockNumber" ? head() : null;
  return result === null ? { jsonrpc: "2.0", id: call.id, error: { code: -32601, message: "method not found" } } : { jsonrpc: "2.0", id: call.id, result };
}

/** Sends `n` frames that are not JSON on every open subscription socket. */
function sendMalformed(n: number): void {
  for (const ws of sockets) for (let i = 0; i < n; i++) ws.send("{this is not json");
}

async function malformedMetric(): Promise<number> {
  const text = await (await fetch(`${daemon.url}/metrics`)).text();
  const m = /^lasso_canary_watch_malformed_frames_total (\d+)$/m.exec(text);
  assert.notEqual(m, null, "the counter is exported");
  return Number(m?.[1]);
}

before(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      if (req.method !== "POST") return void res.writeHead(404).end();
      const parsed = JSON.parse(body) as { id: unknown; method: string } | Array<{ id: unknown; method: string }>;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(Array.isArray(parsed) ? parsed.map(answer) : answer(parsed)));
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on("connection", (ws) => {
    ws.on("message", (data: Buffer) => {
      const call = JSON.parse(data.toString()) as { id: unknown; method: string };
      if (call.method === "eth_subscribe") {
        sockets.add(ws);
        subscriptions++;
        ws.send(JSON.stringify({ jsonrpc: "2.0", id: call.id, result: "0x00000000000000aa" }));
      } else ws.send(JSON.stringify(answer(call)));
    });
    ws.on("close", () => sockets.delete(ws));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  dir = mkdtempSync(path.join(os.tmpdir(), "canary-malformed-"));
  const checks = [
    "chain: ethereum",
    "chainId: 1",
    "blockTimeMs: 1000",
    "routes:",
    "  - { strategy: load-balanced }",
    "probes:",
    "  - { method: eth_blockNumber, interval: 5s, timeout: 1s, routes: all, assert: [shape: quantity] }",
    "watchers:",
    "  - { subscription: newHeads, routes: [load-balanced] }",
  ].join("\n");
  const configPath = writePlan(dir, { ethereum: checks }, { extraConfig: [`adminToken: "${TOKEN}"`] });
  const env = { LASSO_URL: url };
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      malformedLogged += (chunk.toString().match(/"kind":"malformed_frame"/g) ?? []).length;
      done();
    },
  });
  daemon = await startDaemon({ plan: loadPlan(configPath, env), logger: createLogger("warn", sink), listen: { host: "127.0.0.1", port: 0 }, loadPlan: () => loadPlan(configPath, env) });
});

after(async () => {
  await daemon?.stop();
  for (const ws of sockets) ws.terminate();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

test("malformed frames counted before a reload stay counted, also those that came after the last scrape", { timeout: 60_000 }, async () => {
  await waitFor(() => sockets.size === 1, { timeoutMs: 20_000, message: "the watcher subscribed" });
  sendMalformed(3);
  await waitFor(() => malformedLogged >= 3, { timeoutMs: 10_000, message: "three malformed frames noticed" });
  assert.equal(await malformedMetric(), 3, "counted and scraped");

  // Two more after that scrape, then a reload before any other scrape.
  sendMalformed(2);
  await waitFor(() => malformedLogged >= 5, { timeoutMs: 10_000, message: "two more malformed frames noticed" });
  const subscribedBefore = subscriptions;
  const reload = await fetch(`${daemon.url}/-/reload`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(reload.status, 200, "the same plan reloads");
  assert.equal(await malformedMetric(), 5, "all five frames, the two unscraped ones included, survive the reload");

  // The new watchers count on top of the old total. (The reloaded plan's logger is its own
  // config's, silent here: the counter itself is watched.)
  await waitFor(() => subscriptions > subscribedBefore && sockets.size === 1, { timeoutMs: 20_000, message: "the reloaded watcher subscribed, the old socket closed" });
  sendMalformed(1);
  await waitFor(async () => (await malformedMetric()) === 6, { timeoutMs: 10_000, message: "the frame after the reload counted on top: 6" });
});
