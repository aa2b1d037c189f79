// The deterministic simulated runtime's public entry: SimCluster.start({ ...ClusterOptions, seed, latency, ... })
// gives the same surface as the thread runtime's Cluster (get / put / delete / inspect / nodeStatus / client / faults
// / metrics / counters / stop), with every replica actor from actors/ running in this thread on virtual time.
//
// The same seed and the same application code give the same event order: traceDigest() prints a 64-bit digest of
// every event processed, to check that byte for byte. Virtual time moves only while the application waits on an
// operation (or on sleep / settle); see runtime/sim/world.ts for the pump.
//
// Faults (cluster.faults), a superset of the thread runtime's:
//   partition(groups) / heal()            cut the replicas into groups (unlisted nodes isolated) / end every cut
//   kill(node)                            the actor stops (store kept, node down at once); restart(node) brings it back
//   crash(node, { wipe })                 kill, and with wipe the store is lost: it comes back with a new DVV id
//   pause(node) / resume(node)            the node stops handling messages and ticks; what arrives is buffered
//   delay(node, ms | distribution | null) extra latency on every message to or from the node (null removes it)
//   drop(probability, node?)              lose messages to or from the node (every node when none is given)
//   clear()                               ends every fault: heal, no delays or drops, resume, restart every node

import { InvalidArgumentError, InvalidConfigError, show } from '../../actors/errors.js';
import { CLIENT_BASE } from '../../actors/protocol.js';
import { Ring } from '../../actors/ring.js';
import type { ReplicaCounters } from '../../actors/replica.js';
import type { HintCounters } from '../../actors/hints.js';
import type { StoreStats } from '../store.js';
import { checkOptionsObject, resolveConfig, type ClusterOptions } from '../config.js';
import { checkProbability, type NetworkCounters, type NetworkOptions } from './network.js';
import { checkDistribution, type Distribution } from './prng.js';
import type { ClusterMetrics, RepairResult } from '../cluster.js';
import { SimClient } from './sim-client.js';
import { CLIENT_KEYS, checkCrashOptions, checkOptions } from '../client-core.js';
import { BLANK_REPLICA, SimWorld, addCounters, type Tracer, type WorldCounters } from './world.js';

export interface SimOptions extends ClusterOptions, NetworkOptions {
  /** the run's seed, a uint32 (default 1) */
  seed?: number;
  /** accepted for Cluster.start({ runtime: 'sim' }) compatibility; must be 'sim' when given */
  runtime?: 'sim';
  /** consistency-ONE reads straight from a replica's store, as the thread runtime does (default false) */
  localReads?: boolean;
  /** bound on events in flight in the simulator (default 2^20); a message beyond it is lost and counted */
  maxQueuedEvents?: number;
}

const SIM_KEYS = [
  'seed', 'runtime', 'localReads', 'maxQueuedEvents', 'latency', 'latencyByType', 'interDcLatency', 'dropProbability',
  'duplicateProbability', 'duplicateTypes',
] as const;

/** Most clients one simulated cluster may have (each is an address and a place in every tick). */
export const MAX_CLIENTS = 4096;
/** Longest single sleep or settle, in virtual ms. */
export const MAX_WAIT_MS = 3_600_000;

export interface SimCounters extends WorldCounters, NetworkCounters {
  nowMs: number;
  queued: number;
  queueOverflows: number;
}

/** One node's counters, in the thread runtime's ReplicaStats shape where the two agree (one batch per message). */
export interface SimNodeMetrics {
  node: number;
  replicaId: string;
  status: 'up' | 'suspect' | 'down';
  paused: boolean;
  counters: ReplicaCounters;
  pendingPuts: number;
  hints: { keys: number; bytes: number; owners: number[] } & HintCounters;
  messagesIn: number;
  messagesOut: number;
  mailboxDepth: number;
  wipes: number;
  store: StoreStats;
}

