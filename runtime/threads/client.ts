// A client of the thread runtime: get / put / delete / inspect, usable from the thread that started the cluster and
// from any other thread that attached with a ClientHandle. The protocol side (checks, placement, the read
// coordinator, write failover, results) is the ClientCoordinator it holds (actors/coordinator/client.ts), given
// this file's transport, clock and view of the cluster:
// MessagePorts to every replica with batched binary messages (runtime/transport.ts), the SharedView for who is up
// and how full each mailbox is, SharedStore readers for consistency-ONE reads with no message at all, and a ticker
// that runs only while operations are pending.

import type { MessagePort } from 'node:worker_threads';
import { OverloadedError, StoppedError, type LeaderlessError } from '../../actors/errors.js';
import type { Key } from '../../actors/hash.js';
import type { Address } from '../../actors/protocol.js';
import type { Ring } from '../../actors/ring.js';
import { ClientCoordinator } from '../../actors/coordinator/client.js';
import { checkNode } from '../../actors/coordinator/checks.js';
import {
  LOCAL_READ_BUSY, LOCAL_READ_UNAVAILABLE, localClock, type ClientEnv, type ClusterView, type LocalRead, type OperationHost,
} from '../../actors/coordinator/client-env.js';
import {
  toInspection, type ClientCounters, type GetOptions, type GetResult, type Inspection, type PutOptions, type PutResult,
} from '../../actors/coordinator/results.js';
import type { Value } from '../../actors/types.js';
import type { MembershipSnapshot } from '../../actors/membership/snapshot.js';
import { LatencyRecorder, type LatencySummary } from '../host/latency.js';
import { ringOf, type ResolvedConfig } from '../config.js';
import { nowMs } from './clock.js';
import { NodeStatus, SharedView } from './shared-view.js';
import { BUSY, SharedStore, type StoreBuffers } from '../host/store.js';
import { GOODBYE, Outbox, type Port } from './transport.js';
import { WireCodec } from './wire.js';

export {
  type ClientCounters,
  type GetOptions,
  type GetResult,
  type Inspection,
  type PutOptions,
  type PutResult,
} from '../../actors/coordinator/results.js';

/** Everything a thread needs to become a client: plain data plus transferable ports. */
export interface ClientHandle {
  address: Address;
  config: ResolvedConfig;
  view: SharedArrayBuffer;
  stores: StoreBuffers[];
  /** a port per replica that was up when the handle was made, with that replica's incarnation (0 when left out) */
  ports: Array<[node: number, port: MessagePort, incarnation?: number]>;
  /** place the client beside a replica: partitions that cut that replica off cut this client off too */
  near?: number;
  /** from the owning thread: new ports for restarted replicas; closing it tells the owner this client is gone */
  control?: MessagePort;
  /** pass as the transfer list when posting the handle to another thread */
  transfer: MessagePort[];
  /** the membership published when the handle was made (later ones come over `control`) */
  membership?: MembershipSnapshot;
}

/** What the owning thread posts on a client's control port. */
export type ClientControlMessage =
  | { type: 'replace'; node: number; port: MessagePort; incarnation: number; store?: StoreBuffers }
  | { type: 'membership'; snapshot: MembershipSnapshot };

const PARK = new Int32Array(new SharedArrayBuffer(4));

/** Who is up, from the SharedView; stores read straight from shared memory when asking would give the same. */
class SharedClusterView implements ClusterView {
  constructor(
    private readonly view: SharedView,
    private readonly readers: SharedStore[],
    private readonly near: number,
    /** whether the client holds the membership last published (SharedView.membershipIs) */
    private readonly current: () => boolean,
  ) {}

  isUp(node: number): boolean {
    return this.view.isUp(node);
  }

  statusVersion(): number {
    return this.view.statusVersion();
  }

