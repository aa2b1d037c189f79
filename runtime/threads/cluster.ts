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
import { InvalidArgumentError, StoppedError, show, type LeaderlessError } from '../../actors/errors.js';
import { CLIENT_BASE, type Address } from '../../actors/protocol.js';
import { ClusterClient, type ClientHandle } from './client.js';
import { CLIENT_KEYS, checkOptions } from '../host/client-core.js';
import { addRound, checkRepairTimeout, clusterMetrics, emptyRepairResult, healthBounds, healthReport } from '../host/cluster-stats.js';
import { checkEvent, checkListener, checkWaitTimeout, waitForEvent } from '../host/events.js';
import { checkDelayMs, checkDropProbability, checkGroups, checkKillOptions, linksOf } from '../host/faults.js';
import { nowMs } from './clock.js';
import { metricsText } from '../metrics.js';
import { nodeEndpoint } from './comlink-node.js';
import { checkOptionsObject, hintStoreSize, resolveConfig, type ClusterOptions, type ResolvedConfig } from '../config.js';
import { NodeStatus, SharedView } from './shared-view.js';
import { SharedStore } from '../host/store.js';
import { Supervisor } from './supervisor.js';
import type { ClusterEvent, ClusterMetrics, Faults, HealthOptions, HealthReport, LeaderlessCluster, NodeEvent, NodeMetrics, RepairResult, ReplicaStats, SettleResult } from '../api.js';
import type { ReplicaControl, ReplicaWorkerData } from './replica-worker.js';
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
  /** killed with stayDown: not restarted until faults.restart */
  holdDown: boolean;
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

const WORKER_URL = new URL('./replica-worker.js', import.meta.url);

export class ThreadCluster extends ClusterClient implements LeaderlessCluster {
  readonly runtime = 'threads' as const;
  private readonly hosts: ReplicaHost[];
  private readonly clients: ClientEntry[] = [];
  private readonly supervisor: Supervisor;
  private readonly restartCounts: number[];
  /** wall-clock start, the repair age of a node that never completed a repair */
  private readonly startedAtMs = nowMs();
  private nextClient = 1;
  private stopping: Promise<void> | undefined;

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

