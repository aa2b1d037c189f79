// Hinted handoff: writes a fallback node accepted on behalf of a down owner, queued per owner until it returns.
//
// Data layout:
//   owners: Map<owner, OwnerQueue>; an OwnerQueue is a Map<keyId, Hint> in queue order (oldest first) plus its
//   byte total. One hint per key: a second write for the key merges into it with `merge` (the runtime passes DVV
//   sync), so a queue holds at most maxHintsPerOwner keys and maxBytesPerOwner bytes.
//   A hint handed out by take() is in flight until ack (delivered: removed) or nack (failed: back in its place).
//   A write for a key whose hint is in flight is kept apart in `later`, so that the ack of the older payload cannot
//   drop a write that was never sent; on ack `later` becomes a new hint at the back of the queue, on nack it merges.
//   An owner with no hints has no entry.
//
// How to use it:
//   on a sloppy write      add(owner, keyId, payload, nowMs, ownerDownSinceMs, persist)
//   owner is back          for (;;) { const batch = q.take(owner, 64); if (!batch.length) break; send; ack / nack }
//   after a restart        restore(owner, keyId, payload, queuedAtMs) for each persisted hint
//   Hints for a node down longer than maxHintWindowMs are refused (Cassandra's max_hint_window): anti-entropy
//   repairs it instead. Every bound is applied when a write is admitted; `persist` makes admission atomic with a
//   durable copy (a write the hint store refuses is refused here too and leaves nothing behind).
//   The replica never calls expire(): an acknowledged write may live only in a hint, so a hint leaves only by
//   delivery (tombstone reaping waits for it instead; see actors/anti-entropy/reaping.ts). Time is injected (ms), never read.

import { InvalidArgumentError, InvalidConfigError } from '../errors.js';

export interface HintQueueConfig<T> {
  /** most keys hinted per owner */
  maxHintsPerOwner: number;
  /** most payload bytes hinted per owner, as `sizeBytes` counts them */
  maxBytesPerOwner: number;
  /** an owner down longer than this gets no new hints */
  maxHintWindowMs: number;
  /** hints queued longer ago than this are dropped by expire(); default: never (the replica never sets it) */
  hintTtlMs?: number;
  /** combines two payloads for one key; must not lose either (DVV sync) */
  merge: (a: T, b: T) => T;
  /** a payload's size in bytes, for the byte bound */
  sizeBytes: (t: T) => number;
}

export type AddResult = 'queued' | 'merged' | 'rejected-window' | 'rejected-full' | 'rejected-store';

/**
 * Makes an admission durable before the queue changes: gets what the hint for the key would then hold (the payload
 * merged with any later write, as peek() shows it) and when it was first queued; false refuses the write.
 */
export type PersistHint<T> = (view: T, queuedAtMs: number) => boolean;

export interface HintBatchItem<T> {
  keyId: string;
  payload: T;
  queuedAtMs: number;
}

export interface HintCounters {
  /** hints queued as new keys */
  queued: number;
  /** writes merged into a hint already queued */
  merged: number;
  /** hints acked by their owner */
  delivered: number;
  /** hints dropped by expire() */
  expired: number;
  /** writes refused by add(): window passed, queue full, or the durable copy could not be written */
  dropped: number;
  /** hints handed out by take() and not yet acked or nacked (a gauge) */
  inFlight: number;
}

interface Hint<T> {
  payload: T;
  queuedAtMs: number;
  /** sizeBytes(payload) + sizeBytes(later) */
  sizeBytes: number;
  inFlight: boolean;
  later?: T;
  laterQueuedAtMs: number;
}

interface OwnerQueue<T> {
  hints: Map<string, Hint<T>>;
  bytes: number;
}

function positiveInteger(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new InvalidConfigError(`hints ${what} must be a positive integer; got ${n}`);
}

function positiveMs(n: number | undefined, what: string): void {
  if (n === undefined || !(n > 0 && Number.isFinite(n))) {
    throw new InvalidConfigError(`hints ${what} must be a finite number of ms > 0; got ${n}`);
  }
}

export class HintQueue<T> {
  readonly config: Readonly<HintQueueConfig<T>>;
  private readonly owners_ = new Map<number, OwnerQueue<T>>();
  private readonly counters_: HintCounters = {
    queued: 0,
    merged: 0,
    delivered: 0,
    expired: 0,
    dropped: 0,
    inFlight: 0,
  };

  constructor(config: HintQueueConfig<T>) {
    positiveInteger(config.maxHintsPerOwner, 'maxHintsPerOwner');
    positiveInteger(config.maxBytesPerOwner, 'maxBytesPerOwner');
    positiveMs(config.maxHintWindowMs, 'maxHintWindowMs');
    if (config.hintTtlMs !== undefined) positiveMs(config.hintTtlMs, 'hintTtlMs');
    if (typeof config.merge !== 'function' || typeof config.sizeBytes !== 'function') {
      throw new InvalidConfigError('hints merge and sizeBytes must be functions');
    }
    this.config = Object.freeze({ ...config });
  }

