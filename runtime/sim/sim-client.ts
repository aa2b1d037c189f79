// A client of the simulated cluster: ClientCore (runtime/client-core.ts: the same checks, placement, read coordinator,
// write failover and results as the thread runtime) on the simulator's transport. Its messages cross the simulated
// network (so a client `near` a replica is cut off with that replica by a partition); its pending operations are
// tracked by the world, which advances virtual time until they settle; ticks come from the world's clock.
// Consistency-ONE reads go by message too, unless the cluster was started with localReads: true, which reads the
// first primary's store directly as the thread runtime reads shared memory (no latency, no staleness window).

import { StoppedError, type LeaderlessError } from '../../actors/errors.js';
import type { Key } from '../../actors/hash.js';
import type { Address, Message, StoredClock } from '../../actors/protocol.js';
import type { Ring } from '../../actors/ring.js';
import { ClientCore, toInspection, type Inspection } from '../host/client-core.js';
import type { SimHost, SimWorld } from './world.js';

export class SimClient extends ClientCore implements SimHost {
  private closed = false;

  constructor(
    protected readonly world: SimWorld,
    ring: Ring,
    address: Address,
    near: number,
    private readonly localReads: boolean,
  ) {
    super(world.config, address, near, ring);
    world.hosts.set(address, this);
  }

  /** What replica `node` holds for `key`, read from its store (no message, no virtual time): undefined if nothing. */
  inspect(node: number, key: Key): Inspection | undefined {
    this.checkOpen();
    this.checkNode(node);
    const clock = this.world.nodes[node].store.get(this.checkKey(key));
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
    this.failAll(new StoppedError('the client was closed'));
    this.world.hosts.delete(this.address);
  }

  // ---------------------------------------------------------------------------------------------- SimHost

  deliver(msg: Message): void {
    this.receive(msg);
  }

  fail(e: Error): void {
    this.failAll(e as LeaderlessError);
  }

  // ---------------------------------------------------------------------------------------------- ClientCore hooks

  protected now(): number {
    return this.world.nowMs;
  }

  protected transmit(to: Address, msg: Message): void {
    this.world.send(this.address, to, msg);
  }

  protected accepts(to: Address): boolean {
    return this.world.accepts(to);
  }

  protected isUp(node: number): boolean {
    return this.world.nodes[node].status === 'up';
  }

  protected statusVersion(): number {
    return this.world.membershipVersion;
  }

  protected readStore(node: number, keyId: string): StoredClock | undefined | null {
    const n = this.world.nodes[node];
    if (!this.localReads || n.paused || n.status !== 'up') return null;
    if (this.near >= 0 && this.world.network.blocked(this.address, node)) return null;
    return n.store.get(keyId);
  }

  protected localReadLimit(): number {
    if (!this.localReads) return 0;
    return this.config.sharedMemoryReads === 'quorum' ? Number.MAX_SAFE_INTEGER : this.config.sharedMemoryReads === 'one' ? 1 : 0;
  }

  protected track<T>(start: (resolve: (v: T) => void, reject: (e: LeaderlessError) => void) => void): Promise<T> {
    return this.world.track<T>(start as (resolve: (v: T) => void, reject: (e: Error) => void) => void);
  }

  protected checkOpen(): void {
    if (this.closed || this.world.stopped) throw this.world.crashed ?? new StoppedError();
  }
}
