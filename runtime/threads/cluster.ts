// The thread runtime's cluster (the public entry's Cluster.start without runtime 'sim'): it spawns one worker thread per replica, wires a full mesh of MessagePorts between
// them and to every client, supervises them, injects faults, and hands out ClientHandles so other threads can attach
// as clients too.
//
// Threads and memory: each replica's store is a SharedStore (shared memory; the worker is its only writer, and a
// restarted worker re-attaches to it); the SharedView (runtime/shared-view.ts) carries node status, mailbox depths,
// heartbeats and link faults to every thread. The control plane to each worker is comlink over its own port (attach a
// client, replace a peer, pause, stats): never on the per-operation path.
//
// Beside this file: workers.ts (a worker's slot, spawn, control-plane calls that always settle), wiring.ts (restarts
// and the channels a restarted worker needs), thread-faults.ts (the fault vocabulary), supervisor.ts (detection),
// membership-port.ts (joins, leaves and replacements: the nodes are the slots in `hosts`, one per address so far).

import { membershipMetrics } from '../host/membership.js';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { InvalidArgumentError, StoppedError, show } from '../../actors/errors.js';
import { hash32, type Key } from '../../actors/hash.js';
import { CLIENT_BASE, type Address } from '../../actors/protocol.js';
import type { ClusterEvent, ClusterMetrics, HealthOptions, HealthReport, LeaderlessCluster, MembershipInfo, NodeEvent, NodeMetrics, RepairResult, ReplicaStats, SettleResult } from '../api.js';
import { baseMembership, checkOptionsObject, resolveConfig, type ClusterOptions, type ResolvedConfig } from '../config.js';
import type { MembershipChangeResult } from '../host/membership-driver.js';
import { ThreadMembership, ThreadMembershipPort } from './membership-port.js';
import { CLIENT_KEYS, checkKey, checkNode, checkOptions } from '../../actors/coordinator/checks.js';
import type { ClientCounters, GetOptions, GetResult, Inspection, PutOptions, PutResult } from '../../actors/coordinator/results.js';
import type { Ring } from '../../actors/ring.js';
import type { Value } from '../../actors/types.js';
import type { LatencySummary } from '../metrics/latency.js';
import { addRound, checkRepairTimeout, clusterMetrics, emptyRepairResult, healthBounds, healthReport } from '../host/cluster-stats.js';
import { awaitEvent, checkEvent, checkListener, checkWaitTimeout } from '../host/events.js';
import { metricsText } from '../metrics/index.js';
import { ClusterClient, type ClientControlMessage, type ClientHandle } from './client.js';
import { nowMs } from './clock.js';
import { NodeStatus, SharedView } from './shared-view.js';
import { Supervisor } from './supervisor.js';
import { ThreadFaults } from './thread-faults.js';
import { Wiring, type ClientEntry } from './wiring.js';
import { control, emptyStats, ifThere, live, newSlot, release, spawn, terminate, withTimeout, type WorkerSlot } from './workers.js';

/** The shape of what createHandle() returned; anything else would fail deep inside the client with a TypeError. */
function checkHandle(h: unknown): void {
  const x = h as Partial<ClientHandle> | null;
  const ok =
    x !== null && typeof x === 'object' && typeof x.address === 'number' && x.config !== null && typeof x.config === 'object' &&
    x.view instanceof SharedArrayBuffer && Array.isArray(x.stores) && Array.isArray(x.ports);
  if (!ok) {
    throw new InvalidArgumentError(
      `Cluster.attach takes the handle cluster.createHandle() returned, posted to this thread with its transfer list; got ${describeArg(h)}`,
    );
  }
}

function describeArg(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object of another shape' : `${typeof v} ${show(v)}`;
}

export class ThreadCluster implements LeaderlessCluster {
  readonly runtime = 'threads' as const;
  private readonly hosts: WorkerSlot[];
  private readonly clients: ClientEntry[] = [];
  private readonly supervisor: Supervisor;
  private readonly restartCounts: number[];
  /** wall-clock start, the repair age of a node that never completed a repair */
  private readonly startedAtMs = nowMs();
  private nextClient = 1;
  private stopping: Promise<void> | undefined;
  /** tombstones reaped when the previous repair() returned: what the next round reports is counted from here */
  private reapedAtLastRepair = 0;
  private readonly wiring: Wiring;
  /** Fault injection: the vocabulary of runtime/api.ts, the same in the simulator (runtime/threads/thread-faults.ts). */
  readonly faults: ThreadFaults;

