// Thread scaling: the same operation from T application threads at once, each attached to one cluster with a
// ClientHandle (Cluster.attach), as an application that embeds leaderless as a multi-core cache would. Used by
// bench/compare.ts (the scaling table) and bench/multicore.ts.
//
// Efficiency is throughput at T threads over T times the throughput at one: 1.0 is perfect scaling. It cannot pass
// the machine's cores: on two cores, four reading threads share two, and puts share them with the replicas' threads.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { ClientHandle } from '../runtime/index.js';
import { Cluster } from '../runtime/index.js';

export type ScalingOp = 'get ONE' | 'get R=2' | 'put W=2';

interface ThreadData {
  kind: 'scaling-thread';
  handle: ClientHandle;
  op: ScalingOp;
  keys: number;
  inFlight: number;
  ms: number;
  value: string;
}

export interface ScalingRow {
  op: ScalingOp;
  threads: number;
  inFlightPerThread: number;
  opsPerSec: number;
  /** throughput over threads x the one-thread throughput */
  efficiency: number;
  failures: number;
}

async function thread(data: ThreadData): Promise<void> {
  const client = Cluster.attach(data.handle);
  const names = Array.from({ length: data.keys }, (_, i) => `key:${i}`);
  const one = { consistency: 'ONE' as const };
  parentPort!.postMessage({ ready: true });
  await new Promise((r) => parentPort!.once('message', r)); // start together
  let n = 0;
  let failures = 0;
  const end = performance.now() + data.ms;
  const loop = async (offset: number): Promise<void> => {
    let i = offset;
    while (performance.now() < end) {
      for (let b = 0; b < 64; b++) {
        const key = names[i++ % data.keys];
        try {
          if (data.op === 'put W=2') await client.put(key, data.value);
          else await client.get(key, data.op === 'get ONE' ? one : undefined);
          n++;
        } catch {
          failures++;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: data.inFlight }, (_, k) => loop(k * 97)));
  client.close();
  parentPort!.postMessage({ ops: n, failures });
}

/** Runs `op` from each number of threads in turn; the cluster must hold `keys` keys named key:0.. already. */
export async function measureScaling(
  cluster: Cluster,
  op: ScalingOp,
  threadCounts: readonly number[],
  options: { keys: number; seconds: number; inFlight: number; value: string },
): Promise<ScalingRow[]> {
  const rows: ScalingRow[] = [];
  let base = 0;
  for (const threads of threadCounts) {
    const workers: Worker[] = [];
    for (let t = 0; t < threads; t++) {
      const handle = await cluster.createHandle();
      const data: ThreadData = { kind: 'scaling-thread', handle, op, keys: options.keys, inFlight: options.inFlight, ms: options.seconds * 1000, value: options.value };
      workers.push(new Worker(new URL(import.meta.url), { workerData: data, transferList: handle.transfer as never }));
    }
    try {
      await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
      const results = workers.map((w) => new Promise<{ ops: number; failures: number }>((r) => w.once('message', r)));
      const start = performance.now();
      for (const w of workers) w.postMessage('go');
      const done = await Promise.all(results);
      const s = (performance.now() - start) / 1000;
      const opsPerSec = done.reduce((a, d) => a + d.ops, 0) / s;
      if (threads === threadCounts[0]) base = opsPerSec / threads;
      rows.push({
        op,
        threads,
        inFlightPerThread: options.inFlight,
        opsPerSec: Math.round(opsPerSec),
        efficiency: base > 0 ? opsPerSec / (threads * base) : 0,
        failures: done.reduce((a, d) => a + d.failures, 0),
      });
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  }
  return rows;
}

export function formatScaling(rows: readonly ScalingRow[]): string[] {
  const lines = ['operation   threads  in flight/thread      ops/s  per thread  efficiency  failures'];
  for (const r of rows) {
    lines.push(
      `${r.op.padEnd(10)}  ${String(r.threads).padStart(7)}  ${String(r.inFlightPerThread).padStart(16)}  ${String(r.opsPerSec).padStart(9)}  ` +
        `${String(Math.round(r.opsPerSec / r.threads)).padStart(10)}  ${r.efficiency.toFixed(2).padStart(10)}  ${String(r.failures).padStart(8)}`,
    );
  }
  return lines;
}

if (!isMainThread && (workerData as ThreadData | undefined)?.kind === 'scaling-thread') await thread(workerData as ThreadData);
