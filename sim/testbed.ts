import { FaultProxy } from "../src/chaos/faultProxy.js";
import { startAnvil, type AnvilNode } from "./anvil.js";
import { startLassoSim, type Defects, type LassoSim, type SimChain } from "./lasso/index.js";

export interface TestBedChainSpec {
  name: string;
  chainId: number;
  blockTimeSec: number;
  /** Provider ids, in priority order (first = preferred for subscriptions). */
  providers: string[];
}

export interface TestBedOptions {
  chains: TestBedChainSpec[];
  /** Extra profiles served by the same providers, e.g. "canary" for chaos windows. */
  extraProfiles?: string[];
  breakerOpenMs?: number;
  defects?: Partial<Defects>;
}

export interface TestBedChain {
  spec: TestBedChainSpec;
  node: AnvilNode;
  /** provider id -> the fault proxy that is that provider. */
  providers: Map<string, FaultProxy>;
}

export interface TestBed {
  lasso: LassoSim;
  chains: Map<string, TestBedChain>;
  provider(chain: string, id: string): FaultProxy;
  stop(): Promise<void>;
}

/**
 * The local stand-in for production: one anvil node per chain, several fault proxies in
 * front of each node acting as that chain's providers, and the Lasso-compatible target
 * routing across them. Everything on 127.0.0.1, ephemeral ports.
 */
export async function startTestBed(opts: TestBedOptions): Promise<TestBed> {
  const chains = new Map<string, TestBedChain>();
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
  try {
    for (const spec of opts.chains) {
      const node = await startAnvil({ chainId: spec.chainId, blockTimeSec: spec.blockTimeSec });
      stops.push(() => node.stop());
      const providers = new Map<string, FaultProxy>();
      for (const id of spec.providers) {
        const proxy = new FaultProxy({ name: `${spec.name}/${id}`, upstreamHttpUrl: node.httpUrl, upstreamWsUrl: node.wsUrl });
        await proxy.start();
        stops.push(() => proxy.stop());
        providers.set(id, proxy);
      }
      chains.set(spec.name, { spec, node, providers });
    }
    const simChains: SimChain[] = [...chains.values()].map(({ spec, providers }) => ({
      name: spec.name,
      chainId: spec.chainId,
      blockTimeMs: spec.blockTimeSec * 1000,
      providers: spec.providers.map((id, i) => {
        const proxy = providers.get(id);
        if (!proxy) throw new Error(`no proxy for ${id}`);
        return { id, name: id, priority: i + 1, url: proxy.httpUrl, wsUrl: proxy.wsUrl };
      }),
    }));
    const profiles = ["public", ...(opts.extraProfiles ?? [])].map((slug) => ({ slug, name: slug, chains: simChains }));
    const lasso = await startLassoSim({
      profiles,
      breaker: { openMs: opts.breakerOpenMs ?? 2000 },
      ...(opts.defects ? { defects: opts.defects } : {}),
    });
    stops.push(() => lasso.stop());
    return {
      lasso,
      chains,
      provider(chain, id) {
        const proxy = chains.get(chain)?.providers.get(id);
        if (!proxy) throw new Error(`test bed has no provider ${id} on ${chain}`);
        return proxy;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The demo's and the default plan's shape: 2 chains x 3 providers. */
export const DEFAULT_TESTBED: TestBedOptions = {
  chains: [
    { name: "ethereum", chainId: 1, blockTimeSec: 1, providers: ["alpha", "bravo", "charlie"] },
    { name: "base", chainId: 8453, blockTimeSec: 1, providers: ["alpha", "bravo", "charlie"] },
  ],
  extraProfiles: ["canary"],
};
