import type { LogsFilter, WatchPlan } from "../plan/index.js";
import type { ContinuitySample } from "../samples.js";

/** What the state machines emit: a ContinuitySample without the watcher's identity. */
export type ContinuityRecord = Omit<ContinuitySample, "kind" | "target" | "chain" | "watcher" | "route" | "subscription">;

/** One watcher of one target, ready to run. */
export interface WatcherRuntimeSpec {
  /** Plan name, e.g. "newHeads:default". */
  name: string;
  route: string;
  subscription: "newHeads" | "logs";
  /** ws(s):// URL: target base URL + the route's /ws/rpc/... path. Contains secrets: never log it. */
  wsUrl: string;
  filter: LogsFilter | null;
  stallBlockTimes: number;
}

/** The watchers of one chain through one target: they share the HTTP head poll and the confirmation allowance. */
export interface WatchGroupSpec extends Omit<WatchPlan, "httpPath" | "httpTransport" | "requestsPerSecondPerTarget"> {
  target: string;
  chain: string;
  blockTimeMs: number;
  /** Target base URL + the watch HTTP route's path (and its transport). Contains secrets: never log it. */
  httpUrl: string;
  /** The target's configured headers, sent on every HTTP call and WebSocket upgrade. Secrets. */
  headers: Record<string, string>;
  watchers: WatcherRuntimeSpec[];
}
