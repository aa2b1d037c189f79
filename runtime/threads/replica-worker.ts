// Worker entry of one replica: drain the mailbox (batches arriving on one MessagePort per peer and per client) into
// the Replica actor from actors/, then perform its sends through the batched Outbox. The store is the shared-memory
// SharedStore this worker is the only writer of; a restarted worker re-attaches to the same buffers.
//
// The control plane (attach a client, stats, stop) is a comlink endpoint on its own port: admin calls only, never a
// per-operation path.

import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from './comlink-node.js';
import type { Address, Message } from '../../actors/protocol.js';
import { Replica } from '../../actors/replica/index.js';
import { SharedStore, type StoreBuffers } from '../host/store.js';
import { writerView } from '../host/writer-view.js';
import { ReplicaHost, replicaOptions } from '../host/replica-host.js';
import { SharedView } from './shared-view.js';
import { GOODBYE, Outbox, type Port } from './transport.js';
import { WireCodec } from './wire.js';
import { baseMembership, type ResolvedConfig } from '../config.js';
import { nowMs } from './clock.js';
import { AeDriver, type RepairRoundResult } from '../host/hash-pool.js';
import type { RebuildStats, ReplicaStats } from '../api.js';
import type { MembershipCall, MembershipReply } from '../../actors/membership/calls.js';
import type { MembershipSnapshot } from '../../actors/membership/snapshot.js';

export interface ReplicaWorkerData {
  node: number;
  replicaId: string;
  config: ResolvedConfig;
  store: StoreBuffers;
  /** where this node's hinted writes persist (survives a crash like the store; a wipe clears both) */
  hintStore: StoreBuffers;
  view: SharedArrayBuffer;
  control: MessagePort;
  peers: Array<[Address, MessagePort]>;
  /** start empty: the node's disk was replaced (faults.crash with wipe) */
  wipe: boolean;
  /** this worker's incarnation (SharedView): the mailbox-depth count it subtracts what it handled from */
  incarnation: number;
  /** the membership published when the worker was started (the cluster syncs it to anything published later) */
  membership: MembershipSnapshot;
}


export interface ReplicaControl {
  attachClient(addr: Address, port: MessagePort): void;
  detachClient(addr: Address): void;
  /** a peer was restarted: talk to it on this new port, which leads to the peer's given incarnation */
  replacePeer(addr: Address, port: MessagePort, incarnation: number): void;
  /** stop handling messages and heartbeating (a GC pause, a hung process); messages wait, bounded by the mailbox */
  pause(): void;
  resume(): void;
  stats(): ReplicaStats;
  /** one anti-entropy round: an exchange with every peer above this node in every shared range */
  repair(): Promise<RepairRoundResult>;
  /** rebuilds the Merkle trees from the store (on the hash pool for large stores) */
  rebuildTrees(): Promise<RebuildStats>;
  /** a membership control call (actors/membership/calls.ts): out of band, so it reaches a paused node too */
  membership(call: MembershipCall): MembershipReply;
}

/** The nodes down now, among the addresses in use (a node that left is down for good). */
function downNodes(view: SharedView, into: number[] = []): number[] {
  into.length = 0;
  const n = view.addresses;
  for (let i = 0; i < n; i++) if (!view.isUp(i)) into.push(i);
  return into;
}

