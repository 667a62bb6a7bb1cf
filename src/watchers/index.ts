export { WatchEngine, type WatchEngineOptions, type WatchEngineStats, type WatchNotice } from "./engine.js";
export { plannedWatchers, watchGroupSpecs, watchHttpUrl, watchWsUrl } from "./fromPlan.js";
export type { ContinuityRecord, WatcherRuntimeSpec, WatchGroupSpec } from "./types.js";
