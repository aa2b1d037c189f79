// A cluster served over NATS, seen from any process (Cluster.connect({ nats, cluster })): the embedded cluster's API
// where it can work remotely — get, put, delete (the client, client.ts), metrics, health, settle and repair (control
// calls to every replica on ctl.<node>, control.ts), events (from this client's heartbeat detector) — and a typed
// RemoteUnsupportedError where it cannot: fault injection and membership changes act on processes this client does
// not own, and inspect() would need the replica's memory.

import { InvalidArgumentError } from '../../actors/errors.js';
import { hash32, type Key } from '../../actors/hash.js';
import type { GetOptions, GetResult, Inspection, PutOptions, PutResult, ClientCounters } from '../../actors/coordinator/results.js';
import type { Value } from '../../actors/types.js';
import type {
  ClusterEvent, ClusterMetrics, Faults, HealthOptions, HealthReport, LeaderlessClient, LeaderlessCluster, MembershipInfo, NodeEvent, NodeMetrics,
  RepairResult, ReplicaStats, SettleResult,
} from '../api.js';
import { baseMembership, resolveConfig, type ResolvedConfig } from '../config.js';
import type { MembershipChangeResult } from '../host/membership-driver.js';
import { addRound, checkRepairTimeout, clusterMetrics, emptyAeStats, emptyRepairResult, healthBounds, healthReport } from '../host/cluster-stats.js';
import { awaitEvent, checkEvent, checkListener, checkWaitTimeout } from '../host/events.js';
import { zeroCounters } from '../host/replica-host.js';
import type { LatencySummary } from '../metrics/latency.js';
import { metricsText } from '../metrics/index.js';
import { checkClusterName, connectTo, type NatsEndpoint, Subjects } from './connection.js';
import type { ControlReply, ControlRequest } from './control.js';
import { RemoteUnsupportedError } from './errors.js';
import { NatsClient, nowMs, type LocalStores } from './client.js';
import { discover, endpointOf } from './discovery.js';
import type { RepairRoundResult } from '../host/hash-pool.js';
import type { NodeConnectionOptions } from '@nats-io/transport-node';

export interface ConnectOptions {
  /** nats://host:port, or the server list and credentials (user/pass, token, a .creds file, TLS files) */
  nats: string | NatsEndpoint;
  cluster: string;
  /** how long to wait for a serving process to answer with the cluster's options (ms, default 10000) */
  discoverTimeoutMs?: number;
  /** how long a control call (stats, repair of one node) waits for its replica (ms, default 2000) */
  controlTimeoutMs?: number;
  /** more options for the NATS connection, passed through as they are (this process only) */
  connection?: Partial<NodeConnectionOptions>;
}

const CONNECT_KEYS = new Set(['nats', 'cluster', 'discoverTimeoutMs', 'controlTimeoutMs', 'connection']);

const NOT_OWNED = 'it acts on replicas in processes this client does not own; run it where the cluster is served (leaderless serve), or stop/kill those processes';

function unsupported(call: string): never {
  throw new RemoteUnsupportedError(call, NOT_OWNED);
}

/** The same for a call that returns a promise: it rejects (every promise the API returns settles, none throws). */
function unsupportedAsync(call: string): Promise<never> {
  return Promise.reject(new RemoteUnsupportedError(call, NOT_OWNED));
}

/** Faults act on serving processes, which a remote client does not own: every call throws RemoteUnsupportedError. */
const REMOTE_FAULTS: Faults = {
  kill: () => unsupportedAsync('faults.kill'),
  crash: () => unsupportedAsync('faults.crash'),
  restart: () => unsupportedAsync('faults.restart'),
  pause: () => unsupportedAsync('faults.pause'),
  resume: () => unsupportedAsync('faults.resume'),
  partition: () => unsupported('faults.partition'),
  heal: () => unsupported('faults.heal'),
  delay: () => unsupported('faults.delay'),
  drop: () => unsupported('faults.drop'),
  clear: () => unsupportedAsync('faults.clear'),
};

export class NatsCluster implements LeaderlessCluster {
  readonly runtime = 'nats' as const;
  readonly faults = REMOTE_FAULTS;
  private readonly startedAtMs = nowMs();
  private readonly lastStats: Array<ReplicaStats | undefined>;
  private reapedAtLastRepair = 0;

  private constructor(
    private readonly own: NatsClient,
    private readonly o: ConnectOptions & { endpoint: NatsEndpoint },
  ) {
    this.lastStats = own.config.nodes.map(() => undefined);
  }

