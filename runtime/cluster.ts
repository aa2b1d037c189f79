// The public entry: Cluster.start spawns one worker thread per replica, wires a full mesh of MessagePorts between
// them and to every client, supervises them, injects faults, and hands out ClientHandles so other threads can attach
// as clients too.
//
// Threads and memory: each replica's store is a SharedStore (shared memory; the worker is its only writer, and a
// restarted worker re-attaches to it); the SharedView (runtime/shared-view.ts) carries node status, mailbox depths,
// heartbeats and link faults to every thread. The control plane to each worker is comlink over its own port (attach a
// client, replace a peer, pause, stats): never on the per-operation path.
//
// Restart wiring: a worker's MessagePorts die with it, so a restarted replica, once ready, gets a fresh channel to
// every live peer (both ends sent with replacePeer) and to every client (sent to the client with replacePort, or over
// the client's control port). Each host and client records which nodes it is linked with, so that two nodes that
// come back together are linked by whichever is ready second, once. Every control-plane call settles: it fails
// with NodeGoneError when its worker exits first, and the API calls answer around the node that went away.

import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { InvalidArgumentError, InvalidConfigError, StoppedError, TimeoutError, show, type LeaderlessError } from '../actors/errors.js';
import { SimCluster, type SimOptions } from './sim/index.js';
import { CLIENT_BASE, type Address } from '../actors/protocol.js';
import { ClusterClient, type ClientHandle } from './client.js';
import { CLIENT_KEYS, checkCrashOptions, checkOptions, type LatencySummary } from './client-core.js';
import { metricsText } from './metrics.js';
import { nodeEndpoint } from './comlink-node.js';
import { checkOptionsObject, hintStoreSize, resolveConfig, type ClusterOptions, type ResolvedConfig } from './config.js';
import { NodeStatus, SharedView } from './shared-view.js';
import { SharedStore } from './store.js';
import { Supervisor, type ClusterEvent, type NodeEvent } from './supervisor.js';
import type { ReplicaControl, ReplicaStats, ReplicaWorkerData } from './replica-worker.js';
import { emptyAeStats } from './hash-pool.js';

interface ReplicaHost {
  node: number;
  worker: Worker | undefined;
  control: Comlink.Remote<ReplicaControl> | undefined;
  controlPort: MessagePort | undefined;
  store: SharedStore;
  /** the node's persisted hints (see actors/replica.ts HintStore) */
  hintStore: SharedStore;
  /** DVV id of the store's current incarnation: changes on a wipe */
  replicaId: string;
  wipes: number;
  /** the next start clears the store (faults.crash with wipe) */
  wipeOnRestart: boolean;
  exited: boolean;
  restarting: boolean;
  gaveUp: boolean;
  paused: boolean;
  lastStats?: ReplicaStats;
  /** rejecters of the control calls in flight to the current worker: they fail when it exits */
  calls: Set<(e: LeaderlessError) => void>;
  /** peers whose current worker has a channel to this node's current worker */
  linked: Set<number>;
  /** the restart in progress (a crash waits for it: it has already chosen whether to wipe) */
  starting: Promise<void> | undefined;
}

/** A control-plane call's worker exited (killed, crashed) before it answered. */
class NodeGoneError extends StoppedError {
  constructor(node: number) {
    super(`node ${node}'s worker exited (killed or crashed) before it answered; the supervisor restarts it`);
  }
}

function emptyStats(h: ReplicaHost): ReplicaStats {
  const z = { puts: 0, putsOk: 0, putsFailed: 0, putsTimedOut: 0, replicates: 0, gets: 0, repairs: 0, hintedWrites: 0 };
  return {
    node: h.node,
    replicaId: h.replicaId,
    counters: { ...z, hintsRefused: 0, handoffsSent: 0, handoffsReceived: 0, storeErrors: 0 },
    pendingPuts: 0,
    paused: false,
    hints: { keys: 0, bytes: 0, owners: [], queued: 0, merged: 0, delivered: 0, expired: 0, dropped: 0, inFlight: 0 },
    messagesIn: 0,
    batchesIn: 0,
    messagesOut: 0,
    batchesOut: 0,
    store: { keys: 0, liveBytes: 0, arenaBytes: 0, compactions: 0 },
    ae: emptyAeStats(),
  };
}

