// SharedStore: key id -> Clock<Stamped>, in SharedArrayBuffers, with exactly one writer and any number of readers in
// other threads. MapStore: the same interface on a plain Map, for the deterministic simulator.
//
// Memory (four SharedArrayBuffers, sent to other threads by postMessage and attached there):
//   meta    Int32Array[META_FIELDS]: the seqlock epoch, the writer's generation, the arena top, counters and the
//           creation-time limits; every field index is named below (M_*).
//   index   Int32Array[slots]: open addressing with linear probing; slot = EMPTY (0), DELETED (-1), or a record
//           reference (byte offset / 4 + 1). slots is a power of two >= maxKeys / 0.75, so live keys never load it
//           past 0.75; live + deleted slots are kept <= 13/16 of it by rebuilding the index.
//   hashes  Uint32Array[slots]: hash32 of the key in each used slot, so a probe compares keys only on a hash match.
//   arena   bytes, two semispaces of arenaBytes / 2. Records are appended at the active half's top and never change:
//           [keyLen:i32][clockLen:i32][hash:u32][key: keyLen bytes, one per key-id char][clock: codec.ts bytes]
//           padded to 4 bytes. Overwriting a key appends a new record; the old one becomes garbage.
//
// Writing (one thread only): write the record above the top, raise the top, then Atomics.store the slot. Readers
// Atomics.load the slot, so they see either the old record or the whole new one: never a torn record.
// Compaction (when the active half is full, or deleted slots pass 13/16 of the index): make the epoch odd, copy
// live records into the other half, rebuild the index from the copied records, switch halves, make the epoch even.
// Readers (seqlock): load the epoch; if even, look up and decode; load the epoch again; if it is unchanged the
// result is consistent, else retry. After READ_ATTEMPTS the answer is BUSY, so a caller on a 2-core machine falls
// back to asking the replica by message instead of spinning. A half is only overwritten by the compaction after
// next, so a reader is disturbed only by a compaction during its read, which the epoch reveals; decoding garbage
// from a half being overwritten throws, which is caught and retried the same way.
// The writer's own reads need no seqlock (it compacts synchronously), so it never sees BUSY.
//
// Limits: maxKeys and arenaBytes are fixed at creation. A set that does not fit even after compaction throws
// StoreFullError naming the limit. Near the arena limit most sets compact (correct, but O(live bytes) each): size the
// arena at about twice the expected live bytes (so four times in memory, counting both halves).
//
// Crash recovery: a restarted replica attaches as 'writer' to the same buffers. The compaction phase is kept in
// meta: a crash while copying leaves the old half and the index intact (abandon the copy); a crash while indexing
// is finished from the copied records (their header holds the hash); a crash while clearing is finished. Counters
// are then recounted from the index. Attaching a writer bumps the writer generation, which fences the old writer
// out if it is somehow still running (its next write throws).
//
// Memory ordering caveat: the seqlock's second epoch load is an Atomics.load; on x86 (TSO) plain loads are not
// reordered after it, which is what a seqlock needs. Weaker CPUs could in theory reorder them; record decoding is
// validated, so such a read would most likely throw and be retried.

import { InvalidArgumentError, InvalidConfigError, OverloadedError, StoreFullError } from '../../actors/errors.js';
import { hash32 } from '../../actors/hash.js';
import type { Stamped, Value } from '../../actors/types.js';
import type { Clock } from '../../actors/versioning/dvv.js';
import { decodeClock, decodeValues, encodeClockInto, encodedClockSize } from '../../actors/versioning/codec.js';

export interface StoreBuffers {
  meta: SharedArrayBuffer;
  index: SharedArrayBuffer;
  hashes: SharedArrayBuffer;
  arena: SharedArrayBuffer;
}

export interface StoreOptions {
  /** most keys the store can hold at once */
  maxKeys: number;
  /** total arena memory: two semispaces, so live records may take at most half of it */
  arenaBytes: number;
}

export interface StoreStats {
  keys: number;
  /** bytes of live records (headers and padding included) */
  liveBytes: number;
  arenaBytes: number;
  compactions: number;
}

