// The embedded-cluster benchmark (npm run bench:compare): leaderless against what a Node developer would otherwise
// reach for, in one run on the same machine.
//
//   leaderless  5 nodes, N=3, R=W=2, the cluster's defaults: put, quorum get and consistency-ONE get at 1 and at 256
//               operations in flight; for reference, quorum gets by message (sharedMemoryReads: 'off')
//   redis       redis-server on loopback through ioredis, same operations (started here if `redis-server` is on the
//               PATH; skipped with a note otherwise)
//   lru-cache   in process, get and set (the floor: no replication, no threads)
//   scaling     the same cluster from 1, 2, 4 (up to 16 where there are cores) application threads (bench/scaling.ts)
//
// Each cell is operations per second over a fixed wall time, with p50 / p99 latency in microseconds and the CPU
// time per operation of every thread. BENCH_SECONDS (default 2) sets the time per cell; BENCH_THREADS=1,2 the
// scaling table's thread counts (empty: no table).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { LRUCache } from 'lru-cache';
import { Cluster } from '../runtime/index.js';
import { latencyHistogram, latencySummary, recordMs } from './histogram.js';
import { formatScaling, measureScaling, type ScalingRow } from './scaling.js';

interface Row {
  system: string;
  op: string;
  inFlight: number;
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
  /** CPU time per operation: every thread of this process, plus the server process's for redis */
  cpuUsPerOp: number;
  note?: string;
}

const KEYS = 10_000;
/** Linux's USER_HZ: /proc/PID/stat counts CPU time in these ticks. */
const CLOCK_TICKS_PER_S = 100;
const VALUE = 'v'.repeat(100);
const seconds = Number(process.env.BENCH_SECONDS ?? 2);
/** Application thread counts of the scaling table: 1, 2, 4, and up to 16 where the machine has the cores. */
const SCALING_THREADS = (process.env.BENCH_THREADS ?? [1, 2, 4, 8, 16].filter((t) => t <= Math.max(4, availableParallelism())).join(','))
  .split(',')
  .filter((t) => t !== '')
  .map(Number);

/** Runs `inFlight` closed loops of `op` for `seconds`; returns throughput and latency. */
async function measure(op: (i: number) => Promise<unknown>, inFlight: number, otherCpuUs: () => number = () => 0): Promise<Omit<Row, 'system' | 'op'>> {
  const h = latencyHistogram();
  let i = 0;
  // warm-up: a short run that is not counted
  const warmEnd = performance.now() + 200;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < warmEnd) await op(i++ % KEYS);
    }),
  );
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  const cpu0 = process.cpuUsage(); // all threads of the process (the replicas' workers included)
  const other0 = otherCpuUs();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await op(i++ % KEYS);
        recordMs(h, performance.now() - t0);
      }
    }),
  );
  const s = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuUs = cpu.user + cpu.system + (otherCpuUs() - other0);
  const l = latencySummary(h);
  return { inFlight, opsPerSec: Math.round(h.totalCount / s), p50Us: l.p50, p99Us: l.p99, cpuUsPerOp: h.totalCount === 0 ? 0 : cpuUs / h.totalCount };
}

/** CPU time a child process has used so far, µs (Linux /proc; 0 where it cannot be read). */
function processCpuUs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS_PER_S; // utime + stime
  } catch {
    return 0;
  }
}

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  return port;
}

async function startRedis(): Promise<{ proc: ChildProcess; port: number } | string> {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const ok = await new Promise<boolean>((resolve) => {
    proc.once('error', () => resolve(false));
    proc.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('Ready to accept connections')) resolve(true);
    });
    setTimeout(() => resolve(false), 5000).unref();
  });
  if (!ok) {
    proc.kill();
    return 'redis-server is not installed (apt-get install redis-server) or did not start: column skipped';
  }
  return { proc, port };
}

/** Puts every key at ALL, so that every replica holds it before reads are measured. */
async function load(cluster: Cluster): Promise<void> {
  for (let i = 0; i < KEYS; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, KEYS - i) }, (_, j) => cluster.put(`key:${i + j}`, VALUE, { consistency: 'ALL' })));
  }
}