export interface SimMetrics {
  nodes: SimNodeMetrics[];
  client: SimClient['counters'];
  /** the thread runtime's totals that the simulator has too, under the same names (the harness reads them by name) */
  totals: Pick<
    ClusterMetrics['totals'],
    | 'puts'
    | 'putsOk'
    | 'putsFailed'
    | 'gets'
    | 'replicates'
    | 'readRepairs'
    | 'hintedWrites'
    | 'hintsQueued'
    | 'hintsDelivered'
    | 'aeKeysRepaired'
    | 'tombstonesReaped'
    | 'keys'
  >;
  sim: SimCounters;
}

export class SimCluster extends SimClient {
  private nextClient = 1;
  private stopped = false;
  /** tombstones reaped when the previous repair() returned: what the next round reports is counted from here */
  private reapedAtLastRepair = 0;

  private constructor(
    world: SimWorld,
    ring: Ring,
    private readonly localReadsDefault: boolean,
  ) {
    super(world, ring, CLIENT_BASE, -1, localReadsDefault);
  }

  static async start(options: SimOptions = {}): Promise<SimCluster> {
    return SimCluster.create(options);
  }

  /** start() without the promise: the simulated cluster needs no thread, so it exists at once. */
  static create(options: SimOptions = {}): SimCluster {
    checkOptionsObject(options);
    const clusterOptions: Record<string, unknown> = { ...options };
    for (const k of SIM_KEYS) delete clusterOptions[k];
    const config = resolveConfig(clusterOptions as ClusterOptions);
    if (options.runtime !== undefined && options.runtime !== 'sim') {
      throw new InvalidConfigError(`SimCluster runs runtime 'sim' only; got runtime ${show(options.runtime)}`);
    }
    const seed = options.seed ?? 1;
    if (typeof options.localReads !== 'undefined' && typeof options.localReads !== 'boolean') {
      throw new InvalidConfigError('localReads must be true or false');
    }
    const world = new SimWorld(config, { ...options, seed });
    const ring = new Ring({ nodes: config.nodes, vnodes: config.vnodes, replication: config.replication });
    return new SimCluster(world, ring, options.localReads ?? false);
  }

  /** Another client, e.g. placed beside a replica for partition experiments (Jepsen style). */
  async client(options: { near?: number } = {}): Promise<SimClient> {
    this.checkOpen();
    checkOptions(options, CLIENT_KEYS, 'client');
    const near = options.near ?? -1;
    if (near !== -1) this.checkNode(near);
    if (this.nextClient > MAX_CLIENTS) {
      throw new InvalidArgumentError(`a simulated cluster has at most ${MAX_CLIENTS} clients (MAX_CLIENTS)`);
    }
    return new SimClient(this.world, this.ring, CLIENT_BASE + this.nextClient++, near, this.localReadsDefault);
  }

  /** Virtual time, ms since start. */
  get nowMs(): number {
    return this.world.nowMs;
  }

  /** Hex digest of every event processed so far: equal for equal seeds and code, byte for byte. */
  traceDigest(): string {
    return this.world.digest.hex();
  }

  /** Lets `ms` of virtual time pass (the application thinking), processing whatever falls due meanwhile. */
  sleep(ms: number): Promise<boolean> {
    this.checkOpen();
    checkWait(ms, 'sleep');
    return this.world.sleep(ms);
  }

  /**
   * Runs until no message is in flight, no client operation is pending and no replica holds a hint for an owner that
   * is up (true), or maxMs of virtual time has passed (false). Messages buffered at a paused node wait for resume()
   * and do not count as in flight.
   */
  settle(maxMs = 60_000): Promise<boolean> {
    this.checkOpen();
    checkWait(maxMs, 'settle');
    return this.world.settle(maxMs);
  }

