// Per-range state: for each replica set this node belongs to, a Merkle tree over the key space's segments kept
// current by writes, the keys of each segment with their version digests (so that a rehash never scans the store),
// the tombstones seen and which peers confirmed them, and when each peer last completed an exchange.

import { hash32 } from '../hash.js';
import { MerkleTree, type SegmentItem } from '../merkle.js';
import type { StoredClock } from '../protocol.js';
import type { AeContext } from './config.js';
import { isTombstone, PENDING_DIGEST, rangeId, versionDigest } from './digest.js';

export interface Tomb {
  digest: number;
  confirmed: Set<number>;
  /** when the last peer confirmed (every peer has); -1 while some have not */
  allMs: number;
}

export class RangeState {
  readonly tree: MerkleTree;
  /** keys[segment]: keyId -> version digest (PENDING_DIGEST until a rebuild reads it) */
  readonly keys: Array<Map<string, number> | undefined>;
  readonly tombs = new Map<string, Tomb>();
  /** peer -> when the last exchange with that peer over this range completed */
  readonly doneMs = new Map<number, number>();
  keyCount = 0;
  constructor(
    readonly id: string,
    readonly members: readonly number[],
    readonly peers: readonly number[],
    segments: number,
    fanout: number,
  ) {
    this.tree = new MerkleTree({ segments, fanout });
    this.keys = new Array<Map<string, number> | undefined>(segments);
  }

  /** A new tombstone (or one with a new digest) starts unconfirmed; the same one keeps its confirmations. */
  noteTombstone(keyId: string, digest: number): void {
    const t = this.tombs.get(keyId);
    if (t !== undefined && t.digest === digest) return;
    this.tombs.set(keyId, { digest, confirmed: new Set(), allMs: -1 });
  }

  /** A tombstone every replica of the range is known to hold: never sent by anti-entropy (see anti-entropy.ts). */
  settledTomb(keyId: string): boolean {
    const t = this.tombs.get(keyId);
    return t !== undefined && t.allMs >= 0;
  }
}

/** The ranges of one node, and the key bookkeeping every other part goes through. */
export class Ranges {
  private readonly byId = new Map<string, RangeState>();
  /** range of a preference-list array (the ring interns them, so identity is a cheap cache key) */
  private readonly byList = new Map<readonly number[], RangeState | null>();

  constructor(
    private readonly ctx: AeContext,
    lists: ReadonlyArray<readonly number[]>,
    private readonly placement: (keyHash: number) => readonly number[],
  ) {
    for (const list of lists) {
      const members = [...list].sort((a, b) => a - b);
      if (!members.includes(ctx.node)) continue;
      const id = members.join(',');
      if (this.byId.has(id)) continue;
      const peers = members.filter((n) => n !== ctx.node);
      this.byId.set(id, new RangeState(id, members, peers, ctx.config.segments, ctx.config.fanout));
    }
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  all(): IterableIterator<RangeState> {
    return this.byId.values();
  }

  get(id: string): RangeState | undefined {
    return this.byId.get(id);
  }

  /** Forgets every tree, key map and confirmation (the ranges themselves stay). */
  reset(): void {
    for (const [id, r] of this.byId) {
      this.byId.set(id, new RangeState(id, r.members, r.peers, this.ctx.config.segments, this.ctx.config.fanout));
    }
    this.byList.clear();
  }

  /** segmentOf (merkle.ts) from a key's hash32, so that a write hashes its key once */
  segmentOfHash(h: number): number {
    return Math.floor((h * this.ctx.config.segments) / 0x1_0000_0000);
  }

  /** The range of a key by its hash32, or null (counted) when its preference list does not name this node. */
  rangeOfHash(h: number): RangeState | null {
    const list = this.placement(h);
    let r = this.byList.get(list);
    if (r === undefined) {
      r = this.byId.get(rangeId(list)) ?? null;
      this.byList.set(list, r);
    }
    if (r === null) this.ctx.counters.foreignKeys++;
    return r;
  }

  /** The write hook: the key's digest is recomputed and its segment marked dirty. O(clock size). */
  onWrite(keyId: string, clock: StoredClock): void {
    const h = hash32(keyId);
    const r = this.rangeOfHash(h);
    if (r === null) return;
    const digest = versionDigest(clock);
    this.track(r, keyId, this.segmentOfHash(h), digest);
    if (isTombstone(clock)) r.noteTombstone(keyId, digest);
    else r.tombs.delete(keyId);
  }

  track(r: RangeState, keyId: string, seg: number, digest: number): void {
    let map = r.keys[seg];
    if (map === undefined) r.keys[seg] = map = new Map();
    if (!map.has(keyId)) r.keyCount++;
    map.set(keyId, digest);
    r.tree.markSegmentDirty(seg);
  }

  untrack(r: RangeState, keyId: string, seg: number): void {
    const map = r.keys[seg];
    if (map !== undefined && map.delete(keyId)) {
      r.keyCount--;
      if (map.size === 0) r.keys[seg] = undefined;
    }
    r.tombs.delete(keyId);
    r.tree.markSegmentDirty(seg);
  }

  /** Items of one segment for hashing or listing; pending digests are read from the store (a missing key dropped). */
  items(r: RangeState, seg: number): SegmentItem[] {
    const map = r.keys[seg];
    if (map === undefined) return [];
    const out: SegmentItem[] = [];
    for (const [id, d] of map) {
      if (d !== PENDING_DIGEST) {
        out.push([id, d]);
        continue;
      }
      const clock = this.ctx.host.get(id);
      if (clock === undefined) {
        map.delete(id);
        r.keyCount--;
        continue;
      }
      const digest = versionDigest(clock);
      map.set(id, digest);
      if (isTombstone(clock)) r.noteTombstone(id, digest);
      out.push([id, digest]);
    }
    return out;
  }

  /** Rehashes a range's dirty segments; true when its tree is settled (no segment handed out to a pool). */
  settle(r: RangeState): boolean {
    const hashed = r.tree.rehash((seg) => this.items(r, seg));
    this.ctx.counters.segmentsRehashed += hashed;
    return r.tree.isSettled();
  }
}
