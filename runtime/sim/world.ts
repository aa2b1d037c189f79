// The simulator's engine: every replica actor from actors/ in this one thread, a virtual clock, the simulated
// network, and the pump that advances virtual time while the application waits on an operation.
//
// Data layout:
//   nowMs          virtual time; it moves only when an event is processed, to that event's time
//   queue          the event queue (messages and application wake-ups), bounded; ticks are not in it: nextTickMs is
//                  the one tick due, every tickMs, so the queue can never crowd a timeout out
//   nodes[n]       per replica: its ReplicaHost (runtime/host/replica-host.ts: the Replica actor, null while down,
//                  the pause flag and the inbox buffered while paused, bounded by mailboxCapacity, and the message
//                  counters), its MapStore (survives a crash, not a wipe), status and wipes
//   hosts          the clients (SimClient), in creation order: ticks and deliveries reach them through SimHost
//   pending        operations the application is waiting on (client calls, sleeps, settles)
//
// The pump (why it is built this way): the application is infinitely fast next to virtual time. When it starts an
// operation the pump is scheduled as a microtask; it processes events in (time, sequence) order until some
// operation completes, then it stops and lets YIELD_HOPS microtasks run before it resumes, so the code awaiting that
// operation can issue its next one at the same virtual time. No timers, no setImmediate, no I/O: a run is a function
// of the seed and the application's code, so the same seed and code replay the same event order and digest. With
// nothing pending the pump stops and virtual time stands still (sleep(ms) and settle() let it run on).

import { StoppedError } from '../../actors/errors.js';
import { hash32 } from '../../actors/hash.js';
import { isClient, type Address, type Message, type MessageType } from '../../actors/protocol.js';
import type { RoundResult } from '../../actors/anti-entropy/index.js';
import { baseMembership, type ResolvedConfig } from '../config.js';
import type { Membership } from '../../actors/membership/plan.js';
import { EMPTY_SNAPSHOT, type MembershipSnapshot } from '../../actors/membership/snapshot.js';
import type { NodeSpec } from '../../actors/ring.js';
import { ReplicaHost } from '../host/replica-host.js';
import { newSimHintStore, newSimReplica, newSimStore, SimNode } from './sim-node.js';
import { EventQueue } from './event-queue.js';
import { EventKind, SimNetwork, type NetworkOptions, type SimEvent } from './network.js';
import { Prng } from '../host/prng.js';
import { TraceDigest } from './trace.js';

export { SimNode };

/** Microtasks the pump lets run after an operation completes: enough for a few nested awaits to issue the next op. */
export const YIELD_HOPS = 32;
export const DEFAULT_MAX_QUEUED_EVENTS = 1 << 20;
/** every this many ticks, every replica is ticked (otherwise only those with writes in flight or hints held) */
export const FULL_TICK_EVERY = 10;

/** A message type's word in the digest: its name hashed, so new protocol messages need no table here. */
const typeCodes = new Map<MessageType, number>();
function typeCode(t: MessageType): number {
  let c = typeCodes.get(t);
  if (c === undefined) typeCodes.set(t, (c = hash32(t)));
  return c;
}
/** digest markers of what happened to a message */
const DELIVERED = 1;
const DROPPED_PARTITION = 2;
const DROPPED_DOWN = 3;
const BUFFERED = 4;
const TICK = 5;
const WAKE = 6;

const TRACE_WHAT = ['', 'delivered', 'dropped-partition', 'dropped-down', 'buffered'] as const;
export type TraceWhat = (typeof TRACE_WHAT)[number];
/** Sees every message event as it is processed (for replaying a seed and reading what happened). */
export type Tracer = (timeMs: number, what: TraceWhat, from: Address, to: Address, msg: Message) => void;

/** What the engine needs of a client. */
export interface SimHost {
  readonly address: Address;
  /** the replica this client sits beside for partitions (-1: never cut off) */
  readonly near: number;
  deliver(msg: Message): void;
  tick(nowMs: number): void;
  /** operations in flight */
  readonly inFlight: number;
  fail(e: Error): void;
  /** replica `node` was restarted */
  peerRestarted(node: number): void;
}

