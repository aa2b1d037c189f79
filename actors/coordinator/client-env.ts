// What the client coordinator (actors/coordinator/client.ts) is given by the runtime that hosts it, as comlink's
// Endpoint is given to a proxy: a transport (send, mailbox room), a clock, a view of the cluster (who is up, whether
// a replica's store may be read without a message), the runtime's way to hold an operation open until it settles,
// and an observer of completed operations (the runtime keeps latency histograms; actors/ keeps none).
//
// Both runtimes satisfy these: the thread runtime with MessagePorts, shared memory and a real ticker
// (runtime/threads/client.ts), the simulator with its seeded network and virtual time (runtime/sim/sim-client.ts).

import type { LeaderlessError } from '../errors.js';
import type { LinkOptions } from '../link-detector.js';
import type { Address, Message, StoredClock } from '../protocol.js';
import type { Level } from '../quorum/index.js';
import type { NodeSpec } from '../ring.js';
import type { ConflictMode } from '../types.js';
import type { ReadRepairMode } from './get.js';

/** The part of the cluster's resolved configuration the client coordinator reads (ResolvedConfig satisfies it). */
export interface ClientConfig {
  readonly nodes: readonly NodeSpec[];
  readonly replication: Record<string, number>;
  readonly localDc: string;
  readonly read: Level;
  readonly write: Level;
  readonly conflicts: ConflictMode;
  readonly sloppy: boolean;
  readonly readRepair: ReadRepairMode;
  readonly standInNotFoundOk: boolean;
  readonly timeoutMs: number;
  readonly tickMs: number;
  readonly readRetryMs: number;
  readonly readFanout: 'quorum' | 'all';
  readonly hintAfterMs: number;
  readonly coordinatorFailoverMs: number;
  readonly maxInFlight: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly mailboxCapacity: number;
  readonly links: LinkOptions;
}

/** How messages leave the client. */
export interface ClientTransport {
  /** Sends one message (the runtime batches, delays or drops it as its network does). */
  send(to: Address, msg: Message): void;
  /** Whether replica `to`'s mailbox has room for one more message. */
  accepts(to: Address): boolean;
}

/** Monotonic time in ms: real in the thread runtime, virtual in the simulator. Injected, never read in actors/. */
export interface Clock {
  now(): number;
}

/**
 * A replica's store read without a message: its clock for the key (undefined: nothing held), or why it cannot be
 * read that way now: 'busy' (the store is compacting) or 'unavailable' (paused, cut off, impaired, or not possible
 * in this runtime). Either way the read then goes by message.
 */
export type LocalRead =
  | { readonly ok: true; readonly clock: StoredClock | undefined }
  | { readonly ok: false; readonly why: 'busy' | 'unavailable' };

export const LOCAL_READ_BUSY: LocalRead = Object.freeze({ ok: false, why: 'busy' } as const);
export const LOCAL_READ_UNAVAILABLE: LocalRead = Object.freeze({ ok: false, why: 'unavailable' } as const);

/** The local read of a clock (or of nothing). */
export function localClock(clock: StoredClock | undefined): LocalRead {
  return { ok: true, clock };
}

/** What the client knows of the cluster without asking it. */
export interface ClusterView {
  isUp(node: number): boolean;
  /** Changes whenever any node's status changes (lets placements be cached while every node is up). */
  statusVersion(): number;
  readStore(node: number, keyId: string): LocalRead;
}

/** The runtime's hold on an operation: it delivers replies and ticks until the operation settles. */
export interface OperationHost {
  track<T>(start: (resolve: (v: T) => void, reject: (e: LeaderlessError) => void) => void): Promise<T>;
  /** Throws STOPPED when the client or its cluster is closed. */
  checkOpen(): void;
}

/** Told of every completed message-borne operation (the runtime keeps the latency histograms). */
export interface OperationObserver {
  completed(op: 'read' | 'write', latencyMs: number): void;
}

export interface ClientEnv {
  readonly transport: ClientTransport;
  readonly clock: Clock;
  readonly view: ClusterView;
  readonly host: OperationHost;
  readonly observer: OperationObserver;
  /** how many replicas a read may take straight from their stores (0: none; reads go by message) */
  readonly localReadLimit: number;
}
