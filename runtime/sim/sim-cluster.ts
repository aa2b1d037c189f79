// The deterministic simulated runtime's public entry: SimCluster.start({ ...ClusterOptions, seed, latency, ... })
// gives the same surface as the thread runtime's Cluster (get / put / delete / inspect / nodeStatus / client / faults
// / metrics / counters / stop), with every replica actor from actors/ running in this thread on virtual time.
//
// The same seed and the same application code give the same event order: traceDigest() prints a 64-bit digest of
// every event processed, to check that byte for byte. Virtual time moves only while the application waits on an
// operation (or on sleep / settle); see runtime/sim/world.ts for the pump.
//
// Faults (cluster.faults): the vocabulary of runtime/api.ts, with the same meaning as in the thread runtime. The
// simulator's failure detector is perfect (a killed node is down at once); its supervisor restarts a killed node after
// restart.delayMs of virtual time under the same restart policy (actors/supervision.ts). A delay may also be given as
// a distribution (`{ ms: { kind: 'exponential', meanMs: 5 } }`), which the thread runtime does not take.

import { EventEmitter } from 'node:events';
import { InvalidArgumentError, InvalidConfigError, StoppedError, show } from '../../actors/errors.js';
import { RestartPolicy } from '../../actors/supervision.js';
import { hash32, type Key } from '../../actors/hash.js';
import { CLIENT_BASE } from '../../actors/protocol.js';
import type { Ring } from '../../actors/ring.js';
import { checkOptionsObject, resolveConfig, type ClusterOptions, type ResolvedConfig } from '../config.js';
import type { NetworkOptions } from './network.js';
import { checkDistribution } from '../host/prng.js';
import type { ClusterEvent, ClusterMetrics, Faults, HealthOptions, HealthReport, LeaderlessCluster, MembershipInfo, NodeEvent, NodeMetrics, RepairResult, SettleResult } from '../api.js';
import { addRound, checkRepairTimeout, clusterMetrics, emptyRepairResult, healthBounds, healthReport } from '../host/cluster-stats.js';
import { awaitEvent, checkEvent, checkListener, checkWaitTimeout } from '../host/events.js';
import { checkDelayMs, checkDropProbability, checkGroups, checkKillOptions, linksOf } from '../host/faults.js';
import { metricsText } from '../metrics/index.js';
import { SimClient } from './sim-client.js';
import { CLIENT_KEYS, checkKey, checkNode, checkOptions } from '../../actors/coordinator/checks.js';
import type { ClientCounters, GetOptions, GetResult, Inspection, PutOptions, PutResult } from '../../actors/coordinator/results.js';
import type { Value } from '../../actors/types.js';
import type { LatencySummary } from '../metrics/latency.js';
import { SimWorld, type Tracer } from './world.js';
import { MembershipDriver, type MembershipChangeResult } from '../host/membership-driver.js';
import { joinChange, membershipInfo, membershipMetrics } from '../host/membership.js';
import { SimMembershipPort } from './sim-membership.js';
import { simCountersOf, simNodeMetrics, type SimCounters } from './sim-stats.js';

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

export type { SimCounters } from './sim-stats.js';

/** metrics() of the simulator: the thread runtime's ClusterMetrics, plus the simulator's own counters. */
export interface SimMetrics extends ClusterMetrics {
  sim: SimCounters;
}

export class SimCluster implements LeaderlessCluster {
  readonly runtime = 'sim' as const;
  private nextClient = 1;
  private stopped = false;
  private readonly events = new EventEmitter();
  private readonly policy: RestartPolicy;
  private readonly restartCounts: number[];
  /** nodes killed with stayDown or given up on: the supervisor does not restart them */
  private readonly heldDown = new Set<number>();
  /** nodes the supervisor will restart once restart.delayMs has passed */
  private readonly restarting = new Set<number>();
  /** tombstones reaped when the previous repair() returned: what the next round reports is counted from here */
  private reapedAtLastRepair = 0;

  /** the cluster's own client (composition: a cluster has a client, at address CLIENT_BASE, placed near no node) */
  private readonly own: SimClient;
  readonly config: ResolvedConfig;

  private constructor(
    private readonly world: SimWorld,
    private readonly localReadsDefault: boolean,
  ) {
    this.own = new SimClient(world, world.base.ring, CLIENT_BASE, -1, localReadsDefault);
    this.config = world.config;
    this.policy = new RestartPolicy(world.config.restart, world.config.maxNodes);
    this.restartCounts = new Array<number>(world.config.maxNodes).fill(0);
    this.port = new SimMembershipPort(world, {
      clients: () => [...world.hosts.values()] as SimClient[],
      started: (node) => this.emit('node-up', node),
      retired: (node) => {
        this.heldDown.add(node);
        this.restarting.delete(node);
        this.emit('node-down', node);
      },
      stopped: () => this.stopped || world.stopped,
    });
    this.driver = new MembershipDriver(world.base, this.port, { pollMs: world.config.tickMs, maxStreamsPerNode: world.config.handoff.maxStreamsPerNode, maxNodes: world.config.maxNodes, beginGraceMs: 2 * world.config.tickMs });
  }

