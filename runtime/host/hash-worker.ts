// Worker side of the hashing pool (runtime/hash-pool.ts): one task hashes a batch of Merkle segments.
//
// A task is a HashBatch from actors/anti-entropy.ts (key ids packed as bytes, known digests, a pending flag per key)
// plus the replica's SharedStore buffers. For each pending key the worker reads the key's clock from shared memory
// (as a reader: the replica thread stays the only writer and keeps serving) and computes its version digest; then
// it hashes every segment. The result is the segment hashes, every key's digest and per-key flags (tombstone,
// missing). computeHashBatch is the same work in any thread: the replica runs it in-thread for small rebuilds.

import {
  FLAG_MISSING,
  FLAG_TOMBSTONE,
  KeyCursor,
  hashSegmentsPacked,
  isTombstone,
  versionDigest,
  type HashBatch,
  type HashBatchResult,
} from '../../actors/anti-entropy/index.js';
import { OverloadedError } from '../../actors/errors.js';
import type { StoredClock } from '../../actors/protocol.js';
import { BUSY, SharedStore, type StoreBuffers } from './store.js';

export type PackedBatch = Pick<HashBatch, 'keyBytes' | 'keyEnds' | 'segmentEnds' | 'digests' | 'pending'>;

export interface HashTask {
  /** the replica's store, read for pending keys; null when no key is pending */
  store: StoreBuffers | null;
  batch: PackedBatch;
}

/** Reads of a key that kept colliding with compaction before the task gives up (the batch is then retried). */
const BUSY_RETRIES = 64;
const BUSY_SLEEP_MS = 1;

/** Hashes one batch; `get` reads a key's clock (undefined: the key is gone). */
export function computeHashBatch(get: (keyId: string) => StoredClock | undefined, batch: PackedBatch): HashBatchResult {
  const keys = batch.digests.length;
  const digests = batch.digests.slice();
  const flags = new Uint8Array(keys);
  const cursor = new KeyCursor(batch);
  for (let i = 0; i < keys; i++) {
    if (batch.pending[i] === 0) continue;
    const clock = get(cursor.key(i));
    if (clock === undefined) {
      flags[i] = FLAG_MISSING;
      continue;
    }
    digests[i] = versionDigest(clock);
    if (isTombstone(clock)) flags[i] = FLAG_TOMBSTONE;
  }
  // a missing key hashes as absent: drop it from its segment by hashing with the others only
  const hashes = new Uint32Array(2 * batch.segmentEnds.length);
  if (flags.includes(FLAG_MISSING)) hashSegmentsPacked(withoutMissing(batch, digests, flags), hashes);
  else hashSegmentsPacked({ ...batch, digests }, hashes);
  return { hashes, digests, flags };
}

function withoutMissing(b: PackedBatch, digests: Uint32Array, flags: Uint8Array): Parameters<typeof hashSegmentsPacked>[0] {
  const cursor = new KeyCursor(b);
  const bytes: number[] = [];
  const keyEnds: number[] = [];
  const kept: number[] = [];
  const segmentEnds = new Uint32Array(b.segmentEnds.length);
  let key = 0;
  for (let s = 0; s < b.segmentEnds.length; s++) {
    for (; key < b.segmentEnds[s]; key++) {
      if (flags[key] === FLAG_MISSING) continue;
      for (const ch of cursor.key(key)) bytes.push(ch.charCodeAt(0));
      keyEnds.push(bytes.length);
      kept.push(digests[key]);
    }
    segmentEnds[s] = kept.length;
  }
  return { keyBytes: Uint8Array.from(bytes), keyEnds: Uint32Array.from(keyEnds), segmentEnds, digests: Uint32Array.from(kept) };
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A reader's get that waits out compactions (a pool thread may block; the replica thread never does). */
function readerGet(store: SharedStore): (keyId: string) => StoredClock | undefined {
  return (keyId) => {
    for (let attempt = 0; attempt < BUSY_RETRIES; attempt++) {
      const c = store.get(keyId);
      if (c !== BUSY) return c;
      sleepMs(BUSY_SLEEP_MS);
    }
    throw new OverloadedError(`store stayed busy (compacting) for ${BUSY_RETRIES} reads of one key; retry the batch`);
  };
}

/** The piscina task. */
export default function hashTask(task: HashTask): HashBatchResult {
  const get = task.store === null ? () => undefined : readerGet(SharedStore.attach(task.store, 'reader'));
  return computeHashBatch(get, task.batch);
}
