// The client's protocol side, shared by both runtimes: argument checks, placement (with sloppy-quorum stand-ins),
// the read coordinator (actors/coordinator/get.ts), writes sent to a coordinating replica with failover, timeouts,
// result shaping and counters. What differs between runtimes is behind a few abstract hooks: how a message is sent,
// what time it is, who is up, whether a replica's store can be read without a message, and how a pending operation
// is tracked (a real ticker in the thread runtime; virtual time in the simulator). ClusterClient (runtime/client.ts)
// and SimClient (runtime/sim/sim-client.ts) fill them in.

import { GetFsm, type GetResult as FsmGetResult, type ReadRepairMode } from '../../actors/coordinator/get.js';
import {
  InvalidArgumentError,
  KeyTooLargeError,
  OverloadedError,
  QuorumError,
  StoppedError,
  TimeoutError,
  ValueTooLargeError,
  fromWire,
  show,
  type LeaderlessError,
} from '../../actors/errors.js';
import { hash32, isWellFormed, keyId, loneSurrogateAt, utf8Length, wellFormedUtf8Length, type Key } from '../../actors/hash.js';
import { LinkDetector } from '../../actors/link-detector.js';
import type { Address, Message, PutReply, PutRequest, Send, StoredClock } from '../../actors/protocol.js';
import { newPutCore, parseLevel, putOutcome, putStatus, requirement, type Level, type Requirement } from '../../actors/quorum/index.js';
import { Ring, type Placement } from '../../actors/ring.js';
import type { Value } from '../../actors/types.js';
import { decodeContext, encodeContext, equal, join, sync, type VersionVector } from '../../actors/versioning/dvv.js';
import { resolveLww, stampedEqual } from '../../actors/versioning/lww.js';
import type { ResolvedConfig } from '../config.js';
import * as hdr from 'hdr-histogram-js';
import { summarizeLatency, type LatencySummary } from '../latency.js';

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

/** Latency of one kind of operation on this client (runtime/latency.ts): percentiles, max and Prometheus buckets. */
export type { LatencySummary } from '../latency.js';

export interface ClientCounters {
  gets: number;
  /** consistency-ONE reads served from a replica's store without a message */
  getsLocal: number;
  puts: number;
  failures: number;
  timeouts: number;
  readRepairs: number;
  siblingsReturned: number;
  coordinatorFailovers: number;
}

/** What a local store read may answer besides a clock: BUSY (ask by message instead) or null (not possible here). */
export const LOCAL_BUSY: unique symbol = Symbol('local read busy');

const GET_KEYS = new Set(['consistency', 'r', 'timeoutMs', 'readRepair', 'standInNotFoundOk']);
const PUT_KEYS = new Set(['context', 'consistency', 'w', 'timeoutMs']);
/** The req of a probe (a read nobody waits for, sent to a replica whose link is down): real reqs start at 1. */
export const PROBE_REQ = 0;

interface PendingPut {
  resolve: (r: PutResult) => void;
  reject: (e: LeaderlessError) => void;
  /** startMs + timeoutMs: the whole operation's bound, failover included; never moved */
  deadlineMs: number;
  timeoutMs: number;
  /** the request, resent to the next coordinator when one does not answer */
  msg: PutRequest;
  /** index in msg.targets of the coordinator asked last */
  attempt: number;
  /** coordinators asked so far */
  asked: number[];
  /** when the current coordinator was asked, and when it is replaced if it has not answered */
  sentAtMs: number;
  failoverAtMs: number;
  startMs: number;
}

interface PlacementSet {
  targets: Placement[];
  spares: Placement[];
  /** what a read may ask: targets, then stand-ins not already among them (asked only in place of their primary) */
  readTargets: Placement[];
}

interface PendingGet {
  fsm: GetFsm;
  startMs: number;
  resolve?: (r: GetResult) => void;
  reject?: (e: LeaderlessError) => void;
}

