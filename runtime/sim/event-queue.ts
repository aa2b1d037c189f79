// The virtual-time event queue: a bounded binary min-heap ordered by (timeMs, seq).
//
// Data layout: `heap` is an array in heap order (children of i at 2i+1 and 2i+2). Every push takes the next sequence
// number, so two events due at the same virtual time come out in the order they were pushed: ties are broken
// deterministically, never by the heap's shape. The queue holds at most `capacity` events; push beyond it returns
// false and counts an overflow, and the caller decides what a refused event means (the network counts it as a lost
// message).
//
// Use: const q = new EventQueue<E>(capacity); q.push(ev) (ev.timeMs set, ev.seq assigned); q.peek(); q.pop().

import { InvalidArgumentError, InvalidConfigError, show } from '../../actors/errors.js';

export interface Timed {
  timeMs: number;
  seq: number;
}

export class EventQueue<E extends Timed> {
  private readonly heap: E[] = [];
  private nextSeq = 0;
  /** pushes refused because the queue was full */
  overflows = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new InvalidConfigError(`event queue capacity must be a positive integer; got ${show(capacity)}`);
    }
  }

  get size(): number {
    return this.heap.length;
  }

  /** Adds `ev` with the next sequence number; false (and counted) when the queue is full. */
  push(ev: E): boolean {
    if (!Number.isFinite(ev.timeMs)) {
      throw new InvalidArgumentError(`event time must be a finite number of ms; got ${String(ev.timeMs)}`);
    }
    if (this.heap.length >= this.capacity) {
      this.overflows++;
      return false;
    }
    ev.seq = this.nextSeq++;
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(ev, h[parent])) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = ev;
    return true;
  }

  peek(): E | undefined {
    return this.heap[0];
  }

  pop(): E | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) this.siftDown(last);
    return top;
  }

  private siftDown(ev: E): void {
    const h = this.heap;
    const n = h.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && before(h[r], h[l]) ? r : l;
      if (!before(h[child], ev)) break;
      h[i] = h[child];
      i = child;
    }
    h[i] = ev;
  }
}

function before(a: Timed, b: Timed): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.seq < b.seq);
}
