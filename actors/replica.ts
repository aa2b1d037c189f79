// The replica actor: owns one store, answers reads, merges replicated versions, and coordinates writes.
//
// handle(message, nowMs, out) appends the sends it wants to `out` and returns; it never posts, sleeps or reads a
// clock, so the same object runs in a worker thread (runtime/replica-worker.ts) and in the simulator (runtime/sim/).
//
// State: the store (the only durable part: it lives in shared memory in the thread runtime and survives a crash of
// the actor), the in-flight write coordinators (bounded by maxPendingPuts), hinted writes held for down primaries
// (bounded), and counters. A replica's DVV id (`replicaId`) names this incarnation of the store: a wiped node must
// come back under a new id, or it would mint dots that collide with its old ones still held by its peers.

import { InvalidArgumentError, LeaderlessError, OverloadedError, type WireError } from './errors.js';
import { hash32 } from './hash.js';
import { CLIENT_BASE, type Address, type Message, type MessageType, type PutRequest, type Send, type StoredClock } from './protocol.js';
import { LinkDetector, type LinkOptions } from './link-detector.js';
import { PutFsm } from './coordinator/put.js';
import type { ConflictMode, Stamped } from './types.js';
import { newClock, newWithContext, sync, updateWith } from './versioning/dvv.js';
import { resolveLww, stampedEqual } from './versioning/lww.js';
import { encodedClockSize } from './versioning/codec.js';
import { HintQueue } from './hints.js';
import { AntiEntropy, type AntiEntropyOptions } from './anti-entropy/index.js';

/** What the actor needs of its store. The runtime adapts SharedStore (writer side) or a Map to it. */
export interface ReplicaStore {
  get(keyId: string): StoredClock | undefined;
  set(keyId: string, clock: StoredClock): void;
  /** removes a key (anti-entropy reaps tombstones with it); a store without it never reaps */
  delete?(keyId: string): boolean;
}

/**
 * Where hinted writes persist, so that a hint survives a crash of the node holding it (an acknowledged write may
 * live only there). Keys are hintKey(owner, keyId). The runtime gives the same store back to a restarted actor.
 */
export interface HintStore {
  get(keyId: string): StoredClock | undefined;
  set(keyId: string, clock: StoredClock): void;
  delete(keyId: string): boolean;
  forEach(fn: (keyId: string, clock: StoredClock) => void): void;
}

/** A hint's key in the HintStore: the owner in two bytes, then the key id (key ids are one char per byte). */
export function hintKey(owner: number, keyId: string): string {
  return String.fromCharCode((owner >> 8) & 0xff, owner & 0xff) + keyId;
}

/** The hint store's record of dotFloor: owner 0xffff, which no node has (at most MAX_NODES), and an empty key. */
const FLOOR_KEY = hintKey(0xffff, '');

function parseHintKey(k: string): { owner: number; keyId: string } {
  return { owner: (k.charCodeAt(0) << 8) | k.charCodeAt(1), keyId: k.slice(2) };
}

/**
 * A persisted hint carries the time it was first queued as one extra clock entry under this id (no replica id has
 * an '@'), its counter the time in whole ms, so that a restart keeps the hint's age. The runtimes give actors times
 * that mean the same in every worker and across restarts (wall-clock ms in threads, virtual ms in the simulator).
 */
const QUEUED_AT_ID = '@queuedAt';


function withQueuedAt(clock: StoredClock, queuedAtMs: number): StoredClock {
  return { entries: [...clock.entries, { id: QUEUED_AT_ID, n: Math.max(0, Math.floor(queuedAtMs)), values: [] }], anonymous: clock.anonymous };
}

