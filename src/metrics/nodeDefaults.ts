import { createRequire } from "node:module";
import type client from "prom-client";

/**
 * prom-client's default collectors, minus eventLoopLag: collectDefaultMetrics() cannot
 * leave that one out, and it runs monitorEventLoopDelay, whose 10 ms timer cost ~1% of a
 * core on its own (see loopLag.ts for the replacement). The names are prom-client 15's
 * lib/metrics modules; the daemon test fails if an upgrade moves them.
 */
const DEFAULT_COLLECTORS = [
  "processCpuTotal", "processStartTime", "osMemoryHeap", "processOpenFileDescriptors", "processMaxFileDescriptors",
  "processResources", "processHandles", "processRequests", "heapSizeAndUsed", "heapSpacesSizeAndUsed", "version", "gc",
];

/**
 * Gauges prom-client names like counters: `promtool check metrics` rejects a `_total` suffix
 * on anything but a counter. Each is the sum over `type` of its unsuffixed sibling
 * (`sum(nodejs_active_handles)`), so nothing is lost.
 */
const GAUGES_NAMED_LIKE_COUNTERS = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"];

/**
 * Node's process and runtime metrics under their standard names (`process_*`, `nodejs_*`,
 * no prefix), so stock Node.js dashboards and alerts work unchanged.
 */
export function registerNodeMetrics(register: client.Registry): void {
  const require = createRequire(import.meta.url);
  for (const name of DEFAULT_COLLECTORS) {
    const collector = require(`prom-client/lib/metrics/${name}.js`) as (r: client.Registry, c: object) => void;
    collector(register, { register });
  }
  for (const name of GAUGES_NAMED_LIKE_COUNTERS) register.removeSingleMetric(name);
}
