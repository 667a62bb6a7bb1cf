import type { ConsistencySample } from "../samples.js";
import type { RpcHttpClient } from "../lasso/rpcClient.js";
import type { HeadBoard } from "./heads.js";
import { isBlock } from "./shapes.js";
import type { ConsistencySpec } from "./types.js";

/**
 * Asks every pinned provider for the block `depth` below the consensus head and compares
 * hashes. At a safe depth honest providers agree; a mismatch means one serves another fork.
 */
export async function checkConsistency(
  spec: ConsistencySpec,
  client: RpcHttpClient,
  board: HeadBoard,
  now: () => number = Date.now,
): Promise<ConsistencySample | null> {
  const ts = now();
  const head = board.consensus(spec.target, spec.chain, ts);
  if (head === null || head < spec.depth) return null;
  const blockNumber = head - spec.depth;
  const tag = `0x${blockNumber.toString(16)}`;
  const entries = await Promise.all(
    Object.entries(spec.pinnedUrls).map(async ([provider, url]) => {
      const call = await client.call(url, "eth_getBlockByNumber", [tag, false], spec.timeoutMs, spec.headers);
      return [provider, call.outcome === "ok" && isBlock(call.result) ? call.result.hash : null] as const;
    }),
  );
  const hashes = Object.fromEntries(entries);
  const seen = new Set(entries.map(([, h]) => h).filter((h): h is string => h !== null));
  return { kind: "consistency", ts, target: spec.target, chain: spec.chain, blockNumber, hashes, agree: seen.size <= 1 };
}