export abstract class ClientCore {
  readonly config: ResolvedConfig;
  readonly ring: Ring;
  readonly address: Address;
  /** the replica this client sits beside for partitions (-1: never cut off) */
  readonly near: number;
  readonly counters: ClientCounters = {
    gets: 0,
    getsLocal: 0,
    puts: 0,
    failures: 0,
    timeouts: 0,
    readRepairs: 0,
    siblingsReturned: 0,
    coordinatorFailovers: 0,
  };
  private readonly puts = new Map<number, PendingPut>();
  private readonly gets = new Map<number, PendingGet>();
  private readonly out: Send[] = [];
  private nextReq = 1;
  private knownStatusVersion = -1;
  private allUp = false;
  private readonly placements = new WeakMap<readonly number[], PlacementSet>();
  private readonly isUpBound = (n: number): boolean => this.isUp(n);
  private readonly levelCache = { read: new Map<Level, Requirement>(), write: new Map<Level, Requirement>() };
  private readonly defaultRead: Requirement;
  private readonly defaultWrite: Requirement;
  /** HDR histograms of completed operations (microseconds): what operators watch as read latency p99 */
  private readonly readLatency = latencyHistogram();
  private readonly writeLatency = latencyHistogram();
  /** which replicas this client can reach now, from the messages themselves (a partition cuts links, not heartbeats) */
  private readonly links: LinkDetector;

  constructor(config: ResolvedConfig, address: Address, near: number, ring?: Ring) {
    this.config = config;
    this.address = address;
    this.near = near;
    this.ring = ring ?? new Ring({ nodes: config.nodes, vnodes: config.vnodes, replication: config.replication });
    this.defaultRead = this.cachedRequirement(config.read, 'read');
    this.defaultWrite = this.cachedRequirement(config.write, 'write');
    this.links = new LinkDetector(config.links);
  }

  // ------------------------------------------------------------------------------------------ runtime hooks

  protected abstract now(): number;
  /** Sends one message (the runtime batches, delays or drops it as its network does). */
  protected abstract transmit(to: Address, msg: Message): void;
  /** Whether replica `to`'s mailbox has room. */
  protected abstract accepts(to: Address): boolean;
  protected abstract isUp(node: number): boolean;
  /** Changes whenever any node's status changes (lets placements be cached while every node is up). */
  protected abstract statusVersion(): number;
  /** A replica's store read without a message: the clock, undefined (nothing), LOCAL_BUSY, or null (not here). */
  protected abstract readStore(node: number, keyId: string): StoredClock | undefined | typeof LOCAL_BUSY | null;
  /** Registers a pending operation with the runtime (which then delivers replies and ticks until it settles). */
  protected abstract track<T>(start: (resolve: (v: T) => void, reject: (e: LeaderlessError) => void) => void): Promise<T>;
  /** Throws STOPPED when the client or its cluster is closed. */
  protected abstract checkOpen(): void;

  // ---------------------------------------------------------------------------------------------- public API

  async get(key: Key, options: GetOptions = {}): Promise<GetResult> {
    this.checkOpen();
    checkOptions(options, GET_KEYS, 'get');
    const id = this.checkKey(key);
    const need = this.requirementOf(options.consistency, options.r, 'read');
    const timeoutMs = options.timeoutMs === undefined ? this.config.timeoutMs : checkTimeout(options.timeoutMs);
    const readRepair = options.readRepair ?? this.config.readRepair;
    if (!['async', 'blocking', 'off'].includes(readRepair)) {
      throw new InvalidArgumentError(`readRepair must be async, blocking or off; got ${show(readRepair)}`);
    }
    const standInNotFoundOk = options.standInNotFoundOk ?? this.config.standInNotFoundOk;
    if (typeof standInNotFoundOk !== 'boolean') {
      throw new InvalidArgumentError(`standInNotFoundOk must be true or false; got ${String(standInNotFoundOk)}`);
    }
    const placement = this.placeWithSpares(id);
    this.counters.gets++;
    if (need.total <= this.localReadLimit() && !need.hintsCount && (need.total === 1 || readRepair !== 'blocking')) {
      const local = this.readLocal(id, placement.targets, need, readRepair);
      if (local !== undefined) return local;
    }
    this.checkInFlight();
    const startMs = this.now();
    const fsm = new GetFsm(
      {
        req: this.nextReq++,
        self: this.address,
        key: id,
        targets: placement.readTargets,
        need,
        sloppy: this.config.sloppy,
        readRepair,
        conflicts: this.config.conflicts,
        timeoutMs,
        retryAfterMs: this.config.readRetryMs,
        fanout: this.config.readFanout,
        standInNotFoundOk,
      },
      this.now(),
    );
    return this.track<GetResult>((resolve, reject) => {
      const pending: PendingGet = { fsm, resolve, reject, startMs };
      this.gets.set(fsm.params.req, pending);
      this.finishGet(pending, fsm.start(this.out));
      this.route(pending);
    });
  }

