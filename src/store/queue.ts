/** Fixed-capacity FIFO; pushing onto a full queue evicts the oldest item. */
export class RingQueue<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error("queue capacity must be a positive integer");
    this.items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Returns true when an old item had to be evicted to make room. */
  push(item: T): boolean {
    const evict = this.count === this.capacity;
    this.items[(this.head + this.count) % this.capacity] = item;
    if (evict) this.head = (this.head + 1) % this.capacity;
    else this.count++;
    return evict;
  }

  /** The oldest `n` items, without removing them. */
  peek(n: number): T[] {
    const k = Math.min(n, this.count);
    const out: T[] = [];
    for (let i = 0; i < k; i++) out.push(this.items[(this.head + i) % this.capacity] as T);
    return out;
  }

  /** Removes the oldest `n` items. */
  drop(n: number): void {
    const k = Math.min(n, this.count);
    for (let i = 0; i < k; i++) this.items[(this.head + i) % this.capacity] = undefined;
    this.head = (this.head + k) % this.capacity;
    this.count -= k;
  }
}
