// A replica's part in membership changes (actors/membership): its view of the ring (epoch and pending ranges), the
// epoch check every request passes before it is served, the handoff streams it sends as an old owner and the
// batches it merges as a new one, and the cleanup once a change is done (drop what it no longer owns, rebuild
// anti-entropy on the new ring).
//
// While a change is in progress on this node, anti-entropy exchanges stop (its ranges are the old ring's replica
// sets, and a tombstone reaped by the new replicas while a losing replica still streams the value under it would
// come back); handoff streams move the data meanwhile, and anti-entropy starts again, on the new ring, once every
// range is complete.

import { InvalidArgumentError, type WireError } from '../errors.js';
import { hash32 } from '../hash.js';
import type { MembershipCall, MembershipReply, StreamStatus } from '../membership/calls.js';
import type { MembershipView } from '../membership/epoch.js';
import { DEFAULT_HANDOFF, isHandoffTag, keyOrder, type HandoffConfig, type HandoffSource, type HandoffStream } from '../membership/handoff-plan.js';
import { HandoffReceiver } from '../membership/handoff-receiver.js';
import { HandoffSender, handoffReqs } from '../membership/handoff-sender.js';
import type { Membership } from '../membership/plan.js';
import { snapshotAhead, viewOf, type MembershipSnapshot } from '../membership/snapshot.js';
import { contains } from '../membership/token-range.js';
import type { AeSync, Message, Send, StoredClock } from '../protocol.js';

/** What the membership part needs of its replica. */
export interface MembershipHost {
  readonly node: number;
  get(key: string): StoredClock | undefined;
  /** every key the store holds (absent: the store cannot list its keys; streams and cleanup then find none) */
  forEachKey?(fn: (key: string) => void): void;
  /** the replica's merge (DVV sync + store write); false when the store refused it */
  merge(key: string, clock: StoredClock): boolean;
  /** drops a key this node no longer owns (raising the dot floor first); false when refused */
  drop(key: string): boolean;
  /** anti-entropy is rebuilt on this membership's ring (the change is done here) */
  rebuildAntiEntropy(membership: Membership): void;
  /**
   * hints held for an owner that no longer owns their key go to the key's owners now, and a hint for a key this
   * node now owns too goes to the owner's stand-in (`standInFor`); false: some must wait
   */
  redirectHints(
    ownersOf: (key: string) => readonly number[],
    standInFor: (owner: number, key: string, isDown: (n: number) => boolean) => number | undefined,
    out: Send[],
  ): boolean;
}

export class ReplicaMembership {
  private viewNow: MembershipView;
  private snapshotNow: MembershipSnapshot;
  private readonly receiver: HandoffReceiver;
  private senders: HandoffSender[] = [];
  private readonly nextReq = handoffReqs();
  /** hints may still be held for nodes that no longer own their keys (retried on ticks until none is) */
  redirectPending = false;
  /** the epoch whose cleanup has run (the first epoch needs none) */
  private cleanedEpoch: number;
  /** keys the cleanup of the current epoch dropped (none before it ran) */
  keysDropped = 0;

  constructor(
    private readonly host: MembershipHost,
    private readonly base: Membership,
    snapshot: MembershipSnapshot,
    private readonly config: HandoffConfig = DEFAULT_HANDOFF,
  ) {
    if (host.forEachKey === undefined) {
      // a stream would list no key and the change would complete without the data: refuse at start instead
      throw new InvalidArgumentError(`replica ${host.node}: a store that cannot list its keys (forEachKey) cannot take part in membership changes`);
    }
    this.snapshotNow = snapshot;
    this.viewNow = viewOf(host.node, base, snapshot);
    this.cleanedEpoch = snapshot.changes.length === 0 ? this.viewNow.epoch : this.viewNow.epoch - 1;
    const sink = { merge: (k: string, c: StoredClock) => host.merge(k, c) };
    this.receiver = new HandoffReceiver(host.node, sink, () => this.viewNow.transition, config.maxKeysPerBatch);
  }

  get view(): MembershipView {
    return this.viewNow;
  }

  get epoch(): number {
    return this.viewNow.epoch;
  }

  /** Whether a change is in progress here: from its begin until this node cleaned up after it (anti-entropy waits). */
  get changing(): boolean {
    return this.viewNow.transition !== undefined && this.cleanedEpoch < this.viewNow.epoch;
  }

  /**
   * Whether a request of this epoch needs no epoch check: no change is in progress here and the request is of this
   * node's epoch (every request, save during a change: the check then costs nothing on the hot path). A write's
   * ownership is still checked by the replica's own rule (ownership.ts), which is what admit() adds for it.
   */
  quiet(epoch: number | undefined): boolean {
    return (epoch ?? 1) === this.viewNow.epoch && !this.changing;
  }

  /** Whether this node takes writes for the key now (it keeps data for other keys only as hints). */
  owns(keyHash: number): boolean {
    return this.viewNow.writeTargets(keyHash).includes(this.host.node);
  }

