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
// How to use it (the replica does this; see actors/replica/replica.ts):
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
//
// Where each part lives (one AntiEntropy composes them; they share an AeContext: node, config, counters, host and
// request ids):
//   config.ts      settings, counters, the host interface          digest.ts    version digests, tombstones, range ids
//   ranges.ts      per-range trees, key maps, tombstones           rebuild.ts   reset, index, hash batches for a pool
//   hash-batch.ts  packing and hashing batches (pool worker side)  reaping.ts   tombstone confirmation and reaping
//   exchange.ts    the initiator                                   serve.ts     the peer side
//   schedule.ts    rounds, periodic exchanges, the backlog

import type { AeMessage, Address, Send, StoredClock } from '../protocol.js';
import {
  AeContext,
  newCounters,
  validateAntiEntropyConfig,
  type AeCounters,
  type AntiEntropyConfig,
  type AntiEntropyHost,
  type AntiEntropyOptions,
  type RoundResult,
} from './config.js';
import { Exchanges } from './exchange.js';
import type { HashBatch, HashBatchResult } from './hash-batch.js';
import { Ranges } from './ranges.js';
import { Reaper } from './reaping.js';
import { Rebuild } from './rebuild.js';
import { Rounds, Schedule } from './schedule.js';
import { Server } from './serve.js';

export class AntiEntropy {
  readonly node: Address;
  readonly config: AntiEntropyConfig;
  readonly counters: AeCounters = newCounters();
  private readonly ranges: Ranges;
  private readonly rebuild: Rebuild;
  private readonly reaper: Reaper;
  private readonly rounds = new Rounds();
  private readonly exchanges: Exchanges;
  private readonly schedule: Schedule;
  private readonly server: Server;

  constructor(host: AntiEntropyHost, options: AntiEntropyOptions) {
    validateAntiEntropyConfig(options.config);
    this.node = options.node;
    this.config = options.config;
    const ctx = new AeContext(options.node, options.config, this.counters, host);
    this.ranges = new Ranges(ctx, options.ranges, options.placement);
    this.rebuild = new Rebuild(ctx, this.ranges);
    const others = new Set<number>();
    for (const list of options.ranges) for (const n of list) if (n !== this.node) others.add(n);
    this.reaper = new Reaper(ctx, this.ranges, [...others].sort((a, b) => a - b));
    const pump = (nowMs: number, out: Send[]): void => this.schedule.pump(nowMs, out);
    this.exchanges = new Exchanges(ctx, this.ranges, this.rebuild, this.reaper, this.rounds, pump);
    this.schedule = new Schedule(ctx, this.ranges, this.rounds, this.exchanges);
    this.server = new Server(ctx, this.ranges, this.rebuild, this.reaper);
  }

  /** Range ids this node belongs to. */
  rangeIds(): string[] {
    return this.ranges.ids();
  }

  // ------------------------------------------------------------------------------------------ writes and rebuilds

  /** The write hook: the key's digest is recomputed and its segment marked dirty. O(clock size). */
  onWrite(keyId: string, clock: StoredClock): void {
    this.ranges.onWrite(keyId, clock);
  }

  /** Forgets every tree, key map and confirmation: the start of a rebuild (or of a wiped store). */
  reset(): void {
    this.ranges.reset();
    this.reaper.reset();
    this.schedule.resetPairs();
    this.rebuild.reset();
    // exchanges in flight refer to the old states: fail them
    this.exchanges.failAll();
  }

  /** Marks a rebuild in progress (between reset() and the last applyHashBatch): exchanges are refused meanwhile. */
  setRebuilding(on: boolean): void {
    this.rebuild.setRebuilding(on);
  }

  /** Rebuild step: a stored key whose version is not read yet (its digest comes from the hasher or a later read). */
  index(keyId: string): void {
    this.rebuild.index(keyId);
  }

  /** Number of segments waiting for a rehash in every range. */
  dirtySegments(): number {
    return this.rebuild.dirtySegments();
  }

  /** Hands out up to maxSegments dirty segments of one range, packed for a hashing pool; null when none is dirty. */
  takeHashBatch(maxSegments: number): HashBatch | null {
    return this.rebuild.takeHashBatch(maxSegments);
  }

  /** Applies a pool's hashes for a batch from takeHashBatch; keys written meanwhile keep their newer digests. */
  applyHashBatch(batch: HashBatch, result: HashBatchResult): void {
    this.rebuild.applyHashBatch(batch, result);
  }

  /** Gives back a batch whose hashing failed: its segments are dirty again. */
  returnHashBatch(batch: HashBatch): void {
    this.rebuild.returnHashBatch(batch);
  }

  /**
   * Rehashes every dirty segment of every range here and now, reading pending digests from the store: the
   * synchronous path (the simulator, small stores). True when every tree is settled (none has segments handed out).
   */
  rehashAll(): boolean {
    return this.rebuild.rehashAll();
  }

  /** Tombstones tracked here, and how many are confirmed on every replica. */
  tombstones(): { tracked: number; confirmed: number } {
    return this.reaper.tombstones();
  }

  // ------------------------------------------------------------------------------------------ rounds and ticks

  /**
   * Queues one exchange for every (range, peer) pair with peer > this node (so that when every node starts a
   * round, each pair of replicas sharing a range is compared once). Returns the round id for roundResult.
   */
  startRound(nowMs: number, down: readonly number[], out: Send[]): number {
    return this.schedule.startRound(nowMs, down, out);
  }

  /** The result of a round once every exchange in it has finished; undefined while some run. Forgets the round. */
  roundResult(id: number): RoundResult | undefined {
    return this.rounds.result(id);
  }

  /**
   * When every (range, peer) pair of this node last completed an exchange (as initiator or peer): the oldest of
   * the pairs' last completions, or null when some pair never completed one.
   */
  lastRepairMs(): number | null {
    return this.schedule.lastRepairMs();
  }

  /** Time passes: exchanges time out, due tombstones are reaped, a periodic exchange may start. */
  tick(nowMs: number, down: readonly number[], out: Send[]): void {
    const downSet = new Set(down);
    this.schedule.down = downSet;
    this.exchanges.expire(nowMs, downSet);
    this.reaper.reap(nowMs, downSet, out);
    this.schedule.periodic(nowMs);
    this.schedule.pump(nowMs, out);
  }

  /** Exchanges this node is driving now. */
  get inFlight(): number {
    return this.exchanges.inFlight;
  }

  // ------------------------------------------------------------------------------------------ messages

  handle(msg: AeMessage, nowMs: number, out: Send[]): void {
    switch (msg.type) {
      case 'ae-tree':
      case 'ae-keys':
      case 'ae-sync':
      case 'ae-tombs':
        return this.server.serve(msg, nowMs, out);
      case 'ae-hints':
        return this.reaper.serveHints(msg, out);
      case 'ae-hints-reply':
        return this.reaper.onHintsReply(msg, nowMs);
      case 'ae-abort':
        if (this.reaper.onAbort(msg, nowMs)) return;
        this.exchanges.onAbort(msg);
        return this.schedule.pump(nowMs, out);
      default:
        return this.exchanges.onReply(msg, nowMs, out);
    }
  }
}
