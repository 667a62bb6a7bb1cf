import type { ResultShape } from "./shapes.js";

export type ProbeAssertion =
  | { kind: "chainId" }
  | { kind: "shape"; shape: ResultShape }
  | { kind: "monotonicHead" }
  | { kind: "freshness" };

/** Everything the probe engine needs to run one series (target x chain x route x method). */
export interface ProbeSeriesSpec {
  id: string;
  target: string;
  /** Full URL to POST to, routing metadata (and the route's transport) requested. Contains secrets: never log it. */
  url: string;
  /** The target's configured headers. Secrets. */
  headers: Record<string, string>;
  chain: string;
  chainId: number;
  blockTimeMs: number;
  route: string;
  /** Set on provider-pinned routes: the provider that serves every answer. */
  pinnedProvider: string | null;
  /** Pinned routes of the public profile report their heads to the consensus board; a fault-injected profile's pins must not. */
  feedsConsensus: boolean;
  method: string;
  params: unknown[];
  intervalMs: number;
  timeoutMs: number;
  assertions: ProbeAssertion[];
  maxHeadLagBlocks: number;
}

export interface ConsistencySpec {
  target: string;
  chain: string;
  intervalMs: number;
  timeoutMs: number;
  depth: number;
  /** provider id -> full URL of its pinned route. Contains secrets. */
  pinnedUrls: Record<string, string>;
  /** The target's configured headers. Secrets. */
  headers: Record<string, string>;
}
