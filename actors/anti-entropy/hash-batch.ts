// Hash batches: dirty segments packed for a hashing pool (key ids as bytes, known digests, a pending flag per key),
// the pool's answer, and the hashing itself, which runs on a pool worker and must equal merkle.ts's
// defaultSegmentHasher (a test checks it).

import { hash32Bytes } from '../hash.js';
import { PENDING_DIGEST } from './digest.js';
import type { RangeState } from './ranges.js';

/** A batch of segments handed to a hashing pool: key ids packed as bytes (one per char), digests or PENDING. */
export interface HashBatch {
  range: string;
  /** the key ids, in packed order (kept in this thread: the pool gets the packed bytes) */
  ids: string[];
  /** the reset() generation it was taken in: a batch from before a reset is ignored */
  generation: number;
  segments: number[];
  /** concatenated key ids, one byte per char */
  keyBytes: Uint8Array;
  /** end offset in keyBytes of each key */
  keyEnds: Uint32Array;
  /** end index (exclusive) in keys of each segment */
  segmentEnds: Uint32Array;
  /** known digests; PENDING keys (flag 1 in pending) must be read from the store by the hasher */
  digests: Uint32Array;
  pending: Uint8Array;
}

/** What a hasher returns for a HashBatch. */
export interface HashBatchResult {
  /** [hi, lo] per segment */
  hashes: Uint32Array;
  /** every key's digest (the pending ones filled in) */
  digests: Uint32Array;
  /** 1 where the key is a tombstone (only meaningful for pending keys); 2 where the key was not found */
  flags: Uint8Array;
}

export const FLAG_TOMBSTONE = 1;
export const FLAG_MISSING = 2;

const SEED_A = 0x5bd1e995; // must equal merkle.ts's lanes: a test checks hashSegmentsPacked against it
const SEED_B = 0x1b873593;


/**
 * The segment hashes of a packed batch, as merkle.ts's defaultSegmentHasher computes them (the sum per lane of
 * two seeded hashes of each key under its digest). Writes [hi, lo] per segment into `out`. Runs on a pool worker.
 */
export function hashSegmentsPacked(
  b: Pick<HashBatch, 'keyBytes' | 'keyEnds' | 'segmentEnds' | 'digests'>,
  out: Uint32Array,
): void {
  let key = 0;
  for (let s = 0; s < b.segmentEnds.length; s++) {
    let a = 0;
    let c = 0;
    for (; key < b.segmentEnds[s]; key++) {
      const start = key === 0 ? 0 : b.keyEnds[key - 1];
      const d = b.digests[key];
      a = (a + hash32Bytes(b.keyBytes, start, b.keyEnds[key], (d ^ SEED_A) >>> 0)) >>> 0;
      c = (c + hash32Bytes(b.keyBytes, start, b.keyEnds[key], (Math.imul(d, 0x85ebca6b) ^ SEED_B) >>> 0)) >>> 0;
    }
    out[2 * s] = a;
    out[2 * s + 1] = c;
  }
}

/** Packs the keys of some segments for a hashing pool. */
export function packBatch(r: RangeState, segments: number[], generation: number): HashBatch {
  let keys = 0;
  let bytes = 0;
  for (const s of segments) {
    const map = r.keys[s];
    if (map === undefined) continue;
    keys += map.size;
    for (const k of map.keys()) bytes += k.length;
  }
  const b: HashBatch = {
    range: r.id,
    ids: new Array<string>(keys),
    generation,
    segments,
    keyBytes: new Uint8Array(bytes),
    keyEnds: new Uint32Array(keys),
    segmentEnds: new Uint32Array(segments.length),
    digests: new Uint32Array(keys),
    pending: new Uint8Array(keys),
  };
  let k = 0;
  let at = 0;
  for (let i = 0; i < segments.length; i++) {
    const map = r.keys[segments[i]];
    if (map !== undefined) {
      for (const [id, d] of map) {
        for (let c = 0; c < id.length; c++) b.keyBytes[at++] = id.charCodeAt(c);
        b.keyEnds[k] = at;
        b.ids[k] = id;
        if (d === PENDING_DIGEST) b.pending[k] = 1;
        else b.digests[k] = d;
        k++;
      }
    }
    b.segmentEnds[i] = k;
  }
  return b;
}

/** Reads key ids back out of a packed batch. */
export class KeyCursor {
  constructor(private readonly b: Pick<HashBatch, 'keyBytes' | 'keyEnds'>) {}
  key(i: number): string {
    const start = i === 0 ? 0 : this.b.keyEnds[i - 1];
    const end = this.b.keyEnds[i];
    if (end - start <= 4096) return String.fromCharCode.apply(null, this.b.keyBytes.subarray(start, end) as unknown as number[]);
    let s = '';
    for (let j = start; j < end; j++) s += String.fromCharCode(this.b.keyBytes[j]);
    return s;
  }
}
