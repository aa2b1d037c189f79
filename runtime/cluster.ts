// The public entry: Cluster.start spawns one worker thread per replica, wires a full mesh of MessagePorts between
// them and to this thread's client, and hands out ClientHandles so other threads can attach as clients too.
//
// Threads and memory: each replica's store is a SharedStore (shared memory; the worker is its only writer); the
// SharedView (runtime/shared-view.ts) carries node status and mailbox depths to every thread. The control plane to
// each worker is comlink over its own port (attach a client, stats): never on the per-operation path.

import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from './comlink-node.js';
import { CLIENT_BASE, type Address } from '../actors/protocol.js';
import { InvalidArgumentError } from '../actors/errors.js';
import { ClusterClient, type ClientHandle } from './client.js';
import { resolveConfig, type ClusterOptions, type ResolvedConfig } from './config.js';
import { NodeStatus, SharedView } from './shared-view.js';
import { SharedStore } from './store.js';
import type { ReplicaControl, ReplicaStats, ReplicaWorkerData } from './replica-worker.js';

interface ReplicaHost {
  node: number;
  worker: Worker;
  control: Comlink.Remote<ReplicaControl>;
  controlPort: MessagePort;
  store: SharedStore;
  exited: boolean;
}

export interface ClusterMetrics {
  nodes: Array<ReplicaStats & { status: 'up' | 'suspect' | 'down'; mailboxDepth: number }>;
  client: ClusterClient['counters'];
  totals: {
    puts: number;
    putsOk: number;
    putsFailed: number;
    gets: number;
    replicates: number;
    readRepairs: number;
    hintedWrites: number;
    keys: number;
  };
}

const WORKER_URL = new URL('./replica-worker.js', import.meta.url);

export class Cluster extends ClusterClient {
  private readonly hosts: ReplicaHost[];
  private nextClient = 1;
  private stopping: Promise<void> | undefined;