  /**
   * The epoch check (epoch.ts): undefined when this node may serve the request, else the typed refusal.
   *
   * One relaxation of epoch.ts's rule, for requests a coordinator or client sent under the epoch before while the
   * key's range is still pending here (they were in flight when this node joined the change): a read is served when
   * this node is among the range's read targets (the old replicas, the set the sender asks), and a replicate, read
   * repair or hint is taken when its subject is an old replica of the range, unless this node is a losing replica
   * whose stream of the range has started (what it takes then would not reach the gaining replica). Every copy such
   * a write leaves is then on a staying replica, streamed by a loser, or a hint delivered by the new ring's rule: the
   * write still ends up on W new replicas (transition.ts). A coordinator (`coordinating`) still refuses, so that the
   * client retries under the new epoch with the pending range's targets.
   */
  admit(epoch: number | undefined, key: string, access: 'read' | 'write', hintFor?: number, coordinating = false): WireError | undefined {
    const keyHash = hash32(key);
    const e = this.viewNow.admit({ epoch: epoch ?? 1, keyHash, access, ...(hintFor === undefined ? {} : { hintFor }) });
    if (e === null) return undefined;
    if (access === 'read' && e.reason === 'not-owner' && !this.readOwnersMatter(keyHash)) return undefined; // a stand-in read
    if (!coordinating && e.reason === 'sender-behind' && epoch === this.viewNow.epoch - 1 && this.inFlightAdmitted(keyHash, access, hintFor)) {
      return undefined;
    }
    return e.toWire();
  }

  /**
   * Whether a read of this key at the current epoch must come from its read targets: only while the change is in
   * progress and the key's range moves (a losing replica's copy is stale once its range is complete). Otherwise a
   * read may reach any node, as before membership changes: a stand-in answers from the hints it holds (a get does not
   * say whom it stands in for).
   */
  private readOwnersMatter(keyHash: number): boolean {
    const t = this.viewNow.transition;
    return this.changing && t!.rangeOf(keyHash) !== undefined;
  }

  /**
   * A replicate this node refused as `not-owner` because the key's range has been handed off here, while the sender
   * still counted it pending: this node is a losing replica of it. The write needs it no more: the sender asked for
   * W more acknowledgements than usual per gaining replica over the old and new replicas together, so W of them are
   * on new replicas whatever this node does. It is acknowledged without being stored (a copy here would be dropped,
   * or would be a stray once this node cleaned up), so a write at ALL does not fail as ranges complete.
   */
  /** Whether this node gains the key's range in the change in progress and the range is not handed off yet. */
  gainingPending(key: string): boolean {
    const t = this.viewNow.transition;
    if (t === undefined || !this.changing) return false;
    const range = t.rangeOf(hash32(key));
    return range !== undefined && t.phase(range.id) === 'pending' && range.gaining.includes(this.host.node);
  }

  ackWithoutStoring(epoch: number | undefined, key: string, node = this.host.node): boolean {
    const t = this.viewNow.transition;
    if (t === undefined || !this.changing || (epoch ?? 1) !== this.viewNow.epoch) return false;
    const range = t.rangeOf(hash32(key));
    return range !== undefined && t.phase(range.id) === 'complete' && range.losing.includes(node);
  }

  private inFlightAdmitted(keyHash: number, access: 'read' | 'write', hintFor: number | undefined): boolean {
    const t = this.viewNow.transition;
    const range = t?.rangeOf(keyHash);
    if (t === undefined || range === undefined || t.phase(range.id) !== 'pending') return false;
    const node = this.host.node;
    if (access === 'read') return this.viewNow.readTargets(keyHash).includes(hintFor ?? node);
    if (!range.oldReplicas.includes(hintFor ?? node)) return false;
    if (hintFor !== undefined || !range.losing.includes(node)) return true;
    return !this.senders.some((s) => s.stream.rangeId === range.id && s.stream.epoch === t.epoch);
  }

  /** The actor (re)started: a change done while it was down is cleaned up now. */
  startUp(): void {
    if (this.snapshotNow.settled === true && this.cleanedEpoch < this.viewNow.epoch) this.cleanUp();
  }

  /** Handoff traffic: a batch for this node's receiver, or a reply for one of its senders. False: not handoff's. */
  handle(msg: Message, nowMs: number, out: Send[]): boolean {
    switch (msg.type) {
      case 'ae-sync':
        if (!isHandoffTag(msg.range)) return false;
        this.receiver.handle(msg as AeSync, nowMs, out);
        return true;
      case 'ae-sync-reply':
      case 'ae-abort': {
        if (msg.req >= 0) return false;
        for (const s of this.senders) if (s.owns(msg.req)) s.handle(msg, nowMs, out);
        return true;
      }
      case 'tick':
        for (const s of this.senders) s.handle(msg, nowMs, out);
        if (this.redirectPending) this.redirectPending = !this.redirect(out);
        return false; // the rest of the replica ticks too
      default:
        return false;
    }
  }

