// Anti-entropy benchmark: 1M keys on 3 replicas with 100 keys differing.
//
// Runs on the pure actors (actors/replica.ts + actors/anti-entropy.ts) in this one thread, each replica over its own
// SharedStore, with the exchange messages passed in-process (no worker threads for the replicas: 3M keys through
// postMessage would measure the transport, not anti-entropy). The hash pool (runtime/hash-pool.ts) is real: piscina
// threads read the stores from shared memory.
//
// It prints:
//   1. rehash rates in keys/s: a naive one-key-at-a-time rehash (read the clock, digest, update the segment and its
//      path to the root, per key), the batched rehash in-thread, and the batched rehash on the pool;
//   2. one repair round: what it compared and moved, beside the bytes a full copy of one replica would move.
// It exits 1 when the repair moves more than 1% of a full copy.
//
// Usage: node dist/bench/repair.js [--keys 1000000] [--diff 100] [--threads 2] [--segments 65536] [--naive 200000]

import { DEFAULT_ANTI_ENTROPY, rangesOf, versionDigest, type RoundResult } from '../../actors/anti-entropy/index.js';
import { hash32 } from '../../actors/hash.js';
import { defaultSegmentHasher, MerkleTree, segmentOf } from '../../actors/merkle.js';
import type { Send, StoredClock } from '../../actors/protocol.js';
import { Replica } from '../../actors/replica/index.js';
import { Ring } from '../../actors/ring.js';
import { encodedClockSize } from '../../actors/versioning/codec.js';
import { HashPool, inThreadHasher, poolHasher, rebuildTrees } from '../../runtime/host/hash-pool.js';
import { SharedStore } from '../../runtime/host/store.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} takes a positive integer; got ${process.argv[i + 1]}`);
  return v;
}

const KEYS = arg('keys', 1_000_000);
const DIFF = Math.min(arg('diff', 100), KEYS);
const THREADS = arg('threads', 2);
const SEGMENTS = arg('segments', 65536);
const NAIVE = Math.min(arg('naive', 200_000), KEYS);
const BATCH_SEGMENTS = 1024;

const ring = new Ring({ nodes: [0, 1, 2].map((id) => ({ id, dc: 'dc1', rack: 'r' })), vnodes: 16, replication: 3 });
const ranges = rangesOf(ring);
const config = { ...DEFAULT_ANTI_ENTROPY, segments: SEGMENTS, maxKeysPerMessage: 4096 };

function clockOf(key: string, version: number): StoredClock {
  const values = [];
  for (let n = version; n >= 1; n--) values.push({ v: `value-${key}-${n}`, ts: 1_700_000_000_000 + n, by: '0' });
  // one live value (the newest); older ones are superseded, as after a put with context
  return { entries: [{ id: '0', n: version, values: values.slice(0, 1) }], anonymous: [] };
}

function writerView(s: SharedStore) {
  return {
    get: (k: string): StoredClock | undefined => {
      const c = s.get(k);
      return typeof c === 'symbol' ? undefined : c;
    },
    set: (k: string, c: StoredClock) => s.set(k, c),
    delete: (k: string) => s.delete(k),
  };
}

function makeReplica(node: number, store: SharedStore): Replica {
  return new Replica(writerView(store), {
    node,
    replicaId: String(node),
    conflicts: 'siblings',
    maxPendingPuts: 16,
    antiEntropy: { ranges, placement: (h) => ring.preferenceList(h), config },
  });
}

function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function rate(keys: number, ms: number): string {
  return `${Math.round((keys / ms) * 1000).toLocaleString('en-US')} keys/s`;
}

/** The naive path: per key, read and digest it, add it to its segment and recompute the path to the root. */
function naiveRehash(store: SharedStore, keys: readonly string[]): number {
  const tree = new MerkleTree({ segments: SEGMENTS, fanout: config.fanout });
  const hi = new Uint32Array(SEGMENTS);
  const lo = new Uint32Array(SEGMENTS);
  const get = writerView(store).get;
  const t0 = performance.now();
  for (const k of keys) {
    const digest = versionDigest(get(k)!);
    const seg = segmentOf(k, SEGMENTS);
    const h = defaultSegmentHasher([[k, digest]]);
    hi[seg] = (hi[seg] + Number(h >> 32n)) >>> 0;
    lo[seg] = (lo[seg] + Number(h & 0xffff_ffffn)) >>> 0;
    tree.markSegmentDirty(seg);
    tree.dirtySegments(1);
    tree.applySegmentHashes([[seg, (BigInt(hi[seg]) << 32n) | BigInt(lo[seg])]]);
  }
  return performance.now() - t0;
}

