// The multi-core cache benchmark (npm run bench:multicore): consistency-ONE reads from several application threads
// at once, each attached to the same cluster with a ClientHandle and reading replicas' shared memory directly.
// Prints aggregate reads per second for 1, 2 and 4 reading threads (the replicas' own threads are idle meanwhile:
// these reads send no message). On a 2-core machine the curve flattens at two threads.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Cluster, type ClientHandle } from '../runtime/index.js';

const KEYS = 10_000;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);

interface ReaderData {
  reader: ClientHandle;
  keys: number;
  ms: number;
}

async function reader(data: ReaderData): Promise<void> {
  const client = Cluster.attach(data.reader);
  const one = { consistency: 'ONE' as const };
  const names = Array.from({ length: data.keys }, (_, i) => `key:${i}`);
  parentPort!.postMessage({ ready: true });
  await new Promise((r) => parentPort!.once('message', r)); // start together
  let n = 0;
  let misses = 0;
  const end = performance.now() + data.ms;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) {
      const got = await client.get(names[n++ % data.keys], one);
      if (!got.found) misses++;
    }
  }
  client.close();
  parentPort!.postMessage({ reads: n, misses });
}

async function main(): Promise<void> {
  const cluster = await Cluster.start({ nodes: 5, replication: 3 });
  try {
    const value = 'v'.repeat(100);
    for (let i = 0; i < KEYS; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, KEYS - i) }, (_, j) => cluster.put(`key:${i + j}`, value, { consistency: 'ALL' })));
    }
    console.log(`consistency-ONE reads from T application threads at once (${KEYS} keys, 100-byte values, ${SECONDS} s each)`);
    console.log('threads   reads/s total   per thread   misses');
    let base = 0;
    for (const threads of [1, 2, 4]) {
      const workers: Worker[] = [];
      for (let t = 0; t < threads; t++) {
        const handle = await cluster.createHandle();
        const data: ReaderData = { reader: handle, keys: KEYS, ms: SECONDS * 1000 };
        workers.push(new Worker(new URL(import.meta.url), { workerData: data, transferList: handle.transfer as never }));
      }
      await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
      const results = workers.map((w) => new Promise<{ reads: number; misses: number }>((r) => w.once('message', r)));
      const start = performance.now();
      for (const w of workers) w.postMessage('go');
      const done = await Promise.all(results);
      const s = (performance.now() - start) / 1000;
      const total = done.reduce((a, d) => a + d.reads, 0) / s;
      const misses = done.reduce((a, d) => a + d.misses, 0);
      if (threads === 1) base = total;
      console.log(
        `${String(threads).padStart(7)}   ${Math.round(total).toLocaleString('en-US').padStart(13)}   ${Math.round(total / threads).toLocaleString('en-US').padStart(10)}   ${misses}` +
          (threads > 1 ? `   (${(total / base).toFixed(2)}x one thread)` : ''),
      );
      await Promise.all(workers.map((w) => w.terminate()));
    }
  } finally {
    await cluster.stop();
  }
}

if (isMainThread) await main();
else if ((workerData as ReaderData | undefined)?.reader !== undefined) await reader(workerData as ReaderData);
