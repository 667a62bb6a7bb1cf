/**
 * newHeads continuity as a pure state machine: feed it sessions, events, HTTP sightings and
 * clock ticks; drain records (ContinuitySample bodies) and HTTP lookups it wants done, and feed
 * the lookups' results back. No I/O and no timers, so it is tested with synthetic sequences.
 *
 * Attribution: heights missing while the socket was open are Lasso's (gap, confirmed over
 * HTTP); heights produced while our own socket was down are a client_gap. Across a reconnect a
 * height counts as owed by Lasso only if HTTP had seen it `deliveryAllowanceMs` before the drop,
 * or while a subscription Lasso had acknowledged was not live (never_live), and never if the
 * watcher already counted it as unserved by a refused subscribe or upgrade.
 */
import type { HeadEvent } from "./frames.js";
import type { Sightings } from "./sightings.js";
import type { ContinuityRecord } from "./types.js";

export interface HeadContinuityConfig {
  blockTimeMs: number;
  stallBlockTimes: number;
  /** Missing heights wait this long for a late (out-of-order) arrival before being confirmed as a gap. */
  gapGraceMs: number;
  /** A block HTTP saw this long before our socket dropped should have been delivered before the drop. */
  deliveryAllowanceMs: number;
  /**
   * After a subscribe reply, HTTP sightings earlier than this may be blocks produced before the
   * subscription (the head poll lags production): only later ones are owed by a never-live session.
   */
  ackMarginMs: number;
  /** Stall evidence: a newer block was seen over HTTP at least this long ago. */
  stallEvidenceMs: number;
  /** Confirmations are retried (every block time) until this long after the gap was proved. */
  confirmDeadlineMs: number;
  /** Heights and hashes remembered for duplicate and reorg detection. */
  windowBlocks: number;
  /** Deepest parentHash walk over HTTP when a reorg's fork point is not in what was delivered. */
  maxReorgWalk: number;
}

export function defaultHeadConfig(blockTimeMs: number, stallBlockTimes: number, headPollIntervalMs = 0): HeadContinuityConfig {
  return {
    blockTimeMs,
    stallBlockTimes,
    gapGraceMs: Math.min(blockTimeMs, 2000),
    deliveryAllowanceMs: Math.max(blockTimeMs, 500),
    ackMarginMs: Math.max(blockTimeMs, 500) + headPollIntervalMs,
    stallEvidenceMs: Math.min(blockTimeMs / 2, 500),
    confirmDeadlineMs: Math.max(5 * blockTimeMs, 10_000),
    windowBlocks: 256,
    maxReorgWalk: 16,
  };
}

/** HTTP work the machine asks for: eth_getBlockByNumber(h, false) for each height. */
export interface FetchBlocksAction {
  kind: "fetchBlocks";
  id: number;
  heights: number[];
  purpose: "gap" | "client_gap" | "reorg";
}

/** Per height: the block, null when the node says it has none. ok:false when the lookup failed. */
export type BlockLookup = { ok: true; blocks: Map<number, HeadEvent | null> } | { ok: false; error: string };

interface GapGroup {
  kind: "gap" | "client_gap";
  /** Heights still missing (gap: late arrivals are removed). */
  heights: Set<number>;
  provedAt: number;
  provingBlock: number;
  dueAt: number;
  deadline: number;
  attempts: number;
  actionId: number | null;
  note: string;
}

interface ReorgWalk {
  detectedAt: number;
  /** Heights and hashes delivered before the reorg (below the new block). */
  oldHashes: Map<number, string>;
  oldHighest: number;
  newBlock: HeadEvent;
  /** Next height to compare; every height above it up to oldHighest is known to be replaced. */
  next: number;
  steps: number;
  actionId: number | null;
  why: string;
}

const NOT_LIVE_NOTE = "missing while a subscription Lasso had acknowledged delivered nothing (never live)";

/** Never-live sessions and refused heights since the last delivered event. */
interface Undelivered {
  notLive: NotLiveWindow[];
  unserved: Array<[number, number]>;
}

