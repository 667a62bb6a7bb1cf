/**
 * `lasso-canary proxy`: the fault proxies' own long-running process. One FaultProxy per
 * (chain, provider) of a Lasso profile, each forwarding to that provider's real upstream, on
 * fixed ports so the canary profile's URLs never change, plus the loopback control API the
 * daemon drives them through. Apart from the daemon on purpose: a daemon crash neither leaves
 * a fault on (leases run out here) nor takes the canary profile's providers down. It starts
 * in pass-through: no fault survives a restart of this process either.
 */
import type { Server } from "node:http";
import { FaultProxy } from "../chaos/faultProxy.js";
import type { Logger } from "../log.js";
import type { Env } from "../plan/env.js";
import { readLassoProfile } from "../profile/lassoProfile.js";
import type { ProxyConfig } from "./config.js";
import { createControlServer, type ControlledProxy } from "./controlApi.js";
import { isLoopbackListenHost } from "./loopback.js";
import { advertisedUrls, portCollision, proxySpecs, UpstreamError } from "./upstreams.js";

export interface ProxyProcess {
  proxies: readonly ControlledProxy[];
  /** Base URL of the control API. */
  controlUrl: string;
  /** Ends every fault, closes every proxy and the control API. */
  stop(): Promise<void>;
}

/** A listener could not be opened: which one, where, and why, in one line. */
export class ListenError extends Error {
  constructor(what: string, host: string, port: number, err: NodeJS.ErrnoException) {
    const why = err.code === "EADDRINUSE" ? "the port is in use (another process, or another proxy process?)" : err.code === "EACCES" ? "permission denied" : (err.code ?? err.message);
    super(`${what} cannot listen on ${host.includes(":") ? `[${host}]` : host}:${port}: ${why}`);
    this.name = "ListenError";
  }
}

export async function startProxyProcess(config: ProxyConfig, logger: Logger, env: Env = process.env): Promise<ProxyProcess> {
  const profile = readLassoProfile(config.profile);
  for (const w of profile.warnings) logger.warn({ file: w.file, path: w.path }, w.message);
  const specs = proxySpecs(profile, config.proxies, env);
  const collision = portCollision(specs, config.control.port, "control.listen");
  if (collision !== null) throw new UpstreamError([{ file: config.file, path: "control.listen", message: collision }]);
  if (!isLoopbackListenHost(config.proxies.host)) {
    logger.warn({ host: config.proxies.host }, "the proxies listen beyond loopback and forward with the providers' credentials: make sure only Lasso can reach them (firewall, private network)");
  }

  const proxies: ControlledProxy[] = specs.map((s) => ({
    chain: s.chain,
    provider: s.provider,
    proxy: new FaultProxy({
      name: `${s.chain}/${s.provider}`,
      upstreamHttpUrl: s.upstream.httpUrl,
      ...(s.upstream.wsUrl === null ? {} : { upstreamWsUrl: s.upstream.wsUrl }),
      upstreamHeaders: s.upstream.headers,
      host: config.proxies.host,
      port: s.port,
    }),
    ...advertisedUrls(config.proxies.advertiseHost, s),
  }));
  for (const p of proxies) {
    p.proxy.on("fault", (active) => logger.info({ chain: p.chain, provider: p.provider, fault: active.fault, expiresAt: active.expiresAt }, "fault set"));
    p.proxy.on("fault-cleared", (reason, fault) => logger.info({ chain: p.chain, provider: p.provider, fault, reason }, "fault ended"));
  }

  let control: Server | null = null;
  const stop = async (): Promise<void> => {
    if (control !== null) {
      const c = control;
      const closed = new Promise<void>((resolve) => c.close(() => resolve()));
      c.closeAllConnections();
      await closed;
    }
    await Promise.all(proxies.map((p) => p.proxy.stop()));
  };

  try {
    await Promise.all(
      specs.map(async (s, i) => {
        try {
          await (proxies[i] as ControlledProxy).proxy.start();
        } catch (err) {
          throw new ListenError(`proxy ${s.chain}/${s.provider}`, config.proxies.host, s.port, err as NodeJS.ErrnoException);
        }
      }),
    );
    const server = createControlServer({ token: config.control.token, proxies });
    control = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err: NodeJS.ErrnoException) => reject(new ListenError("the control API", config.control.host, config.control.port, err)));
      server.listen(config.control.port, config.control.host, () => resolve());
    });
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
  const host = config.control.host.includes(":") ? `[${config.control.host}]` : config.control.host;
  const controlUrl = `http://${host}:${config.control.port}`;
  logger.info(
    { control: `${host}:${config.control.port}`, proxies: specs.map((s) => ({ chain: s.chain, provider: s.provider, port: s.port, ws: s.hasWs })) },
    "fault proxies started (pass-through)",
  );
  return { proxies, controlUrl, stop };
}
