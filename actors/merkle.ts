// Merkle tree over key-space segments, in the manner of riak_core's hashtree.erl: writes mark, rehash is batched.
//
// Data layout:
//   The 32-bit key space is cut into `segments` equal ranges (a power of two); a key's segment is the top
//   log2(segments) bits of hash32(keyId), so a contiguous ring range maps to a contiguous run of segments.
//   Every node hash is 64 bits, stored as two uint32 words [hi, lo] in one Uint32Array per level:
//     levels[0] is the root (1 node), levels[leafDepth] holds the segment (leaf) hashes;
//     node (d, i) has children (d + 1, i * fanout ... i * fanout + fanout - 1), clipped to the level size.
//   A segment hash is an order-free sum of per-key hashes of (keyId, versionDigest), so it does not depend on the
//   order keys were written in nor on the fanout; an empty segment hashes to 0n. Inner hashes are an ordered hash
//   of their children, so two trees are comparable only when they have the same `segments` and `fanout`.
//   Per segment a state byte: CLEAN, DIRTY (queued), TAKEN (handed out for hashing), TAKEN_DIRTY (handed out and
//   written to again, so queued again). A FIFO ring of segment numbers holds exactly the DIRTY / TAKEN_DIRTY ones.
//
// How to use it:
//   on every write         tree.markDirty(keyId)                              O(1), no hashing
//   before an exchange     tree.rehash(seg => store.itemsOf(seg))             synchronous, or in batches:
//                          const batch = tree.dirtySegments(256)              hand them to a worker pool, then
//                          tree.applySegmentHashes([[seg, hash], ...])        or tree.returnSegments(batch) on failure
//   exchange               tree.root() / tree.node(d, i) / tree.children(d, i) between replicas, or
//                          diffSegments(a, b) in one process, then diffKeys(itemsA, itemsB) per differing segment.
//   A hash handed out by dirtySegments and written to again before applySegmentHashes stays dirty, so a write racing
//   a worker-pool rehash is never lost; `isSettled()` says whether every hash is current.

import { InvalidArgumentError, InvalidConfigError } from './errors.js';
import { hash32, keyId as toKeyId, murmurFinal, murmurMix } from './hash.js';

/** A 64-bit node or segment hash. */
export type Hash64 = bigint;

/** One key of a segment as the hasher sees it: its key id and a 32-bit digest of its version (see digest32). */
export type SegmentItem = readonly [keyId: string, versionDigest: number];

/** Hashes the items of one segment. Must be independent of item order: the runtime may run it on a worker pool. */
export type SegmentHasher = (items: Iterable<SegmentItem>) => Hash64;

export interface MerkleConfig {
  /** number of key-space segments (leaves): a power of two, 1 .. 2^20; default 1024 */
  segments?: number;
  /** children per inner node: a power of two, 2 .. 256; default 16 */
  fanout?: number;
  /** most segments one dirtySegments() call hands out when no limit is given; default 256 */
  maxRehashBatch?: number;
}

export const DEFAULT_SEGMENTS = 1024;
export const DEFAULT_FANOUT = 16;
export const DEFAULT_MAX_REHASH_BATCH = 256;
const MAX_SEGMENTS = 1 << 20;
const MAX_FANOUT = 256;

// Seeds of the two independent 32-bit lanes that make a 64-bit hash.
const SEED_A = 0x5bd1e995;
const SEED_B = 0x1b873593;

const CLEAN = 0;
const DIRTY = 1;
const TAKEN = 2;
const TAKEN_DIRTY = 3;

/** A 32-bit digest of a version's bytes (a string is taken as its UTF-8 bytes). Use it as the versionDigest. */
export function digest32(data: string | Uint8Array, seed = 0): number {
  return hash32(toKeyId(data), seed);
}

/** The segment of a key id in a tree of `segments` segments: the top bits of hash32(keyId). */
export function segmentOf(keyId: string, segments: number): number {
  // Multiplying keeps this exact for segments = 1 too, where a shift by 32 would be a shift by 0 in JS.
  return Math.floor((hash32(keyId) * segments) / 0x1_0000_0000);
}

/**
 * The default segment hasher: the sum mod 2^32, per lane, of two independently seeded MurmurHash3 values of each
 * (keyId, versionDigest). A sum does not depend on order, and an empty segment sums to 0n.
 */
export const defaultSegmentHasher: SegmentHasher = (items) => {
  let a = 0;
  let b = 0;
  for (const [id, digest] of items) {
    a = (a + hash32(id, (digest ^ SEED_A) >>> 0)) >>> 0;
    b = (b + hash32(id, (Math.imul(digest, 0x85ebca6b) ^ SEED_B) >>> 0)) >>> 0;
  }
  return toHash64(a, b);
};

