// A serving process of the NATS runtime (`leaderless serve --nats URL --cluster NAME --nodes 0,1`): it hosts some of
// the cluster's replicas, each in its own worker thread (replica-worker.ts) with its own NATS connection, and answers
// the cluster's config subject so that clients (client.ts) and later serving processes learn the cluster's options
// from the cluster itself.
//
// Agreement on options: a process started with options checks them against what the cluster answers and refuses
// to join with different ones (every process must place keys on the same ring); one started without adopts them.
//
// Incarnations: the stores live in this process's memory. A worker that crashes is restarted on the same store
// (crash recovery, as in the thread runtime); a process that is killed loses its stores, so each start mints a new
// incarnation and every replica writes under a new DVV id (`<node>.<inc>`), as a wiped node does in the other
// runtimes: its dots never collide with those of its earlier life. Hinted handoff and anti-entropy refill it.
//
// Faults on a process (for tests and load tests): SIGKILL (killed), SIGSTOP/SIGCONT (stopped), and cut(): every
// message in or out of this process's replicas is dropped, heartbeats included, while the connections stay open
// (SIGUSR2 toggles it from outside) — the effect of a network cut between the process and NATS.

import { Worker } from 'node:worker_threads';
import { InvalidConfigError, show } from '../../actors/errors.js';
import { hintStoreSize, resolveConfig, type ClusterOptions, type ResolvedConfig } from '../config.js';
import { SharedStore } from '../host/store.js';
import { connectTo, Subjects, type NatsConnection, type NatsEndpoint } from './connection.js';
import { discover, endpointOf, type ConfigAnswer } from './discovery.js';
import { NatsCluster } from './cluster.js';
import type { NatsWorkerData, WorkerCommand } from './replica-worker.js';

export interface ServeOptions {
  nats: string | NatsEndpoint;
  cluster: string;
  /** the node ids this process hosts */
  nodes: number[];
  /** the cluster's options; left out: adopt those of the running cluster (defaults when none answers) */
  options?: ClusterOptions;
  /** how long to wait for a running cluster's answer on the config subject (ms, default 500) */
  discoverMs?: number;
  /** a line of log (default none) */
  log?: (line: string) => void;
}

interface Slot {
  node: number;
  replicaId: string;
  store: SharedStore;
  hintStore: SharedStore;
  worker: Worker | undefined;
  /** workers started for this node in this process: a restarted worker heartbeats as a new incarnation */
  starts: number;
}

const WORKER_URL = new URL('./replica-worker.js', import.meta.url);

export class NatsServer {
  private stopped = false;
  private cutOff = false;
  private constructor(
    readonly config: ResolvedConfig,
    readonly options: ClusterOptions,
    private readonly nc: NatsConnection,
    private readonly slots: Slot[],
    private readonly data: Omit<NatsWorkerData, 'node' | 'replicaId' | 'store' | 'hintStore'>,
    private readonly log: (line: string) => void,
  ) {}

  static async start(o: ServeOptions): Promise<NatsServer> {
    const endpoint = endpointOf(o.nats);
    const subjects = new Subjects(o.cluster);
    const log = o.log ?? (() => undefined);
    const nc = await connectTo(endpoint, `leaderless-${o.cluster}-serve`);
    try {
      const running = await discover(nc, subjects, o.discoverMs ?? 500);
      const options = agreedOptions(o.options, running);
      const config = resolveConfig(options);
      checkNodes(o.nodes, config.nodes.length);
      await checkUnserved(nc, subjects, o.nodes, o.discoverMs ?? 500);
      const inc = Date.now().toString(36);
      const slots = o.nodes.map((node) => ({
        node,
        replicaId: `${node}.${inc}`,
        store: SharedStore.create({ maxKeys: config.storeMaxKeys, arenaBytes: config.storeArenaBytes }),
        hintStore: SharedStore.create(hintStoreSize(config)),
        worker: undefined,
        starts: 0,
      }));
      const server = new NatsServer(config, options, nc, slots, { inc, config, endpoint, cluster: o.cluster }, log);
      const spawned = await Promise.allSettled(slots.map((s) => server.spawn(s)));
      const failed = spawned.find((r) => r.status === 'rejected');
      if (failed !== undefined) {
        await server.stop(); // the workers that did start end too: nothing of a failed start keeps running
        throw (failed as PromiseRejectedResult).reason;
      }
      nc.subscribe(subjects.config, {
        callback: (err, msg) => {
          if (err === null && !server.cutOff) msg.respond(JSON.stringify({ options, nodes: o.nodes } satisfies ConfigAnswer));
        },
      });
      await nc.flush();
      log(`serving nodes ${o.nodes.join(',')} of cluster ${o.cluster} (${config.nodes.length} nodes, incarnation ${inc})`);
      return server;
    } catch (e) {
      await nc.close();
      throw e;
    }
  }

  /** The node ids this process hosts. */
  get nodes(): number[] {
    return this.slots.map((s) => s.node);
  }

