// Merkle tree: shape and validation tables, dirty-mark bookkeeping (including a write racing a batched rehash), and
// property tests: two replicas whose key sets differ in known ways diff to exactly those keys, leaf hashes do not
// depend on write order or fanout, syncing empties the diff, and a diff compares O(k * fanout * depth) nodes.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fcParams } from './helpers/fc.js';
import { InvalidArgumentError, InvalidConfigError } from '../actors/errors.js';
import {
  MerkleTree,
  defaultSegmentHasher,
  diffKeys,
  diffSegments,
  digest32,
  segmentOf,
  type SegmentItem,
} from '../actors/merkle.js';

// A replica's store as the tree sees it: keyId -> version digest, grouped by segment on demand.
class FakeStore {
  readonly data = new Map<string, number>();
  constructor(readonly tree: MerkleTree) {}
  put(id: string, digest: number): void {
    this.data.set(id, digest);
    this.tree.markDirty(id);
  }
  del(id: string): void {
    this.data.delete(id);
    this.tree.markDirty(id);
  }
  items(segment: number): SegmentItem[] {
    return [...this.data].filter(([id]) => this.tree.segmentOf(id) === segment);
  }
}

function fill(store: FakeStore, entries: Array<[string, number]>): FakeStore {
  for (const [id, d] of entries) store.put(id, d);
  store.tree.rehash((s) => store.items(s));
  return store;
}

describe('merkle: configuration and shape', () => {
  const shapes: Array<[segments: number, fanout: number, sizes: number[]]> = [
    [1, 16, [1]],
    [2, 2, [1, 2]],
    [16, 16, [1, 16]],
    [1024, 16, [1, 4, 64, 1024]],
    [1024, 32, [1, 32, 1024]],
    [64, 4, [1, 4, 16, 64]],
    [8, 256, [1, 8]],
  ];
  for (const [segments, fanout, sizes] of shapes) {
    test(`${segments} segments, fanout ${fanout} -> level sizes ${sizes.join(',')}`, () => {
      const t = new MerkleTree({ segments, fanout });
      assert.equal(t.leafDepth, sizes.length - 1);
      assert.deepEqual(sizes.map((_, d) => t.levelSize(d)), sizes);
    });
  }

  test('defaults: 1024 segments, fanout 16', () => {
    const t = new MerkleTree();
    assert.equal(t.segments, 1024);
    assert.equal(t.fanout, 16);
  });

  const bad: Array<[string, object, RegExp]> = [
    ['segments not a power of two', { segments: 1000 }, /power of two from 1 to/],
    ['segments zero', { segments: 0 }, /got 0/],
    ['segments too many', { segments: 1 << 21 }, /1048576/],
    ['fanout 1', { fanout: 1 }, /fanout must be a power of two from 2 to 256; got 1/],
    ['fanout 12', { fanout: 12 }, /got 12/],
    ['fanout 512', { fanout: 512 }, /got 512/],
    ['batch 0', { maxRehashBatch: 0 }, /maxRehashBatch must be a positive integer; got 0/],
    ['batch 1.5', { maxRehashBatch: 1.5 }, /got 1.5/],
  ];
  for (const [name, config, message] of bad) {
    test(`rejects ${name}`, () => {
      const isConfigError = (e: unknown) => e instanceof InvalidConfigError && message.test(e.message);
      assert.throws(() => new MerkleTree(config), isConfigError);
    });
  }

  test('accessors reject out-of-range nodes', () => {
    const t = new MerkleTree({ segments: 64, fanout: 4 });
    assert.throws(() => t.node(4, 0), InvalidArgumentError);
    assert.throws(() => t.node(1, 4), InvalidArgumentError);
    assert.throws(() => t.children(3, 0), /is a leaf/);
    assert.throws(() => t.markSegmentDirty(64), /0 .. 63; got 64/);
    assert.equal(t.children(0, 0).length, 4);
    assert.equal(t.children(2, 15).length, 4);
  });

  test('segmentOf uses the top bits of hash32 and stays in range', () => {
    for (const segments of [1, 2, 1024, 1 << 20]) {
      for (const id of ['', 'a', 'user:1', '\u00ff\u0000']) {
        const s = segmentOf(id, segments);
        assert.ok(Number.isInteger(s) && s >= 0 && s < segments, `${id} -> ${s} of ${segments}`);
      }
    }
    // Refining the segment count splits a segment in two: the top bits agree.
    for (const id of ['a', 'b', 'user:1', 'user:2']) assert.equal(segmentOf(id, 1024) >> 1, segmentOf(id, 512));
  });

  test('digest32 takes a string as its UTF-8 bytes', () => {
    assert.equal(digest32('héllo'), digest32(new TextEncoder().encode('héllo')));
    assert.notEqual(digest32('a'), digest32('b'));
    assert.notEqual(digest32('a'), digest32('a', 1));
  });
});