  async put(key: Key, value: Value, options: PutOptions = {}): Promise<PutResult> {
    return this.write(key, this.checkValue(value), options);
  }

  /** Deletes by writing a tombstone. Pass the context of a read to delete exactly what you saw. */
  async delete(key: Key, options: PutOptions = {}): Promise<PutResult> {
    return this.write(key, null, options);
  }

  /** Latency of this client's message-borne reads and of its writes (local ONE reads take about a microsecond). */
  latency(): { read: LatencySummary; write: LatencySummary } {
    return { read: summarize(this.readLatency), write: summarize(this.writeLatency) };
  }

  /** Operations in flight on this client. */
  get inFlight(): number {
    return this.puts.size + this.gets.size;
  }

  // ------------------------------------------------------------------------------- driven by the runtime

  /** A message for this client arrived. */
  receive(msg: Message): void {
    if (msg.type !== 'tick') this.links.heard(msg.from, this.now());
    switch (msg.type) {
      case 'put-reply':
        return this.onPutReply(msg);
      case 'get-reply': {
        const g = this.gets.get(msg.req);
        if (g === undefined) return;
        this.finishGet(g, g.fsm.onReply(msg, this.out));
        this.route(g);
        return;
      }
      case 'repair-ack': {
        const g = this.gets.get(msg.req);
        if (g !== undefined) this.finishGet(g, g.fsm.onRepairAck(msg.from));
        return;
      }
      default:
        return;
    }
  }

  /** Time passed: read retries and deadlines, write failover and deadlines. */
  tick(nowMs: number): void {
    const links = this.links.at(nowMs);
    for (const g of this.gets.values()) {
      this.finishGet(g, g.fsm.onLinksDown(links, this.out));
      this.finishGet(g, g.fsm.onTick(nowMs, this.out));
      this.route(g);
    }
    for (const [req, p] of this.puts) {
      if (nowMs >= p.deadlineMs) {
        this.failPut(req, p, new TimeoutError(
          `write timed out after ${p.timeoutMs} ms: coordinating replicas ${p.asked.join(',')} did not answer`,
          { timeoutMs: p.timeoutMs, coordinators: p.asked.slice() },
        ));
        continue;
      }
      const coordinator = p.msg.targets[p.attempt].node;
      if (this.config.coordinatorFailoverMs === 0 && this.links.isDown(coordinator, nowMs)) {
        this.failPut(req, p, unansweredWrite(p.asked));
        continue;
      }
      // Not on a down link alone: the coordinator may have applied the write, and another copy would be a sibling.
      if (nowMs >= p.failoverAtMs) this.failOver(req, p, nowMs);
      else if (nowMs - p.sentAtMs >= Math.min(this.links.timeoutOf(coordinator), p.timeoutMs / 2) && !this.links.waiting(coordinator)) {
        // slow to answer: ask it something it answers at once, so that a cut link shows within the link's timeout
        // (by half the write's own timeout at the latest: a write that gives up sooner must not leave it unasked)
        this.probe(coordinator, p.msg.key, nowMs);
      }
    }
  }