/** A client the cluster must tell about restarted replicas. */
interface ClientEntry {
  address: Address;
  /** nodes whose current worker has a channel to this client */
  linked: Set<number>;
  replace(node: number, port: MessagePort, incarnation: number): void;
}

export interface NodeMetrics extends ReplicaStats {
  status: 'up' | 'suspect' | 'down';
  mailboxDepth: number;
  restarts: number;
  /** true when the worker could not be asked (down): the counters are the last ones it reported */
  stale: boolean;
}

export interface ClusterMetrics {
  /** one entry per node; a node whose worker is down reports its last known counters with `stale: true` */
  nodes: NodeMetrics[];
  client: ClusterClient['counters'] & { readLatency: LatencySummary; writeLatency: LatencySummary };
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
  /** tombstones reaped cluster-wide since the previous repair() returned (since start for the first) */
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

export type LinkSpec = { from: number | '*'; to: number | '*' };

const EVENTS: readonly ClusterEvent[] = [
  'node-up', 'node-suspect', 'node-down', 'node-crashed', 'node-restarted', 'node-given-up', 'node-paused', 'node-resumed',
];

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

/** A misspelt event name would never fire: a listener on it waits forever. */
function checkEvent(event: unknown): void {
  if (!EVENTS.includes(event as ClusterEvent)) {
    throw new InvalidArgumentError(`unknown cluster event ${show(event)}; events: ${EVENTS.join(', ')}`);
  }
}

const HEALTH_KEYS = new Set(['maxRepairAgeMs', 'maxHintQueueKeys', 'maxMailboxFill']);

const WORKER_URL = new URL('./replica-worker.js', import.meta.url);

export class Cluster extends ClusterClient {
  private readonly hosts: ReplicaHost[];
  private readonly clients: ClientEntry[] = [];
  private readonly supervisor: Supervisor;
  private readonly restartCounts: number[];
  /** wall-clock start, the repair age of a node that never completed a repair */
  private readonly startedAtMs = Date.now();
  private nextClient = 1;
  private stopping: Promise<void> | undefined;
  /** totals.tombstonesReaped when the previous repair() returned: what the next round reports is counted from here */
  private reapedAtLastRepair = 0;

  private constructor(handle: Omit<ClientHandle, 'transfer'>, hosts: ReplicaHost[], supervisor: Supervisor) {
    super(handle);
    this.hosts = hosts;
    this.supervisor = supervisor;
    this.restartCounts = hosts.map(() => 0);
    this.clients.push({
      address: CLIENT_BASE,
      linked: new Set(hosts.map((h) => h.node)),
      replace: (node, port, incarnation) => this.replacePort(node, port, incarnation),
    });
  }