function toHash64(hi: number, lo: number): Hash64 {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function assertHash64(h: unknown, what: string): asserts h is bigint {
  if (typeof h !== 'bigint' || h < 0n || h > 0xffff_ffff_ffff_ffffn) {
    throw new InvalidArgumentError(`${what} must be a bigint in 0 .. 2^64-1; got ${String(h)}`);
  }
}

// The inner-node hash runs MurmurHash3's block step over its children's words (actors/hash.ts).
const mixWord = murmurMix;
const finalMix = (h: number, lengthBytes: number): number => murmurFinal(h ^ lengthBytes);

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
}

function validateConfig(segments: number, fanout: number, maxRehashBatch: number): void {
  if (!isPowerOfTwo(segments) || segments > MAX_SEGMENTS) {
    throw new InvalidConfigError(`merkle segments must be a power of two from 1 to ${MAX_SEGMENTS}; got ${segments}`);
  }
  if (!isPowerOfTwo(fanout) || fanout < 2 || fanout > MAX_FANOUT) {
    throw new InvalidConfigError(`merkle fanout must be a power of two from 2 to ${MAX_FANOUT}; got ${fanout}`);
  }
  if (!Number.isInteger(maxRehashBatch) || maxRehashBatch < 1) {
    throw new InvalidConfigError(`merkle maxRehashBatch must be a positive integer; got ${maxRehashBatch}`);
  }
}

export class MerkleTree {
  readonly segments: number;
  readonly fanout: number;
  /** depth of the leaves; the root is depth 0. 0 when there is a single segment. */
  readonly leafDepth: number;
  readonly maxRehashBatch: number;
  // levels[d]: 2 words per node, [hi, lo].
  private readonly levels: Uint32Array[];
  private readonly state: Uint8Array;
  private readonly queue: Int32Array;
  private queueHead = 0;
  private queueLength = 0;
  // segments not CLEAN: dirty, or handed out and not yet applied.
  private unsettled = 0;

  constructor(config: MerkleConfig = {}) {
    this.segments = config.segments ?? DEFAULT_SEGMENTS;
    this.fanout = config.fanout ?? DEFAULT_FANOUT;
    this.maxRehashBatch = config.maxRehashBatch ?? DEFAULT_MAX_REHASH_BATCH;
    validateConfig(this.segments, this.fanout, this.maxRehashBatch);
    const sizes = [this.segments];
    while (sizes[0] > 1) sizes.unshift(Math.ceil(sizes[0] / this.fanout));
    this.leafDepth = sizes.length - 1;
    this.levels = sizes.map((n) => new Uint32Array(2 * n));
    this.state = new Uint8Array(this.segments);
    this.queue = new Int32Array(this.segments);
    // Every segment starts empty (hash 0n); inner nodes must still be the hash of their (zero) children.
    for (let d = this.leafDepth - 1; d >= 0; d--) {
      for (let i = 0; i < sizes[d]; i++) this.recomputeNode(d, i);
    }
  }

  /** Number of nodes at a depth (1 at the root, `segments` at leafDepth). */
  levelSize(depth: number): number {
    this.assertDepth(depth);
    return this.levels[depth].length / 2;
  }

  segmentOf(keyId: string): number {
    return segmentOf(keyId, this.segments);
  }

  /** Marks the segment of a written key as needing a rehash. O(1). */
  markDirty(keyId: string): void {
    this.markSegmentDirty(this.segmentOf(keyId));
  }

  markSegmentDirty(segment: number): void {
    this.assertSegment(segment);
    const s = this.state[segment];
    if (s === DIRTY || s === TAKEN_DIRTY) return;
    if (s === CLEAN) this.unsettled++;
    this.state[segment] = s === CLEAN ? DIRTY : TAKEN_DIRTY;
    this.enqueue(segment);
  }

  /** Marks every segment dirty: after a restart, when the tree is rebuilt from the store. */
  markAllDirty(): void {
    for (let s = 0; s < this.segments; s++) this.markSegmentDirty(s);
  }

  /** Segments queued for a rehash (not counting those handed out and not yet applied). */
  dirtyCount(): number {
    return this.queueLength;
  }

  /** True when no segment is dirty or handed out: every hash is current and the tree may be compared. */
  isSettled(): boolean {
    return this.unsettled === 0;
  }