  private readonly port: SimMembershipPort;
  private readonly driver: MembershipDriver;

  // ------------------------------------------------------------------------------------------ the cluster's client

  get(key: Key, options?: GetOptions): Promise<GetResult> {
    return this.own.get(key, options);
  }

  put(key: Key, value: Value, options?: PutOptions): Promise<PutResult> {
    return this.own.put(key, value, options);
  }

  delete(key: Key, options?: PutOptions): Promise<PutResult> {
    return this.own.delete(key, options);
  }

  inspect(node: number, key: Key): Inspection | undefined {
    return this.own.inspect(node, key);
  }

  nodeStatus(node: number): 'up' | 'suspect' | 'down' {
    return this.own.nodeStatus(node);
  }

  latency(): { read: LatencySummary; write: LatencySummary } {
    return this.own.latency();
  }

  get counters(): ClientCounters {
    return this.own.counters;
  }

  get inFlight(): number {
    return this.own.inFlight;
  }

  /** The placement ring (which replicas hold a key). */
  get ring(): Ring {
    return this.own.ring;
  }

  /** Detaches the cluster's own client (its pending operations fail with STOPPED); the simulation goes on. */
  close(): void {
    this.own.close();
  }

  private checkNode(node: unknown): asserts node is number {
    checkNode(node, this.world.nodes.length);
  }

  /** A node that left the ring cannot be restarted, paused, killed, partitioned or placed beside again. */
  private checkMemberNode(node: unknown): asserts node is number {
    this.checkNode(node);
    if (this.world.nodes[node].left) {
      throw new InvalidArgumentError(`node ${node} has left the ring (removeNode): it never runs again; ids are not reused`, { node });
    }
  }

  private checkKey(key: Key): string {
    return checkKey(key, this.config.maxKeyBytes);
  }

  private checkOpen(): void {
    if (this.stopped || this.world.stopped) throw this.world.crashed ?? new StoppedError();
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
    return new SimCluster(world, options.localReads ?? false);
  }

  /** Another client, e.g. placed beside a replica for partition experiments (Jepsen style). */
  async client(options: { near?: number } = {}): Promise<SimClient> {
    this.checkOpen();
    checkOptions(options, CLIENT_KEYS, 'client');
    const near = options.near ?? -1;
    if (near !== -1) this.checkMemberNode(near);
    if (this.nextClient > MAX_CLIENTS) {
      throw new InvalidArgumentError(`a simulated cluster has at most ${MAX_CLIENTS} clients (MAX_CLIENTS)`);
    }
    const c = new SimClient(this.world, this.world.base.ring, CLIENT_BASE + this.nextClient++, near, this.localReadsDefault);
    if (this.port.clientSnapshot.changes.length > 0) c.setMembership(this.port.clientSnapshot);
    return c;
  }

  /** The key's N primary replicas, in preference order (the first coordinates its writes). */
  replicasOf(key: Key): number[] {
    return [...this.ring.preferenceList(hash32(this.checkKey(key)))];
  }

  /** Hex digest of every event processed so far: equal for equal seeds and code, byte for byte. */
  traceDigest(): string {
    return this.world.digest.hex();
  }

  /** Lets `ms` of virtual time pass (the application thinking), processing whatever falls due meanwhile. */
  async sleep(ms: number): Promise<void> {
    this.checkOpen();
    checkWait(ms, 'sleep');
    await this.world.sleep(ms);
  }

  /**
   * Runs until no message is in flight, no client operation is pending and no replica holds a hint for an owner that
   * is up (settled), or timeoutMs of virtual time has passed (not settled). Messages buffered at a paused node wait
   * for resume() and do not count as in flight.
   */
  async settle(timeoutMs = 60_000): Promise<SettleResult> {
    this.checkOpen();
    checkWait(timeoutMs, 'settle');
    const start = this.world.nowMs;
    // a node the supervisor is about to restart comes back and takes its hints: wait for it first, as threads do
    while (this.restarting.size > 0 && this.world.nowMs - start < timeoutMs) await this.world.sleep(this.config.tickMs);
    const left = Math.max(0, timeoutMs - (this.world.nowMs - start));
    const settled = this.restarting.size === 0 && (await this.world.settle(left));
    return { settled, durationMs: this.world.nowMs - start, hintsPending: this.hintKeys() };
  }