describe('merkle: hashes', () => {
  test('an empty segment hashes to 0n; the default hasher ignores order', () => {
    assert.equal(defaultSegmentHasher([]), 0n);
    const items: SegmentItem[] = [['a', 1], ['b', 2], ['c', 3]];
    assert.equal(defaultSegmentHasher(items), defaultSegmentHasher([...items].reverse()));
    assert.notEqual(defaultSegmentHasher(items), defaultSegmentHasher([['a', 1], ['b', 2], ['c', 4]]));
    assert.notEqual(defaultSegmentHasher(items), defaultSegmentHasher([['a', 1], ['b', 2]]));
  });

  test('two empty trees of one shape have equal roots; a write changes the root', () => {
    const a = new MerkleTree({ segments: 64, fanout: 4 });
    const b = new MerkleTree({ segments: 64, fanout: 4 });
    assert.equal(a.root(), b.root());
    const s = fill(new FakeStore(a), [['k', 7]]);
    assert.notEqual(a.root(), b.root());
    s.del('k');
    a.rehash((seg) => s.items(seg));
    assert.equal(a.root(), b.root());
  });

  test('a custom hasher is used, and the root covers its result', () => {
    const t = new MerkleTree({ segments: 16, fanout: 4 });
    const before = t.root();
    t.markSegmentDirty(5);
    t.rehash(() => [], () => 42n);
    assert.equal(t.node(t.leafDepth, 5), 42n);
    assert.notEqual(t.root(), before);
  });
});

describe('merkle: dirty marks and batches', () => {
  test('markDirty is idempotent and dirtySegments hands out oldest first, bounded', () => {
    const t = new MerkleTree({ segments: 16, fanout: 4, maxRehashBatch: 2 });
    for (const s of [3, 1, 3, 7, 1]) t.markSegmentDirty(s);
    assert.equal(t.dirtyCount(), 3);
    assert.deepEqual(t.dirtySegments(), [3, 1]);
    assert.deepEqual(t.dirtySegments(5), [7]);
    assert.deepEqual(t.dirtySegments(), []);
    assert.equal(t.isSettled(), false);
    t.applySegmentHashes([[3, 1n], [1, 2n], [7, 3n]]);
    assert.equal(t.isSettled(), true);
  });

  test('a write racing a handed-out segment keeps it dirty (no lost update)', () => {
    const t = new MerkleTree({ segments: 16, fanout: 4 });
    t.markSegmentDirty(9);
    assert.deepEqual(t.dirtySegments(), [9]);
    t.markSegmentDirty(9); // written while a worker hashes the old contents
    t.applySegmentHashes([[9, 5n]]);
    assert.equal(t.node(t.leafDepth, 9), 5n);
    assert.equal(t.isSettled(), false);
    assert.deepEqual(t.dirtySegments(), [9]);
    t.applySegmentHashes([[9, 6n]]);
    assert.equal(t.isSettled(), true);
  });

  test('returnSegments puts a failed batch back; applying a segment not handed out throws', () => {
    const t = new MerkleTree({ segments: 16, fanout: 4 });
    t.markSegmentDirty(2);
    t.markSegmentDirty(4);
    const batch = t.dirtySegments();
    t.markSegmentDirty(4);
    t.returnSegments(batch);
    assert.equal(t.dirtyCount(), 2);
    assert.deepEqual(t.dirtySegments().sort(), [2, 4]);
    assert.throws(() => t.applySegmentHashes([[3, 1n]]), /was not handed out/);
    assert.throws(() => t.applySegmentHashes([[2, -1n]]), /bigint in 0 .. 2\^64-1/);
    assert.throws(() => t.dirtySegments(0), /positive integer/);
  });

  test('diffSegments refuses unsettled or differently shaped trees', () => {
    const a = new MerkleTree({ segments: 16, fanout: 4 });
    const b = new MerkleTree({ segments: 16, fanout: 2 });
    assert.throws(() => diffSegments(a, b), /different shapes/);
    const c = new MerkleTree({ segments: 16, fanout: 4 });
    c.markSegmentDirty(0);
    assert.throws(() => diffSegments(a, c), /rehash both trees first/);
  });

  test('markAllDirty then rehash rebuilds the tree from the store', () => {
    const a = fill(new FakeStore(new MerkleTree({ segments: 32, fanout: 4 })), [['x', 1], ['y', 2], ['z', 3]]);
    const fresh = new MerkleTree({ segments: 32, fanout: 4 });
    fresh.markAllDirty();
    assert.equal(fresh.rehash((s) => a.items(s)), 32);
    assert.equal(fresh.root(), a.tree.root());
  });
});