function isUnserved(u: Undelivered, h: number): boolean {
  return u.unserved.some(([from, to]) => h >= from && h <= to);
}

interface Stall {
  since: number;
  openedAt: number;
}

/** A session Lasso acknowledged that had delivered nothing when its stall was detected. */
interface NotLiveWindow {
  from: number;
  /** null while the session is open. */
  to: number | null;
}

export class HeadContinuity {
  private session = 0;
  private sessionOpen = false;
  private sessionStartedAt = 0;
  private subscribeSentAt = 0;
  private subId: string | null = null;
  private gotFirst = false;
  private lastEventAt = 0;
  private highest: number | null = null;
  private readonly hashAt = new Map<number, string>();
  /** hash -> session that delivered it (insertion order = arrival order, for pruning). */
  private readonly seen = new Map<string, number>();
  private stall: Stall | null = null;
  private groups: GapGroup[] = [];
  private walks: ReorgWalk[] = [];
  /** Set at a drop, consumed by the first event of the next session. */
  private dropped: { at: number; highest: number | null; detail: string } | null = null;
  /** Since the last delivered event: never-live sessions, and heights already counted by refusals (consumed with `dropped`). */
  private notLive: NotLiveWindow[] = [];
  private unservedRanges: Array<[number, number]> = [];
  private nextActionId = 1;
  private records: ContinuityRecord[] = [];
  private actions: FetchBlocksAction[] = [];

  constructor(
    private readonly cfg: HeadContinuityConfig,
    private readonly sightings: Sightings,
  ) {}

  /** Records and lookups produced since the last drain. */
  drain(): { records: ContinuityRecord[]; actions: FetchBlocksAction[] } {
    const out = { records: this.records, actions: this.actions };
    this.records = [];
    this.actions = [];
    return out;
  }

  /** eth_subscribe was answered with `subId`; `sentAt` is when it was sent. */
  sessionStarted(t: number, subId: string, sentAt: number): void {
    this.session += 1;
    this.sessionOpen = true;
    this.sessionStartedAt = t;
    this.subscribeSentAt = sentAt;
    this.subId = subId;
    this.gotFirst = false;
    this.lastEventAt = t;
    this.stall = null;
  }

  /** Our socket closed (for whatever reason): what follows until the next session's first event is a client gap. */
  sessionEnded(t: number, detail: string): void {
    if (!this.sessionOpen) return;
    this.tick(t);
    this.closeStall(t, `socket closed (${detail})`);
    const open = this.notLive.at(-1);
    if (open !== undefined && open.to === null) open.to = t;
    this.sessionOpen = false;
    this.dropped ??= { at: t, highest: this.highest, detail };
  }

  /** The watcher is stopping: an open stall ends here. */
  stopped(t: number): void {
    this.closeStall(t, "watcher stopped");
    this.sessionOpen = false;
  }

  /** Heights from..to were counted by the watcher as unserved (its subscribe or upgrade was refused): never a client gap. */
  unserved(from: number, to: number): void {
    if (to >= from) this.unservedRanges.push([from, to]);
  }

  get highestDelivered(): number | null {
    return this.highest;
  }

  head(t: number, ev: HeadEvent, subId: string): void {
    // A stall that ended with this very event is still a stall: judge the silence before it.
    this.detectStall(t);
    if (subId !== this.subId) {
      this.record(t, "subscription_id_change", ev.number, 1, { detail: `notifications moved from subscription ${this.subId ?? "?"} to ${subId}` });
      this.subId = subId;
    }
    this.closeStall(t, `event for block ${ev.number}`);
    this.lastEventAt = t;
    const seenAt = this.sightings.firstSeenAt(ev.number);
    this.record(t, "delivered", ev.number, 1, {
      delayMs: t - ev.timestampSec * 1000,
      sightingDelayMs: seenAt !== undefined && seenAt <= t ? t - seenAt : null,
      backfilled: ev.backfilled,
    });
    if (!this.gotFirst) {
      this.gotFirst = true;
      this.record(t, "first_event", ev.number, 1, { delayMs: t - this.subscribeSentAt, detail: `session ${this.session}` });
    }
    this.classify(t, ev);
    this.processGroups(t);
  }

