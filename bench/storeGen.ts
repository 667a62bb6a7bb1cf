/**
 * Deterministic synthetic samples for the store benchmark: 5 chains x 10 probe series,
 * one probe per series every 5 s (10 samples/s), plus one consistency check per chain
 * per minute. Values are shaped like real probes so the encodings are sized honestly.
 */
import type { ConsistencySample, ContinuitySample, ErrorClass, ProbeSample } from "../src/samples.js";

export const CHAINS = ["ethereum", "base", "arbitrum", "optimism", "polygon"];
const PROVIDERS = ["alchemy", "infura", "drpc"];
const SERIES: { route: string; method: string }[] = [
  { route: "default", method: "eth_blockNumber" },
  { route: "default", method: "eth_getBlockByNumber" },
  { route: "default", method: "eth_chainId" },
  { route: "default", method: "eth_call" },
  { route: "fastest", method: "eth_blockNumber" },
  { route: "fastest", method: "eth_call" },
  { route: "round-robin", method: "eth_blockNumber" },
  { route: "pin:alchemy", method: "eth_blockNumber" },
  { route: "pin:infura", method: "eth_blockNumber" },
  { route: "pin:drpc", method: "eth_blockNumber" },
];
export const SERIES_PER_CHAIN = SERIES.length;
export const PROBE_INTERVAL_MS = 5000;

export { prng as rng } from "../src/prng.js";

const ERRORS: ErrorClass[] = ["timeout", "http_502", "rpc_-32000", "connect"];

/** Every probe sample with from <= ts < to, in ts order per series (all series interleaved). */
export function probeSamples(from: number, to: number, rand: () => number): ProbeSample[] {
  const out: ProbeSample[] = [];
  const first = Math.ceil(from / PROBE_INTERVAL_MS) * PROBE_INTERVAL_MS;
  for (let t = first; t < to; t += PROBE_INTERVAL_MS) {
    for (let c = 0; c < CHAINS.length; c++) {
      const chain = CHAINS[c] as string;
      const head = Math.floor(t / 12_000) + 18_000_000 + c * 1_000_000;
      for (let i = 0; i < SERIES.length; i++) {
        const { route, method } = SERIES[i] as { route: string; method: string };
        const ts = t + ((c * 10 + i) * 97) % PROBE_INTERVAL_MS;
        const ok = rand() > 0.002;
        // Log-normal-ish latency around 40 ms with a tail.
        const latencyMs = Math.exp(3.6 + 0.45 * gauss(rand)) + (rand() < 0.01 ? 200 * rand() : 0);
        const overhead = 0.8 + 3 * rand();
        const pinned = route.startsWith("pin:") ? route.slice(4) : null;
        const provider = pinned ?? (PROVIDERS[Math.floor(rand() * PROVIDERS.length)] as string);
        const hasHead = method === "eth_blockNumber" || method === "eth_getBlockByNumber";
        const lag = hasHead ? (rand() < 0.9 ? 0 : rand() < 0.9 ? 1 : 3) : null;
        out.push({
          kind: "probe", ts, target: "lb", chain, route, method,
          outcome: ok ? "ok" : "error",
          errorClass: ok ? null : (ERRORS[Math.floor(rand() * ERRORS.length)] as ErrorClass),
          errorDetail: ok ? null : "upstream said no",
          latencyMs,
          provider,
          transport: "http",
          retries: rand() < 0.01 ? 1 : 0,
          circuitState: "closed",
          upstreamLatencyMs: latencyMs - overhead - rand(),
          lassoOverheadMs: overhead,
          blockHeight: hasHead ? head - (lag ?? 0) : null,
          headLagBlocks: lag,
          headRegression: hasHead && rand() < 0.0005,
          failedAssertions: [],
          // The reference plan asserts the shape of every answer: judged, and right.
          correct: ok ? true : null,
        });
      }
    }
  }
  return out;
}

