// The consistency oracle on histories whose answers are known: planted stale reads, planted lost writes in lww mode,
// merged siblings that lose nothing; then laws (the answer does not depend on the order of the history) and checks
// against naive models (a sequential register; the whole runner against an in-memory store that tallies its own
// misbehaviour).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { analyze, type HistoryOp, type OracleInput, type ReadOp, type WriteOp } from '../bench/oracle.js';
import { runBench, type BenchSpec } from '../bench/run.js';
import { PRESETS } from '../bench/workloads.js';
import { fcParams } from './helpers/fc.js';
import { FakeStore, VirtualClock } from './helpers/harness-fake.js';

const w = (value: string, startMs: number, endMs: number, covers: string[] = [], outcome: WriteOp['outcome'] = 'ok', key = 'k'): WriteOp => ({
  kind: 'write',
  key,
  startMs,
  endMs,
  outcome,
  value,
  covers,
});
const r = (values: string[], startMs: number, endMs: number, key = 'k', outcome: ReadOp['outcome'] = 'ok'): ReadOp => ({
  kind: 'read',
  key,
  startMs,
  endMs,
  outcome,
  values,
});
const finals = (entries: Record<string, string[] | null>): Map<string, string[] | null> => new Map(Object.entries(entries));

describe('stale reads: planted and not', () => {
  const cases: Array<{ name: string; mode: OracleInput['mode']; history: HistoryOp[]; stale: number; judged: number }> = [
    { name: 'a read of the overwritten value after the overwrite was acknowledged is stale', mode: 'siblings', history: [w('a', 0, 1), w('b', 2, 3, ['a']), r(['a'], 5, 6)], stale: 1, judged: 1 },
    { name: 'a read of the new value is not stale', mode: 'siblings', history: [w('a', 0, 1), w('b', 2, 3, ['a']), r(['b'], 5, 6)], stale: 0, judged: 1 },
    { name: 'a write still in flight when the read began need not be seen', mode: 'siblings', history: [w('a', 0, 1), w('b', 2, 7, ['a']), r(['a'], 5, 6)], stale: 0, judged: 1 },
    { name: 'a value newer than the latest acknowledged one is fine', mode: 'siblings', history: [w('a', 0, 1), w('b', 2, 9, ['a']), r(['b'], 5, 6)], stale: 0, judged: 1 },
    { name: 'siblings: missing one of two concurrent blind writes is stale', mode: 'siblings', history: [w('a', 0, 2), w('b', 1, 3), r(['b'], 5, 6)], stale: 1, judged: 1 },
    { name: 'siblings: both concurrent writes returned is fresh', mode: 'siblings', history: [w('a', 0, 2), w('b', 1, 3), r(['a', 'b'], 5, 6)], stale: 0, judged: 1 },
    { name: 'siblings: a merge that covered both stands for both', mode: 'siblings', history: [w('a', 0, 2), w('b', 1, 3), w('c', 4, 5, ['a', 'b']), r(['c'], 6, 7)], stale: 0, judged: 1 },
    { name: 'lww: either of two overlapping writes is the latest', mode: 'lww', history: [w('a', 0, 2), w('b', 1, 3), r(['a'], 5, 6)], stale: 0, judged: 1 },
    { name: 'lww: a blind later write supersedes by time', mode: 'lww', history: [w('a', 0, 1), w('b', 2, 3), r(['a'], 5, 6)], stale: 1, judged: 1 },
    { name: 'a read of a never-written key is not judged', mode: 'siblings', history: [r([], 0, 1)], stale: 0, judged: 0 },
    { name: 'a failed read is not judged', mode: 'siblings', history: [w('a', 0, 1), r([], 2, 3, 'k', 'failed')], stale: 0, judged: 0 },
    { name: 'finding nothing after an acknowledged write is stale', mode: 'siblings', history: [w('a', 0, 1), r([], 2, 3)], stale: 1, judged: 1 },
    { name: 'transitively covered: c covered b covered a', mode: 'siblings', history: [w('a', 0, 1), w('b', 2, 3, ['a']), w('c', 4, 5, ['b']), r(['c'], 6, 7)], stale: 0, judged: 1 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const out = analyze({ mode: c.mode, history: c.history });
      assert.equal(out.staleReads, c.stale);
      assert.equal(out.judgedReads, c.judged);
    });
  }

  test('k-staleness counts the acknowledged versions missed', () => {
    const h = [w('a', 0, 1), w('b', 2, 3, ['a']), w('c', 4, 5, ['b']), w('d', 6, 7, ['c']), r(['a'], 10, 11), r(['c'], 12, 13)];
    const out = analyze({ mode: 'siblings', history: h });
    assert.equal(out.staleReads, 2);
    assert.deepEqual(out.kStaleness.histogram, [
      { k: 1, reads: 1 },
      { k: 3, reads: 1 },
    ]);
    assert.equal(out.kStaleness.max, 3);
  });

  test('t-visibility buckets by the time since the latest acknowledgement', () => {
    // acknowledged at 1; reads at 1.5 (bucket <1ms, stale), 3.5 (<5ms, fresh), 30 (<50ms, fresh)
    const h = [w('z', -10, -9), w('a', 0, 1, ['z']), r(['z'], 1.5, 2), r(['a'], 3.5, 4), r(['a'], 30, 31)];
    const out = analyze({ mode: 'siblings', history: h, bucketBoundsMs: [1, 5, 50] });
    assert.deepEqual(
      out.tVisibility.map((b) => [b.fromMs, b.toMs, b.reads, b.sawLatest]),
      [
        [0, 1, 1, 0],
        [1, 5, 1, 1],
        [5, 50, 1, 1],
        [50, null, 0, 0],
      ],
    );
    assert.equal(out.tVisibility[3].probability, null);
  });

  test('conflicts count reads with siblings and how many', () => {
    const h = [w('a', 0, 1), w('b', 0, 1.5), w('c', 0, 2), r(['a', 'b'], 3, 4), r(['a', 'b', 'c'], 5, 6), r(['c'], 7, 8)];
    const out = analyze({ mode: 'siblings', history: h });
    assert.equal(out.conflicts.reads, 2);
    assert.equal(out.conflicts.maxSiblings, 3);
    assert.deepEqual(out.conflicts.siblingsHistogram, [
      { siblings: 2, reads: 1 },
      { siblings: 3, reads: 1 },
    ]);
  });
});