  /** this thread's own client: the cluster's get/put/delete are its (composition: a cluster has a client) */
  private readonly own: ClusterClient;
  readonly config: ResolvedConfig;
  private readonly view: SharedView;
  /** joins, leaves, replacements (membership-port.ts) */
  private readonly members: ThreadMembership;

  private constructor(handle: Omit<ClientHandle, 'transfer'>, hosts: WorkerSlot[], supervisor: Supervisor, view: SharedView) {
    this.own = new ClusterClient(handle);
    this.config = handle.config;
    this.view = view;
    this.hosts = hosts;
    this.supervisor = supervisor;
    this.restartCounts = hosts.map(() => 0);
    this.clients.push({
      address: CLIENT_BASE,
      linked: new Set(hosts.map((h) => h.node)),
      replace: (node, port, incarnation, store) => this.own.replacePort(node, port, incarnation, store),
      setMembership: (snapshot) => this.own.setMembership(snapshot),
    });
    const base = baseMembership(this.config);
    const target = {
      hosts, clients: this.clients, view, supervisor, config: this.config, restartCounts: this.restartCounts,
      wiring: () => this.wiring, stopped: () => this.stopping !== undefined || view.stopped,
    };
    const port = new ThreadMembershipPort(target, base);
    this.members = new ThreadMembership(port, base, this.config, () => this.checkOpen());
    this.wiring = new Wiring(hosts, this.clients, view, supervisor, this.config, this.restartCounts, port);
    const checkNode: (node: unknown) => asserts node is number = (node) => this.checkFaultNode(node);
    this.faults = new ThreadFaults({ hosts, view, supervisor, config: this.config, wiring: this.wiring, checkOpen: () => this.checkOpen(), checkNode });
  }

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

  /** Closes this thread's own client (stop() does it too); the cluster keeps running for other clients. */
  close(): void {
    this.own.close();
  }

  /** Every address so far is a node (one that left too: its store and status can still be read). */
  private checkNode(node: unknown): asserts node is number {
    checkNode(node, this.hosts.length);
  }

  /** Faults act on nodes that have not left. */
  private checkFaultNode(node: unknown): asserts node is number {
    this.checkNode(node);
    if (this.hosts[node].retired) {
      throw new InvalidArgumentError(`node ${node} has left the cluster (its worker is stopped for good); faults apply to its members: ${this.members.info().members.join(', ')}`);
    }
  }

  private checkKey(key: Key): string {
    return checkKey(key, this.config.maxKeyBytes);
  }

  private checkOpen(): void {
    if (this.stopping !== undefined || this.view.stopped) throw new StoppedError();
  }


