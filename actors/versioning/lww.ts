// Last-write-wins over Stamped values (actors/types.ts), for ConflictMode 'lww'.
//
// Order: by ts (the coordinator's clock, ms), then by `by` (coordinating replica id, plain string comparison), then
// by the value itself: tombstone < string < bytes, strings by string comparison, bytes lexicographically (a shorter
// prefix first). The value tiebreak makes the order total on distinct versions, so every replica that resolves the
// same siblings picks the same winner whatever order it merged them in.
// Use: state' = resolveLww(updateWith(...)) or resolveLww(sync(state, remote, stampedEqual)).
// The winner is only independent of sync order when ts never goes back along causality: a coordinator should stamp
// max(nowMs, 1 + the largest ts it holds for the key), or a causally newer write can lose to an older one.

import type { Stamped, Value } from '../types.js';
import { type Clock, lww } from './dvv.js';

/** Strictly older: a < b in the LWW order. */
export function stampedLess(a: Stamped, b: Stamped): boolean {
  if (a.ts !== b.ts) return a.ts < b.ts;
  if (a.by !== b.by) return a.by < b.by;
  return compareValues(a.v, b.v) < 0;
}

/** Same version: same ts, same coordinator, same value content (byte-wise for bytes). */
export function stampedEqual(a: Stamped, b: Stamped): boolean {
  return a.ts === b.ts && a.by === b.by && compareValues(a.v, b.v) === 0;
}

/** Keeps only the newest value (dvvset:lww with stampedLess); the causal history is unchanged. */
export function resolveLww(c: Clock<Stamped>): Clock<Stamped> {
  return lww(c, stampedLess);
}

/** Rank of a value's kind in the tiebreak: tombstone, then string, then bytes. */
function kindRank(v: Value | null): number {
  if (v === null) return 0;
  return typeof v === 'string' ? 1 : 2;
}

function compareValues(a: Value | null, b: Value | null): number {
  const ka = kindRank(a);
  const kb = kindRank(b);
  if (ka !== kb) return ka - kb;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return compareBytes(a, b);
  return 0; // both tombstones
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const common = Math.min(a.length, b.length);
  for (let i = 0; i < common; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
