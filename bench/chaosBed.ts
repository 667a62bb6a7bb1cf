/**
 * The test bed of bench/daemon.ts's chaos mode (BENCH_CHAOS=1), built as production runs it:
 * the public profile as the bench's test bed has it (one anvil node per chain, an in-process
 * fault proxy per provider), plus the compiled fault proxy process (`node dist/src/cli.js
 * proxy`) standing in front of one chain's providers (a Lasso profile file with that chain's
 * anvil URLs as upstreams), and the Lasso target serving a `canary` profile whose providers
 * are that process's advertised URLs. sim/testbed.ts keeps every proxy in process, so the
 * pieces are started here.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { ProxyControlClient } from "../src/chaos/controlClient.js";
import type { ProxyInfo } from "../src/chaos/control.js";
import { FaultProxy } from "../src/chaos/faultProxy.js";
import { startAnvil, type AnvilNode } from "../sim/anvil.js";
import { startLassoSim, type LassoSim, type SimChain } from "../sim/lasso/index.js";
import { freePortRange } from "../test/helpers/proxyBed.js";

export interface ChaosBenchOptions {
  dir: string;
  chains: Array<{ name: string; chainId: number }>;
  blockTimeSec: number;
  /** Provider ids of every chain, in priority order. */
  providers: string[];
  /** The chain whose providers the proxy process stands in front of (the canary profile's one chain). */
  canaryChain: string;
  /** The proxy process's control token. */
  proxyToken: string;
}

export interface ChaosBenchBed {
  lasso: LassoSim;
  proxyProcess: ChildProcess;
  /** Base URL of the proxy process's control API. */
  proxyControl: string;
  control: ProxyControlClient;
  stop(): Promise<void>;
}

const until = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A child's exit (code or signal), resolved at once when it already exited. */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** SIGTERM, then SIGKILL if the child is still there after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  const gone = exited(child);
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await gone;
  clearTimeout(timer);
}

/** A Lasso profile file (public) with one chain whose providers are the given anvil nodes: what a proxy process stands in front of. */
export function lassoProfileYaml(chain: { name: string; chainId: number }, blockTimeMs: number, providers: Array<{ id: string; node: AnvilNode }>): string {
  return [
    "---",
    "name: Public",
    "slug: public",
    "---",
    "chains:",
    `  ${chain.name}:`,
    `    chain_id: ${chain.chainId}`,
    `    block_time_ms: ${blockTimeMs}`,
    "    providers:",
    ...providers.flatMap(({ id, node }, i) => [`      - id: "${id}"`, `        priority: ${i + 1}`, `        url: "${node.httpUrl}"`, `        ws_url: "${node.wsUrl}"`]),
    "",
  ].join("\n");
}

/** Lists the proxy process's proxies, retrying until its control API answers (bounded). */
async function proxiesOnceUp(control: ProxyControlClient, child: ChildProcess, timeoutMs: number): Promise<ProxyInfo[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the proxy process exited (${child.exitCode ?? child.signalCode})`);
    try {
      return await control.list();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`the proxy process's control API did not answer within ${timeoutMs} ms: ${err instanceof Error ? err.message : String(err)}`);
      await until(200);
    }
  }
}

