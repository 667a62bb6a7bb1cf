import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

export interface AnvilOptions {
  chainId: number;
  /** Seconds between blocks; 0 means mine only on demand. Fractions are allowed. */
  blockTimeSec: number;
  /** Extra anvil flags, e.g. ["--accounts", "3"]. */
  extraArgs?: string[];
  startTimeoutMs?: number;
}

export interface AnvilNode {
  chainId: number;
  httpUrl: string;
  wsUrl: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

export function anvilBinary(): string {
  const pkg = require.resolve("@foundry-rs/anvil-linux-amd64/package.json");
  return path.join(path.dirname(pkg), "bin", "anvil");
}

/**
 * anvil does not die with its parent. The wrapper shell holds our stdin pipe: when this
 * process exits for any reason (even SIGKILL) the pipe closes, `cat` returns and the
 * wrapper kills anvil. It also exits when anvil does, so a crash is seen as an exit.
 */
const GUARD = [
  'exec 3<&0',
  '"$0" "$@" & child=$!',
  '{ cat >/dev/null; } <&3 & reader=$!',
  'trap \'kill $child $reader 2>/dev/null\' TERM INT',
  'wait -n $child $reader',
  'kill $child $reader 2>/dev/null',
  'wait $child 2>/dev/null',
].join("\n");

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of live) child.kill("SIGKILL");
  });
}

export async function startAnvil(opts: AnvilOptions): Promise<AnvilNode> {
  installExitHook();
  const args = [
    "--host", "127.0.0.1",
    "--port", "0",
    "--chain-id", String(opts.chainId),
    "--no-request-size-limit",
    ...(opts.blockTimeSec > 0 ? ["--block-time", String(opts.blockTimeSec)] : []),
    ...(opts.extraArgs ?? []),
  ];
  const child = spawn("bash", ["-c", GUARD, anvilBinary(), ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  live.add(child);
  child.once("exit", () => live.delete(child));

  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      fail(new Error(`anvil (chain ${opts.chainId}) did not report a port within ${opts.startTimeoutMs ?? 15000} ms: ${out.slice(-500)}`));
    }, opts.startTimeoutMs ?? 15000);
    const onData = (buf: Buffer): void => {
      out += buf.toString();
      const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        cleanup();
        resolve(Number(m[1]));
      }
    };
    const onExit = (code: number | null): void => fail(new Error(`anvil exited with ${code} before listening: ${out.slice(-500)}`));
    function cleanup(): void {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.stderr?.off("data", onData);
      child.off("exit", onExit);
    }
    function fail(err: Error): void {
      cleanup();
      child.kill("SIGKILL");
      reject(err);
    }
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", onExit);
  });
  // Keep draining output so a full pipe never blocks anvil.
  child.stdout?.resume();
  child.stderr?.resume();

  const httpUrl = `http://127.0.0.1:${port}`;
  await waitForRpc(httpUrl, opts.chainId, opts.startTimeoutMs ?? 15000);

  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  return {
    chainId: opts.chainId,
    httpUrl,
    wsUrl: `ws://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? -1,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const forced = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(forced);
      }
    },
  };
}

async function waitForRpc(url: string, chainId: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
        signal: AbortSignal.timeout(1000),
      });
      const body = (await res.json()) as { result?: string };
      if (body.result && Number.parseInt(body.result, 16) === chainId) return;
      lastError = `unexpected answer ${JSON.stringify(body)}`;
    } catch (err) {
      lastError = String(err);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`anvil at ${url} did not answer eth_chainId within ${timeoutMs} ms: ${lastError}`);
}