  private hintKeys(): number {
    let keys = 0;
    for (const n of this.world.nodes) if (n.replica !== null) for (const o of n.replica.hints.owners()) keys += n.replica.hints.size(o);
    return keys;
  }

  /**
   * One full anti-entropy round, as the thread runtime's repair(): node by node (so two exchanges over the same keys do
   * not race), each node that is up exchanges trees with every peer above it in every range they share. Virtual time
   * passes while it runs; a node's round that has not finished within timeoutMs is left running and counted as failed.
   */
  async repair(timeoutMs = 60_000): Promise<RepairResult> {
    this.checkOpen();
    checkRepairTimeout(timeoutMs);
    const startMs = this.world.nowMs;
    const total = emptyRepairResult();
    const reaped = (): number => this.world.nodes.reduce((a, n) => a + (n.replica?.antiEntropy?.counters.tombstonesReaped ?? 0), 0);
    const ranges = new Set<string>();
    for (const n of this.world.nodes) {
      const id = this.world.startRepair(n.node);
      if (id === undefined) {
        total.skippedNodes.push(n.node);
        continue;
      }
      const deadline = startMs + timeoutMs;
      let r = this.world.repairResult(n.node, id);
      while (r === undefined && this.world.nowMs < deadline && n.replica !== null) {
        await this.world.sleep(this.config.tickMs);
        r = this.world.repairResult(n.node, id);
      }
      if (r === undefined) total.failed++;
      else addRound(total, r, ranges);
    }
    total.ranges = ranges.size;
    // reaps run on ticks a grace period after a round confirmed them: count those since the previous round returned
    total.tombstonesReaped = Math.max(0, reaped() - this.reapedAtLastRepair);
    this.reapedAtLastRepair = reaped();
    total.durationMs = this.world.nowMs - startMs;
    return total;
  }

  get simCounters(): SimCounters {
    return simCountersOf(this.world);
  }

  /** Calls `tracer` on every message event from now on (null stops): for reading a replayed seed's run. */
  trace(tracer: Tracer | null): void {
    if (tracer !== null && typeof tracer !== 'function') throw new InvalidArgumentError('trace takes a function or null');
    this.world.tracer = tracer;
  }

  /** The DVV id a replica currently writes under ("3", or "3.1" after one wipe). */
  replicaId(node: number): string {
    this.checkNode(node);
    return this.world.nodes[node].replicaId;
  }

  /** Fault injection: the vocabulary of runtime/api.ts, the same in the thread runtime. */
  readonly faults: Faults = {
    kill: async (node, options = {}) => this.kill(node, checkKillOptions(options)),
    crash: async (node, options = {}) => this.kill(node, { ...checkKillOptions(options, 'crash'), stayDown: false }),
    restart: async (node) => {
      this.checkOpen();
      this.checkMemberNode(node);
      this.heldDown.delete(node);
      this.start(node);
    },
    pause: async (node) => {
      this.checkOpen();
      this.checkMemberNode(node);
      const n = this.world.nodes[node];
      if (n.replica === null || n.paused) return;
      this.world.pause(node);
      this.emit('node-paused', node);
    },
    resume: async (node) => {
      this.checkOpen();
      this.checkMemberNode(node);
      if (!this.world.nodes[node].paused) return;
      this.world.resume(node);
      this.emit('node-resumed', node);
    },
    partition: (groups) => {
      this.checkOpen();
      this.world.network.partition(checkGroups(groups, (x) => this.checkMemberNode(x)));
    },
    heal: () => {
      this.checkOpen();
      this.world.network.heal();
    },
    delay: (spec) => {
      this.checkOpen();
      const ms = (spec as { ms?: unknown } | null)?.ms;
      // a number is a fixed delay, as in threads; the simulator also takes a distribution
      const d = typeof ms === 'number' ? (checkDelayMs(ms) === 0 ? null : { kind: 'constant' as const, ms }) : asArgument(() => checkDistribution(ms, 'delay ms'));
      for (const [from, to] of this.linksOf(spec, 'delay', 'ms')) this.world.network.setLinkDelay(from, to, d);
    },
    drop: (spec) => {
      this.checkOpen();
      const p = checkDropProbability(spec?.probability);
      for (const [from, to] of this.linksOf(spec, 'drop', 'probability')) this.world.network.setLinkDrop(from, to, p);
    },
    clear: async () => {
      this.checkOpen();
      this.world.network.clearFaults();
      // synchronously, as every simulator fault: the application's next call sees every node back
      for (let n = 0; n < this.world.nodes.length; n++) {
        if (this.world.nodes[n].left) continue;
        if (this.world.nodes[n].paused) {
          this.world.resume(n);
          this.emit('node-resumed', n);
        }
        this.heldDown.delete(n);
        this.start(n);
      }
    },
  };