async function benchLeaderless(rows: Row[], scaling: ScalingRow[]): Promise<void> {
  // The cluster's defaults (5 nodes, N=3, R=W=2): what a user gets without options. Quorum reads come from the
  // replicas' shared memory (sharedMemoryReads: 'quorum', the default).
  const cluster = await Cluster.start({ nodes: 5, replication: 3, read: 2, write: 2 });
  try {
    await load(cluster);
    // Read-modify-write keeps the key's history linear (no sibling growth): a blind put next to a value makes a sibling.
    const contexts: string[] = new Array(KEYS).fill('');
    for (let i = 0; i < KEYS; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, KEYS - i) }, async (_, j) => {
        contexts[i + j] = (await cluster.get(`key:${i + j}`)).context;
      }));
    }
    const one = { consistency: 'ONE' as const };
    for (const inFlight of [1, 256]) {
      rows.push({
        system: 'leaderless',
        op: 'put (W=2)',
        ...(await measure(async (i) => {
          contexts[i] = (await cluster.put(`key:${i}`, VALUE, contexts[i] === '' ? {} : { context: contexts[i] })).context;
        }, inFlight)),
      });
      rows.push({ system: 'leaderless', op: 'get (R=2)', ...(await measure((i) => cluster.get(`key:${i}`), inFlight)) });
      rows.push({ system: 'leaderless', op: 'get (ONE)', ...(await measure((i) => cluster.get(`key:${i}`, one), inFlight)) });
    }
    if (SCALING_THREADS.length > 0) {
      const options = { keys: KEYS, seconds, value: VALUE };
      scaling.push(...(await measureScaling(cluster, 'get ONE', SCALING_THREADS, { ...options, inFlight: 1 })));
      scaling.push(...(await measureScaling(cluster, 'get R=2', SCALING_THREADS, { ...options, inFlight: 1 })));
      scaling.push(...(await measureScaling(cluster, 'put W=2', SCALING_THREADS, { ...options, inFlight: 64 })));
    }
  } finally {
    await cluster.stop();
  }
  // The protocol's own read path, for reference: every quorum read asks R replicas by message.
  const byMessage = await Cluster.start({ nodes: 5, replication: 3, read: 2, write: 2, sharedMemoryReads: 'off' });
  try {
    await load(byMessage);
    for (const inFlight of [1, 256]) {
      rows.push({ system: 'leaderless', op: 'get (R=2, by message)', ...(await measure((i) => byMessage.get(`key:${i}`), inFlight)) });
    }
  } finally {
    await byMessage.stop();
  }
}

async function benchRedis(rows: Row[], notes: string[]): Promise<void> {
  const started = await startRedis();
  if (typeof started === 'string') {
    notes.push(started);
    return;
  }
  const { Redis } = await import('ioredis');
  const redis = new Redis({ port: started.port, host: '127.0.0.1', lazyConnect: true, enableAutoPipelining: false });
  try {
    await redis.connect();
    for (let i = 0; i < KEYS; i++) await redis.set(`key:${i}`, VALUE);
    for (const inFlight of [1, 256]) {
      const server = (): number => processCpuUs(started.proc.pid);
      rows.push({ system: 'redis (ioredis)', op: 'set', ...(await measure((i) => redis.set(`key:${i}`, VALUE), inFlight, server)) });
      rows.push({ system: 'redis (ioredis)', op: 'get', ...(await measure((i) => redis.get(`key:${i}`), inFlight, server)) });
    }
  } finally {
    redis.disconnect();
    started.proc.kill();
  }
}

async function benchLru(rows: Row[]): Promise<void> {
  const lru = new LRUCache<string, string>({ max: KEYS * 2 });
  for (let i = 0; i < KEYS; i++) lru.set(`key:${i}`, VALUE);
  for (const inFlight of [1, 256]) {
    rows.push({ system: 'lru-cache', op: 'set', ...(await measure(async (i) => lru.set(`key:${i}`, VALUE), inFlight)) });
    rows.push({ system: 'lru-cache', op: 'get', ...(await measure(async (i) => lru.get(`key:${i}`), inFlight)) });
  }
}

function print(rows: Row[], notes: string[], scaling: ScalingRow[]): void {
  const redis = (op: string, inFlight: number): Row | undefined =>
    rows.find((r) => r.system.startsWith('redis') && r.op === op && r.inFlight === inFlight);
  const header = ['system', 'operation', 'in flight', 'ops/s', 'p50 us', 'p99 us', 'CPU us/op', 'vs redis'];
  const lines = rows.map((r) => {
    const base = r.system !== 'redis (ioredis)' ? redis(r.op.startsWith('put') || r.op === 'set' ? 'set' : 'get', r.inFlight) : undefined;
    const ratio = base ? `${(r.opsPerSec / base.opsPerSec).toFixed(2)}x` : '';
    return [r.system, r.op, String(r.inFlight), String(r.opsPerSec), String(r.p50Us), String(r.p99Us), r.cpuUsPerOp.toFixed(2), ratio];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(fmt(l));
  console.log(`\n${seconds} s per cell, ${KEYS} keys, 100-byte values, Node ${process.version}.`);
  console.log('ratios: against redis doing the same (set or get) at the same number in flight.');
  console.log('get (R=2) is the default quorum read, from the replicas\' shared memory; get (R=2, by message) asks two replicas.');
  console.log('CPU us/op: every thread of this process (for leaderless, the replica workers too), plus redis-server\'s own for redis;');
  console.log('unlike ops/s it does not depend on how many cores the machine has or how busy they are.');
  for (const n of notes) console.log(`note: ${n}`);
  if (scaling.length > 0) {
    console.log(`\nthread scaling: T application threads attached to one cluster (Cluster.attach), ${availableParallelism()} cores here`);
    for (const l of formatScaling(scaling)) console.log(l);
  }
}

const rows: Row[] = [];
const notes: string[] = [];
const scaling: ScalingRow[] = [];
await benchLeaderless(rows, scaling);
await benchRedis(rows, notes);
await benchLru(rows);
print(rows, notes, scaling);
