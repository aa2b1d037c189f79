// What the client coordinator hands back: option and result types, counters, and the result objects themselves.
// A result's context is encoded only when asked for, and contexts handed out are remembered by their string, so a
// read-modify-write loop that passes one straight back does not decode it again.

import type { StoredClock } from '../protocol.js';
import type { Level } from '../quorum/index.js';
import type { Value } from '../types.js';
import { decodeContext, encodeContext, join, type VersionVector } from '../versioning/dvv.js';
import type { ReadRepairMode } from './get.js';

export interface GetOptions {
  consistency?: Level;
  r?: number;
  timeoutMs?: number;
  readRepair?: ReadRepairMode;
  /** this read only: whether a stand-in's "not found" counts toward R (see ClusterOptions.standInNotFoundOk) */
  standInNotFoundOk?: boolean;
}

export interface PutOptions {
  context?: string;
  consistency?: Level;
  w?: number;
  timeoutMs?: number;
  /**
   * The node that coordinates this write (default: the first of the key's replicas this client can reach). One of the
   * key's replicas coordinates as usual; any other node coordinates as a proxy, as in Cassandra and the PBS paper's
   * WARS model: it keeps no copy and mints the write under a one-off DVV id, which adds an entry to the key's clock
   * per write. A measurement mode (`leaderless pbs --coordinator any`; actors/coordinator/proxy-put.ts), with no
   * failover: the write waits for that node until timeoutMs.
   */
  coordinator?: number;
}

export interface GetResult {
  /** false when no replica asked held a live value (nothing written, or deleted) */
  found: boolean;
  /** every sibling, in the type it was written in; more than one means concurrent writes */
  values: Value[];
  /** opaque causal context: pass it to the next put or delete of this key to supersede what you read */
  context: string;
  /** true when the value was read from a deleted key's tombstone (found is then false) */
  deleted: boolean;
  /** true when every reply that counted came from a primary replica (not a sloppy-quorum fallback) */
  primaryOnly: boolean;
}

export interface PutResult {
  /** replicas whose acknowledgement counted toward W */
  acked: number[];
  primaryOnly: boolean;
  /**
   * The context of the version just written: pass it to the next put of this key to supersede it without a read. It
   * covers exactly `values`: when the coordinator held concurrent siblings, they are covered too (a version vector
   * cannot leave them out), so a writer that reuses the context must merge them first, as after a read.
   */
  context: string;
  /** what the context covers: the value written, plus any concurrent siblings the coordinator held (live values only) */
  values: Value[];
  /**
   * true when `values` holds more than one value (concurrent siblings beside the value written). Tombstones count
   * as no value, as in a read: a blind put after a delete has values [v] and siblings false, though its context
   * also covers the tombstone.
   */
  siblings: boolean;
}

export interface Inspection {
  values: Value[];
  context: string;
  /** versions held, tombstones included */
  versions: number;
  deleted: boolean;
}

export interface ClientCounters {
  gets: number;
  /** consistency-ONE reads served from a replica's store without a message */
  getsLocal: number;
  puts: number;
  failures: number;
  timeouts: number;
  readRepairs: number;
  siblingsReturned: number;
  /** operations tried again because a replica refused them with WRONG_EPOCH (a membership change was under way) */
  epochRetries: number;
  coordinatorFailovers: number;
}


/** Counters of a client that has done nothing yet. */
export function newClientCounters(): ClientCounters {
  return { gets: 0, getsLocal: 0, puts: 0, failures: 0, timeouts: 0, readRepairs: 0, siblingsReturned: 0, coordinatorFailovers: 0, epochRetries: 0 };
}

/**
 * A read's answer. The context is encoded only when asked for: a cache read that never writes back should not pay for
 * it (encoding costs about as much as the whole shared-memory read).
 */
export class ReadResult implements GetResult {
  #clock: StoredClock | null;
  #vv: VersionVector | undefined;
  #context: string | undefined;
  constructor(
    readonly found: boolean,
    readonly values: Value[],
    readonly deleted: boolean,
    readonly primaryOnly: boolean,
    clock: StoredClock | null,
    vv: VersionVector | undefined,
  ) {
    this.#clock = clock;
    this.#vv = vv;
  }
  get context(): string {
    if (this.#context === undefined) {
      const vv = this.#vv ?? (this.#clock === null ? [] : join(this.#clock));
      this.#context = vv.length === 0 ? '' : rememberContext(vv);
    }
    return this.#context;
  }
  toJSON(): GetResult {
    return { found: this.found, values: this.values, context: this.context, deleted: this.deleted, primaryOnly: this.primaryOnly };
  }
  [Symbol.for('nodejs.util.inspect.custom')](): GetResult {
    return this.toJSON();
  }
}

export class WriteResult implements PutResult {
  #vv: VersionVector;
  #context: string | undefined;
  readonly values: Value[];
  readonly siblings: boolean;
  constructor(
    readonly acked: number[],
    readonly primaryOnly: boolean,
    vv: VersionVector,
    siblings: Array<Value | null> | undefined,
    written: Value | null,
  ) {
    this.#vv = vv;
    this.values = (siblings ?? [written]).filter((v): v is Value => v !== null);
    // Live values only, as a read shows them: a tombstone the context also covers (a concurrent delete) is no sibling.
    this.siblings = this.values.length > 1;
  }
  get context(): string {
    return (this.#context ??= this.#vv.length === 0 ? '' : rememberContext(this.#vv));
  }
  toJSON(): PutResult {
    return { acked: this.acked, primaryOnly: this.primaryOnly, context: this.context, values: this.values, siblings: this.siblings };
  }
  [Symbol.for('nodejs.util.inspect.custom')](): PutResult {
    return this.toJSON();
  }
}

/**
 * Contexts this thread handed out, by their string: a read-modify-write loop passes a context straight back, and
 * decoding it again costs more than the rest of the client's work for a put. Bounded: cleared when full.
 */
const CONTEXT_CACHE_MAX = 4096;
const contextCache = new Map<string, VersionVector>();

function rememberContext(vv: VersionVector): string {
  const s = encodeContext(vv);
  if (contextCache.size >= CONTEXT_CACHE_MAX) contextCache.clear();
  contextCache.set(s, vv);
  return s;
}

export function contextOf(s: string): VersionVector {
  return contextCache.get(s) ?? decodeContext(s);
}

export function toResult(clock: StoredClock | null, primaryOnly: boolean, context?: VersionVector): GetResult {
  if (clock === null) return new ReadResult(false, [], false, primaryOnly, null, context);
  const values: Value[] = [];
  let tombstones = 0;
  for (const e of clock.entries) {
    for (const s of e.values) {
      if (s.v === null) tombstones++;
      else values.push(s.v);
    }
  }
  for (const s of clock.anonymous) {
    if (s.v === null) tombstones++;
    else values.push(s.v);
  }
  return new ReadResult(values.length > 0, values, values.length === 0 && tombstones > 0, primaryOnly, clock, context);
}

export function toInspection(clock: StoredClock): Inspection {
  const r = toResult(clock, true);
  let versions = clock.anonymous.length;
  for (const e of clock.entries) versions += e.values.length;
  return { values: r.values, context: r.context, versions, deleted: r.deleted };
}