describe('lost writes', () => {
  test('lww: every write absent from the final state is superseded by a later-begun write, or dropped beside a concurrent one', () => {
    // a and b are concurrent blind writes; c and d are concurrent, both covering b; e began after all of them were
    // acknowledged. Superseded: a, b, c, d (e began after each was acknowledged). Nothing lost.
    const h = [w('a', 0, 10), w('b', 1, 9), w('c', 20, 30, ['b']), w('d', 21, 29, ['b']), w('e', 40, 41, ['d'])];
    const out = analyze({ mode: 'lww', history: h, finalReads: finals({ k: ['e'] }) });
    assert.equal(out.lostWrites.acknowledged, 5);
    assert.equal(out.lostWrites.lost, 0);
    assert.equal(out.lostWrites.superseded, 4);
    assert.equal(out.lostWrites.droppedByLww, 0);
    // the last two writes overlap: lww keeps one and silently drops the other
    const racing = analyze({ mode: 'lww', history: [w('a', 0, 10), w('b', 1, 9)], finalReads: finals({ k: ['b'] }) });
    assert.deepEqual([racing.lostWrites.lost, racing.lostWrites.superseded, racing.lostWrites.droppedByLww], [0, 0, 1]);
  });

  test('lww: two sequential blind writes lose nothing (the second supersedes the first)', () => {
    const out = analyze({ mode: 'lww', history: [w('a', 0, 1), w('b', 2, 3)], finalReads: finals({ k: ['b'] }) });
    assert.equal(out.lostWrites.lost, 0);
    assert.equal(out.lostWrites.superseded, 1);
    assert.equal(out.lostWrites.droppedByLww, 0);
  });

  test('lww: a write that began before the other was acknowledged does not supersede it', () => {
    // b began (0.5) before a was acknowledged (1) and overlaps it: a is dropped in b's favour, not superseded
    const out = analyze({ mode: 'lww', history: [w('a', 0, 1), w('b', 0.5, 2)], finalReads: finals({ k: ['b'] }) });
    assert.deepEqual([out.lostWrites.lost, out.lostWrites.superseded, out.lostWrites.droppedByLww], [0, 0, 1]);
  });

  test('lww: the newest write missing with nothing after or beside it is lost', () => {
    // b began after a was acknowledged, so lww must keep b; the final state holds a
    const out = analyze({ mode: 'lww', history: [w('a', 0, 1), w('b', 2, 3)], finalReads: finals({ k: ['a'] }) });
    assert.equal(out.lostWrites.lost, 1);
    assert.deepEqual(
      out.lostWrites.examples.map((x) => x.value),
      ['b'],
    );
    assert.equal(out.lostWrites.superseded, 0);
    // a refused write never happened: it supersedes nothing
    const refused = analyze({ mode: 'lww', history: [w('a', 0, 1), w('b', 2, 3, [], 'refused')], finalReads: finals({ k: [] }) });
    assert.equal(refused.lostWrites.lost, 1);
  });

  test('siblings: a later blind write does not supersede (it makes a sibling): still lost when absent', () => {
    const out = analyze({ mode: 'siblings', history: [w('a', 0, 1), w('b', 2, 3)], finalReads: finals({ k: ['b'] }) });
    assert.equal(out.lostWrites.lost, 1);
    assert.equal(out.lostWrites.droppedByLww, 0);
  });

  test('siblings with merged contexts loses none', () => {
    const h = [w('a', 0, 10), w('b', 1, 9), r(['a', 'b'], 11, 12), w('c', 13, 14, ['a', 'b']), w('d', 13.5, 15), r(['c', 'd'], 16, 17), w('e', 18, 19, ['c', 'd'])];
    const out = analyze({ mode: 'siblings', history: h, finalReads: finals({ k: ['e'] }) });
    assert.equal(out.lostWrites.lost, 0);
    assert.equal(out.lostWrites.superseded, 4);
    assert.equal(out.staleReads, 0);
  });

  test('a write that vanished with nothing covering it or beside it is lost, whatever the mode', () => {
    for (const mode of ['siblings', 'lww'] as const) {
      const out = analyze({ mode, history: [w('a', 0, 1), w('b', 2, 3, ['a'], 'ok', 'k2')], finalReads: finals({ k: [], k2: ['b'] }) });
      assert.equal(out.lostWrites.lost, 1, mode);
    }
  });

  test('a refused write covers nothing; a failed one may have been applied', () => {
    const refused = analyze({ mode: 'siblings', history: [w('a', 0, 1), w('b', 2, 3, ['a'], 'refused')], finalReads: finals({ k: [] }) });
    assert.equal(refused.lostWrites.lost, 1);
    const failed = analyze({ mode: 'siblings', history: [w('a', 0, 1), w('b', 2, 3, ['a'], 'failed')], finalReads: finals({ k: ['b'] }) });
    assert.equal(failed.lostWrites.lost, 0);
    assert.equal(failed.lostWrites.acknowledged, 1);
  });

  test('keys whose final read failed, or whose history is incomplete, are unverified', () => {
    const h = [w('a', 0, 1, [], 'ok', 'k1'), w('b', 0, 1, [], 'ok', 'k2'), w('c', 0, 1, [], 'ok', 'k3')];
    const out = analyze({ mode: 'siblings', history: h, finalReads: finals({ k1: null }), incompleteKeys: new Set(['k3']) });
    assert.equal(out.lostWrites.unverified, 3);
    assert.equal(out.lostWrites.lost, 0);
    assert.equal(out.lostWrites.lostRate, 0);
  });

  test('without final reads nothing is judged lost', () => {
    const out = analyze({ mode: 'lww', history: [w('a', 0, 1), w('b', 2, 3)] });
    assert.equal(out.lostWrites.checked, false);
    assert.equal(out.lostWrites.lost, 0);
  });
});

