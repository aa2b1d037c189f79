// The client coordinator, the same in every runtime: argument checks (checks.ts), placement with sloppy-quorum
// stand-ins (placement.ts), reads through the read coordinator (get.ts) or straight from stores (local-read.ts),
// writes sent to a coordinating replica with failover and deadlines (writes.ts), and the results (results.ts).
//
// It is pure protocol: it is given a transport, a clock, a view of the cluster and the runtime's hold on pending
// operations (client-env.ts), and is driven by receive() (a message for this client) and tick() (time passed). The
// thread runtime's ClusterClient and the simulator's SimClient each hold one.

import { GetFsm, type GetResult as FsmGetResult } from './get.js';
import { OverloadedError, QuorumError, StoppedError, InvalidArgumentError, type LeaderlessError } from '../errors.js';
import { hash32, type Key } from '../hash.js';
import { LinkDetector } from '../link-detector.js';
import type { Address, Message, PutRequest, Send } from '../protocol.js';
import { newPutCore, putOutcome, putStatus, type Requirement } from '../quorum/index.js';
import type { Placement, Ring } from '../ring.js';
import type { Value } from '../types.js';
import type { VersionVector } from '../versioning/dvv.js';
import {
  GET_KEYS, PUT_KEYS, Requirements, checkKey, checkNode, checkOptions, checkReadRepair, checkStandInNotFoundOk, checkTimeout, checkValue,
} from './checks.js';
import type { ClientConfig, ClientEnv } from './client-env.js';
import { MembershipView } from '../membership/epoch.js';
import { FIRST_EPOCH, type Membership } from '../membership/plan.js';
import { viewOf, type MembershipSnapshot } from '../membership/snapshot.js';
import { LocalReads } from './local-read.js';
import { Placer, type PlacementSet } from './placement.js';
import { contextOf, newClientCounters, toResult, type ClientCounters, type GetOptions, type GetResult, type PutOptions, type PutResult } from './results.js';
import { Writes } from './writes.js';

/** The options object of a call made without one (not allocated per call, and known to need no checking). */
const NO_OPTIONS: GetOptions = Object.freeze({});

interface PendingGet {
  fsm: GetFsm;
  /** a replica refused it with WRONG_EPOCH: a failure is retried against a newer view */
  refusedEpoch?: boolean;
  startMs: number;
  resolve?: (r: GetResult) => void;
  reject?: (e: LeaderlessError) => void;
}

export class ClientCoordinator {
  readonly counters: ClientCounters = newClientCounters();
  private readonly gets = new Map<number, PendingGet>();
  private readonly writes: Writes;
  private readonly out: Send[] = [];
  private nextReq = 1;
  private placer: Placer;
  private readonly local: LocalReads;
  private readonly requirements: Requirements;
  /** which replicas this client can reach now, from the messages themselves (a partition cuts links, not heartbeats) */
  private readonly links: LinkDetector;
  /** the ring's first membership, and this client's view of the current one (setMembership) */
  private readonly base: Membership;
  private view: MembershipView;
  /** operations waiting to be retried against a newer view (a replica refused them with WRONG_EPOCH) */
  private waiters: Array<{ resolve: () => void; reject: (e: LeaderlessError) => void }> = [];
  /** read failures that followed a WRONG_EPOCH refusal (get() retries them) */
  private readonly epochRefused = new WeakSet<LeaderlessError>();

  constructor(
    readonly config: ClientConfig,
    readonly address: Address,
    private readonly env: ClientEnv,
    /** the placement ring of config's nodes (the runtime builds it once, runtime/config.ts ringOf) */
    readonly ring: Ring,
  ) {
    this.requirements = new Requirements(config, config.read, config.write);
    this.links = new LinkDetector(config.links);
    this.base = Object.freeze({ epoch: FIRST_EPOCH, ring });
    this.view = new MembershipView(address, this.base);
    this.placer = new Placer(this.ring, env.view, config.sloppy);
    this.local = new LocalReads(config, env.view, env.transport, this.counters, address, env.localReadLimit);
    this.writes = new Writes(config, env.transport, env.clock, this.links, this.counters, env.observer, address);
  }

  // ---------------------------------------------------------------------------------------------- public API