  /** Answer to a FetchBlocksAction. */
  lookup(t: number, id: number, result: BlockLookup): void {
    const group = this.groups.find((g) => g.actionId === id);
    if (group) {
      group.actionId = null;
      this.onGroupLookup(t, group, result);
      return;
    }
    const walk = this.walks.find((w) => w.actionId === id);
    if (walk) {
      walk.actionId = null;
      this.onWalkLookup(t, walk, result);
    }
  }

  /** Time passes: stall detection, confirmation of gaps whose grace ran out. Call on a timer and on HTTP sightings. */
  tick(t: number): void {
    this.detectStall(t);
    this.processGroups(t);
  }

  private processGroups(t: number): void {
    for (const g of this.groups) {
      if (g.actionId !== null || g.dueAt > t) continue;
      if (g.heights.size === 0) continue;
      const hs = [...g.heights];
      const lo = Math.min(...hs);
      const hi = Math.max(...hs);
      // The top height existing proves the whole range below it exists; the bottom one links to what we had.
      g.actionId = this.request(lo === hi ? [lo] : [lo, hi], g.kind);
    }
    this.groups = this.groups.filter((g) => g.heights.size > 0 || g.actionId !== null);
  }

  // ------------------------------------------------------------------ classification

  private classify(t: number, ev: HeadEvent): void {
    const n = ev.number;
    const earlier = this.seen.get(ev.hash);
    const current = this.hashAt.get(n);
    // A hash seen before is a repeat unless a reorg had moved us off its branch (then it is a reorg back).
    if (earlier !== undefined && (current === ev.hash || (current === undefined && n <= (this.highest ?? n) - this.cfg.windowBlocks))) {
      // A new subscription may repeat what the old one delivered: only a repeat within a session is Lasso's duplicate.
      if (earlier === this.session) this.record(t, "duplicate", n, 1, { detail: `block ${n} ${short(ev.hash)} delivered again` });
      return;
    }
    const boundary = this.dropped;
    this.dropped = null;
    const before = boundary !== null || this.highest === null ? this.takeUndelivered() : null;
    if (this.highest === null) {
      if (before !== null) this.accountNotLive(t, before, n);
      this.remember(n, ev.hash);
      this.highest = n;
      return;
    }
    const highest = this.highest;
    if (n > highest) {
      if (n === highest + 1) {
        const parent = this.hashAt.get(n - 1);
        if (parent !== undefined && parent !== ev.parentHash) {
          this.startReorg(t, ev, highest, "parentHash break");
          return;
        }
      } else if (boundary !== null && before !== null) {
        this.accountDisconnect(t, boundary, before, highest, n);
      } else {
        this.addGap(t, highest + 1, n - 1, n);
      }
      this.remember(n, ev.hash);
      this.highest = n;
      return;
    }
    if (current !== undefined) {
      this.startReorg(t, ev, highest, `block ${n} was ${short(current)}, now ${short(ev.hash)}`);
      return;
    }
    const group = this.groups.find((g) => g.kind === "gap" && g.heights.has(n));
    if (group) {
      group.heights.delete(n);
      this.record(t, "out_of_order", n, 1, { detail: `block ${n} arrived after block ${highest} (late, before its gap was confirmed)` });
    } else if (boundary === null) {
      this.record(t, "out_of_order", n, 1, { detail: `block ${n} arrived after block ${highest}` });
    }
    if (n > highest - this.cfg.windowBlocks) this.remember(n, ev.hash);
  }