  /**
   * A replica's store, read directly, as long as that is what asking it would give: not while it is paused (it would
   * not answer), cut off from this client by a partition, or behind an injected delay or drop (the read must feel
   * them, so it goes by message).
   */
  readStore(node: number, keyId: string): LocalRead {
    const v = this.view;
    const reader = this.readers[node];
    // a node that joined after this client was made and whose store has not reached it yet: ask by message
    if (reader === undefined || v.paused(node) || v.impaired || (this.near >= 0 && v.blocked(this.near, node))) return LOCAL_READ_UNAVAILABLE;
    // a membership published and not yet taken here: the replica may have dropped the key; by message it would say
    // WRONG_EPOCH, and the client would retry on the new ring
    if (!this.current()) return LOCAL_READ_UNAVAILABLE;
    const clock = reader.get(keyId);
    return clock === BUSY ? LOCAL_READ_BUSY : localClock(clock);
  }
}

const CLOCK = { now: nowMs };

export class ClusterClient {
  readonly config: ResolvedConfig;
  readonly address: Address;
  /** the replica this client sits beside for partitions (-1: never cut off) */
  readonly near: number;
  protected readonly view: SharedView;
  /** the protocol side: checks, placement, reads, writes with failover, results */
  protected readonly coordinator: ClientCoordinator;
  private readonly latencies = new LatencyRecorder();
  private readonly readers: SharedStore[];
  private readonly ports = new Map<Address, Port>();
  private readonly outbox: Outbox;
  private readonly codec: WireCodec;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private control: MessagePort | undefined;

  constructor(handle: Omit<ClientHandle, 'transfer'>) {
    this.config = handle.config;
    this.address = handle.address;
    this.near = handle.near ?? -1;
    this.codec = new WireCodec(handle.config.datacenters);
    this.view = new SharedView(handle.view, handle.config.maxNodes);
    this.readers = handle.stores.map((b) => SharedStore.attach(b, 'reader'));
    this.outbox = new Outbox(this.ports, this.codec, this.view, this.config.mailboxCapacity, this.near);
    const mode = this.config.sharedMemoryReads;
    const host: OperationHost = { track: (start) => this.track(start), checkOpen: () => this.checkOpen() };
    const env: ClientEnv = {
      transport: this.outbox,
      clock: CLOCK,
      view: new SharedClusterView(this.view, this.readers, this.near, () => this.view.membershipIs(this.membershipRank[0], this.membershipRank[1])),
      host,
      observer: this.latencies,
      localReadLimit: mode === 'quorum' ? Number.MAX_SAFE_INTEGER : mode === 'one' ? 1 : 0,
    };
    this.coordinator = new ClientCoordinator(this.config, this.address, env, ringOf(this.config));
    if (handle.membership !== undefined && handle.membership.changes.length > 0) this.setMembership(handle.membership);
    for (const [node, port, incarnation] of handle.ports) this.replacePort(node, port, incarnation);
    if (handle.control !== undefined) {
      // the owning thread tells an attached client about replicas restarted (or joined) on new ports, and the membership
      handle.control.on('message', (m: ClientControlMessage) => {
        if (m?.type === 'replace') this.replacePort(m.node, m.port, m.incarnation, m.store);
        else if (m?.type === 'membership') this.setMembership(m.snapshot);
      });
      handle.control.unref();
      this.control = handle.control;
    }
  }