  /**
   * One full anti-entropy round, as the thread runtime's repair(): node by node (so two exchanges over the same keys do
   * not race), each node that is up exchanges trees with every peer above it in every range they share. Virtual time
   * passes while it runs; a round that has not finished after maxMs of it is left running and counted as failed.
   */
  async repair(maxMs = 60_000): Promise<RepairResult> {
    this.checkOpen();
    checkWait(maxMs, 'repair');
    const startMs = this.world.nowMs;
    const total: RepairResult = {
      ranges: 0, exchanges: 0, failed: 0, skipped: 0, skippedNodes: [], segmentsCompared: 0, segmentsExchanged: 0,
      nodesCompared: 0, keysSent: 0, bytesMoved: 0, durationMs: 0, tombstonesReaped: 0,
    };
    const reaped = (): number => this.world.nodes.reduce((a, n) => a + (n.replica?.antiEntropy?.counters.tombstonesReaped ?? 0), 0);
    const ranges = new Set<string>();
    for (const n of this.world.nodes) {
      const id = this.world.startRepair(n.node);
      if (id === undefined) {
        total.skippedNodes.push(n.node);
        continue;
      }
      const deadline = this.world.nowMs + maxMs;
      let r = this.world.repairResult(n.node, id);
      while (r === undefined && this.world.nowMs < deadline && n.replica !== null) {
        await this.world.sleep(this.config.tickMs);
        r = this.world.repairResult(n.node, id);
      }
      if (r === undefined) {
        total.failed++;
        continue;
      }
      for (const rid of r.rangeIds) ranges.add(rid);
      for (const k of ['exchanges', 'failed', 'skipped', 'segmentsCompared', 'segmentsExchanged', 'nodesCompared', 'keysSent', 'bytesMoved'] as const) {
        total[k] += r[k];
      }
    }
    total.ranges = ranges.size;
    // reaps run on ticks a grace period after a round confirmed them: count those since the previous round returned
    total.tombstonesReaped = Math.max(0, reaped() - this.reapedAtLastRepair);
    this.reapedAtLastRepair = reaped();
    total.durationMs = this.world.nowMs - startMs;
    return total;
  }

  get simCounters(): SimCounters {
    const w = this.world;
    return {
      ...w.counters,
      ...w.network.counters,
      nowMs: w.nowMs,
      queued: w.queue.size,
      queueOverflows: w.queue.overflows,
    };
  }

  /** Calls `tracer` on every message event from now on (null stops): for reading a replayed seed's run. */
  trace(tracer: Tracer | null): void {
    if (tracer !== null && typeof tracer !== 'function') throw new InvalidArgumentError('trace takes a function or null');
    this.world.tracer = tracer;
  }

  /** The DVV id a replica currently writes under ("3", or "3.1" after one wipe). */
  replicaId(node: number): string {
    this.checkNode(node);
    const n = this.world.nodes[node];
    return n.wipes === 0 ? String(node) : `${node}.${n.wipes}`;
  }

  readonly faults = {
    partition: (groups: number[][]): void => {
      this.checkOpen();
      if (!Array.isArray(groups)) throw new InvalidArgumentError('partition takes an array of node arrays, e.g. [[0, 1], [2, 3, 4]]');
      const seen = new Set<number>();
      for (const g of groups) {
        if (!Array.isArray(g)) throw new InvalidArgumentError('partition takes an array of node arrays, e.g. [[0, 1], [2, 3, 4]]');
        for (const node of g) {
          this.checkNode(node);
          if (seen.has(node)) throw new InvalidArgumentError(`node ${node} is in two partition groups`);
          seen.add(node);
        }
      }
      this.world.network.partition(groups);
    },
    heal: (): void => {
      this.checkOpen();
      this.world.network.heal();
    },
    kill: async (node: number): Promise<void> => {
      this.checkOpen();
      this.checkNode(node);
      this.world.kill(node, false);
    },
    crash: (node: number, options: { wipe?: boolean } = {}): void => {
      this.checkOpen();
      this.checkNode(node);
      checkCrashOptions(options);
      this.world.kill(node, options.wipe === true);
    },
    restart: (node: number): void => {
      this.checkOpen();
      this.checkNode(node);
      this.world.restart(node);
    },
    pause: (node: number): void => {
      this.checkOpen();
      this.checkNode(node);
      this.world.pause(node);
    },
    resume: (node: number): void => {
      this.checkOpen();
      this.checkNode(node);
      this.world.resume(node);
    },
    delay: (node: number, extra: number | Distribution | null): void => {
      this.checkOpen();
      this.checkNode(node);
      // a bad delay is this call's argument, not the cluster's configuration: INVALID_ARGUMENT
      const d = extra === null ? null : asArgument(() => checkDistribution(typeof extra === 'number' ? { kind: 'constant', ms: extra } : extra, 'delay'));
      this.world.network.setDelay(node, d);
    },
    drop: (probability: number, node?: number): void => {
      this.checkOpen();
      checkProbability(probability, 'drop probability');
      if (node !== undefined) this.checkNode(node);
      for (let n = 0; n < this.config.nodes.length; n++) if (node === undefined || n === node) this.world.network.setDrop(n, probability);
    },
    clear: (): void => {
      this.checkOpen();
      this.world.network.clearFaults();
      for (let n = 0; n < this.config.nodes.length; n++) {
        this.world.resume(n);
        this.world.restart(n);
      }
    },
  };