  /** Fails every pending operation (the client closed or the cluster stopped). */
  failAll(e: LeaderlessError = new StoppedError('the client was closed')): void {
    // a write already sent may have been applied: its error says so (a read's needs no such warning)
    const inFlight =
      this.puts.size === 0 || e.code !== 'STOPPED' ? e : new StoppedError(`${e.message}; the write was in flight and may have been applied`);
    for (const p of this.puts.values()) p.reject(inFlight);
    for (const g of this.gets.values()) g.reject?.(e);
    this.puts.clear();
    this.gets.clear();
  }

  // ---------------------------------------------------------------------------------------------- internals

  /**
   * The coordinating replica has not answered (down, cut off, or slow): the next replica this client can reach
   * coordinates, with what is left of the budget. If the first one did apply the write, the value may appear twice
   * as siblings (at-least-once: see the README). With no replica left to ask, a coordinator whose link is down
   * fails the write at once; one that is only slow is waited for until the deadline.
   */
  private failOver(req: number, p: PendingPut, nowMs: number): void {
    const next = this.reachableFrom(p.msg.targets, p.msg.key, p.attempt + 1, nowMs);
    if (next >= 0 && p.deadlineMs - nowMs > this.replyAllowanceMs()) {
      p.attempt = next;
      this.counters.coordinatorFailovers++;
      this.sendPut(p, nowMs);
      return;
    }
    p.failoverAtMs = p.deadlineMs; // nobody left to ask
    if (!this.links.isDown(p.msg.targets[p.attempt].node, nowMs)) return;
    this.failPut(req, p, unansweredWrite(p.asked, p.msg.need.total));
  }

  /**
   * Index of the first target from `from` on whose link is not down, or -1. A write is not a probe (it would wait
   * out coordinatorFailoverMs on a cut link): a down target due a probe is sent a read nobody waits for instead.
   */
  private reachableFrom(targets: readonly Placement[], key: string, from: number, nowMs: number): number {
    for (let i = from; i < targets.length; i++) {
      const node = targets[i].node;
      if (!this.links.isDown(node, nowMs)) return i;
      if (this.links.probeDue(node, nowMs)) this.transmit(node, { type: 'get', req: PROBE_REQ, from: this.address, key });
    }
    return -1;
  }

  /** Sends the write to targets[p.attempt] with the budget left: the coordinator's deadline ends before the client's. */
  private sendPut(p: PendingPut, nowMs: number): void {
    const node = p.msg.targets[p.attempt].node;
    p.asked.push(node);
    p.sentAtMs = nowMs;
    // failover off (0, the default): the write stays with this coordinator until it answers, its link is known down,
    // or the deadline passes
    p.failoverAtMs = this.config.coordinatorFailoverMs === 0 ? p.deadlineMs : nowMs + this.config.coordinatorFailoverMs;
    const budgetMs = Math.max(1, p.deadlineMs - nowMs - this.replyAllowanceMs());
    this.transmit(node, { ...p.msg, budgetMs });
  }

  /** Time kept back for a coordinator's answer to come back and be seen (two ticks: its tick, then ours). */
  private replyAllowanceMs(): number {
    return 2 * this.config.tickMs;
  }

  private failPut(req: number, p: PendingPut, e: LeaderlessError): void {
    this.puts.delete(req);
    this.counters.failures++;
    if (e.code === 'TIMEOUT') this.counters.timeouts++;
    p.reject(e);
  }

  /** A read nobody waits for: its answer, if any, tells the link detector the replica is reachable. */
  private probe(node: number, key: string, nowMs: number): void {
    this.links.sent(node, nowMs);
    this.transmit(node, { type: 'get', req: PROBE_REQ, from: this.address, key });
  }

  /**
   * Whether a replica's link is down for this client. Now and then a down one is asked anyway, as a probe, so that
   * it can come back: the read waits for it until the next tick only (GetFsm.onLinksDown).
   */
  private linkDown(node: number, nowMs: number): boolean {
    return this.links.isDown(node, nowMs) && !this.links.probeDue(node, nowMs);
  }

