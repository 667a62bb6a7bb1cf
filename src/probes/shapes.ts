export type ResultShape = "quantity" | "block" | "hash" | "array" | "object" | "any";

const QUANTITY = /^0x(0|[1-9a-f][0-9a-f]*)$/i;
const HASH = /^0x[0-9a-f]{64}$/i;

export function matchesShape(result: unknown, shape: ResultShape): boolean {
  switch (shape) {
    case "quantity":
      return typeof result === "string" && QUANTITY.test(result);
    case "hash":
      return typeof result === "string" && HASH.test(result);
    case "block":
      return isBlock(result);
    case "array":
      return Array.isArray(result);
    case "object":
      return typeof result === "object" && result !== null && !Array.isArray(result);
    case "any":
      return result !== undefined;
  }
}

export interface BlockLike {
  number: string;
  hash: string;
  parentHash: string;
}

export function isBlock(v: unknown): v is BlockLike {
  if (typeof v !== "object" || v === null) return false;
  const b = v as Record<string, unknown>;
  return (
    typeof b.number === "string" && QUANTITY.test(b.number) &&
    typeof b.hash === "string" && HASH.test(b.hash) &&
    typeof b.parentHash === "string" && HASH.test(b.parentHash)
  );
}

export function parseQuantity(v: unknown): number | null {
  return typeof v === "string" && QUANTITY.test(v) ? Number.parseInt(v, 16) : null;
}

/** The block height an answer carries, for the methods that return one. */
export function heightOf(method: string, result: unknown): number | null {
  if (method === "eth_blockNumber") return parseQuantity(result);
  if (method === "eth_getBlockByNumber" || method === "eth_getBlockByHash") return isBlock(result) ? parseQuantity(result.number) : null;
  return null;
}
