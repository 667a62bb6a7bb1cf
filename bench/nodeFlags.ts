/**
 * The node flags the daemon ships with (systemd/lasso-canary.service's ExecStart, the
 * Dockerfile's ENTRYPOINT; test/deploy.test.ts keeps them equal), so the benches measure
 * the daemon as deployed. Both trade parallelism the daemon does not need for memory:
 * - --max-semi-space-size=1: V8's young generation stays at 2 x 1 MiB instead of growing to
 *   2 x 16 MiB in bursts (module loading, reports, scrapes);
 * - --v8-pool-size=1: one V8 background thread instead of four (GC helpers, compilers), each
 *   with its own stack and malloc arena.
 * Measured together: RSS -3 to -5 MB in bench/daemon.ts (normal 91.1 -> 88.3 MB median;
 * BENCH_CHAOS=1 102.0 -> 97.4 MB median, 105.3 -> 99.2 MB max) and in bench/peers.ts
 * (~88 -> 84 MB median), with CPU, event-loop lag and report latency within the machine's noise.
 * - --expose-gc: lets src/metrics/heapTrim.ts run a full collection once the heap has grown
 *   4 MiB past its live size, instead of V8 letting it grow by half again; anonymous memory
 *   -3 to -11 MB and much steadier in side-by-side runs, for ~0.1% of a core.
 */
export const DAEMON_NODE_FLAGS = ["--max-semi-space-size=1", "--v8-pool-size=1", "--expose-gc"];
