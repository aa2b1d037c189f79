// Micro-benchmarks of the protocol's hot pieces (tinybench): ring lookup, key hashing, DVV update and sync, clock
// encoding, and the wire codec's batch encode/decode. The store has its own (bench/micro/micro-store.ts).
//
// Run: npm run bench:micro  (both files), or node dist/bench/micro/micro.js [--time-ms 500]
import { Bench } from 'tinybench';
import { hash32, isWellFormed, keyId, utf8Length, wellFormedUtf8Length } from '../../actors/hash.js';
import { Ring } from '../../actors/ring.js';
import type { Stamped } from '../../actors/types.js';
import { join, newClock, newWithContext, sync, updateWith, type Clock } from '../../actors/versioning/dvv.js';
import { decodeClock, encodeClock } from '../../actors/versioning/codec.js';
import { stampedEqual } from '../../actors/versioning/lww.js';

const BATCH = 1000;
const timeMs = Number(process.argv[process.argv.indexOf('--time-ms') + 1]) || 500;
const keys = Array.from({ length: 4096 }, (_, i) => `user:${i}`);
const hashes = keys.map((k) => hash32(k));
const ring = new Ring({ nodes: Array.from({ length: 5 }, (_, id) => ({ id, dc: 'dc1', rack: `r${id}` })), vnodes: 16, replication: 3 });
const ring100 = new Ring({ nodes: Array.from({ length: 100 }, (_, id) => ({ id, dc: 'dc1', rack: `r${id % 10}` })), vnodes: 64, replication: 3 });

const value = (v: string, ts: number, by: string): Stamped => ({ v, ts, by });
// Three replicas' views of a key after a few concurrent writes: the shapes sync sees in practice.
let a: Clock<Stamped> = updateWith(newClock(value('x'.repeat(100), 1, '0')), { entries: [], anonymous: [] }, '0');
let b: Clock<Stamped> = updateWith(newWithContext(join(a), value('y'.repeat(100), 2, '1')), a, '1');
const c: Clock<Stamped> = updateWith(newClock(value('z'.repeat(100), 3, '2')), a, '2');
a = sync(a, c, stampedEqual);
b = sync(b, a, stampedEqual);
const encoded = encodeClock(b);

let sink = 0;
const bench = new Bench({ time: timeMs, warmupTime: 100 });
const add = (name: string, op: (i: number) => unknown): void => {
  bench.add(name, () => {
    for (let i = 0; i < BATCH; i++) if (op(i) === undefined) sink++;
  });
};
add('keyId + hash32 (ascii key)', (i) => hash32(keyId(keys[i & 4095])));
// The lone-surrogate check on 100-character keys and values: what a put's argument checks add (issue 15).
const ascii100 = Array.from({ length: 64 }, (_, i) => `user:${i}:`.padEnd(100, 'x'));
const bmp100 = ascii100.map((s) => s.replace(/x/g, 'é'));
const astral100 = ascii100.map((s) => s.slice(0, 60) + '\u{1F600}'.repeat(20));
add('utf8Length (100 ascii chars, before)', (i) => utf8Length(ascii100[i & 63]) < 0);
add('wellFormedUtf8Length (100 ascii chars, key)', (i) => wellFormedUtf8Length(ascii100[i & 63]) < 0);
add('isWellFormed (100 ascii chars, value)', (i) => isWellFormed(ascii100[i & 63]) || undefined);
add('isWellFormed (100 latin-1 chars, value)', (i) => isWellFormed(bmp100[i & 63]) || undefined);
add('isWellFormed (surrogate pairs, value)', (i) => isWellFormed(astral100[i & 63]) || undefined);
add('wellFormedUtf8Length alone (100 ascii, value)', (i) => wellFormedUtf8Length(ascii100[i & 63]) < 0 || undefined);
add('ring.preferenceList (5 nodes x 16 vnodes)', (i) => ring.preferenceList(hashes[i & 4095]));
add('ring.preferenceList (100 nodes x 64 vnodes)', (i) => ring100.preferenceList(hashes[i & 4095]));
add('ring.place, all up (allocates)', (i) => ring.place(hashes[i & 4095], () => true));
add('dvv updateWith (write with context)', () => updateWith(newWithContext(join(b), value('w', 4, '0')), b, '0'));
add('dvv sync (two siblings vs one)', () => sync(a, b, stampedEqual));
add('dvv join', () => join(b));
add('codec encodeClock (2 siblings, 100 B each)', () => encodeClock(b));
add('codec decodeClock', () => decodeClock(encoded));

await bench.run();
console.log(`node ${process.version}; ${BATCH} operations per sample`);
console.log(`${'operation'.padEnd(46)} ${'ops/s'.padStart(14)}  ${'ns/op'.padStart(8)}`);
for (const t of bench.tasks) {
  const period = (t.result as { period?: number } | undefined)?.period ?? 0;
  const ops = period > 0 ? (BATCH * 1000) / period : 0;
  console.log(`${t.name.padEnd(46)} ${Math.round(ops).toLocaleString('en-US').padStart(14)}  ${(1e9 / ops).toFixed(0).padStart(8)}`);
}
if (sink < 0) console.log(sink);