export interface WorldCounters {
  events: number;
  ticks: number;
  delivered: number;
  droppedDown: number;
  droppedPausedFull: number;
  droppedPartitionInFlight: number;
  operationsCompleted: number;
}

interface Waiter {
  resolve: (v: boolean) => void;
  reject: (e: Error) => void;
  /** a settle waiter (resolves when nothing is in flight) rather than a sleep */
  settle: boolean;
  /** a timer's callback (world.timer): called at the deadline instead of resolving anything */
  fire?: () => void;
  deadlineMs: number;
}

export interface WorldOptions extends NetworkOptions {
  seed: number;
  maxQueuedEvents?: number;
}

export class SimWorld {
  nowMs = 0;
  readonly rng: Prng;
  readonly queue: EventQueue<SimEvent>;
  readonly network: SimNetwork;
  readonly digest = new TraceDigest();
  readonly nodes: SimNode[];
  readonly hosts = new Map<Address, SimHost>();
  readonly counters: WorldCounters = {
    events: 0, ticks: 0, delivered: 0, droppedDown: 0, droppedPausedFull: 0, droppedPartitionInFlight: 0, operationsCompleted: 0,
  };
  stopped = false;
  /** debugging: called on every message event when set */
  tracer: Tracer | null = null;
  /** the error an actor threw, which stopped the simulation (undefined while it runs) */
  crashed: Error | undefined;
  /** the nodes down now, as ticks tell replicas (the simulator's failure detector is perfect) */
  private down: number[] = [];
  /** set when a node went down, came back or resumed: the next tick goes to every replica */
  private membershipChanged = false;
  private nextTickMs: number;
  private pendingOps = 0;
  private messagesQueued = 0;
  private readonly waiters = new Map<number, Waiter>();
  private nextWaiter = 1;
  private pumpScheduled = false;
  private pumping = false;
  private yieldNow = false;

  constructor(
    readonly config: ResolvedConfig,
    options: WorldOptions,
  ) {
    this.rng = new Prng(options.seed);
    this.queue = new EventQueue<SimEvent>(options.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS);
    this.nextTickMs = config.tickMs;
    this.dcs = config.nodes.map((n) => n.dc);
    const near = (a: Address): number => this.hosts.get(a)?.near ?? -1;
    this.network = new SimNetwork(this.queue, this.rng, this.dcs, near, config.localDc, { ...options, capacity: config.maxNodes });
    this.base = baseMembership(config);
    this.nodes = config.nodes.map((spec) => this.newNode(spec.id));
  }

  /** every node's dc by id (grows as nodes join) */
  private readonly dcs: string[];
  /** the cluster's first membership, and the snapshot (re)started actors are synced to (membership changes) */
  readonly base: Membership;
  snapshot: MembershipSnapshot = EMPTY_SNAPSHOT;

  private newNode(id: number): SimNode {
    const host = new ReplicaHost<SimEvent>({
      node: id,
      transport: { send: (to, msg) => this.send(id, to, msg), accepts: (to) => this.accepts(to) },
      now: () => this.nowMs,
      capacity: this.config.mailboxCapacity,
      pending: () => this.network.inFlightTo[id],
    });
    const node = new SimNode(host, newSimStore(this.config), newSimHintStore(this.config));
    host.attach(newSimReplica(node, this.config, this.base, this.snapshot));
    return node;
  }

  /** A joining node starts (its id is the next one; the published snapshot already names it). */
  addNode(spec: NodeSpec): void {
    if (spec.id !== this.nodes.length) throw new Error(`sim: a joining node must take id ${this.nodes.length}; got ${spec.id}`);
    this.dcs.push(spec.dc);
    this.nodes.push(this.newNode(spec.id));
    this.membershipUpdate();
  }



  // ------------------------------------------------------------------------------------------------ operations

