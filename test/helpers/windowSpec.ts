import type { WindowSpec } from "../../src/chaos/windowTypes.js";

/** A failover window on ethereum/p1 (blackhole, 30 s, probes every 250 ms, no silence); override what a test is about. */
export function windowSpec(over: Partial<WindowSpec> = {}): WindowSpec {
  return {
    name: "p1-blackhole",
    chain: "ethereum",
    provider: "p1",
    profile: "canary",
    target: "lb",
    kind: "fault",
    fault: { kind: "blackhole" },
    schedule: "0 3 * * *",
    durationMs: 30_000,
    expect: "failover",
    probeIntervalMs: 250,
    stormEveryMs: null,
    slo: { minClientSuccess: 0.99, maxFailoverMs: 5000, maxRecoveryMs: 90_000 },
    abortFloor: 0.9,
    abortWindowMs: 10_000,
    preconditionMs: 60_000,
    silence: null,
    ...over,
  };
}
