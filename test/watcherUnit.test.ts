/**
 * The watchers' pure parts with synthetic sequences (continuity and logs state machines,
 * frame parsing, backoff, the token bucket, the metrics they feed), and one watcher against a
 * scripted fake Lasso (malformed frames, a subscription id change, a server close, a mute peer).
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { WebSocketServer, type WebSocket } from "ws";
import { MetricsSink } from "../src/metrics/registry.js";
import { Recorder } from "../src/recorder.js";
import type { ContinuityEvent, ContinuitySample } from "../src/samples.js";
import { backoffMs, TokenBucket } from "../src/watchers/budget.js";
import { HeadContinuity, rangesText, type BlockLookup, type FetchBlocksAction, type HeadContinuityConfig } from "../src/watchers/continuity.js";
import { parseFrame, parseHead, parseLog, type HeadEvent, type LogEvent } from "../src/watchers/frames.js";
import { WatchEngine, watchHttpUrl, watchWsUrl, type WatchNotice } from "../src/watchers/index.js";
import { LogsContinuity, type LogsContinuityConfig } from "../src/watchers/logs.js";
import { Sightings } from "../src/watchers/sightings.js";
import type { ContinuityRecord, WatchGroupSpec } from "../src/watchers/types.js";
import { waitFor } from "./helpers/waitFor.js";

const BT = 1000;

/** Block n of branch `fork` (0 = canonical); its parent is on `parentFork`. */
function hash(n: number, fork = 0): string {
  return `0x${(fork * 1_000_000 + n).toString(16).padStart(64, "0")}`;
}
function blk(n: number, fork = 0, parentFork = fork, backfilled = false): HeadEvent {
  return { number: n, hash: hash(n, fork), parentHash: hash(n - 1, parentFork), timestampSec: n, backfilled };
}

/**
 * The head machine's settings, stated here (not the product's defaults) so every expected time
 * below can be read off them: a stall after 3 silent block times, missing heights wait one block
 * time before the HTTP lookup, lookups retried for 10 s.
 */
const HEAD_CONFIG: HeadContinuityConfig = {
  blockTimeMs: BT, stallBlockTimes: 3, gapGraceMs: BT, deliveryAllowanceMs: BT, ackMarginMs: BT,
  stallEvidenceMs: BT / 2, confirmDeadlineMs: 10 * BT, windowBlocks: 256, maxReorgWalk: 16,
};

class Heads {
  readonly s = new Sightings();
  readonly m: HeadContinuity;
  readonly records: ContinuityRecord[] = [];
  readonly actions: FetchBlocksAction[] = [];

  constructor(overrides: Partial<HeadContinuityConfig> = {}) {
    this.m = new HeadContinuity({ ...HEAD_CONFIG, ...overrides }, this.s);
  }

  drain(): this {
    const d = this.m.drain();
    this.records.push(...d.records);
    this.actions.push(...d.actions);
    return this;
  }

  start(t: number, sub = "aaaaaaaaaaaaaaaa"): this {
    this.m.sessionStarted(t, sub, t - 5);
    return this.drain();
  }

  head(t: number, b: HeadEvent, sub = "aaaaaaaaaaaaaaaa"): this {
    this.m.head(t, b, sub);
    return this.drain();
  }

  tick(t: number): this {
    this.m.tick(t);
    return this.drain();
  }

  /** Answers the oldest open action with blocks of `fork` (or a failure). */
  answer(t: number, fork: number | "fail" | ((n: number) => HeadEvent | null) = 0): FetchBlocksAction {
    const a = this.actions.shift();
    assert.ok(a, "an HTTP lookup was asked for");
    const result: BlockLookup =
      fork === "fail" ? { ok: false, error: "timeout" } : { ok: true, blocks: new Map(a.heights.map((h) => [h, typeof fork === "function" ? fork(h) : blk(h, fork)])) };
    this.m.lookup(t, a.id, result);
    this.drain();
    return a;
  }

  of(event: ContinuityEvent): ContinuityRecord[] {
    return this.records.filter((r) => r.event === event);
  }

  anomalies(): string[] {
    return this.records.filter((r) => r.event !== "delivered" && r.event !== "first_event").map((r) => `${r.event}@${r.blockNumber}x${r.count}`);
  }

  /** Heads from..to, one block time apart, each sighted over HTTP 50 ms after it arrives. */
  run(from: number, to: number, at = (n: number) => n * BT): this {
    for (let n = from; n <= to; n++) {
      this.head(at(n), blk(n));
      this.s.sight(n, at(n) + 50);
    }
    return this;
  }
}

