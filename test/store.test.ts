// SharedStore and MapStore: table tests of the contract and its limits, crash recovery of a compaction, a fast-check
// model test against a Map over random operations (small arenas, so compactions and index rebuilds happen often),
// and a real-worker test in which a reader thread hammers keys while this thread writes and compacts.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { fcParams } from './helpers/fc.js';
import {
  BUSY,
  MapStore,
  SharedStore,
  STORE_META,
  STORE_PHASE,
  type Store,
  type StoreOptions,
} from '../runtime/host/store.js';
import { encodeClock } from '../actors/versioning/codec.js';
import { InvalidArgumentError, InvalidConfigError, StoreFullError } from '../actors/errors.js';
import type { Stamped, Value } from '../actors/types.js';
import type { Clock } from '../actors/versioning/dvv.js';
import { READER_CTRL, clockFor, type ReaderData, type ReaderReport } from './helpers/store-reader-worker.js';

function clock(v: Value | null, n = 1, by = 'r1'): Clock<Stamped> {
  return { entries: [{ id: by, n, values: [{ v, ts: n, by }] }], anonymous: [] };
}

const makers: Array<[string, (o: StoreOptions) => Store]> = [
  ['SharedStore', (o) => SharedStore.create(o)],
  ['MapStore', (o) => new MapStore(o)],
];

for (const [name, make] of makers) {
  describe(`${name}: contract`, () => {
    test('set, get, overwrite, delete, clear', () => {
      const s = make({ maxKeys: 8, arenaBytes: 1 << 14 });
      assert.equal(s.get('a'), undefined);
      s.set('a', clock('one'));
      s.set('b', clock(new Uint8Array([1, 2])));
      s.set('a', clock('two', 2));
      assert.deepEqual(s.get('a'), clock('two', 2));
      assert.deepEqual(s.getValues('b'), [new Uint8Array([1, 2])]);
      assert.deepEqual(s.getEncoded('a'), encodeClock(clock('two', 2)));
      assert.equal(s.size, 2);
      assert.equal(s.has('b'), true);
      assert.deepEqual(s.keys().sort(), ['a', 'b']);
      assert.equal(s.delete('b'), true);
      assert.equal(s.delete('b'), false);
      assert.equal(s.has('b'), false);
      assert.equal(s.size, 1);
      s.clear();
      assert.equal(s.size, 0);
      assert.equal(s.get('a'), undefined);
      assert.equal(s.stats().liveBytes, 0);
    });

    test('key ids are bytes: binary keys, the empty key, and keys that differ only late', () => {
      const s = make({ maxKeys: 8, arenaBytes: 1 << 14 });
      const keys = ['', '\u0000\u00ff', 'x'.repeat(300) + 'a', 'x'.repeat(300) + 'b'];
      keys.forEach((k, i) => s.set(k, clock(`v${i}`)));
      keys.forEach((k, i) => assert.deepEqual(s.getValues(k), [`v${i}`]));
      assert.throws(() => s.set('\u0100', clock('x')), InvalidArgumentError);
    });

    test('forEach visits every key once with its clock', () => {
      const s = make({ maxKeys: 64, arenaBytes: 1 << 16 });
      for (let i = 0; i < 40; i++) s.set(`k${i}`, clock(`v${i}`));
      const seen = new Map<string, Clock<Stamped>>();
      s.forEach((k, c) => seen.set(k, c));
      assert.equal(seen.size, 40);
      for (let i = 0; i < 40; i++) assert.deepEqual(seen.get(`k${i}`), clock(`v${i}`));
    });

    test('maxKeys: a new key past it is refused with a message naming the limit; overwrites still work', () => {
      const s = make({ maxKeys: 3, arenaBytes: 1 << 14 });
      for (const k of ['a', 'b', 'c']) s.set(k, clock(k));
      assert.throws(() => s.set('d', clock('d')), (e: unknown) => {
        assert.ok(e instanceof StoreFullError);
        assert.match(e.message, /maxKeys = 3/);
        assert.equal(e.details.limit, 'maxKeys');
        return true;
      });
      s.set('a', clock('again', 2));
      s.delete('b');
      s.set('d', clock('d'));
      assert.deepEqual(s.keys().sort(), ['a', 'c', 'd']);
    });

    test('arenaBytes: a record that can never fit, and live records that fill it', () => {
      const s = make({ maxKeys: 64, arenaBytes: 1 << 12 });
      assert.throws(() => s.set('big', clock('x'.repeat(3000))), /can never fit|arena is full/);
      let filled = 0;
      assert.throws(() => {
        for (; filled < 64; filled++) s.set(`k${filled}`, clock('y'.repeat(100)));
      }, (e: unknown) => {
        assert.ok(e instanceof StoreFullError);
        assert.match(e.message, /arenaBytes \/ 2 = 2048 bytes/);
        assert.equal(e.details.limit, 'arenaBytes');
        return true;
      });
      assert.ok(filled > 10, `only ${filled} records fit`);
      for (let i = 0; i < filled; i++) assert.deepEqual(s.getValues(`k${i}`), ['y'.repeat(100)]);
      assert.equal(s.size, filled);
    });

    test('invalid options and clocks are refused before anything changes', () => {
      assert.throws(() => make({ maxKeys: 0, arenaBytes: 1 << 14 }), InvalidConfigError);
      assert.throws(() => make({ maxKeys: 1.5, arenaBytes: 1 << 14 }), /maxKeys is 1.5; must be an integer/);
      assert.throws(() => make({ maxKeys: 8, arenaBytes: 100 }), /arenaBytes is 100/);
      const s = make({ maxKeys: 8, arenaBytes: 1 << 14 });
      s.set('a', clock('ok'));
      assert.throws(() => s.set('a', { entries: [{ id: 'r', n: -1, values: [] }], anonymous: [] }), InvalidArgumentError);
      assert.deepEqual(s.get('a'), clock('ok'));
    });

    test('stored clocks are copies: mutating what was set or got changes nothing', () => {
      const s = make({ maxKeys: 8, arenaBytes: 1 << 14 });
      const bytes = new Uint8Array([1, 2, 3]);
      const c = clock(bytes);
      s.set('a', c);
      bytes[0] = 9;
      c.entries[0].n = 99;
      const got = s.get('a');
      assert.ok(got !== undefined && got !== BUSY);
      (got.entries[0].values[0].v as Uint8Array)[1] = 9;
      assert.deepEqual(s.get('a'), clock(new Uint8Array([1, 2, 3])));
    });
  });
}