  /** Starts a cluster: one worker thread per replica (the public entry's Cluster.start picks this runtime). */
  static async start(options: ClusterOptions & { runtime?: 'threads' } = {}): Promise<ThreadCluster> {
    checkOptionsObject(options);
    const { runtime: _runtime, ...rest } = options as ClusterOptions & { runtime?: string };
    const config = resolveConfig(rest);
    const n = config.nodes.length;
    const view = SharedView.create(config.maxNodes, n);
    const hosts: WorkerSlot[] = config.nodes.map((spec) => newSlot(config, spec.id, config.nodes.map((o) => o.id).filter((o) => o !== spec.id)));
    // full mesh between replicas, plus this thread's client
    const peers: Array<Array<[Address, MessagePort]>> = config.nodes.map(() => []);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const ch = new MessageChannel();
        peers[i].push([j, ch.port1]);
        peers[j].push([i, ch.port2]);
      }
    }
    const clientPorts: Array<[number, MessagePort]> = [];
    for (let i = 0; i < n; i++) {
      const ch = new MessageChannel();
      peers[i].push([CLIENT_BASE, ch.port1]);
      clientPorts.push([i, ch.port2]);
    }
    const supervisor = new Supervisor(view, config.failureDetector, config.restart);
    const spawned = await Promise.allSettled(hosts.map((h, i) => spawn(h, config, view, peers[i])));
    const cluster = new ThreadCluster(
      { address: CLIENT_BASE, config, view: view.buffer, stores: hosts.map((h) => h.store.buffers), ports: clientPorts },
      hosts,
      supervisor,
      view,
    );
    for (const h of hosts) if (!h.exited) cluster.wiring.watch(h);
    // A worker that died before it was ready is started again the way the supervisor restarts a crashed one (fresh
    // channels to every live peer and client); if it fails twice more, the cluster does not start.
    for (let i = 0; i < hosts.length; i++) {
      const first = spawned[i];
      if (first.status === 'fulfilled') continue;
      let error: unknown = first.reason;
      for (let attempt = 0; attempt < 2 && hosts[i].exited; attempt++) {
        try {
          await cluster.wiring.restart(hosts[i], false);
        } catch (e) {
          error = e;
        }
      }
      if (hosts[i].exited) {
        await cluster.stop();
        throw error;
      }
    }
    supervisor.start();
    return cluster;
  }

  /** Makes a client from a handle posted by the thread that owns the cluster (see createHandle). */
  static attach(handle: ClientHandle): ClusterClient {
    checkHandle(handle);
    return new ClusterClient(handle);
  }

  /** Subscribe to supervisor events: node-up, node-suspect, node-down, node-crashed, node-restarted, node-given-up, ... */
  on(event: ClusterEvent, listener: (e: NodeEvent) => void): this {
    checkEvent(event);
    checkListener(event, listener);
    this.supervisor.on(event, listener);
    return this;
  }

  off(event: ClusterEvent, listener: (e: NodeEvent) => void): this {
    this.supervisor.off(event, listener);
    return this;
  }

  /** Resolves with the next event of this kind for `node` (or rejects with TIMEOUT after timeoutMs). */
  async waitFor(event: ClusterEvent, node: number, timeoutMs = 10_000): Promise<NodeEvent> {
    checkEvent(event);
    this.checkNode(node);
    checkWaitTimeout(timeoutMs, 'waitFor');
    const timer = (ms: number, fire: () => void): (() => void) => {
      const t = setTimeout(fire, ms);
      return () => clearTimeout(t);
    };
    return new Promise((resolve, reject) => awaitEvent(this.supervisor, { event, node, timeoutMs, timer }, resolve, reject));
  }

  /** The key's N primary replicas, in preference order (the first coordinates its writes). */
  replicasOf(key: Key): number[] {
    return [...this.members.port.ring.preferenceList(hash32(this.checkKey(key)))];
  }

  /** The wall clock, ms (the same clock every thread of this runtime stamps events with). */
  get nowMs(): number {
    return nowMs();
  }

  /** Lets `ms` of real time pass. */
  async sleep(ms: number): Promise<void> {
    checkWaitTimeout(ms, 'sleep');
    await new Promise((r) => setTimeout(r, ms));
  }

  /**
   * A handle another thread can attach with: `worker.postMessage(handle, handle.transfer)`, then
   * `Cluster.attach(handle)` there. Each handle is one client with its own ports; it can be attached once.
   */
  async createHandle(options: { near?: number } = {}): Promise<ClientHandle> {
    return (await this.newClient(options, 'createHandle')).handle;
  }

  /** Another client in this thread, e.g. placed beside a replica for partition experiments (Jepsen style). */
  async client(options: { near?: number } = {}): Promise<ClusterClient> {
    const { handle, entry } = await this.newClient(options, 'client');
    const client = new ClusterClient(handle);
    entry.setMembership = (snapshot) => client.setMembership(snapshot); // in this thread: at once, like the cluster's own
    return client;
  }

  /**
   * A client's ports to every live replica, and its control port: restarted replicas' ports come over it, and when the
   * client closes it (or its thread ends) the cluster forgets the client, so churn leaves nothing behind.
   */
  private async newClient(options: { near?: number }, call: 'createHandle' | 'client'): Promise<{ handle: ClientHandle; entry: ClientEntry }> {
    this.checkOpen();
    checkOptions(options, CLIENT_KEYS, call);
    const near = options.near ?? -1;
    if (near !== -1) this.checkFaultNode(near); // a client beside a node that left would be cut off with nothing
    const address = CLIENT_BASE + this.nextClient++;
    const ctl = new MessageChannel();
    ctl.port1.unref();
    const entry: ClientEntry = {
      address,
      linked: new Set(),
      replace: (node, port, incarnation, store) => post({ type: 'replace', node, port, incarnation, store }, [port]),
      setMembership: (snapshot) => post({ type: 'membership', snapshot }),
    };
    const post = (m: ClientControlMessage, transfer: MessagePort[] = []): void => ctl.port1.postMessage(m, transfer as never);
    // registered before any await: a replica that comes back meanwhile links to this client too, and a membership
    // published meanwhile follows this one on the control port
    this.clients.push(entry);
    const membership = this.members.port.clientView;
    ctl.port1.once('close', () => {
      const i = this.clients.indexOf(entry);
      if (i >= 0) this.clients.splice(i, 1);
    });
    const ports: ClientHandle['ports'] = [];
    const attached: Array<Promise<unknown>> = [];
    for (const h of this.hosts) {
      if (!live(h)) continue; // down: it links to this client when it is back
      const ch = new MessageChannel();
      entry.linked.add(h.node);
      ports.push([h.node, ch.port2, this.view.incarnation(h.node)]);
      attached.push(ifThere(control(h, (c) => c.attachClient(address, Comlink.transfer(ch.port1, [ch.port1 as never])))));
    }
    await Promise.all(attached);
    const controlPort = ctl.port2;
    const handle: ClientHandle = {
      address,
      near,
      config: this.config,
      view: this.view.buffer,
      stores: this.hosts.map((h) => h.store.buffers),
      ports,
      control: controlPort,
      transfer: [...ports.map(([, p]) => p), controlPort],
      membership,
    };
    return { handle, entry };
  }

  /**
   * Waits until hinted handoff has drained (every hint for an owner that is up has been delivered) and no mailbox
   * holds work, or until timeoutMs. Used before a final read at ALL (the harness) and in tests.
   */
  async settle(timeoutMs = 10_000): Promise<SettleResult> {
    this.checkOpen();
    checkWaitTimeout(timeoutMs, 'settle');
    const start = nowMs();
    for (;;) {
      const hosts = this.hosts.filter((h) => !h.retired); // nodes that left hold nothing to wait for
      const stats = (await Promise.all(hosts.map((h) => this.statsOf(h)))).filter((s) => s !== undefined);
      // A node running again (resumed, restarted) counts as down until the failure detector has seen it beat, and
      // nobody hands it its hints meanwhile: wait for the detector too.
      // A node the supervisor is restarting comes back and takes its hints: wait for it too (not for one held down or
      // given up on, which does not come back by itself).
      const catchingUp = hosts.some(
        (h) => (live(h) && !h.paused && !this.view.isUp(h.node)) || (!h.holdDown && !h.gaveUp && (h.restarting || h.starting !== undefined)),
      );
      // hints for an owner that left the ring wait for their holder to redirect them to the key's owners now
      const due = (o: number): boolean => this.view.isUp(o) || this.hosts[o]?.retired === true;
      const deliverable = stats.reduce((a, s) => a + s.hints.owners.filter(due).length + s.hints.inFlight, 0);
      const busy = hosts.some((h) => this.view.depth(h.node) > 0 && !h.exited && !h.paused);
      const pending = stats.reduce((a, s) => a + s.hints.keys, 0);
      const waited = nowMs() - start;
      const settled = deliverable === 0 && !busy && !catchingUp;
      if (settled || waited > timeoutMs) return { hintsPending: pending, durationMs: waited, settled };
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * One full anti-entropy round: node by node (so that a second exchange over the same keys does not race the
   * first), each node that is up exchanges trees with every peer above it in every range they share; only differing
   * segments are listed and only differing keys move, merged with DVV sync. Down and paused nodes are skipped; a
   * node whose round has not finished within timeoutMs is counted as failed and left running.
   */
  async repair(timeoutMs = 60_000): Promise<RepairResult> {
    this.checkOpen();
    checkRepairTimeout(timeoutMs);
    const start = nowMs();
    const total = emptyRepairResult();
    const ranges = new Set<string>();
    for (const h of this.hosts) {
      if (h.retired) continue; // left the cluster: not a node to repair, nor one skipped
      if (!live(h) || h.paused || this.view.status(h.node) === NodeStatus.Down) {
        total.skippedNodes.push(h.node);
        continue;
      }
      const left = Math.max(1, timeoutMs - (nowMs() - start));
      const r = await withTimeout(ifThere(control(h, (c) => c.repair())), left);
      if (r === 'timeout') total.failed++;
      else if (r === undefined) total.skippedNodes.push(h.node);
      else addRound(total, r, ranges);
    }
    total.ranges = ranges.size;
    const reaped = (await this.metrics()).totals.tombstonesReaped;
    total.tombstonesReaped = Math.max(0, reaped - this.reapedAtLastRepair);
    this.reapedAtLastRepair = reaped;
    total.durationMs = nowMs() - start;
    return total;
  }

  /**
   * Flags every node whose last complete repair (an exchange with every peer of every range it belongs to) is older
   * than maxRepairAgeMs (default: config antiEntropy.maxRepairAgeMs), that is unreachable, or whose hint queue or
   * mailbox is past its bound. A node that never completed a repair counts from the cluster's start.
   */
  async health(options: HealthOptions = {}): Promise<HealthReport> {
    this.checkOpen();
    const bounds = healthBounds(options, this.config.antiEntropy.maxRepairAgeMs);
    // nodes that left are not listed (metrics has them, `left`); a stalled handoff is an alert
    return healthReport(await this.metrics(), bounds, this.config.mailboxCapacity, nowMs(), this.startedAtMs, this.members.driver.status());
  }

  /** metrics() in Prometheus text exposition format (runtime/metrics.ts). */
  async metricsText(): Promise<string> {
    return metricsText(await this.metrics());
  }

  /** Counters per node (from each worker, over the control plane) and for this thread's client. */
  async metrics(): Promise<ClusterMetrics> {
    this.checkOpen();
    const nodes = await Promise.all(this.hosts.map((h) => this.nodeMetrics(h)));
    const restarts = this.restartCounts.reduce((a, b) => a + b, 0);
    const m = clusterMetrics({ nodes, client: this.counters, latency: this.latency(), restarts, nowMs: nowMs(), startedAtMs: this.startedAtMs });
    return { ...m, membership: membershipMetrics(this.members.driver) };
  }

  private async nodeMetrics(h: WorkerSlot): Promise<NodeMetrics> {
    const st = this.view.status(h.node);
    const status = st === NodeStatus.Up ? 'up' : st === NodeStatus.Suspect ? 'suspect' : 'down';
    const base = { status, mailboxDepth: this.view.depth(h.node), restarts: this.restartCounts[h.node], ...(h.retired ? { left: true } : {}) } as const;
    const stats = await this.statsOf(h);
    if (stats === undefined) return { ...(h.lastStats ?? emptyStats(h)), ...base, status: 'down', stale: true };
    h.lastStats = stats;
    return { ...stats, ...base, stale: false };
  }

  // ------------------------------------------------------------------------------------------- membership

  /** A node joins (in `datacenter`, default localDc; `rack`, default the dc's least used): resolves when it is done. */
  addNode(options?: { datacenter?: string; rack?: string }): Promise<MembershipChangeResult> {
    return this.members.addNode(options);
  }

  /** The node leaves: its ranges are handed off, its hints drain, its worker stops for good (its id stays taken). */
  removeNode(node: number): Promise<MembershipChangeResult> {
    return this.members.removeNode(node);
  }

  /** A new node takes the (possibly dead) node's tokens; the old one leaves. */
  replaceNode(node: number): Promise<MembershipChangeResult> {
    return this.members.replaceNode(node);
  }

  membership(): MembershipInfo {
    return this.members.info();
  }

  /** Ends every worker. Pending operations fail with STOPPED; later calls throw STOPPED. Idempotent. */
  stop(): Promise<void> {
    if (this.stopping === undefined) {
      this.view.markStopped();
      this.supervisor.stop();
      this.close();
      this.stopping = Promise.all(
        this.hosts.map(async (h) => {
          release(h, new StoppedError());
          await terminate(h);
        }),
      ).then(() => undefined);
    }
    return this.stopping;
  }

  /** A node's counters from its worker; undefined when it is down or goes away before it answers. */
  private async statsOf(h: WorkerSlot): Promise<ReplicaStats | undefined> {
    return live(h) ? ifThere(control(h, (c) => c.stats())) : undefined;
  }

}
