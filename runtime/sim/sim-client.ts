// A client of the simulated cluster: the ClientCoordinator (actors/coordinator/client.ts: the same checks, placement,
// read coordinator, write failover and results as the thread runtime) given the simulator's transport, clock and
// view. Its messages cross the simulated network (so a client `near` a replica is cut off with that replica by a
// partition); its pending operations are tracked by the world, which advances virtual time until they settle; ticks
// come from the world's clock. Consistency-ONE reads go by message too, unless the cluster was started with
// localReads: true, which reads the first primary's store directly as the thread runtime reads shared memory (no
// latency, no staleness window).

import type { MembershipSnapshot } from '../../actors/membership/snapshot.js';
import { StoppedError, type LeaderlessError } from '../../actors/errors.js';
import type { Key } from '../../actors/hash.js';
import type { Address, Message } from '../../actors/protocol.js';
import type { Ring } from '../../actors/ring.js';
import type { Value } from '../../actors/types.js';
import { ClientCoordinator } from '../../actors/coordinator/client.js';
import {
  LOCAL_READ_UNAVAILABLE, localClock, type ClientEnv, type ClientTransport, type ClusterView, type LocalRead, type OperationHost,
} from '../../actors/coordinator/client-env.js';
import {
  toInspection, type ClientCounters, type GetOptions, type GetResult, type Inspection, type PutOptions, type PutResult,
} from '../../actors/coordinator/results.js';
import { LatencyRecorder, type LatencySummary } from '../host/latency.js';
import type { ResolvedConfig } from '../config.js';
import type { SimHost, SimWorld } from './world.js';

/** The simulator as a client sees it: sends cross the seeded network; the time is virtual. */
class SimEnv implements ClientTransport, ClusterView, OperationHost {
  closed = false;

  constructor(
    private readonly world: SimWorld,
    private readonly address: Address,
    private readonly near: number,
    private readonly localReads: boolean,
  ) {}

  now(): number {
    return this.world.nowMs;
  }

  send(to: Address, msg: Message): void {
    this.world.send(this.address, to, msg);
  }

  accepts(to: Address): boolean {
    return this.world.accepts(to);
  }

  isUp(node: number): boolean {
    return this.world.nodes[node].status === 'up';
  }

  statusVersion(): number {
    return this.world.membershipVersion;
  }

  readStore(node: number, keyId: string): LocalRead {
    const n = this.world.nodes[node];
    if (!this.localReads || n.paused || n.status !== 'up') return LOCAL_READ_UNAVAILABLE;
    if (this.near >= 0 && this.world.network.blocked(this.address, node)) return LOCAL_READ_UNAVAILABLE;
    return localClock(n.store.get(keyId));
  }

  track<T>(start: (resolve: (v: T) => void, reject: (e: LeaderlessError) => void) => void): Promise<T> {
    return this.world.track<T>(start as (resolve: (v: T) => void, reject: (e: Error) => void) => void);
  }

  checkOpen(): void {
    if (this.closed || this.world.stopped) throw this.world.crashed ?? new StoppedError();
  }
}

export class SimClient implements SimHost {
  readonly config: ResolvedConfig;
  /** the protocol side: checks, placement, reads, writes with failover, results */
  protected readonly coordinator: ClientCoordinator;
  private readonly env: SimEnv;
  private readonly latencies = new LatencyRecorder();

  constructor(
    protected readonly world: SimWorld,
    ring: Ring,
    readonly address: Address,
    /** the replica this client sits beside for partitions (-1: never cut off) */
    readonly near: number,
    localReads: boolean,
  ) {
    this.config = world.config;
    this.env = new SimEnv(world, address, near, localReads);
    const mode = this.config.sharedMemoryReads;
    const env: ClientEnv = {
      transport: this.env,
      clock: this.env,
      view: this.env,
      host: this.env,
      observer: this.latencies,
      localReadLimit: !localReads ? 0 : mode === 'quorum' ? Number.MAX_SAFE_INTEGER : mode === 'one' ? 1 : 0,
    };
    this.coordinator = new ClientCoordinator(this.config, address, env, ring);
    world.hosts.set(address, this);
  }

  /** The ring this client places keys on now (membership changes move it). */
  get ring(): Ring {
    return this.coordinator.currentRing;
  }

  /** The control plane published a new membership. */
  setMembership(snapshot: MembershipSnapshot): void {
    this.coordinator.setMembership(snapshot);
  }

  get counters(): ClientCounters {
    return this.coordinator.counters;
  }

  /** Operations in flight on this client. */
  get inFlight(): number {
    return this.coordinator.inFlight;
  }

  get(key: Key, options?: GetOptions): Promise<GetResult> {
    return this.coordinator.get(key, options);
  }

  put(key: Key, value: Value, options?: PutOptions): Promise<PutResult> {
    return this.coordinator.put(key, value, options);
  }

  /** Deletes by writing a tombstone. Pass the context of a read to delete exactly what you saw. */
  delete(key: Key, options?: PutOptions): Promise<PutResult> {
    return this.coordinator.delete(key, options);
  }

  /** Latency of this client's message-borne reads and of its writes, in virtual time. */
  latency(): { read: LatencySummary; write: LatencySummary } {
    return this.latencies.summary();
  }

  /** What replica `node` holds for `key`, read from its store (no message, no virtual time): undefined if nothing. */
  inspect(node: number, key: Key): Inspection | undefined {
    this.checkOpen();
    this.checkNode(node);
    const clock = this.world.nodes[node].store.get(this.coordinator.checkKey(key));
    return clock === undefined ? undefined : toInspection(clock);
  }

  /** How the cluster sees a node: the simulator's detector is perfect (a killed node is down at once). */
  nodeStatus(node: number): 'up' | 'suspect' | 'down' {
    this.checkNode(node);
    return this.world.nodes[node].status;
  }

  /** Detaches this client: its pending operations fail with STOPPED. */
  close(): void {
    if (this.env.closed) return;
    this.env.closed = true;
    this.coordinator.failAll(new StoppedError('the client was closed'));
    this.world.hosts.delete(this.address);
  }

  // ---------------------------------------------------------------------------------------------- SimHost

  deliver(msg: Message): void {
    this.coordinator.receive(msg);
  }

  tick(nowMs: number): void {
    this.coordinator.tick(nowMs);
  }

  peerRestarted(node: number): void {
    this.coordinator.peerRestarted(node);
  }

  fail(e: Error): void {
    this.coordinator.failAll(e as LeaderlessError);
  }

  protected checkNode(node: unknown): asserts node is number {
    this.coordinator.checkNode(node);
  }

  protected checkKey(key: Key): string {
    return this.coordinator.checkKey(key);
  }

  protected checkOpen(): void {
    this.env.checkOpen();
  }
}
