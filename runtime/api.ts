// The one cluster interface, implemented by every runtime: the thread runtime (runtime/threads/: a worker thread per
// replica, real time, shared memory) and the simulator (runtime/sim/: every actor in one thread, virtual time, a
// seeded network). The harness and the scenario tests drive either through this file's types only; the public entry
// (runtime/index.ts) picks the runtime. Where the two differ (real or virtual time, how a fault is carried out) is
// said on the member; what a call means is the same in both.
//
// The fault vocabulary (`cluster.faults`), the same names, arguments and meaning in both runtimes, the CLI's
// `--fault` grammar (bench/faults.ts) and the README:
//   kill(node, { wipe?, stayDown? })   the replica's process dies (its in-memory state is lost, its store kept); the
//                                      supervisor restarts it after restart.delayMs unless stayDown; with wipe it
//                                      comes back with an empty store under a new DVV id (a replaced disk)
//   restart(node)                      starts a replica held down (stayDown, or given up by the restart policy)
//   pause(node) / resume(node)         the replica stops handling messages and heartbeating; what arrives waits,
//                                      bounded by its mailbox
//   partition(groups) / heal()         messages between groups are dropped (unlisted nodes are isolated); clients
//                                      placed `near` a node are cut off with it
//   delay({ from?, to?, ms })          extra latency on messages into replica `to` from `from` ('*' or left out:
//                                      any; an unplaced client counts as any): ms fixed, or a distribution drawn
//                                      per message (constant, uniform, exponential, pareto; the simulator also takes
//                                      mixtures and shifts); ms 0 removes it
//   drop({ from?, to?, probability })  each such message is lost with the probability; 0 removes it
//   clear()                            ends every partition, delay, drop and pause, and starts every node held down

import type { HandoffStatus, MembershipChangeResult } from './host/membership-driver.js';
import type { AeCounters } from '../actors/anti-entropy/index.js';
import type { ReplicaCounters } from '../actors/replica/index.js';
import type { HintCounters } from '../actors/replica/hints.js';
import type { Key } from '../actors/hash.js';
import type { Value } from '../actors/types.js';
import type { ClientCounters, GetOptions, GetResult, Inspection, PutOptions, PutResult } from '../actors/coordinator/results.js';
import type { LatencySummary } from './metrics/latency.js';
import type { ResolvedConfig } from './config.js';
import type { Distribution } from './host/prng.js';

export type ClusterEvent =
  | 'node-up'
  | 'node-suspect'
  | 'node-down'
  | 'node-crashed'
  | 'node-restarted'
  | 'node-given-up'
  | 'node-paused'
  | 'node-resumed';

export interface NodeEvent {
  node: number;
  atMs: number;
  reason?: string;
}


export interface ReplicaStats {
  node: number;
  replicaId: string;
  counters: ReplicaCounters;
  pendingPuts: number;
  paused: boolean;
  hints: { keys: number; bytes: number; owners: number[] } & HintCounters;
  messagesIn: number;
  batchesIn: number;
  messagesOut: number;
  batchesOut: number;
  store: { keys: number; liveBytes: number; arenaBytes: number; compactions: number };
  /** anti-entropy counters, last complete repair, rebuild state */
  ae: AeStats;
}

export interface AeStats extends AeCounters {
  lastRepairMs: number | null;
  inFlight: number;
  rebuilding: boolean;
  rebuilds: number;
  lastRebuild: RebuildStats | null;
  tombstones: number;
  confirmedTombstones: number;
  ranges: number;
}

export interface RebuildStats {
  keys: number;
  batches: number;
  segments: number;
  failedBatches: number;
  /** time spent indexing keys (this thread), and in all */
  indexMs: number;
  durationMs: number;
}

export interface NodeMetrics extends ReplicaStats {
  status: 'up' | 'suspect' | 'down';
  mailboxDepth: number;
  restarts: number;
  /** true when the worker could not be asked (down): the counters are the last ones it reported */
  stale: boolean;
  /** the node left the ring (removeNode): down for good, its counters are its last */
  left?: boolean;
}