  private async write(key: Key, value: Value | null, options: PutOptions): Promise<PutResult> {
    this.checkOpen();
    checkOptions(options, PUT_KEYS, value === null ? 'delete' : 'put');
    const id = this.checkKey(key);
    const need = this.requirementOf(options.consistency, options.w, 'write');
    const timeoutMs = options.timeoutMs === undefined ? this.config.timeoutMs : checkTimeout(options.timeoutMs);
    let context: VersionVector | null = null;
    if (options.context !== undefined) {
      if (typeof options.context !== 'string') throw new InvalidArgumentError('context must be the string a get returned');
      context = contextOf(options.context);
    }
    const { targets, spares } = this.placeWithSpares(id);
    if (targets.length === 0) {
      throw new QuorumError(`no replica of the key is up: all ${this.config.nodes.length} nodes are down`, { needed: need.total });
    }
    // Unavailable before anything is written (as Cassandra's UnavailableException): a write that cannot meet its
    // level with the replicas that are up is refused here, rather than applied to some of them and then failed.
    if (!this.allUp) {
      const feasibility = newPutCore(need, targets, { sloppy: this.config.sloppy });
      if (putStatus(feasibility) === 'failed') {
        const o = putOutcome(feasibility);
        throw new QuorumError(`${o.message} (nothing was written)`, {
          needed: o.needed,
          acked: [],
          failed: o.failedNodes,
          up: targets.map((t) => t.node),
        });
      }
    }
    this.checkInFlight();
    const nowMs = this.now();
    let first = this.reachableFrom(targets, id, 0, nowMs);
    // every link down: refuse only on confirmed verdicts (a busy replica has had a whole timeout more to answer)
    if (first < 0) first = targets.findIndex((t) => !this.links.confirmedDown(t.node, nowMs));
    if (first < 0) {
      const unreachable = targets.map((t) => t.node);
      throw new QuorumError(
        `no replica of the key is reachable from this client: nodes ${unreachable.join(',')} left a request ` +
          `unanswered longer than the link's timeout (see links) (nothing was written)`,
        { needed: need.total, acked: [], unreachable },
      );
    }
    const coordinator = targets[first].node;
    if (!this.accepts(coordinator)) {
      throw new OverloadedError(
        `replica ${coordinator}'s mailbox is full (${this.config.mailboxCapacity} messages, mailboxCapacity); retry later`,
        { node: coordinator, capacity: this.config.mailboxCapacity },
      );
    }
    this.counters.puts++;
    const req = this.nextReq++;
    const msg: PutRequest = {
      type: 'put',
      req,
      from: this.address,
      key: id,
      value,
      context,
      targets,
      spares,
      need,
      sloppy: this.config.sloppy,
      timeoutMs,
      hintAfterMs: this.config.hintAfterMs,
    };
    return this.track<PutResult>((resolve, reject) => {
      const now = this.now();
      const p: PendingPut = {
        resolve, reject, deadlineMs: now + timeoutMs, timeoutMs, msg, attempt: first,
        asked: [], sentAtMs: now, failoverAtMs: now, startMs: now,
      };
      this.puts.set(req, p);
      this.sendPut(p, now);
    });
  }