describe('merkle: diffKeys', () => {
  test('table', () => {
    const cases: Array<[SegmentItem[], SegmentItem[], { onlyA: string[]; onlyB: string[]; differ: string[] }]> = [
      [[], [], { onlyA: [], onlyB: [], differ: [] }],
      [[['a', 1]], [], { onlyA: ['a'], onlyB: [], differ: [] }],
      [[], [['b', 1]], { onlyA: [], onlyB: ['b'], differ: [] }],
      [[['a', 1], ['b', 2]], [['b', 3], ['a', 1], ['c', 0]], { onlyA: [], onlyB: ['c'], differ: ['b'] }],
    ];
    for (const [a, b, want] of cases) assert.deepEqual(diffKeys(a, b), want);
    assert.throws(() => diffKeys([['a', 1], ['a', 2]], []), /listed twice in side A/);
  });
});

// Key sets for two replicas: keys in both with one digest, only in A, only in B, in both with different digests.
const keyName = fc.string({ minLength: 1, maxLength: 8 });
const scenario = fc
  .uniqueArray(keyName, { minLength: 0, maxLength: 80, size: 'max' })
  .chain((keys) =>
    fc.record({
      keys: fc.constant(keys),
      kinds: fc.array(fc.constantFrom('same', 'onlyA', 'onlyB', 'differ'), {
        minLength: keys.length,
        maxLength: keys.length,
      }),
      digests: fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: keys.length, maxLength: keys.length }),
      seed: fc.nat(),
      segments: fc.constantFrom(1, 16, 64, 256),
      fanout: fc.constantFrom(2, 4, 16, 32),
    }),
  );

function build(s: { keys: string[]; kinds: string[]; digests: Array<[number, number]> }) {
  const a: Array<[string, number]> = [];
  const b: Array<[string, number]> = [];
  const want = { onlyA: [] as string[], onlyB: [] as string[], differ: [] as string[] };
  s.keys.forEach((k, i) => {
    const [d1, d2] = s.digests[i];
    const kind = s.kinds[i];
    if (kind !== 'onlyB') a.push([k, d1]);
    if (kind === 'same') b.push([k, d1]);
    if (kind === 'onlyB') b.push([k, d1]);
    if (kind === 'differ') b.push([k, d1 === d2 ? d1 + 1 : d2]);
    if (kind !== 'same') want[kind as 'onlyA' | 'onlyB' | 'differ'].push(k);
  });
  for (const list of Object.values(want)) list.sort();
  return { a, b, want };
}