export interface ClusterMetrics {
  /** one entry per node; a node whose worker is down reports its last known counters with `stale: true` */
  nodes: NodeMetrics[];
  client: ClientCounters & { readLatency: LatencySummary; writeLatency: LatencySummary };
  /** the ring's epoch and membership changes (handoff progress and what changes moved) */
  membership?: MembershipMetrics;
  /** what the design note's monitoring table asks for, derived from the counters (rates are per second since start) */
  watch: {
    uptimeMs: number;
    /** read repairs per second (high: replicas diverge) */
    readRepairRate: number;
    /** pending hints, all nodes (growing: a node is in trouble) */
    hintQueueKeys: number;
    /** coordinated writes that met W, over those finished (below 1: availability trouble) */
    quorumSuccessRate: number;
    /** this client's read latency p99, microseconds */
    readLatencyUsP99: number;
    /** reads that returned siblings (concurrent writes) */
    versionConflicts: number;
    /** deepest replica mailbox now */
    maxMailboxDepth: number;
    restarts: number;
    /** longest time since any node's last complete anti-entropy round (ms; since start when none) */
    maxRepairAgeMs: number;
  };
  totals: {
    puts: number;
    putsOk: number;
    putsFailed: number;
    gets: number;
    replicates: number;
    readRepairs: number;
    hintedWrites: number;
    hintsQueued: number;
    hintsDelivered: number;
    hintsExpired: number;
    hintsDropped: number;
    hintQueueKeys: number;
    /** anti-entropy: exchanges completed, clocks merged from peers, bytes moved, tombstones reaped */
    aeExchanges: number;
    aeKeysRepaired: number;
    aeBytesMoved: number;
    tombstonesReaped: number;
    restarts: number;
    keys: number;
  };
}

/** What one anti-entropy round did (cluster.repair()). */
export interface RepairResult {
  /** distinct ranges (replica sets) compared */
  ranges: number;
  /** exchanges completed, failed (timeout, peer busy rebuilding), skipped (peer down) */
  exchanges: number;
  failed: number;
  skipped: number;
  /** nodes not asked to initiate because they were down or paused */
  skippedNodes: number[];
  /** leaf hashes compared, and segments whose key lists were exchanged because they differed */
  segmentsCompared: number;
  segmentsExchanged: number;
  nodesCompared: number;
  /** clocks sent between replicas, both directions */
  keysSent: number;
  /** estimated wire bytes: hashes, key lists, keys and encoded clocks */
  bytesMoved: number;
  durationMs: number;
  /**
   * tombstones reaped cluster-wide since the previous repair() returned (since start for the first): a round only
   * confirms that every replica holds a tombstone; the reap follows on a later tick, tombstoneGraceMs after that
   */
  tombstonesReaped: number;
}

export interface HealthReport {
  ok: boolean;
  /**
   * per node: whether it is reachable (up, worker running, not paused), its hint queue, its mailbox, and when it last
   * completed an anti-entropy exchange with every peer of every range (null: never) and how long ago
   */
  nodes: Array<{
    node: number;
    reachable: boolean;
    status: 'up' | 'suspect' | 'down';
    hintQueueKeys: number;
    mailboxDepth: number;
    lastRepairMs: number | null;
    repairAgeMs: number;
    overdue: boolean;
  }>;
  /** one sentence per threshold crossed */
  alerts: string[];
}

export interface HealthOptions {
  /** repair age past which a node is flagged (default config antiEntropy.maxRepairAgeMs) */
  maxRepairAgeMs?: number;
  /** hints queued on one node past which it is flagged (default 10000) */
  maxHintQueueKeys?: number;
  /** mailbox fill past which a node is flagged, as a share of mailboxCapacity (default 0.8) */
  maxMailboxFill?: number;
}

export interface SettleResult {
  /** hint keys still queued (for owners still down, or undeliverable in the time given) */
  hintsPending: number;
  durationMs: number;
  /** false when settle() returned at its timeout with work left (deliverable hints, a busy mailbox, a node catching up) */
  settled: boolean;
}

/** Which messages a delay or drop applies to: into replica `to` from `from` ('*' or left out: any). */
export interface LinkSpec {
  from?: number | '*';
  to?: number | '*';
}

export interface KillOptions {
  /** it comes back with an empty store under a new DVV id (a replaced disk); default false */
  wipe?: boolean;
  /** the supervisor does not restart it: it stays down until faults.restart(node); default false */
  stayDown?: boolean;
}

/** Fault injection, the same in every runtime (see the top of this file). */
export interface Faults {
  kill(node: number, options?: KillOptions): Promise<void>;
  /** kill(node, { wipe }): kept for code written before kill took options */
  crash(node: number, options?: { wipe?: boolean }): Promise<void>;
  restart(node: number): Promise<void>;
  pause(node: number): Promise<void>;
  resume(node: number): Promise<void>;
  partition(groups: number[][]): void;
  heal(): void;
  delay(spec: LinkSpec & { ms: number | Distribution }): void;
  drop(spec: LinkSpec & { probability: number }): void;
  clear(): Promise<void>;
}