async function main(): Promise<void> {
  console.log(`anti-entropy benchmark: ${KEYS.toLocaleString('en-US')} keys x 3 replicas, ${DIFF} differing, ${SEGMENTS} segments, pure actors + a ${THREADS}-thread hash pool`);
  const t0 = performance.now();
  const stores = [0, 1, 2].map(() => SharedStore.create({ maxKeys: Math.ceil(KEYS * 1.05) + 16, arenaBytes: Math.max(1 << 20, KEYS * 256) }));
  const keys = Array.from({ length: KEYS }, (_, i) => `user:${i.toString(36).padStart(6, '0')}`);
  // every DIFF-th... spread: the differing keys are chosen by hash, so they land in unrelated segments
  const differing = new Set<string>();
  for (let i = 0; differing.size < DIFF; i++) differing.add(keys[hash32(`pick${i}`) % KEYS]);
  let fullCopyBytes = 0;
  for (const k of keys) {
    const c = clockOf(k, 2);
    fullCopyBytes += k.length + encodedClockSize(c);
    stores[0].set(k, c);
    stores[1].set(k, c);
    // replica 2 missed the last write of half the differing keys and every write of the other half
    if (!differing.has(k)) stores[2].set(k, c);
    else if (hash32(k) & 1) stores[2].set(k, clockOf(k, 1));
  }
  console.log(`loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s; full copy of one replica: ${mb(fullCopyBytes)}`);

  const naiveMs = naiveRehash(stores[0], keys.slice(0, NAIVE));
  console.log(`rehash, naive one key at a time (sync, ${NAIVE.toLocaleString('en-US')} keys): ${rate(NAIVE, naiveMs)}`);

  const replicas = stores.map((s, node) => makeReplica(node, s));
  const inThread = await rebuildTrees(replicas[1].antiEntropy!, stores[1].keys(), inThreadHasher(writerView(stores[1]).get), {
    batchSegments: BATCH_SEGMENTS,
    maxInFlight: 1,
  });
  console.log(`rehash, batched in-thread (${inThread.batches} batches): ${rate(inThread.keys, inThread.durationMs)} (index ${inThread.indexMs.toFixed(0)} ms of ${inThread.durationMs.toFixed(0)} ms)`);
  const pool = new HashPool({ threads: THREADS, idleTimeoutMs: 5000 });
  try {
    await rebuildTrees(replicas[2].antiEntropy!, stores[2].keys().slice(0, 1000), poolHasher(pool, stores[2].buffers), { batchSegments: 64, maxInFlight: THREADS });
    const pooled = await rebuildTrees(replicas[0].antiEntropy!, stores[0].keys(), poolHasher(pool, stores[0].buffers), {
      batchSegments: BATCH_SEGMENTS,
      maxInFlight: 2 * THREADS,
    });
    console.log(`rehash, batched on the pool (${pooled.batches} batches, ${THREADS} threads): ${rate(pooled.keys, pooled.durationMs)} (index ${pooled.indexMs.toFixed(0)} ms of ${pooled.durationMs.toFixed(0)} ms)`);
    await rebuildTrees(replicas[2].antiEntropy!, stores[2].keys(), poolHasher(pool, stores[2].buffers), {
      batchSegments: BATCH_SEGMENTS,
      maxInFlight: 2 * THREADS,
    });
  } finally {
    await pool.destroy();
  }

  const result = repairRound(replicas);
  const share = result.bytesMoved / fullCopyBytes;
  console.log(
    `repair round: ${result.exchanges} exchanges, ${result.nodesCompared} nodes compared, ${result.segmentsExchanged} segments ` +
      `exchanged, ${result.keysSent} keys sent, ${mb(result.bytesMoved)} moved in ${result.durationMs.toFixed(0)} ms`,
  );
  console.log(`bytes: repair ${result.bytesMoved.toLocaleString('en-US')} vs full copy ${fullCopyBytes.toLocaleString('en-US')}: ${(share * 100).toFixed(3)}%`);
  for (const k of differing) {
    const a = writerView(stores[0]).get(k);
    const c = writerView(stores[2]).get(k);
    if (a === undefined || c === undefined || versionDigest(a) !== versionDigest(c)) throw new Error(`key ${k} was not repaired`);
  }
  const again = repairRound(replicas);
  console.log(`second round: ${again.keysSent} keys sent, ${again.bytesMoved} bytes (quiet)`);
  if (share > 0.01) {
    console.error(`FAIL: repair moved ${(share * 100).toFixed(3)}% of a full copy; the bound is 1%`);
    process.exitCode = 1;
  }
}

/** One round, node by node, messages passed in-process until quiet. */
function repairRound(replicas: Replica[]): RoundResult & { durationMs: number } {
  const t0 = performance.now();
  const sum = { exchanges: 0, nodesCompared: 0, segmentsExchanged: 0, keysSent: 0, bytesMoved: 0 };
  const queue: Send[] = [];
  replicas.forEach((r) => {
    const id = r.antiEntropy!.startRound(0, [], queue);
    for (let steps = 0; queue.length > 0; steps++) {
      if (steps > 10_000_000) throw new Error('the exchange never went quiet');
      const s = queue.shift()!;
      replicas[s.to].handle(s.msg, 0, queue);
    }
    const res = r.antiEntropy!.roundResult(id);
    if (res === undefined || res.failed > 0) throw new Error(`round of node ${r.node} did not complete: ${JSON.stringify(res)}`);
    for (const k of Object.keys(sum) as Array<keyof typeof sum>) sum[k] += res[k];
  });
  return { ...sum, failed: 0, skipped: 0, ranges: 1, rangeIds: [], segmentsCompared: 0, durationMs: performance.now() - t0 };
}

await main();