/** A read collided with compaction READ_ATTEMPTS times: ask the replica by message instead. */
export const BUSY: unique symbol = Symbol('leaderless.store.BUSY');

export interface Store {
  get(keyId: string): Clock<Stamped> | undefined | typeof BUSY;
  getValues(keyId: string): Array<Value | null> | undefined | typeof BUSY;
  getEncoded(keyId: string): Uint8Array | undefined | typeof BUSY;
  set(keyId: string, clock: Clock<Stamped>): void;
  delete(keyId: string): boolean;
  /** throws OverloadedError where a get would have been BUSY */
  has(keyId: string): boolean;
  /** calls fn on a consistent snapshot; throws OverloadedError if compaction kept interrupting the snapshot */
  forEach(fn: (keyId: string, clock: Clock<Stamped>) => void): void;
  keys(): string[];
  readonly size: number;
  stats(): StoreStats;
  clear(): void;
}

// meta field indices: the one place they are named.
const M_MAGIC = 0;
const M_EPOCH = 1; // seqlock: odd while records move or the index is rebuilt
const M_WRITER = 2; // generation of the attached writer
const M_ACTIVE_BASE = 3; // byte offset of the active semispace: 0 or halfBytes
const M_TOP = 4; // bytes used in the active semispace
const M_KEYS = 5;
const M_DELETED = 6; // index slots marked DELETED
const M_LIVE_BYTES = 7;
const M_COMPACTIONS = 8;
const M_MAX_KEYS = 9;
const M_HALF_BYTES = 10;
const M_SLOTS = 11;
const M_PHASE = 12; // PHASE_*: what the writer was doing, for crash recovery
const M_COPIED_BYTES = 13; // end of the records copied into the other half, set before PHASE_INDEXING
const M_COPY_TARGET = 14; // byte offset of the half being copied into, set before PHASE_COPYING
const META_FIELDS = 16;

/** The meta field indices by name, for tests and debugging tools (the code uses the constants above). */
export const STORE_META = Object.freeze({
  MAGIC: M_MAGIC,
  EPOCH: M_EPOCH,
  WRITER: M_WRITER,
  ACTIVE_BASE: M_ACTIVE_BASE,
  TOP: M_TOP,
  KEYS: M_KEYS,
  DELETED: M_DELETED,
  LIVE_BYTES: M_LIVE_BYTES,
  COMPACTIONS: M_COMPACTIONS,
  MAX_KEYS: M_MAX_KEYS,
  HALF_BYTES: M_HALF_BYTES,
  SLOTS: M_SLOTS,
  PHASE: M_PHASE,
  COPIED_BYTES: M_COPIED_BYTES,
  COPY_TARGET: M_COPY_TARGET,
});

const MAGIC = 0x1ea5_0001;
const PHASE_IDLE = 0;
const PHASE_COPYING = 1;
const PHASE_INDEXING = 2;
const PHASE_CLEARING = 3;
export const STORE_PHASE = Object.freeze({
  IDLE: PHASE_IDLE,
  COPYING: PHASE_COPYING,
  INDEXING: PHASE_INDEXING,
  CLEARING: PHASE_CLEARING,
});

const EMPTY = 0;
const DELETED = -1;
/** record header: keyLen, clockLen, hash; three 32-bit words */
const HEADER_BYTES = 12;
const MAX_LOAD = 0.75;
/** live + deleted slots may fill this fraction of the index before it is rebuilt */
const MAX_USED_NUM = 13;
const MAX_USED_DEN = 16;
const READ_ATTEMPTS = 4;
const MIN_ARENA_BYTES = 1 << 12;
const MAX_ARENA_BYTES = 2 ** 31 - 1;
const MAX_MAX_KEYS = 1 << 26;

// what a seqlocked read returns
const READ_CLOCK = 0;
const READ_VALUES = 1;
const READ_ENCODED = 2;
const READ_EXISTS = 3;
/**
 * find() result when a slot points at a record that cannot be right (a concurrent compaction: retry), or when no
 * slot is free. Outside the range of -(slot) - 1, since slots <= 2^27.
 */
const INCONSISTENT = -(2 ** 31);

function align4(n: number): number {
  return (n + 3) & ~3;
}

