// PBS measured: trials on the simulated cluster running the real protocol, reads at commit + t.
import { Prng, SimCluster, type Distribution, type LeaderlessClient, type SimOptions } from '../../runtime/index.js';
import { MAX_PBS_TRIALS, PBS_CONCURRENCY, PBS_N, checkCount, checkNrw, type PbsProfile, type RwConfig } from './profiles.js';
import type { PbsCoordinator } from './options.js';

export interface SimMeasureOptions {
  r: number;
  w: number;
  trials: number;
  seed: number;
  tMs: readonly number[];
  /** 'any': each write through a node that is none of the key's replicas (a proxy); default 'replica' */
  coordinator?: PbsCoordinator;
}

export interface SimMeasurement {
  trials: number;
  /** per t: trials whose read at t returned the value just written */
  consistent: number[];
  /** puts plus gets the simulation completed */
  ops: number;
  /** events the simulator processed (messages, ticks, wake-ups) */
  events: number;
  virtualMs: number;
  wallMs: number;
  digest: string;
  /** reads that could not be issued at exactly commit + t (must be 0: the pump runs the application in time) */
  lateReads: number;
}

/**
 * The cluster of one cell: strict quorums, reads to all N answered by the first R, no repair of any kind. With a proxy
 * coordinator ('any') one node more, so that every key has a node that is none of its replicas: N + 1 nodes, or (wan)
 * two in dc0, of which the key's dc0 replica is one and the proxy, local to it, the other.
 */
export function pbsClusterOptions(p: PbsProfile, rw: RwConfig, seed: number, trials: number, coordinator: PbsCoordinator = 'replica'): SimOptions {
  const zero: Distribution = { kind: 'constant', ms: 0 };
  const far = 3_600_000; // no timeout, coordinator failover or read retry may fire within a trial
  const extra = coordinator === 'any' ? 1 : 0;
  const topology: SimOptions =
    p.remoteMs > 0
      ? {
          datacenters: [0, 1, 2].map((d) => ({ name: `dc${d}`, nodes: d === 0 ? 1 + extra : 1 })),
          replication: { dc0: 1, dc1: 1, dc2: 1 },
          interDcLatency: { kind: 'constant', ms: p.remoteMs },
        }
      : { nodes: PBS_N + extra, replication: PBS_N };
  return {
    ...topology,
    read: rw.r, write: rw.w, sloppy: false, readRepair: 'off', readFanout: 'all', conflicts: 'siblings',
    timeoutMs: 600_000, coordinatorFailoverMs: far, readRetryMs: far, hintAfterMs: far,
    links: { timeoutMs: far, initialTimeoutMs: far }, // PBS models plain quorums: no replica is routed around
    antiEntropy: { intervalMs: 0 },
    storeMaxKeys: Math.max(1024, 1 << Math.ceil(Math.log2(trials + 1))),
    seed,
    latencyByType: { put: zero, 'put-reply': zero, replicate: p.w, 'replicate-ack': p.a, get: p.r, 'get-reply': p.s },
  };
}

/** Runs `trials` PBS trials on a fresh simulated cluster, PBS_CONCURRENCY at a time. */
export async function measureSim(p: PbsProfile, o: SimMeasureOptions): Promise<SimMeasurement> {
  checkNrw(PBS_N, o.r, o.w);
  checkCount(o.trials, 'trials', MAX_PBS_TRIALS);
  const cluster = SimCluster.create(pbsClusterOptions(p, o, o.seed, o.trials, o.coordinator));
  const clients: LeaderlessClient[] = [];
  for (let node = 0; node < cluster.config.nodes.length; node++) clients.push(await cluster.client({ near: node }));
  // The reader's datacenter is drawn per read from a stream apart from the network's, so draws do not shift latencies.
  const picks = new Prng((o.seed ^ 0x5bd1e995) >>> 0);
  const m: SimMeasurement = {
    trials: o.trials, consistent: o.tMs.map(() => 0), ops: 0, events: 0, virtualMs: 0, wallMs: 0, digest: '', lateReads: 0,
  };
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < o.trials) await simTrial(cluster, clients, picks, o, next++, m);
  };
  await Promise.all(Array.from({ length: Math.min(PBS_CONCURRENCY, o.trials) }, worker));
  m.wallMs = performance.now() - t0;
  m.events = cluster.simCounters.events;
  m.virtualMs = cluster.nowMs;
  m.digest = cluster.traceDigest();
  await cluster.stop();
  return m;
}

/**
 * One trial: write a fresh key through the client beside its coordinator, then read it at commit + t for each t
 * (ascending). One sleep at a time per trial: the simulator checks every waiting sleep on every event.
 */
async function simTrial(
  cluster: SimCluster,
  clients: LeaderlessClient[],
  picks: Prng,
  o: SimMeasureOptions,
  i: number,
  m: SimMeasurement,
): Promise<void> {
  const key = `pbs:${i}`;
  const value = `v${i}`;
  const replicas = cluster.replicasOf(key);
  if (o.coordinator === 'any') {
    // the writer beside a node that is none of the key's replicas, which coordinates the write as a proxy
    const proxy = clients.findIndex((_, node) => !replicas.includes(node));
    await clients[proxy].put(key, value, { w: o.w, coordinator: proxy });
  } else await clients[replicas[0]].put(key, value, { w: o.w });
  m.ops++;
  const commitMs = cluster.nowMs;
  const reads: Array<Promise<void>> = [];
  for (let j = 0; j < o.tMs.length; j++) {
    const atMs = commitMs + o.tMs[j];
    if (atMs > cluster.nowMs) await cluster.sleep(atMs - cluster.nowMs);
    if (Math.abs(cluster.nowMs - atMs) > 1e-9 * Math.max(1, atMs)) m.lateReads++;
    // beside a replica drawn at random (with a proxy, one of the key's: the extra node holds nothing)
    const reader = clients[o.coordinator === 'any' ? replicas[picks.int(PBS_N)] : picks.int(PBS_N)];
    reads.push(
      reader.get(key, { r: o.r }).then((got) => {
        m.ops++;
        if (got.values.includes(value)) m.consistent[j]++;
      }),
    );
  }
  await Promise.all(reads);
}