  /** Wraps an operation's settlement so the pump knows when the application has something to wait for. */
  track<T>(start: (resolve: (v: T) => void, reject: (e: Error) => void) => void): Promise<T> {
    if (this.stopped) return Promise.reject(this.crashed ?? new StoppedError());
    return new Promise<T>((resolve, reject) => {
      let open = true;
      const finish = (): boolean => {
        if (!open) return false;
        open = false;
        this.pendingOps--;
        this.counters.operationsCompleted++;
        this.yieldNow = true;
        return true;
      };
      this.pendingOps++;
      this.schedulePump();
      start(
        (v) => finish() && resolve(v),
        (e) => finish() && reject(e),
      );
    });
  }

  /** Resolves after `ms` of virtual time (the application's think time). */
  sleep(ms: number): Promise<boolean> {
    return this.wait(false, this.nowMs + ms);
  }

  /** Resolves true once no message is in flight and no client operation is pending, false if maxMs passes first. */
  settle(maxMs: number): Promise<boolean> {
    return this.wait(true, this.nowMs + maxMs);
  }

  private wait(settle: boolean, deadlineMs: number): Promise<boolean> {
    return this.track<boolean>((resolve, reject) => {
      const id = this.nextWaiter++;
      this.waiters.set(id, { resolve, reject, settle, deadlineMs });
      if (!this.queue.push({ timeMs: deadlineMs, seq: 0, kind: EventKind.Wake, from: -1, to: id, msg: null })) {
        this.waiters.delete(id);
        reject(new StoppedError(`the simulator's event queue is full (${this.queue.capacity} events, maxQueuedEvents)`));
      }
      this.checkWaiters();
    });
  }

  /**
   * Calls `fire` once `ms` of virtual time has passed, unless the returned cancel runs first. A timer does not make
   * the pump run on its own: it fires when virtual time reaches it while the application waits on something.
   */
  timer(ms: number, fire: () => void): () => void {
    const id = this.nextWaiter++;
    const deadlineMs = this.nowMs + ms;
    this.waiters.set(id, { resolve: () => undefined, reject: () => undefined, settle: false, deadlineMs, fire });
    if (!this.queue.push({ timeMs: deadlineMs, seq: 0, kind: EventKind.Wake, from: -1, to: id, msg: null })) {
      this.waiters.delete(id);
      throw new StoppedError(`the simulator's event queue is full (${this.queue.capacity} events, maxQueuedEvents)`);
    }
    return () => void this.waiters.delete(id);
  }

  private checkWaiters(): void {
    if (this.waiters.size === 0) return;
    const quiet = this.messagesQueued === 0 && this.clientOps() === 0 && !this.hintsDeliverable();
    for (const [id, w] of this.waiters) {
      if (w.settle && quiet) {
        this.waiters.delete(id);
        w.resolve(true);
      }
    }
  }

  /** Whether some running replica holds a hint for an owner that is up: settle waits for handoff, as the threads' does. */
  private hintsDeliverable(): boolean {
    for (const n of this.nodes) {
      if (n.replica === null || n.paused) continue;
      // an owner that left the ring gets none: its hints wait for the holder to redirect them to the key's owners now
      for (const owner of n.replica.hints.owners()) if (this.nodes[owner].status === 'up' || this.nodes[owner].left) return true;
    }
    return false;
  }

  private clientOps(): number {
    let n = 0;
    for (const h of this.hosts.values()) n += h.inFlight;
    return n;
  }

  stop(): void {
    if (this.stopped) return;
    this.failAll(new StoppedError());
  }

  private failAll(e: Error): void {
    this.stopped = true;
    for (const h of this.hosts.values()) h.fail(e);
    for (const w of this.waiters.values()) w.reject(e);
    this.waiters.clear();
  }

  // ------------------------------------------------------------------------------------------------ the pump

  /** Runs the pump soon (sends made from outside a message, e.g. a control-plane call, get delivered). */
  schedulePump(): void {
    if (this.pumpScheduled || this.pumping) return;
    // Not at once: the application's own continuations at this virtual time run first (the rest of an `await` on a
    // fault or another synchronous call), so they can start what they mean to before time moves.
    this.resumeAfterYield();
  }

