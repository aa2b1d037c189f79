// A client of the simulated cluster: the same get / put / delete / inspect / nodeStatus as runtime/client.ts's
// ClusterClient, with the same argument checks and result shapes (runtime/sim/shape.ts), on virtual time.
//
// It hosts the read coordinator (actors/coordinator/get.ts) and sends each write to its coordinating replica, as
// the thread runtime does; its messages cross the simulated network (so a client `near` a replica is cut off with
// that replica by a partition). State: the writes waiting for a put-reply (each with the client-side deadline the
// thread runtime uses: timeoutMs + 1000) and the reads in progress, together bounded by maxInFlight.
// Consistency-ONE reads go by message too, unless the cluster was started with localReads: true, which reads the
// first primary's store directly as the thread runtime reads shared memory (no latency, no staleness window).

import { GetFsm, type GetResult as FsmGetResult } from '../../actors/coordinator/get.js';
import {
  InvalidArgumentError,
  OverloadedError,
  QuorumError,
  StoppedError,
  TimeoutError,
  fromWire,
} from '../../actors/errors.js';
import { hash32, type Key } from '../../actors/hash.js';
import type { Address, Message, PutReply, PutRequest, Send } from '../../actors/protocol.js';
import { newPutCore, putOutcome, putStatus, requirement, type Requirement } from '../../actors/quorum.js';
import { Ring, type Placement } from '../../actors/ring.js';
import type { Value } from '../../actors/types.js';
import { decodeContext, encodeContext, type VersionVector } from '../../actors/versioning/dvv.js';
import type { GetOptions, GetResult, Inspection, PutOptions, PutResult } from '../client.js';
import type { ResolvedConfig } from '../config.js';
import {
  GET_KEYS,
  PUT_KEYS,
  checkKey,
  checkOptions,
  checkTimeout,
  checkValue,
  requirementOf,
  toInspection,
  toResult,
} from './shape.js';
import type { SimHost, SimWorld } from './world.js';

interface PendingPut {
  resolve: (r: PutResult) => void;
  reject: (e: Error) => void;
  deadlineMs: number;
  timeoutMs: number;
  /** the request, resent to the next coordinator when one does not answer */
  msg: PutRequest;
  attempt: number;
  failoverAtMs: number;
}

interface PlacementSet {
  targets: Placement[];
  spares: Placement[];
  /** what a read may ask: targets, then stand-ins not already among them */
  readTargets: Placement[];
}

interface PendingGet {
  fsm: GetFsm;
  resolve?: (r: GetResult) => void;
  reject?: (e: Error) => void;
}

export class SimClient implements SimHost {
  readonly config: ResolvedConfig;
  readonly ring: Ring;
  readonly counters = {
    gets: 0, getsLocal: 0, puts: 0, failures: 0, timeouts: 0, readRepairs: 0, siblingsReturned: 0, coordinatorFailovers: 0,
  };
  private readonly puts = new Map<number, PendingPut>();
  private readonly gets = new Map<number, PendingGet>();
  private readonly out: Send[] = [];
  private nextReq = 1;
  private closed = false;
  private readonly defaultRead: Requirement;
  private readonly defaultWrite: Requirement;

  constructor(
    protected readonly world: SimWorld,
    ring: Ring,
    readonly address: Address,
    readonly near: number,
    private readonly localReads: boolean,
  ) {
    this.config = world.config;
    this.ring = ring;
    const topo = { replicationByDc: this.config.replication, localDc: this.config.localDc };
    this.defaultRead = requirement(this.config.read, 'read', topo);
    this.defaultWrite = requirement(this.config.write, 'write', topo);
    world.hosts.set(address, this);
  }

  // ---------------------------------------------------------------------------------------------- public API

  async get(key: Key, options: GetOptions = {}): Promise<GetResult> {
    this.checkOpen();
    checkOptions(options, GET_KEYS, 'get');
    const id = checkKey(this.config, key);
    const need = requirementOf(this.config, options.consistency, options.r, 'read', this.defaultRead);
    const timeoutMs = options.timeoutMs === undefined ? this.config.timeoutMs : checkTimeout(options.timeoutMs);
    const readRepair = options.readRepair ?? this.config.readRepair;
    if (!['async', 'blocking', 'off'].includes(readRepair)) {
      throw new InvalidArgumentError(`readRepair must be async, blocking or off; got ${String(readRepair)}`);
    }
    const placement = this.placeWithSpares(id);
    this.counters.gets++;
    if (this.localReads && need.total === 1 && !need.hintsCount) {
      const local = this.readLocal(id, placement.targets, need);
      if (local !== undefined) return local;
    }
    this.checkInFlight();
    const params = {
      req: this.nextReq++, self: this.address, key: id, targets: placement.readTargets, need, sloppy: this.config.sloppy,
      readRepair, conflicts: this.config.conflicts, timeoutMs, retryAfterMs: this.config.readRetryMs, fanout: this.config.readFanout,
    };
    return this.world.track<GetResult>((resolve, reject) => {
      const fsm = new GetFsm(params, this.world.nowMs);
      const pending: PendingGet = { fsm, resolve, reject };
      this.gets.set(params.req, pending);
      this.finishGet(pending, fsm.start(this.out));
      this.route(pending);
    });
  }

