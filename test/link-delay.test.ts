// The thread runtime's injected link delays (runtime/threads/link-delay.ts): faults.delay takes a number or a plain
// distribution, checked with a typed error, encoded into the SharedView's link slots and sampled per message by the
// sender. Sampling is judged with a seeded random source; one real cluster shows a distribution taking effect.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../actors/errors.js';
import { Cluster } from '../runtime/index.js';
import { Prng } from '../runtime/host/prng.js';
import { DelayKind, encodeDelay, sampleDelayMs } from '../runtime/threads/link-delay.js';
import { SharedView } from '../runtime/threads/shared-view.js';

const isArgError = (pattern: RegExp) => (e: unknown) => e instanceof InvalidArgumentError && pattern.test(e.message);

/** `count` samples of `ms` on link (1, 2) of a 3-node view, drawn from a seeded stream. */
function samples(ms: unknown, count: number, seed = 1): number[] {
  const view = SharedView.create(3);
  const d = encodeDelay(ms);
  view.setDelay(1, 2, d.kind, d.a, d.b);
  const rng = new Prng(seed);
  return Array.from({ length: count }, () => sampleDelayMs(view, 1, 2, () => rng.float()));
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('thread link delays', () => {
  test('encoding: numbers and the plain kinds, in integer microseconds', () => {
    assert.deepEqual(encodeDelay(0), { kind: DelayKind.None, a: 0, b: 0 });
    assert.deepEqual(encodeDelay(2.5), { kind: DelayKind.Constant, a: 2500, b: 0 });
    assert.deepEqual(encodeDelay({ kind: 'uniform', minMs: 1, maxMs: 3 }), { kind: DelayKind.Uniform, a: 1000, b: 3000 });
    assert.deepEqual(encodeDelay({ kind: 'exponential', rate: 0.25 }), { kind: DelayKind.Exponential, a: 4000, b: 0 });
    assert.deepEqual(encodeDelay({ kind: 'pareto', xm: 0.5, alpha: 2.5 }), { kind: DelayKind.Pareto, a: 500, b: 2_500_000 });
  });

  test('bad delays are refused with INVALID_ARGUMENT saying what the thread runtime takes', () => {
    const cases: Array<[unknown, RegExp]> = [
      [-1, /delay ms must be a number from 0 to 60000/],
      ['5', /got "5"|got '5'|got 5/],
      [{ kind: 'exponential', rate: 0 }, /rate is 0 .*must be > 0/],
      [{ kind: 'uniform', minMs: 3, maxMs: 1 }, /minMs 3 > maxMs 1/],
      [{ kind: 'mixture', parts: [{ weight: 1, dist: { kind: 'constant', ms: 1 } }] }, /kind "mixture"|kind 'mixture'|mixture and shifted are the simulator's only/],
      [{ kind: 'constant', ms: 1e9 }, /at most 60000/],
    ];
    for (const [ms, pattern] of cases) assert.throws(() => encodeDelay(ms), isArgError(pattern), String(JSON.stringify(ms)));
  });

  test('sampling: constant exact, uniform within bounds, exponential with its mean, small samples sent at once', () => {
    assert.deepEqual(samples(0.3, 3), [0.3, 0.3, 0.3], 'a constant is honoured as given, even under half a ms');
    const u = samples({ kind: 'uniform', minMs: 2, maxMs: 4 }, 2000);
    assert.ok(u.every((x) => x >= 2 && x < 4) && Math.abs(mean(u) - 3) < 0.1, `uniform mean ${mean(u)}`);
    const e = samples({ kind: 'exponential', rate: 0.2 }, 20000);
    // under 0.5 ms goes at once (no timer can fire sooner than 1 ms): P = 1 - e^-0.1 = 9.5%, costing 0.024 ms of mean
    const zeros = e.filter((x) => x === 0).length / e.length;
    assert.ok(Math.abs(zeros - (1 - Math.exp(-0.1))) < 0.01, `share sent at once ${zeros}`);
    assert.ok(e.every((x) => x === 0 || x >= 0.5));
    assert.ok(Math.abs(mean(e) - 5) < 0.15, `exponential mean ${mean(e)}`);
    assert.deepEqual(samples({ kind: 'exponential', rate: 0.2 }, 5, 9), samples({ kind: 'exponential', rate: 0.2 }, 5, 9));
    assert.equal(sampleDelayMs(SharedView.create(3), 0, 1), 0, 'no delay set');
  });

  test('a cluster with a uniform 20-30 ms delay on every link: each put crosses at least one', async () => {
    const cluster = await Cluster.start({ nodes: 3, replication: 3, write: 1, read: 1, sharedMemoryReads: 'off' });
    try {
      assert.throws(() => cluster.faults.delay({ ms: { kind: 'shifted', offsetMs: 1, dist: { kind: 'constant', ms: 1 } } }), isArgError(/simulator's only/));
      cluster.faults.delay({ ms: { kind: 'uniform', minMs: 20, maxMs: 30 } });
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        await cluster.put(`k${i}`, 'v');
        assert.ok(performance.now() - t0 >= 19.5, `put took ${performance.now() - t0} ms`);
      }
    } finally {
      await cluster.stop();
    }
  });
});
