import assert from "node:assert/strict";
import { after, before } from "node:test";
import WebSocket from "ws";
import { startAnvil, type AnvilNode } from "../../sim/anvil.js";
import { startLassoSim, type LassoSim, type LassoSimOptions } from "../../sim/lasso/index.js";
import { FaultProxy } from "../../src/chaos/faultProxy.js";
import { isObj, obj, type Json, type Obj } from "./json.js";
import { waitFor } from "./waitFor.js";

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
export function useSimBed(
  options: (proxy: (id: Id) => FaultProxy) => LassoSimOptions,
  beforeStop?: () => void,
  /** Runs once anvil and the proxies are up, before the target starts (extra providers, say). */
  beforeTarget?: (anvil: AnvilNode) => Promise<void>,
): SimBed {
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
    await beforeTarget?.(anvil);
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

/** A raw JSON-RPC WS client that records every frame. */
export class SimWsClient {
  readonly frames: Obj[] = [];
  private readonly pending = new Map<number, (r: Obj) => void>();
  private nextId = 1;
  closed = false;

  private constructor(
    readonly ws: WebSocket,
    private readonly registry: Set<SimWsClient>,
  ) {
    ws.on("message", (data: WebSocket.RawData) => {
      const v: unknown = JSON.parse(data.toString());
      if (!isObj(v)) return;
      this.frames.push(v);
      const id = v["id"];
      if (typeof id === "number" && ("result" in v || "error" in v)) {
        this.pending.get(id)?.(v);
        this.pending.delete(id);
      }
    });
    ws.on("close", () => {
      this.closed = true;
    });
    ws.on("error", () => undefined);
  }

  /** Opens `url`; the client joins `registry` (for closing at teardown) until closed. */
  static async open(url: string, registry: Set<SimWsClient>, opts: WebSocket.ClientOptions = {}): Promise<SimWsClient> {
    const ws = new WebSocket(url, opts);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const c = new SimWsClient(ws, registry);
    registry.add(c);
    return c;
  }

  call(method: string, params: Json[] = [], extra: Obj = {}): Promise<Obj> {
    const id = this.nextId++;
    return this.send({ jsonrpc: "2.0", id, method, params, ...extra }, id);
  }

  send(frame: Json, id: number): Promise<Obj> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(frame).slice(0, 80)}`)), 15_000);
      this.pending.set(id, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      this.ws.send(JSON.stringify(frame));
    });
  }

  async subscribeHeads(): Promise<string> {
    const r = await this.call("eth_subscribe", ["newHeads"]);
    const id = r["result"];
    assert.equal(typeof id, "string", JSON.stringify(r));
    return String(id);
  }

  /** Notification payloads of one subscription, in arrival order. */
  events(sub: string): Obj[] {
    return this.frames
      .filter((f) => f["method"] === "eth_subscription" && isObj(f["params"]) && f["params"]["subscription"] === sub)
      .map((f) => obj(obj(f["params"], "params")["result"], "result"));
  }

  close(): void {
    this.ws.terminate();
    this.registry.delete(this);
  }
}

/** The sim's per-provider status rows for one profile's chain (GET /_sim/status). */
export async function providerStatus(sim: LassoSim, profile = "public"): Promise<Obj[]> {
  const res = await fetch(`${sim.url}/_sim/status`, { signal: AbortSignal.timeout(15_000) });
  const chains = obj(await res.json(), "status")["chains"];
  assert.ok(Array.isArray(chains), "status chains");
  const c = chains.map((x) => obj(x, "chain")).find((x) => x["profile"] === profile && x["chain"] === CHAIN);
  assert.ok(c, `status of ${profile}/${CHAIN}`);
  const ps = c["providers"];
  assert.ok(Array.isArray(ps), "status providers");
  return ps.map((p) => obj(p, "provider"));
}

/**
 * Waits until every provider of `profile` is polled, not lagging, has its WS channel (if it
 * has one) connected and both circuits closed; half-open circuits are closed by pinned
 * requests over that transport.
 */
export async function waitHealthy(sim: LassoSim, profile = "public"): Promise<void> {
  const circuits = [
    ["circuit", "http"],
    ["ws_circuit", "ws"],
  ] as const;
  const pinned = (id: Json | undefined, t: string): Promise<Response> =>
    fetch(`${sim.url}/rpc/profile/${profile}/provider/${String(id)}/${CHAIN}?transport=${t}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }),
      signal: AbortSignal.timeout(15_000),
    });
  await waitFor(
    async () => {
      const ps = await providerStatus(sim, profile);
      const up = (p: Obj): boolean => p["ws_connected"] !== false && p["lagging"] === false && p["poll_ok"] === true;
      if (!ps.every((p) => up(p) && circuits.every(([k]) => p[k] !== "open"))) return false;
      for (const p of ps) for (const [k, t] of circuits) if (p[k] === "half_open") await (await pinned(p["id"], t)).text();
      return (await providerStatus(sim, profile)).every((p) => circuits.every(([k]) => p[k] === "closed" || p[k] === null));
    },
    { timeoutMs: 30_000, intervalMs: 100, message: `all ${profile} providers healthy with closed circuits` },
  );
}
