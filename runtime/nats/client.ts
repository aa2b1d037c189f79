// A client of a cluster served over NATS (Cluster.connect): the same ClientCoordinator as the embedded runtimes
// (actors/coordinator/client.ts), given this file's transport (batched wire batches published on each replica's
// subject, replies on this client's own subject), a wall clock, and a view of who is up from heartbeats
// (detector.ts). No store can be read without a message from another process, so reads always go by message.
//
// The client learns the cluster from the cluster: it asks the config subject for the options every serving process
// runs with, and builds the same ring from them.

import { EventEmitter } from 'node:events';
import { StoppedError, type LeaderlessError } from '../../actors/errors.js';
import type { Key } from '../../actors/hash.js';
import { CLIENT_BASE, type Message } from '../../actors/protocol.js';
import { ClientCoordinator } from '../../actors/coordinator/client.js';
import { LOCAL_READ_BUSY, LOCAL_READ_UNAVAILABLE, localClock, type ClientEnv, type LocalRead } from '../../actors/coordinator/client-env.js';
import { BUSY, type SharedStore } from '../host/store.js';
import type { ClientCounters, GetOptions, GetResult, Inspection, PutOptions, PutResult } from '../../actors/coordinator/results.js';
import type { Value } from '../../actors/types.js';
import type { Ring } from '../../actors/ring.js';
import { LatencyRecorder, type LatencySummary } from '../host/latency.js';
import { ringOf, type ResolvedConfig } from '../config.js';
import type { LeaderlessClient } from '../api.js';
import { WireCodec } from '../threads/wire.js';
import { Subjects, type NatsConnection } from './connection.js';
import { decodeHeartbeat, HeartbeatDetector } from './detector.js';
import { RemoteUnsupportedError } from './errors.js';
import { NatsOutbox, payloadBuffer } from './transport.js';

export const nowMs = (): number => performance.timeOrigin + performance.now();

/** A client address no other client of the cluster is likely to have (addresses are numbers on the wire). */
function randomAddress(): number {
  return CLIENT_BASE + 1 + Math.floor(Math.random() * 2 ** 31);
}

/**
 * The stores of the replicas served by this very process (a client made with NatsServer.client()): read without a
 * message, as the thread runtime reads shared memory, while the node is up and the process is not cut off.
 */
export interface LocalStores {
  stores: ReadonlyMap<number, SharedStore>;
  isCut(): boolean;
}

export class NatsClient implements LeaderlessClient {
  readonly address = randomAddress();
  readonly subjects: Subjects;
  /** who is up, from heartbeats */
  readonly detector: HeartbeatDetector;
  /** node-up, node-suspect, node-down, node-restarted, as this client's detector sees them */
  readonly events = new EventEmitter();
  protected readonly coordinator: ClientCoordinator;
  private readonly latencies = new LatencyRecorder();
  private readonly outbox: NatsOutbox;
  private readonly codec: WireCodec;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private readonly sampler: ReturnType<typeof setInterval>;
  protected closed = false;
  /** batches that were not of this protocol (dropped) */
  decodeErrors = 0;

  constructor(
    readonly config: ResolvedConfig,
    readonly nc: NatsConnection,
    cluster: string,
    private readonly local?: LocalStores,
  ) {
    this.subjects = new Subjects(cluster);
    this.codec = new WireCodec(config.datacenters);
    this.outbox = new NatsOutbox(nc, this.subjects, this.codec, config.mailboxCapacity);
    this.detector = new HeartbeatDetector(config.nodes.length, config.failureDetector, nowMs());
    const env: ClientEnv = {
      transport: this.outbox,
      clock: { now: nowMs },
      view: {
        isUp: (n) => this.detector.isUp(n),
        statusVersion: () => this.detector.statusVersion(),
        readStore: (node, keyId) => this.readStore(node, keyId),
      },
      host: { track: (start) => this.track(start), checkOpen: () => this.checkOpen() },
      observer: this.latencies,
      // another process's memory is never read without a message; this process's replicas' stores are
      localReadLimit: local === undefined ? 0 : config.sharedMemoryReads === 'quorum' ? Number.MAX_SAFE_INTEGER : config.sharedMemoryReads === 'one' ? 1 : 0,
    };
    this.coordinator = new ClientCoordinator(config, this.address, env, ringOf(config));
    nc.subscribe(this.subjects.client(this.address), { callback: (err, msg) => (err === null ? this.receive(msg.data) : undefined) });
    nc.subscribe(this.subjects.heartbeat, {
      callback: (err, msg) => {
        const h = err === null ? decodeHeartbeat(msg.data, config.nodes.length) : undefined;
        if (h !== undefined && this.detector.beat(h, nowMs())) {
          this.coordinator.peerRestarted(h.node);
          this.events.emit('node-restarted', { node: h.node, atMs: nowMs() });
        }
      },
    });
    this.sampler = setInterval(() => {
      for (const c of this.detector.sample(nowMs())) this.events.emit(c.event, { node: c.node, atMs: nowMs() });
    }, config.failureDetector.sampleMs);
    this.sampler.unref();
  }

