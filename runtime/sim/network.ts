// The simulated network: turns a send into zero, one or two future deliveries on the virtual-time event queue.
//
// A message from `from` to `to` sent at time t is, in this order of random draws (so a seed replays exactly):
//   dropped   when a partition cuts the link (no draw), or with the link's drop probability (the larger of the
//             configured one and a drop fault on either end);
//   delayed   by a sample of its latency: the per-type distribution if one is given, else the base one, plus the
//             inter-datacenter distribution when the ends are in different datacenters, plus any delay fault on
//             either end; reordering follows from independent random delays;
//   copied    with the duplicate probability (only for the message types allowed to duplicate), the copy with its own
//             delay.
// Partitions are checked again at delivery (a packet in flight when the link is cut is lost); the engine checks
// whether the destination is up.
//
// Data layout: endpoints are replica nodes 0..n-1; a client maps to the node it sits beside (`near`), or -1 for a
// client that no partition cuts off. group[node] is its partition group (all 0 when healed). Delay and drop faults
// are per directed link into a replica, as in the thread runtime: linkDelay[row * n + to] and linkDrop[...] where row
// is the sending replica, or n for a client placed near no node; messages to clients take no link fault. Queue capacity bounds what can be in flight: a send the queue refuses
// counts as a lost message (droppedQueueFull), never as an unbounded backlog.

import { InvalidArgumentError, InvalidConfigError, show, type LeaderlessError } from '../../actors/errors.js';
import { isClient, type Address, type Message, type MessageType } from '../../actors/protocol.js';
import { EventQueue, type Timed } from './event-queue.js';
import { checkDistribution, sample, type Distribution, type Prng } from '../host/prng.js';

export const enum EventKind {
  Message = 0,
  Tick = 1,
  Wake = 2,
}

export interface SimEvent extends Timed {
  kind: EventKind;
  from: Address;
  to: Address;
  /** the message (Message events only) */
  msg: Message | null;
}

export interface NetworkOptions {
  /** node addresses the link tables are sized for (nodes that join later included; default: the nodes given) */
  capacity?: number;
  /** latency of every message unless byType names its type (default uniform 0.5..1.5 ms) */
  latency?: Distribution;
  /** latency per message type, e.g. PBS's W (put, replicate), A (acks), R (get), S (get-reply) */
  latencyByType?: Partial<Record<MessageType, Distribution>>;
  /** added to messages between datacenters */
  interDcLatency?: Distribution;
  dropProbability?: number;
  duplicateProbability?: number;
  /** types a duplicate may be made of (default: all but 'put', whose coordinator does not deduplicate) */
  duplicateTypes?: MessageType[];
}

export const DEFAULT_LATENCY: Distribution = { kind: 'uniform', minMs: 0.5, maxMs: 1.5 };

export interface NetworkCounters {
  sent: number;
  droppedPartition: number;
  droppedRandom: number;
  droppedQueueFull: number;
  duplicated: number;
}

export class SimNetwork {
  readonly counters: NetworkCounters = { sent: 0, droppedPartition: 0, droppedRandom: 0, droppedQueueFull: 0, duplicated: 0 };
  private readonly group: Int32Array;
  private readonly n: number;
  private readonly linkDelay: Array<Distribution | null>;
  private readonly linkDrop: Float64Array;
  private readonly latency: Distribution;
  private readonly byType: Partial<Record<MessageType, Distribution>>;
  private readonly interDc: Distribution | null;
  private readonly dropP: number;
  private readonly dupP: number;
  /** null: every type but 'put' (the coordinator does not deduplicate a put it receives twice) */
  private readonly dupTypes: Set<MessageType> | null;
  /** messages to each replica queued and not yet delivered or dropped: the simulated mailbox depth */
  readonly inFlightTo: Int32Array;

  constructor(
    private readonly queue: EventQueue<SimEvent>,
    private readonly rng: Prng,
    private readonly dcOfNode: readonly string[],
    private readonly nearOf: (client: Address) => number,
    private readonly clientDc: string,
    options: NetworkOptions,
  ) {
    const n = Math.max(dcOfNode.length, options.capacity ?? 0);
    this.group = new Int32Array(n);
    this.n = n;
    this.linkDelay = new Array<Distribution | null>((n + 1) * n).fill(null);
    this.linkDrop = new Float64Array((n + 1) * n);
    this.inFlightTo = new Int32Array(n);
    this.latency = checkDistribution(options.latency ?? DEFAULT_LATENCY, 'latency');
    this.byType = {};
    for (const [type, d] of Object.entries(options.latencyByType ?? {})) {
      this.byType[type as MessageType] = checkDistribution(d, `latencyByType.${type}`);
    }
    this.interDc = options.interDcLatency === undefined ? null : checkDistribution(options.interDcLatency, 'interDcLatency');
    this.dropP = checkProbability(options.dropProbability ?? 0, 'dropProbability', InvalidConfigError);
    this.dupP = checkProbability(options.duplicateProbability ?? 0, 'duplicateProbability', InvalidConfigError);
    if (options.duplicateTypes !== undefined && !Array.isArray(options.duplicateTypes)) {
      throw new InvalidConfigError('duplicateTypes must be an array of message types, e.g. [\'replicate\', \'get-reply\']');
    }
    this.dupTypes = options.duplicateTypes === undefined ? null : new Set(options.duplicateTypes);
  }

