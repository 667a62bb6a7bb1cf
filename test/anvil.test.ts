import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { startAnvil } from "../sim/anvil.js";
import { alive, anvilPids } from "./helpers/processes.js";
import { waitFor } from "./helpers/waitFor.js";

async function rpc(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: unknown };
  return body.result;
}

test("anvil runs with its own chain id and block time, and stops", async () => {
  const node = await startAnvil({ chainId: 777, blockTimeSec: 0.5 });
  try {
    assert.equal(await rpc(node.httpUrl, "eth_chainId"), "0x309");
    const first = Number(await rpc(node.httpUrl, "eth_blockNumber"));
    await waitFor(async () => Number(await rpc(node.httpUrl, "eth_blockNumber")) >= first + 2, {
      timeoutMs: 10_000,
      message: "two new blocks",
    });
  } finally {
    await node.stop();
  }
  assert.equal(alive(node.pid), false);
  assert.deepEqual(anvilPids(777), []);
  await assert.rejects(rpc(node.httpUrl, "eth_chainId"));
});

test("anvil dies with its parent even when the parent is SIGKILLed", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/anvilOrphan.ts"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  const pid = await waitFor(() => (/^(\d+)\n/.exec(out)?.[1] ? Number(/^(\d+)\n/.exec(out)?.[1]) : 0), {
    timeoutMs: 20_000,
    message: "the orphan fixture to print anvil's pid",
  });
  assert.equal(alive(pid), true);
  assert.equal(anvilPids(4242).length, 1, "exactly one anvil for chain 4242 runs");
  child.kill("SIGKILL");
  await waitFor(() => !alive(pid) && anvilPids(4242).length === 0, {
    timeoutMs: 10_000,
    message: "anvil and its guard to exit after their parent died",
  });
});