  /**
   * A read served from the first R primaries' stores with no message (R = 1 always; more with sharedMemoryReads:
   * 'quorum'), merged as the read coordinator merges replies, stale ones repaired by message (async). Undefined when
   * that is not possible right now: a per-datacenter level other than the local one, too few primaries up, or a store
   * that cannot be read directly (compacting, its node paused or cut off): the read then goes by message.
   */
  private readLocal(id: string, targets: Placement[], need: Requirement, readRepair: ReadRepairMode): GetResult | undefined {
    const dcs = Object.keys(need.perDc);
    if (dcs.length > 1 || (dcs.length === 1 && dcs[0] !== this.config.localDc)) return undefined;
    const localOnly = dcs.length === 1;
    const nodes: number[] = [];
    const clocks: Array<StoredClock | undefined> = [];
    for (const t of targets) {
      if (nodes.length === need.total) break;
      if (!t.primary) continue; // a fallback's store does not hold the key (it holds hints)
      if (localOnly && t.dc !== this.config.localDc) continue;
      const clock = this.readStore(t.node, id);
      if (clock === null || clock === LOCAL_BUSY) return undefined; // not here, or compacting: ask by message
      nodes.push(t.node);
      clocks.push(clock);
    }
    if (nodes.length < need.total) return undefined;
    this.counters.getsLocal++;
    let merged: StoredClock | null = clocks[0] ?? null;
    for (let i = 1; i < clocks.length; i++) {
      const c = clocks[i];
      if (c !== undefined) merged = merged === null ? c : sync(merged, c, stampedEqual);
    }
    if (merged !== null && clocks.length > 1) {
      if (this.config.conflicts === 'lww') merged = resolveLww(merged);
      if (readRepair !== 'off') {
        for (let i = 0; i < nodes.length; i++) {
          const c = clocks[i];
          if (c !== undefined && equal(c, merged)) continue;
          this.counters.readRepairs++;
          this.transmit(nodes[i], { type: 'repair', req: -1, from: this.address, key: id, clock: merged });
        }
      }
    }
    const r = toResult(merged, true);
    if (r.values.length > 1) this.counters.siblingsReturned++;
    return r;
  }

  /** How many replicas a read may take straight from their stores (0: none; reads go by message). */
  protected abstract localReadLimit(): number;

  private onPutReply(msg: PutReply): void {
    const p = this.puts.get(msg.req);
    if (p === undefined) return;
    this.puts.delete(msg.req);
    recordUs(this.writeLatency, this.now() - p.startMs);
    if (msg.ok) p.resolve(new WriteResult(msg.acked, msg.primaryOnly, msg.context, msg.siblings, p.msg.value));
    else {
      this.counters.failures++;
      p.reject(afterFailover(fromWire(msg.error ?? { code: 'INTERNAL', message: 'write failed without a reason', details: {} }), p.asked));
    }
  }

  /** Sends what the FSM asked for; a target whose mailbox is full counts as unreachable at once. */
  private route(g: PendingGet): void {
    while (this.out.length > 0) {
      const batch = this.out.splice(0);
      const nowMs = this.now();
      for (const { to, msg } of batch) {
        if (msg.type === 'get') {
          if (!this.accepts(to) || (this.linkDown(to, nowMs) && !g.fsm.needs(to))) {
            this.finishGet(g, g.fsm.onUnreachable(to, this.out));
            continue;
          }
          if (!this.links.isDown(to, nowMs)) g.fsm.upWhenAsked.add(to);
          this.links.sent(to, nowMs);
        }
        this.transmit(to, msg);
      }
    }
  }

  private finishGet(g: PendingGet, r: FsmGetResult | undefined): void {
    if (r !== undefined && g.resolve !== undefined) {
      const resolve = g.resolve;
      const reject = g.reject!;
      g.resolve = undefined;
      g.reject = undefined;
      recordUs(this.readLatency, this.now() - g.startMs);
      if (r.ok) {
        if (r.repaired.length > 0) this.counters.readRepairs += r.repaired.length;
        const result = toResult(r.clock, r.primaryOnly, r.context);
        if (result.values.length > 1) this.counters.siblingsReturned++;
        resolve(result);
      } else {
        this.counters.failures++;
        if (r.error.code === 'TIMEOUT') this.counters.timeouts++;
        reject(r.error);
      }
    }
    if (g.fsm.state === 'done') this.gets.delete(g.fsm.params.req);
  }

  /**
   * The key's placement plus, for a sloppy quorum, each primary's stand-in: the next healthy node on the ring that
   * would take its writes (with a hint) were it down or slow. While every node is up (the common case) the result
   * is cached per preference list (the ring hands out one frozen array per token position).
   */
  protected placeWithSpares(id: string): PlacementSet {
    const h = hash32(id);
    const version = this.statusVersion();
    if (version !== this.knownStatusVersion) {
      this.knownStatusVersion = version;
      this.allUp = this.config.nodes.every((n) => this.isUp(n.id));
    }
    if (!this.allUp) return this.computePlacement(h);
    const primaries = this.ring.preferenceList(h);
    let cached = this.placements.get(primaries);
    if (cached === undefined) {
      cached = this.computePlacement(h);
      this.placements.set(primaries, cached);
    }
    return cached;
  }