  /** First event after a reconnect at height n: split (highest, n) into owed-by-Lasso, already counted as unserved, and client gap. */
  private accountDisconnect(t: number, dropped: { at: number; detail: string }, before: Undelivered, highest: number, n: number): void {
    if (n <= highest + 1) return;
    const owedUpTo = this.sightings.highestSeenBy(dropped.at - this.cfg.deliveryAllowanceMs);
    const owedTop = owedUpTo === null ? highest : Math.min(owedUpTo, n - 1);
    if (owedTop > highest) this.addGap(t, highest + 1, owedTop, n, "missing while the socket was still open (HTTP saw them before the drop)");
    const notLive = new Set<number>();
    const heights = new Set<number>();
    for (let h = Math.max(highest + 1, owedTop + 1); h <= n - 1; h++) {
      if (isUnserved(before, h)) continue;
      if (this.owedWhileNotLive(before, h)) notLive.add(h);
      else heights.add(h);
    }
    if (notLive.size > 0) this.addGapHeights(t, notLive, n, NOT_LIVE_NOTE);
    if (heights.size === 0) return;
    this.groups.push({
      kind: "client_gap",
      heights,
      provedAt: t,
      provingBlock: n,
      dueAt: t,
      deadline: t + this.cfg.confirmDeadlineMs,
      attempts: 0,
      actionId: null,
      note: `our socket dropped (${dropped.detail}) at ${new Date(dropped.at).toISOString()}`,
    });
  }

  /** First event ever at height n: heights below it that a never-live session owed are a gap. */
  private accountNotLive(t: number, before: Undelivered, n: number): void {
    const first = before.notLive[0];
    if (first === undefined) return;
    const from = this.sightings.lowestSeenFrom(first.from + this.cfg.ackMarginMs);
    if (from === null) return;
    const owed = new Set<number>();
    for (let h = from; h <= n - 1; h++) if (!isUnserved(before, h) && this.owedWhileNotLive(before, h)) owed.add(h);
    if (owed.size > 0) this.addGapHeights(t, owed, n, NOT_LIVE_NOTE);
  }

  /** HTTP first saw h while an acknowledged session was not live (after its margin, before its end's allowance). */
  private owedWhileNotLive(before: Undelivered, h: number): boolean {
    const seen = this.sightings.firstSeenAt(h);
    if (seen === undefined) return false;
    return before.notLive.some((w) => seen >= w.from + this.cfg.ackMarginMs && (w.to === null || seen <= w.to - this.cfg.deliveryAllowanceMs));
  }

  /** What happened since the last delivered event, handed over once to the event that ends it. */
  private takeUndelivered(): Undelivered {
    const out = { notLive: this.notLive, unserved: this.unservedRanges };
    this.notLive = [];
    this.unservedRanges = [];
    return out;
  }

  private addGap(t: number, from: number, to: number, provingBlock: number, note = "missing while the socket was open"): void {
    const heights = new Set<number>();
    for (let h = from; h <= to; h++) heights.add(h);
    this.addGapHeights(t, heights, provingBlock, note);
  }

  private addGapHeights(t: number, heights: Set<number>, provingBlock: number, note: string): void {
    this.groups.push({
      kind: "gap",
      heights,
      provedAt: t,
      provingBlock,
      dueAt: t + this.cfg.gapGraceMs,
      deadline: t + this.cfg.confirmDeadlineMs,
      attempts: 0,
      actionId: null,
      note,
    });
  }

  private onGroupLookup(t: number, g: GapGroup, result: BlockLookup): void {
    const hs = [...g.heights];
    const removeGroup = (): void => {
      this.groups = this.groups.filter((x) => x !== g);
    };
    if (hs.length === 0) {
      removeGroup();
      return;
    }
    const lo = Math.min(...hs);
    const hi = Math.max(...hs);
    const top = result.ok ? result.blocks.get(hi) : undefined;
    const confirmed = result.ok && top !== undefined && top !== null;
    g.attempts += 1;
    if (!confirmed && t < g.deadline) {
      g.dueAt = t + this.cfg.blockTimeMs;
      return;
    }
    removeGroup();
    const how = confirmed
      ? `confirmed over HTTP (block ${hi} is ${short(top.hash)})`
      : `NOT confirmed over HTTP after ${g.attempts} attempt(s): ${result.ok ? `block ${hi} not found` : result.error}`;
    const ranges = rangesText(hs);
    if (g.kind === "gap") {
      this.record(t, "gap", lo, hs.length, { detail: `blocks ${ranges} never delivered, ${g.note}; proved by block ${g.provingBlock}; ${how}` });
    } else {
      this.record(t, "client_gap", lo, hs.length, { detail: `blocks ${ranges} produced while ${g.note}; fetched over HTTP: ${how}` });
    }
  }