describe('bad histories are refused', () => {
  test('the same value written twice', () => {
    assert.throws(() => analyze({ mode: 'siblings', history: [w('a', 0, 1), w('a', 2, 3)] }), { code: 'INVALID_ARGUMENT' });
  });
  test('an operation that ends before it starts', () => {
    assert.throws(() => analyze({ mode: 'siblings', history: [w('a', 2, 1)] }), { code: 'INVALID_ARGUMENT' });
  });
  test('buckets that do not ascend', () => {
    assert.throws(() => analyze({ mode: 'siblings', history: [], bucketBoundsMs: [5, 5] }), { code: 'INVALID_ARGUMENT' });
  });
});

// ------------------------------------------------------------------------------------------------ properties

/**
 * A sequential register: writes one after another, each covering the one before (or blind, at random); reads one at a
 * time return some earlier write. Naive model: a read is stale iff it did not return the latest write; k = how many
 * writes came after the one returned (in lww, and in siblings mode when every write covered its predecessor).
 */
const sequentialHistory = fc
  .array(fc.record({ write: fc.boolean(), back: fc.nat(4) }), { minLength: 1, maxLength: 40 })
  .map((steps) => {
    const history: HistoryOp[] = [];
    const written: string[] = [];
    let stale = 0;
    let kSum = 0;
    let t = 0;
    for (const s of steps) {
      if (s.write || written.length === 0) {
        const value = `v${written.length}`;
        history.push(w(value, t, t + 1, written.length > 0 ? [written[written.length - 1]] : []));
        written.push(value);
      } else {
        const back = Math.min(s.back, written.length - 1);
        history.push(r([written[written.length - 1 - back]], t, t + 1));
        if (back > 0) {
          stale++;
          kSum += back;
        }
      }
      t += 2;
    }
    return { history, stale, kSum, last: written[written.length - 1] };
  });

