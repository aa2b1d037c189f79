// Sloppy quorum's hints at one replica: admitting a hinted write for a down owner (bounded per owner and by the max
// hint window), persisting it so that it survives a crash, recovering the persisted hints after a restart, tracking
// who is down, and handing hints off to owners that are back (one batch in flight per owner, retried on timeout).
// Hints never expire: an acknowledged write may live only here (see README, "Hints and deletes").

import { OverloadedError, type WireError } from '../errors.js';
import type { Address, Message, Send, StoredClock } from '../protocol.js';
import type { DotFloor } from './dot-floor.js';
import { FLOOR_KEY, hintKey, parseHintKey, splitQueuedAt, withQueuedAt } from './hint-records.js';
import type { HintQueue } from './hints.js';
import type { HintOptions } from './options.js';
import type { ReplicaCounters } from './stats.js';
import { storeCall, type HintStore } from './stores.js';

interface HandoffInFlight {
  owner: number;
  keys: string[];
  deadlineMs: number;
}

export class Hinting {
  /** when this replica first saw each node down (from ticks); absent = up */
  private readonly downSince = new Map<number, number>();
  private readonly handoffs = new Map<number, HandoffInFlight>();
  private readonly handoffOwners = new Set<number>();
  /** hints sent to another node to hold in this node's place (it is leaving): req -> owner and key */
  private readonly transfers = new Map<number, { owner: number; key: string; deadlineMs: number }>();

  constructor(
    private readonly node: Address,
    private readonly queue: HintQueue<StoredClock>,
    private readonly options: HintOptions,
    private readonly counters: ReplicaCounters,
    private readonly floor: DotFloor,
    /** request ids shared with the replica's write coordinators */
    private readonly nextReq: () => number,
    private readonly hintStore?: HintStore,
  ) {}

  /**
   * Whether `owner` takes writes for `key` now (membership changes move keys): hints for a key it no longer owns are
   * kept back from its handoff for redirect() to move. Default: always.
   */
  ownsKey: (owner: number, key: string) => boolean = () => true;
  /** Told when a handoff kept hints back because their owner no longer owns their key. */
  onMisrouted: () => void = () => undefined;
  /** The ring epoch a hint passed to another node is sent under (membership changes; none: the first epoch). */
  epochNow: () => number | undefined = () => undefined;

  private epochField(): { epoch?: number } {
    const e = this.epochNow();
    return e === undefined ? {} : { epoch: e };
  }

  /** A sloppy-quorum write for a down owner: held as a hint, not in the store (the key is not this node's). */
  admit(owner: number, key: string, clock: StoredClock, nowMs: number): WireError | undefined {
    const since = this.downSince.get(owner) ?? nowMs;
    let storeError: WireError | undefined;
    // the durable copy is written before the queue changes: a write the hint store refuses leaves nothing behind
    const persist = (view: StoredClock, queuedAtMs: number): boolean =>
      (storeError = this.persistView(owner, key, view, queuedAtMs)) === undefined;
    const result = this.queue.add(owner, key, clock, nowMs, since, this.hintStore === undefined ? undefined : persist);
    if (result === 'queued' || result === 'merged') {
      this.counters.hintedWrites++;
      return undefined;
    }
    this.counters.hintsRefused++;
    if (result === 'rejected-store') return storeError;
    const why =
      result === 'rejected-window'
        ? `node ${owner} has been down longer than the max hint window (${this.options.maxHintWindowMs} ms)`
        : `the hint queue for node ${owner} is full (${this.options.maxHintsPerOwner} keys, ${this.options.maxBytesPerOwner} bytes)`;
    return new OverloadedError(`replica ${this.node} refused a hinted write: ${why}`, { owner }).toWire();
  }

  /** Whether this node holds a hint for the key, for any owner: tombstone reaping waits until none does. */
  hinted(key: string): boolean {
    if (this.queue.empty) return false;
    return this.queue.owners().some((owner) => this.queue.peek(owner, key) !== undefined);
  }