  get counters(): Readonly<HintCounters> {
    return { ...this.counters_ };
  }

  add(owner: number, keyId: string, payload: T, nowMs: number, ownerDownSinceMs: number, persist?: PersistHint<T>): AddResult {
    assertOwner(owner);
    assertMs(nowMs, 'nowMs');
    assertMs(ownerDownSinceMs, 'ownerDownSinceMs');
    if (ownerDownSinceMs > nowMs) {
      throw new InvalidArgumentError(`ownerDownSinceMs ${ownerDownSinceMs} is after nowMs ${nowMs}`);
    }
    if (nowMs - ownerDownSinceMs > this.config.maxHintWindowMs) return this.drop('rejected-window');
    const q = this.owners_.get(owner) ?? { hints: new Map<string, Hint<T>>(), bytes: 0 };
    const hint = q.hints.get(keyId);
    const result =
      hint === undefined ? this.addNew(q, keyId, payload, nowMs, persist) : this.addMerge(q, hint, payload, nowMs, persist);
    if (q.hints.size > 0) this.owners_.set(owner, q);
    return result;
  }

  /**
   * Puts back a hint a predecessor persisted, with the time it was first queued (so its age survives a restart).
   * Never refused: it was admitted under the bounds once, and refusing it now would drop an acknowledged write.
   * Restore in ascending queuedAtMs so that take() stays oldest first. A key already queued merges.
   */
  restore(owner: number, keyId: string, payload: T, queuedAtMs: number): void {
    assertOwner(owner);
    assertMs(queuedAtMs, 'queuedAtMs');
    const q = this.owners_.get(owner) ?? { hints: new Map<string, Hint<T>>(), bytes: 0 };
    const old = q.hints.get(keyId);
    const merged = old === undefined ? payload : this.config.merge(old.payload, payload);
    const size = this.payloadBytes(merged);
    q.bytes += size - (old?.sizeBytes ?? 0);
    q.hints.set(keyId, newHint(merged, Math.min(queuedAtMs, old?.queuedAtMs ?? queuedAtMs), size));
    this.owners_.set(owner, q);
  }

  /** Up to `max` hints for `owner` not already in flight, oldest first; they stay queued until ack or nack. */
  take(owner: number, max: number): Array<HintBatchItem<T>> {
    assertOwner(owner);
    if (!Number.isInteger(max) || max < 1) {
      throw new InvalidArgumentError(`take max must be a positive integer; got ${max}`);
    }
    const out: Array<HintBatchItem<T>> = [];
    const q = this.owners_.get(owner);
    if (q === undefined) return out;
    for (const [keyId, hint] of q.hints) {
      if (out.length === max) break;
      if (hint.inFlight) continue;
      hint.inFlight = true;
      this.counters_.inFlight++;
      out.push({ keyId, payload: hint.payload, queuedAtMs: hint.queuedAtMs });
    }
    return out;
  }

  /** The owner stored these hints: drop them. Keys not in flight are ignored. Returns the number acked. */
  ack(owner: number, keyIds: Iterable<string>): number {
    return this.settle(owner, keyIds, (q, keyId, hint) => {
      this.counters_.delivered++;
      q.hints.delete(keyId);
      q.bytes -= hint.sizeBytes;
      if (hint.later !== undefined) {
        // The write that arrived during delivery becomes a hint of its own, at the back of the queue.
        const size = this.config.sizeBytes(hint.later);
        q.hints.set(keyId, newHint(hint.later, hint.laterQueuedAtMs, size));
        q.bytes += size;
      }
    });
  }

  /**
   * Delivery failed: the hints go back to their places in the queue. Returns the number nacked. A write kept apart
   * during delivery merges in here; with a merge no larger than its inputs the byte bound still holds.
   */
  nack(owner: number, keyIds: Iterable<string>): number {
    return this.settle(owner, keyIds, (q, _keyId, hint) => {
      hint.inFlight = false;
      if (hint.later === undefined) return;
      hint.payload = this.config.merge(hint.payload, hint.later);
      hint.later = undefined;
      q.bytes -= hint.sizeBytes;
      hint.sizeBytes = this.config.sizeBytes(hint.payload);
      q.bytes += hint.sizeBytes;
    });
  }

  /**
   * Drops hints queued more than hintTtlMs before nowMs (none in flight). Returns the number dropped; `onDrop` hears
   * each one (a runtime that persists hints forgets them there too).
   */
  expire(nowMs: number, onDrop?: (owner: number, keyId: string) => void): number {
    assertMs(nowMs, 'nowMs');
    const ttlMs = this.config.hintTtlMs;
    if (ttlMs === undefined) return 0;
    let dropped = 0;
    for (const [owner, q] of this.owners_) {
      for (const [keyId, hint] of q.hints) {
        if (hint.inFlight || nowMs - hint.queuedAtMs <= ttlMs) continue;
        q.hints.delete(keyId);
        q.bytes -= hint.sizeBytes;
        dropped++;
        onDrop?.(owner, keyId);
      }
      if (q.hints.size === 0) this.owners_.delete(owner);
    }
    this.counters_.expired += dropped;
    return dropped;
  }

