/** The figures soak sampling reads (a module of its own: the report worker loads it without the plan's schema). */

/** From each soaked Lasso node's /api/metrics/:chain (system_metrics). cpu_percent is not one: it is a delta since the previous caller anywhere. */
export const SOAK_LASSO_METRICS = ["memory_mb", "process_count", "run_queue"] as const;
/** The daemon's own figures, sampled at the same cadence. */
export const SOAK_CANARY_METRICS = ["rss_mb", "heap_mb", "loop_lag_ms"] as const;
export const SOAK_METRICS = [...SOAK_LASSO_METRICS, ...SOAK_CANARY_METRICS] as const;