  /** The node an address shares links with: itself for a replica, its `near` node for a client (-1: none). */
  endpoint(a: Address): number {
    return isClient(a) ? this.nearOf(a) : a;
  }

  blocked(from: Address, to: Address): boolean {
    const a = this.endpoint(from);
    const b = this.endpoint(to);
    return a >= 0 && b >= 0 && a !== b && this.group[a] !== this.group[b];
  }

  send(from: Address, to: Address, msg: Message, nowMs: number): void {
    this.counters.sent++;
    if (this.blocked(from, to)) {
      this.counters.droppedPartition++;
      return;
    }
    const a = this.endpoint(from);
    const b = this.endpoint(to);
    const link = this.link(from, to, a);
    const dropP = Math.max(this.dropP, link >= 0 ? this.linkDrop[link] : 0);
    if (dropP > 0 && this.rng.chance(dropP)) {
      this.counters.droppedRandom++;
      return;
    }
    this.enqueue(from, to, msg, nowMs + this.delay(from, to, msg.type, a, b, link));
    const dupOk = this.dupTypes === null ? msg.type !== 'put' : this.dupTypes.has(msg.type);
    if (this.dupP > 0 && dupOk && this.rng.chance(this.dupP)) {
      this.counters.duplicated++;
      this.enqueue(from, to, msg, nowMs + this.delay(from, to, msg.type, a, b, link));
    }
  }

  /** A message handed over at `timeMs` without the network's delay or loss (a paused node's buffered inbox). */
  enqueue(from: Address, to: Address, msg: Message, timeMs: number): void {
    const ok = this.queue.push({ timeMs, seq: 0, kind: EventKind.Message, from, to, msg });
    if (!ok) {
      this.counters.droppedQueueFull++;
      return;
    }
    if (!isClient(to)) this.inFlightTo[to]++;
  }

  /** The index of the directed link a message travels into a replica (-1: to a client, which takes no link fault). */
  private link(from: Address, to: Address, a: number): number {
    if (isClient(to)) return -1;
    const row = !isClient(from) ? from : a >= 0 ? a : this.n;
    return row * this.n + to;
  }

  private delay(from: Address, to: Address, type: MessageType, a: number, b: number, link: number): number {
    let ms = sample(this.rng, this.byType[type] ?? this.latency);
    if (this.interDc !== null && this.dcOf(from, a) !== this.dcOf(to, b)) ms += sample(this.rng, this.interDc);
    const fault = link >= 0 ? this.linkDelay[link] : null;
    if (fault !== null) ms += sample(this.rng, fault);
    return ms;
  }

  private dcOf(addr: Address, endpoint: number): string {
    if (!isClient(addr)) return this.dcOfNode[addr];
    return endpoint >= 0 ? this.dcOfNode[endpoint] : this.clientDc;
  }

  // ------------------------------------------------------------------------------------------------ faults

  /** Each group can talk within itself only; nodes in no group are isolated. Groups were checked by the caller. */
  partition(groups: number[][]): void {
    for (let i = 0; i < this.group.length; i++) this.group[i] = -1 - i;
    groups.forEach((g, gi) => {
      for (const node of g) this.group[node] = gi;
    });
  }

  heal(): void {
    this.group.fill(0);
  }

  /**
   * Extra latency on messages into replica `to` from `from` (a replica, or n: clients placed near no node); null
   * removes it. A client placed near a node sends on that node's links.
   */
  setLinkDelay(from: number, to: number, d: Distribution | null): void {
    this.linkDelay[from * this.n + to] = d === null ? null : checkDistribution(d, 'delay');
  }

  setLinkDrop(from: number, to: number, probability: number): void {
    this.linkDrop[from * this.n + to] = checkProbability(probability, 'drop probability');
  }

  clearFaults(): void {
    this.heal();
    this.linkDelay.fill(null);
    this.linkDrop.fill(0);
  }
}

/** A probability in [0, 1]; `Err` says whose mistake it is: a start option (INVALID_CONFIG) or a fault's argument. */
export function checkProbability(
  p: unknown,
  what: string,
  Err: new (m: string) => LeaderlessError = InvalidArgumentError,
): number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Err(`${what} must be a number from 0 to 1; got ${show(p)}`);
  return p;
}