  /** A store of this process read directly: zero hops (a replica elsewhere, down, or cut off: by message). */
  private readStore(node: number, keyId: string): LocalRead {
    const store = this.local?.stores.get(node);
    if (store === undefined || this.local!.isCut() || !this.detector.isUp(node)) return LOCAL_READ_UNAVAILABLE;
    const clock = store.get(keyId);
    return clock === BUSY ? LOCAL_READ_BUSY : localClock(clock);
  }

  private receive(data: Uint8Array): void {
    let batch: Message[];
    try {
      batch = this.codec.decode(payloadBuffer(data));
    } catch {
      this.decodeErrors++;
      return;
    }
    for (let i = 0; i < batch.length; i++) this.coordinator.receive(batch[i]);
  }

  get(key: Key, options?: GetOptions): Promise<GetResult> {
    return this.coordinator.get(key, options);
  }

  put(key: Key, value: Value, options?: PutOptions): Promise<PutResult> {
    return this.coordinator.put(key, value, options);
  }

  delete(key: Key, options?: PutOptions): Promise<PutResult> {
    return this.coordinator.delete(key, options);
  }

  /** Synchronous reads of a replica's store need shared memory: use inspectRemote (a control call) instead. */
  inspect(_node: number, _key: Key): Inspection | undefined {
    throw new RemoteUnsupportedError('inspect', "a replica's store is in another process; use inspectRemote(node, key), which asks it over NATS");
  }

  nodeStatus(node: number): 'up' | 'suspect' | 'down' {
    this.coordinator.checkNode(node);
    return this.detector.status(node);
  }

  latency(): { read: LatencySummary; write: LatencySummary } {
    return this.latencies.summary();
  }

  get counters(): ClientCounters {
    return this.coordinator.counters;
  }

  get inFlight(): number {
    return this.coordinator.inFlight;
  }

  checkNode(node: unknown): asserts node is number {
    this.coordinator.checkNode(node);
  }

  checkKey(key: Key): string {
    return this.coordinator.checkKey(key);
  }

  /** The ring this client places keys on. */
  get ring(): Ring {
    return this.coordinator.currentRing;
  }

  /** Ends this client: pending operations fail with STOPPED; its NATS connection is drained and closed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
    clearInterval(this.sampler);
    this.coordinator.failAll(new StoppedError('the client was closed'));
    this.outbox.flush();
    this.closing = this.nc.close().catch(() => undefined); // not drain: a drain waits on a server that may be gone
  }

  /** Resolves once the connection is closed (after close()). */
  closing: Promise<void> = Promise.resolve();

  checkOpen(): void {
    if (this.closed) throw new StoppedError();
  }

  private track<T>(start: (resolve: (v: T) => void, reject: (e: LeaderlessError) => void) => void): Promise<T> {
    const p = new Promise<T>(start);
    if (this.ticker === undefined) {
      // referenced on purpose: while an operation is pending the process must not exit under an `await`
      this.ticker = setInterval(() => {
        this.coordinator.tick(nowMs());
        if (this.coordinator.inFlight === 0 && this.ticker !== undefined) {
          clearInterval(this.ticker);
          this.ticker = undefined;
        }
      }, this.config.tickMs);
    }
    return p;
  }
}
