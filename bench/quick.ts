// `leaderless bench` until the full harness lands: a closed-loop read/update workload on an embedded cluster, a
// fixed number of operations in flight, uniform keys from a seeded PRNG, latency in HDR histograms (microseconds).
import * as hdr from 'hdr-histogram-js';
import { Cluster } from '../runtime/index.js';
import type { Level } from '../actors/quorum.js';

export interface QuickBenchOptions {
  nodes: number;
  n: number;
  r: string;
  w: string;
  conflicts: 'siblings' | 'lww';
  keys: number;
  valueSize: number;
  readRatio: number;
  inFlight: number;
  duration: number;
  seed: number;
}

/** mulberry32: a small seeded PRNG; the workload is the same for the same seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function histogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

const level = (s: string): Level => (/^\d+$/.test(s) ? Number(s) : (s.toUpperCase() as Level));

export async function runQuickBench(o: QuickBenchOptions, out: NodeJS.WritableStream): Promise<void> {
  const cluster = await Cluster.start({
    nodes: o.nodes,
    replication: o.n,
    read: level(o.r),
    write: level(o.w),
    conflicts: o.conflicts,
  });
  try {
    const value = 'x'.repeat(o.valueSize);
    const rand = prng(o.seed);
    out.write(`loading ${o.keys} keys ...\n`);
    for (let i = 0; i < o.keys; i += 1000) {
      const batch = [];
      for (let k = i; k < Math.min(o.keys, i + 1000); k++) batch.push(cluster.put(`key:${k}`, value));
      await Promise.all(batch);
    }
    const reads = histogram();
    const writes = histogram();
    let errors = 0;
    const endAt = performance.now() + o.duration * 1000;
    const contexts = new Map<number, string>();
    const loop = async (): Promise<void> => {
      while (performance.now() < endAt) {
        const k = Math.floor(rand() * o.keys);
        const isRead = rand() < o.readRatio;
        const t0 = performance.now();
        try {
          if (isRead) {
            const got = await cluster.get(`key:${k}`);
            contexts.set(k, got.context);
          } else {
            const context = contexts.get(k);
            await cluster.put(`key:${k}`, value, context === undefined ? {} : { context });
          }
          (isRead ? reads : writes).recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
        } catch {
          errors++;
        }
      }
    };
    const started = performance.now();
    const progress = setInterval(() => {
      const done = reads.totalCount + writes.totalCount;
      const s = (performance.now() - started) / 1000;
      process.stderr.write(`\r  ${s.toFixed(0)}s / ${o.duration}s  ${Math.round(done / s)} ops/s   `);
    }, 500);
    await Promise.all(Array.from({ length: o.inFlight }, loop));
    clearInterval(progress);
    process.stderr.write('\n');
    const seconds = (performance.now() - started) / 1000;
    const row = (name: string, h: hdr.Histogram): string =>
      [
        name.padEnd(7),
        String(h.totalCount).padStart(10),
        String(Math.round(h.totalCount / seconds)).padStart(10),
        ...[50, 90, 99, 99.9].map((p) => String(h.getValueAtPercentile(p)).padStart(9)),
        String(h.maxValue).padStart(9),
      ].join(' ');
    out.write(
      `\nleaderless bench: ${o.nodes} nodes, N=${o.n}, R=${o.r}, W=${o.w}, ${o.conflicts}, ${o.keys} keys, ` +
        `${o.valueSize} B values, ${o.inFlight} in flight, ${seconds.toFixed(1)} s, seed ${o.seed}\n\n`,
    );
    out.write(['op'.padEnd(7), 'count'.padStart(10), 'ops/s'.padStart(10), 'p50 us'.padStart(9), 'p90 us'.padStart(9), 'p99 us'.padStart(9), 'p99.9 us'.padStart(9), 'max us'.padStart(9)].join(' ') + '\n');
    out.write(row('read', reads) + '\n');
    out.write(row('update', writes) + '\n');
    out.write(`\nerrors: ${errors}\n`);
  } finally {
    await cluster.stop();
  }
}
