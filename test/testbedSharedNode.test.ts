import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startTestBed, type TestBed } from "../sim/testbed.js";
import { waitFor } from "./helpers/waitFor.js";

async function rpc(url: string, method: string): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: [] }),
  });
  return ((await res.json()) as { result?: unknown }).result;
}

interface SimStatus {
  chains: Array<{ profile: string; chain: string; providers: Array<{ id: string; poll_ok: boolean | null }> }>;
}

describe("test bed: several chain names served by one anvil node", () => {
  let bed: TestBed;
  before(async () => {
    bed = await startTestBed({
      chains: [
        { name: "host", chainId: 4101, blockTimeSec: 1, providers: ["alpha", "bravo"] },
        { name: "guest", chainId: 4102, blockTimeSec: 1, providers: ["alpha", "bravo"], node: "host" },
      ],
    });
  });
  after(() => bed?.stop());

  test("the guest shares the host's node and provider proxies", () => {
    assert.equal(bed.chains.get("guest")?.node, bed.chains.get("host")?.node);
    assert.equal(bed.provider("guest", "alpha"), bed.provider("host", "alpha"));
  });

  test("the target's health polls accept the node's chain id for the guest: its providers poll ok", async () => {
    await waitFor(async () => {
      const status = (await (await fetch(`${bed.lasso.url}/_sim/status`)).json()) as SimStatus;
      const guest = status.chains.find((c) => c.chain === "guest" && c.profile === "public");
      return guest !== undefined && guest.providers.length === 2 && guest.providers.every((p) => p.poll_ok === true);
    }, { timeoutMs: 15_000, message: "both guest providers to poll ok" });
  });

  test("Lasso answers each chain's own id; a pinned request reaches the shared node", async () => {
    assert.equal(await rpc(`${bed.lasso.url}/rpc/host`, "eth_chainId"), "0x1005");
    assert.equal(await rpc(`${bed.lasso.url}/rpc/guest`, "eth_chainId"), "0x1006");
    assert.equal(await rpc(`${bed.lasso.url}/rpc/provider/alpha/guest`, "eth_chainId"), "0x1005");
    assert.match(String(await rpc(`${bed.lasso.url}/rpc/guest`, "eth_blockNumber")), /^0x[0-9a-f]+$/);
  });
});

describe("test bed: a shared node must be declared first", () => {
  const cases = [
    { name: "an unknown node", chains: [{ name: "guest", chainId: 4202, blockTimeSec: 1, providers: ["alpha"], node: "nowhere" }], error: /node "nowhere" must name an earlier chain/ },
    {
      name: "a provider the node lacks",
      chains: [
        { name: "host", chainId: 4301, blockTimeSec: 1, providers: ["alpha"] },
        { name: "guest", chainId: 4302, blockTimeSec: 1, providers: ["alpha", "zulu"], node: "host" },
      ],
      error: /node host has no provider zulu/,
    },
    {
      name: "another block time",
      chains: [
        { name: "host", chainId: 4401, blockTimeSec: 1, providers: ["alpha"] },
        { name: "guest", chainId: 4402, blockTimeSec: 2, providers: ["alpha"], node: "host" },
      ],
      error: /block time must be 1 s/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      await assert.rejects(startTestBed({ chains: c.chains }), c.error);
    });
  }
});
