// Rebuilding the trees after a restart (or a wiped store): reset, index every stored key with a pending digest, then
// either rehash on the spot (rehashAll, or the exchange does it) or in batches on a hashing pool: takeHashBatch ->
// the pool -> applyHashBatch (returnHashBatch when it failed). While a rebuild runs, exchanges are refused.

import { InvalidArgumentError } from '../errors.js';
import { hash32 } from '../hash.js';
import type { AeContext } from './config.js';
import { PENDING_DIGEST } from './digest.js';
import { FLAG_MISSING, FLAG_TOMBSTONE, packBatch, type HashBatch, type HashBatchResult } from './hash-batch.js';
import type { Ranges } from './ranges.js';

export class Rebuild {
  /** segments handed out to a pool and not yet applied or returned: exchanges over incomplete trees are refused */
  private hashing = 0;
  /** bumped by reset(): a batch taken before is ignored */
  private generation = 0;
  /** set by the runtime while a rebuild indexes the store */
  private rebuilding = false;

  constructor(
    private readonly ctx: AeContext,
    private readonly ranges: Ranges,
  ) {}

  /** Whether the trees are incomplete now (a rebuild indexing, or batches out on a pool). */
  busy(): boolean {
    return this.rebuilding || this.hashing > 0;
  }

  /** Every batch handed out before is forgotten (the ranges were reset). */
  reset(): void {
    this.hashing = 0;
    this.generation++;
  }

  setRebuilding(on: boolean): void {
    this.rebuilding = on;
  }

  /** A stored key whose version is not read yet (its digest comes from the hasher or a later read). */
  index(keyId: string): void {
    const h = hash32(keyId);
    const r = this.ranges.rangeOfHash(h);
    if (r !== null) this.ranges.track(r, keyId, this.ranges.segmentOfHash(h), PENDING_DIGEST);
  }

  dirtySegments(): number {
    let n = 0;
    for (const r of this.ranges.all()) n += r.tree.dirtyCount();
    return n;
  }

  takeHashBatch(maxSegments: number): HashBatch | null {
    if (!Number.isInteger(maxSegments) || maxSegments < 1) {
      throw new InvalidArgumentError(`takeHashBatch maxSegments must be a positive integer; got ${maxSegments}`);
    }
    for (const r of this.ranges.all()) {
      if (r.tree.dirtyCount() === 0) continue;
      const segments = r.tree.dirtySegments(maxSegments);
      this.hashing++;
      return packBatch(r, segments, this.generation);
    }
    return null;
  }

  applyHashBatch(batch: HashBatch, result: HashBatchResult): void {
    if (batch.generation !== this.generation) return; // taken before a reset: the new trees never handed it out
    const r = this.ranges.get(batch.range);
    this.hashing--;
    if (r === undefined || result.hashes.length !== 2 * batch.segments.length) {
      throw new InvalidArgumentError(`hash batch for range ${batch.range} does not match what takeHashBatch handed out`);
    }
    let key = 0;
    for (let s = 0; s < batch.segments.length; s++) {
      const map = r.keys[batch.segments[s]];
      for (; key < batch.segmentEnds[s]; key++) {
        const id = batch.ids[key];
        if (batch.pending[key] === 0 || map === undefined || map.get(id) !== PENDING_DIGEST) continue;
        if (result.flags[key] & FLAG_MISSING) this.ranges.untrack(r, id, batch.segments[s]);
        else {
          map.set(id, result.digests[key]);
          if (result.flags[key] & FLAG_TOMBSTONE) r.noteTombstone(id, result.digests[key]);
        }
      }
    }
    r.tree.applySegmentHashes(
      batch.segments.map((seg, i) => [seg, (BigInt(result.hashes[2 * i]) << 32n) | BigInt(result.hashes[2 * i + 1])] as const),
    );
    this.ctx.counters.segmentsRehashed += batch.segments.length;
  }

  returnHashBatch(batch: HashBatch): void {
    const r = this.ranges.get(batch.range);
    if (r === undefined || batch.generation !== this.generation) return;
    this.hashing--;
    r.tree.returnSegments(batch.segments);
  }

  rehashAll(): boolean {
    let settled = true;
    for (const r of this.ranges.all()) if (!this.ranges.settle(r)) settled = false;
    return settled;
  }
}
