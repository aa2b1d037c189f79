// What anti-entropy compares: a key's version digest, whether a clock is a tombstone, and range ids (a range is the
// sorted primaries of a key's preference list: two replicas compare only ranges both belong to).

import { hash32, murmurFinal, murmurMix } from '../hash.js';
import type { StoredClock } from '../protocol.js';
import type { Ring } from '../ring.js';

/** Digest of a key indexed by a rebuild whose version has not been read yet. */
export const PENDING_DIGEST = -1;

/** The range id of a replica set: its nodes sorted ascending, joined by commas. */
export function rangeId(nodes: readonly number[]): string {
  return [...nodes].sort((a, b) => a - b).join(',');
}

/** Every distinct replica set (sorted node list) of a ring: the preference lists at its token positions. */
export function rangesOf(ring: Ring): number[][] {
  const seen = new Map<string, number[]>();
  for (let node = 0; node < ring.nodes.length; node++) {
    for (const token of ring.tokensOf(node)) {
      const list = [...ring.preferenceList(token)].sort((a, b) => a - b);
      seen.set(list.join(','), list);
    }
  }
  return [...seen.values()];
}

/**
 * The version digest of a key: a 32-bit hash of its causal history (each entry's id, counter and live value count)
 * and its anonymous value count. Equal clocks give equal digests; values are not read (a dot names one value).
 */
export function versionDigest(c: StoredClock): number {
  let h = 0x2f0d_1e5e;
  for (const e of c.entries) {
    h = murmurMix(h, hash32(e.id));
    h = murmurMix(h, e.n >>> 0);
    h = murmurMix(h, Math.floor(e.n / 0x1_0000_0000));
    h = murmurMix(h, e.values.length);
  }
  h = murmurMix(h, c.anonymous.length);
  return murmurFinal(h ^ c.entries.length);
}

/** True when the clock holds at least one value and every value is a tombstone (null). */
export function isTombstone(c: StoredClock): boolean {
  let count = c.anonymous.length;
  for (const v of c.anonymous) if (v.v !== null) return false;
  for (const e of c.entries) {
    for (const v of e.values) if (v.v !== null) return false;
    count += e.values.length;
  }
  return count > 0;
}