  // ------------------------------------------------------------------ reorgs

  private startReorg(t: number, ev: HeadEvent, oldHighest: number, why: string): void {
    const n = ev.number;
    const oldHashes = new Map<number, string>();
    for (const [h, hash] of this.hashAt) if (h < n) oldHashes.set(h, hash);
    const parent = oldHashes.get(n - 1);
    // Heights from the first one known to be replaced belong to the old branch: forget them, and
    // stop waiting for gap confirmations there (the new branch is accounted from here on).
    const replacedFrom = parent !== undefined && parent !== ev.parentHash ? n - 1 : n;
    for (const h of [...this.hashAt.keys()]) if (h >= replacedFrom) this.hashAt.delete(h);
    for (const g of this.groups) if (g.kind === "gap") for (const h of [...g.heights]) if (h >= replacedFrom) g.heights.delete(h);
    this.remember(n, ev.hash);
    this.highest = n;
    if (parent === ev.parentHash) {
      this.record(t, "reorg", n, oldHighest - (n - 1), { detail: `${why}; fork at block ${n - 1}, ${oldHighest - (n - 1)} block(s) replaced up to ${oldHighest}` });
      return;
    }
    if (parent === undefined) {
      this.record(t, "reorg", n, Math.max(1, oldHighest - n + 1), { detail: `${why}; fork point below the remembered window: depth at least ${Math.max(1, oldHighest - n + 1)}` });
      return;
    }
    // Our block n-1 is not the new block's parent: walk down over HTTP to the common ancestor.
    const walk: ReorgWalk = { detectedAt: t, oldHashes, oldHighest, newBlock: ev, next: n - 2, steps: 0, actionId: null, why };
    this.walks.push(walk);
    this.continueWalk(t, walk, "");
  }

  private continueWalk(t: number, w: ReorgWalk, stopped: string): void {
    const ours = w.oldHashes.get(w.next);
    if (stopped !== "" || ours === undefined || w.steps >= this.cfg.maxReorgWalk) {
      const reason = stopped !== "" ? stopped : ours === undefined ? "below the remembered window" : `not found within ${w.steps} block(s)`;
      this.finishWalk(t, w, w.oldHighest - w.next, `depth at least ${w.oldHighest - w.next} (fork point ${reason})`);
      return;
    }
    w.actionId = this.request([w.next], "reorg");
  }

  private onWalkLookup(t: number, w: ReorgWalk, result: BlockLookup): void {
    const block = result.ok ? result.blocks.get(w.next) : undefined;
    if (!result.ok || block === undefined || block === null) {
      this.continueWalk(t, w, result.ok ? `lookup of block ${w.next} found nothing` : `lookup failed: ${result.error}`);
      return;
    }
    w.steps += 1;
    if (w.oldHashes.get(w.next) === block.hash) {
      this.finishWalk(t, w, w.oldHighest - w.next, `fork at block ${w.next} (found over HTTP), ${w.oldHighest - w.next} block(s) replaced up to ${w.oldHighest}`);
      return;
    }
    // This height was replaced too; forget it unless a newer delivery already overwrote it.
    if (this.hashAt.get(w.next) === w.oldHashes.get(w.next)) this.hashAt.delete(w.next);
    w.next -= 1;
    this.continueWalk(t, w, "");
  }

  private finishWalk(t: number, w: ReorgWalk, depth: number, how: string): void {
    this.walks = this.walks.filter((x) => x !== w);
    this.record(t, "reorg", w.next + 1, Math.max(1, depth), { detail: `${w.why} at block ${w.newBlock.number}; ${how}` });
  }

  // ------------------------------------------------------------------ stalls