/** The persisted hint's clock and queued-at time; a record without the entry (older format) counts as queued now. */
function splitQueuedAt(record: StoredClock, nowMs: number): { clock: StoredClock; queuedAtMs: number } {
  const at = record.entries.find((e) => e.id === QUEUED_AT_ID);
  if (at === undefined) return { clock: record, queuedAtMs: nowMs };
  // a clock that moved backwards across the restart must not make a hint younger than zero
  return { clock: { entries: record.entries.filter((e) => e !== at), anonymous: record.anonymous }, queuedAtMs: Math.min(at.n, nowMs) };
}

export interface HintOptions {
  /** most keys hinted per down owner */
  maxHintsPerOwner: number;
  /** most bytes (encoded clocks) hinted per down owner */
  maxBytesPerOwner: number;
  /** an owner down longer than this gets no new hints (Cassandra's max_hint_window; default 3 h) */
  maxHintWindowMs: number;
  /**
   * Deprecated, no effect. Hints were once dropped at this age, which lost writes acknowledged only through a hint;
   * now a hint leaves only by delivery, and tombstone reaping waits for it (see README, "Hints and deletes").
   */
  hintTtlMs?: number;
  /** hints sent to a returning owner per handoff message */
  handoffBatch: number;
  /** a handoff not acked within this is retried */
  handoffTimeoutMs: number;
}

export const DEFAULT_HINTS: HintOptions = {
  maxHintsPerOwner: 100_000,
  maxBytesPerOwner: 64 << 20,
  maxHintWindowMs: 3 * 3600_000,
  handoffBatch: 256,
  handoffTimeoutMs: 2000,
};

export interface ReplicaOptions {
  node: Address;
  /** DVV id of this replica incarnation, e.g. "2" or "2.1" after a wipe */
  replicaId: string;
  conflicts: ConflictMode;
  /** bound on write coordinators in flight at this replica; more is refused with OVERLOADED */
  maxPendingPuts: number;
  hints?: HintOptions;
  /** anti-entropy (Merkle trees, exchanges, tombstone reaping); absent: off, ae-* requests are aborted */
  antiEntropy?: Omit<AntiEntropyOptions, 'node'>;
  /** per-link failure detection of peers, from the messages themselves (defaults: DEFAULT_LINK_OPTIONS) */
  links?: Partial<LinkOptions>;
}

/** Requests to a peer that it answers at once: one left unanswered is what makes the link down (link-detector.ts). */
const ANSWERED: ReadonlySet<MessageType> = new Set<MessageType>(['replicate', 'handoff', 'ae-tree', 'ae-keys', 'ae-sync', 'ae-tombs']);