  private computePlacement(h: number): PlacementSet {
    const targets = this.ring.place(h, this.isUpBound);
    if (!this.config.sloppy) return { targets, spares: [], readTargets: targets };
    const primaries = new Set(this.ring.preferenceList(h));
    const spares = this.ring.place(h, (n) => !primaries.has(n) && this.isUp(n)).filter((p) => !p.primary);
    const extra = spares.filter((s) => !targets.some((t) => t.node === s.node));
    return { targets, spares, readTargets: extra.length === 0 ? targets : [...targets, ...extra] };
  }

  private requirementOf(level: Level | undefined, count: number | undefined, op: 'read' | 'write'): Requirement {
    if (level !== undefined && count !== undefined) {
      throw new InvalidArgumentError(`give consistency or ${op === 'read' ? 'r' : 'w'}, not both`);
    }
    if (count !== undefined && typeof count !== 'number') {
      const name = op === 'read' ? 'r' : 'w';
      throw new InvalidArgumentError(`${name} must be a number (a positive integer up to N); got ${typeof count === 'string' ? `the string '${count}'` : describe(count)}`);
    }
    const chosen = count ?? level;
    if (chosen === undefined) return op === 'read' ? this.defaultRead : this.defaultWrite;
    return this.cachedRequirement(chosen, op);
  }

  /** Requirements are pure functions of (level, op) for a given topology: computed once, then looked up. */
  private cachedRequirement(level: Level, op: 'read' | 'write'): Requirement {
    const cache = this.levelCache[op];
    let r = cache.get(level);
    if (r === undefined) {
      r = requirement(parseLevel(level, op), op, { replicationByDc: this.config.replication, localDc: this.config.localDc });
      if (cache.size < 64) cache.set(level, r); // bounded: only well-formed levels get here, but be safe
    }
    return r;
  }

  private checkInFlight(): void {
    const n = this.puts.size + this.gets.size;
    if (n >= this.config.maxInFlight) {
      throw new OverloadedError(`${n} operations in flight on this client, its limit (maxInFlight); await some first`, {
        limit: this.config.maxInFlight,
      });
    }
  }

  protected checkNode(node: unknown): asserts node is number {
    if (typeof node !== 'number' || !Number.isInteger(node) || node < 0 || node >= this.config.nodes.length) {
      throw new InvalidArgumentError(`node must be an integer from 0 to ${this.config.nodes.length - 1}; got ${show(node)}`);
    }
  }

  protected checkKey(key: Key): string {
    if (typeof key !== 'string' && !(key instanceof Uint8Array)) {
      throw new InvalidArgumentError(`a key must be a string or a Uint8Array; got ${describe(key)}`);
    }
    const bytes = typeof key === 'string' ? wellFormedUtf8Length(key) : key.length;
    if (bytes < 0) throw illFormed('key', key as string);
    if (bytes === 0) throw new InvalidArgumentError('a key must not be empty');
    if (bytes > this.config.maxKeyBytes) throw new KeyTooLargeError(bytes, this.config.maxKeyBytes);
    return keyId(key);
  }

  private checkValue(value: Value): Value {
    if (typeof value === 'string') {
      if (!isWellFormed(value)) throw illFormed('value', value);
      // cheap upper bound first: UTF-8 takes at most 3 bytes per UTF-16 unit
      if (value.length * 3 > this.config.maxValueBytes) {
        const bytes = utf8Length(value);
        if (bytes > this.config.maxValueBytes) throw new ValueTooLargeError(bytes, this.config.maxValueBytes);
      }
      return value;
    }
    if (value instanceof Uint8Array) {
      if (value.length > this.config.maxValueBytes) throw new ValueTooLargeError(value.length, this.config.maxValueBytes);
      return value;
    }
    throw new InvalidArgumentError(`a value must be a string or a Uint8Array; got ${describe(value)}`);
  }
}