describe('SharedStore: compaction, readers, writers, recovery', () => {
  test('compaction keeps every live record, and deleted slots are reclaimed', () => {
    const s = SharedStore.create({ maxKeys: 50, arenaBytes: 1 << 14 });
    for (let round = 0; round < 40; round++) {
      for (let k = 0; k < 30; k++) s.set(`k${k}`, clock(`r${round}k${k}`.padEnd(40, '.'), round + 1));
      s.delete(`t${round - 1}`);
      s.set(`t${round}`, clock('temporary'));
    }
    assert.ok(s.stats().compactions > 5, `only ${s.stats().compactions} compactions`);
    for (let k = 0; k < 30; k++) assert.deepEqual(s.getValues(`k${k}`), [`r39k${k}`.padEnd(40, '.')]);
    assert.deepEqual(s.keys().length, 31);
    const before = s.stats();
    s.compact();
    assert.equal(s.stats().liveBytes, before.liveBytes);
    assert.equal(s.stats().compactions, before.compactions + 1);
  });

  test('a reader in the same thread sees every write and cannot write', () => {
    const w = SharedStore.create({ maxKeys: 8, arenaBytes: 1 << 14 });
    const r = SharedStore.attach(w.buffers, 'reader');
    w.set('a', clock('one'));
    assert.deepEqual(r.get('a'), clock('one'));
    w.set('a', clock('two', 2));
    w.compact();
    assert.deepEqual(r.getValues('a'), ['two']);
    assert.throws(() => r.set('a', clock('x')), /attached as 'reader'/);
    assert.throws(() => r.delete('a'), InvalidArgumentError);
    assert.throws(() => r.clear(), InvalidArgumentError);
  });

  test('a reader gets BUSY, not a wrong answer, while the epoch says a compaction is running', () => {
    const w = SharedStore.create({ maxKeys: 8, arenaBytes: 1 << 14 });
    w.set('a', clock('one'));
    const r = SharedStore.attach(w.buffers, 'reader');
    const meta = new Int32Array(w.buffers.meta);
    Atomics.add(meta, STORE_META.EPOCH, 1);
    assert.equal(r.get('a'), BUSY);
    assert.equal(r.getEncoded('a'), BUSY);
    assert.throws(() => r.has('a'), /compacting/);
    Atomics.add(meta, STORE_META.EPOCH, 1);
    assert.deepEqual(r.getValues('a'), ['one']);
  });

  test('a newer writer fences the old one out', () => {
    const old = SharedStore.create({ maxKeys: 8, arenaBytes: 1 << 14 });
    old.set('a', clock('one'));
    const next = SharedStore.attach(old.buffers, 'writer');
    assert.throws(() => old.set('a', clock('stale')), /stale writer/);
    next.set('a', clock('two', 2));
    assert.deepEqual(next.get('a'), clock('two', 2));
  });

  test('attach refuses buffers that are not a store', () => {
    const s = SharedStore.create({ maxKeys: 8, arenaBytes: 1 << 14 });
    assert.throws(() => SharedStore.attach({ ...s.buffers, arena: new SharedArrayBuffer(64) }, 'reader'), InvalidArgumentError);
    assert.throws(() => SharedStore.attach(s.buffers, 'owner' as 'reader'), InvalidArgumentError);
  });

  // Crashes are simulated by putting the meta block in the state a writer killed at that point leaves behind.
  function filled(): SharedStore {
    const s = SharedStore.create({ maxKeys: 64, arenaBytes: 1 << 14 });
    for (let i = 0; i < 40; i++) s.set(`k${i}`, clock(`v${i}`));
    for (let i = 0; i < 40; i += 3) s.set(`k${i}`, clock(`w${i}`, 2));
    s.delete('k1');
    return s;
  }

  function expectFilled(s: Store): void {
    assert.equal(s.size, 39);
    assert.equal(s.get('k1'), undefined);
    for (let i = 2; i < 40; i++) assert.deepEqual(s.getValues(`k${i}`), [i % 3 === 0 ? `w${i}` : `v${i}`]);
  }

  test('recovery: a writer killed while copying leaves the old half and index, which a new writer keeps', () => {
    const s = filled();
    const meta = new Int32Array(s.buffers.meta);
    const arena = new Uint8Array(s.buffers.arena);
    const half = meta[STORE_META.HALF_BYTES];
    arena.fill(0xee, meta[STORE_META.ACTIVE_BASE] === 0 ? half : 0, meta[STORE_META.ACTIVE_BASE] === 0 ? 2 * half : half);
    Atomics.add(meta, STORE_META.EPOCH, 1);
    meta[STORE_META.PHASE] = STORE_PHASE.COPYING;
    meta[STORE_META.KEYS] = 1000; // a stale counter, as a crash inside set can leave
    const next = SharedStore.attach(s.buffers, 'writer');
    assert.equal(Atomics.load(meta, STORE_META.EPOCH) % 2, 0);
    expectFilled(next);
    expectFilled(SharedStore.attach(s.buffers, 'reader'));
  });

  test('recovery: a writer killed while indexing has its index rebuilt from the copied records', () => {
    const s = filled();
    const meta = new Int32Array(s.buffers.meta);
    const oldBase = meta[STORE_META.ACTIVE_BASE];
    s.compact(); // copies into the other half; now rewind to "copied, index half rebuilt"
    Atomics.add(meta, STORE_META.EPOCH, 1);
    meta[STORE_META.PHASE] = STORE_PHASE.INDEXING;
    meta[STORE_META.ACTIVE_BASE] = oldBase;
    new Int32Array(s.buffers.index).fill(0, 0, 40);
    const next = SharedStore.attach(s.buffers, 'writer');
    assert.equal(meta[STORE_META.ACTIVE_BASE], meta[STORE_META.COPY_TARGET]);
    expectFilled(next);
    next.set('k1', clock('back'));
    assert.deepEqual(next.getValues('k1'), ['back']);
  });

  test('recovery: a writer killed while clearing leaves an empty store', () => {
    const s = filled();
    const meta = new Int32Array(s.buffers.meta);
    Atomics.add(meta, STORE_META.EPOCH, 1);
    meta[STORE_META.PHASE] = STORE_PHASE.CLEARING;
    new Int32Array(s.buffers.index).fill(0, 0, 10);
    const next = SharedStore.attach(s.buffers, 'writer');
    assert.equal(next.size, 0);
    assert.deepEqual(next.keys(), []);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Model test: random operations on a small store, compared with a Map after every step.

type Op =
  | { kind: 'set'; key: number; len: number; bytes: boolean }
  | { kind: 'delete'; key: number }
  | { kind: 'clear' }
  | { kind: 'compact' };

const KEYS = 24;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('set' as const), key: fc.nat(KEYS - 1), len: fc.nat(300), bytes: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.nat(KEYS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
);

function valueOf(op: { key: number; len: number; bytes: boolean }, step: number): Value {
  if (op.bytes) return new Uint8Array(op.len).fill(step & 0xff);
  return String.fromCharCode(97 + (step % 26)).repeat(op.len);
}

function applyOp(s: Store, model: Map<string, Clock<Stamped>>, op: Op, step: number, maxKeys: number): void {
  if (op.kind === 'clear') {
    s.clear();
    model.clear();
  } else if (op.kind === 'compact') {
    if (s instanceof SharedStore) s.compact();
  } else if (op.kind === 'delete') {
    assert.equal(s.delete(`key${op.key}`), model.delete(`key${op.key}`));
  } else {
    const key = `key${op.key}`;
    const c = clock(valueOf(op, step), step + 1);
    try {
      s.set(key, c);
      model.set(key, c);
    } catch (e) {
      assert.ok(e instanceof StoreFullError, String(e));
      if (e.details.limit === 'maxKeys') assert.ok(!model.has(key) && model.size >= maxKeys);
      else assert.ok(s.stats().liveBytes + Number(e.details.recordBytes) > s.stats().arenaBytes / 2, e.message);
    }
  }
}

function checkAgainst(s: Store, reader: Store, model: Map<string, Clock<Stamped>>): void {
  assert.equal(s.size, model.size);
  for (let k = 0; k < KEYS; k++) {
    const key = `key${k}`;
    assert.deepEqual(reader.get(key), model.get(key));
  }
}

for (const [name, make] of makers) {
  test(`${name} behaves like a Map over random operations (with compactions and full-store errors)`, () => {
    let compactions = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 20, maxLength: 150 }), (ops) => {
        const opts = { maxKeys: 16, arenaBytes: 6000 };
        const s = make(opts);
        const reader = s instanceof SharedStore ? SharedStore.attach(s.buffers, 'reader') : s;
        const model = new Map<string, Clock<Stamped>>();
        ops.forEach((op, step) => {
          applyOp(s, model, op, step, opts.maxKeys);
          checkAgainst(s, reader, model);
        });
        const listed = new Map<string, Clock<Stamped>>();
        s.forEach((k, c) => listed.set(k, c));
        assert.deepEqual(listed, model);
        compactions += s.stats().compactions;
      }),
      fcParams(150),
    );
    if (name === 'SharedStore') assert.ok(compactions > 100, `only ${compactions} compactions`);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Real threads: a reader worker reads while this thread writes versions of a known shape and compacts often.

test('a reader thread never sees a torn or stale record while the writer overwrites and compacts', async (t) => {
  const keys = Array.from({ length: 48 }, (_, i) => `key-${i}`);
  const writer = SharedStore.create({ maxKeys: 64, arenaBytes: 48 * 1024 });
  keys.forEach((k) => writer.set(k, clockFor(k, 0)));
  const ctrl = new Int32Array(new SharedArrayBuffer(READER_CTRL.FIELDS * 4));
  const data: ReaderData = { store: writer.buffers, ctrl: ctrl.buffer as SharedArrayBuffer, keys };
  const worker = new Worker(new URL('./helpers/store-reader-worker.js', import.meta.url), { workerData: data });
  const report = new Promise<ReaderReport>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const VERSIONS = 300;
  let stalled = false;
  let lastReads = 0;
  for (let n = 1; n <= VERSIONS && !stalled; n++) {
    // Before each round, wait (blocking, bounded, no spinning) until the reader has read since the last round, so
    // reads and writes really interleave even if the worker was slow to start. The bound only catches a dead reader.
    const reads = Atomics.load(ctrl, READER_CTRL.READS);
    if (reads === lastReads) stalled = Atomics.wait(ctrl, READER_CTRL.READS, reads, 10_000) === 'timed-out';
    lastReads = Atomics.load(ctrl, READER_CTRL.READS);
    for (const k of keys) writer.set(k, clockFor(k, n));
  }
  Atomics.store(ctrl, READER_CTRL.STOP, 1);
  const r = await report;
  t.diagnostic(JSON.stringify({ ...r, compactions: writer.stats().compactions }));
  await worker.terminate();
  assert.deepEqual(r.anomalies, []);
  assert.equal(stalled, false, 'the reader stopped reading');
  assert.ok(writer.stats().compactions >= 50, `only ${writer.stats().compactions} compactions`);
  assert.ok(r.found > 0 && r.changes > keys.length, `reader saw too little progress: ${JSON.stringify(r)}`);
  for (const k of keys) assert.deepEqual(writer.get(k), clockFor(k, VERSIONS));
});