describe("newHeads continuity (synthetic sequences)", () => {
  test("a clean stream: one delivered per event with its delays, one first_event, nothing else", () => {
    const h = new Heads().start(500);
    h.s.sight(0, 400);
    h.run(1, 100);
    h.tick(100 * BT + 10);
    assert.deepEqual(h.anomalies(), []);
    assert.equal(h.of("delivered").length, 100);
    assert.deepEqual(h.of("first_event").map((r) => [r.blockNumber, r.delayMs]), [[1, 1000 - 495]]);
    const d = h.of("delivered")[4];
    assert.equal(d?.delayMs, 0, "arrival minus block timestamp");
    assert.equal(d?.sightingDelayMs, null, "HTTP saw block 5 after it arrived");
    assert.deepEqual(h.actions, []);
  });

  test("missing heights wait one grace period, are confirmed over HTTP, then reported as one gap", () => {
    const h = new Heads().start(0).run(1, 3);
    h.head(6000, blk(6));
    assert.deepEqual(h.anomalies(), []);
    h.tick(6000 + BT - 1);
    assert.equal(h.actions.length, 0, "no lookup during the grace period");
    h.tick(6000 + BT);
    assert.deepEqual(h.actions[0]?.heights, [4, 5], "both ends of the missing range");
    h.answer(7010);
    const gap = h.of("gap");
    assert.equal(gap.length, 1);
    assert.equal(gap[0]?.blockNumber, 4);
    assert.equal(gap[0]?.count, 2);
    assert.match(gap[0]?.detail ?? "", /4-5 never delivered.*proved by block 6; confirmed over HTTP/);
    assert.deepEqual(h.anomalies(), ["gap@4x2"]);
  });

  test("a missing height that arrives within the grace period is out_of_order, not a gap", () => {
    const h = new Heads().start(0).run(1, 2);
    h.head(4000, blk(4)).head(4100, blk(3)).tick(9000);
    assert.deepEqual(h.anomalies(), ["out_of_order@3x1"]);
    assert.deepEqual(h.actions, []);
  });

  test("a lookup that keeps failing is retried until the deadline, then reported unconfirmed", () => {
    const h = new Heads({ confirmDeadlineMs: 3000 }).start(0).run(1, 2);
    h.head(4000, blk(4)).tick(5000);
    h.answer(5010, "fail");
    assert.deepEqual(h.of("gap"), [], "retried, not reported yet");
    h.tick(6010);
    h.answer(6020, () => null);
    h.tick(7020);
    h.answer(7030, "fail");
    assert.equal(h.of("gap").length, 1);
    assert.match(h.of("gap")[0]?.detail ?? "", /NOT confirmed over HTTP after 3 attempt\(s\): timeout/);
  });

  test("the same hash twice in a session is a duplicate (not out of order)", () => {
    const h = new Heads().start(0).run(1, 3);
    h.head(3100, blk(2)).head(3200, blk(3));
    assert.deepEqual(h.anomalies(), ["duplicate@2x1", "duplicate@3x1"]);
  });

  test("same height, new hash: a reorg whose depth is the number of replaced blocks, reported once", () => {
    const h = new Heads().start(0).run(1, 6);
    h.head(6100, blk(4, 1, 0)).head(6101, blk(5, 1)).head(6102, blk(6, 1)).head(7000, blk(7, 1));
    assert.deepEqual(h.anomalies(), ["reorg@4x3"]);
    assert.match(h.of("reorg")[0]?.detail ?? "", /fork at block 3/);
  });

  test("a reorg back to a branch seen before is a second reorg, not a duplicate", () => {
    const h = new Heads().start(0).run(1, 5);
    h.head(5100, blk(5, 1, 0)).head(5200, blk(5)).head(6000, blk(6));
    assert.deepEqual(h.anomalies(), ["reorg@5x1", "reorg@5x1"]);
  });

  test("a parentHash break walks down over HTTP to the common ancestor", () => {
    const h = new Heads().start(0).run(1, 6);
    // Only the new tip arrives: 7' on a branch that forked after block 4.
    h.head(7000, { ...blk(7, 1), parentHash: hash(6, 1) });
    assert.deepEqual(h.actions[0]?.heights, [5]);
    h.answer(7010, (n) => blk(n, n > 4 ? 1 : 0));
    assert.deepEqual(h.actions[0]?.heights, [4]);
    h.answer(7020, (n) => blk(n, n > 4 ? 1 : 0));
    assert.deepEqual(h.anomalies(), ["reorg@5x2"]);
    assert.match(h.of("reorg")[0]?.detail ?? "", /fork at block 4 \(found over HTTP\), 2 block\(s\) replaced up to 6/);
    h.head(8000, blk(8, 1));
    assert.deepEqual(h.anomalies(), ["reorg@5x2"], "the new branch continues without further anomalies");
  });

  test("a stall opens after k block times of silence while HTTP saw a newer block, and closes with its length", () => {
    const h = new Heads().start(0).run(1, 3);
    h.s.sight(4, 4050);
    h.tick(6000);
    assert.deepEqual(h.of("stall"), [], "3 block times exactly is not yet a stall");
    h.tick(6001);
    const open = h.of("stall")[0];
    assert.equal(open?.count, 3001);
    assert.equal(open?.blockNumber, 4);
    assert.equal(open?.delayMs, null, "an opening sample");
    h.head(7000, blk(4, 0, 0, true));
    const close = h.of("stall")[1];
    assert.equal(close?.count, 999, "the rest of the stall");
    assert.equal(close?.delayMs, 4000, "its whole length");
    assert.deepEqual(h.anomalies(), ["stall@4x3001", "stall@4x999"]);
  });

  test("no stall when the chain itself stops (HTTP sees nothing newer)", () => {
    const h = new Heads().start(0).run(1, 3);
    h.tick(20_000);
    assert.deepEqual(h.anomalies(), []);
  });

  test("a stall is caught at the event that ends it when no tick ran in between", () => {
    const h = new Heads().start(0).run(1, 3);
    h.s.sight(4, 4050);
    h.head(6600, blk(4));
    assert.deepEqual(h.of("stall").map((r) => [r.count, r.delayMs]), [[3600, null], [0, 3600]]);
  });

  test("across our own disconnect: blocks HTTP saw before the drop are a gap, the rest a client_gap", () => {
    const h = new Heads().start(0).run(1, 5);
    h.s.sight(6, 5100);
    h.m.sessionEnded(7000, "connection lost");
    h.drain();
    h.s.sight(7, 7050);
    h.s.sight(8, 8050);
    h.start(8100, "bbbbbbbbbbbbbbbb");
    h.head(9000, blk(9), "bbbbbbbbbbbbbbbb");
    assert.deepEqual(h.actions.map((a) => [a.purpose, a.heights]), [["client_gap", [7, 8]]], "the client gap is fetched at once");
    h.answer(9010);
    assert.deepEqual(h.anomalies(), ["client_gap@7x2"]);
    assert.match(h.of("client_gap")[0]?.detail ?? "", /7-8 produced while our socket dropped \(connection lost\).*confirmed/);
    h.tick(9000 + BT);
    h.answer(10_010);
    assert.deepEqual(h.anomalies(), ["client_gap@7x2", "gap@6x1"], "block 6 was owed: HTTP saw it 1.9 s before the drop");
    assert.equal(h.of("first_event").length, 2, "one per session");
    assert.equal(h.of("subscription_id_change").length, 0, "a new session's id is not a change");
  });

  test("a new session repeating the last block of the old one is not a duplicate", () => {
    const h = new Heads().start(0).run(1, 5);
    h.m.sessionEnded(5500, "server closed");
    h.start(5600, "bbbbbbbbbbbbbbbb").head(5700, blk(5), "bbbbbbbbbbbbbbbb").head(6000, blk(6), "bbbbbbbbbbbbbbbb");
    assert.deepEqual(h.anomalies(), []);
  });

  test("notifications under another subscription id within a session are a subscription_id_change", () => {
    const h = new Heads().start(0).run(1, 2);
    h.head(3000, blk(3), "cccccccccccccccc").head(4000, blk(4), "cccccccccccccccc");
    assert.deepEqual(h.anomalies(), ["subscription_id_change@3x1"]);
  });

  test("acknowledged but never live: a stall and a never_live sample, then the blocks it owed are a gap", () => {
    const h = new Heads({ ackMarginMs: 1500 }).start(0);
    h.s.sight(10, 100); // produced before the subscribe: not owed
    for (let n = 11; n <= 14; n++) h.s.sight(n, (n - 10) * BT + 100);
    h.tick(3000);
    assert.deepEqual(h.anomalies(), [], "3 block times exactly is not yet a stall");
    h.tick(3200);
    assert.deepEqual(h.anomalies(), ["stall@10x3200", "never_live@10x1"], "evidence: the first block HTTP saw during the session");
    const nl = h.of("never_live")[0];
    assert.equal(nl?.delayMs, 3200, "time since the subscribe reply");
    assert.match(nl?.detail ?? "", /acknowledged 3200 ms ago has delivered no event while HTTP saw block 10/);
    h.head(5000, blk(15));
    h.tick(5000 + BT);
    assert.deepEqual(h.actions[0]?.heights, [12, 14], "heights HTTP first saw after the margin are owed");
    h.answer(6010);
    assert.deepEqual(h.anomalies(), ["stall@10x3200", "never_live@10x1", "stall@nullx1800", "gap@12x3"]);
    assert.match(h.of("gap")[0]?.detail ?? "", /12-14 never delivered, missing while a subscription Lasso had acknowledged delivered nothing \(never live\)/);
  });

  test("a session that delivered has no never_live: its stall is only a stall", () => {
    const h = new Heads().start(0).run(1, 3);
    h.s.sight(4, 4050);
    h.tick(6001);
    assert.deepEqual(h.anomalies(), ["stall@4x3001"]);
  });

  test("after a reconnect, blocks a never-live session owed are a gap, not our client gap; refused heights are neither", () => {
    const h = new Heads({ ackMarginMs: 600 }).start(0).run(1, 5);
    h.m.sessionEnded(5500, "server closed");
    h.drain();
    for (let n = 6; n <= 8; n++) h.s.sight(n, n * BT + 100); // our socket down: client gap
    h.m.unserved(9, 10); // counted by refused attempts
    h.s.sight(9, 9100);
    h.s.sight(10, 10_100);
    h.start(10_500, "bbbbbbbbbbbbbbbb"); // acknowledged, then silent while 11-13 are produced
    for (let n = 11; n <= 13; n++) h.s.sight(n, n * BT + 100);
    h.tick(14_000);
    assert.deepEqual(h.of("never_live").map((r) => r.blockNumber), [11]);
    h.head(14_100, blk(14), "bbbbbbbbbbbbbbbb");
    assert.deepEqual(h.actions.map((a) => [a.purpose, a.heights]), [["client_gap", [6, 8]]]);
    h.answer(14_110);
    h.tick(14_100 + BT);
    assert.deepEqual(h.actions.map((a) => [a.purpose, a.heights]), [["gap", [11, 13]]]);
    h.answer(15_200);
    assert.deepEqual(h.anomalies().filter((a) => !a.startsWith("stall")), ["never_live@11x1", "client_gap@6x3", "gap@11x3"]);
  });

  test("rangesText groups heights", () => {
    assert.equal(rangesText([9, 5, 6, 7, 11]), "5-7, 9, 11");
  });
});