// A seeded shuffle, so the two replicas see their writes in different orders.
function shuffled<T>(xs: T[], seed: number): T[] {
  const out = [...xs];
  let x = seed | 1;
  for (let i = out.length - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('merkle: properties', () => {
  test('diff finds exactly the differing keys; after syncing both ways the roots are equal', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { a, b, want } = build(s);
        const shape = { segments: s.segments, fanout: s.fanout };
        const ra = fill(new FakeStore(new MerkleTree(shape)), a);
        const rb = fill(new FakeStore(new MerkleTree(shape)), shuffled(b, s.seed));
        const diff = diffSegments(ra.tree, rb.tree);
        const got = { onlyA: [] as string[], onlyB: [] as string[], differ: [] as string[] };
        for (const seg of diff.segments) {
          const d = diffKeys(ra.items(seg), rb.items(seg));
          got.onlyA.push(...d.onlyA);
          got.onlyB.push(...d.onlyB);
          got.differ.push(...d.differ);
        }
        for (const list of Object.values(got)) list.sort();
        assert.deepEqual(got, want);
        assert.equal(diff.segments.length === 0, ra.tree.root() === rb.tree.root());
        // Sync: copy the missing keys both ways; for differing keys take the larger digest (a stand-in for DVV sync).
        for (const k of got.onlyA) rb.put(k, ra.data.get(k)!);
        for (const k of got.onlyB) ra.put(k, rb.data.get(k)!);
        for (const k of got.differ) {
          const d = Math.max(ra.data.get(k)!, rb.data.get(k)!);
          ra.put(k, d);
          rb.put(k, d);
        }
        ra.tree.rehash((seg) => ra.items(seg));
        rb.tree.rehash((seg) => rb.items(seg));
        assert.deepEqual(diffSegments(ra.tree, rb.tree).segments, []);
        assert.equal(ra.tree.root(), rb.tree.root());
      }),
      fcParams(150),
    );
  });

  test('leaf hashes do not depend on write order or fanout', () => {
    fc.assert(
      fc.property(scenario, fc.constantFrom(2, 8, 64), (s, otherFanout) => {
        const { a } = build(s);
        const t1 = fill(new FakeStore(new MerkleTree({ segments: s.segments, fanout: s.fanout })), a).tree;
        const t2 = fill(
          new FakeStore(new MerkleTree({ segments: s.segments, fanout: otherFanout })),
          shuffled(a, s.seed),
        ).tree;
        for (let seg = 0; seg < s.segments; seg++) {
          assert.equal(t1.node(t1.leafDepth, seg), t2.node(t2.leafDepth, seg));
        }
      }),
      fcParams(100),
    );
  });

  test('a diff of k differing keys compares at most 1 + k * fanout * depth nodes', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(keyName, { minLength: 1, maxLength: 8, size: 'max' }),
        fc.constantFrom(4, 16, 32),
        (changed, fanout) => {
          const shape = { segments: 1024, fanout };
          const base: Array<[string, number]> = Array.from({ length: 200 }, (_, i) => [`base:${i}`, i]);
          const ra = fill(new FakeStore(new MerkleTree(shape)), base);
          const rb = fill(new FakeStore(new MerkleTree(shape)), base);
          for (const k of changed) ra.put(k, 1);
          ra.tree.rehash((seg) => ra.items(seg));
          const { segments, nodesCompared } = diffSegments(ra.tree, rb.tree);
          const depth = ra.tree.leafDepth;
          assert.ok(segments.length >= 1 && segments.length <= changed.length);
          assert.ok(
            nodesCompared <= 1 + changed.length * fanout * depth,
            `${nodesCompared} nodes compared for ${changed.length} keys, fanout ${fanout}, depth ${depth}`,
          );
          let total = 0;
          for (let d = 0; d <= depth; d++) total += ra.tree.levelSize(d);
          if (changed.length === 1) assert.ok(nodesCompared < total / 4);
        },
      ),
      fcParams(60),
    );
  });

  test('batched rehash through dirtySegments/applySegmentHashes equals the synchronous path', () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 1, max: 7 }), (s, batch) => {
        const { a } = build(s);
        const shape = { segments: s.segments, fanout: s.fanout };
        const sync = fill(new FakeStore(new MerkleTree(shape)), a);
        const batched = new FakeStore(new MerkleTree(shape));
        for (const [k, d] of a) batched.put(k, d);
        for (let guard = 0; guard <= s.segments && !batched.tree.isSettled(); guard++) {
          const segs = batched.tree.dirtySegments(batch);
          assert.ok(segs.length <= batch);
          batched.tree.applySegmentHashes(segs.map((seg) => [seg, defaultSegmentHasher(batched.items(seg))]));
        }
        assert.ok(batched.tree.isSettled());
        assert.equal(batched.tree.root(), sync.tree.root());
      }),
      fcParams(100),
    );
  });
});
