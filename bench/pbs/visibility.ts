// t-visibility measured through the one cluster interface (runtime/api.ts), so that the thread runtime and the
// simulator are measured by the very same code: write a fresh key through the client beside its coordinator, then
// read it at commit + t for each t of a grid (ascending, one sleep at a time per trial), each read from a client
// beside a replica drawn at random; P(consistent at t) = the share of reads at t that returned the value.
import { Prng, type LeaderlessClient, type LeaderlessCluster } from '../../runtime/index.js';
import type { RwConfig } from './profiles.js';

export interface VisibilityOptions extends RwConfig {
  trials: number;
  /** the grid, ms after commit (ascending) */
  tMs: readonly number[];
  /** extra ms added to the j-th t when a read is issued, drawn per read (a modelled lateness; none when measuring) */
  lateness?: (j: number) => number;
  /** trials in flight at once (fresh keys: trials do not interact) */
  concurrency: number;
  /** keys are `${keyPrefix}${i}` (fresh in the cluster) */
  keyPrefix: string;
  /** seeds the choice of reader */
  seed: number;
}

export interface VisibilityCounts {
  trials: number;
  /** per t: reads that returned the value just written */
  consistent: number[];
  /** per t: mean ms by which the read was issued after commit + t (+ lateness): the timer's, 0 in the simulator */
  lateMs: number[];
  /** per t: each read's lateness, ms (for a simulator run to draw from) */
  lateSamplesMs: number[][];
  /** mean ms from issuing the put to its acknowledgement, and the median (robust to a stall on a busy machine) */
  putMs: number;
  putMedianMs: number;
  /** each put's latency, ms (for a calibration) */
  putSamplesMs: number[];
  wallMs: number;
}

/** Runs the trials on `cluster` (N replicas, each with a client beside it); the cluster's own clock and sleep. */
export async function measureVisibility(cluster: LeaderlessCluster, o: VisibilityOptions): Promise<VisibilityCounts> {
  const n = cluster.config.nodes.length;
  const clients: LeaderlessClient[] = [];
  for (let node = 0; node < n; node++) clients.push(await cluster.client({ near: node }));
  const picks = new Prng(o.seed >>> 0);
  const sums = { consistent: o.tMs.map(() => 0), late: o.tMs.map((): number[] => []), put: [] as number[] };
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < o.trials) await trial(cluster, clients, () => picks.int(n), o, next++, sums);
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, o.trials) }, worker));
  for (const c of clients) if (c !== cluster) c.close();
  return {
    trials: o.trials,
    consistent: sums.consistent,
    lateMs: sums.late.map((xs) => xs.reduce((a, b) => a + b, 0) / o.trials),
    lateSamplesMs: sums.late,
    putMs: sums.put.reduce((a, b) => a + b, 0) / o.trials,
    putMedianMs: [...sums.put].sort((a, b) => a - b)[Math.floor(o.trials / 2)],
    putSamplesMs: sums.put,
    wallMs: performance.now() - t0,
  };
}

async function trial(
  cluster: LeaderlessCluster,
  clients: LeaderlessClient[],
  pick: () => number,
  o: VisibilityOptions,
  i: number,
  sums: { consistent: number[]; late: number[][]; put: number[] },
): Promise<void> {
  const key = `${o.keyPrefix}${i}`;
  const value = `v${i}`;
  const startMs = cluster.nowMs;
  await clients[cluster.replicasOf(key)[0]].put(key, value, { w: o.w });
  const commitMs = cluster.nowMs;
  sums.put.push(commitMs - startMs);
  const reads: Array<Promise<void>> = [];
  for (let j = 0; j < o.tMs.length; j++) {
    const atMs = commitMs + o.tMs[j] + (o.lateness?.(j) ?? 0);
    // the clock read once: read twice, it moves between the check and the subtraction (a negative sleep, refused)
    const waitMs = atMs - cluster.nowMs;
    if (waitMs > 0) await cluster.sleep(waitMs);
    sums.late[j].push(Math.max(0, cluster.nowMs - atMs));
    reads.push(
      clients[pick()].get(key, { r: o.r }).then((got) => {
        if (got.values.includes(value)) sums.consistent[j]++;
      }),
    );
  }
  await Promise.all(reads);
}
