// Worker entry of one replica served over NATS: the same Replica actor and ReplicaHost as the thread runtime
// (runtime/host/), with its own NATS connection instead of MessagePorts. Batches for this node arrive on its subject
// and go into the host; the actor's sends leave through the batched NatsOutbox. Heartbeats go out on the cluster's
// heartbeat subject, and this worker's own detector (detector.ts) tells the host which peers are down (for sloppy
// quorums and hinted handoff). Control calls (stats, repair, inspect) arrive as JSON requests on ctl.<node>: admin
// calls only, never a per-operation path.
//
// The store is a SharedStore created by the serving process's main thread: a crashed worker is restarted on it
// (crash recovery); a killed process loses it, and comes back under a new DVV id (server.ts).

import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { Message } from '../../actors/protocol.js';
import { Replica } from '../../actors/replica/index.js';
import { checkKey } from '../../actors/coordinator/checks.js';
import { toInspection } from '../../actors/coordinator/results.js';
import { SharedStore, type StoreBuffers } from '../host/store.js';
import { writerView } from '../host/writer-view.js';
import { ReplicaHost, replicaOptions } from '../host/replica-host.js';
import { AeDriver } from '../host/hash-pool.js';
import { baseMembership, type ResolvedConfig } from '../config.js';
import { WireCodec } from '../threads/wire.js';
import { connectTo, Subjects, type NatsConnection, type NatsEndpoint } from './connection.js';
import { decodeHeartbeat, encodeHeartbeat, HeartbeatDetector } from './detector.js';
import { NatsOutbox, payloadBuffer } from './transport.js';
import { controlError, type ControlReply, type ControlRequest } from './control.js';

export interface NatsWorkerData {
  node: number;
  replicaId: string;
  /** this serving process's incarnation: heartbeats carry it, so peers see a restarted process as new */
  inc: string;
  config: ResolvedConfig;
  store: StoreBuffers;
  hintStore: StoreBuffers;
  endpoint: NatsEndpoint;
  cluster: string;
}

/** What the serving process's main thread posts to a worker. */
export type WorkerCommand = { type: 'cut'; on: boolean } | { type: 'stop' };

const nowMs = (): number => performance.timeOrigin + performance.now();

function startReplica(data: NatsWorkerData, outbox: NatsOutbox, detector: HeartbeatDetector) {
  const shared = SharedStore.attach(data.store, 'writer');
  const hinted = SharedStore.attach(data.hintStore, 'writer');
  const options = replicaOptions(data.config, data.node, data.replicaId, baseMembership(data.config));
  const replica = new Replica(writerView(shared), options, { ...writerView(hinted), forEach: (fn) => hinted.forEach(fn) });
  let ae: AeDriver | undefined;
  const host = new ReplicaHost<Message[]>({
    node: data.node,
    transport: outbox,
    now: nowMs,
    capacity: data.config.mailboxCapacity,
    afterRoute: () => ae?.poll(),
  });
  host.attach(replica);
  ae = new AeDriver({ replica, store: shared, options: data.config.antiEntropy, act: (f) => host.act(f), down: () => detector.down(), now: nowMs });
  return { host, shared, ae };
}

type Started = ReturnType<typeof startReplica>;

/** Control calls on ctl.<node>: JSON in, JSON out; an error comes back as { ok: false, message }. */
function listenControl(nc: NatsConnection, subject: string, outbox: NatsOutbox, answer: (req: ControlRequest) => Promise<ControlReply>): void {
  nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err !== null || outbox.cut) return;
      void answer(msg.json<ControlRequest>()).then(
        (reply) => msg.respond(JSON.stringify(reply)),
        (e: unknown) => msg.respond(JSON.stringify(controlError(e))),
      );
    },
  });
}

async function answer(
  req: ControlRequest,
  data: NatsWorkerData,
  host: Started['host'],
  outbox: NatsOutbox,
  shared: SharedStore,
  ae: AeDriver,
  decodeErrors: () => number,
): Promise<ControlReply> {
  switch (req?.op) {
    case 'stats':
      return { ok: true, stats: host.stats(data.replicaId, { batchesOut: outbox.batches, store: shared.stats(), ae: ae.stats() }), decodeErrors: decodeErrors() };
    case 'repair':
      return { ok: true, round: await ae.repair() };
    case 'inspect': {
      const c = shared.get(checkKey(req.key, data.config.maxKeyBytes));
      if (typeof c === 'symbol') throw new Error('store busy compacting; retry');
      return { ok: true, inspection: c === undefined ? null : toInspection(c) };
    }
    default:
      throw new Error(`unknown control op ${JSON.stringify((req as { op?: unknown })?.op)}; allowed: stats, repair, inspect`);
  }
}

async function main(data: NatsWorkerData): Promise<void> {
  const { node, config } = data;
  const subjects = new Subjects(data.cluster);
  const nc = await connectTo(data.endpoint, `leaderless-${data.cluster}-replica-${node}`);
  const codec = new WireCodec(config.datacenters);
  const detector = new HeartbeatDetector(config.nodes.length, config.failureDetector, nowMs(), node);
  const outbox = new NatsOutbox(nc, subjects, codec, config.mailboxCapacity);
  const { host, shared, ae } = startReplica(data, outbox, detector);
  let decodeErrors = 0;

  nc.subscribe(subjects.node(node), {
    callback: (err, msg) => {
      if (err !== null || outbox.cut) return;
      let batch: Message[];
      try {
        batch = codec.decode(payloadBuffer(msg.data));
      } catch {
        decodeErrors++; // not a batch of this protocol: dropped, never trusted
        return;
      }
      host.deliver(batch);
    },
  });
  nc.subscribe(subjects.heartbeat, {
    callback: (err, msg) => {
      if (err !== null || outbox.cut) return;
      const h = decodeHeartbeat(msg.data, config.nodes.length);
      if (h === undefined || h.node === node) return;
      if (detector.beat(h, nowMs())) host.replica?.links.restarted(h.node); // a restarted peer: its link starts afresh
    },
  });
  listenControl(nc, subjects.control(node), outbox, (req) => answer(req, data, host, outbox, shared, ae, () => decodeErrors));

  const down: number[] = [];
  const tick = setInterval(() => host.tick(detector.down(down)), config.tickMs);
  const heartbeat = encodeHeartbeat({ node, inc: data.inc });
  const beat = setInterval(() => {
    detector.sample(nowMs());
    if (outbox.cut || nc.isClosed()) return;
    try {
      nc.publish(subjects.heartbeat, heartbeat);
    } catch {
      // closed meanwhile: the process is stopping
    }
  }, config.failureDetector.sampleMs);

  parentPort!.on('message', (m: WorkerCommand) => {
    if (m.type === 'cut') outbox.cut = m.on;
    else if (m.type === 'stop') {
      clearInterval(tick);
      clearInterval(beat);
      outbox.flush();
      void nc.drain().finally(() => process.exit(0));
    }
  });
  await nc.flush(); // subscriptions are registered at the server before the process says it is ready
  parentPort!.postMessage({ type: 'ready', node });
  void ae.rebuild().catch(() => undefined);
}

if (!isMainThread && parentPort !== null && (workerData as { kind?: string })?.kind === 'nats-replica') {
  main((workerData as { data: NatsWorkerData }).data).catch((e: unknown) => {
    parentPort!.postMessage({ type: 'failed', message: e instanceof Error ? e.message : String(e) });
    process.exit(1);
  });
}
