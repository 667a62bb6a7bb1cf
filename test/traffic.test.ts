/**
 * The traffic generator's hand-assembled contract against a real anvil (automine): it deploys
 * to the expected runtime code, and every call emits LOG2 with keccak("CanaryPing(address,bytes)"),
 * the caller, and the calldata; the generator sends from several funded accounts.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startAnvil, type AnvilNode } from "../sim/anvil.js";
import { CANARY_PING_TOPIC, deployLogEmitter, LOG_EMITTER_CREATION, LOG_EMITTER_RUNTIME, startTraffic } from "../sim/traffic.js";
import { waitFor } from "./helpers/waitFor.js";

let node: AnvilNode;

async function rpc(method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(node.httpUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  const body = (await res.json()) as { result?: unknown; error?: unknown };
  assert.equal(body.error, undefined, JSON.stringify(body.error));
  return body.result;
}

interface Log {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
}

before(async () => {
  node = await startAnvil({ chainId: 31337, blockTimeSec: 0 });
});

after(async () => {
  await node?.stop();
});

test("the creation code returns exactly the runtime, whose length is what it copies", () => {
  assert.equal((LOG_EMITTER_RUNTIME.length - 2) / 2, 0x2d);
  assert.equal(LOG_EMITTER_CREATION.slice(0, 24), "0x602d80600b6000396000f3", "PUSH1 0x2d DUP1 PUSH1 0x0b PUSH1 0 CODECOPY PUSH1 0 RETURN");
  assert.equal((LOG_EMITTER_CREATION.length - 2) / 2, 0x0b + 0x2d);
});

test("the topic is keccak256 of the event signature (checked by the node)", async () => {
  const hex = `0x${Buffer.from("CanaryPing(address,bytes)").toString("hex")}`;
  assert.equal(await rpc("web3_sha3", [hex]), CANARY_PING_TOPIC);
});

test("a call emits LOG2(topic, caller) with the calldata; traffic rotates over funded senders", async () => {
  const { address } = await deployLogEmitter(node.httpUrl);
  assert.equal(await rpc("eth_getCode", [address, "latest"]), LOG_EMITTER_RUNTIME);
  const traffic = await startTraffic({ rpcUrl: node.httpUrl, address, intervalMs: 20, senders: 3 });
  await waitFor(() => traffic.sent() >= 6, { timeoutMs: 10_000, message: "6 transactions" });
  await traffic.stop();
  assert.equal(traffic.errors(), 0);
  const logs = (await rpc("eth_getLogs", [{ address, fromBlock: "0x0", toBlock: "latest", topics: [CANARY_PING_TOPIC] }])) as Log[];
  assert.equal(logs.length, traffic.sent());
  const senders = new Set(logs.map((l) => l.topics[1]));
  assert.deepEqual([...senders].sort(), traffic.senders.map((s) => `0x${s.slice(2).padStart(64, "0")}`).sort(), "topic1 is the sender");
  const counters = logs.map((l) => Number.parseInt(l.data, 16)).sort((a, b) => a - b);
  assert.deepEqual(counters, counters.map((_, i) => i), "data is the calldata: a counter per transaction");
  assert.deepEqual(logs.filter((l) => l.topics.length !== 2 || l.data.length !== 66), [], "two topics and one 32-byte word of data per log");
});

test("traffic refuses a node that is not local", async () => {
  await assert.rejects(startTraffic({ rpcUrl: "http://10.0.0.1:8545" }), /only goes to a local test node/);
});
