// The replica host both runtimes use: it delivers messages to one node's Replica actor (actors/replica.ts), performs
// the sends the actor appends (with the full-mailbox rule for replicate), ticks it with the list of nodes down, holds
// what arrives while the node is paused (bounded by the mailbox capacity), and counts what went in and out.
//
// What differs between runtimes is given to it: a transport (send, and whether a destination's mailbox has room), a
// clock, and a few hooks (messages handled, for the thread runtime's mailbox-depth counter; after routing, for the
// thread runtime's anti-entropy driver; messages still on the way here, for the simulator's mailbox bound). The
// worker thread (runtime/threads/replica-worker.ts) and the simulator's world (runtime/sim/world.ts) stay thin.
//
// A host outlives the actors it runs: the simulator restarts a node's actor on the same host (counters of earlier
// incarnations are added up in `past`); the thread runtime starts a new host with each worker.

import { rangesOf } from '../../actors/anti-entropy/index.js';
import type { Address, Message, Send } from '../../actors/protocol.js';
import { EMPTY_SNAPSHOT, membershipOf, type MembershipSnapshot } from '../../actors/membership/snapshot.js';
import type { Membership } from '../../actors/membership/plan.js';
import { Replica, type ReplicaCounters, type ReplicaOptions } from '../../actors/replica/index.js';
import type { AeStats, ReplicaStats } from '../api.js';
import type { ResolvedConfig } from '../config.js';
import type { StoreStats } from './store.js';

/** How the host's messages leave it. */
export interface HostTransport {
  send(to: Address, msg: Message): void;
  /** whether `to`'s mailbox can take one more message */
  accepts(to: Address): boolean;
}

export interface ReplicaHostOptions {
  node: number;
  transport: HostTransport;
  /** monotonic ms: real in the thread runtime, virtual in the simulator */
  now(): number;
  /** mailboxCapacity: the bound on what is held while paused (plus what is still on the way here) */
  capacity: number;
  /** messages still on the way to this node, counted against the paused bound (default none) */
  pending?(): number;
  /** called with the number of messages just handled, before their sends are routed */
  handled?(count: number): void;
  /** called after every routing of the actor's sends (the thread runtime polls anti-entropy rounds here) */
  afterRoute?(): void;
}

/** The DVV id a node's actor writes under: a wiped node mints dots under a new id ("3.1"), or they would collide. */
export function replicaIdOf(node: number, wipes: number): string {
  return wipes === 0 ? String(node) : `${node}.${wipes}`;
}

/**
 * The Replica options both runtimes give an actor, anti-entropy over the cluster's ring included (how trees are
 * rebuilt stays each runtime's own: a hash pool, or in-thread).
 */
export function replicaOptions(
  config: Pick<ResolvedConfig, 'conflicts' | 'maxPendingPuts' | 'hints' | 'links' | 'antiEntropy'> & Partial<Pick<ResolvedConfig, 'handoff'>>,
  node: number,
  replicaId: string,
  base: Membership,
  snapshot: MembershipSnapshot = EMPTY_SNAPSHOT,
): ReplicaOptions {
  const ring = membershipOf(base, snapshot).ring;
  return {
    membership: { base, snapshot, ...(config.handoff === undefined ? {} : { handoff: config.handoff }) },
    node,
    replicaId,
    conflicts: config.conflicts,
    maxPendingPuts: config.maxPendingPuts,
    hints: config.hints,
    links: config.links,
    antiEntropy: { ranges: rangesOf(ring), placement: (h) => ring.preferenceList(h), config: config.antiEntropy },
  };
}

/** `H` is what the runtime holds while paused: a batch of messages (threads) or a network event (the simulator). */
export class ReplicaHost<H> {
  readonly node: number;
  /** the actor, or null while the node is down (the simulator) */
  replica: Replica | null = null;
  /** counters of earlier incarnations on this host, added up */
  readonly past: ReplicaCounters = zeroCounters();
  messagesIn = 0;
  batchesIn = 0;
  messagesOut = 0;
  private isPaused = false;
  private held: H[] = [];
  private heldMessages = 0;
  private readonly out: Send[] = [];