  /**
   * Hands out up to `limit` dirty segments, oldest mark first, for hashing. The caller now owns them: it must give
   * their hashes to applySegmentHashes, or give them back with returnSegments.
   */
  dirtySegments(limit: number = this.maxRehashBatch): number[] {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new InvalidArgumentError(`dirtySegments limit must be a positive integer; got ${limit}`);
    }
    const out: number[] = [];
    while (out.length < limit && this.queueLength > 0) {
      const segment = this.dequeue();
      this.state[segment] = TAKEN;
      out.push(segment);
    }
    return out;
  }

  /** Gives back segments handed out by dirtySegments whose hashing failed: they are dirty again. */
  returnSegments(segments: readonly number[]): void {
    for (const segment of segments) {
      this.assertTaken(segment);
      if (this.state[segment] === TAKEN) {
        this.state[segment] = DIRTY;
        this.enqueue(segment);
      } else this.state[segment] = DIRTY; // TAKEN_DIRTY is already queued
    }
  }

  /**
   * Stores the hashes of segments handed out by dirtySegments, then recomputes their ancestors at once
   * (O(updates * depth * fanout)). A segment written to since it was handed out stays dirty.
   */
  applySegmentHashes(updates: ReadonlyArray<readonly [segment: number, hash: Hash64]>): void {
    const leaves = this.levels[this.leafDepth];
    let parents = new Set<number>();
    for (const [segment, hash] of updates) {
      this.assertTaken(segment);
      assertHash64(hash, `hash of segment ${segment}`);
      leaves[2 * segment] = Number(hash >> 32n);
      leaves[2 * segment + 1] = Number(hash & 0xffff_ffffn);
      if (this.state[segment] === TAKEN) {
        this.state[segment] = CLEAN;
        this.unsettled--;
      } else this.state[segment] = DIRTY;
      parents.add(Math.floor(segment / this.fanout));
    }
    for (let d = this.leafDepth - 1; d >= 0; d--) {
      const next = new Set<number>();
      for (const i of parents) {
        this.recomputeNode(d, i);
        next.add(Math.floor(i / this.fanout));
      }
      parents = next;
    }
  }

  /**
   * The synchronous full path: rehashes every dirty segment, in batches of maxRehashBatch, reading each segment's
   * items from `items`. Returns the number of segments hashed.
   */
  rehash(items: (segment: number) => Iterable<SegmentItem>, hashSegment: SegmentHasher = defaultSegmentHasher): number {
    let hashed = 0;
    // Bounded: each pass drains the queue as it stood, and a segment is queued at most once.
    for (let pass = 0; pass <= this.segments && this.queueLength > 0; pass++) {
      const batch = this.dirtySegments();
      this.applySegmentHashes(batch.map((s) => [s, hashSegment(items(s))] as const));
      hashed += batch.length;
    }
    return hashed;
  }

  root(): Hash64 {
    return this.node(0, 0);
  }

  node(depth: number, index: number): Hash64 {
    this.assertNode(depth, index);
    const level = this.levels[depth];
    return toHash64(level[2 * index], level[2 * index + 1]);
  }

  /** The hashes of the children of an inner node, in order (fewer than fanout at a clipped edge). */
  children(depth: number, index: number): Hash64[] {
    this.assertNode(depth, index);
    if (depth === this.leafDepth) {
      throw new InvalidArgumentError(`node (${depth}, ${index}) is a leaf (segment); leaves have no children`);
    }
    const out: Hash64[] = [];
    const [first, end] = this.childRange(depth, index);
    for (let c = first; c < end; c++) out.push(this.node(depth + 1, c));
    return out;
  }

  /** Index range [first, end) of the children of node (depth, index) at depth + 1. */
  childRange(depth: number, index: number): [first: number, end: number] {
    const first = index * this.fanout;
    return [first, Math.min(first + this.fanout, this.levels[depth + 1].length / 2)];
  }

  /** True when node (depth, index) has the same hash in both trees; no bigint is made. */
  sameNode(other: MerkleTree, depth: number, index: number): boolean {
    const a = this.levels[depth];
    const b = other.levels[depth];
    return a[2 * index] === b[2 * index] && a[2 * index + 1] === b[2 * index + 1];
  }

  private recomputeNode(depth: number, index: number): void {
    const child = this.levels[depth + 1];
    const [first, end] = this.childRange(depth, index);
    let a = SEED_A;
    let b = SEED_B;
    for (let c = first; c < end; c++) {
      a = mixWord(mixWord(a, child[2 * c]), child[2 * c + 1]);
      b = mixWord(mixWord(b, child[2 * c + 1]), child[2 * c]);
    }
    const level = this.levels[depth];
    level[2 * index] = finalMix(a, 8 * (end - first));
    level[2 * index + 1] = finalMix(b, 8 * (end - first));
  }

  private enqueue(segment: number): void {
    // Cannot overflow: only DIRTY / TAKEN_DIRTY segments are queued, each once.
    this.queue[(this.queueHead + this.queueLength) % this.segments] = segment;
    this.queueLength++;
  }

  private dequeue(): number {
    const segment = this.queue[this.queueHead];
    this.queueHead = (this.queueHead + 1) % this.segments;
    this.queueLength--;
    return segment;
  }

  private assertSegment(segment: number): void {
    if (!Number.isInteger(segment) || segment < 0 || segment >= this.segments) {
      throw new InvalidArgumentError(`segment must be an integer in 0 .. ${this.segments - 1}; got ${segment}`);
    }
  }

  private assertTaken(segment: number): void {
    this.assertSegment(segment);
    const s = this.state[segment];
    if (s !== TAKEN && s !== TAKEN_DIRTY) {
      throw new InvalidArgumentError(
        `segment ${segment} was not handed out by dirtySegments() (or was already applied); ` +
          `only hashes of handed-out segments can be applied or returned`,
      );
    }
  }

  private assertDepth(depth: number): void {
    if (!Number.isInteger(depth) || depth < 0 || depth > this.leafDepth) {
      throw new InvalidArgumentError(`depth must be an integer in 0 .. ${this.leafDepth}; got ${depth}`);
    }
  }

  private assertNode(depth: number, index: number): void {
    this.assertDepth(depth);
    const size = this.levels[depth].length / 2;
    if (!Number.isInteger(index) || index < 0 || index >= size) {
      throw new InvalidArgumentError(`index at depth ${depth} must be an integer in 0 .. ${size - 1}; got ${index}`);
    }
  }
}

