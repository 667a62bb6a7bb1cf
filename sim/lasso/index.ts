/**
 * Lasso-compatible target for tests and the demo: a local stand-in for Lasso RPC that
 * implements the docs/lasso-contract.md contract (routes, strategies, pins, failover, circuit breakers,
 * routing metadata, WS subscriptions with failover/backfill/dedup, /api endpoints) with
 * run-time switchable defects. Listens on 127.0.0.1 only.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { CpuSampler } from "./api.js";
import type { BreakerConfig } from "./breaker.js";
import { DefectState } from "./defects.js";
import { ByteBudget, DEFAULT_BYTE_BUDGET } from "./frontDoor.js";
import { HttpHandler } from "./httpServer.js";
import { Pipeline } from "./pipeline.js";
import { ProviderPool } from "./providerPool.js";
import { DEFAULT_PROFILE } from "./routes.js";
import { SubscriptionManager } from "./subscriptions.js";
import type { Defects, LassoSim, LassoSimOptions } from "./types.js";
import { UpstreamClient } from "./upstream.js";
import { ClientWsServer } from "./wsServer.js";

export type { BreakerOptions, Defects, LassoSim, LassoSimOptions, SimChain, SimProfile, SimProvider } from "./types.js";
export { NO_DEFECTS } from "./defects.js";

function validate(opts: LassoSimOptions): void {
  const slugs = new Set<string>();
  for (const p of opts.profiles) {
    if (slugs.has(p.slug)) throw new Error(`duplicate profile slug ${p.slug}`);
    slugs.add(p.slug);
    const names = new Set<string>();
    for (const c of p.chains) {
      if (names.has(c.name)) throw new Error(`duplicate chain ${c.name} in profile ${p.slug}`);
      names.add(c.name);
      if (!Number.isSafeInteger(c.chainId) || c.chainId <= 0) throw new Error(`bad chainId for ${c.name}`);
      if (!(c.blockTimeMs > 0)) throw new Error(`bad blockTimeMs for ${c.name}`);
      const ids = new Set<string>();
      for (const pr of c.providers) {
        if (ids.has(pr.id)) throw new Error(`duplicate provider ${pr.id} in ${p.slug}/${c.name}`);
        ids.add(pr.id);
      }
    }
  }
  if (!slugs.has(DEFAULT_PROFILE)) throw new Error(`profiles must include slug "${DEFAULT_PROFILE}"`);
  const budget = opts.inflightByteBudget;
  if (budget !== undefined && !(Number.isSafeInteger(budget) && budget > 0)) throw new Error("inflightByteBudget must be a positive integer");
  for (const [name, value] of Object.entries(opts.requireHeaders ?? {})) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || typeof value !== "string") throw new Error(`requireHeaders: bad header ${JSON.stringify(name)}`);
  }
}

export async function startLassoSim(opts: LassoSimOptions): Promise<LassoSim> {
  validate(opts);
  const breakerCfg: BreakerConfig = {
    failureThreshold: opts.breaker?.failureThreshold ?? 5,
    openMs: opts.breaker?.openMs ?? 60_000,
    halfOpenSuccesses: opts.breaker?.halfOpenSuccesses ?? 2,
    maxOpenMs: opts.breaker?.maxOpenMs ?? 600_000,
    timeoutsTrip: opts.breaker?.timeoutsTrip ?? false,
  };
  const defects = new DefectState(opts.defects);
  const client = new UpstreamClient();
  const pool = new ProviderPool(opts.profiles, breakerCfg, client);
  const pipeline = new Pipeline(client);
  const subs = new SubscriptionManager({ client, defects: () => defects.get(), staleBlockTimes: opts.staleBlockTimes ?? 3 });
  let handler: HttpHandler | null = null;
  const api = {
    pool,
    version: opts.version ?? "0.2.0-sim",
    startedAtMs: Date.now(),
    cpu: new CpuSampler(),
    inFlight: () => handler?.inFlight ?? 0,
  };
  const requireHeaders = opts.requireHeaders;
  const budget = new ByteBudget(opts.inflightByteBudget ?? DEFAULT_BYTE_BUDGET);
  handler = new HttpHandler({ pool, pipeline, defects, subs, api, budget, requireHeaders });
  const h = handler;
  const ws = new ClientWsServer({ pool, pipeline, subs, defects: () => defects.get(), pingIntervalMs: opts.wsPingIntervalMs ?? 30_000, requireHeaders });
  const server = createServer((req, res) => h.handle(req, res));
  server.on("upgrade", (req, socket, head: Buffer) => ws.handleUpgrade(req, socket, head));
  // Longer than clients' idle keep-alive (the canary uses 30 s) so the server never closes first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  await pool.start(opts.healthPollMs);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port ?? 0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    pool.stop();
    defects.stop();
    await client.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;

  let stopped: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    port,
    setDefects(d: Partial<Defects>): void {
      defects.set(d);
    },
    defects(): Defects {
      return defects.get();
    },
    stop(): Promise<void> {
      stopped ??= (async () => {
        ws.stop();
        subs.stop();
        pool.stop();
        defects.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await client.close();
      })();
      return stopped;
    },
  };
}