test('property: a sequential register with chained contexts matches the naive model in both modes', () => {
  fc.assert(
    fc.property(sequentialHistory, fc.constantFrom<'siblings' | 'lww'>('siblings', 'lww'), ({ history, stale, kSum, last }, mode) => {
      const out = analyze({ mode, history, finalReads: new Map([['k', [last]]]) });
      assert.equal(out.staleReads, stale);
      assert.equal(Math.round(out.kStaleness.mean * out.staleReads), kSum);
      assert.equal(out.lostWrites.lost, 0);
    }),
    fcParams(200),
  );
});

const arbitraryHistory: fc.Arbitrary<Step[]> = fc.array(
  fc.record({
    write: fc.boolean(),
    key: fc.constantFrom('k1', 'k2'),
    start: fc.integer({ min: 0, max: 50 }),
    length: fc.integer({ min: 0, max: 10 }),
    pick: fc.array(fc.nat(30), { maxLength: 3 }),
    outcome: fc.constantFrom<WriteOp['outcome']>('ok', 'ok', 'ok', 'failed', 'refused'),
  }),
  { maxLength: 40 },
);

interface Step {
  write: boolean;
  key: string;
  start: number;
  length: number;
  pick: number[];
  outcome: WriteOp['outcome'];
}

function buildArbitrary(steps: Step[]): HistoryOp[] {
  const values: string[] = [];
  return steps.map((s, i) => {
    const chosen = [...new Set(s.pick.filter((p) => p < values.length).map((p) => values[p]))];
    if (s.write) {
      values.push(`x${i}`);
      return w(`x${i}`, s.start, s.start + s.length, chosen, s.outcome, s.key);
    }
    return r(chosen, s.start, s.start + s.length, s.key, s.outcome === 'refused' ? 'failed' : 'ok');
  });
}