  private pump(): void {
    this.pumpScheduled = false;
    this.pumping = true;
    try {
      while (this.pendingOps > 0 && !this.stopped && !this.yieldNow) this.step();
    } catch (e) {
      // An actor (or the engine) threw: a bug, not a fault to simulate. Every waiting operation fails with it, so
      // the application sees the error instead of waiting forever on a pump that can no longer run.
      this.crashed = e instanceof Error ? e : new Error(String(e));
      this.failAll(this.crashed);
    } finally {
      this.pumping = false;
    }
    if (this.yieldNow) {
      this.yieldNow = false;
      if (this.pendingOps > 0 && !this.stopped) this.resumeAfterYield();
    }
  }

  private resumeAfterYield(): void {
    this.pumpScheduled = true;
    let hops = YIELD_HOPS;
    const hop = (): void => {
      if (--hops > 0) queueMicrotask(hop);
      else this.pump();
    };
    queueMicrotask(hop);
  }

  /** Processes the next event: the tick when it is due no later than the queue's head, else the head. */
  step(): void {
    this.counters.events++;
    const head = this.queue.peek();
    if (head === undefined || this.nextTickMs <= head.timeMs) {
      this.tick();
    } else {
      this.queue.pop();
      this.nowMs = head.timeMs;
      if (head.kind === EventKind.Message) {
        this.messagesQueued--;
        this.onMessage(head);
      } else {
        this.onWake(head.to);
      }
    }
    this.checkWaiters();
  }

  private tick(): void {
    this.nowMs = this.nextTickMs;
    this.nextTickMs += this.config.tickMs;
    this.counters.ticks++;
    this.digest.word(TICK);
    this.digest.float(this.nowMs);
    const full = this.membershipChanged || this.counters.ticks % FULL_TICK_EVERY === 0;
    this.membershipChanged = false;
    for (const n of this.nodes) {
      // A replica with no write in flight and no hint held has nothing a tick could change but its view of who is
      // down, which changes only with membership: it is ticked then, and every FULL_TICK_EVERY ticks for whatever
      // periodic work an actor may grow (anti-entropy); this keeps a 100-node tick cheap.
      if (n.replica === null || n.paused) continue;
      if (!full && n.replica.pendingPuts === 0 && n.replica.hints.owners().length === 0) continue;
      n.host.tick(this.down);
    }
    for (const h of this.hosts.values()) if (h.inFlight > 0) h.tick(this.nowMs);
  }

  private onWake(id: number): void {
    this.digest.word(WAKE);
    this.digest.float(this.nowMs);
    const w = this.waiters.get(id);
    if (w === undefined) return; // a settle that already resolved
    this.waiters.delete(id);
    if (w.fire !== undefined) return w.fire();
    w.resolve(!w.settle); // a sleep is done (true); a settle ran out of time (false)
  }

  // ------------------------------------------------------------------------------------------------ messages

  /** Puts a message on the network (the engine counts what is in flight, for settle()). */
  send(from: Address, to: Address, msg: Message): void {
    const before = this.queue.size;
    this.network.send(from, to, msg, this.nowMs);
    this.messagesQueued += this.queue.size - before;
  }

  /** Whether a replica's mailbox (in flight to it, plus buffered while paused) can take one more message. */
  accepts(to: Address): boolean {
    if (isClient(to)) return true;
    return this.network.inFlightTo[to] + this.nodes[to].inbox.length < this.config.mailboxCapacity;
  }