/** The worker's replica: its host (runtime/host/replica-host.ts) on the batched Outbox, and the anti-entropy driver. */
function startReplica(data: ReplicaWorkerData, view: SharedView, ports: Map<Address, Port>, codec: WireCodec) {
  const shared = SharedStore.attach(data.store, 'writer');
  const hinted = SharedStore.attach(data.hintStore, 'writer');
  if (data.wipe) {
    shared.clear();
    hinted.clear();
  }
  const options = replicaOptions(data.config, data.node, data.replicaId, baseMembership(data.config), data.membership);
  const replica = new Replica(writerView(shared), options, { ...writerView(hinted), forEach: (fn) => hinted.forEach(fn) });
  const outbox = new Outbox(ports, codec, view, data.config.mailboxCapacity, data.node);
  let ae: AeDriver | undefined;
  const host = new ReplicaHost<Message[]>({
    node: data.node,
    transport: outbox,
    now: nowMs,
    capacity: data.config.mailboxCapacity,
    // what this worker handled leaves its mailbox: the depth count of this incarnation goes down by as much
    handled: (count) => view.addDepth(data.node, -count, data.incarnation),
    afterRoute: () => ae?.poll(),
  });
  host.attach(replica);
  ae = new AeDriver({
    replica,
    store: shared,
    options: data.config.antiEntropy,
    act: (f) => host.act(f),
    down: () => downNodes(view),
    now: nowMs,
  });
  return { host, outbox, shared, ae };
}

function main(data: ReplicaWorkerData): void {
  const view = new SharedView(data.view, data.config.maxNodes);
  const ports = new Map<Address, Port>();
  const codec = new WireCodec(data.config.datacenters);
  const { host, outbox, shared, ae } = startReplica(data, view, ports, codec);
  const receive = (buffer: ArrayBuffer): void => {
    const batch = codec.decode(buffer);
    if (!host.paused) return host.deliver(batch);
    // held while paused, within the mailbox bound; what the bound refuses is lost, and leaves the depth count
    if (!host.hold(batch, batch.length)) view.addDepth(data.node, -batch.length, data.incarnation);
  };
  const listen = (addr: Address, port: MessagePort): void => {
    const old = ports.get(addr) as MessagePort | undefined;
    if (old !== undefined && old !== port) old.close();
    ports.set(addr, port);
    port.on('message', (data: ArrayBuffer | typeof GOODBYE) => (data === GOODBYE ? (port as MessagePort).close() : receive(data)));
    // a client that closes its end closes this one too: forget it, or client churn grows the map without bound
    port.once('close', () => {
      if (ports.get(addr) === port) ports.delete(addr);
    });
  };
  for (const [addr, port] of data.peers) listen(addr, port);

  const down: number[] = [];
  const tick = setInterval(() => {
    if (host.paused) return;
    view.beat(data.node);
    host.tick(downNodes(view, down));
  }, data.config.tickMs);
  tick.unref();

  const control: ReplicaControl = {
    attachClient: (addr, port) => listen(addr, port),
    detachClient(addr) {
      const p = ports.get(addr) as MessagePort | undefined;
      ports.delete(addr);
      p?.close();
    },
    replacePeer(addr, port, incarnation) {
      outbox.incarnations.set(addr, incarnation);
      host.replica?.links.restarted(addr); // a restarted peer: the link to its new incarnation starts afresh
      listen(addr, port);
    },
    pause: () => host.pause(),
    resume() {
      for (const batch of host.resume()) host.deliver(batch);
    },
    stats: () => host.stats(data.replicaId, { batchesOut: outbox.batches, store: shared.stats(), ae: ae.stats() }),
    repair: () => ae.repair(),
    rebuildTrees: () => ae.rebuild(),
    membership(call) {
      let reply: MembershipReply | undefined;
      host.act((out) => {
        reply = host.replica!.membershipCall(call, nowMs(), out);
      });
      return reply!;
    },
  };
  Comlink.expose(control, nodeEndpoint(data.control));
  // Ready: the store is attached (and wiped if asked) and every port listens. The spawner waits for this.
  parentPort!.postMessage({ type: 'ready', node: data.node });
  // Trees are not persisted: rebuild them from the store (a no-op when it is empty, e.g. after a wipe).
  void ae.rebuild().catch(() => undefined);
}

if (!isMainThread && parentPort !== null && (workerData as { kind?: string })?.kind === 'replica') {
  main((workerData as { data: ReplicaWorkerData }).data);
}