  private detectStall(t: number): void {
    if (!this.sessionOpen || this.stall !== null) return;
    const silence = t - this.lastEventAt;
    if (silence <= this.cfg.stallBlockTimes * this.cfg.blockTimeMs) return;
    // Evidence that blocks exist which Lasso should have sent: a height above what we have, seen over HTTP during this session a while ago.
    const fromSession = this.sightings.lowestSeenFrom(this.sessionStartedAt);
    if (fromSession === null) return;
    const h = Math.max(fromSession, (this.highest ?? -1) + 1);
    const seenAt = this.sightings.firstSeenAt(h);
    if (seenAt === undefined || seenAt > t - this.cfg.stallEvidenceMs) return;
    this.stall = { since: this.lastEventAt, openedAt: t };
    this.record(t, "stall", h, silence, {
      detail: `no event for ${Math.round(silence)} ms with the socket open while HTTP saw block ${h} ${Math.round(t - seenAt)} ms ago`,
    });
    if (this.gotFirst) return;
    // Acknowledged but nothing ever came: Lasso's answer did not prove a live upstream.
    this.notLive.push({ from: this.sessionStartedAt, to: null });
    this.record(t, "never_live", h, 1, {
      delayMs: t - this.sessionStartedAt,
      detail: `subscription ${this.subId ?? "?"} acknowledged ${Math.round(t - this.sessionStartedAt)} ms ago has delivered no event while HTTP saw block ${h} ${Math.round(t - seenAt)} ms ago`,
    });
  }

  /** A stall ends: the closing sample carries the rest of its length (count) and its total (delayMs). */
  private closeStall(t: number, why: string): void {
    const s = this.stall;
    if (s === null) return;
    this.stall = null;
    this.record(t, "stall", this.highest === null ? null : this.highest + 1, t - s.openedAt, { delayMs: t - s.since, detail: `stall ended after ${Math.round(t - s.since)} ms: ${why}` });
  }

  // ------------------------------------------------------------------ helpers

  private remember(n: number, hash: string): void {
    this.hashAt.set(n, hash);
    this.seen.set(hash, this.session);
    const floor = (this.highest ?? n) - this.cfg.windowBlocks;
    if (this.hashAt.size > this.cfg.windowBlocks + 32) for (const h of this.hashAt.keys()) if (h < floor) this.hashAt.delete(h);
    while (this.seen.size > 2 * this.cfg.windowBlocks) {
      const oldest = this.seen.keys().next();
      if (oldest.done === true) break;
      this.seen.delete(oldest.value);
    }
  }

  private request(heights: number[], purpose: FetchBlocksAction["purpose"]): number {
    const id = this.nextActionId++;
    this.actions.push({ kind: "fetchBlocks", id, heights, purpose });
    return id;
  }

  private record(
    t: number,
    event: ContinuityRecord["event"],
    blockNumber: number | null,
    count: number,
    extra: Partial<Pick<ContinuityRecord, "delayMs" | "sightingDelayMs" | "backfilled" | "detail">> = {},
  ): void {
    this.records.push({
      ts: t,
      event,
      blockNumber,
      count,
      delayMs: extra.delayMs ?? null,
      sightingDelayMs: extra.sightingDelayMs ?? null,
      backfilled: extra.backfilled ?? null,
      detail: extra.detail ?? null,
    });
  }
}

function short(hash: string): string {
  return hash.slice(0, 10);
}

/** [5,6,7,9] -> "5-7, 9". */
export function rangesText(heights: number[]): string {
  const hs = [...heights].sort((a, b) => a - b);
  const parts: string[] = [];
  let start = hs[0];
  let prev = start;
  for (const h of hs.slice(1)) {
    if (prev !== undefined && h === prev + 1) {
      prev = h;
      continue;
    }
    if (start !== undefined) parts.push(start === prev ? `${start}` : `${start}-${prev}`);
    start = h;
    prev = h;
  }
  if (start !== undefined) parts.push(start === prev ? `${start}` : `${start}-${prev}`);
  return parts.join(", ");
}
