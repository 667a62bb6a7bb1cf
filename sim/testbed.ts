import { FaultProxy } from "../src/chaos/faultProxy.js";
import { startAnvil, type AnvilNode } from "./anvil.js";
import { startLassoSim, type Defects, type LassoSim, type SimChain } from "./lasso/index.js";

/**
 * A provider of the test bed. A plain id is a provider with a ws_url that subscribes to
 * newHeads. `ws: false` gives the target no ws_url for it (its fault proxy still exists and
 * serves HTTP); `subscribeNewHeads` defaults to `ws`.
 */
export type TestBedProviderSpec = string | { id: string; ws?: boolean; subscribeNewHeads?: boolean };

export interface TestBedChainSpec {
  name: string;
  chainId: number;
  blockTimeSec: number;
  /** Providers in priority order (first = preferred for subscriptions). */
  providers: TestBedProviderSpec[];
  /**
   * Serve this chain name from the anvil node and provider proxies of the earlier chain so
   * named (same block time, providers among its own), so many chain names cost a few nodes.
   * Pinned eth_chainId requests then answer that node's id; Lasso's own answers use `chainId`.
   */
  node?: string;
}

export interface TestBedOptions {
  chains: TestBedChainSpec[];
  /** Extra profiles served by the same providers, e.g. "canary" for chaos windows. */
  extraProfiles?: string[];
  breakerOpenMs?: number;
  /** How often the target polls each provider's head; default the block time. */
  healthPollMs?: number;
  defects?: Partial<Defects>;
  /** Passed to the target: an authenticating proxy in front of it (see LassoSimOptions). */
  requireHeaders?: Record<string, string>;
  /** Passed to the target: its in-flight request byte budget (see LassoSimOptions). */
  inflightByteBudget?: number;
}

export interface TestBedChain {
  spec: TestBedChainSpec;
  node: AnvilNode;
  /** profile -> provider id -> the fault proxy that is that provider in that profile. */
  providers: Map<string, Map<string, FaultProxy>>;
}

export interface TestBed {
  /** The Lasso target now running (restartLasso replaces it). */
  readonly lasso: LassoSim;
  /**
   * Stops the Lasso target and starts a fresh one on the same port (uptime from 0, the bed's
   * initial defects, retained memory released): a node restart, as soak sampling sees it.
   */
  restartLasso(): Promise<void>;
  chains: Map<string, TestBedChain>;
  /** The fault proxy that is provider `id` of `chain` in `profile` (default "public"). */
  provider(chain: string, id: string, profile?: string): FaultProxy;
  stop(): Promise<void>;
}

/**
 * The local stand-in for production: one anvil node per chain, several fault proxies in
 * front of each node acting as that chain's providers, and the Lasso-compatible target
 * routing across them. Everything on 127.0.0.1, ephemeral ports.
 */