  /**
   * A restarted actor takes back the hints its predecessor persisted, each with the time it was first queued (a
   * restart must not make a hint young again), oldest first. It also makes sure the dot floor has its record, so
   * that a hint store filled by hints still has the floor's key when a reap must raise it.
   */
  recover(nowMs: number): void {
    const found: Array<{ owner: number; keyId: string; clock: StoredClock; queuedAtMs: number }> = [];
    let floorKept = false;
    this.hintStore?.forEach((k, record) => {
      if (k === FLOOR_KEY) {
        this.floor.load(record);
        floorKept = true;
        return;
      }
      found.push({ ...parseHintKey(k), ...splitQueuedAt(record, nowMs) });
    });
    found.sort((a, b) => a.queuedAtMs - b.queuedAtMs);
    for (const h of found) this.queue.restore(h.owner, h.keyId, h.clock, h.queuedAtMs);
    if (!floorKept) this.floor.persistCurrent();
  }

  /** Tracks who is down; hands hints off to owners that are back; retries handoffs that timed out. */
  onMembership(down: readonly number[], nowMs: number, out: Send[]): void {
    for (const n of down) if (!this.downSince.has(n)) this.downSince.set(n, nowMs);
    for (const n of this.downSince.keys()) if (!down.includes(n)) this.downSince.delete(n);
    for (const [req, h] of this.handoffs) {
      // a batch to an owner now down is given up at once (merging it twice later changes nothing): its hints go back
      // to the queue, where a membership change may redirect them, instead of waiting out the handoff timeout
      if (nowMs < h.deadlineMs && !down.includes(h.owner)) continue;
      this.handoffs.delete(req);
      this.handoffOwners.delete(h.owner);
      this.queue.nack(h.owner, h.keys);
    }
    for (const [req, t] of this.transfers) {
      if (nowMs < t.deadlineMs) continue; // unanswered (lost, or the taker is down): back to the queue, sent again later
      this.transfers.delete(req);
      this.queue.nack(t.owner, [t.key]);
    }
    for (const owner of this.queue.owners()) {
      if (!this.downSince.has(owner) && !this.handoffOwners.has(owner)) this.handoff(owner, nowMs, out);
    }
  }

  /** The owner took a batch (delivered hints leave the queue and the store) or refused it (they go back). */
  onHandoffAck(msg: Extract<Message, { type: 'handoff-ack' }>, nowMs: number, out: Send[]): void {
    const h = this.handoffs.get(msg.req);
    if (h === undefined) return;
    this.handoffs.delete(msg.req);
    this.handoffOwners.delete(h.owner);
    if (msg.ok) {
      this.queue.ack(h.owner, h.keys);
      for (const k of h.keys) this.persistHint(h.owner, k);
    } else this.queue.nack(h.owner, h.keys);
    this.handoff(h.owner, nowMs, out); // keep draining while the owner is up
  }

  /**
   * After a membership change: a hint whose owner no longer takes writes for its key (the range moved) goes to the
   * key's owners now instead: merged here when this node is one (`keep`), else queued as a hint for each. Returns
   * false when some could not be moved yet (a delivery in flight, a refusal): call it again later.
   */
  redirect(
    ownersOf: (key: string) => readonly number[],
    keep: (key: string, clock: StoredClock) => boolean,
    nowMs: number,
    elsewhere?: { standInFor: (owner: number, key: string, isDown: (n: number) => boolean) => number | undefined; out: Send[] },
  ): boolean {
    let complete = true;
    for (const owner of this.queue.owners()) {
      const items = this.queue.take(owner, Math.max(1, this.queue.size(owner)));
      const moved: string[] = [];
      const stay: string[] = [];
      for (const { keyId, payload } of items) {
        const owners = ownersOf(keyId);
        if (owners.includes(owner) && owners.includes(this.node) && this.downSince.has(owner) && elsewhere !== undefined) {
          // this node owns the key now too: the hint is no longer a copy on another node. It keeps the version in
          // its store and passes the hint on to the owner's stand-in, so a wipe of this node cannot take both
          const to = elsewhere.standInFor(owner, keyId, (n) => this.downSince.has(n));
          if (to !== undefined && to !== this.node && to !== owner && keep(keyId, payload)) {
            const req = this.nextReq();
            this.transfers.set(req, { owner, key: keyId, deadlineMs: nowMs + this.options.handoffTimeoutMs });
            elsewhere.out.push({ to, msg: { type: 'replicate', req, from: this.node, key: keyId, clock: payload, hintFor: owner, ...this.epochField() } });
            complete = false; // done once the stand-in has taken it (onTransferAck)
            continue;
          }
        }
        if (owners.includes(owner)) {
          stay.push(keyId);
          continue;
        }
        const ok = owners.every((o) => (o === this.node ? keep(keyId, payload) : this.admit(o, keyId, payload, nowMs) === undefined));
        (ok ? moved : stay).push(keyId);
        if (!ok) complete = false;
      }
      this.queue.ack(owner, moved);
      for (const k of moved) this.persistHint(owner, k);
      this.queue.nack(owner, stay);
      if (this.handoffOwners.has(owner)) complete = false; // a batch in flight may come back refused
    }
    return complete;
  }

