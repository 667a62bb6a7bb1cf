import { test } from "node:test";
import assert from "node:assert/strict";
import { rng } from "../bench/storeGen.js";
import { gridOffsetMs } from "../src/probes/grid.js";
import { HeadBoard } from "../src/probes/heads.js";
import { toSample, type SeriesState } from "../src/probes/probe.js";
import type { ProbeSeriesSpec } from "../src/probes/types.js";
import type { RpcCallResult } from "../src/lasso/rpcClient.js";

/*
 * Freshness on a simulated chain, on a fake clock: pinned providers and two strategy routes
 * are probed on the real grid (hashed offsets), every answer is fed through toSample() in
 * arrival order, and the chain's true head is known at every instant.
 *
 * What the figures rest on (blocks no faster than the configured block time B, every
 * latency shorter than B, maxHeadLagBlocks = 2):
 * - honest route: its answer is the head at some instant s inside the call; by the time it
 *   arrives (t) at most one more block exists, and the consensus at t never reads above the
 *   true head, so its lag is <= 1: it never fails.
 * - route held 4 behind: the consensus reads at most 1 low, or 2 when a block landed during
 *   the return trip of every pinned answer it rests on: a chance of about
 *   (mean return trip / B)^3, so its lag is >= 3 > 2 on all but that share of samples
 *   (heldFloor: twice that share missed at most, and never more than 1%).
 * - held 3 behind is caught only when the consensus is exact, which depends on where the
 *   probes fall within the block (phase): reported, not asserted.
 */

const MAX_LAG = 2;
const T0 = 1_700_000_000_000;

interface ChainModel {
  /** True head at instant t. */
  headAt(t: number): number;
  /** Blocks produced in (from, to]. */
  producedIn(from: number, to: number): number;
}