  private spawn(s: Slot): Promise<void> {
    // the same DVV id on the same store (crash recovery), but a new heartbeat incarnation: peers and clients reset
    // their link to it, as the thread runtime does when it hands a restarted worker's new port around
    const inc = `${this.data.inc}.${s.starts++}`;
    const data: NatsWorkerData = { ...this.data, inc, node: s.node, replicaId: s.replicaId, store: s.store.buffers, hintStore: s.hintStore.buffers };
    const worker = new Worker(WORKER_URL, { workerData: { kind: 'nats-replica', data }, name: `leaderless-nats-replica-${s.node}` });
    s.worker = worker;
    let ready = false;
    return new Promise<void>((resolve, reject) => {
      worker.once('message', (m: { type?: string; message?: string }) => {
        if (m?.type === 'ready') {
          ready = true;
          if (this.cutOff) worker.postMessage({ type: 'cut', on: true } satisfies WorkerCommand);
          resolve();
        } else reject(new InvalidConfigError(`replica ${s.node} did not start: ${m?.message ?? show(m)}`));
      });
      worker.once('error', reject);
      worker.once('exit', (code) => {
        reject(new Error(`replica worker ${s.node} exited (code ${code}) before it was ready`));
        // a worker that never got ready failed its start (the caller has its error); one that ran has crashed
        if (this.stopped || s.worker !== worker || !ready) return;
        // one-for-one: a crashed worker comes back on the same store after restart.delayMs
        this.log(`replica ${s.node} exited (code ${code}); restarting it`);
        setTimeout(() => void this.spawn(s).catch((e: Error) => this.log(`restart of ${s.node} failed: ${e.message}`)), this.config.restart.delayMs);
      });
    });
  }

  /**
   * A client in this process: it reads the stores of the replicas served here without a message (zero hops, for
   * the reads config.sharedMemoryReads allows) and everything else over NATS.
   */
  client(): Promise<NatsCluster> {
    const stores = new Map(this.slots.map((s) => [s.node, SharedStore.attach(s.store.buffers, 'reader')] as const));
    return NatsCluster.connect({ nats: this.data.endpoint, cluster: this.data.cluster }, { stores, isCut: () => this.cutOff });
  }

  /** Cut this process off from NATS (every message in or out dropped), or heal the cut. */
  cut(on: boolean): void {
    this.cutOff = on;
    for (const s of this.slots) s.worker?.postMessage({ type: 'cut', on } satisfies WorkerCommand);
    this.log(on ? 'cut off from NATS (fault)' : 'reconnected to NATS (fault healed)');
  }

  get isCut(): boolean {
    return this.cutOff;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(
      this.slots.map(async (s) => {
        const w = s.worker;
        if (w === undefined || w.threadId === -1) return; // never started, or already exited: no 'exit' to wait for
        const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
        w.postMessage({ type: 'stop' } satisfies WorkerCommand);
        const timer = setTimeout(() => void w.terminate(), 2000);
        await exited;
        clearTimeout(timer);
      }),
    );
    await this.nc.close();
  }
}

/** The options this process runs with: its own (which must equal the running cluster's), or the cluster's. */
function agreedOptions(own: ClusterOptions | undefined, running: ConfigAnswer | undefined): ClusterOptions {
  if (own === undefined) return running?.options ?? {};
  if (running !== undefined && JSON.stringify(resolveConfig(running.options)) !== JSON.stringify(resolveConfig(own))) {
    throw new InvalidConfigError(
      `this process's cluster options differ from those of the running cluster (every process must place keys on the same ring): ` +
        `running ${JSON.stringify(running.options)}, given ${JSON.stringify(own)}; start it without options to adopt the cluster's`,
    );
  }
  return own;
}

/**
 * Refuses to serve a node that another process serves already: two replicas under one node id would each answer for
 * it, and mint dots the other does not know of. Asks each node's control subject; an answer means it is served.
 * A process that is stopped (SIGSTOP) or cut off from NATS does not answer and is not seen: this guards against a
 * mistyped --nodes, not against every race (two processes started at the same instant both find the node free).
 */
async function checkUnserved(nc: NatsConnection, subjects: Subjects, nodes: number[], ms: number): Promise<void> {
  const served = await Promise.all(
    nodes.map(async (node) => {
      try {
        await nc.request(subjects.control(node), JSON.stringify({ op: 'stats' }), { timeout: ms });
        return true;
      } catch {
        return false; // no responders (or no answer in time): nobody serves it
      }
    }),
  );
  const taken = nodes.filter((_, i) => served[i]);
  if (taken.length > 0) {
    throw new InvalidConfigError(
      `node${taken.length > 1 ? 's' : ''} ${taken.join(',')} of this cluster ${taken.length > 1 ? 'are' : 'is'} served by another process ` +
        `already (its replica answered on ${subjects.control(taken[0])}); serve other nodes, or stop that process first`,
      { nodes: taken },
    );
  }
}

function checkNodes(nodes: unknown, total: number): void {
  const ok = Array.isArray(nodes) && nodes.length > 0 && nodes.every((n) => Number.isInteger(n) && n >= 0 && n < total) && new Set(nodes).size === nodes.length;
  if (!ok) throw new InvalidConfigError(`nodes must be distinct node ids from 0 to ${total - 1} (the cluster has ${total} nodes); got ${show(nodes)}`);
}