  /**
   * Starts a cluster: one worker thread per replica. With `{ runtime: 'sim', seed }` the same actors run instead in
   * the deterministic simulator (runtime/sim/): one thread, virtual time, a seeded network; same API.
   */
  static start(options: SimOptions & { runtime: 'sim' }): Promise<SimCluster>;
  static start(options?: ClusterOptions & { runtime?: 'threads' }): Promise<Cluster>;
  static async start(options: (ClusterOptions & { runtime?: 'threads' }) | (SimOptions & { runtime: 'sim' }) = {}): Promise<Cluster | SimCluster> {
    checkOptionsObject(options);
    if (options.runtime === 'sim') return SimCluster.start(options);
    if (options.runtime !== undefined && options.runtime !== 'threads') {
      throw new InvalidConfigError(`runtime must be 'threads' (worker threads, the default) or 'sim' (the deterministic simulator); got ${show(options.runtime)}`);
    }
    const { runtime: _runtime, ...rest } = options as ClusterOptions & { runtime?: string };
    const config = resolveConfig(rest);
    const n = config.nodes.length;
    const view = SharedView.create(n);
    const hosts: ReplicaHost[] = config.nodes.map((spec) => ({
      node: spec.id,
      worker: undefined,
      control: undefined,
      controlPort: undefined,
      store: SharedStore.create({ maxKeys: config.storeMaxKeys, arenaBytes: config.storeArenaBytes }),
      hintStore: SharedStore.create(hintStoreSize(config)),
      replicaId: String(spec.id),
      wipes: 0,
      wipeOnRestart: false,
      exited: true,
      restarting: false,
      gaveUp: false,
      paused: false,
      calls: new Set(),
      linked: new Set(config.nodes.map((o) => o.id).filter((o) => o !== spec.id)),
      starting: undefined,
    }));
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
    const cluster = new Cluster(
      { address: CLIENT_BASE, config, view: view.buffer, stores: hosts.map((h) => h.store.buffers), ports: clientPorts },
      hosts,
      supervisor,
    );
    for (const h of hosts) if (!h.exited) cluster.watch(h);
    // A worker that died before it was ready is started again the way the supervisor restarts a crashed one (fresh
    // channels to every live peer and client); if it fails twice more, the cluster does not start.
    for (let i = 0; i < hosts.length; i++) {
      const first = spawned[i];
      if (first.status === 'fulfilled') continue;
      let error: unknown = first.reason;
      for (let attempt = 0; attempt < 2 && hosts[i].exited; attempt++) {
        try {
          await cluster.restart(hosts[i], false);
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
    if (typeof listener !== 'function') throw new InvalidArgumentError(`on(${event}) needs a listener function`);
    this.supervisor.on(event, listener);
    return this;
  }

  off(event: ClusterEvent, listener: (e: NodeEvent) => void): this {
    this.supervisor.off(event, listener);
    return this;
  }

  /** Resolves with the next event of this kind for `node` (or rejects after timeoutMs). */
  waitFor(event: ClusterEvent, node: number, timeoutMs = 10_000): Promise<NodeEvent> {
    return new Promise((resolve, reject) => {
      // a throw here rejects the promise, as from an async function
      checkEvent(event);
      this.checkNode(node);
      if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0 || timeoutMs > 3_600_000) {
        throw new InvalidArgumentError(`waitFor takes a timeout in ms from 0 to 3600000; got ${show(timeoutMs)}`);
      }
      const timer = setTimeout(() => {
        this.supervisor.off(event, listener);
        reject(new TimeoutError(`no ${event} event for node ${node} within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (e: NodeEvent): void => {
        if (e.node !== node) return;
        clearTimeout(timer);
        this.supervisor.off(event, listener);
        resolve(e);
      };
      this.supervisor.on(event, listener);
    });
  }

  /**
   * A handle another thread can attach with: `worker.postMessage(handle, handle.transfer)`, then
   * `Cluster.attach(handle)` there. Each handle is one client with its own ports; it can be attached once.
   */
  async createHandle(options: { near?: number } = {}): Promise<ClientHandle> {
    return this.newClient(options, 'createHandle');
  }

  /** Another client in this thread, e.g. placed beside a replica for partition experiments (Jepsen style). */
  async client(options: { near?: number } = {}): Promise<ClusterClient> {
    return new ClusterClient(await this.newClient(options, 'client'));
  }

  /**
   * A client's ports to every live replica, and its control port: restarted replicas' ports come over it, and when the
   * client closes it (or its thread ends) the cluster forgets the client, so churn leaves nothing behind.
   */
  private async newClient(options: { near?: number }, call: 'createHandle' | 'client'): Promise<ClientHandle> {
    this.checkOpen();
    checkOptions(options, CLIENT_KEYS, call);
    const near = options.near ?? -1;
    if (near !== -1) this.checkNode(near);
    const address = CLIENT_BASE + this.nextClient++;
    const ctl = new MessageChannel();
    ctl.port1.unref();
    const entry: ClientEntry = {
      address,
      linked: new Set(),
      replace: (node, port, incarnation) => ctl.port1.postMessage({ type: 'replace', node, port, incarnation }, [port as never]),
    };
    // registered before any await: a replica that comes back meanwhile links to this client too
    this.clients.push(entry);
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
    };
    return handle;
  }

  /** Fault injection: the vocabulary the harness schedules. */
  readonly faults = {
    /** The worker dies; the supervisor restarts it and it re-attaches to its store (crash-recovery). */
    kill: async (node: number): Promise<void> => {
      this.checkOpen();
      this.checkNode(node);
      await terminate(this.hosts[node]);
    },
    /**
     * The worker dies; with wipe, it comes back with an empty store (a replaced disk) under a new DVV id. During a
     * restart, the worker being started is the one that dies (after it is up), so the wipe happens all the same.
     */
    crash: async (node: number, options: { wipe?: boolean } = {}): Promise<void> => {
      this.checkOpen();
      this.checkNode(node);
      checkCrashOptions(options);
      const h = this.hosts[node];
      // a restart in progress has already chosen whether to wipe: let it finish, then crash the worker it started
      while (h.starting !== undefined) await h.starting.catch(() => undefined);
      if (options.wipe === true) {
        if (h.gaveUp) {
          throw new InvalidArgumentError(
            `node ${node} cannot be wiped: the restart policy gave up on it (restart.maxRestarts), so it never starts again`,
          );
        }
        h.wipeOnRestart = true;
      }
      await terminate(h);
    },
    /** The actor stops processing its mailbox and stops heartbeating; messages wait, bounded by the mailbox. */
    pause: async (node: number): Promise<void> => {
      this.checkOpen();
      this.checkNode(node);
      const h = this.hosts[node];
      if (h.exited || h.paused) return;
      this.view.setPaused(node, true); // before the actor stops: no client reads its store directly from now on
      if (!(await answered(control(h, (c) => c.pause())))) return; // it went away: it restarts unpaused
      h.paused = true;
      this.supervisor.emit('node-paused', { node, atMs: Date.now() } satisfies NodeEvent);
    },
    resume: async (node: number): Promise<void> => {
      this.checkOpen();
      this.checkNode(node);
      const h = this.hosts[node];
      if (h.exited || !h.paused) return;
      if (!(await answered(control(h, (c) => c.resume())))) return; // it went away: it restarts unpaused
      h.paused = false;
      this.view.setPaused(node, false);
      this.supervisor.emit('node-resumed', { node, atMs: Date.now() } satisfies NodeEvent);
    },
    /** Cuts the replicas into groups: messages between groups are dropped until heal(). Unlisted nodes are isolated. */
    partition: (groups: number[][]): void => {
      this.checkOpen();
      if (!Array.isArray(groups)) {
        throw new InvalidArgumentError('partition takes an array of node arrays, e.g. [[0, 1], [2, 3, 4]]');
      }
      const group = new Map<number, number>();
      groups.forEach((g, gi) => {
        if (!Array.isArray(g)) throw new InvalidArgumentError('partition takes an array of node arrays, e.g. [[0, 1], [2, 3, 4]]');
        for (const node of g) {
          this.checkNode(node);
          if (group.has(node)) throw new InvalidArgumentError(`node ${node} is in two partition groups`);
          group.set(node, gi);
        }
      });
      const n = this.config.nodes.length;
      for (let a = 0; a < n; a++) {
        for (let b = 0; b < n; b++) {
          this.view.setBlocked(a, b, (group.get(a) ?? -1 - a) !== (group.get(b) ?? -1 - b));
        }
      }
    },
    /** Ends every partition. */
    heal: (): void => {
      this.checkOpen();
      const n = this.config.nodes.length;
      for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) this.view.setBlocked(a, b, false);
    },
    /**
     * Adds one-way delay to messages into replica `to` from replica `from` ('*': any; clients not placed near a node
     * count as '*'). `ms` is fixed.
     */
    delay: (spec: LinkSpec & { ms: number }): void => {
      this.checkOpen();
      if (typeof spec?.ms !== 'number' || !(spec.ms >= 0) || spec.ms > 60_000) {
        throw new InvalidArgumentError(`delay ms must be a number from 0 to 60000; got ${show(spec?.ms)}`);
      }
      this.forLinks(spec, (from, to) => this.view.setDelayUs(from, to, Math.round(spec.ms * 1000)));
      this.view.setImpaired(true);
    },
    /** Drops each message into replica `to` from `from` with the given probability. */
    drop: (spec: LinkSpec & { probability: number }): void => {
      this.checkOpen();
      const p = spec?.probability;
      if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
        throw new InvalidArgumentError(`drop probability must be a number from 0 to 1; got ${show(p)}`);
      }
      this.forLinks(spec, (from, to) => this.view.setDropPpm(from, to, Math.round(p * 1e6)));
      this.view.setImpaired(true);
    },
    /** Clears every delay, drop and partition, and resumes paused nodes. */
    clear: async (): Promise<void> => {
      this.faults.heal();
      this.forLinks({ from: '*', to: '*' }, (from, to) => {
        this.view.setDelayUs(from, to, 0);
        this.view.setDropPpm(from, to, 0);
      });
      this.view.setImpaired(false);
      for (const h of this.hosts) if (h.paused) await this.faults.resume(h.node);
    },
  };

  /** Calls f for every directed link the spec names; a `from` of '*' includes the row of unplaced clients. */
  private forLinks(spec: LinkSpec, f: (from: number, to: number) => void): void {
    const n = this.config.nodes.length;
    const nodes = (x: number | '*'): number[] => {
      if (x === '*') return Array.from({ length: n }, (_, i) => i);
      this.checkNode(x);
      return [x];
    };
    const froms = spec.from === '*' ? [...nodes('*'), n] : nodes(spec.from);
    for (const from of froms) for (const to of nodes(spec.to)) f(from, to);
  }

  /**
   * Waits until hinted handoff has drained (every hint for an owner that is up has been delivered) and no mailbox
   * holds work, or until timeoutMs. Used before a final read at ALL (the harness) and in tests.
   */
  async settle(timeoutMs = 10_000): Promise<SettleResult> {
    this.checkOpen();
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0 || timeoutMs > 3_600_000) {
      throw new InvalidArgumentError(`settle takes a timeout in ms from 0 to 3600000; got ${show(timeoutMs)}`);
    }
    const start = performance.now();
    for (;;) {
      const stats = (await Promise.all(this.hosts.map((h) => this.statsOf(h)))).filter((s) => s !== undefined);
      // A node running again (resumed, restarted) counts as down until the failure detector has seen it beat, and
      // nobody hands it its hints meanwhile: wait for the detector too.
      const catchingUp = this.hosts.some((h) => live(h) && !h.paused && !this.view.isUp(h.node));
      const deliverable = stats.reduce(
        (a, s) => a + s.hints.owners.filter((o) => this.view.isUp(o)).length + s.hints.inFlight,
        0,
      );
      const busy = this.hosts.some((h) => this.view.depth(h.node) > 0 && !h.exited && !h.paused);
      const pending = stats.reduce((a, s) => a + s.hints.keys, 0);
      const waited = performance.now() - start;
      const settled = deliverable === 0 && !busy && !catchingUp;
      if (settled || waited > timeoutMs) return { hintsPending: pending, durationMs: waited, settled };
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * One full anti-entropy round: node by node (so that a second exchange over the same keys does not race the
   * first), each node that is up exchanges trees with every peer above it in every range they share; only differing
   * segments are listed and only differing keys move, merged with DVV sync. Down and paused nodes are skipped.
   */
  async repair(): Promise<RepairResult> {
    this.checkOpen();
    const start = performance.now();
    const total: RepairResult = {
      ranges: 0, exchanges: 0, failed: 0, skipped: 0, skippedNodes: [], segmentsCompared: 0, segmentsExchanged: 0, nodesCompared: 0,
      keysSent: 0, bytesMoved: 0, durationMs: 0, tombstonesReaped: 0,
    };
    const ranges = new Set<string>();
    for (const h of this.hosts) {
      const r = live(h) && !h.paused && this.view.status(h.node) !== NodeStatus.Down ? await ifThere(control(h, (c) => c.repair())) : undefined;
      if (r === undefined) {
        total.skippedNodes.push(h.node);
        continue;
      }
      for (const id of r.rangeIds) ranges.add(id);
      for (const k of ['exchanges', 'failed', 'skipped', 'segmentsCompared', 'segmentsExchanged', 'nodesCompared', 'keysSent', 'bytesMoved'] as const) {
        total[k] += r[k];
      }
    }
    total.ranges = ranges.size;
    // reaps run on ticks a grace period after a round confirmed them: count those since the previous round returned
    const reaped = (await this.metrics()).totals.tombstonesReaped;
    total.tombstonesReaped = Math.max(0, reaped - this.reapedAtLastRepair);
    this.reapedAtLastRepair = reaped;
    total.durationMs = performance.now() - start;
    return total;
  }

  /**
   * Flags every node whose last complete repair (an exchange with every peer of every range it belongs to) is older
   * than maxRepairAgeMs (default: config antiEntropy.maxRepairAgeMs). A node that never completed one counts from
   * the cluster's start.
   */
  async health(options: HealthOptions = {}): Promise<HealthReport> {
    this.checkOpen();
    checkOptions(options, HEALTH_KEYS, 'health');
    const bound = options.maxRepairAgeMs ?? this.config.antiEntropy.maxRepairAgeMs;
    if (typeof bound !== 'number' || !(bound > 0)) {
      throw new InvalidArgumentError(`maxRepairAgeMs must be a positive number of ms; got ${show(bound)}`);
    }
    const maxHints = options.maxHintQueueKeys ?? 10_000;
    if (typeof maxHints !== 'number' || !(maxHints >= 0)) {
      throw new InvalidArgumentError(`maxHintQueueKeys must be a number >= 0; got ${show(maxHints)}`);
    }
    const maxFill = options.maxMailboxFill ?? 0.8;
    if (typeof maxFill !== 'number' || !(maxFill > 0 && maxFill <= 1)) {
      throw new InvalidArgumentError(`maxMailboxFill must be a number in (0, 1]; got ${show(maxFill)}`);
    }
    const m = await this.metrics();
    const now = Date.now();
    const alerts: string[] = [];
    const nodes = m.nodes.map((n) => {
      const last = n.ae.lastRepairMs;
      const repairAgeMs = now - (last ?? this.startedAtMs);
      const overdue = repairAgeMs > bound;
      if (overdue) {
        alerts.push(
          `node ${n.node} repair overdue: ${last === null ? 'no complete repair since the cluster started' : 'last complete repair'} ` +
            `${Math.round(repairAgeMs)} ms ago, bound ${bound} ms (antiEntropy.maxRepairAgeMs)`,
        );
      }
      const reachable = n.status !== 'down' && !n.stale && !n.paused;
      if (!reachable) alerts.push(`node ${n.node} unreachable: ${n.paused ? 'paused' : n.stale ? 'its worker is down' : 'the failure detector holds it down'}`);
      if (n.hints.keys > maxHints) {
        alerts.push(`node ${n.node} hint queue: ${n.hints.keys} keys held for down owners (bound ${maxHints}): an owner is down or unreachable`);
      }
      if (n.mailboxDepth > maxFill * this.config.mailboxCapacity) {
        alerts.push(`node ${n.node} mailbox ${n.mailboxDepth} of ${this.config.mailboxCapacity} messages: it falls behind`);
      }
      return {
        node: n.node,
        reachable,
        status: n.status,
        hintQueueKeys: n.hints.keys,
        mailboxDepth: n.mailboxDepth,
        lastRepairMs: last,
        repairAgeMs,
        overdue,
      };
    });
    return { ok: alerts.length === 0, nodes, alerts };
  }

  /** metrics() in Prometheus text exposition format (runtime/metrics.ts). */
  async metricsText(): Promise<string> {
    return metricsText(await this.metrics());
  }

  /** Counters per node (from each worker, over the control plane) and for this thread's client. */
  async metrics(): Promise<ClusterMetrics> {
    this.checkOpen();
    const nodes = await Promise.all(
      this.hosts.map(async (h) => {
        const st = this.view.status(h.node);
        const status = (st === NodeStatus.Up ? 'up' : st === NodeStatus.Suspect ? 'suspect' : 'down') as 'up' | 'suspect' | 'down';
        const base = { status, mailboxDepth: this.view.depth(h.node), restarts: this.restartCounts[h.node] };
        const stats = await this.statsOf(h);
        if (stats === undefined) return { ...(h.lastStats ?? emptyStats(h)), ...base, status: 'down' as const, stale: true };
        h.lastStats = stats;
        return { ...stats, ...base, stale: false };
      }),
    );
    const sum = (f: (s: NodeMetrics) => number): number => nodes.reduce((a, s) => a + f(s), 0);
    const latency = this.latency();
    const uptimeMs = Date.now() - this.startedAtMs;
    const finished = sum((s) => s.counters.putsOk) + sum((s) => s.counters.putsFailed);
    const now = Date.now();
    return {
      nodes,
      client: { ...this.counters, readLatency: latency.read, writeLatency: latency.write },
      watch: {
        uptimeMs,
        readRepairRate: sum((s) => s.counters.repairs) / Math.max(uptimeMs / 1000, 1e-3),
        hintQueueKeys: sum((s) => s.hints.keys),
        quorumSuccessRate: finished === 0 ? 1 : sum((s) => s.counters.putsOk) / finished,
        readLatencyUsP99: latency.read.p99Us,
        versionConflicts: this.counters.siblingsReturned,
        maxMailboxDepth: Math.max(0, ...nodes.map((s) => s.mailboxDepth)),
        restarts: this.restartCounts.reduce((a, b) => a + b, 0),
        maxRepairAgeMs: Math.max(0, ...nodes.map((s) => now - (s.ae.lastRepairMs ?? this.startedAtMs))),
      },
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
        hintsExpired: sum((s) => s.hints.expired),
        hintsDropped: sum((s) => s.hints.dropped),
        hintQueueKeys: sum((s) => s.hints.keys),
        aeExchanges: sum((s) => s.ae.exchangesCompleted),
        aeKeysRepaired: sum((s) => s.ae.keysRepaired),
        aeBytesMoved: sum((s) => s.ae.bytesMoved),
        tombstonesReaped: sum((s) => s.ae.tombstonesReaped),
        restarts: this.restartCounts.reduce((a, b) => a + b, 0),
        keys: sum((s) => s.store.keys),
      },
    };
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
  private async statsOf(h: ReplicaHost): Promise<ReplicaStats | undefined> {
    return live(h) ? ifThere(control(h, (c) => c.stats())) : undefined;
  }

  /** Restarts a worker that exited, unless the cluster is stopping or the restart policy gives up. */
  private watch(h: ReplicaHost): void {
    const worker = h.worker!;
    let reason = 'exited';
    worker.once('error', (e: Error) => {
      reason = `threw ${e.name}: ${e.message}`;
    });
    worker.once('exit', (code) => {
      h.exited = true;
      h.paused = false;
      this.view.setPaused(h.node, false);
      release(h, new NodeGoneError(h.node));
      this.unlink(h);
      if (this.view.stopped) return;
      this.scheduleRestart(h, `${reason} (exit code ${code})`);
    });
  }

  /** One-for-one: restart the node after delayMs unless the intensity limit says it stays down. */
  private scheduleRestart(h: ReplicaHost, reason: string): void {
    if (!this.supervisor.crashed(h.node, reason)) {
      h.gaveUp = true;
      return;
    }
    h.restarting = true;
    setTimeout(() => {
      this.restart(h).catch((e: Error) => {
        // the new worker died before it was ready: that is one more crash for the restart policy to count
        h.exited = true;
        if (!this.view.stopped) this.scheduleRestart(h, `restart failed: ${e.message}`);
      });
    }, this.config.restart.delayMs);
  }

  /** Starts node h's worker again (h.starting while it runs). */
  private restart(h: ReplicaHost, counted = true): Promise<void> {
    const starting = this.startAgain(h, counted);
    h.starting = starting;
    const done = (): void => {
      if (h.starting === starting) h.starting = undefined;
    };
    starting.then(done, done);
    return starting;
  }

  private async startAgain(h: ReplicaHost, counted: boolean): Promise<void> {
    if (this.view.stopped) return;
    const wipe = h.wipeOnRestart;
    if (wipe) {
      h.wipes++;
      h.replicaId = `${h.node}.${h.wipes}`;
    }
    this.unlink(h);
    // what was posted to the old worker is gone with it; senders still holding its ports no longer count
    this.view.resetDepth(h.node, this.view.bumpIncarnation(h.node));
    await spawn(h, this.config, this.view, []);
    if (wipe) h.wipeOnRestart = false; // no crash sets it while a restart runs: it waits for the restart
    this.watch(h);
    if (this.view.stopped) {
      await terminate(h);
      return;
    }
    const worker = h.worker;
    await this.link(h);
    h.restarting = false;
    if (counted) this.restartCounts[h.node]++;
    // it died while being linked: its exit has already scheduled the next restart
    if (h.exited || h.worker !== worker) return;
    if (counted) this.supervisor.restarted(h.node);
  }

  /**
   * Gives node h's worker (just started) a fresh channel to every live peer and every client it has none with.
   * Synchronous up to the hand-overs, so that of two nodes starting together, whichever is ready second links the
   * pair, exactly once. Resolves when every end is handed over (or its worker went away: its restart links it).
   */
  private link(h: ReplicaHost): Promise<unknown> {
    const handOffs: Array<Promise<unknown>> = [];
    const incarnation = this.view.incarnation(h.node);
    for (const other of this.hosts) {
      if (other === h || !live(other) || h.linked.has(other.node)) continue;
      const ch = new MessageChannel();
      const otherIncarnation = this.view.incarnation(other.node);
      h.linked.add(other.node);
      other.linked.add(h.node);
      handOffs.push(ifThere(control(h, (c) => c.replacePeer(other.node, Comlink.transfer(ch.port1, [ch.port1 as never]), otherIncarnation))));
      handOffs.push(ifThere(control(other, (c) => c.replacePeer(h.node, Comlink.transfer(ch.port2, [ch.port2 as never]), incarnation))));
    }
    for (const client of this.clients) {
      if (client.linked.has(h.node)) continue;
      const ch = new MessageChannel();
      client.linked.add(h.node);
      handOffs.push(ifThere(control(h, (c) => c.attachClient(client.address, Comlink.transfer(ch.port1, [ch.port1 as never])))));
      client.replace(h.node, ch.port2, incarnation);
    }
    return Promise.all(handOffs);
  }

  /** Node h's worker is gone, and every channel to it with it. */
  private unlink(h: ReplicaHost): void {
    h.linked.clear();
    for (const other of this.hosts) other.linked.delete(h.node);
    for (const client of this.clients) client.linked.delete(h.node);
  }
}

/** Whether the node's worker is running and can be called (not down, not being started). */
function live(h: ReplicaHost): boolean {
  return !h.exited && h.control !== undefined;
}

/**
 * A control-plane call. The port is referenced while any call to the worker is in flight (counted: one call ending
 * must not let the process exit under another), and the call fails with NodeGoneError when the worker exits first.
 */
function control<T>(h: ReplicaHost, call: (c: Comlink.Remote<ReplicaControl>) => Promise<T>): Promise<T> {
  const remote = h.control;
  const port = h.controlPort;
  if (remote === undefined || port === undefined || h.exited) return Promise.reject(new NodeGoneError(h.node));
  return new Promise<T>((resolve, reject) => {
    if (h.calls.size === 0) port.ref();
    h.calls.add(reject);
    const done = (): void => {
      h.calls.delete(reject);
      if (h.calls.size === 0) port.unref();
    };
    call(remote).then(
      (v) => {
        done();
        resolve(v);
      },
      (e: unknown) => {
        done();
        reject(e);
      },
    );
  });
}

/** What a control call answered; undefined when its worker went away first (its restart starts afresh). */
function ifThere<T>(p: Promise<T>): Promise<T | undefined> {
  return p.catch((e: unknown) => {
    if (e instanceof NodeGoneError) return undefined;
    throw e;
  });
}

/** Whether a control call was answered (false: its worker went away first). */
function answered(p: Promise<unknown>): Promise<boolean> {
  return ifThere(p.then(() => true)).then((ok) => ok === true);
}

/** Drops the control-plane proxy of a worker that is gone or going; its calls in flight fail with `error`. */
function release(h: ReplicaHost, error: LeaderlessError): void {
  const c = h.control;
  h.control = undefined;
  c?.[Comlink.releaseProxy]();
  h.controlPort?.close();
  const calls = [...h.calls];
  h.calls.clear();
  for (const reject of calls) reject(error);
}

async function terminate(h: ReplicaHost): Promise<void> {
  if (h.exited || h.worker === undefined) return;
  h.worker.ref(); // an unreferenced worker would let the process exit before its 'exit' resolves terminate()
  await h.worker.terminate();
  h.exited = true;
}

async function spawn(h: ReplicaHost, config: ResolvedConfig, view: SharedView, peers: Array<[Address, MessagePort]>): Promise<void> {
  const ctl = new MessageChannel();
  const data: ReplicaWorkerData = {
    node: h.node,
    replicaId: h.replicaId,
    config,
    store: h.store.buffers,
    hintStore: h.hintStore.buffers,
    view: view.buffer,
    control: ctl.port1,
    peers,
    wipe: h.wipeOnRestart,
    incarnation: view.incarnation(h.node),
  };
  const worker = new Worker(WORKER_URL, {
    workerData: { kind: 'replica', data },
    transferList: [ctl.port1, ...peers.map(([, p]) => p)] as never,
    name: `leaderless-replica-${h.node}`,
  });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', (m: { type?: string }) => (m?.type === 'ready' ? resolve() : reject(new Error('unexpected first message from a replica worker'))));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`replica worker ${h.node} exited (code ${code}) before it was ready`)));
  });
  // Once started, a replica does not keep the process alive on its own: pending operations do (the client's ticker),
  // and stop() ends the workers.
  worker.unref();
  ctl.port2.unref();
  h.worker = worker;
  h.controlPort = ctl.port2;
  h.control = Comlink.wrap<ReplicaControl>(nodeEndpoint(ctl.port2));
  h.exited = false;
}