/** What a client can do, in any runtime and from any thread that has one. */
export interface LeaderlessClient {
  get(key: Key, options?: GetOptions): Promise<GetResult>;
  put(key: Key, value: Value, options?: PutOptions): Promise<PutResult>;
  delete(key: Key, options?: PutOptions): Promise<PutResult>;
  /** what replica `node` holds for `key`, read without a message (undefined: nothing) */
  inspect(node: number, key: Key): Inspection | undefined;
  /** how the cluster sees a node now */
  nodeStatus(node: number): 'up' | 'suspect' | 'down';
  latency(): { read: LatencySummary; write: LatencySummary };
  readonly counters: ClientCounters;
  /** operations this client has pending */
  readonly inFlight: number;
  /** detaches this client: its pending operations fail with STOPPED */
  close(): void;
}

/** A running cluster, in either runtime. */
export interface LeaderlessCluster extends LeaderlessClient {
  readonly runtime: 'threads' | 'sim' | 'nats';
  readonly config: ResolvedConfig;
  readonly faults: Faults;
  /** another client, e.g. placed beside a replica so that partitions cut it off with that replica */
  client(options?: { near?: number }): Promise<LeaderlessClient>;
  /** lets `ms` pass in the runtime's time (real time in threads, virtual time in the simulator) */
  sleep(ms: number): Promise<void>;
  /** the key's N primary replicas, in preference order (the first coordinates its writes) */
  replicasOf(key: Key): number[];
  /** the runtime's clock, ms (wall clock in threads, virtual time since start in the simulator) */
  readonly nowMs: number;
  /** waits until hinted handoff has drained and no message is pending, or timeoutMs passes */
  settle(timeoutMs?: number): Promise<SettleResult>;
  /** one full anti-entropy round, node by node */
  repair(timeoutMs?: number): Promise<RepairResult>;
  health(options?: HealthOptions): Promise<HealthReport>;
  metrics(): Promise<ClusterMetrics>;
  /** metrics() in Prometheus text exposition format */
  metricsText(): Promise<string>;
  on(event: ClusterEvent, listener: (e: NodeEvent) => void): this;
  off(event: ClusterEvent, listener: (e: NodeEvent) => void): this;
  /** the next event of this kind for `node`; rejects with TIMEOUT after timeoutMs (in the runtime's time) */
  waitFor(event: ClusterEvent, node: number, timeoutMs?: number): Promise<NodeEvent>;
  /**
   * A node joins (elastic membership): the ring is planned anew, the ranges it takes are streamed to it from their
   * old owners while writes go to both, and it serves them once each is handed off. Resolves when the change is done.
   */
  addNode(options?: { datacenter?: string; rack?: string }): Promise<MembershipChangeResult>;
  /** A node leaves: its ranges are handed off to the nodes that take them, its hints drain, then it stops for good. */
  removeNode(node: number): Promise<MembershipChangeResult>;
  /** A new node takes a (possibly dead) node's place: its ranges are rebuilt from the surviving replicas. */
  replaceNode(node: number): Promise<MembershipChangeResult>;
  /** the ring now: its epoch, members, nodes that left, and the change in progress (null when none) */
  membership(): MembershipInfo;
  /** ends the cluster: pending operations fail with STOPPED, later calls throw STOPPED; idempotent */
  stop(): Promise<void>;
}

/** The membership part of metrics() (Prometheus: leaderless_ring_*, leaderless_membership_*). */
export interface MembershipMetrics {
  epoch: number;
  /** nodes on the ring, and nodes that left it */
  members: number;
  left: number;
  changesCompleted: number;
  /** 1 while a change runs */
  changeInProgress: number;
  /** of the change in progress: moving ranges not handed off yet, streams not done, ms since a stream last progressed */
  rangesPending: number;
  streamsPending: number;
  stalledMs: number;
  /** keys and estimated bytes streamed to gaining replicas, every change so far (the one in progress included) */
  keysMoved: number;
  bytesMoved: number;
}

export interface MembershipInfo {
  epoch: number;
  /** node ids on the ring */
  members: number[];
  /** node ids that left (ids are never reused) */
  left: number[];
  inProgress: HandoffStatus | null;
  /** every change done, oldest first */
  changes: readonly MembershipChangeResult[];
}