  private linksOf(spec: unknown, call: string, valueKey: string): Array<[number, number]> {
    return linksOf(spec, new Set([valueKey]), call, this.world.nodes.length, (x) => this.checkNode(x), this.config.maxNodes);
  }

  /** The actor stops (its store kept, or lost with wipe); the supervisor restarts it after restart.delayMs unless stayDown. */
  private kill(node: number, o: { wipe: boolean; stayDown: boolean }): void {
    this.checkOpen();
    this.checkMemberNode(node);
    const n = this.world.nodes[node];
    const wasUp = n.replica !== null;
    this.world.kill(node, o.wipe);
    if (!wasUp && !o.wipe) return;
    this.emit('node-crashed', node, o.stayDown ? 'killed; held down until faults.restart' : 'killed');
    if (wasUp) this.emit('node-down', node);
    if (o.stayDown) return void this.heldDown.add(node);
    this.heldDown.delete(node);
    const decision = this.policy.crashed(node, this.world.nowMs);
    if (!decision.restart) {
      this.heldDown.add(node);
      return this.emit('node-given-up', node, decision.reason);
    }
    this.restarting.add(node);
    this.world.timer(decision.delayMs, () => {
      this.restarting.delete(node);
      if (!this.heldDown.has(node) && !this.world.stopped) this.start(node, true);
    });
  }

  /** A fresh actor on the node's store (crash recovery); nothing for a node that is up. */
  private start(node: number, counted = false): void {
    if (this.world.nodes[node].replica !== null) return;
    this.world.restart(node);
    if (counted) this.restartCounts[node]++;
    this.emit('node-restarted', node);
    this.emit('node-up', node);
  }

  private emit(event: ClusterEvent, node: number, reason?: string): void {
    const e: NodeEvent = reason === undefined ? { node, atMs: this.world.nowMs } : { node, atMs: this.world.nowMs, reason };
    this.events.emit(event, e);
  }

  on(event: ClusterEvent, listener: (e: NodeEvent) => void): this {
    checkEvent(event);
    checkListener(event, listener);
    this.events.on(event, listener);
    return this;
  }

  off(event: ClusterEvent, listener: (e: NodeEvent) => void): this {
    this.events.off(event, listener);
    return this;
  }

  /** The next event of this kind for `node`; rejects with TIMEOUT after timeoutMs of virtual time. */
  async waitFor(event: ClusterEvent, node: number, timeoutMs = 10_000): Promise<NodeEvent> {
    this.checkOpen();
    checkEvent(event);
    this.checkNode(node);
    checkWaitTimeout(timeoutMs, 'waitFor');
    const timer = (ms: number, fire: () => void): (() => void) => this.world.timer(ms, fire);
    return this.world.track<NodeEvent>((resolve, reject) => awaitEvent(this.events, { event, node, timeoutMs, timer }, resolve, reject));
  }

  /** Virtual time, ms since start. */
  get nowMs(): number {
    return this.world.nowMs;
  }

  async health(options: HealthOptions = {}): Promise<HealthReport> {
    this.checkOpen();
    const bounds = healthBounds(options, this.config.antiEntropy.maxRepairAgeMs);
    return healthReport(await this.metrics(), bounds, this.config.mailboxCapacity, this.world.nowMs, 0, this.driver.status());
  }

  async metricsText(): Promise<string> {
    return metricsText(await this.metrics());
  }

  /** Counters per node, for this client, and the simulator's own. */
  async metrics(): Promise<SimMetrics> {
    this.checkOpen();
    const nodes = this.world.nodes.map((n) => this.nodeMetrics(n.node));
    const restarts = this.restartCounts.reduce((a, b) => a + b, 0);
    const m = clusterMetrics({ nodes, client: this.counters, latency: this.latency(), restarts, nowMs: this.world.nowMs, startedAtMs: 0 });
    return { ...m, membership: membershipMetrics(this.driver), sim: this.simCounters };
  }

  private nodeMetrics(node: number): NodeMetrics {
    return simNodeMetrics(this.world, node, this.restartCounts[node]);
  }


  // ------------------------------------------------------------------------------------------- membership

  async addNode(options?: { datacenter?: string; rack?: string }): Promise<MembershipChangeResult> {
    this.checkOpen();
    return this.driver.run((ring) => joinChange(ring, this.config, options));
  }

  async removeNode(node: number): Promise<MembershipChangeResult> {
    this.checkOpen();
    this.checkNode(node);
    return this.driver.run({ type: 'leave', node });
  }

  async replaceNode(node: number): Promise<MembershipChangeResult> {
    this.checkOpen();
    this.checkNode(node);
    return this.driver.run({ type: 'replace', node });
  }

  membership(): MembershipInfo {
    return membershipInfo(this.driver);
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