/**
 * A read's answer. The context is encoded only when asked for: a cache read that never writes back should not pay for
 * it (encoding costs about as much as the whole shared-memory read).
 */
class ReadResult implements GetResult {
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

class WriteResult implements PutResult {
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

function contextOf(s: string): VersionVector {
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

/** The options of cluster.client() / createHandle(), in both runtimes. */
export const CLIENT_KEYS = new Set(['near']);

export function checkOptions(o: object, allowed: Set<string>, op: string): void {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    throw new InvalidArgumentError(`${op} options must be an object; got ${describe(o)}`);
  }
  for (const k in o) {
    if (!allowed.has(k)) {
      throw new InvalidArgumentError(`unknown ${op} option ${k}; allowed: ${[...allowed].join(', ')}`, { option: k });
    }
  }
}

/** A string with a lone surrogate: UTF-8 cannot carry it, so it would come back changed (or alias another key). */
function illFormed(what: 'key' | 'value', s: string): InvalidArgumentError {
  const index = loneSurrogateAt(s);
  return new InvalidArgumentError(
    `a ${what} string must be well-formed UTF-16: it has a lone surrogate at index ${index}, which UTF-8 cannot ` +
      `encode; pass a Uint8Array for arbitrary bytes`,
    { index },
  );
}

/** faults.crash(node, { wipe }) in both runtimes: an object whose wipe, when given, is a boolean. */
export function checkCrashOptions(o: unknown): void {
  checkOptions(o as object, CRASH_KEYS, 'crash');
  const wipe = (o as { wipe?: unknown }).wipe;
  if (wipe !== undefined && typeof wipe !== 'boolean') throw new InvalidArgumentError(`wipe must be true or false; got ${show(wipe)}`);
}

const CRASH_KEYS = new Set(['wipe']);

function checkTimeout(t: unknown): number {
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 3_600_000) {
    throw new InvalidArgumentError(`timeoutMs must be an integer from 1 to 3600000; got ${show(t)}`);
  }
  return t;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? `an object (${(v as object).constructor?.name ?? 'Object'})` : typeof v;
}

function latencyHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 2 });
}

function recordUs(h: hdr.Histogram, ms: number): void {
  h.recordValue(Math.max(1, Math.min(3_600_000_000, Math.round(ms * 1000))));
}

function summarize(h: hdr.Histogram): LatencySummary {
  return summarizeLatency(h); // percentiles clamped to [min, max], and the buckets for Prometheus
}

/**
 * The error a write ends with once it was sent to more than one coordinator (failover): a refusal from a later one
 * promises only that that one wrote nothing, while an earlier one may have applied the write, so it is reported as
 * indeterminate (QUORUM_UNREACHABLE, "it may have been applied"). Errors that already say so stay as they are.
 */
export function afterFailover(e: LeaderlessError, coordinators: readonly number[]): LeaderlessError {
  if (coordinators.length < 2 || e.code === 'TIMEOUT') return e;
  if (e.code === 'QUORUM_UNREACHABLE' && !/nothing was written/.test(e.message)) return e;
  const last = coordinators[coordinators.length - 1];
  const why = e.message.replace(/\s*\(nothing was written\)/, '');
  return new QuorumError(
    `write failed at coordinator ${last} (${e.code}: ${why}) after failing over from ${coordinators.slice(0, -1).join(',')}, ` +
      'which did not answer: it may have been applied',
    { coordinators: coordinators.slice(), cause: e.code },
  );
}

/** A write whose coordinators are unreachable from this client: indeterminate, since one may have applied it. */
function unansweredWrite(coordinators: readonly number[], needed?: number): QuorumError {
  return new QuorumError(
    `write failed: coordinating replica${coordinators.length > 1 ? 's' : ''} ${coordinators.join(',')} unreachable from this ` +
      'client (a request left unanswered longer than the link\'s timeout, see links); it may have been applied',
    { needed, acked: [], unreachable: coordinators.slice(), coordinators: coordinators.slice() },
  );
}
