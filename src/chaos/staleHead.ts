import { idKey, isObject, parseJson, toId, type JsonObject, type JsonValue, type RpcCall } from "./jsonrpc.js";

/** Calls whose answer stale_head rewrites. */
export function isStaleHeadTarget(call: RpcCall): boolean {
  return call.method === "eth_blockNumber" || needsHead(call);
}

/** eth_getBlockByNumber("latest"): answered with the block `k` below the upstream head. */
export function needsHead(call: RpcCall): boolean {
  return call.method === "eth_getBlockByNumber" && call.params[0] === "latest";
}

export function parseQuantity(value: JsonValue | undefined): number | null {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]{1,15}$/.test(value)) return null;
  return Number.parseInt(value.slice(2), 16);
}

export function toQuantity(n: number): string {
  return `0x${n.toString(16)}`;
}

/** The call's raw item with its block tag replaced by a block number. */
export function pinBlock(call: RpcCall, blockNumber: number): JsonValue {
  if (!isObject(call.raw)) return call.raw;
  return { ...call.raw, params: [toQuantity(blockNumber), ...call.params.slice(1)] };
}

/** An eth_blockNumber response moved `k` blocks back (never below 0); other shapes unchanged. */
export function lagBlockNumber(response: JsonObject, k: number): JsonObject {
  const n = parseQuantity(response.result);
  if (n === null) return response;
  return { ...response, result: toQuantity(Math.max(0, n - k)) };
}

/**
 * Delays one newHeads subscription by k blocks: each upstream head goes in, the head k
 * behind comes out. Frames are kept raw, so the client gets the real older header.
 */
export class HeadDelay {
  #frames: string[] = [];

  push(frame: string, k: number): string[] {
    this.#frames.push(frame);
    const out: string[] = [];
    while (this.#frames.length > k) out.push(this.#frames.shift() ?? "");
    return out;
  }

  /** Releases what is held (the catch-up burst when the fault ends). */
  flush(): string[] {
    const out = this.#frames;
    this.#frames = [];
    return out;
  }

  get size(): number {
    return this.#frames.length;
  }
}

/** Rewrites the eth_blockNumber answers (by request id) in an upstream body; other bodies pass unchanged. */
export function lagResponses(text: string, ids: ReadonlySet<string>, k: number): string {
  if (ids.size === 0) return text;
  const parsed = parseJson(text);
  const lag = (item: JsonValue): JsonValue =>
    isObject(item) && ids.has(idKey(toId(item.id))) ? lagBlockNumber(item, k) : item;
  if (Array.isArray(parsed)) return JSON.stringify(parsed.map(lag));
  if (isObject(parsed)) return JSON.stringify(lag(parsed));
  return text;
}