  /** Counters per node, for this client, and the simulator's own. */
  async metrics(): Promise<SimMetrics> {
    this.checkOpen();
    const nodes = this.world.nodes.map((n) => {
      const counters = { ...n.past };
      if (n.replica !== null) addCounters(counters, n.replica.counters);
      const hints = (n.replica ?? BLANK_REPLICA).hints;
      const owners = hints.owners();
      return {
        node: n.node,
        replicaId: this.replicaId(n.node),
        counters,
        pendingPuts: n.replica?.pendingPuts ?? 0,
        paused: n.paused,
        hints: {
          keys: owners.reduce((a, o) => a + hints.size(o), 0),
          bytes: owners.reduce((a, o) => a + hints.bytes(o), 0),
          owners,
          ...hints.counters,
        },
        messagesIn: n.messagesIn,
        messagesOut: n.messagesOut,
        wipes: n.wipes,
        store: n.store.stats(),
        status: n.status,
        mailboxDepth: this.world.network.inFlightTo[n.node] + n.inbox.length,
      };
    });
    const sum = (f: (c: (typeof nodes)[number]) => number): number => nodes.reduce((a, s) => a + f(s), 0);
    return {
      nodes,
      client: { ...this.counters },
      totals: {
        puts: sum((s) => s.counters.puts),
        putsOk: sum((s) => s.counters.putsOk),
        putsFailed: sum((s) => s.counters.putsFailed),
        gets: sum((s) => s.counters.gets),
        replicates: sum((s) => s.counters.replicates),
        readRepairs: sum((s) => s.counters.repairs),
        hintedWrites: sum((s) => s.counters.hintedWrites),
        hintsQueued: sum((s) => s.hints.queued),
        hintsDelivered: sum((s) => s.hints.delivered),
        aeKeysRepaired: this.world.nodes.reduce((a, n) => a + (n.replica?.antiEntropy?.counters.keysRepaired ?? 0), 0),
        tombstonesReaped: this.world.nodes.reduce((a, n) => a + (n.replica?.antiEntropy?.counters.tombstonesReaped ?? 0), 0),
        keys: sum((s) => s.store.keys),
      },
      sim: this.simCounters,
    };
  }

  /** Pending operations fail with STOPPED; later calls throw STOPPED. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.world.stop();
  }
}

/** Runs a check that throws INVALID_CONFIG and rethrows its error as INVALID_ARGUMENT (for a call's argument). */
function asArgument<T>(check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof InvalidConfigError) throw new InvalidArgumentError(e.message, e.details);
    throw e;
  }
}

function checkWait(ms: unknown, what: string): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_WAIT_MS) {
    throw new InvalidArgumentError(`${what} takes a number of virtual ms from 0 to ${MAX_WAIT_MS}; got ${show(ms)}`);
  }
}