  async put(key: Key, value: Value, options: PutOptions = {}): Promise<PutResult> {
    return this.write(key, checkValue(this.config, value), options);
  }

  /** Deletes by writing a tombstone. Pass the context of a read to delete exactly what you saw. */
  async delete(key: Key, options: PutOptions = {}): Promise<PutResult> {
    return this.write(key, null, options);
  }

  /** What replica `node` holds for `key`, read from its store (no message, no virtual time): undefined if nothing. */
  inspect(node: number, key: Key): Inspection | undefined {
    this.checkOpen();
    this.checkNode(node);
    const clock = this.world.nodes[node].store.get(checkKey(this.config, key));
    return clock === undefined ? undefined : toInspection(clock);
  }

  /** How the cluster sees a node: the simulator's detector is perfect (a killed node is down at once). */
  nodeStatus(node: number): 'up' | 'suspect' | 'down' {
    this.checkNode(node);
    return this.world.nodes[node].status;
  }

  /** Detaches this client: its pending operations fail with STOPPED. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fail(new StoppedError('the client was closed'));
    this.world.hosts.delete(this.address);
  }

  // ---------------------------------------------------------------------------------------------- SimHost

  get inFlight(): number {
    return this.puts.size + this.gets.size;
  }

  deliver(msg: Message): void {
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

  tick(nowMs: number): void {
    for (const g of this.gets.values()) {
      this.finishGet(g, g.fsm.onTick(nowMs, this.out));
      this.route(g);
    }
    for (const [req, p] of this.puts) {
      if (nowMs >= p.failoverAtMs && p.attempt + 1 < p.msg.targets.length && nowMs < p.deadlineMs) {
        // As the thread runtime does: the coordinating replica has not answered, so the next one coordinates.
        p.attempt++;
        p.failoverAtMs = nowMs + this.config.coordinatorFailoverMs;
        p.deadlineMs = Math.max(p.deadlineMs, nowMs + p.timeoutMs + this.config.coordinatorFailoverMs);
        this.counters.coordinatorFailovers++;
        this.world.send(this.address, p.msg.targets[p.attempt].node, p.msg);
        continue;
      }
      if (nowMs < p.deadlineMs) continue;
      this.puts.delete(req);
      this.counters.failures++;
      this.counters.timeouts++;
      const coordinators = p.msg.targets.slice(0, p.attempt + 1).map((t) => t.node);
      p.reject(
        new TimeoutError(`write timed out after ${p.timeoutMs} ms: coordinating replicas ${coordinators.join(',')} did not answer`, {
          timeoutMs: p.timeoutMs,
          coordinators,
        }),
      );
    }
  }

  fail(e: Error): void {
    for (const p of this.puts.values()) p.reject(e);
    for (const g of this.gets.values()) g.reject?.(e);
    this.puts.clear();
    this.gets.clear();
  }

  // ---------------------------------------------------------------------------------------------- internals

  private async write(key: Key, value: Value | null, options: PutOptions): Promise<PutResult> {
    this.checkOpen();
    checkOptions(options, PUT_KEYS, value === null ? 'delete' : 'put');
    const id = checkKey(this.config, key);
    const need = requirementOf(this.config, options.consistency, options.w, 'write', this.defaultWrite);
    const timeoutMs = options.timeoutMs === undefined ? this.config.timeoutMs : checkTimeout(options.timeoutMs);
    let context: VersionVector | null = null;
    if (options.context !== undefined) {
      if (typeof options.context !== 'string') throw new InvalidArgumentError('context must be the string a get returned');
      context = decodeContext(options.context);
    }
    const { targets, spares } = this.placeWithSpares(id);
    if (targets.length === 0) {
      throw new QuorumError(`no replica of the key is up: all ${this.config.nodes.length} nodes are down`, { needed: need.total });
    }
    // As the thread runtime: a write that cannot meet its level with the replicas up is refused before it is applied.
    const feasibility = newPutCore(need, targets, { sloppy: this.config.sloppy });
    if (putStatus(feasibility) === 'failed') {
      const o = putOutcome(feasibility);
      throw new QuorumError(`${o.message} (nothing was written)`, { needed: o.needed, acked: [], failed: o.failedNodes, up: targets.map((t) => t.node) });
    }
    this.checkInFlight();
    const coordinator = targets[0].node;
    if (!this.world.accepts(coordinator)) {
      throw new OverloadedError(
        `replica ${coordinator}'s mailbox is full (${this.config.mailboxCapacity} messages, mailboxCapacity); retry later`,
        { node: coordinator, capacity: this.config.mailboxCapacity },
      );
    }
    this.counters.puts++;
    const req = this.nextReq++;
    const msg: PutRequest = {
      type: 'put', req, from: this.address, key: id, value, context, targets, spares, need, sloppy: this.config.sloppy,
      timeoutMs, hintAfterMs: this.config.hintAfterMs,
    };
    return this.world.track<PutResult>((resolve, reject) => {
      const now = this.world.nowMs;
      const failoverMs = this.config.coordinatorFailoverMs;
      this.puts.set(req, { resolve, reject, deadlineMs: now + timeoutMs + failoverMs, timeoutMs, msg, attempt: 0, failoverAtMs: now + failoverMs });
      this.world.send(this.address, coordinator, msg);
    });
  }

  private readLocal(id: string, targets: Placement[], need: Requirement): GetResult | undefined {
    const localOnly = need.perDc[this.config.localDc] !== undefined;
    for (const t of targets) {
      if (!t.primary) continue; // a fallback's store does not hold the key (it holds hints)
      if (localOnly && t.dc !== this.config.localDc) continue;
      this.counters.getsLocal++;
      const r = toResult(this.world.nodes[t.node].store.get(id) ?? null, true);
      if (r.values.length > 1) this.counters.siblingsReturned++;
      return r;
    }
    return undefined;
  }

  private onPutReply(msg: PutReply): void {
    const p = this.puts.get(msg.req);
    if (p === undefined) return;
    this.puts.delete(msg.req);
    if (msg.ok) p.resolve({ acked: msg.acked, primaryOnly: msg.primaryOnly, context: encodeContext(msg.context) });
    else {
      this.counters.failures++;
      p.reject(fromWire(msg.error ?? { code: 'INTERNAL', message: 'write failed without a reason', details: {} }));
    }
  }

  /** Sends what the FSM asked for; a target whose mailbox is full counts as unreachable at once. */
  private route(g: PendingGet): void {
    while (this.out.length > 0) {
      const batch = this.out.splice(0);
      for (const { to, msg } of batch) {
        if (msg.type === 'get' && !this.world.accepts(to)) {
          this.finishGet(g, g.fsm.onUnreachable(to, this.out));
          continue;
        }
        this.world.send(this.address, to, msg);
      }
    }
  }

