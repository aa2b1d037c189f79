// Token ranges: arcs of the 32-bit hash ring, and a lookup from a key hash to the arc that holds it.
//
// A range is (start, end]: the hashes h with start < h <= end, wrapping past 2^32 - 1 when start >= end; start ===
// end is the whole ring. Ranges are built from ring tokens, so a range never splits a token position: every key in
// it lands on the same token position in the ring it was computed from.

import { InvalidArgumentError } from '../errors.js';

export const RING_SIZE = 0x1_0000_0000;

export interface TokenRange {
  /** exclusive lower bound (a token) */
  readonly start: number;
  /** inclusive upper bound (a token) */
  readonly end: number;
}

export function contains(r: TokenRange, h: number): boolean {
  if (r.start < r.end) return h > r.start && h <= r.end;
  if (r.start > r.end) return h > r.start || h <= r.end;
  return true; // start === end: the whole ring
}

/** How many hashes the range holds. */
export function width(r: TokenRange): number {
  if (r.start < r.end) return r.end - r.start;
  return RING_SIZE - r.start + r.end; // wrapping; RING_SIZE when start === end
}

/**
 * Finds the range holding a hash among disjoint ranges, in O(log n): the non-wrapping ones sorted by end, plus at
 * most one that wraps (disjoint ranges can wrap only once).
 */
export class RangeIndex<R extends TokenRange> {
  private readonly sorted: R[];
  private readonly wrapping: R | undefined;

  constructor(ranges: readonly R[]) {
    this.sorted = ranges.filter((r) => r.start < r.end).sort((a, b) => a.end - b.end);
    const wrapping = ranges.filter((r) => r.start >= r.end);
    if (wrapping.length > 1) throw new Error(`range index: ${wrapping.length} ranges wrap; disjoint ranges wrap once`);
    this.wrapping = wrapping[0];
  }

  find(h: number): R | undefined {
    if ((h >>> 0) !== h) {
      throw new InvalidArgumentError(`keyHash must be an unsigned 32-bit integer (from keyHash()); got ${h}`);
    }
    const s = this.sorted;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid].end < h) lo = mid + 1;
      else hi = mid;
    }
    if (lo < s.length && contains(s[lo], h)) return s[lo];
    return this.wrapping !== undefined && contains(this.wrapping, h) ? this.wrapping : undefined;
  }
}
