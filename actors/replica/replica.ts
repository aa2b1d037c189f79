// The replica actor: owns one store, answers reads, merges replicated versions, and coordinates writes.
//
// handle(message, nowMs, out) appends the sends it wants to `out` and returns; it never posts, sleeps or reads a
// clock, so the same object runs in a worker thread (runtime/replica-worker.ts) and in the simulator (runtime/sim/).
//
// State: the store (the only durable part: it lives in shared memory in the thread runtime and survives a crash of
// the actor), the in-flight write coordinators (bounded by maxPendingPuts), hinted writes held for down primaries
// (bounded; hinting.ts), and counters (stats.ts). A replica's DVV id (`replicaId`) names this incarnation of the
// store: a wiped node must come back under a new id, or it would mint dots that collide with its old ones still held
// by its peers.

import { InvalidArgumentError, OverloadedError, type WireError } from '../errors.js';
import { hash32 } from '../hash.js';
import { isClient, type Address, type Message, type MessageType, type PutRequest, type Send, type StoredClock } from '../protocol.js';
import { LinkDetector } from '../link-detector.js';
import { PutFsm } from '../coordinator/put.js';
import { proxyClock } from '../coordinator/proxy-put.js';
import type { ConflictMode, Stamped } from '../types.js';
import { newClock, newWithContext, sync, updateWith } from '../versioning/dvv.js';
import { resolveLww, stampedEqual } from '../versioning/lww.js';
import { encodedClockSize } from '../versioning/codec.js';
import { AntiEntropy, rangesOf } from '../anti-entropy/index.js';
import type { MembershipCall, MembershipReply } from '../membership/calls.js';
import { DotFloor } from './dot-floor.js';
import { Hinting } from './hinting.js';
import { HintQueue } from './hints.js';
import { DEFAULT_HINTS, type ReplicaOptions } from './options.js';
import { ReplicaMembership, type MembershipHost } from './membership.js';
import { foreignKeyError } from './ownership.js';
import { newReplicaCounters, type ReplicaCounters } from './stats.js';
import { storeError, type HintStore, type ReplicaStore } from './stores.js';

/** Requests to a peer that it answers at once: one left unanswered is what makes the link down (link-detector.ts). */
const ANSWERED: ReadonlySet<MessageType> = new Set<MessageType>(['replicate', 'handoff', 'ae-tree', 'ae-keys', 'ae-sync', 'ae-tombs']);

type Of<T extends Message['type']> = Extract<Message, { type: T }>;

export class Replica {
  readonly node: Address;
  /** the DVV id this incarnation was started with (replicaId adds the ring epoch to it after a membership change) */
  private readonly baseId: string;
  private readonly conflicts: ConflictMode;
  private readonly maxPendingPuts: number;
  private readonly pending = new Map<number, PutFsm>();
  private nextLocalReq = 1;
  readonly counters: ReplicaCounters = newReplicaCounters();
  /** hinted writes held for down owners (sloppy quorum), delivered when they return */
  readonly hints: HintQueue<StoredClock>;
  /** anti-entropy state, null when off; every store write goes through its onWrite hook (rebuilt after a change) */
  antiEntropy: AntiEntropy | null;
  /** the ring as this replica sees it, and its part in membership changes; null: the ring never changes */
  readonly membership: ReplicaMembership | null;
  /** which peers this replica can reach now, learnt from what it sends them and hears back */
  readonly links: LinkDetector;
  private readonly hinting: Hinting;
  private readonly floor: DotFloor;
  /** the key's primaries by its hash (from the anti-entropy options); absent: this replica cannot tell what it owns */
  private readonly placement: ((keyHash: number) => readonly number[]) | undefined;
  private recovered = false;
  /** the time of the message being handled (for calls made from inside it) */
  private lastNowMs = 0;

