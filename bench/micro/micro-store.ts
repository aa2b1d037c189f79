// Micro-benchmark of the per-replica store: get and set on 10k keys with 100-byte values, SharedStore (reader side,
// writer side, and the values-only fast path) against sharedmap, a plain Map, lru-cache and MapStore.
//
// Run: npx tsc -p tsconfig.json && node dist/bench/micro/micro-store.js [--time-ms 500]
// Each tinybench iteration does BATCH operations (a single get is far below the timer's resolution), so
// ops/s = BATCH / mean iteration time. Keys are visited in a fixed pseudo-random order (the same every run).
// Not like for like: SharedStore stores and returns a whole Clock<Stamped> (value, timestamp, replica, DVV entry)
// and copies it out of shared memory; Map and lru-cache return a reference to a string; sharedmap stores strings in
// fixed-size UTF-16 slots under locks.
import { Bench } from 'tinybench';
import { LRUCache } from 'lru-cache';
import sharedmap from 'sharedmap';
import { MapStore, SharedStore } from '../../runtime/host/store.js';
import type { Stamped } from '../../actors/types.js';
import type { Clock } from '../../actors/versioning/dvv.js';

// sharedmap is a UMD module whose module.exports is the class; its typings declare a named export instead.
const SharedMap = sharedmap as unknown as typeof sharedmap.SharedMap;

const KEYS = 10_000;
const VALUE_BYTES = 100;
const BATCH = 1_000;
const ORDER_LENGTH = 1 << 16;

function argNumber(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const keys = Array.from({ length: KEYS }, (_, i) => `user:${i.toString().padStart(6, '0')}`);
const values = keys.map((k, i) => (k + ':' + 'v'.repeat(VALUE_BYTES)).slice(0, VALUE_BYTES - 1) + String(i % 10));
const clocks: Clock<Stamped>[] = values.map((v, i) => ({
  entries: [{ id: 'r1', n: i + 1, values: [{ v, ts: 1_700_000_000_000 + i, by: 'r1' }] }],
  anonymous: [],
}));
/** a fixed pseudo-random visiting order (an LCG), so runs compare */
const order = new Uint32Array(ORDER_LENGTH);
for (let i = 0, x = 12345; i < ORDER_LENGTH; i++) {
  x = (Math.imul(x, 1103515245) + 12345) >>> 0;
  order[i] = x % KEYS;
}

const writer = SharedStore.create({ maxKeys: KEYS * 2, arenaBytes: 64 << 20 });
const reader = SharedStore.attach(writer.buffers, 'reader');
const mapStore = new MapStore({ maxKeys: KEYS * 2, arenaBytes: 64 << 20 });
const map = new Map<string, string>();
const lru = new LRUCache<string, string>({ max: KEYS * 2 });
const shared = new SharedMap(KEYS * 2, 32, VALUE_BYTES + 4);
for (let i = 0; i < KEYS; i++) {
  writer.set(keys[i], clocks[i]);
  mapStore.set(keys[i], clocks[i]);
  map.set(keys[i], values[i]);
  lru.set(keys[i], values[i]);
  shared.set(keys[i], values[i]);
}

let cursor = 0;
let sink = 0;
function batch(op: (i: number) => void): () => void {
  return () => {
    for (let b = 0; b < BATCH; b++) op(order[cursor++ & (ORDER_LENGTH - 1)]);
  };
}

const sinkOf = (x: unknown): void => {
  if (x === undefined) sink++;
};

interface Row {
  name: string;
  kind: 'get' | 'set';
}
const rows: Row[] = [];
const bench = new Bench({ time: argNumber('--time-ms', 500), warmupTime: 100 });
function add(name: string, kind: 'get' | 'set', op: (i: number) => void): void {
  rows.push({ name, kind });
  bench.add(name, batch(op));
}

add('Map get', 'get', (i) => sinkOf(map.get(keys[i])));
add('lru-cache get', 'get', (i) => sinkOf(lru.get(keys[i])));
add('sharedmap get', 'get', (i) => sinkOf(shared.get(keys[i])));
add('MapStore get (clock)', 'get', (i) => sinkOf(mapStore.get(keys[i])));
add('SharedStore reader get (clock)', 'get', (i) => sinkOf(reader.get(keys[i])));
add('SharedStore reader getValues', 'get', (i) => sinkOf(reader.getValues(keys[i])));
add('SharedStore reader getEncoded', 'get', (i) => sinkOf(reader.getEncoded(keys[i])));
add('SharedStore writer get (clock)', 'get', (i) => sinkOf(writer.get(keys[i])));
add('Map set', 'set', (i) => map.set(keys[i], values[i]));
add('lru-cache set', 'set', (i) => lru.set(keys[i], values[i]));
add('sharedmap set', 'set', (i) => shared.set(keys[i], values[i]));
add('MapStore set (clock)', 'set', (i) => mapStore.set(keys[i], clocks[i]));
add('SharedStore set (clock)', 'set', (i) => writer.set(keys[i], clocks[i]));

await bench.run();

const opsPerSec = new Map<string, number>();
for (const task of bench.tasks) {
  const r = task.result as { period?: number } | undefined;
  opsPerSec.set(task.name, r?.period ? (BATCH * 1000) / r.period : 0);
}
const baseline = { get: opsPerSec.get('Map get') ?? 1, set: opsPerSec.get('Map set') ?? 1 };
console.log(`${KEYS} keys, ${VALUE_BYTES}-byte values, ${BATCH} ops per sample; node ${process.version}`);
console.log(`${'operation'.padEnd(34)} ${'ops/s'.padStart(12)}  vs Map`);
for (const row of rows) {
  const ops = opsPerSec.get(row.name) ?? 0;
  const ratio = ops / baseline[row.kind];
  console.log(`${row.name.padEnd(34)} ${Math.round(ops).toLocaleString('en-US').padStart(12)}  ${ratio.toFixed(2)}x`);
}
const s = writer.stats();
console.log(`SharedStore after the run: ${s.keys} keys, ${s.liveBytes} live bytes, ${s.compactions} compactions (sink ${sink})`);
