// Who streams a moving range to whom, the handoff's settings, its range tag on the wire, and listing a range's keys
// in a fixed order (so that a stream can resume after the last key it sent).
//
// Sources (Cassandra's "strict consistent range movement", CASSANDRA-2434): gaining and losing replicas pair off in
// list order (a preference list always has N nodes, so there are as many of each). A gaining replica receives from
// the losing replica it replaces when that one is up: it then holds everything the loser held, so every write that
// was on W old replicas is on W new ones (see transition.ts). When the loser is down (a replace, or removing a dead
// node) every surviving old replica that is up streams to it: their union holds every write that is on W old
// replicas, the dead one aside. When no old replica is up, the range cannot be handed off now (a typed error).

import { InvalidConfigError, QuorumError } from '../errors.js';
import { hash32 } from '../hash.js';
import type { StoredClock } from '../protocol.js';
import type { MovingRange } from './plan.js';
import { contains, RING_SIZE, type TokenRange } from './token-range.js';

export interface HandoffStream {
  epoch: number;
  rangeId: number;
  range: TokenRange;
  source: number;
  target: number;
}

export interface HandoffConfig {
  /** bytes of batches sent and not yet acknowledged, at most (one batch larger than this goes alone) */
  maxBytesInFlight: number;
  /** bytes of one batch (ae-sync) at most, estimated as anti-entropy does */
  maxBatchBytes: number;
  /** keys in one batch at most (anti-entropy's maxKeysPerMessage by default) */
  maxKeysPerBatch: number;
  /** a batch not acknowledged after this long is sent again */
  retryAfterMs: number;
  /**
   * streams one node sends at once (the control plane starts the next when one is done), so that what a change puts
   * in flight from one node is at most maxStreamsPerNode * maxBytesInFlight
   */
  maxStreamsPerNode: number;
}

export const DEFAULT_HANDOFF: HandoffConfig = {
  maxBytesInFlight: 4 << 20,
  maxBatchBytes: 256 << 10,
  maxKeysPerBatch: 1024,
  retryAfterMs: 1000,
  maxStreamsPerNode: 8,
};

export function validateHandoffConfig(c: HandoffConfig): void {
  for (const k of ['maxBytesInFlight', 'maxBatchBytes', 'maxKeysPerBatch', 'retryAfterMs', 'maxStreamsPerNode'] as const) {
    if (!Number.isSafeInteger(c[k]) || c[k] < 1) throw new InvalidConfigError(`handoff.${k} must be a positive integer; got ${c[k]}`);
  }
  if (c.maxBatchBytes > c.maxBytesInFlight) {
    throw new InvalidConfigError(
      `handoff.maxBatchBytes (${c.maxBatchBytes}) must be at most handoff.maxBytesInFlight (${c.maxBytesInFlight})`,
    );
  }
}

/** The streams that hand one moving range off (see the header for the rule and why). */
export function handoffStreams(epoch: number, range: MovingRange, isUp: (node: number) => boolean): HandoffStream[] {
  const out: HandoffStream[] = [];
  const survivors = range.oldReplicas.filter((n) => !range.losing.includes(n) && isUp(n));
  range.gaining.forEach((target, i) => {
    const loser = range.losing[i];
    const sources = loser !== undefined && isUp(loser) ? [loser] : survivors;
    if (sources.length === 0) {
      throw new QuorumError(
        `range ${range.id} (epoch ${epoch}) cannot be handed off to node ${target}: none of its old replicas ` +
          `(${range.oldReplicas.join(', ')}) is up`,
        { epoch, rangeId: range.id, oldReplicas: [...range.oldReplicas] },
      );
    }
    for (const source of sources) out.push({ epoch, rangeId: range.id, range: { start: range.start, end: range.end }, source, target });
  });
  return out;
}

const TAG_PREFIX = 'handoff:';

/** The `range` field of a handoff's ae-sync: anti-entropy's range ids are node lists, so the two never clash. */
export function handoffTag(epoch: number, rangeId: number): string {
  return `${TAG_PREFIX}${epoch}:${rangeId}`;
}

export function parseHandoffTag(tag: string): { epoch: number; rangeId: number } | undefined {
  if (typeof tag !== 'string' || !tag.startsWith(TAG_PREFIX)) return undefined;
  const m = /^(\d+):(\d+)$/.exec(tag.slice(TAG_PREFIX.length));
  if (m === null) return undefined;
  return { epoch: Number(m[1]), rangeId: Number(m[2]) };
}

export function isHandoffTag(tag: string): boolean {
  return parseHandoffTag(tag) !== undefined;
}

/** What a streaming source needs of its replica's store. */
export interface HandoffSource {
  /** up to `max` keys of the range after `after` (null: from the start), in keyOrder; fewer only at the end */
  listKeys(range: TokenRange, after: string | null, max: number): string[];
  get(keyId: string): StoredClock | undefined;
}

/** A key's place in a range: its distance past the start, then the key itself (hashes collide). */
export function keyOrder(range: TokenRange, a: string, b: string): number {
  const da = offset(range, hash32(a));
  const db = offset(range, hash32(b));
  return da - db || (a < b ? -1 : a > b ? 1 : 0);
}

function offset(range: TokenRange, h: number): number {
  return (h - range.start - 1 + RING_SIZE) % RING_SIZE;
}

/** listKeys over any set of keys (a whole store; tests): O(n log n) per page. */
export function pageKeys(keys: Iterable<string>, range: TokenRange, after: string | null, max: number): string[] {
  const inRange = [...keys].filter((k) => contains(range, hash32(k)) && (after === null || keyOrder(range, k, after) > 0));
  return inRange.sort((a, b) => keyOrder(range, a, b)).slice(0, max);
}

/**
 * listKeys over anti-entropy's index (RangeState.keys[segment] maps, segments of the hash space in order): visits
 * only the segments the range covers, from the one after `after`. A range that wraps is listed as its two pieces.
 */
export function pageSegmentKeys(
  segmentKeys: (segment: number) => Iterable<string>,
  segments: number,
  range: TokenRange,
  after: string | null,
  max: number,
): string[] {
  const segOf = (h: number): number => Math.floor((h * segments) / RING_SIZE);
  const lo = (range.start + 1) % RING_SIZE;
  const pieces: Array<[number, number]> =
    range.start < range.end ? [[lo, range.end]] : lo === 0 ? [[0, range.end]] : [[lo, RING_SIZE - 1], [0, range.end]];
  const out: string[] = [];
  const afterOffset = after === null ? -1 : offset(range, hash32(after));
  for (const [pLo, pHi] of pieces) {
    if (afterOffset > offset(range, pHi)) continue; // the cursor is past this piece
    const from = afterOffset < offset(range, pLo) ? pLo : hash32(after!);
    for (let seg = segOf(from); seg <= segOf(pHi); seg++) {
      const items = [...segmentKeys(seg)].filter((k) => {
        const h = hash32(k);
        return h >= pLo && h <= pHi && (after === null || keyOrder(range, k, after) > 0);
      });
      for (const k of items.sort((a, b) => keyOrder(range, a, b))) {
        out.push(k);
        if (out.length === max) return out;
      }
    }
  }
  return out;
}