interface HandoffInFlight {
  owner: number;
  keys: string[];
  deadlineMs: number;
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
  hintsRefused: number;
  handoffsSent: number;
  handoffsReceived: number;
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
    hintsRefused: 0,
    handoffsSent: 0,
    handoffsReceived: 0,
    storeErrors: 0,
  };
  /** hinted writes held for down owners (sloppy quorum), delivered when they return */
  readonly hints: HintQueue<StoredClock>;
  /** anti-entropy state, null when off; every store write goes through its onWrite hook */
  readonly antiEntropy: AntiEntropy | null;
  private readonly hintOptions: HintOptions;
  /** when this replica first saw each node down (from ticks); absent = up */
  private readonly downSince = new Map<number, number>();
  private readonly handoffs = new Map<number, HandoffInFlight>();
  private readonly handoffOwners = new Set<number>();
  /** which peers this replica can reach now, learnt from what it sends them and hears back */
  readonly links: LinkDetector;

  /** the key's primaries by its hash (from the anti-entropy options); absent: this replica cannot tell what it owns */
  private readonly placement: ((keyHash: number) => readonly number[]) | undefined;
  private recovered = false;
  /**
   * The highest counter this replica's own id had in any key it reaped. A key that is reaped and then written again
   * starts its dots above it: a replica that still holds the old tombstone would otherwise take the new dot for one
   * it has already seen (and hide the write). Persisted in the hint store under FLOOR_KEY, so a restart keeps it.
   */
  private dotFloor = 0;

  constructor(
    private readonly store: ReplicaStore,
    options: ReplicaOptions,
    /** durable home of hints (optional: without it hints live in memory only and die with the actor) */
    private readonly hintStore?: HintStore,
  ) {
    this.node = options.node;
    this.replicaId = options.replicaId;
    this.conflicts = options.conflicts;
    this.maxPendingPuts = options.maxPendingPuts;
    this.hintOptions = options.hints ?? DEFAULT_HINTS;
    this.links = new LinkDetector(options.links);
    this.hints = new HintQueue<StoredClock>({
      maxHintsPerOwner: this.hintOptions.maxHintsPerOwner,
      maxBytesPerOwner: this.hintOptions.maxBytesPerOwner,
      maxHintWindowMs: this.hintOptions.maxHintWindowMs,
      merge: (a, b) => this.resolve(sync(a, b, stampedEqual)),
      sizeBytes: encodedClockSize,
    });
    const ae = options.antiEntropy;
    this.placement = ae?.placement;
    this.antiEntropy =
      ae === undefined
        ? null
        : new AntiEntropy(
            {
              get: (k) => this.store.get(k),
              delete: (k) => this.reap(k),
              merge: (k, c) => this.merge(k, c) === undefined,
              hinted: (k) => this.hinted(k),
            },
            { ...ae, node: this.node },
          );
  }

  get pendingPuts(): number {
    return this.pending.size;
  }

  handle(msg: Message, nowMs: number, out: Send[]): void {
    const from = msg.type === 'tick' ? -1 : msg.from;
    if (from >= 0 && from < CLIENT_BASE && from !== this.node) this.links.heard(from, nowMs);
    this.links.at(nowMs); // the view in-flight writes consult (e.g. on a nack) is current
    const sent = out.length;
    this.dispatch(msg, nowMs, out);
    for (let i = sent; i < out.length; i++) {
      const s = out[i];
      if (s.to < CLIENT_BASE && ANSWERED.has(s.msg.type)) this.links.sent(s.to, nowMs);
    }
  }

  private dispatch(msg: Message, nowMs: number, out: Send[]): void {
    if (!this.recovered) this.recoverHints(nowMs);
    switch (msg.type) {
      case 'put':
        return this.onPut(msg, nowMs, out);
      case 'replicate': {
        this.counters.replicates++;
        const error =
          msg.hintFor !== undefined
            ? this.hint(msg.hintFor, msg.key, msg.clock, nowMs)
            : (this.foreign(msg.key) ?? this.merge(msg.key, msg.clock));
        const ack = { type: 'replicate-ack' as const, req: msg.req, from: this.node, ok: error === undefined };
        out.push({ to: msg.from, msg: error ? { ...ack, error } : ack });
        return;
      }
      case 'handoff': {
        this.counters.handoffsReceived++;
        let ok = true;
        for (const e of msg.entries) if (this.merge(e.key, e.clock) !== undefined) ok = false;
        out.push({ to: msg.from, msg: { type: 'handoff-ack', req: msg.req, from: this.node, ok } });
        return;
      }
      case 'handoff-ack': {
        const h = this.handoffs.get(msg.req);
        if (h === undefined) return;
        this.handoffs.delete(msg.req);
        this.handoffOwners.delete(h.owner);
        if (msg.ok) {
          this.hints.ack(h.owner, h.keys);
          for (const k of h.keys) this.persistHint(h.owner, k);
        } else this.hints.nack(h.owner, h.keys);
        this.handoff(h.owner, nowMs, out); // keep draining while the owner is up
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
          msg: { type: 'get-reply', req: msg.req, from: this.node, key: msg.key, clock: this.read(msg.key) },
        });
        return;
      }
      case 'repair': {
        this.counters.repairs++;
        const error = this.foreign(msg.key) ?? this.merge(msg.key, msg.clock);
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
        this.onMembership(msg.down ?? [], msg.nowMs, out);
        this.antiEntropy?.tick(msg.nowMs, msg.down ?? [], out);
        return;
      case 'ae-tree':
      case 'ae-keys':
      case 'ae-sync':
      case 'ae-tombs':
      case 'ae-hints':
        if (this.antiEntropy !== null) return this.antiEntropy.handle(msg, nowMs, out);
        out.push({ to: msg.from, msg: { type: 'ae-abort', req: msg.req, from: this.node, reason: `anti-entropy is off on node ${this.node}` } });
        return;
      case 'ae-tree-reply':
      case 'ae-keys-reply':
      case 'ae-sync-reply':
      case 'ae-tombs-reply':
      case 'ae-hints-reply':
      case 'ae-abort':
        return this.antiEntropy?.handle(msg, nowMs, out);
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
    // A coordinator standing in for a down primary (every primary was down) keeps the write only as a hint for that
    // primary: a copy in its store would escape anti-entropy and tombstone reaping (a reaped delete would come back
    // through it). With no copy left once the hint is delivered, it must still never mint the same dot twice for the
    // key (DVV sync would take two writes for one and drop one), so each such write gets a DVV id of its own.
    const hintFor = msg.targets.find((t) => t.node === this.node)?.hintFor;
    const id = hintFor === undefined ? (this.foreign(msg.key) ?? this.replicaId) : this.standInId();
    if (typeof id !== 'string') return this.failPut(fsm, id, out);
    const local = hintFor === undefined ? this.withFloor(this.store.get(msg.key)) : (this.read(msg.key) ?? undefined);
    // A write is stamped later than every version this replica holds for the key, so that in lww mode a write that
    // supersedes a value also wins over it even when clocks across threads disagree (see actors/versioning/lww.ts).
    const stamped: Stamped = { v: msg.value, ts: Math.max(nowMs, maxTs(local) + 1e-3), by: this.replicaId };
    const fresh = msg.context === null ? newClock(stamped) : newWithContext(msg.context, stamped);
    let clock = updateWith(fresh, local ?? { entries: [], anonymous: [] }, id);
    if (this.conflicts === 'lww') clock = resolveLww(clock);
    // refused at admission (e.g. past the max hint window): nothing was kept
    const error = hintFor === undefined ? this.write(msg.key, clock) : this.hint(hintFor, msg.key, clock, nowMs);
    if (error !== undefined) return this.failPut(fsm, error, out);
    this.pending.set(localReq, fsm);
    fsm.start(clock, out, this.links.at(nowMs));
    this.retire(localReq, fsm);
  }

  private failPut(fsm: PutFsm, error: WireError, out: Send[]): void {
    fsm.failLocal(error, out);
    this.counters.putsFailed++;
  }

  /**
   * The DVV id of one write coordinated as a stand-in: `${replicaId}~${n}`, n one above dotFloor, which is raised to
   * n and persisted first, so no restart hands the same id out again. A fresh id claims no history: under
   * replicaId itself the new dot would claim every earlier one, and hide a write this node coordinated before.
   */
  private standInId(): string | WireError {
    const n = this.dotFloor + 1;
    try {
      this.hintStore?.set(FLOOR_KEY, { entries: [{ id: this.replicaId, n, values: [] }], anonymous: [] });
    } catch (e) {
      this.counters.storeErrors++;
      if (e instanceof LeaderlessError) return e.toWire();
      throw e;
    }
    this.dotFloor = n;
    return `${this.replicaId}~${n}`;
  }

  /** An error when the key is not this node's (by the ring): it keeps data for another node's key only as a hint. */
  private foreign(key: string): WireError | undefined {
    if (this.placement === undefined) return undefined; // no ring given: it cannot tell
    const owners = this.placement(hash32(key));
    if (owners.includes(this.node)) return undefined;
    return new InvalidArgumentError(
      `replica ${this.node} does not own the key (its replicas are ${owners.join(',')}) and was not sent it as a hint: ` +
        'a node keeps data for a key it does not own only as a hint',
      { node: this.node, owners: [...owners] },
    ).toWire();
  }

  /** What a read sees here: the store, plus any hint this node holds for the key as a sloppy-quorum fallback. */
  private read(key: string): StoredClock | null {
    let clock = this.store.get(key) ?? null;
    if (this.hints.empty) return clock; // every get passes here: no sorted owner list when there is nothing hinted
    for (const owner of this.hints.owners()) {
      const hinted = this.hints.peek(owner, key);
      if (hinted !== undefined) clock = clock === null ? hinted : this.resolve(sync(clock, hinted, stampedEqual));
    }
    return clock;
  }

  /** A sloppy-quorum write for a down owner: held as a hint, not in the store (the key is not this node's). */
  private hint(owner: number, key: string, clock: StoredClock, nowMs: number): WireError | undefined {
    if (owner === this.node) return this.merge(key, clock); // the owner is back and is us: store it
    const since = this.downSince.get(owner) ?? nowMs;
    let storeError: WireError | undefined;
    // the durable copy is written before the queue changes: a write the hint store refuses leaves nothing behind
    const persist = (view: StoredClock, queuedAtMs: number): boolean =>
      (storeError = this.persistView(owner, key, view, queuedAtMs)) === undefined;
    const result = this.hints.add(owner, key, clock, nowMs, since, this.hintStore === undefined ? undefined : persist);
    if (result === 'queued' || result === 'merged') {
      this.counters.hintedWrites++;
      return undefined;
    }
    this.counters.hintsRefused++;
    if (result === 'rejected-store') return storeError;
    const why =
      result === 'rejected-window'
        ? `node ${owner} has been down longer than the max hint window (${this.hintOptions.maxHintWindowMs} ms)`
        : `the hint queue for node ${owner} is full (${this.hintOptions.maxHintsPerOwner} keys, ${this.hintOptions.maxBytesPerOwner} bytes)`;
    return new OverloadedError(`replica ${this.node} refused a hinted write: ${why}`, { owner }).toWire();
  }

  /** Whether this node holds a hint for the key, for any owner: tombstone reaping waits until none does. */
  private hinted(key: string): boolean {
    if (this.hints.empty) return false;
    return this.hints.owners().some((owner) => this.hints.peek(owner, key) !== undefined);
  }

  /** Writes the hint for (owner, key) as it now stands to the hint store, or forgets it there if it is gone. */
  private persistHint(owner: number, key: string): WireError | undefined {
    const current = this.hints.peek(owner, key);
    if (current !== undefined) return this.persistView(owner, key, current, this.hints.queuedAtMs(owner, key)!);
    return this.storeCall(() => this.hintStore?.delete(hintKey(owner, key)));
  }

  private persistView(owner: number, key: string, view: StoredClock, queuedAtMs: number): WireError | undefined {
    return this.storeCall(() => this.hintStore?.set(hintKey(owner, key), withQueuedAt(view, queuedAtMs)));
  }

  /** Runs a hint-store write; a store error is counted and returned (a refusal), anything else is a bug and throws. */
  private storeCall(f: () => unknown): WireError | undefined {
    try {
      f();
      return undefined;
    } catch (e) {
      this.counters.storeErrors++;
      if (e instanceof LeaderlessError) return e.toWire();
      throw e;
    }
  }

  /**
   * A restarted actor takes back the hints its predecessor persisted, each with the time it was first queued (a
   * restart must not make a hint young again), oldest first. It also makes sure the dot floor has its record, so
   * that a hint store filled by hints still has the floor's key when a reap must raise it.
   */
  private recoverHints(nowMs: number): void {
    this.recovered = true;
    const found: Array<{ owner: number; keyId: string; clock: StoredClock; queuedAtMs: number }> = [];
    let floorKept = false;
    this.hintStore?.forEach((k, record) => {
      if (k === FLOOR_KEY) {
        this.dotFloor = record.entries[0]?.n ?? 0;
        floorKept = true;
        return;
      }
      found.push({ ...parseHintKey(k), ...splitQueuedAt(record, nowMs) });
    });
    found.sort((a, b) => a.queuedAtMs - b.queuedAtMs);
    for (const h of found) this.hints.restore(h.owner, h.keyId, h.clock, h.queuedAtMs);
    if (!floorKept) this.persistFloor(this.dotFloor);
  }

  private persistFloor(n: number): WireError | undefined {
    return this.storeCall(() => this.hintStore?.set(FLOOR_KEY, { entries: [{ id: this.replicaId, n, values: [] }], anonymous: [] }));
  }

  /**
   * Anti-entropy reaps a tombstone: remember the counter our id reached in it first (see dotFloor). When the floor
   * cannot be persisted the reap is refused (false): the tombstone stays and only garbage collection waits.
   */
  private reap(key: string): boolean {
    if (this.store.delete === undefined) return false;
    const clock = this.store.get(key);
    const own = clock?.entries.find((e) => e.id === this.replicaId)?.n ?? 0;
    if (own > this.dotFloor) {
      // the floor must outlive the actor: without a hint store a restart could mint below it again
      if (this.persistFloor(own) !== undefined) return false;
      this.dotFloor = own;
    }
    return this.store.delete(key);
  }

  /** The local clock a write builds on: where our id has no entry yet, one at dotFloor, so the new dot lands above it. */
  private withFloor(local: StoredClock | undefined): StoredClock | undefined {
    if (this.dotFloor === 0 || local?.entries.some((e) => e.id === this.replicaId)) return local;
    const floor: StoredClock = { entries: [{ id: this.replicaId, n: this.dotFloor, values: [] }], anonymous: [] };
    return local === undefined ? floor : sync(local, floor, stampedEqual);
  }

  /**
   * Tracks who is down; hands hints off to owners that are back; retries handoffs that timed out. Hints never
   * expire: an acknowledged write may live only here (see README, "Hints and deletes").
   */
  private onMembership(down: readonly number[], nowMs: number, out: Send[]): void {
    for (const n of down) if (!this.downSince.has(n)) this.downSince.set(n, nowMs);
    for (const n of this.downSince.keys()) if (!down.includes(n)) this.downSince.delete(n);
    for (const [req, h] of this.handoffs) {
      if (nowMs < h.deadlineMs) continue;
      this.handoffs.delete(req);
      this.handoffOwners.delete(h.owner);
      this.hints.nack(h.owner, h.keys);
    }
    for (const owner of this.hints.owners()) {
      if (!this.downSince.has(owner) && !this.handoffOwners.has(owner)) this.handoff(owner, nowMs, out);
    }
  }

  /** Sends the next batch of hints to a returning owner; one batch in flight per owner. */
  private handoff(owner: number, nowMs: number, out: Send[]): void {
    if (this.downSince.has(owner) || this.handoffOwners.has(owner)) return;
    const batch = this.hints.take(owner, this.hintOptions.handoffBatch);
    if (batch.length === 0) return;
    const req = this.nextLocalReq++;
    this.handoffs.set(req, { owner, keys: batch.map((b) => b.keyId), deadlineMs: nowMs + this.hintOptions.handoffTimeoutMs });
    this.handoffOwners.add(owner);
    this.counters.handoffsSent++;
    out.push({
      to: owner,
      msg: { type: 'handoff', req, from: this.node, entries: batch.map((b) => ({ key: b.keyId, clock: b.payload })) },
    });
  }

  private resolve(clock: StoredClock): StoredClock {
    return this.conflicts === 'lww' ? resolveLww(clock) : clock;
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
      this.antiEntropy?.onWrite(key, clock);
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