  private finishGet(g: PendingGet, r: FsmGetResult | undefined): void {
    if (r !== undefined && g.resolve !== undefined) {
      const resolve = g.resolve;
      const reject = g.reject!;
      g.resolve = undefined;
      g.reject = undefined;
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
   * The key's placement with, for a sloppy quorum, each primary's stand-in (the next healthy node on the ring), as
   * the thread runtime computes it (without its cache: the simulator's membership changes at any event).
   */
  protected placeWithSpares(id: string): PlacementSet {
    const h = hash32(id);
    const isUp = this.isUp;
    const targets = this.ring.place(h, isUp);
    if (!this.config.sloppy) return { targets, spares: [], readTargets: targets };
    const primaries = this.ring.preferenceList(h);
    const spares = this.ring.place(h, (n) => !primaries.includes(n) && isUp(n)).filter((p) => !p.primary);
    const extra = spares.filter((s) => !targets.some((t) => t.node === s.node));
    return { targets, spares, readTargets: extra.length === 0 ? targets : [...targets, ...extra] };
  }

  private readonly isUp = (n: number): boolean => this.world.nodes[n].status === 'up';

  protected checkOpen(): void {
    if (this.closed || this.world.stopped) throw this.world.crashed ?? new StoppedError();
  }

  protected checkNode(node: number): void {
    if (!Number.isInteger(node) || node < 0 || node >= this.config.nodes.length) {
      throw new InvalidArgumentError(`node must be an integer from 0 to ${this.config.nodes.length - 1}; got ${String(node)}`);
    }
  }

  private checkInFlight(): void {
    const n = this.puts.size + this.gets.size;
    if (n >= this.config.maxInFlight) {
      throw new OverloadedError(`${n} operations in flight on this client, its limit (maxInFlight); await some first`, {
        limit: this.config.maxInFlight,
      });
    }
  }
}
