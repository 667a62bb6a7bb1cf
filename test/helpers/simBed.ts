import assert from "node:assert/strict";
import { after, before } from "node:test";
import { startAnvil, type AnvilNode } from "../../sim/anvil.js";
import { startLassoSim, type LassoSim, type LassoSimOptions } from "../../sim/lasso/index.js";
import { FaultProxy } from "../../src/chaos/faultProxy.js";

export const CHAIN = "anvil";
export const CHAIN_ID = 31337;
export const IDS = ["a", "b", "c"] as const;
export type Id = (typeof IDS)[number];

export interface SimBed {
  /** The chain's own node, not through any proxy or the target. */
  anvil(): AnvilNode;
  proxy(id: Id): FaultProxy;
  proxies(): FaultProxy[];
  sim(): LassoSim;
}

/**
 * One anvil chain (1 s blocks) behind three FaultProxy providers a, b, c, and the
 * Lasso-compatible target over them, started before the file's tests and stopped after.
 * `options` builds the target's options from the running proxies; `beforeStop` runs first
 * on the way down (closing clients, say).
 */
export function useSimBed(options: (proxy: (id: Id) => FaultProxy) => LassoSimOptions, beforeStop?: () => void): SimBed {
  let anvil: AnvilNode | undefined;
  const proxies = new Map<Id, FaultProxy>();
  let sim: LassoSim | undefined;
  const bed: SimBed = {
    anvil() {
      assert.ok(anvil, "anvil started");
      return anvil;
    },
    proxy(id) {
      const p = proxies.get(id);
      assert.ok(p, `proxy ${id}`);
      return p;
    },
    proxies: () => [...proxies.values()],
    sim() {
      assert.ok(sim, "sim started");
      return sim;
    },
  };
  before(async () => {
    anvil = await startAnvil({ chainId: CHAIN_ID, blockTimeSec: 1 });
    for (const id of IDS) {
      const p = new FaultProxy({ name: id, upstreamHttpUrl: anvil.httpUrl, upstreamWsUrl: anvil.wsUrl });
      await p.start();
      proxies.set(id, p);
    }
    sim = await startLassoSim(options(bed.proxy));
  });
  after(async () => {
    beforeStop?.();
    await sim?.stop();
    for (const p of proxies.values()) await p.stop();
    await anvil?.stop();
  });
  return bed;
}
