// Anti-entropy: per-range Merkle trees kept current by writes, and the exchange that compares two replicas' trees
// and syncs only the keys that differ (Riak's riak_kv_index_hashtree + riak_core's hashtree exchange, as messages).
//
// Data layout (one AntiEntropy per replica, pure: time comes in as nowMs, effects go out as Sends):
//   ranges      one RangeState per replica set this node belongs to (a "range": the sorted primaries of a key's
//               preference list, id "0,2,3"), made at construction from the ring's ranges. Two replicas compare
//               only ranges both belong to, so they compare only keys both should hold.
//   RangeState  tree: a MerkleTree (actors/merkle.ts) over `segments` segments of the key space;
//               keys[segment]: Map keyId -> version digest (PENDING_DIGEST until a rebuild computes it), so that a
//               rehash of a segment reads these maps and never scans the store;
//               tombs: keyId -> { digest, peers confirmed to hold the same tombstone, when all had };
//               doneMs: peer -> when the last exchange with that peer over this range completed.
//   exchanges   the exchanges this node initiated, by req (bounded by maxExchangesInFlight); a backlog of (range,
//               peer) pairs waiting for a slot (bounded: at most one entry per pair and round); rounds in progress.
//
// How to use it (the replica does this; see actors/replica.ts):
//   every store write        ae.onWrite(keyId, clock)     O(1): digest, map update, markDirty
//   every ae-* message       ae.handle(msg, nowMs, out)
//   every tick               ae.tick(nowMs, down, out)    timeouts, tombstone reaping, periodic exchanges
//   one repair round         id = ae.startRound(nowMs, down, out); ... ae.roundResult(id) once done
//   rebuild after a restart  ae.reset(); ae.index(keyId) per stored key; then either rehash on the spot (the
//                            exchange does it) or in batches: takeHashBatch -> a worker pool -> applyHashBatch.
//
// An exchange (the initiator drives it, the peer keeps no state): both sides rehash their dirty segments; the
// initiator asks for the peer's node hashes level by level, descending only below nodes that differ; for differing
// segments it asks for the peer's (keyId, digest) lists and diffs them with its own; keys only on one side or with
// different digests are synced both ways with DVV sync (never overwritten); last, tombstones are confirmed.
//
// Tombstones: a key whose clock holds only nulls. It is reaped (deleted from the store) once every other replica of
// its range has been seen holding the same tombstone (same digest) and tombstoneGraceMs has passed since. A fully
// confirmed tombstone is never sent by anti-entropy: a peer that confirmed it and now lacks the key has reaped it,
// so sending it back would only undo the reap. Clocks only grow, so a confirmed peer can never again hold a value
// the delete superseded: the deleted key cannot come back through anti-entropy. It could through a hint: hints are
// never dropped by a timer (an acknowledged write may live only there), so a hint for the key may be delivered any
// time later. Hence a due reap first asks every other node (ae-hints) whether it holds a hint for the key, and
// reaps only when none does (this node included) and every one answered; a node that is down, does not answer in
// exchangeTimeoutMs or holds a hint puts the reap back by tombstoneGraceMs. Only garbage collection waits.

import { InvalidArgumentError, InvalidConfigError } from './errors.js';
import { hash32, murmurFinal, murmurMix } from './hash.js';
import { diffKeys, MerkleTree, segmentOf, type SegmentItem } from './merkle.js';
import type { AeMessage, AeKeysReply, AeTreeReply, Address, Send, StoredClock } from './protocol.js';
import type { Ring } from './ring.js';
import { encodedClockSize } from './versioning/codec.js';

/** Digest of a key indexed by a rebuild whose version has not been read yet. */
export const PENDING_DIGEST = -1;

export interface AntiEntropyConfig {
  /** segments per range tree: a power of two, 1 .. 2^20 */
  segments: number;
  /** children per inner node: a power of two, 2 .. 256 */
  fanout: number;
  /** periodic exchanges: one (range, peer) pair is started every intervalMs; 0 turns them off */
  intervalMs: number;
  /** a tombstone confirmed on every replica is reaped this long after the last confirmation */
  tombstoneGraceMs: number;
  /** an exchange waiting longer than this for a reply fails */
  exchangeTimeoutMs: number;
  /** most keys (listed, synced or wanted) in one message */
  maxKeysPerMessage: number;
  /** most node hashes asked for in one ae-tree */
  maxNodesPerMessage: number;
  /** most segments listed per ae-keys */
  maxSegmentsPerRequest: number;
  /** exchanges this node initiates at once */
  maxExchangesInFlight: number;
  /** most tombstones reaped per tick */
  maxReapsPerTick: number;
}

export const DEFAULT_ANTI_ENTROPY: AntiEntropyConfig = {
  segments: 1024,
  fanout: 16,
  intervalMs: 0,
  tombstoneGraceMs: 3 * 3600_000,
  exchangeTimeoutMs: 5000,
  maxKeysPerMessage: 1024,
  maxNodesPerMessage: 4096,
  maxSegmentsPerRequest: 64,
  maxExchangesInFlight: 4,
  maxReapsPerTick: 1024,
};

/** What anti-entropy needs of its replica: reads, reaping, and the replica's own merge (DVV sync + store write). */
export interface AntiEntropyHost {
  get(keyId: string): StoredClock | undefined;
  /** deletes a reaped tombstone; false when the store cannot delete (or the reap must not happen now) */
  delete(keyId: string): boolean;
  /** whether this node holds a hint for the key (for any owner): its tombstone must not be reaped anywhere yet */
  hinted(keyId: string): boolean;
  /** merges a clock from a peer into the local copy; false when the store refused the write */
  merge(keyId: string, clock: StoredClock): boolean;
}

export interface AntiEntropyOptions {
  node: Address;
  /** every replica set of the ring (see rangesOf); ranges not naming `node` are ignored */
  ranges: ReadonlyArray<readonly number[]>;
  /** the preference list (primaries) of a key, by its hash32 (ring.preferenceList) */
  placement: (keyHash: number) => readonly number[];
  config: AntiEntropyConfig;
}