export async function startChaosBenchBed(o: ChaosBenchOptions): Promise<ChaosBenchBed> {
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
  try {
    const blockTimeMs = o.blockTimeSec * 1000;
    const publicChains: SimChain[] = [];
    const nodes = new Map<string, AnvilNode>();
    for (const chain of o.chains) {
      const node = await startAnvil({ chainId: chain.chainId, blockTimeSec: o.blockTimeSec });
      stops.push(() => node.stop());
      nodes.set(chain.name, node);
      const providers = [];
      for (const [i, id] of o.providers.entries()) {
        const proxy = new FaultProxy({ name: `public/${chain.name}/${id}`, upstreamHttpUrl: node.httpUrl, upstreamWsUrl: node.wsUrl });
        await proxy.start();
        stops.push(() => proxy.stop());
        providers.push({ id, name: id, priority: i + 1, url: proxy.httpUrl, wsUrl: proxy.wsUrl });
      }
      publicChains.push({ name: chain.name, chainId: chain.chainId, blockTimeMs, providers });
    }

    const canary = o.chains.find((c) => c.name === o.canaryChain);
    const canaryNode = nodes.get(o.canaryChain);
    if (canary === undefined || canaryNode === undefined) throw new Error(`canaryChain ${o.canaryChain} is not one of the chains`);
    writeFileSync(path.join(o.dir, "public.yml"), lassoProfileYaml(canary, blockTimeMs, o.providers.map((id) => ({ id, node: canaryNode }))));
    const basePort = await freePortRange(o.providers.length + 1);
    const controlPort = basePort + o.providers.length;
    const proxyConfig = path.join(o.dir, "proxy.yaml");
    writeFileSync(proxyConfig, [
      "profile: public.yml",
      `control: { listen: "127.0.0.1:${controlPort}", token: "\${CANARY_PROXY_TOKEN}" }`,
      `proxies: { host: 127.0.0.1, advertiseHost: 127.0.0.1, basePort: ${basePort} }`,
      "log: { level: warn }",
      "",
    ].join("\n"));
    const proxyProcess = spawn(process.execPath, ["dist/src/cli.js", "proxy", "--config", proxyConfig], {
      env: { ...process.env, CANARY_PROXY_TOKEN: o.proxyToken },
      stdio: ["ignore", "pipe", "inherit"],
    });
    proxyProcess.stdout?.pipe(process.stderr);
    stops.push(() => stopChild(proxyProcess));
    const proxyControl = `http://127.0.0.1:${controlPort}`;
    const control = new ProxyControlClient({ url: proxyControl, token: o.proxyToken, timeoutMs: 5_000 });
    const listed = await proxiesOnceUp(control, proxyProcess, 60_000);

    const canaryProviders = o.providers.map((id, i) => {
      const p = listed.find((l) => l.chain === canary.name && l.provider === id);
      if (p === undefined || p.wsUrl === null) throw new Error(`the proxy process has no HTTP + WS proxy for ${canary.name}/${id}`);
      return { id, name: id, priority: i + 1, url: p.httpUrl, wsUrl: p.wsUrl };
    });
    // As the bench's startTestBed: breakers reopen after 2 s, health polled every block.
    const lasso = await startLassoSim({
      profiles: [
        { slug: "public", name: "public", chains: publicChains },
        { slug: "canary", name: "canary", chains: [{ name: canary.name, chainId: canary.chainId, blockTimeMs, providers: canaryProviders }] },
      ],
      breaker: { openMs: 2000 },
    });
    stops.push(() => lasso.stop());
    return { lasso, proxyProcess, proxyControl, control, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * Starts the daemon's window `name` (POST /api/chaos/run), asking again while its
 * precondition refuses (409), for at most `timeoutMs`. Its id and the refusals met.
 */
export async function runWindow(daemonUrl: string, name: string, adminToken: string, timeoutMs = 60_000): Promise<{ id: number; refusals: string[] }> {
  const refusals: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${daemonUrl}/api/chaos/run`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ name }),
    });
    const body = (await res.json()) as { id?: unknown; error?: unknown };
    if (res.status === 202 && typeof body.id === "number") return { id: body.id, refusals };
    refusals.push(`${res.status} ${String(body.error)}`);
    if (res.status !== 409 || Date.now() > deadline) throw new Error(`window ${name} did not start: ${refusals.join("; ")}`);
    await until(1000);
  }
}

/** null when window `id` is the daemon's running window (GET /api/chaos/windows); else what it is instead. */
export async function windowNotRunning(daemonUrl: string, id: number): Promise<string | null> {
  const body = (await (await fetch(`${daemonUrl}/api/chaos/windows`)).json()) as {
    running: { id: number; phase: string } | null;
    windows: Array<{ id: number; status: string; verdict: string | null; abortReason: string | null }>;
  };
  if (body.running?.id === id && body.running.phase === "fault") return null;
  const row = body.windows.find((w) => w.id === id);
  return row === undefined ? `window ${id} is unknown` : `window ${id} is ${row.status} (verdict ${row.verdict ?? "-"}${row.abortReason === null ? "" : `, ${row.abortReason}`})`;
}

/** Waits (bounded) until the proxy process reports `kind` on chain/provider; the proxy's view of it. */
export async function faultSeen(control: ProxyControlClient, chain: string, provider: string, kind: string, timeoutMs = 10_000): Promise<ProxyInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = (await control.list()).find((l) => l.chain === chain && l.provider === provider);
    if (p?.fault?.kind === kind) return p;
    if (Date.now() > deadline) throw new Error(`the proxy process shows no ${kind} fault on ${chain}/${provider} (fault: ${JSON.stringify(p?.fault ?? null)})`);
    await until(200);
  }
}