  constructor(
    private readonly store: ReplicaStore,
    options: ReplicaOptions,
    /** durable home of hints (optional: without it hints live in memory only and die with the actor) */
    hintStore?: HintStore,
  ) {
    this.node = options.node;
    this.baseId = options.replicaId;
    this.conflicts = options.conflicts;
    this.maxPendingPuts = options.maxPendingPuts;
    const hintOptions = options.hints ?? DEFAULT_HINTS;
    this.links = new LinkDetector(options.links);
    this.hints = new HintQueue<StoredClock>({
      maxHintsPerOwner: hintOptions.maxHintsPerOwner,
      maxBytesPerOwner: hintOptions.maxBytesPerOwner,
      maxHintWindowMs: hintOptions.maxHintWindowMs,
      merge: (a, b) => this.resolve(sync(a, b, stampedEqual)),
      sizeBytes: encodedClockSize,
    });
    this.floor = new DotFloor(() => this.replicaId, hintStore, this.counters);
    const nextReq = (): number => this.nextLocalReq++;
    this.hinting = new Hinting(this.node, this.hints, hintOptions, this.counters, this.floor, nextReq, hintStore);
    const ae = options.antiEntropy;
    this.aeOptions = ae;
    this.antiEntropy = ae === undefined ? null : this.newAntiEntropy(ae);
    const m = options.membership;
    this.membership = m === undefined ? null : new ReplicaMembership(this.membershipHost(), m.base, m.snapshot, m.handoff);
    const membership = this.membership;
    this.placement = membership !== null ? (h) => membership.view.writeTargets(h) : ae?.placement;
    if (membership !== null) {
      // hints go to a key's owners in the NEW ring: a losing replica that took one after its stream passed the key
      // would drop it at cleanup with the rest of the range
      this.hinting.ownsKey = (owner, key) => membership.view.membership.ring.preferenceList(hash32(key)).includes(owner);
      this.hinting.onMisrouted = () => void (membership.redirectPending = true);
      this.hinting.epochNow = () => membership.epoch;
    }
  }

  private readonly aeOptions: ReplicaOptions['antiEntropy'];

  private newAntiEntropy(ae: NonNullable<ReplicaOptions['antiEntropy']>): AntiEntropy {
    const host = {
      get: (k: string) => this.store.get(k),
      delete: (k: string) => this.reap(k),
      merge: (k: string, c: StoredClock) => this.merge(k, c) === undefined,
      hinted: (k: string) => this.hinting.hinted(k),
    };
    return new AntiEntropy(host, { ...ae, node: this.node });
  }

  private membershipHost(): MembershipHost {
    const store = this.store;
    return {
      node: this.node,
      get: (k) => store.get(k),
      ...(store.forEachKey === undefined ? {} : { forEachKey: (fn: (k: string) => void) => store.forEachKey!(fn) }),
      merge: (k, c) => this.merge(k, c) === undefined,
      drop: (k) => this.reap(k),
      redirectHints: (ownersOf, standInFor, out) =>
        this.hinting.redirect(ownersOf, (k, c) => this.merge(k, c) === undefined, this.lastNowMs, { standInFor, out }),
      rebuildAntiEntropy: (membership) => {
        const old = this.antiEntropy;
        if (old === null || this.aeOptions === undefined) return;
        const ring = membership.ring;
        const ae = this.newAntiEntropy({ ...this.aeOptions, ranges: rangesOf(ring), placement: (h) => ring.preferenceList(h) });
        Object.assign(ae.counters, old.counters);
        ae.reset();
        // indexed with pending digests: the next exchange rehashes the segments it compares (rebuild.ts)
        store.forEachKey?.((k) => ae.index(k));
        this.antiEntropy = ae;
      },
    };
  }

  /** The DVV id this replica writes under (its incarnation: a wiped node comes back under a new one). */
  get replicaId(): string {
    return this.baseId;
  }

  get pendingPuts(): number {
    return this.pending.size;
  }