export function consistencySamples(from: number, to: number, rand: () => number): ConsistencySample[] {
  const out: ConsistencySample[] = [];
  for (let t = Math.ceil(from / 60_000) * 60_000; t < to; t += 60_000) {
    for (let c = 0; c < CHAINS.length; c++) {
      const blockNumber = Math.floor(t / 12_000) + 18_000_000 + c * 1_000_000 - 64;
      const hash = `0x${blockNumber.toString(16).padStart(64, "a")}`;
      const agree = rand() > 0.001;
      const hashes: Record<string, string | null> = {};
      for (const p of PROVIDERS) hashes[p] = hash;
      if (!agree) hashes["drpc"] = `0x${"b".repeat(64)}`;
      out.push({ kind: "consistency", ts: t + c * 100, target: "lb", chain: CHAINS[c] as string, blockNumber, hashes, agree });
    }
  }
  return out;
}

function gauss(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/**
 * Subscription watchers: 4 per chain (20 in all), each delivering one event per second (the
 * spec's load: 1.73 M delivered samples a day), with delays shaped like real ones (block-time
 * delay ~ 400 ms log-normal, 0.5% negative from clock skew; HTTP-sighting delay 0-200 ms) and
 * rare anomalies: per watcher and hour a reorg, a reconnect (+ first event, + client gap) now
 * and then, and rarer gaps, duplicates and stalls.
 */
const WATCHERS: { watcher: string; route: string; subscription: "newHeads" | "logs" }[] = [
  { watcher: "newHeads:default", route: "default", subscription: "newHeads" },
  { watcher: "newHeads:fastest", route: "fastest", subscription: "newHeads" },
  { watcher: "newHeads:pin:alchemy", route: "pin:alchemy", subscription: "newHeads" },
  { watcher: "logs:default", route: "default", subscription: "logs" },
];
export const WATCHERS_PER_CHAIN = WATCHERS.length;

export function continuitySamples(from: number, to: number, rand: () => number, chains = CHAINS.length): ContinuitySample[] {
  const out: ContinuitySample[] = [];
  const base = { kind: "continuity" as const, target: "lb", sightingDelayMs: null, backfilled: null };
  for (let c = 0; c < chains; c++) {
    const chain = CHAINS[c] as string;
    WATCHERS.forEach((w, i) => {
      const key = { ...base, chain, ...w };
      const offset = ((c * 4 + i) * 131) % 1000;
      for (let t = Math.ceil(from / 1000) * 1000; t < to; t += 1000) {
        const block = Math.floor(t / 1000) + 18_000_000 + c * 1_000_000;
        const skew = rand() < 0.005;
        const delayMs = skew ? -Math.floor(rand() * 50) - 1 : Math.round(Math.exp(6 + 0.35 * gauss(rand)));
        out.push({
          ...key, ts: t + offset + Math.floor(rand() * 40), event: "delivered", blockNumber: block, count: 1, delayMs,
          sightingDelayMs: rand() < 0.01 ? null : Math.floor(rand() * 200), backfilled: rand() < 0.001, detail: null,
        });
      }
      // Anomalies: a handful per watcher and hour.
      for (let t = Math.ceil(from / HOUR_MS) * HOUR_MS; t < to; t += HOUR_MS) {
        const at = (event: ContinuitySample["event"], count: number, delayMs: number | null, detail: string): void => {
          out.push({ ...key, ts: t + Math.floor(rand() * HOUR_MS), event, blockNumber: 18_000_000 + c * 1_000_000 + Math.floor(t / 1000),
            count, delayMs, detail });
        };
        if (rand() < 0.3) at("reorg", 1 + Math.floor(rand() * 2), null, "same height, new hash 0xabcdef01 -> 0x12345678");
        if (rand() < 0.1) {
          at("reconnect", 1, 800 + Math.floor(rand() * 2000), "resubscribed (attempt 1, 1200 ms after our socket ended: close 1006)");
          at("first_event", 1, 300 + Math.floor(rand() * 900), "session 2");
          at("client_gap", 1 + Math.floor(rand() * 3), null, "blocks produced while our socket was down; fetched over HTTP");
        }
        if (rand() < 0.02) at("gap", 1 + Math.floor(rand() * 3), null, "blocks never delivered, proved by a later block");
        if (rand() < 0.02) at("duplicate", 1, null, "block delivered again");
        if (rand() < 0.02) {
          at("stall", 6000, null, "no event for 6000 ms with the socket open");
          at("stall", 4000, 10_000, "stall ended after 10000 ms");
        }
      }
    });
  }
  return out.sort((a, b) => a.ts - b.ts);
}

const HOUR_MS = 3_600_000;
