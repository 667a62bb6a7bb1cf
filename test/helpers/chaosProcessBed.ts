/**
 * Chaos windows across real processes, as deployed: an anvil node; the fault proxy PROCESS
 * (`lasso-canary proxy`) in front of it for a Lasso profile file naming its providers; the
 * Lasso sim with a `public` profile (in-process pass-through FaultProxies, so its breakers are
 * its own) and a `canary` profile whose providers are the proxy process's advertised URLs;
 * and the daemon as a child process (`lasso-canary run`) whose config points `chaos:` at the
 * proxy process's control API. The daemon can be killed and started again on the same store.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { lassoProfileYaml } from "../../bench/chaosBed.js";
import { startAnvil } from "../../sim/anvil.js";
import { startLassoSim, type LassoSim, type SimChain } from "../../sim/lasso/index.js";
import { FaultProxy } from "../../src/chaos/faultProxy.js";
import { ProxyControlClient } from "../../src/chaos/controlClient.js";
import { spawnCliDaemon, type CliDaemon } from "./cliDaemon.js";
import { writePlan } from "./canaryBed.js";
import { freePortRange, killChild, startProxyChild, type ProxyChild } from "./proxyBed.js";

export const PROXY_TOKEN = "chaos-process-proxy-token-0123456789";
export const ADMIN_TOKEN = "chaos-process-admin-token-0123456789";
const CHAIN = "ethereum";
const CHAIN_ID = 1;

export interface ChaosProcessBed {
  dir: string;
  lasso: LassoSim;
  /** The proxy process and a client of its control API. */
  proxy: ProxyChild;
  control: ProxyControlClient;
  /** HTTP URL of the proxy process's proxy for a canary provider (what the canary profile names). */
  proxyUrl(provider: string): string;
  /** Starts `lasso-canary run` on the bed's config and store (again after a kill). */
  startDaemon(): Promise<CliDaemon>;
  stop(): Promise<void>;
}

export async function startChaosProcessBed(providers: string[], checks: string): Promise<ChaosProcessBed> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "chaos-process-"));
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const anvil = await startAnvil({ chainId: CHAIN_ID, blockTimeSec: 1 });
    stops.push(() => anvil.stop());

    // Every provider at the one anvil node.
    writeFileSync(path.join(dir, "public.yml"), lassoProfileYaml({ name: CHAIN, chainId: CHAIN_ID }, 1000, providers.map((id) => ({ id, node: anvil }))));
    const basePort = await freePortRange(providers.length + 1);
    const controlUrl = `http://127.0.0.1:${basePort + providers.length}`;
    const proxyConfig = path.join(dir, "proxy.yaml");
    writeFileSync(
      proxyConfig,
      ["profile: public.yml", "control:", `  listen: 127.0.0.1:${basePort + providers.length}`, "  token: ${CANARY_PROXY_TOKEN}", "proxies:", `  basePort: ${basePort}`, "log: { level: info }", ""].join("\n"),
    );
    const proxy = await startProxyChild(proxyConfig, { CANARY_PROXY_TOKEN: PROXY_TOKEN });
    stops.push(() => killChild(proxy));
    const control = new ProxyControlClient({ url: controlUrl, token: PROXY_TOKEN, timeoutMs: 5_000 });
    const listed = await control.list();

    const publicProxies = new Map<string, FaultProxy>();
    for (const id of providers) {
      const p = new FaultProxy({ name: `public/${CHAIN}/${id}`, upstreamHttpUrl: anvil.httpUrl, upstreamWsUrl: anvil.wsUrl });
      await p.start();
      stops.push(() => p.stop());
      publicProxies.set(id, p);
    }
    const chain = (urls: (id: string) => { url: string; wsUrl: string }): SimChain => ({
      name: CHAIN,
      chainId: CHAIN_ID,
      blockTimeMs: 1000,
      providers: providers.map((id, i) => ({ id, name: id, priority: i + 1, ...urls(id) })),
    });
    const canaryUrls = (id: string): { url: string; wsUrl: string } => {
      const p = listed.find((x) => x.chain === CHAIN && x.provider === id);
      if (p === undefined || p.wsUrl === null) throw new Error(`the proxy process has no proxy with ws for ${CHAIN}/${id}: ${JSON.stringify(listed)}`);
      return { url: p.httpUrl, wsUrl: p.wsUrl };
    };
    const lasso = await startLassoSim({
      profiles: [
        { slug: "public", name: "public", chains: [chain((id) => ({ url: publicProxies.get(id)?.httpUrl ?? "", wsUrl: publicProxies.get(id)?.wsUrl ?? "" }))] },
        { slug: "canary", name: "canary", chains: [chain(canaryUrls)] },
      ],
      breaker: { openMs: 2_000 },
    });
    stops.push(() => lasso.stop());

    const config = writePlan(dir, { [CHAIN]: checks }, {
      logLevel: "info",
      extraConfig: [`adminToken: ${ADMIN_TOKEN}`, "chaos:", `  proxyControl: ${controlUrl}`, "  proxyToken: ${CANARY_PROXY_TOKEN}"],
    });
    const daemons: CliDaemon[] = [];
    stops.push(async () => {
      for (const d of daemons) await killChild({ child: d.child, exited: exitOf(d) });
    });
    return {
      dir,
      lasso,
      proxy,
      control,
      proxyUrl: (id) => canaryUrls(id).url,
      async startDaemon() {
        const d = await spawnCliDaemon(config, { LASSO_URL: lasso.url, CANARY_PROXY_TOKEN: PROXY_TOKEN });
        daemons.push(d);
        return d;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Resolves when the daemon child has exited (at once if it already has). */
export function exitOf(d: CliDaemon): Promise<number | null> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return Promise.resolve(d.child.exitCode);
  return new Promise((resolve) => d.child.once("exit", (code) => resolve(code)));
}