  /**
   * This node is leaving: each hint it holds for an owner that is down goes to one of `to` (not the owner, not this
   * node) as a hinted write for the same owner, and leaves this node's queue once that node has taken it. Up to
   * `max` are sent per call; call again until none is held.
   */
  transfer(to: readonly number[], nowMs: number, out: Send[], max = 256): number {
    const takers = to.filter((n) => n !== this.node);
    let sent = 0;
    for (const owner of this.queue.owners()) {
      if (!this.downSince.has(owner)) continue; // an owner that is up gets its hints by handoff
      const targets = takers.filter((n) => n !== owner);
      if (targets.length === 0) continue;
      for (const item of this.queue.take(owner, Math.max(1, max - sent))) {
        const req = this.nextReq();
        const target = targets[(sent + owner) % targets.length];
        this.transfers.set(req, { owner, key: item.keyId, deadlineMs: nowMs + this.options.handoffTimeoutMs });
        out.push({ to: target, msg: { type: 'replicate', req, from: this.node, key: item.keyId, clock: item.payload, hintFor: owner, ...this.epochField() } });
        sent++;
      }
      if (sent >= max) break;
    }
    return sent;
  }

  /** An answer to a transferred hint: taken (it leaves the queue) or refused (it goes back). False: not a transfer. */
  onTransferAck(req: number, ok: boolean): boolean {
    const t = this.transfers.get(req);
    if (t === undefined) return false;
    this.transfers.delete(req);
    if (ok) {
      this.queue.ack(t.owner, [t.key]);
      this.persistHint(t.owner, t.key);
    } else this.queue.nack(t.owner, [t.key]);
    return true;
  }

  /** Sends the next batch of hints to a returning owner; one batch in flight per owner. */
  private handoff(owner: number, nowMs: number, out: Send[]): void {
    if (this.downSince.has(owner) || this.handoffOwners.has(owner)) return;
    const taken = this.queue.take(owner, this.options.handoffBatch);
    const batch = taken.filter((b) => this.ownsKey(owner, b.keyId));
    if (batch.length < taken.length) {
      this.queue.nack(owner, taken.filter((b) => !this.ownsKey(owner, b.keyId)).map((b) => b.keyId));
      this.onMisrouted();
    }
    if (batch.length === 0) return;
    const req = this.nextReq();
    this.handoffs.set(req, { owner, keys: batch.map((b) => b.keyId), deadlineMs: nowMs + this.options.handoffTimeoutMs });
    this.handoffOwners.add(owner);
    this.counters.handoffsSent++;
    out.push({
      to: owner,
      msg: { type: 'handoff', req, from: this.node, entries: batch.map((b) => ({ key: b.keyId, clock: b.payload })) },
    });
  }

  /** Writes the hint for (owner, key) as it now stands to the hint store, or forgets it there if it is gone. */
  private persistHint(owner: number, key: string): WireError | undefined {
    const current = this.queue.peek(owner, key);
    if (current !== undefined) return this.persistView(owner, key, current, this.queue.queuedAtMs(owner, key)!);
    return storeCall(this.counters, () => this.hintStore?.delete(hintKey(owner, key)));
  }

  private persistView(owner: number, key: string, view: StoredClock, queuedAtMs: number): WireError | undefined {
    return storeCall(this.counters, () => this.hintStore?.set(hintKey(owner, key), withQueuedAt(view, queuedAtMs)));
  }
}