function log(n: number, i: number, extra: Partial<LogEvent> = {}): LogEvent {
  return { blockNumber: n, blockHash: hash(n), logIndex: i, transactionHash: hash(n * 100 + i, 7), removed: false, blockTimestampSec: n, ...extra };
}

describe("logs continuity (synthetic sequences)", () => {
  /** Checked up to head - 3; a log HTTP saw 1 s before our socket dropped was owed before the drop. */
  const cfg: LogsContinuityConfig = { confirmBlocks: 3, maxRangeBlocks: 100, deliveryAllowanceMs: 1000, windowBlocks: 256, maxTracked: 50_000 };

  test("closed ranges are compared with eth_getLogs: a log never delivered is log_missing", () => {
    const s = new Sightings();
    const m = new LogsContinuity(cfg, s);
    s.sight(20, 0);
    m.sessionStarted(10, "aaaaaaaaaaaaaaaa", 5);
    for (let n = 22; n <= 30; n++) m.log(n * BT, log(n, 0), "aaaaaaaaaaaaaaaa");
    s.sight(35, 35_000);
    const a = m.nextCheck();
    assert.deepEqual([a?.fromBlock, a?.toBlock], [22, 32], "from the first covered block to head - confirmBlocks");
    assert.equal(m.nextCheck(), null, "one check at a time");
    const chain = [...Array.from({ length: 9 }, (_, k) => log(22 + k, 0)), log(25, 1), log(21, 0)];
    m.checkResult(36_000, a?.id ?? -1, { ok: true, logs: chain });
    const recs = m.drainRecords().filter((r) => r.event !== "delivered" && r.event !== "first_event");
    assert.deepEqual(recs.map((r) => [r.event, r.blockNumber, r.count]), [["log_missing", 25, 1]]);
    assert.equal(m.checkedThrough, 32);
  });

  test("a log twice in a session is a log_duplicate at once; removed logs and a new session are not", () => {
    const s = new Sightings();
    const m = new LogsContinuity(cfg, s);
    s.sight(1, 0);
    m.sessionStarted(0, "aaaaaaaaaaaaaaaa", 0);
    m.log(5000, log(5, 0), "aaaaaaaaaaaaaaaa");
    m.log(5001, log(5, 0), "aaaaaaaaaaaaaaaa");
    m.log(5002, log(5, 0, { removed: true }), "aaaaaaaaaaaaaaaa");
    m.log(5003, log(4, 0, { blockHash: hash(4, 1) }), "aaaaaaaaaaaaaaaa");
    m.sessionEnded(6000);
    m.sessionStarted(6100, "bbbbbbbbbbbbbbbb", 6000);
    m.log(6200, log(6, 0), "bbbbbbbbbbbbbbbb");
    m.log(6201, log(6, 0), "bbbbbbbbbbbbbbbb");
    const recs = m.drainRecords().filter((r) => r.event !== "delivered" && r.event !== "first_event");
    assert.deepEqual(recs.map((r) => [r.event, r.blockNumber]), [["log_duplicate", 5], ["log_duplicate", 6]]);
  });

  test("blocks while our socket was down are a client_gap counting their logs, not log_missing", () => {
    const s = new Sightings();
    const m = new LogsContinuity(cfg, s);
    s.sight(10, 0);
    m.sessionStarted(0, "aaaaaaaaaaaaaaaa", 0);
    for (let n = 12; n <= 15; n++) {
      s.sight(n, n * BT);
      m.log(n * BT + 10, log(n, 0), "aaaaaaaaaaaaaaaa");
    }
    s.sight(16, 16_000);
    m.sessionEnded(17_500); // block 16 was seen 1.5 s before the drop: owed
    s.sight(20, 20_000);
    m.sessionStarted(20_100, "bbbbbbbbbbbbbbbb", 20_000); // covers from 22
    s.sight(30, 30_000);
    const a = m.nextCheck();
    assert.deepEqual([a?.fromBlock, a?.toBlock], [12, 27]);
    const chain = [12, 13, 14, 15, 16, 17, 18, 19, 20, 21].map((n) => log(n, 0));
    m.checkResult(30_100, a?.id ?? -1, { ok: true, logs: chain });
    const recs = m.drainRecords().filter((r) => r.event !== "delivered" && r.event !== "first_event");
    assert.deepEqual(recs.map((r) => [r.event, r.blockNumber, r.count]), [["client_gap", 17, 5], ["log_missing", 16, 1]]);
  });

  test("a failed eth_getLogs leaves the range to be asked again", () => {
    const s = new Sightings();
    const m = new LogsContinuity(cfg, s);
    s.sight(10, 0);
    m.sessionStarted(0, "aaaaaaaaaaaaaaaa", 0);
    s.sight(20, 20_000);
    const a = m.nextCheck();
    m.checkResult(20_100, a?.id ?? -1, { ok: false, error: "timeout" });
    const b = m.nextCheck();
    assert.deepEqual([b?.fromBlock, b?.toBlock], [a?.fromBlock, a?.toBlock]);
  });

  test("logs of a lower position than the last one are out_of_order", () => {
    const s = new Sightings();
    const m = new LogsContinuity(cfg, s);
    m.sessionStarted(0, "aaaaaaaaaaaaaaaa", 0);
    m.log(1, log(10, 1), "aaaaaaaaaaaaaaaa");
    m.log(2, log(10, 0), "aaaaaaaaaaaaaaaa");
    m.log(3, log(11, 0), "aaaaaaaaaaaaaaaa");
    assert.deepEqual(m.drainRecords().filter((r) => r.event === "out_of_order").map((r) => r.blockNumber), [10]);
  });
});

