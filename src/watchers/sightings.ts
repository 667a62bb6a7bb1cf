/**
 * When each block height was first seen over HTTP (the watcher group's head poll): the
 * reference for "arrived later than HTTP knew of it", stall evidence, and for deciding
 * whether a block missed across a disconnect was owed by Lasso or lost with our socket.
 */
export class Sightings {
  /** times[i] = first time height (base + i) was seen; contiguous, ascending (non-decreasing times). */
  private times: number[] = [];
  private base = 0;

  constructor(private readonly capacity = 512) {}

  /** The poll saw head `height` at `at`: every height up to it not seen before is first seen now. */
  sight(height: number, at: number): void {
    if (!Number.isSafeInteger(height) || height < 0) return;
    const top = this.head();
    if (top === null || height - top > this.capacity) {
      // first sighting, or a jump past the whole window: start over at this height
      this.base = height;
      this.times = [at];
      return;
    }
    for (let h = top + 1; h <= height; h++) this.times.push(at);
    const extra = this.times.length - this.capacity;
    if (extra > 0) {
      this.times.splice(0, extra);
      this.base += extra;
    }
  }

  head(): number | null {
    return this.times.length === 0 ? null : this.base + this.times.length - 1;
  }

  firstSeenAt(height: number): number | undefined {
    return this.times[height - this.base];
  }

  /** Highest height first seen at or before `t` (null: none). */
  highestSeenBy(t: number): number | null {
    const i = this.firstIndexWhere((x) => x > t) - 1;
    return i < 0 ? null : this.base + i;
  }

  /** Lowest height first seen at or after `t` (null: none yet). */
  lowestSeenFrom(t: number): number | null {
    const i = this.firstIndexWhere((x) => x >= t);
    return i >= this.times.length ? null : this.base + i;
  }

  /** Binary search over the non-decreasing times: first index where `pred` holds (length if none). */
  private firstIndexWhere(pred: (time: number) => boolean): number {
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pred(this.times[mid] ?? Infinity)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