  /** What is hinted for `keyId` on behalf of `owner` (the in-flight payload merged with any later write), if anything. */
  peek(owner: number, keyId: string): T | undefined {
    const hint = this.owners_.get(owner)?.hints.get(keyId);
    if (hint === undefined) return undefined;
    return hint.later === undefined ? hint.payload : this.config.merge(hint.payload, hint.later);
  }

  /** When the hint for (owner, keyId) was first queued (what a restart must keep), if there is one. */
  queuedAtMs(owner: number, keyId: string): number | undefined {
    return this.owners_.get(owner)?.hints.get(keyId)?.queuedAtMs;
  }

  /** Keys hinted for an owner, in flight included. */
  size(owner: number): number {
    return this.owners_.get(owner)?.hints.size ?? 0;
  }

  bytes(owner: number): number {
    return this.owners_.get(owner)?.bytes ?? 0;
  }

  /** True when no owner has a hint: the common case, checked on every read without allocating. */
  get empty(): boolean {
    return this.owners_.size === 0;
  }

  /** Owners with at least one hint, ascending. */
  owners(): number[] {
    return [...this.owners_.keys()].sort((a, b) => a - b);
  }

  private addNew(q: OwnerQueue<T>, keyId: string, payload: T, nowMs: number, persist?: PersistHint<T>): AddResult {
    const size = this.payloadBytes(payload);
    if (q.hints.size >= this.config.maxHintsPerOwner || q.bytes + size > this.config.maxBytesPerOwner) {
      return this.drop('rejected-full');
    }
    if (persist !== undefined && !persist(payload, nowMs)) return this.drop('rejected-store');
    q.hints.set(keyId, newHint(payload, nowMs, size));
    q.bytes += size;
    this.counters_.queued++;
    return 'queued';
  }

  private addMerge(q: OwnerQueue<T>, hint: Hint<T>, payload: T, nowMs: number, persist?: PersistHint<T>): AddResult {
    if (!hint.inFlight) return this.mergeInto(q, hint, 'payload', payload, persist);
    if (hint.later !== undefined) return this.mergeInto(q, hint, 'later', payload, persist);
    const size = this.payloadBytes(payload);
    if (q.bytes + size > this.config.maxBytesPerOwner) return this.drop('rejected-full');
    if (persist !== undefined && !persist(this.config.merge(hint.payload, payload), hint.queuedAtMs)) {
      return this.drop('rejected-store');
    }
    hint.later = payload;
    hint.laterQueuedAtMs = nowMs;
    hint.sizeBytes += size;
    q.bytes += size;
    this.counters_.merged++;
    return 'merged';
  }

  private mergeInto(q: OwnerQueue<T>, hint: Hint<T>, slot: 'payload' | 'later', payload: T, persist?: PersistHint<T>): AddResult {
    const old = hint[slot] as T;
    const merged = this.config.merge(old, payload);
    const growth = this.payloadBytes(merged) - this.config.sizeBytes(old);
    if (q.bytes + growth > this.config.maxBytesPerOwner) return this.drop('rejected-full');
    const view = slot === 'payload' ? merged : this.config.merge(hint.payload, merged);
    if (persist !== undefined && !persist(view, hint.queuedAtMs)) return this.drop('rejected-store');
    hint[slot] = merged;
    hint.sizeBytes += growth;
    q.bytes += growth;
    this.counters_.merged++;
    return 'merged';
  }

  private settle(
    owner: number,
    keyIds: Iterable<string>,
    f: (q: OwnerQueue<T>, keyId: string, h: Hint<T>) => void,
  ): number {
    assertOwner(owner);
    const q = this.owners_.get(owner);
    if (q === undefined) return 0;
    let n = 0;
    for (const keyId of keyIds) {
      const hint = q.hints.get(keyId);
      if (hint === undefined || !hint.inFlight) continue;
      this.counters_.inFlight--;
      f(q, keyId, hint);
      n++;
    }
    if (q.hints.size === 0) this.owners_.delete(owner);
    return n;
  }

  private payloadBytes(payload: T): number {
    const size = this.config.sizeBytes(payload);
    if (!Number.isInteger(size) || size < 0) {
      throw new InvalidArgumentError(`sizeBytes must return a non-negative integer; got ${size}`);
    }
    return size;
  }

  private drop(result: 'rejected-window' | 'rejected-full' | 'rejected-store'): AddResult {
    this.counters_.dropped++;
    return result;
  }
}

function newHint<T>(payload: T, queuedAtMs: number, sizeBytes: number): Hint<T> {
  return { payload, queuedAtMs, sizeBytes, inFlight: false, laterQueuedAtMs: 0 };
}

function assertOwner(owner: number): void {
  if (!Number.isInteger(owner) || owner < 0) {
    throw new InvalidArgumentError(`owner must be a node index, a non-negative integer; got ${owner}`);
  }
}

function assertMs(ms: number, what: string): void {
  if (!Number.isFinite(ms)) throw new InvalidArgumentError(`${what} must be a finite number of ms; got ${ms}`);
}