describe("frames, backoff, budget, metrics", () => {
  test("an open stall's seconds grow at each scrape, the stalled gauge is 1 then 0, no double counting at its end", async () => {
    let now = 1_700_000_010_000;
    const m = new MetricsSink({ version: "t", collectDefaults: false, clock: () => now });
    const base: Omit<ContinuitySample, "event" | "count" | "ts"> = {
      kind: "continuity", target: "lb", chain: "ethereum", watcher: "newHeads:default", route: "default", subscription: "newHeads",
      blockNumber: 7, delayMs: null, sightingDelayMs: null, backfilled: null, detail: null,
    };
    const w = 'target="lb",chain="ethereum",watcher="newHeads:default"';
    const read = async (name: string): Promise<number> => {
      const line = (await m.registry.metrics()).split("\n").find((l) => l.startsWith(`${name}{${w}} `));
      assert.ok(line, `${name} exported`);
      return Number(line.split(" ")[1]);
    };
    m.accept({ ...base, ts: now - 5000, event: "delivered", count: 1 });
    assert.equal(await read("lasso_canary_watch_stalled"), 0, "a watcher's gauge exists before its first stall");
    m.accept({ ...base, ts: now, event: "stall", count: 3000 });
    assert.equal(await read("lasso_canary_watch_stall_seconds_total"), 3, "the silence until detection");
    assert.equal(await read("lasso_canary_watch_stalled"), 1);
    now += 2000;
    assert.equal(await read("lasso_canary_watch_stall_seconds_total"), 5, "2 s more while it lasts");
    now += 1500;
    assert.equal(await read("lasso_canary_watch_stall_seconds_total"), 6.5);
    m.accept({ ...base, ts: now + 500, event: "stall", count: 4000, delayMs: 7000 });
    now += 10_000;
    assert.equal(await read("lasso_canary_watch_stall_seconds_total"), 7, "total = the stall's length, counted once");
    assert.equal(await read("lasso_canary_watch_stalled"), 0);
  });

  test("refusals count attempts in events_total and their blocks in unserved_blocks_total", async () => {
    const m = new MetricsSink({ version: "t", collectDefaults: false });
    const base: Omit<ContinuitySample, "event" | "count"> = {
      kind: "continuity", ts: 1_700_000_000_000, target: "lb", chain: "ethereum", watcher: "newHeads:pin:alpha", route: "pin:alpha", subscription: "newHeads",
      blockNumber: 7, delayMs: null, sightingDelayMs: null, backfilled: null, detail: null,
    };
    m.accept({ ...base, event: "subscribe_refused", count: 0 });
    m.accept({ ...base, event: "subscribe_refused", count: 4 });
    m.accept({ ...base, event: "upgrade_refused", count: 2 });
    m.accept({ ...base, event: "connect_failed", count: 1 });
    m.accept({ ...base, event: "never_live", count: 1, delayMs: 3000 });
    const text = await m.registry.metrics();
    const w = 'target="lb",chain="ethereum",watcher="newHeads:pin:alpha"';
    assert.match(text, new RegExp(`lasso_canary_watch_events_total\\{${w},event="subscribe_refused"\\} 2\\n`));
    assert.match(text, new RegExp(`lasso_canary_watch_events_total\\{${w},event="upgrade_refused"\\} 1\\n`));
    assert.match(text, new RegExp(`lasso_canary_watch_events_total\\{${w},event="connect_failed"\\} 1\\n`));
    assert.match(text, new RegExp(`lasso_canary_watch_events_total\\{${w},event="never_live"\\} 1\\n`));
    assert.match(text, new RegExp(`lasso_canary_watch_unserved_blocks_total\\{${w}\\} 6\\n`));
  });

  test("every frame becomes a typed value; nothing malformed throws", () => {
    assert.deepEqual(parseFrame("{not json"), { kind: "malformed", reason: "not JSON: {not json" });
    assert.equal(parseFrame("[1,2]").kind, "malformed");
    assert.equal(parseFrame('{"jsonrpc":"2.0","method":"eth_subscription","params":{"result":{}}}').kind, "malformed");
    assert.deepEqual(parseFrame('{"jsonrpc":"2.0","method":"lasso_meta","params":{}}'), { kind: "meta" });
    assert.deepEqual(parseFrame('{"jsonrpc":"2.0","id":3,"result":"abcd"}'), { kind: "response", id: 3, result: "abcd" });
    assert.deepEqual(parseFrame('{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"no"}}'), { kind: "error", id: 3, code: -32602, message: "no" });
    assert.equal(parseFrame('{"jsonrpc":"2.0","id":3}').kind, "malformed");
    const head = { number: "0x10", hash: hash(16), parentHash: hash(15), timestamp: "0x5" };
    assert.deepEqual(parseHead(head), { ok: true, value: { number: 16, hash: hash(16), parentHash: hash(15), timestampSec: 5, backfilled: false } });
    const full = parseHead({ ...head, transactions: [] });
    assert.ok(full.ok && full.value.backfilled, "a transactions array marks a backfilled block");
    assert.equal(parseHead({ ...head, hash: "0x12" }).ok, false);
    assert.equal(parseHead({ ...head, number: 16 }).ok, false);
    assert.equal(parseHead(null).ok, false);
    assert.equal(parseLog({ blockNumber: "0x1" }).ok, false);
  });

  test("URLs: the target's scheme moved to ws(s), its path prefix and query kept", () => {
    assert.equal(watchWsUrl("https://lasso.example.com/v2/KEY/?apikey=x", "/ws/rpc/provider/alpha/ethereum"), "wss://lasso.example.com/v2/KEY/ws/rpc/provider/alpha/ethereum?apikey=x");
    assert.equal(watchWsUrl("http://127.0.0.1:4000", "/ws/rpc/ethereum"), "ws://127.0.0.1:4000/ws/rpc/ethereum");
    assert.equal(watchHttpUrl("http://127.0.0.1:4000/", "/rpc/ethereum"), "http://127.0.0.1:4000/rpc/ethereum");
  });

  test("backoff: exponential from the initial delay, jittered within [half, full], capped", () => {
    assert.equal(backoffMs(1, 200, 5000, () => 0), 100);
    assert.equal(backoffMs(1, 200, 5000, () => 1), 200);
    assert.equal(backoffMs(3, 200, 5000, () => 1), 800);
    assert.equal(backoffMs(30, 200, 5000, () => 1), 5000);
    assert.equal(backoffMs(30, 200, 5000, () => 0), 2500);
  });

  test("token bucket: a burst, then one token per 1/rate seconds", () => {
    let now = 0;
    const b = new TokenBucket(2, 3, () => now);
    assert.deepEqual([b.take(), b.take(), b.take()].map((t) => t.ok), [true, true, true], "a burst of 3");
    const r = b.take();
    assert.deepEqual(r, { ok: false, waitMs: 500 });
    now = 500;
    assert.equal(b.take().ok, true, "one token after 1/rate = 500 ms");
  });

  test("the metrics sink counts continuity samples by size, stall seconds, delays and the last event", async () => {
    const m = new MetricsSink({ version: "t", collectDefaults: false });
    const base: Omit<ContinuitySample, "event" | "count"> = {
      kind: "continuity", ts: 1_700_000_000_000, target: "lb", chain: "ethereum", watcher: "newHeads:default", route: "default", subscription: "newHeads",
      blockNumber: 7, delayMs: null, sightingDelayMs: null, backfilled: null, detail: null,
    };
    m.accept({ ...base, event: "delivered", count: 1, delayMs: 800, sightingDelayMs: 20, backfilled: false });
    m.accept({ ...base, event: "gap", count: 3 });
    m.accept({ ...base, event: "stall", count: 1500 });
    m.accept({ ...base, event: "stall", count: 500, delayMs: 2000 });
    m.accept({ ...base, event: "reorg", count: 4 });
    const text = await m.registry.metrics();
    const w = 'target="lb",chain="ethereum",watcher="newHeads:default"';
    assert.match(text, new RegExp(`lasso_canary_watch_events_total\\{${w},event="gap"\\} 3\\n`));
    assert.match(text, new RegExp(`lasso_canary_watch_events_total\\{${w},event="stall"\\} 1\\n`), "a stall counted once");
    assert.match(text, new RegExp(`lasso_canary_watch_events_total\\{${w},event="reorg"\\} 1\\n`), "a reorg is one event; its depth is in the sample");
    assert.match(text, new RegExp(`lasso_canary_watch_stall_seconds_total\\{${w}\\} 2\\n`));
    assert.match(text, new RegExp(`lasso_canary_watch_delivery_delay_seconds_bucket\\{le="1",${w},source="block_time"\\} 1\\n`));
    assert.match(text, new RegExp(`lasso_canary_watch_delivery_delay_seconds_bucket\\{le="0.5",${w},source="block_time"\\} 0\\n`));
    assert.match(text, new RegExp(`lasso_canary_watch_delivery_delay_seconds_sum\\{${w},source="http_sighting"\\} 0.02\\n`));
    assert.match(text, new RegExp(`lasso_canary_watch_last_event_timestamp_seconds\\{${w}\\} 1700000000\\n`));
  });
});