test('property: the answer does not depend on the order of the history', () => {
  fc.assert(
    fc.property(arbitraryHistory, fc.constantFrom<'siblings' | 'lww'>('siblings', 'lww'), fc.nat(), (steps, mode, seed) => {
      const history = buildArbitrary(steps);
      const shuffled = [...history];
      let s = seed;
      for (let i = shuffled.length - 1; i > 0; i--) {
        s = (s * 1103515245 + 12345) >>> 0;
        const j = s % (i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
      }
      const final = new Map<string, string[]>([['k1', []], ['k2', history.filter((h): h is WriteOp => h.kind === 'write').slice(-1).map((x) => x.value)]]);
      assert.deepEqual(analyze({ mode, history: shuffled, finalReads: final }), analyze({ mode, history, finalReads: final }));
    }),
    fcParams(200),
  );
});

test('property: counts stay within bounds on arbitrary histories', () => {
  fc.assert(
    fc.property(arbitraryHistory, fc.constantFrom<'siblings' | 'lww'>('siblings', 'lww'), (steps, mode) => {
      const out = analyze({ mode, history: buildArbitrary(steps), finalReads: new Map([['k1', []], ['k2', []]]) });
      assert.ok(out.staleReads <= out.judgedReads && out.judgedReads <= out.reads);
      assert.equal(out.tVisibility.reduce((a, b) => a + b.reads, 0), out.judgedReads);
      const lw = out.lostWrites;
      assert.ok(lw.lost + lw.superseded + lw.droppedByLww + lw.unverified <= lw.acknowledged);
      if (mode === 'siblings') assert.equal(lw.droppedByLww, 0);
      assert.ok(out.staleRate >= 0 && out.staleRate <= 1);
    }),
    fcParams(200),
  );
});

// ------------------------------------------------------------------------------------------------ runner + oracle

function fakeSpec(seed: number, ops: number): BenchSpec {
  return {
    label: 'fake',
    cluster: { conflicts: 'siblings' },
    workload: { name: 'A', mix: PRESETS.A.mix, distribution: 'zipfian', keys: 20, valueSizeBytes: 16 },
    inFlight: 1,
    operations: ops,
    seed,
    faults: [],
    updateContext: 'read',
    maxHistory: 1_000_000,
  };
}

test('property: the runner and oracle find exactly the stale reads an in-memory store served', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 1000 }), fc.double({ min: 0, max: 0.5, noNaN: true }), async (seed, p) => {
      const store = new FakeStore({ seed, staleProbability: p });
      const report = await runBench(fakeSpec(seed, 300), { factory: async () => store, clock: new VirtualClock() });
      assert.equal(report.consistency.staleReads, store.tally.staleServed);
      if (p > 0.1) assert.ok(store.tally.staleServed > 0, 'the store misbehaved at least once');
      assert.equal(report.consistency.lostWrites.lost, 0);
      assert.equal(report.ops.all.count, 300);
      assert.ok(store.stopped);
    }),
    fcParams(25),
  );
});

test('property: the runner and oracle find exactly the writes an in-memory store dropped', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 1000 }), fc.double({ min: 0, max: 0.3, noNaN: true }), async (seed, q) => {
      const store = new FakeStore({ seed, dropProbability: q });
      const report = await runBench(fakeSpec(seed, 300), { factory: async () => store, clock: new VirtualClock() });
      assert.equal(report.consistency.lostWrites.lost, store.tally.dropped);
      if (q > 0.1) assert.ok(store.tally.dropped > 0, 'the store misbehaved at least once');
      assert.equal(report.consistency.lostWrites.unverified, 0);
    }),
    fcParams(25),
  );
});