function nextPow2(n: number): number {
  let p = 16;
  while (p < n) p *= 2;
  return p;
}

function checkOptions(opts: StoreOptions): void {
  if (!Number.isInteger(opts?.maxKeys) || opts.maxKeys < 1 || opts.maxKeys > MAX_MAX_KEYS) {
    throw new InvalidConfigError(`store maxKeys is ${opts?.maxKeys}; must be an integer from 1 to ${MAX_MAX_KEYS}`);
  }
  if (!Number.isInteger(opts.arenaBytes) || opts.arenaBytes < MIN_ARENA_BYTES || opts.arenaBytes > MAX_ARENA_BYTES) {
    throw new InvalidConfigError(
      `store arenaBytes is ${opts.arenaBytes}; must be an integer from ${MIN_ARENA_BYTES} to ${MAX_ARENA_BYTES}`,
    );
  }
}

function checkKeyId(keyId: string): void {
  if (typeof keyId !== 'string') throw new InvalidArgumentError(`key id must be a string; got ${typeof keyId}`);
  for (let i = 0; i < keyId.length; i++) {
    if (keyId.charCodeAt(i) > 0xff) {
      throw new InvalidArgumentError(`key id char ${i} is ${keyId.charCodeAt(i)}; key ids hold one byte (0..255) per char`);
    }
  }
}

export class SharedStore implements Store {
  readonly buffers: StoreBuffers;
  private readonly meta: Int32Array;
  private readonly index: Int32Array;
  private readonly hashes: Uint32Array;
  private readonly arena: Uint8Array;
  private readonly arena32: Int32Array;
  private readonly mask: number;
  private readonly halfBytes: number;
  private readonly maxKeys: number;
  private readonly maxUsedSlots: number;
  private readonly writerGeneration: number; // 0 for readers
  /** the slot's content when find() matched: the record to read, even if the writer replaces it meanwhile */
  private foundRef = EMPTY;

  private constructor(buffers: StoreBuffers, role: 'reader' | 'writer') {
    this.buffers = buffers;
    this.meta = new Int32Array(buffers.meta);
    this.index = new Int32Array(buffers.index);
    this.hashes = new Uint32Array(buffers.hashes);
    this.arena = new Uint8Array(buffers.arena);
    this.arena32 = new Int32Array(buffers.arena);
    const slots = this.meta[M_SLOTS];
    this.mask = slots - 1;
    this.halfBytes = this.meta[M_HALF_BYTES];
    this.maxKeys = this.meta[M_MAX_KEYS];
    this.maxUsedSlots = Math.floor((slots * MAX_USED_NUM) / MAX_USED_DEN);
    this.writerGeneration = role === 'writer' ? Atomics.add(this.meta, M_WRITER, 1) + 1 : 0;
  }

  /** A new, empty store; the caller is its writer. */
  static create(opts: StoreOptions): SharedStore {
    checkOptions(opts);
    const slots = nextPow2(Math.ceil(opts.maxKeys / MAX_LOAD));
    const halfBytes = Math.floor(opts.arenaBytes / 8) * 4; // each half a multiple of 4
    const buffers: StoreBuffers = {
      meta: new SharedArrayBuffer(META_FIELDS * 4),
      index: new SharedArrayBuffer(slots * 4),
      hashes: new SharedArrayBuffer(slots * 4),
      arena: new SharedArrayBuffer(halfBytes * 2),
    };
    const meta = new Int32Array(buffers.meta);
    meta[M_MAX_KEYS] = opts.maxKeys;
    meta[M_HALF_BYTES] = halfBytes;
    meta[M_SLOTS] = slots;
    Atomics.store(meta, M_MAGIC, MAGIC);
    return new SharedStore(buffers, 'writer');
  }

  /** Attaches to buffers made by create() (in any thread). A writer attach also recovers from a crashed writer. */
  static attach(buffers: StoreBuffers, role: 'reader' | 'writer'): SharedStore {
    if (role !== 'reader' && role !== 'writer') {
      throw new InvalidArgumentError(`store role is ${String(role)}; must be 'reader' or 'writer'`);
    }
    checkBuffers(buffers);
    const store = new SharedStore(buffers, role);
    if (role === 'writer') store.recover();
    return store;
  }

