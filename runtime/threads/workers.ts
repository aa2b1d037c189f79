// The worker behind each replica, from the cluster's side: its slot (worker, control-plane proxy, shared stores, what
// it is linked with, restart state), how it is spawned and ended, and control-plane calls that always settle: a call
// fails with NodeGoneError when its worker exits first, and a caller that can answer around a node that went away
// uses ifThere/answered.

import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { StoppedError, type LeaderlessError } from '../../actors/errors.js';
import type { Address } from '../../actors/protocol.js';
import type { ReplicaStats } from '../api.js';
import { hintStoreSize, type ResolvedConfig } from '../config.js';
import { SharedStore } from '../host/store.js';
import { EMPTY_SNAPSHOT, type MembershipSnapshot } from '../../actors/membership/snapshot.js';
import { nodeEndpoint } from './comlink-node.js';
import { emptyAeStats } from '../host/cluster-stats.js';
import type { ReplicaControl, ReplicaWorkerData } from './replica-worker.js';
import type { SharedView } from './shared-view.js';

export interface WorkerSlot {
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
  /** the node left the cluster: its worker is stopped for good and its address stays reserved */
  retired: boolean;
  /** the membership snapshot the current worker was started with (it is synced to anything published later) */
  membership: MembershipSnapshot;
}

/** A slot for node `node`, with its shared stores; no worker yet. */
export function newSlot(config: ResolvedConfig, node: number, linked: Iterable<number>): WorkerSlot {
  return {
    node,
    worker: undefined,
    control: undefined,
    controlPort: undefined,
    store: SharedStore.create({ maxKeys: config.storeMaxKeys, arenaBytes: config.storeArenaBytes }),
    hintStore: SharedStore.create(hintStoreSize(config)),
    replicaId: String(node),
    wipes: 0,
    wipeOnRestart: false,
    exited: true,
    restarting: false,
    gaveUp: false,
    holdDown: false,
    paused: false,
    calls: new Set(),
    linked: new Set(linked),
    starting: undefined,
    retired: false,
    membership: EMPTY_SNAPSHOT,
  };
}

/** A control-plane call's worker exited (killed, crashed) before it answered. */
export class NodeGoneError extends StoppedError {
  constructor(node: number) {
    super(`node ${node}'s worker exited (killed or crashed) before it answered; the supervisor restarts it`);
  }
}

export function emptyStats(h: WorkerSlot): ReplicaStats {
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


const WORKER_URL = new URL('./replica-worker.js', import.meta.url);


/** A promise's value, or 'timeout' when it has not settled within ms (it is left running). */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Whether the node's worker is running and can be called (not down, not being started). */
export function live(h: WorkerSlot): boolean {
  return !h.exited && h.control !== undefined;
}

/**
 * A control-plane call. The port is referenced while any call to the worker is in flight (counted: one call ending
 * must not let the process exit under another), and the call fails with NodeGoneError when the worker exits first.
 */
export function control<T>(h: WorkerSlot, call: (c: Comlink.Remote<ReplicaControl>) => Promise<T>): Promise<T> {
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
export function ifThere<T>(p: Promise<T>): Promise<T | undefined> {
  return p.catch((e: unknown) => {
    if (e instanceof NodeGoneError) return undefined;
    throw e;
  });
}

/** Whether a control call was answered (false: its worker went away first). */
export function answered(p: Promise<unknown>): Promise<boolean> {
  return ifThere(p.then(() => true)).then((ok) => ok === true);
}

/** Drops the control-plane proxy of a worker that is gone or going; its calls in flight fail with `error`. */
export function release(h: WorkerSlot, error: LeaderlessError): void {
  const c = h.control;
  h.control = undefined;
  c?.[Comlink.releaseProxy]();
  h.controlPort?.close();
  const calls = [...h.calls];
  h.calls.clear();
  for (const reject of calls) reject(error);
}

export async function terminate(h: WorkerSlot): Promise<void> {
  if (h.exited || h.worker === undefined) return;
  h.worker.ref(); // an unreferenced worker would let the process exit before its 'exit' resolves terminate()
  await h.worker.terminate();
  h.exited = true;
}

export async function spawn(
  h: WorkerSlot,
  config: ResolvedConfig,
  view: SharedView,
  peers: Array<[Address, MessagePort]>,
  membership: MembershipSnapshot = EMPTY_SNAPSHOT,
): Promise<void> {
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
    membership,
  };
  h.membership = membership;
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