export interface SegmentDiff {
  /** segments whose hashes differ, ascending */
  segments: number[];
  /** node pairs compared, the root included: at most 1 + differing segments * leafDepth * fanout */
  nodesCompared: number;
}

/** The segments whose hashes differ, found by descending only into differing nodes. Both trees must be settled. */
export function diffSegments(a: MerkleTree, b: MerkleTree): SegmentDiff {
  if (a.segments !== b.segments || a.fanout !== b.fanout) {
    throw new InvalidArgumentError(
      `cannot diff trees of different shapes: ${a.segments} segments / fanout ${a.fanout} ` +
        `vs ${b.segments} segments / fanout ${b.fanout}; both replicas must use the same merkle config`,
    );
  }
  if (!a.isSettled() || !b.isSettled()) {
    throw new InvalidArgumentError('cannot diff a tree with dirty or handed-out segments; rehash both trees first');
  }
  let nodesCompared = 1;
  if (a.sameNode(b, 0, 0)) return { segments: [], nodesCompared };
  let frontier = [0];
  for (let d = 0; d < a.leafDepth; d++) {
    const next: number[] = [];
    for (const i of frontier) {
      const [first, end] = a.childRange(d, i);
      for (let c = first; c < end; c++) {
        nodesCompared++;
        if (!a.sameNode(b, d + 1, c)) next.push(c);
      }
    }
    frontier = next;
  }
  return { segments: frontier, nodesCompared };
}

export interface KeyDiff {
  /** keys only in A, ascending */
  onlyA: string[];
  /** keys only in B, ascending */
  onlyB: string[];
  /** keys in both with different version digests, ascending */
  differ: string[];
}

/** Compares the items of one segment on two replicas. A key listed twice on one side is an error. */
export function diffKeys(aItems: Iterable<SegmentItem>, bItems: Iterable<SegmentItem>): KeyDiff {
  const a = toDigestMap(aItems, 'A');
  const onlyB: string[] = [];
  const differ: string[] = [];
  const seenB = new Set<string>();
  for (const [id, digest] of bItems) {
    if (seenB.has(id)) throw new InvalidArgumentError(`key ${JSON.stringify(id)} is listed twice in side B`);
    seenB.add(id);
    const mine = a.get(id);
    if (mine === undefined) onlyB.push(id);
    else if (mine !== digest) differ.push(id);
  }
  const onlyA = [...a.keys()].filter((id) => !seenB.has(id));
  return { onlyA: onlyA.sort(), onlyB: onlyB.sort(), differ: differ.sort() };
}

function toDigestMap(items: Iterable<SegmentItem>, side: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const [id, digest] of items) {
    if (m.has(id)) throw new InvalidArgumentError(`key ${JSON.stringify(id)} is listed twice in side ${side}`);
    m.set(id, digest);
  }
  return m;
}