  get size(): number {
    return Atomics.load(this.meta, M_KEYS);
  }

  stats(): StoreStats {
    return {
      keys: Atomics.load(this.meta, M_KEYS),
      liveBytes: Atomics.load(this.meta, M_LIVE_BYTES),
      arenaBytes: this.halfBytes * 2,
      compactions: Atomics.load(this.meta, M_COMPACTIONS),
    };
  }

  get(keyId: string): Clock<Stamped> | undefined | typeof BUSY {
    return this.read(keyId, READ_CLOCK) as Clock<Stamped> | undefined | typeof BUSY;
  }

  getValues(keyId: string): Array<Value | null> | undefined | typeof BUSY {
    return this.read(keyId, READ_VALUES) as Array<Value | null> | undefined | typeof BUSY;
  }

  getEncoded(keyId: string): Uint8Array | undefined | typeof BUSY {
    return this.read(keyId, READ_ENCODED) as Uint8Array | undefined | typeof BUSY;
  }

  has(keyId: string): boolean {
    const r = this.read(keyId, READ_EXISTS);
    if (r === BUSY) throw new OverloadedError('store is compacting; retry has() or ask the replica');
    return r === true;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Reading

  private read(keyId: string, what: number): unknown {
    if (this.writerGeneration !== 0) return this.readRecord(keyId, hash32(keyId), what);
    const h = hash32(keyId);
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const epoch = Atomics.load(this.meta, M_EPOCH);
      if ((epoch & 1) !== 0) continue;
      let result: unknown;
      let failure: unknown = undefined;
      try {
        result = this.readRecord(keyId, h, what);
      } catch (e) {
        failure = e;
      }
      if (Atomics.load(this.meta, M_EPOCH) !== epoch) continue;
      if (failure !== undefined) throw failure; // no compaction ran: the bytes really are bad
      if (result !== INCONSISTENT) return result;
    }
    return BUSY;
  }

  private readRecord(keyId: string, h: number, what: number): unknown {
    const slot = this.find(keyId, h);
    if (slot === INCONSISTENT) return INCONSISTENT;
    if (slot < 0) return what === READ_EXISTS ? false : undefined;
    if (what === READ_EXISTS) return true;
    const off = refToOffset(this.foundRef);
    const start = off + HEADER_BYTES + keyId.length;
    const length = this.arena32[(off >> 2) + 1];
    if (what === READ_CLOCK) return decodeClock(this.arena, start, length);
    if (what === READ_VALUES) return decodeValues(this.arena, start, length);
    return this.arena.slice(start, start + length);
  }

  /**
   * The slot holding keyId, or -(insertion slot) - 1 when absent (the first DELETED or EMPTY slot on its probe
   * path), or INCONSISTENT when a slot points at a record out of bounds (only during a concurrent compaction).
   */
  private find(keyId: string, h: number): number {
    const index = this.index;
    const mask = this.mask;
    let insertAt = -1;
    let i = h & mask;
    for (let probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
      const ref = Atomics.load(index, i);
      if (ref === EMPTY) return -(insertAt < 0 ? i : insertAt) - 1;
      if (ref === DELETED) {
        if (insertAt < 0) insertAt = i;
        continue;
      }
      if (this.hashes[i] !== h) continue;
      const match = this.keyMatches(refToOffset(ref), keyId);
      if (match === INCONSISTENT) return INCONSISTENT;
      if (match === 1) {
        this.foundRef = ref;
        return i;
      }
    }
    return insertAt < 0 ? INCONSISTENT : -insertAt - 1;
  }