export interface AeCounters {
  exchangesStarted: number;
  exchangesCompleted: number;
  exchangesFailed: number;
  /** exchanges not started because the peer was down */
  exchangesSkipped: number;
  /** exchanges this node served as the peer (counted when their last step, ae-tombs, arrived) */
  exchangesServed: number;
  nodesCompared: number;
  segmentsCompared: number;
  segmentsExchanged: number;
  /** clocks sent or received in exchanges this node initiated */
  keysSent: number;
  /** clocks received from peers and merged here (as initiator or peer) */
  keysRepaired: number;
  /** estimated wire bytes of exchanges this node initiated, both directions */
  bytesMoved: number;
  tombstonesConfirmed: number;
  tombstonesReaped: number;
  /** due reaps put back: a node held a hint for the key, was down or did not answer ae-hints, or the delete was refused */
  reapsDeferred: number;
  segmentsRehashed: number;
  /** keys whose preference list does not name this node (they are not tracked) */
  foreignKeys: number;
}

export interface RoundResult {
  /** exchanges completed */
  exchanges: number;
  failed: number;
  skipped: number;
  /** distinct ranges with at least one completed exchange, and their ids */
  ranges: number;
  rangeIds: string[];
  nodesCompared: number;
  /** leaf (segment) hashes compared */
  segmentsCompared: number;
  /** segments whose key lists were exchanged because their hashes differed */
  segmentsExchanged: number;
  keysSent: number;
  bytesMoved: number;
}

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

const MAX_SEGMENTS = 1 << 20;
const SEED_A = 0x5bd1e995; // must equal merkle.ts's lanes: a test checks hashSegmentsPacked against it
const SEED_B = 0x1b873593;
/** estimated bytes of a message header (type, req, from, range) */
const HEADER_BYTES = 16;

// ---------------------------------------------------------------------------------------------------------------
// Pure helpers

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

const mix = murmurMix;
const finalMix = murmurFinal;

/**
 * The version digest of a key: a 32-bit hash of its causal history (each entry's id, counter and live value count)
 * and its anonymous value count. Equal clocks give equal digests; values are not read (a dot names one value).
 */