  /** Starts a cluster: one worker thread per replica (the public entry's Cluster.start picks this runtime). */
  static async start(options: ClusterOptions & { runtime?: 'threads' } = {}): Promise<ThreadCluster> {
    checkOptionsObject(options);
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
      holdDown: false,
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
    const cluster = new ThreadCluster(
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
    return waitForEvent(this.supervisor, event, node, timeoutMs, (ms, fire) => {
      const t = setTimeout(fire, ms);
      return () => clearTimeout(t);
    });
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

  /** Fault injection: the vocabulary of runtime/api.ts, the same in the simulator. */
  readonly faults: Faults = {
    kill: (node, options = {}) => this.kill(node, checkKillOptions(options)),
    crash: (node, options = {}) => this.kill(node, { ...checkKillOptions(options, 'crash'), stayDown: false }),
    restart: async (node) => {
      this.checkOpen();
      this.checkNode(node);
      const h = this.hosts[node];
      h.holdDown = false;
      while (h.starting !== undefined) await h.starting.catch(() => undefined);
      if (!h.exited || h.restarting) return;
      h.gaveUp = false;
      await this.restart(h);
    },
    pause: (node) => this.pause(node),
    resume: (node) => this.resume(node),
    partition: (groups) => {
      this.checkOpen();
      const group = new Map<number, number>();
      checkGroups(groups, (x) => this.checkNode(x)).forEach((g, gi) => g.forEach((node) => group.set(node, gi)));
      const n = this.config.nodes.length;
      for (let a = 0; a < n; a++) {
        for (let b = 0; b < n; b++) this.view.setBlocked(a, b, (group.get(a) ?? -1 - a) !== (group.get(b) ?? -1 - b));
      }
    },
    heal: () => {
      this.checkOpen();
      const n = this.config.nodes.length;
      for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) this.view.setBlocked(a, b, false);
    },
    delay: (spec) => {
      this.checkOpen();
      const us = Math.round(checkDelayMs(spec?.ms) * 1000);
      for (const [from, to] of this.linksOf(spec, 'delay', 'ms')) this.view.setDelayUs(from, to, us);
      this.view.setImpaired(true);
    },
    drop: (spec) => {
      this.checkOpen();
      const ppm = Math.round(checkDropProbability(spec?.probability) * 1e6);
      for (const [from, to] of this.linksOf(spec, 'drop', 'probability')) this.view.setDropPpm(from, to, ppm);
      this.view.setImpaired(true);
    },
    clear: async () => {
      this.faults.heal();
      for (const [from, to] of this.linksOf({}, 'clear', '')) {
        this.view.setDelayUs(from, to, 0);
        this.view.setDropPpm(from, to, 0);
      }
      this.view.setImpaired(false);
      for (const h of this.hosts) if (h.paused) await this.resume(h.node);
      for (const h of this.hosts) if (h.holdDown) await this.faults.restart(h.node);
    },
  };

  /**
   * The worker dies; unless stayDown, the supervisor restarts it and it re-attaches to its store (crash-recovery); with
   * wipe it comes back with an empty store (a replaced disk) under a new DVV id. During a restart, the worker being
   * started is the one that dies (after it is up), so the wipe happens all the same.
   */
  private async kill(node: number, o: { wipe: boolean; stayDown: boolean }): Promise<void> {
    this.checkOpen();
    this.checkNode(node);
    const h = this.hosts[node];
    // a restart in progress has already chosen whether to wipe: let it finish, then kill the worker it started
    while (h.starting !== undefined) await h.starting.catch(() => undefined);
    if (o.wipe) {
      if (h.gaveUp && !o.stayDown) {
        throw new InvalidArgumentError(
          `node ${node} cannot be wiped: the restart policy gave up on it (restart.maxRestarts), so it never starts again; use faults.restart(${node})`,
        );
      }
      h.wipeOnRestart = true;
    }
    if (o.stayDown) h.holdDown = true;
    await terminate(h);
  }

  /** The actor stops processing its mailbox and stops heartbeating; messages wait, bounded by the mailbox. */
  private async pause(node: number): Promise<void> {
    this.checkOpen();
    this.checkNode(node);
    const h = this.hosts[node];
    if (h.exited || h.paused) return;
    this.view.setPaused(node, true); // before the actor stops: no client reads its store directly from now on
    if (!(await answered(control(h, (c) => c.pause())))) return; // it went away: it restarts unpaused
    h.paused = true;
    this.supervisor.emit('node-paused', { node, atMs: nowMs() } satisfies NodeEvent);
  }

  private async resume(node: number): Promise<void> {
    this.checkOpen();
    this.checkNode(node);
    const h = this.hosts[node];
    if (h.exited || !h.paused) return;
    if (!(await answered(control(h, (c) => c.resume())))) return; // it went away: it restarts unpaused
    h.paused = false;
    this.view.setPaused(node, false);
    this.supervisor.emit('node-resumed', { node, atMs: nowMs() } satisfies NodeEvent);
  }

  /** The directed links (row, to) a delay or drop names; row n is clients placed near no node. */
  private linksOf(spec: unknown, call: string, valueKey: string): Array<[number, number]> {
    return linksOf(spec, new Set(valueKey === '' ? [] : [valueKey]), call, this.config.nodes.length, (x) => this.checkNode(x));
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
      const stats = (await Promise.all(this.hosts.map((h) => this.statsOf(h)))).filter((s) => s !== undefined);
      // A node running again (resumed, restarted) counts as down until the failure detector has seen it beat, and
      // nobody hands it its hints meanwhile: wait for the detector too.
      const catchingUp = this.hosts.some((h) => live(h) && !h.paused && !this.view.isUp(h.node));
      const deliverable = stats.reduce((a, s) => a + s.hints.owners.filter((o) => this.view.isUp(o)).length + s.hints.inFlight, 0);
      const busy = this.hosts.some((h) => this.view.depth(h.node) > 0 && !h.exited && !h.paused);
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
    const reapedBefore = (await this.metrics()).totals.tombstonesReaped;
    const ranges = new Set<string>();
    for (const h of this.hosts) {
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
    total.tombstonesReaped = (await this.metrics()).totals.tombstonesReaped - reapedBefore;
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
    return healthReport(await this.metrics(), bounds, this.config.mailboxCapacity, nowMs(), this.startedAtMs);
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
    return clusterMetrics({ nodes, client: this.counters, latency: this.latency(), restarts, nowMs: nowMs(), startedAtMs: this.startedAtMs });
  }

  private async nodeMetrics(h: ReplicaHost): Promise<NodeMetrics> {
    const st = this.view.status(h.node);
    const status = st === NodeStatus.Up ? 'up' : st === NodeStatus.Suspect ? 'suspect' : 'down';
    const base = { status, mailboxDepth: this.view.depth(h.node), restarts: this.restartCounts[h.node] } as const;
    const stats = await this.statsOf(h);
    if (stats === undefined) return { ...(h.lastStats ?? emptyStats(h)), ...base, status: 'down', stale: true };
    h.lastStats = stats;
    return { ...stats, ...base, stale: false };
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
      if (h.holdDown) return void this.supervisor.heldDown(h.node, `${reason} (exit code ${code}); held down until faults.restart(${h.node})`);
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

/** A promise's value, or 'timeout' when it has not settled within ms (it is left running). */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
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