  /**
   * A read. Not an async function: a read served straight from the replicas' stores (local-read.ts) settles with no
   * await and no async frame, which was most of its cost; only a read by message goes through the retry loop.
   */
  get(key: Key, options: GetOptions = NO_OPTIONS): Promise<GetResult> {
    try {
      this.env.host.checkOpen();
      if (options !== NO_OPTIONS) checkOptions(options, GET_KEYS, 'get');
      const id = this.checkKey(key);
      const need = this.requirements.of(options.consistency, options.r, 'read');
      const timeoutMs = options.timeoutMs === undefined ? this.config.timeoutMs : checkTimeout(options.timeoutMs);
      const readRepair = checkReadRepair(options.readRepair ?? this.config.readRepair);
      const standInNotFoundOk = checkStandInNotFoundOk(options.standInNotFoundOk ?? this.config.standInNotFoundOk);
      this.counters.gets++;
      if (this.local.allows(need, readRepair)) {
        // consistency-ONE reads from a store (about a microsecond) are not timed: two clock reads and a histogram
        // record would add a tenth to them; quorum reads are, like every read by message
        const timed = need.total > 1;
        const startMs = timed ? this.env.clock.now() : 0;
        const placement = this.transitionPlacement(id, 'read') ?? this.placer.place(id);
        const local = this.local.read(id, placement.targets, need, readRepair);
        if (local !== undefined) {
          if (timed) this.env.observer.completed('read', this.env.clock.now() - startMs);
          return Promise.resolve(local);
        }
      }
      return this.getByMessage(id, need, timeoutMs, readRepair, standInNotFoundOk);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** A read that could not be served from the stores: by message, retried on WRONG_EPOCH while time is left. */
  private async getByMessage(
    id: string,
    need: Requirement,
    timeoutMs: number,
    readRepair: ReturnType<typeof checkReadRepair>,
    standInNotFoundOk: boolean,
  ): Promise<GetResult> {
    const deadlineMs = this.env.clock.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      // a retry gets what is left of the caller's timeoutMs
      const left = attempt === 0 ? timeoutMs : Math.max(1, deadlineMs - this.env.clock.now());
      try {
        return await this.getOnce(id, need, left, readRepair, standInNotFoundOk, attempt > 0);
      } catch (e) {
        if (!this.retryable(e, deadlineMs)) {
          if (this.epochRefused.has(e as LeaderlessError)) this.counters.failures++;
          throw e;
        }
      }
      await this.nextView();
    }
  }

  private async getOnce(
    id: string,
    need: Requirement,
    timeoutMs: number,
    readRepair: ReturnType<typeof checkReadRepair>,
    standInNotFoundOk: boolean,
    /** false on the first attempt: get() tried the stores already */
    tryLocal: boolean,
  ): Promise<GetResult> {
    const placement = this.transitionPlacement(id, 'read') ?? this.placer.place(id);
    if (tryLocal && this.local.allows(need, readRepair)) {
      const startMs = this.env.clock.now();
      const local = this.local.read(id, placement.targets, need, readRepair);
      if (local !== undefined) {
        if (need.total > 1) this.env.observer.completed('read', this.env.clock.now() - startMs); // as in get()
        return local;
      }
    }
    this.checkInFlight();
    const clock = this.env.clock;
    const startMs = clock.now();
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
        epoch: this.view.epoch,
      },
      clock.now(),
    );
    return this.env.host.track<GetResult>((resolve, reject) => {
      const pending: PendingGet = { fsm, resolve, reject, startMs };
      this.gets.set(fsm.params.req, pending);
      this.finishGet(pending, fsm.start(this.out));
      this.route(pending);
    });
  }

  async put(key: Key, value: Value, options: PutOptions = {}): Promise<PutResult> {
    return this.write(key, checkValue(value, this.config.maxValueBytes), options);
  }

  /** Deletes by writing a tombstone. Pass the context of a read to delete exactly what you saw. */
  async delete(key: Key, options: PutOptions = {}): Promise<PutResult> {
    return this.write(key, null, options);
  }

  /** Operations in flight on this client. */
  get inFlight(): number {
    return this.writes.size + this.gets.size + this.waiters.length;
  }

  /** Replica `node` was restarted: this client's link to it starts afresh (see LinkDetector.restarted). */
  peerRestarted(node: number): void {
    this.links.restarted(node);
  }

  /** The control plane published a new membership (a change began, or ranges of it were handed off). */
  setMembership(snapshot: MembershipSnapshot): void {
    const before = this.view.membership.ring;
    this.view = viewOf(this.address, this.base, snapshot);
    const ring = this.view.membership.ring;
    if (ring !== before) this.placer = new Placer(ring, this.env.view, this.config.sloppy);
    this.wakeWaiters();
  }

  /** The ring this client places keys on now (the last membership it was told of). */
  get currentRing(): Ring {
    return this.view.membership.ring;
  }

  /** The client's ring epoch. */
  get epoch(): number {
    return this.view.epoch;
  }

  checkNode(node: unknown): asserts node is number {
    checkNode(node, this.view.membership.ring.nodes.length);
  }

  checkKey(key: Key): string {
    return checkKey(key, this.config.maxKeyBytes);
  }

  // ------------------------------------------------------------------------------- driven by the runtime

  /** A message for this client arrived. */
  receive(msg: Message): void {
    if (msg.type !== 'tick') this.links.heard(msg.from, this.env.clock.now());
    switch (msg.type) {
      case 'put-reply':
        return this.writes.onReply(msg);
      case 'get-reply': {
        const g = this.gets.get(msg.req);
        if (g === undefined) return;
        if (msg.error?.code === 'WRONG_EPOCH') g.refusedEpoch = true;
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
    this.wakeWaiters();
    const links = this.links.at(nowMs);
    for (const g of this.gets.values()) {
      this.finishGet(g, g.fsm.onLinksDown(links, this.out));
      this.finishGet(g, g.fsm.onTick(nowMs, this.out));
      this.route(g);
    }
    this.writes.tick(nowMs);
  }

  /** Fails every pending operation (the client closed or the cluster stopped). */
  failAll(e: LeaderlessError = new StoppedError('the client was closed')): void {
    // a write already sent may have been applied: its error says so (a read's needs no such warning)
    this.writes.failAll(e);
    for (const g of this.gets.values()) g.reject?.(e);
    this.gets.clear();
    // an operation waiting to be retried against a newer view fails too: a closed client gets no more views or ticks
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f.reject(e);
  }

  // ---------------------------------------------------------------------------------------------- internals

  /** Sends what the FSM asked for; a target whose mailbox is full counts as unreachable at once. */
  private route(g: PendingGet): void {
    const transport = this.env.transport;
    while (this.out.length > 0) {
      const batch = this.out.splice(0);
      const nowMs = this.env.clock.now();
      for (const { to, msg } of batch) {
        if (msg.type === 'get') {
          if (!transport.accepts(to) || (this.linkDown(to, nowMs) && !g.fsm.needs(to))) {
            this.finishGet(g, g.fsm.onUnreachable(to, this.out));
            continue;
          }
          if (!this.links.isDown(to, nowMs)) g.fsm.upWhenAsked.add(to);
          this.links.sent(to, nowMs);
        }
        transport.send(to, msg);
      }
    }
  }

  private finishGet(g: PendingGet, r: FsmGetResult | undefined): void {
    if (r !== undefined && g.resolve !== undefined) {
      const resolve = g.resolve;
      const reject = g.reject!;
      g.resolve = undefined;
      g.reject = undefined;
      this.env.observer.completed('read', this.env.clock.now() - g.startMs);
      if (r.ok) {
        if (r.repaired.length > 0) this.counters.readRepairs += r.repaired.length;
        const result = toResult(r.clock, r.primaryOnly, r.context);
        if (result.values.length > 1) this.counters.siblingsReturned++;
        resolve(result);
      } else if (g.refusedEpoch === true && r.error.code !== 'TIMEOUT') {
        this.epochRefused.add(r.error); // get() retries it against a newer view, within its deadline
        reject(r.error);
      } else {
        this.counters.failures++;
        if (r.error.code === 'TIMEOUT') this.counters.timeouts++;
        reject(r.error);
      }
    }
    if (g.fsm.state === 'done') this.gets.delete(g.fsm.params.req);
  }

  /**
   * Whether a replica's link is down for this client. Now and then a down one is asked anyway, as a probe, so that
   * it can come back: the read waits for it until the next tick only (GetFsm.onLinksDown).
   */
  private linkDown(node: number, nowMs: number): boolean {
    return this.links.isDown(node, nowMs) && !this.links.probeDue(node, nowMs);
  }

  private async write(key: Key, value: Value | null, options: PutOptions): Promise<PutResult> {
    this.env.host.checkOpen();
    checkOptions(options, PUT_KEYS, value === null ? 'delete' : 'put');
    const id = this.checkKey(key);
    const need = this.requirements.of(options.consistency, options.w, 'write');
    const timeoutMs = options.timeoutMs === undefined ? this.config.timeoutMs : checkTimeout(options.timeoutMs);
    let context: VersionVector | null = null;
    if (options.context !== undefined) {
      if (typeof options.context !== 'string') throw new InvalidArgumentError('context must be the string a get returned');
      context = contextOf(options.context);
    }
    if (options.coordinator !== undefined) this.checkNode(options.coordinator);
    const deadlineMs = this.env.clock.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const left = attempt === 0 ? timeoutMs : Math.max(1, deadlineMs - this.env.clock.now());
      try {
        return await this.writeOnce(id, value, context, need, left, attempt === 0, options.coordinator);
      } catch (e) {
        // only a refusal at the coordinator's epoch check is retried: nothing was written
        if (!this.retryable(e, deadlineMs)) {
          if ((e as LeaderlessError).code === 'WRONG_EPOCH') this.counters.failures++;
          throw e;
        }
      }
      await this.nextView();
    }
  }

  private async writeOnce(
    id: string,
    value: Value | null,
    context: VersionVector | null,
    level: Requirement,
    timeoutMs: number,
    first: boolean,
    via: number | undefined,
  ): Promise<PutResult> {
    const moving = this.transitionPlacement(id, 'write');
    const { targets, spares } = moving ?? this.placer.place(id);
    const need = moving === undefined ? level : moving.need(level);
    this.checkFeasible(targets, need, moving !== undefined);
    this.checkInFlight();
    // a coordinator named by the caller: its index in targets, or -1 for a proxy (a node none of the key's targets)
    const named = via === undefined ? -2 : targets.findIndex((t) => t.node === via);
    const coordinator = named === -2 ? this.firstCoordinator(targets, id, need) : named;
    if (first) this.counters.puts++;
    const msg: PutRequest = {
      type: 'put',
      req: this.nextReq++,
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
      epoch: this.view.epoch,
      budgetMs: timeoutMs, // set when sent (writes.ts): here so that every put has one shape
    };
    const proxy = coordinator === -1 ? via : undefined;
    return this.env.host.track<PutResult>((resolve, reject) => this.writes.start(msg, Math.max(0, coordinator), resolve, reject, proxy));
  }

  /**
   * Unavailable before anything is written (as Cassandra's UnavailableException): a write that cannot meet its
   * level with the replicas that are up is refused here, rather than applied to some of them and then failed.
   */
  private checkFeasible(targets: Placement[], need: Requirement, always = false): void {
    if (targets.length === 0) {
      throw new QuorumError(`no replica of the key is up: all ${this.config.nodes.length} nodes are down`, { needed: need.total });
    }
    if (this.placer.allUp && !always) return;
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

  /** The index in targets of the replica that coordinates the write: the first this client can reach. */
  private firstCoordinator(targets: Placement[], id: string, need: Requirement): number {
    const nowMs = this.env.clock.now();
    let first = this.writes.reachableFrom(targets, id, 0, nowMs);
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
    if (!this.env.transport.accepts(coordinator)) {
      throw new OverloadedError(
        `replica ${coordinator}'s mailbox is full (${this.config.mailboxCapacity} messages, mailboxCapacity); retry later`,
        { node: coordinator, capacity: this.config.mailboxCapacity },
      );
    }
    return first;
  }

  /**
   * Placement for a key whose range moves in the change in progress and is not yet handed off (pending ranges): a
   * write goes to the old and the gaining replicas and needs W more acks per gaining replica (Cassandra's rule: W
   * among the old replicas and W among the new ones, whichever the acks are; transition.ts), a read to the old ones.
   * No stand-ins while a range moves. Undefined for every other key: the current ring's placement applies.
   */
  private transitionPlacement(id: string, op: 'read' | 'write'): (PlacementSet & { need(r: Requirement): Requirement }) | undefined {
    const t = this.view.transition;
    if (t === undefined || t.done) return undefined;
    const range = t.rangeOf(hash32(id));
    if (range === undefined || t.phase(range.id) === 'complete') return undefined;
    const ring = this.view.membership.ring;
    const nodes = op === 'read' ? range.oldReplicas : [...range.oldReplicas, ...range.gaining];
    const targets: Placement[] = nodes.filter((n) => this.env.view.isUp(n)).map((n) => ({ node: n, dc: ring.nodes[n].dc, primary: true }));
    const need = (r: Requirement): Requirement => {
      const perDc: Record<string, number> = { ...r.perDc };
      for (const g of range.gaining) {
        const dc = ring.nodes[g].dc;
        if (perDc[dc] !== undefined) perDc[dc]++;
      }
      return { ...r, total: r.total + range.gaining.length, perDc };
    };
    return { targets, spares: [], readTargets: targets, need };
  }

  /** Whether a failed operation may be tried again against a newer view: a WRONG_EPOCH refusal, time left. */
  private retryable(e: unknown, deadlineMs: number): boolean {
    const epochRefusal = this.epochRefused.has(e as LeaderlessError) || (e as LeaderlessError)?.code === 'WRONG_EPOCH';
    return epochRefusal && this.env.clock.now() < deadlineMs - this.config.tickMs;
  }

  /** Resolves on the next tick or membership change, whichever comes first (held open as an operation). */
  private nextView(): Promise<void> {
    this.counters.epochRetries++;
    return this.env.host.track<void>((resolve, reject) => this.waiters.push({ resolve: () => resolve(), reject }));
  }

  private wakeWaiters(): void {
    if (this.waiters.length === 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f.resolve();
  }

  private checkInFlight(): void {
    const n = this.writes.size + this.gets.size;
    if (n >= this.config.maxInFlight) {
      throw new OverloadedError(`${n} operations in flight on this client, its limit (maxInFlight); await some first`, {
        limit: this.config.maxInFlight,
      });
    }
  }
}