  private constructor(handle: Omit<ClientHandle, 'transfer'>, hosts: ReplicaHost[]) {
    super(handle);
    this.hosts = hosts;
  }

  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const config = resolveConfig(options);
    const n = config.nodes.length;
    const view = SharedView.create(n);
    const stores = config.nodes.map(() =>
      SharedStore.create({ maxKeys: config.storeMaxKeys, arenaBytes: config.storeArenaBytes }),
    );
    // full mesh between replicas
    const peers: Array<Array<[Address, MessagePort]>> = config.nodes.map(() => []);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const ch = new MessageChannel();
        peers[i].push([j, ch.port1]);
        peers[j].push([i, ch.port2]);
      }
    }
    // this thread's client
    const clientPorts: Array<[number, MessagePort]> = [];
    for (let i = 0; i < n; i++) {
      const ch = new MessageChannel();
      peers[i].push([CLIENT_BASE, ch.port1]);
      clientPorts.push([i, ch.port2]);
    }
    const hosts = await Promise.all(config.nodes.map((spec, i) => spawn(spec.id, config, view, stores[i], peers[i])));
    const cluster = new Cluster(
      { address: CLIENT_BASE, config, view: view.buffer, stores: stores.map((s) => s.buffers), ports: clientPorts },
      hosts,
    );
    for (const h of hosts) {
      h.worker.on('exit', () => {
        h.exited = true;
        if (!cluster.view.stopped) cluster.view.setStatus(h.node, NodeStatus.Down);
      });
    }
    return cluster;
  }

  /** Makes a client from a handle posted by the thread that owns the cluster (see createHandle). */
  static attach(handle: ClientHandle): ClusterClient {
    return new ClusterClient(handle);
  }

  /**
   * A handle another thread can attach with: `worker.postMessage(handle, handle.transfer)`, then
   * `Cluster.attach(handle)` there. Each handle is one client with its own ports; it can be attached once.
   */
  async createHandle(options: { near?: number } = {}): Promise<ClientHandle> {
    this.checkOpen();
    const near = options.near ?? -1;
    if (near !== -1) this.checkNode(near);
    const address = CLIENT_BASE + this.nextClient++;
    const ports: Array<[number, MessagePort]> = [];
    await Promise.all(
      this.hosts.map(async (h) => {
        const ch = new MessageChannel();
        ports.push([h.node, ch.port2]);
        await control(h, () => h.control.attachClient(address, Comlink.transfer(ch.port1, [ch.port1 as never])));
      }),
    );
    ports.sort((a, b) => a[0] - b[0]);
    return {
      address,
      near,
      config: this.config,
      view: this.view.buffer,
      stores: this.hosts.map((h) => h.store.buffers),
      ports,
      transfer: ports.map(([, p]) => p),
    };
  }

  /** Another client in this thread, e.g. placed beside a replica for partition experiments (Jepsen style). */
  async client(options: { near?: number } = {}): Promise<ClusterClient> {
    return new ClusterClient(await this.createHandle(options));
  }

  /** Fault injection at the transport. */
  readonly faults = {
    /** Cuts the replicas into groups: messages between groups are dropped until heal(). Unlisted nodes are isolated. */
    partition: (groups: number[][]): void => {
      this.checkOpen();
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
          const ga = group.get(a) ?? -1 - a;
          const gb = group.get(b) ?? -1 - b;
          this.view.setBlocked(a, b, ga !== gb);
        }
      }
    },
    /**
     * Ends a replica's worker thread. Its store (shared memory) survives; the node is marked down and coordinators
     * route around it. (Supervised restart comes with the supervisor.)
     */
    kill: async (node: number): Promise<void> => {
      this.checkOpen();
      this.checkNode(node);
      const h = this.hosts[node];
      await terminate(h);
      this.view.setStatus(node, NodeStatus.Down);
    },
    /** Ends every partition. */
    heal: (): void => {
      const n = this.config.nodes.length;
      for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) this.view.setBlocked(a, b, false);
    },
  };

  private checkNode(node: number): void {
    if (!Number.isInteger(node) || node < 0 || node >= this.config.nodes.length) {
      throw new InvalidArgumentError(`node must be an integer from 0 to ${this.config.nodes.length - 1}; got ${String(node)}`);
    }
  }

  /** Counters per node (from each worker, over the control plane) and for this thread's client. */
  async metrics(): Promise<ClusterMetrics> {
    this.checkOpen();
    const nodes = await Promise.all(
      this.hosts.map(async (h) => {
        const s = await control(h, () => h.control.stats());
        const st = this.view.status(h.node);
        return {
          ...s,
          status: (st === NodeStatus.Up ? 'up' : st === NodeStatus.Suspect ? 'suspect' : 'down') as 'up' | 'suspect' | 'down',
          mailboxDepth: this.view.depth(h.node),
        };
      }),
    );
    const sum = (f: (s: ReplicaStats) => number): number => nodes.reduce((a, s) => a + f(s), 0);
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
        keys: sum((s) => s.store.keys),
      },
    };
  }

  /** Ends every worker. Pending operations fail with STOPPED; later calls throw STOPPED. Idempotent. */
  stop(): Promise<void> {
    if (this.stopping === undefined) {
      this.view.markStopped();
      this.close();
      this.stopping = Promise.all(
        this.hosts.map(async (h) => {
          h.control[Comlink.releaseProxy]();
          h.controlPort.close();
          await terminate(h);
        }),
      ).then(() => undefined);
    }
    return this.stopping;
  }
}

/** A control-plane call; the port is referenced while it is in flight so the process waits for the answer. */
async function control<T>(h: ReplicaHost, call: () => Promise<T>): Promise<T> {
  h.controlPort.ref();
  try {
    return await call();
  } finally {
    h.controlPort.unref();
  }
}

async function terminate(h: ReplicaHost): Promise<void> {
  if (h.exited) return;
  h.worker.ref(); // an unreferenced worker would let the process exit before its 'exit' resolves terminate()
  await h.worker.terminate();
  h.exited = true;
}

async function spawn(
  node: number,
  config: ResolvedConfig,
  view: SharedView,
  store: SharedStore,
  peers: Array<[Address, MessagePort]>,
): Promise<ReplicaHost> {
  const control = new MessageChannel();
  const data: ReplicaWorkerData = {
    node,
    replicaId: String(node),
    config,
    store: store.buffers,
    view: view.buffer,
    control: control.port1,
    peers,
  };
  const worker = new Worker(WORKER_URL, {
    workerData: { kind: 'replica', data },
    transferList: [control.port1, ...peers.map(([, p]) => p)] as never,
    name: `leaderless-replica-${node}`,
  });
  const remote = Comlink.wrap<ReplicaControl>(nodeEndpoint(control.port2));
  control.port2.unref();
  const host: ReplicaHost = { node, worker, control: remote, controlPort: control.port2, store, exited: false };
  await new Promise<void>((resolve, reject) => {
    worker.once('online', resolve);
    worker.once('error', reject);
  });
  // Once started, a replica does not keep the process alive on its own: pending operations do (the client's ticker),
  // and stop() ends the workers.
  worker.unref();
  return host;
}
