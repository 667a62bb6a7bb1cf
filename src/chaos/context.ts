import type { OutcomeCounts } from "./counts.js";
import type { FaultClock } from "./faultClock.js";
import type { UpstreamHttp } from "./upstreamHttp.js";

/** What the HTTP handler and the WS relay share inside one proxy. */
export interface ProxyContext {
  clock: FaultClock;
  counts: OutcomeCounts;
  upstream: UpstreamHttp;
  /** Aborts when the proxy stops: every held or delayed request lets go. */
  stopping: AbortSignal;
}

/** Not JSON: what the malformed fault answers. */
export const MALFORMED_BODY = '{"jsonrpc":"2.0","id":1,"result":<html>502 Bad Gateway';