/** Blocks on slots `slotMs` apart from a random phase; each slot is missed with chance `missRate`. */
function simulatedChain(random: () => number, slotMs: number, missRate: number, untilMs: number): ChainModel {
  const base = 1_000_000;
  const produced: number[] = [];
  for (let t = T0 - 10 * slotMs + random() * slotMs; t <= untilMs; t += slotMs) if (random() >= missRate) produced.push(t);
  const countUpTo = (times: number[], t: number): number => {
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return {
    headAt: (t) => base + countUpTo(produced, t),
    producedIn: (from, to) => countUpTo(produced, to) - countUpTo(produced, from),
  };
}

interface Case {
  name: string;
  /** Block time the canary is configured with. */
  blockTimeMs: number;
  /** Real spacing of slots (defaults to the configured block time). */
  realSlotMs?: number;
  missRate?: number;
  intervalMs: number;
  seed: number;
  /** Longest call latency (default LATENCY_MAX_MS); every latency stays under the block time. */
  latencyMaxMs?: number;
  /** Per pinned provider, how many blocks behind the chain it answers (negative: ahead). Default three live ones. */
  pinned?: number[];
}

const pinnedOf = (c: Case): number[] => c.pinned ?? [0, 0, 0];

interface RouteFigures {
  samples: number;
  judged: number;
  failed: number;
  /** Samples whose lag exceeded what the stated bound allows an honest route. */
  beyondBound: number;
}

const LATENCY_MIN_MS = 5;
const LATENCY_MAX_MS = 60;
/** Each deployment (target name) gets its own hashed grid offsets and chain phase. */
const DEPLOYMENTS = 10;
const ROUNDS = 60;

function spec(c: Case, target: string, route: string, pinnedProvider: string | null): ProbeSeriesSpec {
  return {
    id: `${target}|sim|${route}|eth_blockNumber`, target, url: "http://127.0.0.1:1/rpc/sim", headers: {}, chain: "sim", chainId: 1,
    blockTimeMs: c.blockTimeMs, route, pinnedProvider, feedsConsensus: pinnedProvider !== null, method: "eth_blockNumber",
    params: [], intervalMs: c.intervalMs, timeoutMs: 1000,
    assertions: pinnedProvider ? [] : [{ kind: "freshness" }], maxHeadLagBlocks: MAX_LAG,
  };
}

function answer(height: number, latencyMs: number): RpcCallResult {
  return {
    outcome: "ok", errorClass: null, errorDetail: null, latencyMs, httpStatus: 200, rpcCode: null,
    result: `0x${height.toString(16)}`, meta: null,
  };
}

/** Horizon the engine gives the board: two pinned intervals or three block times. */
const horizonMs = (c: Case): number => Math.max(2 * c.intervalMs, 3 * c.blockTimeMs);

function newBoard(c: Case): HeadBoard {
  return new HeadBoard(() => ({ blockTimeMs: c.blockTimeMs, horizonMs: horizonMs(c) }));
}

/** Runs every deployment for ROUNDS intervals and returns per-route figures summed over them (route -> figures). */
function simulate(c: Case, heldBehind: number[]): Map<string, RouteFigures> {
  const random = rng(c.seed); // deterministic: the same seed gives the same chain and latencies
  const routes = [{ name: "honest", behind: 0 }, ...heldBehind.map((k) => ({ name: `held-${k}`, behind: k }))];
  const figures = new Map(routes.map((r) => [r.name, { samples: 0, judged: 0, failed: 0, beyondBound: 0 }]));
  for (let d = 0; d < DEPLOYMENTS; d++) simulateDeployment(c, `lb-${d}`, random, routes, figures);
  return figures;
}

function simulateDeployment(
  c: Case,
  target: string,
  random: () => number,
  routes: { name: string; behind: number }[],
  figures: Map<string, RouteFigures>,
): void {
  const end = T0 + (ROUNDS + 2) * c.intervalMs;
  const chain = simulatedChain(random, c.realSlotMs ?? c.blockTimeMs, c.missRate ?? 0, end + c.intervalMs);
  const series = [
    ...pinnedOf(c).map((behind, i) => ({ spec: spec(c, target, `pin:p${i}`, `p${i}`), behind })),
    ...routes.map((r) => ({ spec: spec(c, target, r.name, null), behind: r.behind })),
  ];

  interface Arrival { at: number; sentAt: number; servedAt: number; height: number; latencyMs: number; s: (typeof series)[number]; state: SeriesState }
  const arrivals: Arrival[] = [];
  for (const s of series) {
    const offset = gridOffsetMs(s.spec.id, c.intervalMs);
    const state: SeriesState = { lastHeight: null };
    for (let k = Math.ceil(T0 / c.intervalMs); k * c.intervalMs + offset < end; k++) {
      const sentAt = k * c.intervalMs + offset;
      const latencyMs = Math.round(LATENCY_MIN_MS + random() * ((c.latencyMaxMs ?? LATENCY_MAX_MS) - LATENCY_MIN_MS));
      const servedAt = sentAt + random() * latencyMs;
      arrivals.push({ at: sentAt + latencyMs, sentAt, servedAt, height: chain.headAt(servedAt) - s.behind, latencyMs, s, state });
    }
  }
  arrivals.sort((a, b) => a.at - b.at);

  const board = newBoard(c);
  // The first two intervals have no (or too few) pinned answers yet: not counted.
  const countFrom = T0 + 2 * c.intervalMs;
  for (const a of arrivals) {
    const sample = toSample(a.s.spec, a.sentAt, answer(a.height, a.latencyMs), board, a.state);
    const f = figures.get(a.s.spec.route);
    if (!f || a.sentAt < countFrom) continue;
    f.samples++;
    if (sample.headLagBlocks !== null) f.judged++;
    if (sample.failedAssertions.includes("freshness")) f.failed++;
    // Stated bound for a route serving the true head: lag <= blocks produced while its answer
    // travelled back + slots the configured block time counted that produced nothing.
    const slack = slotsCountedButNotProduced(c, chain, a.at);
    const trueLag = chain.headAt(a.at) - a.height;
    if ((sample.headLagBlocks ?? 0) > trueLag + slack) f.beyondBound++;
  }
}

/**
 * The most a pinned answer of age A (up to the horizon) can be carried forward past what the
 * chain produced: max over A of floor(A / B) - blocks produced in (at - A, at]. The floor only
 * steps at multiples of B and the count only grows with A, so A = j * B are the only candidates.
 */
function slotsCountedButNotProduced(c: Case, chain: ChainModel, at: number): number {
  let most = 0;
  for (let j = 1; j * c.blockTimeMs <= horizonMs(c); j++) most = Math.max(most, j - chain.producedIn(at - j * c.blockTimeMs, at));
  return most;
}

/** Least share of samples a route held 4 behind must fail on, from the analysis at the top. */
function heldFloor(c: Case): number {
  // A call's answer is made at a uniform instant within it, so its mean return trip is half the mean latency.
  const meanReturnMs = (LATENCY_MIN_MS + (c.latencyMaxMs ?? LATENCY_MAX_MS)) / 4;
  const pinned = pinnedOf(c);
  const live = pinned.filter((b) => b === 0).length;
  const ahead = pinned.filter((b) => b < 0).length;
  // The consensus is 2 low only when all but (floor(n/4) - ahead) of the live providers are.
  const needed = live - (Math.floor(pinned.length / 4) - ahead);
  return 1 - Math.max(0.01, 2 * binomial(live, needed) * (meanReturnMs / c.blockTimeMs) ** needed);
}

function binomial(n: number, k: number): number {
  let out = 1;
  for (let i = 1; i <= k; i++) out = (out * (n - k + i)) / i;
  return out;
}

const share = (f: RouteFigures): string => `${f.failed}/${f.judged} = ${((100 * f.failed) / Math.max(1, f.judged)).toFixed(1)}%`;

const s = 1000;
const regularChains: Case[] = [
  { name: "B=1s, I=1s", blockTimeMs: 1 * s, intervalMs: 1 * s, seed: 11 },
  { name: "B=1s, I=5s", blockTimeMs: 1 * s, intervalMs: 5 * s, seed: 12 },
  { name: "B=2s, I=5s", blockTimeMs: 2 * s, intervalMs: 5 * s, seed: 13 },
  { name: "B=2s, I=2s", blockTimeMs: 2 * s, intervalMs: 2 * s, seed: 14 },
  { name: "B=12s, I=10s", blockTimeMs: 12 * s, intervalMs: 10 * s, seed: 15 },
  { name: "B=12s, I=12s", blockTimeMs: 12 * s, intervalMs: 12 * s, seed: 16 },
  { name: "B=12s, I=60s", blockTimeMs: 12 * s, intervalMs: 60 * s, seed: 17 },
  { name: "B=250ms, I=5s", blockTimeMs: 250, intervalMs: 5 * s, seed: 18 },
  // Answers nearly a block time long: blocks land during calls, so the instant a head is judged at matters.
  { name: "B=250ms, I=5s, latency up to 240ms", blockTimeMs: 250, intervalMs: 5 * s, seed: 19, latencyMaxMs: 240 },
  // Lasso's rule over pinned providers that are themselves off: a stale one only reads low, and
  // the figure at index floor(n/4) ignores up to floor(n/4) that read high.
  { name: "B=2s, I=5s, one of 3 pinned providers 6 behind", blockTimeMs: 2 * s, intervalMs: 5 * s, seed: 31, pinned: [0, 0, 6] },
  { name: "B=2s, I=5s, one of 4 pinned providers 5 ahead", blockTimeMs: 2 * s, intervalMs: 5 * s, seed: 32, pinned: [0, 0, 0, -5] },
  { name: "B=1s, I=5s, 8 pinned: 2 ahead, 3 stale", blockTimeMs: 1 * s, intervalMs: 5 * s, seed: 33, pinned: [0, 0, 0, -5, -3, 8, 8, 20] },
];

for (const c of regularChains) {
  test(`freshness on a regular chain, ${c.name}: a route held 4 behind fails nearly always, an honest route never`, (t) => {
    const figures = simulate(c, [3, 4]);
    const honest = figures.get("honest")!;
    const held3 = figures.get("held-3")!;
    const held4 = figures.get("held-4")!;
    t.diagnostic(`honest ${share(honest)}, held-3 ${share(held3)}, held-4 ${share(held4)}`);
    assert.ok(held4.judged >= 0.99 * held4.samples, `held route judged on ${held4.judged} of ${held4.samples} samples`);
    assert.ok(honest.judged >= 0.99 * honest.samples, `honest route judged on ${honest.judged} of ${honest.samples} samples`);
    assert.ok(held4.failed >= heldFloor(c) * held4.judged, `held 4 behind fails freshness on ${share(held4)}, floor ${heldFloor(c)}`);
    assert.equal(honest.beyondBound, 0, `the consensus read above the true head on ${honest.beyondBound} honest samples`);
    assert.equal(honest.failed, 0, `honest route fails freshness on ${share(honest)}`);
  });
}

/*
 * Honest lag <= (blocks produced during its return trip, <= 1 here) + (blocks the configured
 * block time counted over a pinned answer's age, at most one interval plus latency, that the
 * chain did not produce). A false failure (lag > 2) so needs 3 such blocks, or 2 and a block
 * during the route's return trip (60 ms answers on 12 s blocks: under 0.5%):
 * - 5% missed slots, I=10s: the age spans at most one slot: never.
 * - 5% missed slots, I=60s: 3 of ~5 slots missed, about 10 * 0.05^3 = 0.1%: <= 1%.
 * - 20% missed slots, I=60s: 3 of ~5 missed, a few per cent: only the bound itself is asserted.
 * - configured 2s, real 3s, I=5s: floor(5.06/2) - floor(5.06/3) = 1: never.
 * - configured 1s, real 1.25s, I=1s: floor(1.06/1) - 0 = 1: never.
 */
const slowerChains: (Case & { honestFailCeiling: number | null })[] = [
  { name: "B=12s with 5% missed slots, I=10s", blockTimeMs: 12 * s, missRate: 0.05, intervalMs: 10 * s, seed: 21, honestFailCeiling: 0 },
  { name: "B=12s with 5% missed slots, I=60s", blockTimeMs: 12 * s, missRate: 0.05, intervalMs: 60 * s, seed: 22, honestFailCeiling: 0.01 },
  { name: "B=12s with 20% missed slots, I=60s", blockTimeMs: 12 * s, missRate: 0.2, intervalMs: 60 * s, seed: 23, honestFailCeiling: null },
  { name: "configured B=2s, real 3s, I=5s", blockTimeMs: 2 * s, realSlotMs: 3 * s, intervalMs: 5 * s, seed: 24, honestFailCeiling: 0 },
  { name: "configured B=1s, real 1.25s, I=1s", blockTimeMs: 1 * s, realSlotMs: 1.25 * s, intervalMs: 1 * s, seed: 25, honestFailCeiling: 0 },
];

for (const c of slowerChains) {
  test(`freshness when blocks come slower than configured, ${c.name}: no honest failure beyond the stated bound`, (t) => {
    const figures = simulate(c, [4]);
    const honest = figures.get("honest")!;
    const held4 = figures.get("held-4")!;
    t.diagnostic(`honest ${share(honest)}, held-4 ${share(held4)}`);
    assert.ok(honest.judged >= 0.99 * honest.samples, `honest route judged on ${honest.judged} of ${honest.samples} samples`);
    assert.equal(honest.beyondBound, 0, `honest route's lag exceeded the stated bound on ${honest.beyondBound} samples`);
    if (c.honestFailCeiling !== null)
      assert.ok(honest.failed <= c.honestFailCeiling * honest.judged, `honest route fails freshness on ${share(honest)}`);
  });
}
