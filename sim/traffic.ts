/**
 * Test-bed traffic: transactions from anvil's funded (unlocked) accounts to the log emitter
 * contract, so `logs` subscriptions have something to deliver. Writes go straight to the anvil
 * node, never through the Lasso target (which refuses them), and only to 127.0.0.1.
 */
import { CANARY_PING_TOPIC, LOG_EMITTER_CREATION, LOG_EMITTER_RUNTIME } from "./contracts/logEmitter.js";

export { CANARY_PING_TOPIC, LOG_EMITTER_CREATION, LOG_EMITTER_RUNTIME } from "./contracts/logEmitter.js";

export interface TrafficOptions {
  /** The anvil node's HTTP URL (`bed.chains.get(name).node.httpUrl`). */
  rpcUrl: string;
  /** One transaction every this many ms. Default 300. */
  intervalMs?: number;
  /** How many of anvil's funded accounts send, round-robin. Default 3. */
  senders?: number;
  /** An already deployed emitter; default: deploy one from account 0. */
  address?: string;
}

export interface Traffic {
  /** The emitter's address (lowercase): a logs filter `{ address }`. */
  address: string;
  /** topic0 of every log it emits. */
  topic: string;
  /** Senders, lowercase; each log's topic1 is its sender (left-padded to 32 bytes). */
  senders: string[];
  sent(): number;
  errors(): number;
  /** Stops sending and waits for transactions in flight. */
  stop(): Promise<void>;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function assertLocal(url: string): void {
  const host = new URL(url).hostname;
  if (host !== "127.0.0.1" && host !== "localhost" && host !== "[::1]") throw new Error(`traffic only goes to a local test node, not ${host}`);
}

async function rpc(url: string, method: string, params: Json[]): Promise<Json> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(10_000),
  });
  const body: unknown = await res.json();
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new Error(`${method}: not a JSON-RPC answer`);
  if ("error" in body) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  if (!("result" in body)) throw new Error(`${method}: no result`);
  return body.result as Json;
}

async function accounts(url: string): Promise<string[]> {
  const r = await rpc(url, "eth_accounts", []);
  if (!Array.isArray(r) || r.length === 0 || !r.every((a): a is string => typeof a === "string")) throw new Error("eth_accounts: no funded accounts");
  return r.map((a) => a.toLowerCase());
}

async function receipt(url: string, tx: string, timeoutMs: number): Promise<{ [k: string]: Json }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await rpc(url, "eth_getTransactionReceipt", [tx]);
    if (r !== null && typeof r === "object" && !Array.isArray(r)) return r;
    if (Date.now() > deadline) throw new Error(`no receipt for ${tx} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Deploys the log emitter from anvil's account 0 and waits for it to be mined. */
export async function deployLogEmitter(rpcUrl: string): Promise<{ address: string; txHash: string }> {
  assertLocal(rpcUrl);
  const [from] = await accounts(rpcUrl);
  const txHash = await rpc(rpcUrl, "eth_sendTransaction", [{ from: from ?? null, data: LOG_EMITTER_CREATION, gas: "0x30000" }]);
  if (typeof txHash !== "string") throw new Error("eth_sendTransaction: no tx hash");
  const r = await receipt(rpcUrl, txHash, 30_000);
  const address = r["contractAddress"];
  if (typeof address !== "string" || r["status"] !== "0x1") throw new Error(`deployment failed: ${JSON.stringify(r)}`);
  const code = await rpc(rpcUrl, "eth_getCode", [address, "latest"]);
  if (code !== LOG_EMITTER_RUNTIME) throw new Error(`deployed code differs from the runtime: ${String(code)}`);
  return { address: address.toLowerCase(), txHash };
}

export async function startTraffic(opts: TrafficOptions): Promise<Traffic> {
  assertLocal(opts.rpcUrl);
  const address = opts.address?.toLowerCase() ?? (await deployLogEmitter(opts.rpcUrl)).address;
  const senders = (await accounts(opts.rpcUrl)).slice(0, Math.max(1, opts.senders ?? 3));
  let sent = 0;
  let errors = 0;
  let n = 0;
  const inFlight = new Set<Promise<void>>();
  const send = (): void => {
    const i = n++;
    const from = senders[i % senders.length] ?? null;
    const data = `0x${i.toString(16).padStart(64, "0")}`;
    const p = rpc(opts.rpcUrl, "eth_sendTransaction", [{ from, to: address, data, gas: "0x10000" }])
      .then(() => void (sent += 1))
      .catch(() => void (errors += 1))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  const timer = setInterval(send, opts.intervalMs ?? 300);
  return {
    address,
    topic: CANARY_PING_TOPIC,
    senders,
    sent: () => sent,
    errors: () => errors,
    async stop() {
      clearInterval(timer);
      await Promise.allSettled([...inFlight]);
    },
  };
}