  /** 1 if the record at `off` has key `keyId`, 0 if not, INCONSISTENT if its header cannot be right. */
  private keyMatches(off: number, keyId: string): number {
    const w = off >> 2;
    const keyLen = this.arena32[w];
    const clockLen = this.arena32[w + 1];
    if (keyLen < 0 || clockLen < 0 || off + HEADER_BYTES + keyLen + clockLen > this.arena.length) return INCONSISTENT;
    if (keyLen !== keyId.length) return 0;
    const arena = this.arena;
    const start = off + HEADER_BYTES;
    for (let i = 0; i < keyLen; i++) if (arena[start + i] !== keyId.charCodeAt(i)) return 0;
    return 1;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Writing (writer only)

  set(keyId: string, clock: Clock<Stamped>): void {
    this.checkWriter('set');
    checkKeyId(keyId);
    const clockBytes = encodedClockSize(clock); // validates the clock before anything changes
    const recordBytes = align4(HEADER_BYTES + keyId.length + clockBytes);
    if (recordBytes > this.halfBytes) {
      throw new StoreFullError(
        `a record of ${recordBytes} bytes (key ${keyId.length} bytes, clock ${clockBytes} bytes) can never fit: ` +
          `live records may take at most arenaBytes / 2 = ${this.halfBytes} bytes`,
        { limit: 'arenaBytes', arenaBytes: this.halfBytes * 2, recordBytes },
      );
    }
    const h = hash32(keyId);
    let slot = this.find(keyId, h);
    if (slot < 0) slot = this.makeRoomForKey(keyId, h, slot);
    if (this.meta[M_TOP] + recordBytes > this.halfBytes) {
      this.compactArena();
      this.checkArenaRoom(recordBytes);
      slot = this.find(keyId, h);
    }
    if (slot === INCONSISTENT) throw new Error('store invariant broken: the index has no free slot');
    this.append(keyId, h, clock, clockBytes, recordBytes, slot);
  }

  /** For a new key: checks maxKeys, rebuilds the index if deleted slots crowd it; returns the insertion slot. */
  private makeRoomForKey(keyId: string, h: number, slot: number): number {
    const keys = this.meta[M_KEYS];
    if (keys >= this.maxKeys) {
      throw new StoreFullError(`store is full: it holds maxKeys = ${this.maxKeys} keys; delete some or raise maxKeys`, {
        limit: 'maxKeys',
        maxKeys: this.maxKeys,
      });
    }
    if (keys + this.meta[M_DELETED] + 1 <= this.maxUsedSlots) return slot;
    this.compactArena();
    return this.find(keyId, h);
  }

  private checkArenaRoom(recordBytes: number): void {
    const top = this.meta[M_TOP];
    if (top + recordBytes <= this.halfBytes) return;
    throw new StoreFullError(
      `store arena is full: live records take ${top} bytes and this record needs ${recordBytes} more; live records ` +
        `may take at most arenaBytes / 2 = ${this.halfBytes} bytes (an overwrite needs room for old and new)`,
      { limit: 'arenaBytes', arenaBytes: this.halfBytes * 2, liveBytes: top, recordBytes },
    );
  }

  /** Writes the record above the top, raises the top, then publishes the slot: the order readers rely on. */
  private append(keyId: string, h: number, clock: Clock<Stamped>, clockBytes: number, recordBytes: number, slot: number): void {
    const meta = this.meta;
    const top = meta[M_TOP];
    const off = meta[M_ACTIVE_BASE] + top;
    const w = off >> 2;
    this.arena32[w] = keyId.length;
    this.arena32[w + 1] = clockBytes;
    this.arena32[w + 2] = h | 0;
    const arena = this.arena;
    const keyStart = off + HEADER_BYTES;
    for (let i = 0; i < keyId.length; i++) arena[keyStart + i] = keyId.charCodeAt(i);
    encodeClockInto(clock, arena, keyStart + keyId.length, clockBytes);
    Atomics.store(meta, M_TOP, top + recordBytes);
    let live = meta[M_LIVE_BYTES] + recordBytes;
    if (slot >= 0) {
      live -= this.recordBytesAt(refToOffset(this.index[slot]));
    } else {
      slot = -slot - 1;
      if (this.index[slot] === DELETED) Atomics.store(meta, M_DELETED, meta[M_DELETED] - 1);
      this.hashes[slot] = h;
      Atomics.store(meta, M_KEYS, meta[M_KEYS] + 1);
    }
    Atomics.store(this.index, slot, offsetToRef(off));
    Atomics.store(meta, M_LIVE_BYTES, live);
  }

  private recordBytesAt(off: number): number {
    const w = off >> 2;
    return align4(HEADER_BYTES + this.arena32[w] + this.arena32[w + 1]);
  }

  delete(keyId: string): boolean {
    this.checkWriter('delete');
    const slot = this.find(keyId, hash32(keyId));
    if (slot < 0) return false;
    const meta = this.meta;
    const recordBytes = this.recordBytesAt(refToOffset(this.index[slot]));
    // A slot whose successor is EMPTY ends every probe path through it, so it can be EMPTY rather than DELETED.
    if (this.index[(slot + 1) & this.mask] === EMPTY) {
      Atomics.store(this.index, slot, EMPTY);
    } else {
      Atomics.store(this.index, slot, DELETED);
      Atomics.store(meta, M_DELETED, meta[M_DELETED] + 1);
    }
    Atomics.store(meta, M_KEYS, meta[M_KEYS] - 1);
    Atomics.store(meta, M_LIVE_BYTES, meta[M_LIVE_BYTES] - recordBytes);
    return true;
  }

  /** Wipes every key (a replaced disk). */
  clear(): void {
    this.checkWriter('clear');
    this.beginExclusive(PHASE_CLEARING);
    this.finishClear();
    this.endExclusive();
  }

  private finishClear(): void {
    this.index.fill(EMPTY);
    const meta = this.meta;
    meta[M_TOP] = 0;
    meta[M_KEYS] = 0;
    meta[M_DELETED] = 0;
    meta[M_LIVE_BYTES] = 0;
  }

  private checkWriter(op: string): void {
    if (this.writerGeneration === 0) {
      throw new InvalidArgumentError(`${op} on a store attached as 'reader'; only the owning replica (the writer) writes`);
    }
    const current = Atomics.load(this.meta, M_WRITER);
    if (current !== this.writerGeneration) {
      throw new InvalidArgumentError(
        `${op} by a stale writer (generation ${this.writerGeneration}); writer ${current} has attached since`,
      );
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // Compaction and recovery

  private beginExclusive(phase: number): void {
    Atomics.add(this.meta, M_EPOCH, 1); // odd: readers retry
    Atomics.store(this.meta, M_PHASE, phase);
  }

  private endExclusive(): void {
    Atomics.store(this.meta, M_PHASE, PHASE_IDLE);
    Atomics.add(this.meta, M_EPOCH, 1); // even: publishes every plain write above to readers
  }

  /** Compacts now (the writer also does it by itself when the arena or the index fills). */
  compact(): void {
    this.checkWriter('compact');
    this.compactArena();
  }

  /** Copies live records into the other half, rebuilds the index from them, and switches halves. */
  private compactArena(): void {
    this.beginExclusive(PHASE_COPYING);
    const meta = this.meta;
    const target = meta[M_ACTIVE_BASE] === 0 ? this.halfBytes : 0;
    meta[M_COPY_TARGET] = target;
    let copied = 0;
    for (let i = 0; i <= this.mask; i++) {
      const ref = this.index[i];
      if (ref === EMPTY || ref === DELETED) continue;
      const off = refToOffset(ref);
      const bytes = this.recordBytesAt(off);
      this.arena.copyWithin(target + copied, off, off + bytes);
      copied += bytes;
    }
    meta[M_COPIED_BYTES] = copied;
    Atomics.store(meta, M_PHASE, PHASE_INDEXING);
    this.finishIndexing();
    Atomics.store(meta, M_COMPACTIONS, meta[M_COMPACTIONS] + 1);
    this.endExclusive();
  }

  /** Rebuilds the index from the records copied to the target half, and makes that half the active one. */
  private finishIndexing(): void {
    const meta = this.meta;
    const target = meta[M_COPY_TARGET];
    const copied = meta[M_COPIED_BYTES];
    this.index.fill(EMPTY);
    let keys = 0;
    for (let off = target; off < target + copied; off += this.recordBytesAt(off)) {
      const h = this.arena32[(off >> 2) + 2] >>> 0;
      let i = h & this.mask;
      while (this.index[i] !== EMPTY) i = (i + 1) & this.mask;
      this.hashes[i] = h;
      this.index[i] = offsetToRef(off);
      keys++;
    }
    meta[M_ACTIVE_BASE] = target;
    meta[M_TOP] = copied;
    meta[M_DELETED] = 0;
    meta[M_LIVE_BYTES] = copied;
    meta[M_KEYS] = keys;
  }

  /**
   * Finishes or abandons what a crashed writer left half done (a crash while copying left the active half and the
   * index untouched), then recounts the counters, which a crash inside set or delete can leave stale.
   */
  private recover(): void {
    const meta = this.meta;
    if ((Atomics.load(meta, M_EPOCH) & 1) === 0) {
      this.recount();
      return;
    }
    const phase = meta[M_PHASE];
    if (phase === PHASE_INDEXING) this.finishIndexing();
    if (phase === PHASE_CLEARING) this.finishClear();
    this.recount();
    this.endExclusive();
  }

  private recount(): void {
    let keys = 0;
    let deleted = 0;
    let live = 0;
    for (let i = 0; i <= this.mask; i++) {
      const ref = this.index[i];
      if (ref === DELETED) deleted++;
      else if (ref !== EMPTY) {
        keys++;
        live += this.recordBytesAt(refToOffset(ref));
      }
    }
    this.meta[M_KEYS] = keys;
    this.meta[M_DELETED] = deleted;
    this.meta[M_LIVE_BYTES] = live;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Iteration: over a consistent snapshot, so fn may call back into the store.

  forEach(fn: (keyId: string, clock: Clock<Stamped>) => void): void {
    const snapshot = this.snapshot(true);
    for (let i = 0; i < snapshot.length; i += 2) fn(snapshot[i] as string, snapshot[i + 1] as Clock<Stamped>);
  }

  keys(): string[] {
    return this.snapshot(false) as string[];
  }

  /** [key, clock, key, clock, ...] (or keys only), taken under the seqlock. */
  private snapshot(withClocks: boolean): unknown[] {
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const epoch = Atomics.load(this.meta, M_EPOCH);
      if ((epoch & 1) !== 0) continue;
      let out: unknown[] | undefined;
      try {
        out = this.scan(withClocks);
      } catch (e) {
        if (Atomics.load(this.meta, M_EPOCH) === epoch) throw e;
      }
      if (out !== undefined && Atomics.load(this.meta, M_EPOCH) === epoch) return out;
    }
    throw new OverloadedError(`store compacted during ${READ_ATTEMPTS} attempts to list it; retry`);
  }

  private scan(withClocks: boolean): unknown[] {
    const out: unknown[] = [];
    for (let i = 0; i <= this.mask; i++) {
      const ref = Atomics.load(this.index, i);
      if (ref === EMPTY || ref === DELETED) continue;
      const off = refToOffset(ref);
      const w = off >> 2;
      const keyLen = this.arena32[w];
      const clockLen = this.arena32[w + 1];
      if (keyLen < 0 || clockLen < 0 || off + HEADER_BYTES + keyLen + clockLen > this.arena.length) {
        throw new InvalidArgumentError(`store record at ${off} is out of bounds`);
      }
      out.push(bytesToKeyId(this.arena, off + HEADER_BYTES, keyLen));
      if (withClocks) out.push(decodeClock(this.arena, off + HEADER_BYTES + keyLen, clockLen));
    }
    return out;
  }
}

function refToOffset(ref: number): number {
  return (ref - 1) << 2;
}

function offsetToRef(off: number): number {
  return (off >> 2) + 1;
}

function bytesToKeyId(bytes: Uint8Array, start: number, length: number): string {
  let out = '';
  const CHUNK = 4096;
  for (let i = 0; i < length; i += CHUNK) {
    const end = Math.min(length, i + CHUNK);
    out += String.fromCharCode.apply(null, bytes.subarray(start + i, start + end) as unknown as number[]);
  }
  return out;
}

function checkBuffers(b: StoreBuffers): void {
  const ok =
    b !== null &&
    typeof b === 'object' &&
    [b.meta, b.index, b.hashes, b.arena].every((x) => x instanceof SharedArrayBuffer) &&
    b.meta.byteLength === META_FIELDS * 4;
  if (!ok) throw new InvalidArgumentError('store buffers must be the { meta, index, hashes, arena } of SharedStore.create');
  const meta = new Int32Array(b.meta);
  const slots = meta[M_SLOTS];
  if (
    Atomics.load(meta, M_MAGIC) !== MAGIC ||
    b.index.byteLength !== slots * 4 ||
    b.hashes.byteLength !== slots * 4 ||
    b.arena.byteLength !== meta[M_HALF_BYTES] * 2
  ) {
    throw new InvalidArgumentError('store buffers do not match their meta block: not made by SharedStore.create');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// MapStore: the same contract in one thread, for the deterministic simulator. It stores encoded clocks, so a caller
// mutating a clock after set() or get() cannot change what is stored (as with SharedStore), and it enforces the
// same maxKeys and live-bytes limits (records counted as SharedStore counts them).

export class MapStore implements Store {
  private readonly map = new Map<string, Uint8Array>();
  private readonly maxKeys: number;
  private readonly arenaBytes: number;
  private liveBytes = 0;

  constructor(opts: StoreOptions = { maxKeys: MAX_MAX_KEYS, arenaBytes: MAX_ARENA_BYTES }) {
    checkOptions(opts);
    this.maxKeys = opts.maxKeys;
    this.arenaBytes = opts.arenaBytes;
  }

  get size(): number {
    return this.map.size;
  }

  stats(): StoreStats {
    return { keys: this.map.size, liveBytes: this.liveBytes, arenaBytes: this.arenaBytes, compactions: 0 };
  }

  get(keyId: string): Clock<Stamped> | undefined {
    const bytes = this.map.get(keyId);
    return bytes === undefined ? undefined : decodeClock(bytes, 0, bytes.length);
  }

  getValues(keyId: string): Array<Value | null> | undefined {
    const bytes = this.map.get(keyId);
    return bytes === undefined ? undefined : decodeValues(bytes, 0, bytes.length);
  }

  getEncoded(keyId: string): Uint8Array | undefined {
    return this.map.get(keyId)?.slice();
  }

  has(keyId: string): boolean {
    return this.map.has(keyId);
  }

  set(keyId: string, clock: Clock<Stamped>): void {
    checkKeyId(keyId);
    const size = encodedClockSize(clock);
    const old = this.map.get(keyId);
    const oldBytes = old === undefined ? 0 : align4(HEADER_BYTES + keyId.length + old.length);
    const newBytes = align4(HEADER_BYTES + keyId.length + size);
    if (old === undefined && this.map.size >= this.maxKeys) {
      throw new StoreFullError(`store is full: it holds maxKeys = ${this.maxKeys} keys; delete some or raise maxKeys`, {
        limit: 'maxKeys',
        maxKeys: this.maxKeys,
      });
    }
    const half = Math.floor(this.arenaBytes / 8) * 4;
    if (this.liveBytes - oldBytes + newBytes > half) {
      throw new StoreFullError(
        `store arena is full: live records would take ${this.liveBytes - oldBytes + newBytes} bytes; ` +
          `live records may take at most arenaBytes / 2 = ${half} bytes`,
        { limit: 'arenaBytes', arenaBytes: this.arenaBytes, liveBytes: this.liveBytes, recordBytes: newBytes },
      );
    }
    const bytes = new Uint8Array(size);
    encodeClockInto(clock, bytes, 0, size);
    this.map.set(keyId, bytes);
    this.liveBytes += newBytes - oldBytes;
  }

  delete(keyId: string): boolean {
    const old = this.map.get(keyId);
    if (old === undefined) return false;
    this.map.delete(keyId);
    this.liveBytes -= align4(HEADER_BYTES + keyId.length + old.length);
    return true;
  }

  forEach(fn: (keyId: string, clock: Clock<Stamped>) => void): void {
    for (const [k, bytes] of [...this.map]) fn(k, decodeClock(bytes, 0, bytes.length));
  }

  keys(): string[] {
    return [...this.map.keys()];
  }

  clear(): void {
    this.map.clear();
    this.liveBytes = 0;
  }
}