  call(call: MembershipCall, nowMs: number, out: Send[]): MembershipReply {
    switch (call?.op) {
      case 'sync':
        this.sync(call.snapshot);
        break;
      case 'stream':
        this.stream(call.stream, nowMs, out);
        break;
      case 'status':
      case 'transfer-hints': // the replica hands its hints over before this reply is made
        break;
      default:
        throw new InvalidArgumentError(
          `membership call must have op 'sync', 'stream', 'status' or 'transfer-hints'; got ${JSON.stringify(call)}`,
        );
    }
    return this.reply();
  }

  private reply(): MembershipReply {
    const t = this.viewNow.transition;
    const streams: StreamStatus[] = this.senders.map((s) => ({
      stream: s.stream,
      done: s.done,
      stats: { ...s.stats },
      lastProgressMs: s.lastProgressMs,
      bytesInFlight: s.bytesInFlight,
    }));
    return {
      epoch: this.viewNow.epoch,
      completed: t === undefined ? 0 : t.plan.moving.length - t.pending().length,
      streams,
      received: { ...this.receiver.stats },
      hintsHeld: 0,
      pendingPuts: 0,
      keysDropped: this.keysDropped,
    };
  }

  private redirect(out: Send[]): boolean {
    const ring = this.viewNow.membership.ring;
    const standInFor = (owner: number, key: string, isDown: (n: number) => boolean): number | undefined =>
      ring.place(hash32(key), (n) => !isDown(n) && n !== owner).find((p) => p.hintFor === owner)?.node;
    return this.host.redirectHints((k) => ring.preferenceList(hash32(k)), standInFor, out);
  }

  /** Adopts a snapshot ahead of this node's; once its change is done here, cleans up. */
  private sync(snapshot: MembershipSnapshot): void {
    if (snapshotAhead(snapshot, this.snapshotNow)) {
      const epochBefore = this.viewNow.epoch;
      this.viewNow = viewOf(this.host.node, this.base, snapshot);
      this.snapshotNow = snapshot;
      if (this.viewNow.epoch !== epochBefore) {
        this.senders = []; // streams of an earlier change are over
        this.rangeKeys = null;
      }
    }
    if (this.snapshotNow.settled === true && this.cleanedEpoch < this.viewNow.epoch) this.cleanUp();
  }

  private stream(stream: HandoffStream, nowMs: number, out: Send[]): void {
    if (stream.epoch !== this.viewNow.epoch || stream.source !== this.host.node) {
      throw new InvalidArgumentError(
        `node ${this.host.node} at epoch ${this.viewNow.epoch} cannot source a stream of epoch ${stream.epoch} from node ${stream.source}`,
      );
    }
    const same = (s: HandoffSender): boolean => s.stream.rangeId === stream.rangeId && s.stream.target === stream.target;
    if (this.senders.some(same)) return;
    const sender = new HandoffSender(this.host.node, stream, this.snapshotSource(stream), this.config, this.nextReq);
    this.senders.push(sender);
    sender.start(nowMs, out);
  }

  /**
   * The range's keys as they are now, in key order. Every write admitted after this node joined the change goes to
   * the gaining replicas too (pending ranges), so keys written later need not be listed; their versions are read at
   * send time.
   */
  private snapshotSource(stream: HandoffStream): HandoffSource {
    const keys = (this.keysByRange().get(stream.rangeId) ?? []).filter((k) => contains(stream.range, hash32(k)));
    keys.sort((a, b) => keyOrder(stream.range, a, b));
    let next = 0;
    return {
      listKeys: (_range, _after, max) => {
        const page = keys.slice(next, next + max);
        next += page.length;
        return page;
      },
      get: (k) => this.host.get(k),
    };
  }

  /**
   * The store's keys by the moving range of the current change they fall in, listed once per change (a store walk
   * per stream would cost a pass over every key for each of the dozens of ranges a change moves). Keys written later
   * go to the gaining replicas as well (pending ranges): a stream needs only what was here when the change began here.
   */
  private keysByRange(): Map<number, string[]> {
    const t = this.viewNow.transition;
    if (this.rangeKeys !== null && this.rangeKeys.epoch === this.viewNow.epoch) return this.rangeKeys.keys;
    const keys = new Map<number, string[]>();
    this.host.forEachKey?.((k) => {
      const r = t?.rangeOf(hash32(k));
      if (r === undefined) return;
      const list = keys.get(r.id);
      if (list === undefined) keys.set(r.id, [k]);
      else list.push(k);
    });
    this.rangeKeys = { epoch: this.viewNow.epoch, keys };
    return keys;
  }

  private rangeKeys: { epoch: number; keys: Map<number, string[]> } | null = null;

  /** The change is done here: drop every key this node no longer owns, then rebuild anti-entropy on the new ring. */
  private cleanUp(): void {
    const foreign: string[] = [];
    this.host.forEachKey?.((k) => {
      if (!this.owns(hash32(k))) foreign.push(k);
    });
    this.keysDropped = 0;
    for (const k of foreign) if (this.host.drop(k)) this.keysDropped++;
    this.cleanedEpoch = this.viewNow.epoch;
    this.rangeKeys = null;
    this.host.rebuildAntiEntropy(this.viewNow.membership);
    this.redirectPending = true; // on the next tick (the host's hints are recovered by then)
  }
}
