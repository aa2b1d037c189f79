// The embedded-cluster benchmark (npm run bench:compare): leaderless against what a Node developer would otherwise
// reach for, in one run on the same machine.
//
//   leaderless  5 nodes, N=3, R=W=2: put and get at 1 and at 256 operations in flight; consistency-ONE reads
//               straight from shared memory (one reading thread, awaited one by one)
//   redis       redis-server on loopback through ioredis, same operations (started here if `redis-server` is on the
//               PATH; skipped with a note otherwise)
//   lru-cache   in process, get and set (the floor: no replication, no threads)
//
// Each cell is operations per second over a fixed wall time, with p50 / p99 latency in microseconds.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { LRUCache } from 'lru-cache';
import { Cluster } from '../runtime/index.js';
import { latencyHistogram, latencySummary, recordMs } from './histogram.js';

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

async function benchLeaderless(rows: Row[]): Promise<void> {
  const cluster = await Cluster.start({ nodes: 5, replication: 3, read: 2, write: 2 });
  try {
    for (let i = 0; i < KEYS; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, KEYS - i) }, (_, j) => cluster.put(`key:${i + j}`, VALUE, { consistency: 'ALL' })));
    }
    // Read-modify-write keeps the key's history linear (no sibling growth): a blind put next to a value makes a sibling.
    const contexts: string[] = new Array(KEYS).fill('');
    for (let i = 0; i < KEYS; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, KEYS - i) }, async (_, j) => {
        contexts[i + j] = (await cluster.get(`key:${i + j}`)).context;
      }));
    }
    for (const inFlight of [1, 256]) {
      rows.push({
        system: 'leaderless',
        op: 'put (W=2)',
        ...(await measure(async (i) => {
          contexts[i] = (await cluster.put(`key:${i}`, VALUE, contexts[i] === '' ? {} : { context: contexts[i] })).context;
        }, inFlight)),
      });
      rows.push({
        system: 'leaderless',
        op: 'get (R=2)',
        ...(await measure(async (i) => {
          contexts[i] = (await cluster.get(`key:${i}`)).context;
        }, inFlight)),
      });
    }
    const one = { consistency: 'ONE' as const };
    rows.push({ system: 'leaderless', op: 'get (ONE, shared memory)', ...(await measure((i) => cluster.get(`key:${i}`, one), 1)) });
  } finally {
    await cluster.stop();
  }
  // The same quorum reads with sharedMemoryReads: 'quorum': the first R primaries' stores merged, no message.
  const shared = await Cluster.start({ nodes: 5, replication: 3, read: 2, write: 2, sharedMemoryReads: 'quorum' });
  try {
    for (let i = 0; i < KEYS; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, KEYS - i) }, (_, j) => shared.put(`key:${i + j}`, VALUE, { consistency: 'ALL' })));
    }
    for (const inFlight of [1, 256]) {
      rows.push({ system: 'leaderless', op: 'get (R=2, shared memory)', ...(await measure((i) => shared.get(`key:${i}`), inFlight)) });
    }
  } finally {
    await shared.stop();
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
  rows.push({ system: 'lru-cache', op: 'set', ...(await measure(async (i) => lru.set(`key:${i}`, VALUE), 1)) });
  rows.push({ system: 'lru-cache', op: 'get', ...(await measure(async (i) => lru.get(`key:${i}`), 1)) });
}

function print(rows: Row[], notes: string[]): void {
  const redis = (op: string, inFlight: number): Row | undefined =>
    rows.find((r) => r.system.startsWith('redis') && r.op === op && r.inFlight === inFlight);
  const header = ['system', 'operation', 'in flight', 'ops/s', 'p50 us', 'p99 us', 'CPU us/op', 'vs redis'];
  const lines = rows.map((r) => {
    const base = r.system === 'leaderless' ? redis(r.op.startsWith('put') ? 'set' : 'get', r.op.includes('ONE') ? 256 : r.inFlight) : undefined;
    const ratio = base ? `${(r.opsPerSec / base.opsPerSec).toFixed(2)}x` : '';
    return [r.system, r.op, String(r.inFlight), String(r.opsPerSec), String(r.p50Us), String(r.p99Us), r.cpuUsPerOp.toFixed(2), ratio];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(fmt(l));
  console.log(`\n${seconds} s per cell, ${KEYS} keys, 100-byte values, Node ${process.version}.`);
  console.log('ratios compare with redis at the same number in flight (ONE reads: against redis get at 256 in flight).');
  console.log('CPU us/op: every thread of this process (for leaderless, the replica workers too), plus redis-server\'s own for redis;');
  console.log('unlike ops/s it does not depend on how many cores the machine has or how busy they are.');
  for (const n of notes) console.log(`note: ${n}`);
}

const rows: Row[] = [];
const notes: string[] = [];
await benchLeaderless(rows);
await benchRedis(rows, notes);
await benchLru(rows);
print(rows, notes);