export async function startTestBed(opts: TestBedOptions): Promise<TestBed> {
  const chains = new Map<string, TestBedChain>();
  const profileSlugs = ["public", ...(opts.extraProfiles ?? [])];
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
  try {
    for (const spec of opts.chains) {
      if (spec.node !== undefined) {
        chains.set(spec.name, sharedNodeChain(spec, chains.get(spec.node)));
        continue;
      }
      const node = await startAnvil({ chainId: spec.chainId, blockTimeSec: spec.blockTimeSec });
      stops.push(() => node.stop());
      // Each profile gets its own proxies: Lasso keys breakers by upstream URL, so a fault
      // on a canary provider must not touch the public profile (the unfaulted control).
      const providers = new Map<string, Map<string, FaultProxy>>();
      for (const profile of profileSlugs) {
        const byId = new Map<string, FaultProxy>();
        for (const { id } of spec.providers.map(providerSpec)) {
          const proxy = new FaultProxy({ name: `${profile}/${spec.name}/${id}`, upstreamHttpUrl: node.httpUrl, upstreamWsUrl: node.wsUrl });
          await proxy.start();
          stops.push(() => proxy.stop());
          byId.set(id, proxy);
        }
        providers.set(profile, byId);
      }
      chains.set(spec.name, { spec, node, providers });
    }
    const chainsOf = (profile: string): SimChain[] =>
      [...chains.values()].map(({ spec, providers }) => ({
        name: spec.name,
        chainId: spec.chainId,
        ...(spec.node === undefined ? {} : { upstreamChainId: chains.get(spec.node)?.spec.chainId }),
        blockTimeMs: spec.blockTimeSec * 1000,
        providers: spec.providers.map(providerSpec).map(({ id, ws, subscribeNewHeads }, i) => {
          const proxy = providers.get(profile)?.get(id);
          if (!proxy) throw new Error(`no proxy for ${profile}/${id}`);
          return { id, name: id, priority: i + 1, url: proxy.httpUrl, ...(ws ? { wsUrl: proxy.wsUrl } : {}), subscribeNewHeads };
        }),
      }));
    const profiles = profileSlugs.map((slug) => ({ slug, name: slug, chains: chainsOf(slug) }));
    const simOptions = {
      profiles,
      breaker: { openMs: opts.breakerOpenMs ?? 2000 },
      ...(opts.healthPollMs ? { healthPollMs: opts.healthPollMs } : {}),
      ...(opts.defects ? { defects: opts.defects } : {}),
      ...(opts.requireHeaders ? { requireHeaders: opts.requireHeaders } : {}),
      ...(opts.inflightByteBudget ? { inflightByteBudget: opts.inflightByteBudget } : {}),
    };
    let lasso = await startLassoSim(simOptions);
    stops.push(() => lasso.stop());
    return {
      get lasso() {
        return lasso;
      },
      async restartLasso() {
        const port = lasso.port;
        await lasso.stop();
        lasso = await startLassoSim({ ...simOptions, port });
      },
      chains,
      provider(chain, id, profile = "public") {
        const proxy = chains.get(chain)?.providers.get(profile)?.get(id);
        if (!proxy) throw new Error(`test bed has no provider ${profile}/${id} on ${chain}`);
        return proxy;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** A chain served by `host`'s node and proxies (TestBedChainSpec.node). */
function sharedNodeChain(spec: TestBedChainSpec, host: TestBedChain | undefined): TestBedChain {
  if (host === undefined || host.spec.node !== undefined) throw new Error(`chain ${spec.name}: node "${spec.node}" must name an earlier chain with its own node`);
  if (host.spec.blockTimeSec !== spec.blockTimeSec) throw new Error(`chain ${spec.name}: its block time must be ${host.spec.blockTimeSec} s, the one of node ${host.spec.name}`);
  const providers = new Map<string, Map<string, FaultProxy>>();
  for (const [profile, byId] of host.providers) {
    const mine = new Map<string, FaultProxy>();
    for (const { id } of spec.providers.map(providerSpec)) {
      const proxy = byId.get(id);
      if (proxy === undefined) throw new Error(`chain ${spec.name}: node ${host.spec.name} has no provider ${id}`);
      mine.set(id, proxy);
    }
    providers.set(profile, mine);
  }
  return { spec, node: host.node, providers };
}

function providerSpec(p: TestBedProviderSpec): { id: string; ws: boolean; subscribeNewHeads: boolean } {
  if (typeof p === "string") return { id: p, ws: true, subscribeNewHeads: true };
  const ws = p.ws ?? true;
  return { id: p.id, ws, subscribeNewHeads: p.subscribeNewHeads ?? ws };
}

/** The demo's and the default plan's shape: 2 chains x 3 providers. */
export const DEFAULT_TESTBED: TestBedOptions = {
  chains: [
    { name: "ethereum", chainId: 1, blockTimeSec: 1, providers: ["alpha", "bravo", "charlie"] },
    { name: "base", chainId: 8453, blockTimeSec: 1, providers: ["alpha", "bravo", "charlie"] },
  ],
  extraProfiles: ["canary"],
};
