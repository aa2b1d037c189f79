// A client of the thread runtime: get / put / delete / inspect, usable from the thread that started the cluster and
// from any other thread that attached with a ClientHandle. The protocol side (checks, placement, the read
// coordinator, write failover, results) is ClientCore (runtime/client-core.ts); this file is the thread transport:
// MessagePorts to every replica with batched binary messages (runtime/transport.ts), the SharedView for who is up
// and how full each mailbox is, SharedStore readers for consistency-ONE reads with no message at all, and a ticker
// that runs only while operations are pending.

import type { MessagePort } from 'node:worker_threads';
import { OverloadedError, StoppedError, type LeaderlessError } from '../../actors/errors.js';
import type { Key } from '../../actors/hash.js';
import type { Address, Message, StoredClock } from '../../actors/protocol.js';
import { ClientCore, LOCAL_BUSY, toInspection, type Inspection } from '../host/client-core.js';
import type { ResolvedConfig } from '../config.js';
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
} from '../host/client-core.js';

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
}

const PARK = new Int32Array(new SharedArrayBuffer(4));

export class ClusterClient extends ClientCore {
  protected readonly view: SharedView;
  private readonly readers: SharedStore[];
  private readonly ports = new Map<Address, Port>();
  private readonly outbox: Outbox;
  private readonly codec: WireCodec;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private control: MessagePort | undefined;

  constructor(handle: Omit<ClientHandle, 'transfer'>) {
    super(handle.config, handle.address, handle.near ?? -1);
    this.codec = new WireCodec(handle.config.datacenters);
    this.view = new SharedView(handle.view, handle.config.nodes.length);
    this.readers = handle.stores.map((b) => SharedStore.attach(b, 'reader'));
    this.outbox = new Outbox(this.ports, this.codec, this.view, this.config.mailboxCapacity, this.near);
    for (const [node, port, incarnation] of handle.ports) this.replacePort(node, port, incarnation);
    if (handle.control !== undefined) {
      // the owning thread tells an attached client about replicas restarted on new ports
      handle.control.on('message', (m: { type: 'replace'; node: number; port: MessagePort; incarnation: number }) => {
        if (m?.type === 'replace') this.replacePort(m.node, m.port, m.incarnation);
      });
      handle.control.unref();
      this.control = handle.control;
    }
  }

  /** What replica `node` holds for `key`, read from its shared store (no message): undefined if nothing. */
  inspect(node: number, key: Key): Inspection | undefined {
    this.checkOpen();
    this.checkNode(node);
    const id = this.checkKey(key);
    // The store answers BUSY while its writer compacts; inspect is synchronous, so wait in short bounded sleeps
    // (Atomics.wait parks this thread without spinning) for up to about two seconds.
    for (let attempt = 0; attempt < 2000; attempt++) {
      const clock = this.readers[node].get(id);
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

  /** Talk to replica `node` on a new port (it was restarted; the port leads to `incarnation`); the old port is closed. */
  replacePort(node: number, port: MessagePort, incarnation = 0): void {
    const old = this.ports.get(node) as MessagePort | undefined;
    if (old !== undefined && old !== port) old.close();
    this.ports.set(node, port);
    this.outbox.incarnations.set(node, incarnation);
    port.on('message', (buffer: ArrayBuffer) => {
      // a partition between the replica and the node this client sits beside drops its replies too
      if (this.near >= 0 && this.view.blocked(node, this.near)) return;
      const batch = this.codec.decode(buffer);
      for (let i = 0; i < batch.length; i++) this.receive(batch[i]);
    });
    port.unref();
  }

  /** Detaches this client (an attached thread calls it when done; the cluster's own client closes with stop()). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
    this.failAll(new StoppedError('the client was closed'));
    this.outbox.flush(); // what is queued goes out now, counted, before the goodbye (see GOODBYE)
    for (const port of this.ports.values()) {
      (port as MessagePort).removeAllListeners?.('message');
      port.postMessage(GOODBYE);
    }
    this.ports.clear(); // later sends (a delayed message) find no port: lost, and never counted
    this.control?.close();
  }

  // ---------------------------------------------------------------------------------------------- ClientCore hooks

  protected now(): number {
    return nowMs();
  }

  protected transmit(to: Address, msg: Message): void {
    this.outbox.send(to, msg);
  }

  protected accepts(to: Address): boolean {
    return this.outbox.accepts(to);
  }

  protected isUp(node: number): boolean {
    return this.view.isUp(node);
  }

  protected statusVersion(): number {
    return this.view.statusVersion();
  }

  /**
   * A replica's store, read directly, as long as that is what asking it would give: not while it is paused (it would
   * not answer), cut off from this client by a partition, or behind an injected delay or drop (the read must feel
   * them, so it goes by message).
   */
  protected readStore(node: number, keyId: string): StoredClock | undefined | typeof LOCAL_BUSY | null {
    const v = this.view;
    if (v.paused(node) || v.impaired || (this.near >= 0 && v.blocked(this.near, node))) return null;
    const clock = this.readers[node].get(keyId);
    return clock === BUSY ? LOCAL_BUSY : clock;
  }

  protected localReadLimit(): number {
    const mode = this.config.sharedMemoryReads;
    return mode === 'quorum' ? Number.MAX_SAFE_INTEGER : mode === 'one' ? 1 : 0;
  }

  protected track<T>(start: (resolve: (v: T) => void, reject: (e: LeaderlessError) => void) => void): Promise<T> {
    const p = new Promise<T>(start);
    this.ensureTicker();
    return p;
  }

  protected checkOpen(): void {
    if (this.closed || this.view.stopped) throw new StoppedError();
  }

  private ensureTicker(): void {
    if (this.ticker !== undefined) return;
    // Referenced on purpose: while an operation is pending the process must not exit under an `await`.
    this.ticker = setInterval(() => {
      if (this.view.stopped) return this.close();
      this.tick(nowMs());
      if (this.inFlight === 0 && this.ticker !== undefined) {
        clearInterval(this.ticker);
        this.ticker = undefined;
      }
    }, this.config.tickMs);
  }
}