  handle(msg: Message, nowMs: number, out: Send[]): void {
    const from = msg.type === 'tick' ? -1 : msg.from;
    if (from >= 0 && !isClient(from) && from !== this.node) this.links.heard(from, nowMs);
    this.links.at(nowMs); // the view in-flight writes consult (e.g. on a nack) is current
    this.lastNowMs = nowMs;
    const sent = out.length;
    this.dispatch(msg, nowMs, out);
    for (let i = sent; i < out.length; i++) {
      const s = out[i];
      if (!isClient(s.to) && ANSWERED.has(s.msg.type)) this.links.sent(s.to, nowMs);
    }
  }

  private dispatch(msg: Message, nowMs: number, out: Send[]): void {
    this.recover(nowMs);
    if (this.membership !== null && this.membership.handle(msg, nowMs, out)) return;
    switch (msg.type) {
      case 'put':
        return this.onPut(msg, nowMs, out);
      case 'replicate':
        return this.onReplicate(msg, nowMs, out);
      case 'handoff':
        return this.onHandoff(msg, out);
      case 'handoff-ack':
        return this.hinting.onHandoffAck(msg, nowMs, out);
      case 'replicate-ack':
        return this.onReplicateAck(msg, out);
      case 'get':
        return this.onGet(msg, out);
      case 'repair':
        return this.onRepair(msg, out);
      case 'tick':
        return this.onTick(msg, out);
      case 'ae-tree':
      case 'ae-keys':
      case 'ae-sync':
      case 'ae-tombs':
      case 'ae-hints': {
        if (this.antiEntropy !== null && this.membership?.changing !== true) return this.antiEntropy.handle(msg, nowMs, out);
        const why = this.antiEntropy === null ? 'is off' : 'waits while a membership change is in progress';
        out.push({ to: msg.from, msg: { type: 'ae-abort', req: msg.req, from: this.node, reason: `anti-entropy ${why} on node ${this.node}` } });
        return;
      }
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

  /** A call from the membership control plane (actors/membership/calls.ts). */
  membershipCall(call: MembershipCall, nowMs: number, out: Send[]): MembershipReply {
    if (this.membership === null) {
      throw new InvalidArgumentError(`replica ${this.node} was started without a membership: it cannot take part in a change`);
    }
    this.recover(nowMs); // a control call may be the first thing a restarted actor sees: its persisted hints count
    if (call?.op === 'transfer-hints') this.hinting.transfer(call.to, nowMs, out);
    const reply = this.membership.call(call, nowMs, out);
    let held = 0;
    for (const o of this.hints.owners()) held += this.hints.size(o);
    return { ...reply, hintsHeld: held, pendingPuts: this.pending.size };
  }

  /** Once per actor, before anything else: the hints its predecessor persisted, and a cleanup it missed. */
  private recover(nowMs: number): void {
    if (this.recovered) return;
    this.recovered = true;
    this.hinting.recover(nowMs);
    this.membership?.startUp();
  }

  private onGet(msg: Of<'get'>, out: Send[]): void {
    this.counters.gets++;
    const m = this.membership;
    const error = m === null || m.quiet(msg.epoch) ? undefined : m.admit(msg.epoch, msg.key, 'read');
    if (error === undefined) {
      out.push({ to: msg.from, msg: { type: 'get-reply', req: msg.req, from: this.node, key: msg.key, clock: this.read(msg.key) } });
    } else out.push({ to: msg.from, msg: { type: 'get-reply', req: msg.req, from: this.node, key: msg.key, clock: null, error } });
  }

  /** The epoch check of a write (none while no change is in progress: the ownership rule alone applies then). */
  private admitWrite(epoch: number | undefined, key: string, hintFor?: number, coordinating = false): WireError | undefined {
    const m = this.membership;
    return m === null || m.quiet(epoch) ? undefined : m.admit(epoch, key, 'write', hintFor, coordinating);
  }

  private onReplicate(msg: Of<'replicate'>, nowMs: number, out: Send[]): void {
    this.counters.replicates++;
    const refused = this.admitWrite(msg.epoch, msg.key, msg.hintFor);
    if (refused !== undefined && msg.hintFor === undefined && this.membership!.ackWithoutStoring(msg.epoch, msg.key)) {
      out.push({ to: msg.from, msg: { type: 'replicate-ack', req: msg.req, from: this.node, ok: true } });
      return;
    }
    const error =
      refused ??
      (msg.hintFor !== undefined
        ? this.hint(msg.hintFor, msg.key, msg.clock, nowMs)
        : (this.foreign(msg.key) ?? this.merge(msg.key, msg.clock)));
    const ack = { type: 'replicate-ack' as const, req: msg.req, from: this.node, ok: error === undefined };
    out.push({ to: msg.from, msg: error ? { ...ack, error } : ack });
  }

  private onHandoff(msg: Of<'handoff'>, out: Send[]): void {
    this.counters.handoffsReceived++;
    let ok = true;
    // a hint for a key this node does not own in the new ring (a range moved, or is moving, away from it) is refused:
    // the stand-in redirects it to the key's new owners (Hinting.redirect)
    for (const e of msg.entries) {
      const mine = this.membership === null ? this.foreign(e.key) === undefined : this.hinting.ownsKey(this.node, e.key);
      if (!mine || this.merge(e.key, e.clock) !== undefined) ok = false;
    }
    out.push({ to: msg.from, msg: { type: 'handoff-ack', req: msg.req, from: this.node, ok } });
  }

  private onReplicateAck(msg: Of<'replicate-ack'>, out: Send[]): void {
    const fsm = this.pending.get(msg.req);
    if (fsm === undefined) return void this.hinting.onTransferAck(msg.req, msg.ok); // a transferred hint, or a late ack
    fsm.onAck(msg.from, msg.ok, out);
    this.retire(msg.req, fsm);
  }

  private onRepair(msg: Of<'repair'>, out: Send[]): void {
    this.counters.repairs++;
    const error = this.admitWrite(msg.epoch, msg.key) ?? this.foreign(msg.key) ?? this.merge(msg.key, msg.clock);
    if (msg.req >= 0) {
      out.push({ to: msg.from, msg: { type: 'repair-ack', req: msg.req, from: this.node, ok: error === undefined } });
    }
  }

  private onTick(msg: Of<'tick'>, out: Send[]): void {
    for (const [req, fsm] of this.pending) {
      const wasCollecting = fsm.state === 'collect';
      if (fsm.onTick(msg.nowMs, out) && wasCollecting) this.counters.putsTimedOut++;
      this.retire(req, fsm);
    }
    this.hinting.onMembership(msg.down ?? [], msg.nowMs, out);
    if (this.membership?.changing !== true) this.antiEntropy?.tick(msg.nowMs, msg.down ?? [], out);
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
    const mine = msg.targets.find((t) => t.node === this.node);
    if (mine === undefined) return this.onProxyPut(localReq, msg, nowMs, out);
    const fsm = new PutFsm(this.node, localReq, msg, nowMs);
    // A coordinator standing in for a down primary (every primary was down) keeps the write only as a hint for that
    // primary: a copy in its store would escape anti-entropy and tombstone reaping (a reaped delete would come back
    // through it). With no copy left once the hint is delivered, it must still never mint the same dot twice for the
    // key (DVV sync would take two writes for one and drop one), so each such write gets a DVV id of its own.
    const hintFor = mine.hintFor;
    const refused = this.admitWrite(msg.epoch, msg.key, hintFor, true);
    if (refused !== undefined) return this.failPut(fsm, refused, out);
    const { id, local } = this.writeBase(msg.key, hintFor);
    if (typeof id !== 'string') return this.failPut(fsm, id, out);
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
    // a target the sender still counted pending whose range is handed off here: its acknowledgement is vacuous (see
    // ReplicaMembership.ackWithoutStoring), so the write does not wait for a node that may have stopped already
    for (const t of msg.targets) {
      if (t.node !== this.node && t.hintFor === undefined && this.membership?.ackWithoutStoring(msg.epoch, msg.key, t.node)) fsm.onAck(t.node, true, out);
    }
    this.retire(localReq, fsm);
  }

  /**
   * A write sent to this node although it is none of the key's targets: it coordinates it as a proxy (as any node
   * does in Cassandra, and the coordinator of the PBS paper's WARS model): the write is minted under a one-off DVV id
   * and kept nowhere here, only replicated to every target (proxy-put.ts says why, and what it costs).
   */
  private onProxyPut(localReq: number, msg: PutRequest, nowMs: number, out: Send[]): void {
    // never its own stand-in: the FSM counts its own ack at once, and a proxy keeps nothing (the ack would be empty)
    const fsm = new PutFsm(this.node, localReq, { ...msg, spares: msg.spares.filter((s) => s.node !== this.node) }, nowMs);
    // the epoch check as for a stand-in of the key's first target: this node's ring must agree on the placement
    const refused = msg.targets.length === 0 ? undefined : this.admitWrite(msg.epoch, msg.key, msg.targets[0].node, true);
    if (refused !== undefined) return this.failPut(fsm, refused, out);
    const id = this.floor.standInId();
    if (typeof id !== 'string') return this.failPut(fsm, id, out);
    this.pending.set(localReq, fsm);
    fsm.start(proxyClock(msg, nowMs, id, this.replicaId, this.conflicts), out, this.links.at(nowMs));
    this.retire(localReq, fsm);
  }

  /**
   * The DVV id a coordinated write is minted under and the local clock it builds on. Under this replica's own id,
   * over its stored copy (with the dot floor). A one-off id (`<replicaId>~<n>`) where this replica may not hold the
   * key's whole history: as a stand-in (the write is kept as a hint), and as a gaining replica of a range not yet
   * handed off (the key may have moved away from it in an earlier change and be on its way back: a dot under its own
   * id would claim every earlier dot of that id and hide the versions it no longer holds).
   */
  private writeBase(key: string, hintFor: number | undefined): { id: string | WireError; local: StoredClock | undefined } {
    if (hintFor !== undefined) return { id: this.floor.standInId(), local: this.read(key) ?? undefined };
    if (this.membership?.gainingPending(key) === true) return { id: this.floor.standInId(), local: this.store.get(key) };
    return { id: this.foreign(key) ?? this.replicaId, local: this.floor.under(this.store.get(key)) };
  }

  private failPut(fsm: PutFsm, error: WireError, out: Send[]): void {
    fsm.failLocal(error, out);
    this.counters.putsFailed++;
  }

  /** An error when the key is not this node's (by the ring): it keeps data for another node's key only as a hint. */
  private foreign(key: string): WireError | undefined {
    return foreignKeyError(this.node, this.placement, key);
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

  /** A sloppy-quorum write for a down owner: held as a hint, or stored when the owner is this node (it is back). */
  private hint(owner: number, key: string, clock: StoredClock, nowMs: number): WireError | undefined {
    if (owner === this.node) return this.merge(key, clock); // the owner is back and is us: store it
    return this.hinting.admit(owner, key, clock, nowMs);
  }

  /**
   * Anti-entropy reaps a tombstone: remember the counter our id reached in it first (see dot-floor.ts). When the floor
   * cannot be persisted the reap is refused (false): the tombstone stays and only garbage collection waits.
   */
  private reap(key: string): boolean {
    if (this.store.delete === undefined) return false;
    if (!this.floor.raiseFor(this.store.get(key))) return false;
    return this.store.delete(key);
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
      return storeError(this.counters, e);
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