// ------------------------------------------------------------------ a watcher against a scripted fake Lasso

interface FakeLasso {
  url: string;
  wss: WebSocketServer;
  sockets: WebSocket[];
  server: Server;
}

const fakes: FakeLasso[] = [];
const engines: WatchEngine[] = [];
after(async () => {
  for (const e of engines) await e.stop();
  for (const f of fakes) {
    for (const s of f.sockets) s.terminate();
    f.wss.close();
    f.server.closeAllConnections();
    await new Promise<void>((r) => f.server.close(() => r()));
  }
});

interface FakeLassoOptions {
  autoPong?: boolean;
  /** The chain head eth_blockNumber answers (default 1); blocks are answered for any height asked. */
  head?: () => number;
  /** The answer to eth_subscribe (default: the id "aaaaaaaaaaaaaaaa"). */
  subscribeReply?: (id: number) => object;
}

/** A WS endpoint that answers eth_subscribe (with an id by default) and then runs `script`; HTTP answers the head. */
async function fakeLasso(script: (ws: WebSocket, session: number) => void, opts: FakeLassoOptions = {}): Promise<FakeLasso> {
  const head = opts.head ?? (() => 1);
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const { id, method, params } = JSON.parse(body) as { id: number; method: string; params: unknown[] };
      const n = method === "eth_blockNumber" ? head() : Number.parseInt(String(params[0]), 16);
      const result = method === "eth_blockNumber" ? `0x${n.toString(16)}` : { number: `0x${n.toString(16)}`, hash: hash(n), parentHash: hash(n - 1), timestamp: "0x1" };
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ jsonrpc: "2.0", id, result }));
    });
  });
  const wss = new WebSocketServer({ server, autoPong: opts.autoPong ?? true });
  const fake: FakeLasso = { url: "", wss, sockets: [], server };
  let session = 0;
  wss.on("connection", (ws) => {
    fake.sockets.push(ws);
    ws.on("message", (data: Buffer) => {
      const { id, method } = JSON.parse(data.toString()) as { id: number; method: string };
      if (method !== "eth_subscribe") return;
      ws.send(JSON.stringify({ jsonrpc: "2.0", id, ...(opts.subscribeReply?.(id) ?? { result: "aaaaaaaaaaaaaaaa" }) }));
      script(ws, ++session);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fakes.push(fake);
  return fake;
}

function note(sub: string, n: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ jsonrpc: "2.0", method: "eth_subscription", params: { subscription: sub, result: { number: `0x${n.toString(16)}`, hash: hash(n), parentHash: hash(n - 1), timestamp: "0x1", ...extra } } });
}

/** A head that moves one block every `ms` from 100 on: blocks the chain produces while a test runs. */
function movingHead(ms: number): () => number {
  const start = Date.now();
  return () => 100 + Math.floor((Date.now() - start) / ms);
}

function engineFor(
  fake: FakeLasso, pingIntervalMs = 0, over: Partial<Omit<WatchGroupSpec, "watchers">> = {},
): { samples: ContinuitySample[]; notices: WatchNotice[]; engine: WatchEngine } {
  const samples: ContinuitySample[] = [];
  const notices: WatchNotice[] = [];
  const recorder = new Recorder();
  recorder.addSink({ accept: (s) => void (s.kind === "continuity" && samples.push(s)) });
  const group: WatchGroupSpec = {
    target: "fake", chain: "ethereum", blockTimeMs: 1000, httpUrl: `${fake.url}/rpc/ethereum`, headers: {}, httpRoute: "default", headPollIntervalMs: 1000,
    logsCheckIntervalMs: 5000, logsConfirmBlocks: 3, confirmationsPerMinute: 60, reconnectInitialMs: 50, reconnectMaxMs: 200, ...over,
    watchers: [{ name: "newHeads:default", route: "default", subscription: "newHeads", wsUrl: `${fake.url.replace("http", "ws")}/ws/rpc/ethereum`, filter: null, stallBlockTimes: 3 }],
  };
  const engine = new WatchEngine({ groups: [group], recorder, pingIntervalMs, onNotice: (_w, n) => notices.push(n), onError: (err) => assert.fail(String(err)) });
  engines.push(engine);
  engine.start();
  return { samples, notices, engine };
}

describe("a watcher against a scripted fake Lasso", () => {
  test("malformed frames are counted and reported, an id change is a sample, a server close is a reconnect", async () => {
    const fake = await fakeLasso((ws, session) => {
      if (session > 1) return;
      ws.send(note("aaaaaaaaaaaaaaaa", 1));
      ws.send("{not json");
      ws.send(JSON.stringify({ jsonrpc: "2.0", method: "eth_subscription", params: { subscription: "aaaaaaaaaaaaaaaa", result: { number: 2 } } }));
      ws.send(note("aaaaaaaaaaaaaaaa", 2));
      ws.send(note("bbbbbbbbbbbbbbbb", 3));
      ws.send(Buffer.from([1, 2, 3]), { binary: true });
      ws.close(1011, "internal error"); // after the frames above: a WebSocket delivers them in order
    });
    const { samples, notices, engine } = engineFor(fake);
    await waitFor(() => samples.some((s) => s.event === "reconnect"), { timeoutMs: 5000, message: "a reconnect" });
    const stats = engine.stats();
    assert.equal(stats.malformedFrames, 3);
    const reasons = notices.filter((n) => n.kind === "malformed_frame").map((n) => (n.kind === "malformed_frame" ? n.reason.slice(0, 20) : ""));
    assert.deepEqual(reasons.sort(), ["bad head: number: In", "binary frame", "not JSON: {not json"]);
    assert.deepEqual(samples.filter((s) => s.event === "delivered").map((s) => s.blockNumber), [1, 2, 3]);
    assert.deepEqual(samples.filter((s) => s.event === "subscription_id_change").map((s) => s.blockNumber), [3]);
    const reconnect = samples.find((s) => s.event === "reconnect");
    assert.match(reconnect?.detail ?? "", /server closed with code 1011 "internal error"/);
    assert.equal(reconnect?.count, 1);
    assert.ok(notices.some((n) => n.kind === "disconnected" && n.cause === "server_close"), `a server_close disconnect: ${JSON.stringify(notices)}`);
  });

  test("a peer that stops answering our pings is dropped by us and reconnected", async () => {
    const fake = await fakeLasso(() => {}, { autoPong: false });
    const { samples, notices } = engineFor(fake, 100);
    await waitFor(() => samples.some((s) => s.event === "reconnect"), { timeoutMs: 5000, message: "a reconnect" });
    assert.ok(notices.some((n) => n.kind === "disconnected" && n.cause === "ping_timeout"), `a ping_timeout disconnect: ${JSON.stringify(notices)}`);
    assert.match(samples.find((s) => s.event === "reconnect")?.detail ?? "", /no pong within 100 ms/);
  });

  test("stop() returns at once while a handshake hangs (a blackholed endpoint)", async () => {
    const sockets: net.Socket[] = [];
    const hole = net.createServer((sock) => void sockets.push(sock));
    await new Promise<void>((r) => hole.listen(0, "127.0.0.1", () => r()));
    try {
      const url = `http://127.0.0.1:${(hole.address() as AddressInfo).port}`;
      const { engine } = engineFor({ url, wss: new WebSocketServer({ noServer: true }), sockets: [], server: createServer() });
      await waitFor(() => sockets.length > 0, { timeoutMs: 5000, message: "the handshake to start" });
      const started = Date.now();
      await engine.stop();
      assert.ok(Date.now() - started < 2000, `stopped in ${Date.now() - started} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => hole.close(() => r()));
    }
  });

  test("a refused subscribe is a subscribe_refused sample per attempt, with code and message, counting the blocks between attempts", async () => {
    const fake = await fakeLasso(() => {}, {
      head: movingHead(50),
      subscribeReply: () => ({ error: { code: -32602, message: "Provider alpha does not support WebSocket subscriptions" } }),
    });
    const { samples, notices, engine } = engineFor(fake, 0, { headPollIntervalMs: 50 });
    const refused = (): ContinuitySample[] => samples.filter((s) => s.event === "subscribe_refused");
    await waitFor(() => refused().length >= 6 && refused().some((s) => s.count > 0), { timeoutMs: 10_000, message: "6 refused attempts, blocks counted" });
    const list = refused();
    assert.deepEqual(samples.filter((s) => s.event !== "subscribe_refused"), [], "nothing else: no session, no connect failure");
    assert.equal(engine.stats().sessions, 0);
    assert.match(list[0]?.detail ?? "", /^error -32602: Provider alpha does not support WebSocket subscriptions \(attempt 1\)$/);
    assert.equal(list[0]?.count, 0, "the first refusal of a spell owes nothing yet");
    // The blocks counted by successive refusals follow each other: none twice, none skipped.
    const counted = list.filter((s) => s.count > 0);
    for (let i = 1; i < counted.length; i++) {
      const prev = counted[i - 1];
      const cur = counted[i];
      assert.ok(prev && cur, "two counted refusals");
      assert.equal(cur.blockNumber, (prev.blockNumber ?? 0) + prev.count, `refusal ${i} starts where the previous one ended`);
    }
    // The sample rate is bounded by the backoff: once capped, attempts come at least reconnectMax / 2 apart.
    for (let i = 4; i < list.length; i++) {
      const gap = (list[i]?.ts ?? 0) - (list[i - 1]?.ts ?? 0);
      assert.ok(gap >= 100, `attempt ${i + 1} came ${gap} ms after the previous one`);
    }
    assert.ok(notices.some((n) => n.kind === "subscribe_failed"), "still a log line too");
  });

  for (const c of [
    { name: "403 with an empty body (Lasso's answer for an unknown chain, provider or profile)", status: 403, body: "", want: /^handshake answered HTTP 403 \(empty body\) \(attempt 1\)$/ },
    { name: "404 with a text body", status: 404, body: "no such route", want: /^handshake answered HTTP 404: no such route \(attempt 1\)$/ },
    { name: "400 with a JSON body (a proxy refusing the request)", status: 400, body: '{"error":"bad request"}', want: /^handshake answered HTTP 400: \{"error":"bad request"\} \(attempt 1\)$/ },
  ]) {
    test(`a refused upgrade is upgrade_refused, not a connect failure: ${c.name}`, async () => {
      const server = createServer();
      server.on("upgrade", (_req, socket: net.Socket) => {
        socket.end(`HTTP/1.1 ${c.status} Refused\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(c.body)}\r\n\r\n${c.body}`);
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
      const fake: FakeLasso = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, wss: new WebSocketServer({ noServer: true }), sockets: [], server };
      fakes.push(fake);
      const { samples } = engineFor(fake);
      await waitFor(() => samples.filter((s) => s.event === "upgrade_refused").length >= 2, { timeoutMs: 5000, message: "2 refused upgrades" });
      assert.match(samples[0]?.detail ?? "", c.want);
      assert.deepEqual(samples.filter((s) => s.event !== "upgrade_refused"), [], "never a connect failure: the server answered");
    });
  }

  test("an unreachable target (connection refused) is connect_failed, never blamed on Lasso", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const { samples } = engineFor({ url: `http://127.0.0.1:${port}`, wss: new WebSocketServer({ noServer: true }), sockets: [], server: createServer() });
    await waitFor(() => samples.filter((s) => s.event === "connect_failed").length >= 2, { timeoutMs: 5000, message: "2 connect failures" });
    assert.match(samples[0]?.detail ?? "", /^target unreachable: connect ECONNREFUSED 127\.0\.0\.1:\d+ \(attempt 1\)$/);
    assert.deepEqual(samples.filter((s) => s.event !== "connect_failed").map((s) => s.event), []);
    assert.equal(samples[0]?.count, 1);
  });

  test("acknowledged but never live: a stall and a never_live sample while HTTP sees the chain move, on one open socket", async () => {
    const fake = await fakeLasso(() => {}, { head: movingHead(100) });
    const { samples, engine } = engineFor(fake, 0, { blockTimeMs: 100, headPollIntervalMs: 50 });
    const nl = await waitFor(() => samples.find((s) => s.event === "never_live"), { timeoutMs: 5000, message: "a never_live sample" });
    const stall = samples.find((s) => s.event === "stall");
    assert.ok(stall && stall.delayMs === null && stall.ts === nl.ts, "the stall opened with it");
    // Judged strictly over 3 block times; the sample carries whole milliseconds, so 300.4 ms reads 300.
    assert.ok((nl.delayMs ?? 0) >= 300, `silent for more than 3 block times since the reply (${nl.delayMs} ms)`);
    assert.match(nl.detail ?? "", /^subscription aaaaaaaaaaaaaaaa acknowledged \d+ ms ago has delivered no event while HTTP saw block \d+/);
    assert.deepEqual([engine.stats().sessions, engine.stats().reconnects], [1, 0], "the socket stayed open");
    assert.equal(samples.filter((s) => s.event === "never_live").length, 1, "once per session");
  });
});