  constructor(private readonly o: ReplicaHostOptions) {
    this.node = o.node;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  /** What arrived while paused, in arrival order. */
  get inbox(): readonly H[] {
    return this.held;
  }

  /** A new incarnation of the actor starts on this host. */
  attach(replica: Replica): void {
    this.replica = replica;
  }

  /** The actor stops: its counters are kept, its in-memory state (a paused inbox) is lost. */
  detach(): void {
    if (this.replica !== null) addCounters(this.past, this.replica.counters);
    this.replica = null;
    this.isPaused = false;
    this.held = [];
    this.heldMessages = 0;
  }

  /** Handles a batch that arrived (the caller holds it instead while paused). */
  deliver(batch: readonly Message[]): void {
    const replica = this.replica!;
    const now = this.o.now();
    this.batchesIn++;
    this.messagesIn += batch.length;
    for (let i = 0; i < batch.length; i++) replica.handle(batch[i], now, this.out);
    this.o.handled?.(batch.length);
    this.route();
  }

  /** Handles one message that arrived (the simulator's delivery: one batch per message). */
  deliverOne(msg: Message): void {
    this.batchesIn++;
    this.messagesIn++;
    this.replica!.handle(msg, this.o.now(), this.out);
    this.o.handled?.(1);
    this.route();
  }

  /** A tick: the actor's timers, with the nodes down now. Nothing while paused or down. */
  tick(down: readonly number[]): void {
    if (this.isPaused || this.replica === null) return;
    const now = this.o.now();
    this.replica.handle({ type: 'tick', nowMs: now, down: down as number[] }, now, this.out);
    this.route();
  }

  /** Runs f with the actor's outbound list (a call into the actor from outside a message), then routes it. */
  act(f: (out: Send[]) => void): void {
    f(this.out);
    this.route();
  }

  /**
   * Performs the actor's sends. A replicate to a full mailbox is refused here and counts as a failed ack at once (the
   * actor handles the nack before the next send), so an overloaded peer slows writes down instead of queueing them.
   */
  route(): void {
    const out = this.out;
    const t = this.o.transport;
    for (let i = 0; i < out.length; i++) {
      const { to, msg } = out[i];
      if (msg.type === 'replicate' && !t.accepts(to)) {
        this.replica!.handle({ type: 'replicate-ack', req: msg.req, from: to, ok: false }, this.o.now(), out);
        continue;
      }
      this.messagesOut++;
      t.send(to, msg);
    }
    out.length = 0;
    this.o.afterRoute?.();
  }

  /** The node stops handling messages and ticks (a GC pause, a hung process); what arrives is held. */
  pause(): void {
    if (this.replica !== null) this.isPaused = true;
  }

  /**
   * Holds what arrived while paused, `messages` messages: false (refused, lost like a message to a full mailbox)
   * when it would take the held messages plus those still on the way past the mailbox capacity.
   */
  hold(item: H, messages: number): boolean {
    if (!this.isPaused) throw new Error(`replica host ${this.node}: hold() while not paused (deliver instead)`);
    if (this.heldMessages + (this.o.pending?.() ?? 0) + messages > this.o.capacity) return false;
    this.held.push(item);
    this.heldMessages += messages;
    return true;
  }

  /** Ends a pause; returns what was held, in arrival order, for the runtime to deliver (none when not paused). */
  resume(): H[] {
    if (!this.isPaused) return [];
    this.isPaused = false;
    const held = this.held;
    this.held = [];
    this.heldMessages = 0;
    return held;
  }

  /** The counters of every incarnation on this host, added up. */
  counters(): ReplicaCounters {
    const c = { ...this.past };
    return this.replica === null ? c : addCounters(c, this.replica.counters);
  }

  /** The node's stats in the one shape both runtimes report (runtime/api.ts); the runtime adds what it alone has. */
  stats(replicaId: string, extra: { batchesOut: number; store: StoreStats; ae: AeStats }): ReplicaStats {
    const replica = this.replica ?? BLANK_REPLICA;
    const hints = replica.hints;
    const owners = hints.owners();
    let keys = 0;
    let bytes = 0;
    for (const o of owners) {
      keys += hints.size(o);
      bytes += hints.bytes(o);
    }
    return {
      node: this.node,
      replicaId,
      counters: this.counters(),
      pendingPuts: replica.pendingPuts,
      paused: this.isPaused,
      hints: { keys, bytes, owners, ...hints.counters },
      messagesIn: this.messagesIn,
      batchesIn: this.batchesIn,
      messagesOut: this.messagesOut,
      batchesOut: extra.batchesOut,
      store: extra.store,
      ae: extra.ae,
    };
  }
}

/** A replica that never ran: its counters are all zero, whatever counters Replica grows. */
export const BLANK_REPLICA = new Replica(
  { get: () => undefined, set: () => undefined },
  { node: 0, replicaId: '0', conflicts: 'siblings', maxPendingPuts: 1 },
);

export function zeroCounters(): ReplicaCounters {
  return { ...BLANK_REPLICA.counters };
}

export function addCounters(into: ReplicaCounters, c: ReplicaCounters): ReplicaCounters {
  for (const k of Object.keys(into) as Array<keyof ReplicaCounters>) into[k] += c[k];
  return into;
}