  private onMessage(ev: SimEvent): void {
    const msg = ev.msg!;
    const to = ev.to;
    if (!isClient(to)) this.network.inFlightTo[to]--;
    if (this.network.blocked(ev.from, to)) {
      this.counters.droppedPartitionInFlight++;
      this.fold(DROPPED_PARTITION, ev.from, to, msg);
      return;
    }
    if (isClient(to)) {
      this.fold(DELIVERED, ev.from, to, msg);
      this.counters.delivered++;
      this.hosts.get(to)?.deliver(msg);
      return;
    }
    const n = this.nodes[to];
    if (n.replica === null) {
      this.counters.droppedDown++;
      this.fold(DROPPED_DOWN, ev.from, to, msg);
      return;
    }
    if (n.paused) {
      // held within the mailbox bound (what is buffered plus what is still in flight to it), else lost
      const held = n.host.hold(ev, 1);
      if (!held) this.counters.droppedPausedFull++;
      this.fold(held ? BUFFERED : DROPPED_DOWN, ev.from, to, msg);
      return;
    }
    this.fold(DELIVERED, ev.from, to, msg);
    this.counters.delivered++;
    n.host.deliverOne(msg);
  }

  private fold(what: number, from: Address, to: Address, msg: Message): void {
    if (this.tracer !== null) this.tracer(this.nowMs, TRACE_WHAT[what], from, to, msg);
    const d = this.digest;
    d.word(what);
    d.float(this.nowMs);
    d.word(from);
    d.word(to);
    d.word(typeCode(msg.type));
    const m = msg as { req?: unknown; key?: unknown };
    if (typeof m.req === 'number') d.word(m.req);
    if (typeof m.key === 'string') d.word(hash32(m.key));
    d.events++;
  }

  // ------------------------------------------------------------------------------------------------ node faults

  /** Starts one anti-entropy round at `node` (exchanges with every peer above it in every shared range). */
  startRepair(node: number): number | undefined {
    const n = this.nodes[node];
    if (n.replica === null || n.paused || n.replica.antiEntropy === null) return undefined;
    const ae = n.replica.antiEntropy;
    let id = 0;
    n.host.act((out) => (id = ae.startRound(this.nowMs, this.down, out)));
    this.schedulePump();
    return id;
  }

  /** The round's result once every exchange in it finished (undefined meanwhile, or if the node went down). */
  repairResult(node: number, id: number): RoundResult | undefined {
    return this.nodes[node].replica?.antiEntropy?.roundResult(id);
  }

  /** bumped on every membership change (clients cache placements while it stands still) */
  membershipVersion = 0;

  private membershipUpdate(): void {
    this.membershipVersion++;
    this.down = this.nodes.filter((x) => x.status === 'down').map((x) => x.node);
    this.membershipChanged = true;
  }

  /** The actor stops: its in-memory state (writes it was coordinating, a paused inbox) is lost; the store stays. */
  kill(node: number, wipe: boolean, retire = false): void {
    const n = this.nodes[node];
    n.host.detach();
    n.status = 'down';
    if (retire) n.left = true;
    this.membershipUpdate();
    if (wipe) {
      n.store = newSimStore(this.config);
      n.hintStore = newSimHintStore(this.config);
      n.wipes++;
    }
  }

  /** A fresh actor on the node's store (crash recovery); a no-op for a node that is up. */
  restart(node: number): void {
    const n = this.nodes[node];
    if (n.replica !== null || n.left) return;
    n.host.attach(newSimReplica(n, this.config, this.base, this.snapshot));
    n.status = 'up';
    this.membershipUpdate();
    for (const other of this.nodes) if (other !== n) other.replica?.links.restarted(node); // fresh links, as in threads
    for (const h of this.hosts.values()) h.peerRestarted(node);
  }

  pause(node: number): void {
    this.nodes[node].host.pause();
  }

  /** The node takes up its buffered inbox, in arrival order, at the current virtual time. */
  resume(node: number): void {
    const n = this.nodes[node];
    if (!n.paused) return;
    const inbox = n.host.resume();
    this.membershipChanged = true; // it missed ticks while paused
    for (const ev of inbox) {
      const before = this.queue.size;
      this.network.enqueue(ev.from, node, ev.msg!, this.nowMs);
      this.messagesQueued += this.queue.size - before;
    }
  }
}

// Kept here for the cluster's metrics, which import them from this file.
export { BLANK_REPLICA, addCounters } from '../host/replica-host.js';