export function versionDigest(c: StoredClock): number {
  let h = 0x2f0d_1e5e;
  for (const e of c.entries) {
    h = mix(h, hash32(e.id));
    h = mix(h, e.n >>> 0);
    h = mix(h, Math.floor(e.n / 0x1_0000_0000));
    h = mix(h, e.values.length);
  }
  h = mix(h, c.anonymous.length);
  return finalMix(h ^ c.entries.length);
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

/** MurmurHash3 x86_32 over bytes[start, end): equal to hash32(keyId, seed) for the key id of those bytes. */
export function hash32Bytes(bytes: Uint8Array, start: number, end: number, seed: number): number {
  let h = seed >>> 0;
  const blocks = start + ((end - start) & ~3);
  for (let i = start; i < blocks; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = (end - start) & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= bytes[blocks + 2] << 16;
    if (rest >= 2) k ^= bytes[blocks + 1] << 8;
    k ^= bytes[blocks];
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  return finalMix(h ^ (end - start));
}

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

export function validateAntiEntropyConfig(c: AntiEntropyConfig): void {
  const pow2 = (n: number): boolean => Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
  if (!pow2(c.segments) || c.segments > MAX_SEGMENTS) {
    throw new InvalidConfigError(`antiEntropy.segments must be a power of two from 1 to ${MAX_SEGMENTS}; got ${c.segments}`);
  }
  if (!pow2(c.fanout) || c.fanout < 2 || c.fanout > 256) {
    throw new InvalidConfigError(`antiEntropy.fanout must be a power of two from 2 to 256; got ${c.fanout}`);
  }
  const positive: Array<keyof AntiEntropyConfig> = [
    'exchangeTimeoutMs', 'maxKeysPerMessage', 'maxNodesPerMessage', 'maxSegmentsPerRequest', 'maxExchangesInFlight', 'maxReapsPerTick',
  ];
  for (const k of positive) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new InvalidConfigError(`antiEntropy.${k} must be a positive integer; got ${c[k]}`);
  }
  for (const k of ['intervalMs', 'tombstoneGraceMs'] as const) {
    if (!Number.isFinite(c[k]) || c[k] < 0) throw new InvalidConfigError(`antiEntropy.${k} must be a number >= 0; got ${c[k]}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Per-range state

interface Tomb {
  digest: number;
  confirmed: Set<number>;
  /** when the last peer confirmed (every peer has); -1 while some have not */
  allMs: number;
}

class RangeState {
  readonly tree: MerkleTree;
  readonly keys: Array<Map<string, number> | undefined>;
  readonly tombs = new Map<string, Tomb>();
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
}

interface ExchangeStats {
  nodesCompared: number;
  segmentsCompared: number;
  segmentsExchanged: number;
  keysSent: number;
  bytesMoved: number;
}

type Phase = 'tree' | 'keys' | 'sync' | 'tombs';

interface Exchange {
  req: number;
  peer: number;
  range: RangeState;
  round: number;
  phase: Phase;
  deadlineMs: number;
  depth: number;
  /** indices at `depth` still to ask for, and those asked for in the request in flight */
  ask: number[];
  asked: number[];
  /** differing nodes' children at depth + 1 */
  next: number[];
  /** differing segments, and the first one not yet fully listed */
  diff: number[];
  cursor: number;
  after: string | null;
  /** the peer's items of diff[cursor] received so far, when it came in pages */
  carry: SegmentItem[];
  send: string[];
  want: string[];
  tombs: Map<string, number>;
  stats: ExchangeStats;
}

/**
 * Due reaps waiting for every other node to say it holds no hint for their keys. At most maxKeysPerMessage keys per
 * check, and enough checks in flight for maxReapsPerTick keys (no more).
 */
interface HintCheck {
  req: number;
  due: ReapItem[];
  /** nodes that have not answered yet */
  waiting: Set<number>;
  /** keys some node holds a hint for */
  held: Set<string>;
  deadlineMs: number;
}

interface ReapItem {
  key: string;
  range: RangeState;
  dueMs: number;
}

interface Round {
  pending: number;
  ranges: Set<string>;
  result: RoundResult;
}

function emptyRoundResult(): RoundResult {
  return {
    exchanges: 0, failed: 0, skipped: 0, ranges: 0, rangeIds: [], nodesCompared: 0, segmentsCompared: 0, segmentsExchanged: 0, keysSent: 0, bytesMoved: 0,
  };
}

function keysBytes(keys: readonly string[]): number {
  let n = 0;
  for (const k of keys) n += k.length + 1;
  return n;
}

export class AntiEntropy {
  readonly node: Address;
  readonly config: AntiEntropyConfig;
  readonly counters: AeCounters = {
    exchangesStarted: 0, exchangesCompleted: 0, exchangesFailed: 0, exchangesSkipped: 0, exchangesServed: 0, nodesCompared: 0,
    segmentsCompared: 0, segmentsExchanged: 0, keysSent: 0, keysRepaired: 0, bytesMoved: 0, tombstonesConfirmed: 0,
    tombstonesReaped: 0, reapsDeferred: 0, segmentsRehashed: 0, foreignKeys: 0,
  };
  private readonly ranges = new Map<string, RangeState>();
  /** range of a preference-list array (the ring interns them, so identity is a cheap cache key) */
  private readonly byList = new Map<readonly number[], RangeState | null>();
  private readonly placement: (keyHash: number) => readonly number[];
  private readonly exchanges = new Map<number, Exchange>();
  private readonly backlog: Array<{ range: RangeState; peer: number; round: number }> = [];
  private readonly rounds = new Map<number, Round>();
  /** reap candidates in the order they became due (grace is constant, so dueMs ascends) */
  private readonly reapQueue: ReapItem[] = [];
  private readonly checks = new Map<number, HintCheck>();
  /** every node of the ring but this one: each is asked about hints before a reap */
  private readonly others: readonly number[];
  /** (range, peer) pairs for periodic exchanges, and the next one to start */
  private readonly pairs: Array<{ range: RangeState; peer: number }> = [];
  private pairCursor = 0;
  private nextPeriodicMs = -Infinity;
  private nextReq = 1;
  private nextRound = 1;
  private down: ReadonlySet<number> = new Set();
  /** while a pool rebuild holds segments, exchanges over its ranges are refused */
  private hashing = 0;
  private generation = 0;
  /** set by the runtime while a rebuild indexes the store: the trees are incomplete, so exchanges are refused */
  private rebuilding = false;

  constructor(
    private readonly host: AntiEntropyHost,
    options: AntiEntropyOptions,
  ) {
    validateAntiEntropyConfig(options.config);
    this.node = options.node;
    this.config = options.config;
    this.placement = options.placement;
    for (const list of options.ranges) {
      const members = [...list].sort((a, b) => a - b);
      if (!members.includes(this.node)) continue;
      const id = members.join(',');
      if (this.ranges.has(id)) continue;
      const peers = members.filter((n) => n !== this.node);
      this.ranges.set(id, new RangeState(id, members, peers, this.config.segments, this.config.fanout));
    }
    for (const r of this.ranges.values()) for (const peer of r.peers) this.pairs.push({ range: r, peer });
    const all = new Set<number>();
    for (const list of options.ranges) for (const n of list) if (n !== this.node) all.add(n);
    this.others = [...all].sort((a, b) => a - b);
  }

  /** Range ids this node belongs to. */
  rangeIds(): string[] {
    return [...this.ranges.keys()];
  }

  // ------------------------------------------------------------------------------------------ writes and rebuilds

  /** The write hook: the key's digest is recomputed and its segment marked dirty. O(clock size). */
  onWrite(keyId: string, clock: StoredClock): void {
    const h = hash32(keyId);
    const r = this.rangeOfHash(h);
    if (r === null) return;
    const digest = versionDigest(clock);
    this.track(r, keyId, this.segmentOfHash(h), digest);
    if (isTombstone(clock)) this.noteTombstone(r, keyId, digest);
    else r.tombs.delete(keyId);
  }

  /** Forgets every tree, key map and confirmation: the start of a rebuild (or of a wiped store). */
  reset(): void {
    for (const [id, r] of this.ranges) {
      const fresh = new RangeState(id, r.members, r.peers, this.config.segments, this.config.fanout);
      this.ranges.set(id, fresh);
    }
    this.byList.clear();
    this.reapQueue.length = 0;
    this.checks.clear();
    this.pairs.length = 0;
    for (const r of this.ranges.values()) for (const peer of r.peers) this.pairs.push({ range: r, peer });
    this.hashing = 0;
    this.generation++;
    // exchanges in flight refer to the old states: fail them
    for (const ex of [...this.exchanges.values()]) this.fail(ex);
  }

  /** Marks a rebuild in progress (between reset() and the last applyHashBatch): exchanges are refused meanwhile. */
  setRebuilding(on: boolean): void {
    this.rebuilding = on;
  }

  /** Rebuild step: a stored key whose version is not read yet (its digest comes from the hasher or a later read). */
  index(keyId: string): void {
    const h = hash32(keyId);
    const r = this.rangeOfHash(h);
    if (r !== null) this.track(r, keyId, this.segmentOfHash(h), PENDING_DIGEST);
  }

  /** Number of segments waiting for a rehash in every range. */
  dirtySegments(): number {
    let n = 0;
    for (const r of this.ranges.values()) n += r.tree.dirtyCount();
    return n;
  }

  /** Hands out up to maxSegments dirty segments of one range, packed for a hashing pool; null when none is dirty. */
  takeHashBatch(maxSegments: number): HashBatch | null {
    if (!Number.isInteger(maxSegments) || maxSegments < 1) {
      throw new InvalidArgumentError(`takeHashBatch maxSegments must be a positive integer; got ${maxSegments}`);
    }
    for (const r of this.ranges.values()) {
      if (r.tree.dirtyCount() === 0) continue;
      const segments = r.tree.dirtySegments(maxSegments);
      this.hashing++;
      return packBatch(r, segments, this.generation);
    }
    return null;
  }

  /** Applies a pool's hashes for a batch from takeHashBatch; keys written meanwhile keep their newer digests. */
  applyHashBatch(batch: HashBatch, result: HashBatchResult): void {
    if (batch.generation !== this.generation) return; // taken before a reset: the new trees never handed it out
    const r = this.rangeById(batch.range);
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
        if (result.flags[key] & FLAG_MISSING) this.untrack(r, id, batch.segments[s]);
        else {
          map.set(id, result.digests[key]);
          if (result.flags[key] & FLAG_TOMBSTONE) this.noteTombstone(r, id, result.digests[key]);
        }
      }
    }
    r.tree.applySegmentHashes(
      batch.segments.map((seg, i) => [seg, (BigInt(result.hashes[2 * i]) << 32n) | BigInt(result.hashes[2 * i + 1])] as const),
    );
    this.counters.segmentsRehashed += batch.segments.length;
  }

  /** Gives back a batch whose hashing failed: its segments are dirty again. */
  returnHashBatch(batch: HashBatch): void {
    const r = this.rangeById(batch.range);
    if (r === undefined || batch.generation !== this.generation) return;
    this.hashing--;
    r.tree.returnSegments(batch.segments);
  }

  /**
   * Rehashes every dirty segment of every range here and now, reading pending digests from the store: the
   * synchronous path (the simulator, small stores). True when every tree is settled (none has segments handed out).
   */
  rehashAll(): boolean {
    let settled = true;
    for (const r of this.ranges.values()) if (!this.settle(r)) settled = false;
    return settled;
  }

  private busy(): boolean {
    return this.rebuilding || this.hashing > 0;
  }

  private settle(r: RangeState): boolean {
    const hashed = r.tree.rehash((seg) => this.items(r, seg));
    this.counters.segmentsRehashed += hashed;
    return r.tree.isSettled();
  }

  private rangeById(id: string): RangeState | undefined {
    return this.ranges.get(id);
  }

  /** segmentOf (merkle.ts) from a key's hash32, so that a write hashes its key once */
  private segmentOfHash(h: number): number {
    return Math.floor((h * this.config.segments) / 0x1_0000_0000);
  }

  private rangeOfHash(h: number): RangeState | null {
    const list = this.placement(h);
    let r = this.byList.get(list);
    if (r === undefined) {
      r = this.ranges.get(rangeId(list)) ?? null;
      this.byList.set(list, r);
    }
    if (r === null) this.counters.foreignKeys++;
    return r;
  }

  private track(r: RangeState, keyId: string, seg: number, digest: number): void {
    let map = r.keys[seg];
    if (map === undefined) r.keys[seg] = map = new Map();
    if (!map.has(keyId)) r.keyCount++;
    map.set(keyId, digest);
    r.tree.markSegmentDirty(seg);
  }

  private untrack(r: RangeState, keyId: string, seg: number): void {
    const map = r.keys[seg];
    if (map !== undefined && map.delete(keyId)) {
      r.keyCount--;
      if (map.size === 0) r.keys[seg] = undefined;
    }
    r.tombs.delete(keyId);
    r.tree.markSegmentDirty(seg);
  }

  /** Items of one segment for hashing or listing; pending digests are read from the store (a missing key dropped). */
  private items(r: RangeState, seg: number): SegmentItem[] {
    const map = r.keys[seg];
    if (map === undefined) return [];
    const out: SegmentItem[] = [];
    for (const [id, d] of map) {
      if (d !== PENDING_DIGEST) {
        out.push([id, d]);
        continue;
      }
      const clock = this.host.get(id);
      if (clock === undefined) {
        map.delete(id);
        r.keyCount--;
        continue;
      }
      const digest = versionDigest(clock);
      map.set(id, digest);
      if (isTombstone(clock)) this.noteTombstone(r, id, digest);
      out.push([id, digest]);
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------ tombstones

  private noteTombstone(r: RangeState, keyId: string, digest: number): void {
    const t = r.tombs.get(keyId);
    if (t !== undefined && t.digest === digest) return;
    r.tombs.set(keyId, { digest, confirmed: new Set(), allMs: -1 });
  }

  private confirm(r: RangeState, keyId: string, digest: number, peer: number, nowMs: number): boolean {
    const t = r.tombs.get(keyId);
    if (t === undefined || t.digest !== digest) return false;
    if (!t.confirmed.has(peer)) {
      t.confirmed.add(peer);
      this.counters.tombstonesConfirmed++;
    }
    if (t.allMs < 0 && r.peers.every((p) => t.confirmed.has(p))) {
      t.allMs = nowMs;
      this.reapQueue.push({ key: keyId, range: r, dueMs: nowMs + this.config.tombstoneGraceMs });
    }
    return true;
  }

  /** A tombstone every replica of its range is known to hold: never sent by anti-entropy (see the header). */
  private settledTomb(r: RangeState, keyId: string): boolean {
    const t = r.tombs.get(keyId);
    return t !== undefined && t.allMs >= 0;
  }

  /**
   * Takes the due reaps (at most maxReapsPerTick) and asks every other node, maxKeysPerMessage keys at a time,
   * whether it holds a hint for them; they are reaped when all have answered (onHintsReply). Nothing starts while a
   * node is down; a check a node did not answer in time is put back.
   */
  private reap(nowMs: number, out: Send[]): void {
    for (const c of [...this.checks.values()]) {
      if (nowMs >= c.deadlineMs || [...c.waiting].some((n) => this.down.has(n))) this.endCheck(c, c.due, nowMs);
    }
    if (this.others.some((n) => this.down.has(n))) return;
    const perCheck = this.config.maxKeysPerMessage;
    const maxChecks = Math.ceil(this.config.maxReapsPerTick / perCheck);
    let taken = 0;
    while (this.checks.size < maxChecks && taken < this.config.maxReapsPerTick) {
      const due = this.takeDue(Math.min(perCheck, this.config.maxReapsPerTick - taken), nowMs);
      if (due.length === 0) return;
      taken += due.length;
      if (this.others.length === 0) this.reapNow(due, nowMs);
      else this.ask(due, nowMs, out);
    }
  }

  /** Up to `max` due reaps that are still reapable; those this node holds a hint for are put back. */
  private takeDue(max: number, nowMs: number): ReapItem[] {
    const due: ReapItem[] = [];
    const held: ReapItem[] = [];
    while (this.reapQueue.length > 0 && due.length < max && this.reapQueue[0].dueMs <= nowMs) {
      const head = this.reapQueue.shift()!;
      if (!this.reapable(head, nowMs)) continue;
      (this.host.hinted(head.key) ? held : due).push(head);
    }
    this.endCheck(null, held, nowMs);
    return due;
  }

  private ask(due: ReapItem[], nowMs: number, out: Send[]): void {
    const req = this.nextReq++;
    this.checks.set(req, { req, due, waiting: new Set(this.others), held: new Set(), deadlineMs: nowMs + this.config.exchangeTimeoutMs });
    const keys = due.map((d) => d.key);
    for (const to of this.others) out.push({ to, msg: { type: 'ae-hints', req, from: this.node, keys } });
  }

  /** Every node answered the check: reap the keys none holds a hint for, put the others back. */
  private onHintsReply(msg: Extract<AeMessage, { type: 'ae-hints-reply' }>, nowMs: number): void {
    const c = this.checks.get(msg.req);
    if (c === undefined || !c.waiting.delete(msg.from)) return; // late, duplicated or unknown
    for (const k of msg.keys) c.held.add(k);
    if (c.waiting.size > 0) return;
    this.checks.delete(c.req);
    const free = c.due.filter((d) => !c.held.has(d.key) && !this.host.hinted(d.key));
    this.endCheck(null, c.due.filter((d) => !free.includes(d)), nowMs);
    this.reapNow(free, nowMs);
  }

  /** Ends a check (if given) and puts reaps that could not happen back, one grace period on (dueMs stays ascending). */
  private endCheck(check: HintCheck | null, items: ReapItem[], nowMs: number): void {
    if (check !== null) this.checks.delete(check.req);
    for (const d of items) this.reapQueue.push({ key: d.key, range: d.range, dueMs: nowMs + this.config.tombstoneGraceMs });
    this.counters.reapsDeferred += items.length;
  }

  /** Still a tombstone every replica confirmed more than the grace period ago, and the store holds exactly it. */
  private reapable(d: ReapItem, nowMs: number): boolean {
    const t = d.range.tombs.get(d.key);
    if (t === undefined || t.allMs < 0 || t.allMs + this.config.tombstoneGraceMs > nowMs) return false;
    // Check the store too: a write the hook saw would have dropped the tomb, but be sure before deleting.
    const clock = this.host.get(d.key);
    return clock !== undefined && isTombstone(clock) && versionDigest(clock) === t.digest;
  }

  private reapNow(items: ReapItem[], nowMs: number): void {
    const refused: ReapItem[] = [];
    for (const d of items) {
      if (!this.reapable(d, nowMs)) continue;
      if (!this.host.delete(d.key)) {
        refused.push(d); // the replica could not persist what a reap needs: try again later
        continue;
      }
      this.untrack(d.range, d.key, segmentOf(d.key, this.config.segments));
      this.counters.tombstonesReaped++;
    }
    this.endCheck(null, refused, nowMs);
  }

  /** Tombstones tracked here, and how many are confirmed on every replica. */
  tombstones(): { tracked: number; confirmed: number } {
    let tracked = 0;
    let confirmed = 0;
    for (const r of this.ranges.values()) {
      for (const t of r.tombs.values()) {
        tracked++;
        if (t.allMs >= 0) confirmed++;
      }
    }
    return { tracked, confirmed };
  }

  // ------------------------------------------------------------------------------------------ rounds and ticks

  /**
   * Queues one exchange for every (range, peer) pair with peer > this node (so that when every node starts a
   * round, each pair of replicas sharing a range is compared once). Returns the round id for roundResult.
   */
  startRound(nowMs: number, down: readonly number[], out: Send[]): number {
    this.down = new Set(down);
    const id = this.nextRound++;
    const round: Round = { pending: 0, ranges: new Set(), result: emptyRoundResult() };
    this.rounds.set(id, round);
    for (const r of this.ranges.values()) {
      for (const peer of r.peers) {
        if (peer < this.node) continue;
        if (this.down.has(peer)) {
          round.result.skipped++;
          this.counters.exchangesSkipped++;
          continue;
        }
        round.pending++;
        this.backlog.push({ range: r, peer, round: id });
      }
    }
    this.pump(nowMs, out);
    return id;
  }

  /** The result of a round once every exchange in it has finished; undefined while some run. Forgets the round. */
  roundResult(id: number): RoundResult | undefined {
    const round = this.rounds.get(id);
    if (round === undefined) throw new InvalidArgumentError(`no repair round ${id} (unknown, or its result was taken)`);
    if (round.pending > 0) return undefined;
    this.rounds.delete(id);
    round.result.ranges = round.ranges.size;
    round.result.rangeIds = [...round.ranges].sort();
    return round.result;
  }

  /**
   * When every (range, peer) pair of this node last completed an exchange (as initiator or peer): the oldest of
   * the pairs' last completions, or null when some pair never completed one.
   */
  lastRepairMs(): number | null {
    let oldest = Infinity;
    for (const r of this.ranges.values()) {
      for (const p of r.peers) {
        const t = r.doneMs.get(p);
        if (t === undefined) return null;
        oldest = Math.min(oldest, t);
      }
    }
    return oldest === Infinity ? null : oldest;
  }

  /** Time passes: exchanges time out, due tombstones are reaped, a periodic exchange may start. */
  tick(nowMs: number, down: readonly number[], out: Send[]): void {
    this.down = new Set(down);
    for (const ex of [...this.exchanges.values()]) if (nowMs >= ex.deadlineMs || this.down.has(ex.peer)) this.fail(ex);
    this.reap(nowMs, out);
    if (this.config.intervalMs > 0 && nowMs >= this.nextPeriodicMs && this.pairs.length > 0) {
      this.nextPeriodicMs = nowMs + this.config.intervalMs;
      const pair = this.pairs[this.pairCursor++ % this.pairs.length];
      const busy = [...this.exchanges.values()].some((e) => e.range === pair.range && e.peer === pair.peer);
      if (!busy && !this.down.has(pair.peer) && this.backlog.length < this.pairs.length) {
        this.backlog.push({ range: pair.range, peer: pair.peer, round: 0 });
      }
    }
    this.pump(nowMs, out);
  }

  /** Exchanges this node is driving now. */
  get inFlight(): number {
    return this.exchanges.size;
  }

  private pump(nowMs: number, out: Send[]): void {
    while (this.exchanges.size < this.config.maxExchangesInFlight && this.backlog.length > 0) {
      const job = this.backlog.shift()!;
      if (this.down.has(job.peer)) {
        this.counters.exchangesSkipped++;
        const round = this.rounds.get(job.round);
        if (round !== undefined) {
          round.pending--;
          round.result.skipped++;
        }
        continue;
      }
      this.begin(job.range, job.peer, job.round, nowMs, out);
    }
  }

  // ------------------------------------------------------------------------------------------ initiator

  private begin(range: RangeState, peer: number, round: number, nowMs: number, out: Send[]): void {
    const ex: Exchange = {
      req: this.nextReq++, peer, range, round, phase: 'tree', deadlineMs: nowMs + this.config.exchangeTimeoutMs,
      depth: 0, ask: [0], asked: [], next: [], diff: [], cursor: 0, after: null, carry: [], send: [], want: [],
      tombs: new Map(),
      stats: { nodesCompared: 0, segmentsCompared: 0, segmentsExchanged: 0, keysSent: 0, bytesMoved: 0 },
    };
    this.exchanges.set(ex.req, ex);
    this.counters.exchangesStarted++;
    if (this.busy() || !this.settle(range)) {
      this.fail(ex); // a pool rebuild holds some segments: try again next round
      return;
    }
    this.askTree(ex, out);
  }

  /**
   * Sends the exchange's next request under a fresh request id, so that a late or duplicated reply to an earlier
   * request (networks duplicate and reorder; the simulator does both) is recognized as stale and ignored instead of
   * being taken for the answer to this one.
   */
  private emit(ex: Exchange, msg: AeMessage, bytes: number, out: Send[]): void {
    this.exchanges.delete(ex.req);
    ex.req = this.nextReq++;
    this.exchanges.set(ex.req, ex);
    msg.req = ex.req;
    ex.stats.bytesMoved += HEADER_BYTES + ex.range.id.length + bytes;
    out.push({ to: ex.peer, msg });
  }

  private askTree(ex: Exchange, out: Send[]): void {
    ex.asked = ex.ask.splice(0, this.config.maxNodesPerMessage);
    const msg: AeMessage = { type: 'ae-tree', req: ex.req, from: this.node, range: ex.range.id, depth: ex.depth, indices: ex.asked };
    this.emit(ex, msg, 4 * ex.asked.length, out);
  }

  private onTreeReply(ex: Exchange, msg: AeTreeReply, out: Send[]): void {
    if (ex.phase !== 'tree' || msg.depth !== ex.depth || msg.hashes.length !== 2 * ex.asked.length) return this.fail(ex);
    ex.stats.bytesMoved += HEADER_BYTES + 4 * msg.hashes.length;
    const tree = ex.range.tree;
    const leaf = ex.depth === tree.leafDepth;
    for (let i = 0; i < ex.asked.length; i++) {
      const idx = ex.asked[i];
      const mine = tree.node(ex.depth, idx);
      const theirs = (BigInt(msg.hashes[2 * i] >>> 0) << 32n) | BigInt(msg.hashes[2 * i + 1] >>> 0);
      ex.stats.nodesCompared++;
      if (leaf) ex.stats.segmentsCompared++;
      if (mine === theirs) continue;
      if (leaf) ex.diff.push(idx);
      else {
        const [first, end] = tree.childRange(ex.depth, idx);
        for (let c = first; c < end; c++) ex.next.push(c);
      }
    }
    if (ex.ask.length > 0) return this.askTree(ex, out);
    if (ex.next.length > 0) {
      ex.depth++;
      ex.ask = ex.next;
      ex.next = [];
      return this.askTree(ex, out);
    }
    ex.phase = 'keys';
    this.nextKeys(ex, out);
  }

  /** Asks for the next differing segments' keys, or moves on to tombstones when all were listed. */
  private nextKeys(ex: Exchange, out: Send[]): void {
    if (ex.cursor >= ex.diff.length) return this.askTombs(ex, out);
    ex.phase = 'keys';
    const segments = ex.diff.slice(ex.cursor, ex.cursor + this.config.maxSegmentsPerRequest);
    const msg: AeMessage = { type: 'ae-keys', req: ex.req, from: this.node, range: ex.range.id, segments, after: ex.after };
    this.emit(ex, msg, 4 * segments.length + (ex.after?.length ?? 0), out);
  }

  private onKeysReply(ex: Exchange, msg: AeKeysReply, out: Send[]): void {
    const expected = ex.diff.slice(ex.cursor, ex.cursor + msg.segments.length);
    const total = msg.counts.reduce((a, b) => a + b, 0);
    const shapeOk = msg.segments.length > 0 && msg.counts.length === msg.segments.length && total === msg.keys.length;
    if (ex.phase !== 'keys' || !shapeOk || msg.digests.length !== total || expected.some((s, i) => s !== msg.segments[i])) {
      return this.fail(ex);
    }
    ex.stats.bytesMoved += HEADER_BYTES + 8 * msg.segments.length + keysBytes(msg.keys) + 4 * msg.digests.length;
    let k = 0;
    for (let i = 0; i < msg.segments.length; i++) {
      for (let j = 0; j < msg.counts[i]; j++, k++) ex.carry.push([msg.keys[k], msg.digests[k] >>> 0]);
      const last = i === msg.segments.length - 1;
      if (last && msg.more) {
        ex.after = ex.carry.length > 0 ? ex.carry[ex.carry.length - 1][0] : ex.after;
        break;
      }
      this.diffSegment(ex, msg.segments[i]);
      ex.carry = [];
      ex.after = null;
      ex.cursor++;
    }
    ex.phase = 'sync';
    this.flushSync(ex, out);
  }

  private diffSegment(ex: Exchange, seg: number): void {
    const d = diffKeys(this.items(ex.range, seg), ex.carry);
    ex.stats.segmentsExchanged++;
    for (const k of d.onlyA) if (!this.settledTomb(ex.range, k)) ex.send.push(k);
    for (const k of d.differ) {
      ex.send.push(k);
      ex.want.push(k);
    }
    for (const k of d.onlyB) ex.want.push(k);
  }

  /** Sends the next batch of clocks and wants; when none are left, lists more keys. */
  private flushSync(ex: Exchange, out: Send[]): void {
    if (ex.send.length === 0 && ex.want.length === 0) return this.nextKeys(ex, out);
    const max = this.config.maxKeysPerMessage;
    const entries: Array<{ key: string; clock: StoredClock }> = [];
    let bytes = 0;
    for (const key of ex.send.splice(0, max)) {
      const clock = this.host.get(key);
      if (clock === undefined || this.settledTomb(ex.range, key)) continue;
      entries.push({ key, clock });
      bytes += key.length + encodedClockSize(clock);
    }
    const want = ex.want.splice(0, max);
    ex.stats.keysSent += entries.length;
    const msg: AeMessage = { type: 'ae-sync', req: ex.req, from: this.node, range: ex.range.id, entries, want };
    this.emit(ex, msg, bytes + keysBytes(want), out);
  }

  private onSyncReply(ex: Exchange, entries: Array<{ key: string; clock: StoredClock }>, out: Send[]): void {
    if (ex.phase !== 'sync') return this.fail(ex);
    let bytes = 0;
    for (const e of entries) {
      bytes += e.key.length + encodedClockSize(e.clock);
      if (this.host.merge(e.key, e.clock)) this.counters.keysRepaired++;
    }
    ex.stats.keysSent += entries.length;
    ex.stats.bytesMoved += HEADER_BYTES + bytes;
    this.flushSync(ex, out);
  }

  private askTombs(ex: Exchange, out: Send[]): void {
    ex.phase = 'tombs';
    const keys: string[] = [];
    const digests: number[] = [];
    for (const [key, t] of ex.range.tombs) {
      if (keys.length >= this.config.maxKeysPerMessage) break;
      if (t.confirmed.has(ex.peer)) continue;
      keys.push(key);
      digests.push(t.digest);
      ex.tombs.set(key, t.digest);
    }
    const msg: AeMessage = { type: 'ae-tombs', req: ex.req, from: this.node, range: ex.range.id, keys, digests };
    this.emit(ex, msg, keysBytes(keys) + 4 * digests.length, out);
  }

  private onTombsReply(ex: Exchange, keys: string[], nowMs: number, out: Send[]): void {
    if (ex.phase !== 'tombs') return this.fail(ex);
    ex.stats.bytesMoved += HEADER_BYTES + keysBytes(keys);
    for (const key of keys) {
      const digest = ex.tombs.get(key);
      if (digest !== undefined) this.confirm(ex.range, key, digest, ex.peer, nowMs);
    }
    this.finish(ex, nowMs, out);
  }

  private finish(ex: Exchange, nowMs: number, out: Send[]): void {
    this.exchanges.delete(ex.req);
    ex.range.doneMs.set(ex.peer, nowMs);
    const c = this.counters;
    const s = ex.stats;
    c.exchangesCompleted++;
    c.nodesCompared += s.nodesCompared;
    c.segmentsCompared += s.segmentsCompared;
    c.segmentsExchanged += s.segmentsExchanged;
    c.keysSent += s.keysSent;
    c.bytesMoved += s.bytesMoved;
    const round = this.rounds.get(ex.round);
    if (round !== undefined) {
      round.pending--;
      round.ranges.add(ex.range.id);
      const r = round.result;
      r.exchanges++;
      r.nodesCompared += s.nodesCompared;
      r.segmentsCompared += s.segmentsCompared;
      r.segmentsExchanged += s.segmentsExchanged;
      r.keysSent += s.keysSent;
      r.bytesMoved += s.bytesMoved;
    }
    this.pump(nowMs, out);
  }

  private fail(ex: Exchange): void {
    if (!this.exchanges.delete(ex.req)) return;
    this.counters.exchangesFailed++;
    const round = this.rounds.get(ex.round);
    if (round !== undefined) {
      round.pending--;
      round.result.failed++;
    }
    // the backlog is pumped by the caller's next tick or reply
  }

  // ------------------------------------------------------------------------------------------ messages

  handle(msg: AeMessage, nowMs: number, out: Send[]): void {
    switch (msg.type) {
      case 'ae-tree':
      case 'ae-keys':
      case 'ae-sync':
      case 'ae-tombs':
        return this.serve(msg, nowMs, out);
      case 'ae-hints':
        return this.serveHints(msg, out);
      case 'ae-hints-reply':
        return this.onHintsReply(msg, nowMs);
      case 'ae-abort': {
        const check = this.checks.get(msg.req);
        if (check !== undefined && check.waiting.has(msg.from)) {
          return this.endCheck(check, check.due, nowMs); // the node cannot say: it may hold a hint
        }
        const ex = this.exchanges.get(msg.req);
        if (ex !== undefined && ex.peer === msg.from) this.fail(ex);
        return this.pump(nowMs, out);
      }
      default: {
        const ex = this.exchanges.get(msg.req);
        if (ex === undefined || ex.peer !== msg.from) return; // late reply of a finished or failed exchange
        ex.deadlineMs = nowMs + this.config.exchangeTimeoutMs;
        if (msg.type === 'ae-tree-reply') this.onTreeReply(ex, msg, out);
        else if (msg.type === 'ae-keys-reply') this.onKeysReply(ex, msg, out);
        else if (msg.type === 'ae-sync-reply') this.onSyncReply(ex, msg.entries, out);
        else this.onTombsReply(ex, msg.keys, nowMs, out);
        if (!this.exchanges.has(ex.req)) this.pump(nowMs, out);
      }
    }
  }

  // ------------------------------------------------------------------------------------------ peer side

  /** Which of the asked keys this node holds a hint for (any node may ask: hints are not range-bound). */
  private serveHints(msg: Extract<AeMessage, { type: 'ae-hints' }>, out: Send[]): void {
    if (!Array.isArray(msg.keys) || msg.keys.length > this.config.maxKeysPerMessage) {
      out.push({ to: msg.from, msg: { type: 'ae-abort', req: msg.req, from: this.node, reason: 'ae-hints is malformed or too long' } });
      return;
    }
    const keys = msg.keys.filter((k) => typeof k === 'string' && this.host.hinted(k));
    out.push({ to: msg.from, msg: { type: 'ae-hints-reply', req: msg.req, from: this.node, keys } });
  }

  private serve(msg: Extract<AeMessage, { type: 'ae-tree' | 'ae-keys' | 'ae-sync' | 'ae-tombs' }>, nowMs: number, out: Send[]): void {
    const r = this.ranges.get(msg.range);
    const abort = (reason: string): void => {
      out.push({ to: msg.from, msg: { type: 'ae-abort', req: msg.req, from: this.node, reason } });
    };
    if (r === undefined || !r.peers.includes(msg.from)) {
      return abort(`node ${this.node} and node ${msg.from} do not share range ${msg.range}`);
    }
    switch (msg.type) {
      case 'ae-tree': {
        if (msg.depth === 0 && (this.busy() || !this.settle(r))) return abort(`node ${this.node} is rebuilding its trees`);
        if (!this.validIndices(r, msg.depth, msg.indices)) return abort('ae-tree asks for nodes outside the tree or too many');
        const hashes: number[] = [];
        for (const i of msg.indices) {
          const h = r.tree.node(msg.depth, i);
          hashes.push(Number(h >> 32n), Number(h & 0xffff_ffffn));
        }
        out.push({ to: msg.from, msg: { type: 'ae-tree-reply', req: msg.req, from: this.node, depth: msg.depth, hashes } });
        return;
      }
      case 'ae-keys': {
        const reply = this.listKeys(r, msg.segments, msg.after, msg.req);
        if (reply === null) return abort('ae-keys asks for segments outside the tree or too many');
        out.push({ to: msg.from, msg: reply });
        return;
      }
      case 'ae-sync': {
        const max = this.config.maxKeysPerMessage;
        if (msg.entries.length > max || msg.want.length > max) return abort(`ae-sync carries more than ${max} keys`);
        // what the initiator sent us, by digest: a wanted key whose merge here changed nothing it sent is not sent back
        const sent = new Map<string, number>();
        for (const e of msg.entries) {
          if (this.host.merge(e.key, e.clock)) this.counters.keysRepaired++;
          sent.set(e.key, versionDigest(e.clock));
        }
        const entries: Array<{ key: string; clock: StoredClock }> = [];
        for (const key of msg.want) {
          const clock = this.host.get(key);
          if (clock === undefined || this.settledTomb(r, key) || sent.get(key) === versionDigest(clock)) continue;
          entries.push({ key, clock });
        }
        out.push({ to: msg.from, msg: { type: 'ae-sync-reply', req: msg.req, from: this.node, entries } });
        return;
      }
      case 'ae-tombs': {
        if (msg.keys.length > this.config.maxKeysPerMessage || msg.digests.length !== msg.keys.length) {
          return abort('ae-tombs is malformed or too long');
        }
        const keys = msg.keys.filter((k, i) => this.confirm(r, k, msg.digests[i] >>> 0, msg.from, nowMs));
        r.doneMs.set(msg.from, nowMs);
        this.counters.exchangesServed++;
        out.push({ to: msg.from, msg: { type: 'ae-tombs-reply', req: msg.req, from: this.node, keys } });
        return;
      }
    }
  }

  private validIndices(r: RangeState, depth: number, indices: number[]): boolean {
    if (!Number.isInteger(depth) || depth < 0 || depth > r.tree.leafDepth) return false;
    if (!Array.isArray(indices) || indices.length > this.config.maxNodesPerMessage) return false;
    const size = r.tree.levelSize(depth);
    return indices.every((i) => Number.isInteger(i) && i >= 0 && i < size);
  }

  /** The peer's answer to ae-keys: whole segments while they fit in maxKeysPerMessage, the last one possibly cut. */
  private listKeys(r: RangeState, segments: number[], after: string | null, req: number): AeKeysReply | null {
    const max = this.config.maxKeysPerMessage;
    if (!Array.isArray(segments) || segments.length === 0 || segments.length > this.config.maxSegmentsPerRequest) return null;
    if (!segments.every((s) => Number.isInteger(s) && s >= 0 && s < this.config.segments)) return null;
    const reply: AeKeysReply = {
      type: 'ae-keys-reply', req, from: this.node, segments: [], counts: [], keys: [], digests: [], more: false,
    };
    for (let i = 0; i < segments.length; i++) {
      let items = this.items(r, segments[i]).sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
      if (i === 0 && after !== null) items = items.filter(([k]) => k > after);
      const room = max - reply.keys.length;
      if (room <= 0) break;
      const take = Math.min(room, items.length);
      reply.segments.push(segments[i]);
      reply.counts.push(take);
      for (let j = 0; j < take; j++) {
        reply.keys.push(items[j][0]);
        reply.digests.push(items[j][1]);
      }
      if (take < items.length) {
        reply.more = true;
        break;
      }
    }
    return reply;
  }
}

/** Packs the keys of some segments for a hashing pool. */
function packBatch(r: RangeState, segments: number[], generation: number): HashBatch {
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