  /** The ring this client places keys on now (it follows membership changes). */
  get ring(): Ring {
    return this.coordinator.currentRing;
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

  /** Latency of this client's reads and writes (consistency-ONE reads from shared memory, about a microsecond, are not timed). */
  latency(): { read: LatencySummary; write: LatencySummary } {
    return this.latencies.summary();
  }

  /** What replica `node` holds for `key`, read from its shared store (no message): undefined if nothing. */
  inspect(node: number, key: Key): Inspection | undefined {
    this.checkOpen();
    this.checkNode(node);
    const id = this.coordinator.checkKey(key);
    // The store answers BUSY while its writer compacts; inspect is synchronous, so wait in short bounded sleeps
    // (Atomics.wait parks this thread without spinning) for up to about two seconds.
    for (let attempt = 0; attempt < 2000; attempt++) {
      const reader = this.readers[node];
      if (reader === undefined) return undefined; // a node that joined after this client: its store has not come yet
      const clock = reader.get(id);
      if (clock === BUSY) {
        Atomics.wait(PARK, 0, 0, 1);
        continue;
      }
      return clock === undefined ? undefined : toInspection(clock);
    }
    throw new OverloadedError(`replica ${node}'s store stayed busy compacting; retry`);
  }

  /** How the supervisor currently sees a node. */
  nodeStatus(node: number): 'up' | 'suspect' | 'down' {
    this.checkNode(node);
    const s = this.view.status(node);
    return s === NodeStatus.Up ? 'up' : s === NodeStatus.Suspect ? 'suspect' : 'down';
  }

  /**
   * The membership this client places keys by (the cluster publishes it during a membership change). Snapshots only
   * grow (more changes, or more ranges of the last one complete), so one not ahead of the last taken is an old one
   * that arrived late (a port message overtaken by a direct call) and is ignored.
   */
  setMembership(snapshot: MembershipSnapshot): void {
    const [changes, completed] = this.membershipRank;
    const ahead = snapshot.changes.length > changes || (snapshot.changes.length === changes && snapshot.completed.length > completed);
    if (!ahead) return;
    this.coordinator.setMembership(snapshot);
    this.membershipRank = [snapshot.changes.length, snapshot.completed.length];
  }

  private membershipRank: [changes: number, completed: number] = [0, 0];

  /**
   * Talk to replica `node` on a new port (it was restarted, or it joined: `store` is then its shared store); the port
   * leads to `incarnation`; the old port is closed.
   */
  replacePort(node: number, port: MessagePort, incarnation = 0, store?: StoreBuffers): void {
    if (store !== undefined && this.readers[node] === undefined) this.readers[node] = SharedStore.attach(store, 'reader');
    const old = this.ports.get(node) as MessagePort | undefined;
    if (old !== undefined) this.coordinator.peerRestarted(node); // a new port: the replica was restarted
    if (old !== undefined && old !== port) old.close();
    this.ports.set(node, port);
    this.outbox.incarnations.set(node, incarnation);
    port.on('message', (buffer: ArrayBuffer) => {
      // a partition between the replica and the node this client sits beside drops its replies too
      if (this.near >= 0 && this.view.blocked(node, this.near)) return;
      const batch = this.codec.decode(buffer);
      for (let i = 0; i < batch.length; i++) this.coordinator.receive(batch[i]);
    });
    port.unref();
  }

  /** Detaches this client (an attached thread calls it when done; the cluster's own client closes with stop()). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
    this.coordinator.failAll(new StoppedError('the client was closed'));
    this.outbox.flush(); // what is queued goes out now, counted, before the goodbye (see GOODBYE)
    for (const port of this.ports.values()) {
      (port as MessagePort).removeAllListeners?.('message');
      port.postMessage(GOODBYE);
    }
    this.ports.clear(); // later sends (a delayed message) find no port: lost, and never counted
    this.control?.close();
  }

  /** Every node address so far (joins add them; a node that left keeps its own). */
  protected checkNode(node: unknown): asserts node is number {
    checkNode(node, this.view.addresses);
  }

  protected checkKey(key: Key): string {
    return this.coordinator.checkKey(key);
  }

  protected checkOpen(): void {
    if (this.closed || this.view.stopped) throw new StoppedError();
  }

  private track<T>(start: (resolve: (v: T) => void, reject: (e: LeaderlessError) => void) => void): Promise<T> {
    const p = new Promise<T>(start);
    this.ensureTicker();
    return p;
  }

  private ensureTicker(): void {
    if (this.ticker !== undefined) return;
    // Referenced on purpose: while an operation is pending the process must not exit under an `await`.
    this.ticker = setInterval(() => {
      if (this.view.stopped) return this.close();
      this.coordinator.tick(nowMs());
      if (this.coordinator.inFlight === 0 && this.ticker !== undefined) {
        clearInterval(this.ticker);
        this.ticker = undefined;
      }
    }, this.config.tickMs);
  }
}