  /**
   * Connects to a cluster served over NATS and learns its options (and so its ring) from it. `local`: the stores of
   * the replicas this process serves (NatsServer.client()), read without a message.
   */
  static async connect(options: ConnectOptions, local?: LocalStores): Promise<NatsCluster> {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('Cluster.connect takes { nats, cluster, ... }');
    for (const k of Object.keys(options)) {
      if (!CONNECT_KEYS.has(k)) throw new InvalidArgumentError(`unknown Cluster.connect option ${JSON.stringify(k)}; allowed: ${[...CONNECT_KEYS].join(', ')}`);
    }
    const endpoint = endpointOf(options.nats);
    const subjects = new Subjects(checkClusterName(options.cluster));
    const nc = await connectTo(endpoint, `leaderless-${options.cluster}-client`, options.connection);
    const deadline = nowMs() + (options.discoverTimeoutMs ?? 10_000);
    for (;;) {
      const answer = await discover(nc, subjects, 500);
      if (answer !== undefined) return new NatsCluster(new NatsClient(resolveConfig(answer.options), nc, options.cluster, local), { ...options, endpoint });
      if (nowMs() > deadline) {
        await nc.close();
        throw new InvalidArgumentError(`no serving process of cluster ${JSON.stringify(options.cluster)} answered on ${subjects.config} within ${options.discoverTimeoutMs ?? 10_000} ms; start one with leaderless serve`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  get config(): ResolvedConfig {
    return this.own.config;
  }

  // ------------------------------------------------------------------------------------------ the client

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
  close(): void {
    this.own.close();
  }

  /** Another client: a connection of its own to the same cluster. */
  async client(options: { near?: number } = {}): Promise<LeaderlessClient> {
    if (options.near !== undefined) return unsupportedAsync('client({ near })');
    return NatsCluster.connect({ ...this.o, nats: this.o.endpoint });
  }

  /** What replica `node` holds for `key` (string keys), asked over NATS: undefined when it holds nothing. */
  async inspectRemote(node: number, key: string): Promise<Inspection | undefined> {
    this.own.checkNode(node);
    const r = await this.call(node, { op: 'inspect', key });
    if (r === undefined) throw new InvalidArgumentError(`replica ${node} did not answer (down, stopped or cut off)`);
    return (r as { inspection: Inspection | null }).inspection ?? undefined;
  }

  // ------------------------------------------------------------------------------------------ control calls

  /** A control call; undefined when the replica did not answer within controlTimeoutMs (down, stopped, cut off). */
  private async call(node: number, req: ControlRequest, timeoutMs = this.o.controlTimeoutMs ?? 2000): Promise<ControlReply | undefined> {
    this.own.checkOpen();
    try {
      const msg = await this.own.nc.request(this.own.subjects.control(node), JSON.stringify(req), { timeout: timeoutMs });
      const reply = msg.json<ControlReply>();
      if (!reply.ok) throw new InvalidArgumentError(`replica ${node} refused ${req.op}: ${reply.message}`);
      return reply;
    } catch (e) {
      if (e instanceof InvalidArgumentError) throw e;
      return undefined;
    }
  }

  private async statsOf(node: number): Promise<ReplicaStats | undefined> {
    const r = (await this.call(node, { op: 'stats' })) as { stats: ReplicaStats } | undefined;
    if (r !== undefined) this.lastStats[node] = r.stats;
    return r?.stats;
  }

  private async nodeMetrics(node: number): Promise<NodeMetrics> {
    const status = this.own.detector.status(node);
    const base = { status, mailboxDepth: 0, restarts: 0 } as const;
    const stats = await this.statsOf(node);
    if (stats === undefined) return { ...(this.lastStats[node] ?? emptyStats(node)), ...base, status: 'down', stale: true };
    return { ...stats, ...base, stale: false };
  }

  async metrics(): Promise<ClusterMetrics> {
    this.own.checkOpen();
    const nodes = await Promise.all(this.config.nodes.map((n) => this.nodeMetrics(n.id)));
    return clusterMetrics({ nodes, client: this.counters, latency: this.latency(), restarts: 0, nowMs: nowMs(), startedAtMs: this.startedAtMs });
  }

  async metricsText(): Promise<string> {
    return metricsText(await this.metrics());
  }

  async health(options: HealthOptions = {}): Promise<HealthReport> {
    const bounds = healthBounds(options, this.config.antiEntropy.maxRepairAgeMs);
    return healthReport(await this.metrics(), bounds, this.config.mailboxCapacity, nowMs(), this.startedAtMs);
  }

  /** One anti-entropy round, node by node; nodes down (or not answering) are skipped. */
  async repair(timeoutMs = 60_000): Promise<RepairResult> {
    this.own.checkOpen();
    checkRepairTimeout(timeoutMs);
    const start = nowMs();
    const total = emptyRepairResult();
    const ranges = new Set<string>();
    for (const { id } of this.config.nodes) {
      if (!this.own.detector.isUp(id)) {
        total.skippedNodes.push(id);
        continue;
      }
      const left = Math.max(1, timeoutMs - (nowMs() - start));
      const r = (await this.call(id, { op: 'repair' }, left)) as { round: RepairRoundResult } | undefined;
      if (r === undefined) total.failed++;
      else addRound(total, r.round, ranges);
    }
    total.ranges = ranges.size;
    const reaped = (await this.metrics()).totals.tombstonesReaped;
    total.tombstonesReaped = Math.max(0, reaped - this.reapedAtLastRepair);
    this.reapedAtLastRepair = reaped;
    total.durationMs = nowMs() - start;
    return total;
  }

  /** Waits until every hint for an owner that is up has been delivered (as the stats say), or timeoutMs. */
  async settle(timeoutMs = 10_000): Promise<SettleResult> {
    this.own.checkOpen();
    checkWaitTimeout(timeoutMs, 'settle');
    const start = nowMs();
    for (;;) {
      const stats = (await Promise.all(this.config.nodes.map((n) => this.statsOf(n.id)))).filter((s) => s !== undefined);
      const up = (o: number): boolean => this.own.detector.isUp(o);
      const deliverable = stats.reduce((a, s) => a + s.hints.owners.filter(up).length + s.hints.inFlight, 0);
      const pending = stats.reduce((a, s) => a + s.hints.keys, 0);
      const waited = nowMs() - start;
      if (deliverable === 0 || waited > timeoutMs) return { hintsPending: pending, durationMs: waited, settled: deliverable === 0 };
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  // ------------------------------------------------------------------------------------------ events, ring, time

  on(event: ClusterEvent, listener: (e: NodeEvent) => void): this {
    checkEvent(event);
    checkListener(event, listener);
    this.own.events.on(event, listener);
    return this;
  }
  off(event: ClusterEvent, listener: (e: NodeEvent) => void): this {
    this.own.events.off(event, listener);
    return this;
  }
  waitFor(event: ClusterEvent, node: number, timeoutMs = 10_000): Promise<NodeEvent> {
    checkEvent(event);
    this.own.nodeStatus(node);
    checkWaitTimeout(timeoutMs, 'waitFor');
    const timer = (ms: number, fire: () => void): (() => void) => {
      const t = setTimeout(fire, ms);
      return () => clearTimeout(t);
    };
    return new Promise((resolve, reject) => awaitEvent(this.own.events, { event, node, timeoutMs, timer }, resolve, reject));
  }
  replicasOf(key: Key): number[] {
    return [...this.own.ring.preferenceList(hash32(this.own.checkKey(key)))];
  }
  get nowMs(): number {
    return nowMs();
  }
  async sleep(ms: number): Promise<void> {
    checkWaitTimeout(ms, 'sleep');
    await new Promise((r) => setTimeout(r, ms));
  }
  membership(): MembershipInfo {
    const m = baseMembership(this.config);
    return { epoch: m.epoch, members: m.ring.memberIds(), left: [], inProgress: null, changes: [] };
  }
  addNode(): Promise<MembershipChangeResult> {
    return Promise.reject(new RemoteUnsupportedError('addNode', 'membership changes over NATS are not built yet; start a cluster with the size it needs'));
  }
  removeNode(): Promise<MembershipChangeResult> {
    return Promise.reject(new RemoteUnsupportedError('removeNode', 'membership changes over NATS are not built yet'));
  }
  replaceNode(): Promise<MembershipChangeResult> {
    return Promise.reject(new RemoteUnsupportedError('replaceNode', 'membership changes over NATS are not built yet; restart the serving process instead'));
  }
  /** Closes this client's connection; the serving processes keep running (stop them with SIGTERM). */
  async stop(): Promise<void> {
    this.own.close();
    await this.own.closing;
  }
}

function emptyStats(node: number): ReplicaStats {
  return {
    node, replicaId: String(node), counters: zeroCounters(), pendingPuts: 0, paused: false,
    hints: { keys: 0, bytes: 0, owners: [], queued: 0, merged: 0, delivered: 0, expired: 0, dropped: 0, inFlight: 0 },
    messagesIn: 0, batchesIn: 0, messagesOut: 0, batchesOut: 0, store: { keys: 0, liveBytes: 0, arenaBytes: 0, compactions: 0 }, ae: emptyAeStats(),
  };
}
