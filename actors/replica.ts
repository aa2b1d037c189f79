// The replica actor: owns one store, answers reads, merges replicated versions, and coordinates writes.
//
// handle(message, nowMs, out) appends the sends it wants to `out` and returns; it never posts, sleeps or reads a
// clock, so the same object runs in a worker thread (runtime/replica-worker.ts) and in the simulator (runtime/sim/).
//
// State: the store (the only durable part: it lives in shared memory in the thread runtime and survives a crash of
// the actor), the in-flight write coordinators (bounded by maxPendingPuts), hinted writes held for down primaries
// (bounded), and counters. A replica's DVV id (`replicaId`) names this incarnation of the store: a wiped node must
// come back under a new id, or it would mint dots that collide with its old ones still held by its peers.

import { LeaderlessError, OverloadedError, type WireError } from './errors.js';
import type { Address, Message, PutRequest, Send, StoredClock } from './protocol.js';
import { PutFsm } from './coordinator/put.js';
import type { ConflictMode, Stamped } from './types.js';
import { newClock, newWithContext, sync, updateWith } from './versioning/dvv.js';
import { resolveLww, stampedEqual } from './versioning/lww.js';

/** What the actor needs of its store. The runtime adapts SharedStore (writer side) or a Map to it. */
export interface ReplicaStore {
  get(keyId: string): StoredClock | undefined;
  set(keyId: string, clock: StoredClock): void;
}

export interface ReplicaOptions {
  node: Address;
  /** DVV id of this replica incarnation, e.g. "2" or "2.1" after a wipe */
  replicaId: string;
  conflicts: ConflictMode;
  /** bound on write coordinators in flight at this replica; more is refused with OVERLOADED */
  maxPendingPuts: number;
}

export interface ReplicaCounters {
  puts: number;
  putsOk: number;
  putsFailed: number;
  putsTimedOut: number;
  replicates: number;
  gets: number;
  repairs: number;
  hintedWrites: number;
  storeErrors: number;
}

export class Replica {
  readonly node: Address;
  readonly replicaId: string;
  private readonly conflicts: ConflictMode;
  private readonly maxPendingPuts: number;
  private readonly pending = new Map<number, PutFsm>();
  private nextLocalReq = 1;
  readonly counters: ReplicaCounters = {
    puts: 0,
    putsOk: 0,
    putsFailed: 0,
    putsTimedOut: 0,
    replicates: 0,
    gets: 0,
    repairs: 0,
    hintedWrites: 0,
    storeErrors: 0,
  };

  constructor(
    private readonly store: ReplicaStore,
    options: ReplicaOptions,
  ) {
    this.node = options.node;
    this.replicaId = options.replicaId;
    this.conflicts = options.conflicts;
    this.maxPendingPuts = options.maxPendingPuts;
  }

  get pendingPuts(): number {
    return this.pending.size;
  }

  handle(msg: Message, nowMs: number, out: Send[]): void {
    switch (msg.type) {
      case 'put':
        return this.onPut(msg, nowMs, out);
      case 'replicate': {
        this.counters.replicates++;
        if (msg.hintFor !== undefined) this.counters.hintedWrites++;
        const error = this.merge(msg.key, msg.clock);
        const ack = { type: 'replicate-ack' as const, req: msg.req, from: this.node, ok: error === undefined };
        out.push({ to: msg.from, msg: error ? { ...ack, error } : ack });
        return;
      }
      case 'replicate-ack': {
        const fsm = this.pending.get(msg.req);
        if (fsm === undefined) return; // late ack of a finished write
        fsm.onAck(msg.from, msg.ok, out);
        this.retire(msg.req, fsm);
        return;
      }
      case 'get': {
        this.counters.gets++;
        out.push({
          to: msg.from,
          msg: { type: 'get-reply', req: msg.req, from: this.node, key: msg.key, clock: this.store.get(msg.key) ?? null },
        });
        return;
      }
      case 'repair': {
        this.counters.repairs++;
        const error = this.merge(msg.key, msg.clock);
        if (msg.req >= 0) {
          out.push({ to: msg.from, msg: { type: 'repair-ack', req: msg.req, from: this.node, ok: error === undefined } });
        }
        return;
      }
      case 'tick':
        for (const [req, fsm] of this.pending) {
          const wasCollecting = fsm.state === 'collect';
          if (fsm.onTick(msg.nowMs, out) && wasCollecting) this.counters.putsTimedOut++;
          this.retire(req, fsm);
        }
        return;
      case 'put-reply':
      case 'get-reply':
      case 'repair-ack':
        return; // addressed to clients; a replica never receives these
    }
  }

  private onPut(msg: PutRequest, nowMs: number, out: Send[]): void {
    this.counters.puts++;
    if (this.pending.size >= this.maxPendingPuts) {
      const error = new OverloadedError(
        `replica ${this.node} is coordinating ${this.pending.size} writes, its limit (maxPendingPuts); retry later`,
        { node: this.node, limit: this.maxPendingPuts },
      );
      this.counters.putsFailed++;
      out.push({
        to: msg.from,
        msg: { type: 'put-reply', req: msg.req, from: this.node, ok: false, error: error.toWire(), acked: [], primaryOnly: true, context: [] },
      });
      return;
    }
    const localReq = this.nextLocalReq++;
    const fsm = new PutFsm(this.node, localReq, msg, nowMs);
    const local = this.store.get(msg.key);
    // A write is stamped later than every version this replica holds for the key, so that in lww mode a write that
    // supersedes a value also wins over it even when clocks across threads disagree (see actors/versioning/lww.ts).
    const stamped: Stamped = { v: msg.value, ts: Math.max(nowMs, maxTs(local) + 1e-3), by: this.replicaId };
    const fresh = msg.context === null ? newClock(stamped) : newWithContext(msg.context, stamped);
    let clock = updateWith(fresh, local ?? { entries: [], anonymous: [] }, this.replicaId);
    if (this.conflicts === 'lww') clock = resolveLww(clock);
    const error = this.write(msg.key, clock);
    if (error !== undefined) {
      fsm.failLocal(error, out);
      this.counters.putsFailed++;
      return;
    }
    this.pending.set(localReq, fsm);
    fsm.start(clock, out);
    this.retire(localReq, fsm);
  }

  /** Merges a version from elsewhere (replication, read repair, hint delivery) into the local copy. */
  private merge(key: string, incoming: StoredClock): WireError | undefined {
    const local = this.store.get(key);
    let clock = local === undefined ? incoming : sync(local, incoming, stampedEqual);
    if (this.conflicts === 'lww') clock = resolveLww(clock);
    return this.write(key, clock);
  }

  private write(key: string, clock: StoredClock): WireError | undefined {
    try {
      this.store.set(key, clock);
      return undefined;
    } catch (e) {
      this.counters.storeErrors++;
      if (e instanceof LeaderlessError) return e.toWire();
      throw e;
    }
  }

  private retire(req: number, fsm: PutFsm): void {
    if (fsm.state !== 'done') return;
    // counted once, when the FSM leaves the table
    if (this.pending.delete(req)) {
      if (fsm.succeeded) this.counters.putsOk++;
      else this.counters.putsFailed++;
    }
  }
}

function maxTs(clock: StoredClock | undefined): number {
  let ts = -Infinity;
  if (clock === undefined) return ts;
  for (const e of clock.entries) for (const v of e.values) if (v.ts > ts) ts = v.ts;
  for (const v of clock.anonymous) if (v.ts > ts) ts = v.ts;
  return ts;
}
