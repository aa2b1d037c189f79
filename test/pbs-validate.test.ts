// `leaderless pbs --validate` (bench/pbs/validate.ts): the RMSE and noise arithmetic against hand-computed values,
// the simulator side of the validation (deterministic by seed, never stale when R + W > N, fresh at large t), the
// command's flag checks, and one tiny end-to-end run with the thread runtime (its numbers are not judged: real time).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../actors/errors.js';
import {
  VALIDATE_DEFAULTS,
  checkValidateFlags,
  noisePoints,
  quantileDifference,
  parseValidateOptions,
  rmsePoints,
  runValidate,
  validateCommand,
  type ValidateOptions,
  type ValidateReport,
} from '../bench/pbs/index.js';
import { empiricalDistribution, exponentialDraw, timerRealized } from '../bench/pbs/empirical.js';
import { measureVisibility } from '../bench/pbs/visibility.js';
import { Prng, checkDistribution, sample, type LeaderlessCluster } from '../runtime/index.js';

function sink(): { out: NodeJS.WritableStream; text: () => string } {
  let s = '';
  const out = { write: (chunk: string) => ((s += chunk), true) } as unknown as NodeJS.WritableStream;
  return { out, text: () => s };
}

const isArgError = (pattern: RegExp) => (e: unknown) => e instanceof InvalidArgumentError && pattern.test(e.message);

describe('pbs --validate: arithmetic', () => {
  test('rmsePoints: root mean square difference in percentage points', () => {
    const cases: Array<[number[], number[], number]> = [
      [[0.5, 0.9], [0.5, 0.9], 0],
      [[0.5, 0.5], [0.6, 0.4], 10],
      [[1, 0, 0, 0], [0, 0, 0, 0], 50], // sqrt(1/4) = 0.5
      [[0.9, 0.95, 1], [0.88, 0.96, 1], Math.sqrt((0.02 ** 2 + 0.01 ** 2) / 3) * 100],
    ];
    for (const [a, b, want] of cases) assert.ok(Math.abs(rmsePoints(a, b) - want) < 1e-9, `${a} vs ${b}: ${rmsePoints(a, b)} != ${want}`);
    assert.throws(() => rmsePoints([0.5], [0.5, 0.6]), isArgError(/same, non-zero length; got 1 and 2/));
    assert.throws(() => rmsePoints([], []), isArgError(/non-zero length/));
  });

  test('noisePoints: the RMSE two binomial estimates of the same p show', () => {
    // p = 0.5, 100 and 100 trials: sqrt(0.25 * 0.02) = 0.0707 -> 7.07 points; p = 0 or 1 has no noise
    assert.ok(Math.abs(noisePoints([0.5], 100, 100) - Math.sqrt(0.005) * 100) < 1e-9);
    assert.equal(noisePoints([0, 1], 100, 100), 0);
    assert.ok(Math.abs(noisePoints([0.5, 1], 100, 100) - Math.sqrt(0.0025) * 100) < 1e-9);
  });
});

describe('pbs --validate: the simulator side', () => {
  const tiny: ValidateOptions = {
    ...VALIDATE_DEFAULTS,
    configs: [{ r: 1, w: 1 }, { r: 2, w: 2 }],
    trials: 300,
    simTrials: 300,
    tMs: [0, 2, 100],
    seed: 7,
    simOnly: true,
  };

  test('same seed, same report; R + W > N never stale; fresh 100 ms after commit; R=1 W=1 stale at t=0', async () => {
    const a = await runValidate(tiny, sink().out, true);
    const b = await runValidate(tiny, sink().out, true);
    const strip = (r: ValidateReport): unknown => r.cells.map(({ wallMs: _w, ...rest }) => rest);
    assert.deepEqual(strip(a), strip(b));
    const [weak, strict] = a.cells;
    assert.deepEqual(strict.sim, [1, 1, 1], 'R=2 W=2: every read overlaps the write quorum');
    assert.equal(weak.sim[2], 1, 'mean 5 ms delays: every replica holds the write 100 ms after commit');
    // R=1 W=1 at t=0: the coordinator holds it, the others only if their write arrived before the read: well inside
    assert.ok(weak.sim[0] > 0.3 && weak.sim[0] < 0.8, `P(consistent at 0) = ${weak.sim[0]}`);
    assert.ok(weak.sim[0] < weak.sim[1], 'more consistent at 2 ms than at 0');
    // the thread column is the raw simulator here: no per-message time, no lateness, the modelled run is the raw one
    assert.deepEqual([a.calibration, weak.rmsePts.sim, weak.rmsePts.simModelled], [null, 0, 0]);
    assert.deepEqual(weak.simModelled, weak.sim);
  });

  test('bad options are refused, saying what is allowed', async () => {
    await assert.rejects(runValidate({ ...tiny, tMs: [5, 1] }, sink().out, true), isArgError(/ascending/));
    await assert.rejects(runValidate({ ...tiny, configs: [{ r: 4, w: 1 }] }, sink().out, true), isArgError(/1 <= R <= N/));
    await assert.rejects(runValidate({ ...tiny, trials: 0 }, sink().out, true), isArgError(/trials must be an integer from 1/));
    assert.throws(() => parseValidateOptions({ meanMs: 'fast' }), isArgError(/--mean-ms must be a number of ms from 0.1 to 1000; got fast/));
  });
});

describe('pbs --validate: the command', () => {
  test('flags: the models\' options are refused with --validate, --validate\'s own without it', () => {
    assert.throws(() => checkValidateFlags({ validate: true, profile: 'wan' }), isArgError(/--profile does not apply to --validate/));
    assert.throws(() => checkValidateFlags({ validate: true, modelTrials: '5' }), isArgError(/--model-trials does not apply/));
    assert.throws(() => checkValidateFlags({ meanMs: '3' }), isArgError(/--mean-ms applies only with --validate/));
    checkValidateFlags({ validate: true, rw: '1/1', trials: '10', simTrials: '10', meanMs: '2', seed: '1', t: '0', json: '-' });
    checkValidateFlags({ profile: 'wan', trials: '10' });
  });

  test('end to end with tiny sizes: threads with injected exponential delays beside the simulator, as JSON', async () => {
    const [out, err] = [sink(), sink()];
    await validateCommand({ rw: '1/1', trials: '20', simTrials: '50', meanMs: '2', t: '0,4', seed: '3', json: '-' }, out.out, err.out);
    const r = JSON.parse(out.text()) as ValidateReport;
    assert.equal(r.simOnly, false);
    assert.deepEqual([r.trials, r.simTrials, r.meanMs, r.distribution], [20, 50, 2, { kind: 'exponential', rate: 0.5 }]);
    const [cell] = r.cells;
    assert.deepEqual(cell.tMs, [0, 4]);
    for (const p of [...cell.threads, ...cell.sim, ...cell.simModelled]) assert.ok(p >= 0 && p <= 1);
    // a put crosses at least one injected delay (mean 2 ms) in threads: its mean cannot be near zero
    assert.ok(cell.putMs.threads > 0.5, `thread put ${cell.putMs.threads} ms`);
    assert.ok(Number.isFinite(r.rmsePts.simModelled) && r.modelled.length > 0 && r.notModelled.length > 0);
    // the calibration ran before the measured trials, sized by --trials: 20 round trips, 50 timers less those under 0.5 ms
    assert.equal(r.calibration?.roundTrips, 20);
    // the main thread's timers and a worker's, and the own time of messages between workers, each as quantiles
    assert.deepEqual([r.calibration?.timerLateMs.length, r.calibration?.workerTimerLateMs.length, r.calibration?.workerMessageMs.length], [4, 4, 4]);
    assert.ok(r.calibration !== null && r.calibration.timers > 20 && r.calibration.timers <= 50, `timers ${r.calibration?.timers}`);
    assert.equal(err.text(), '');
  });
});

describe('pbs --validate: measuring', () => {
  test('a read due while the clock moves is never slept for a negative time (the clock is read once)', async () => {
    // a cluster whose clock moves 0.3 ms on every read of it, as a real one does between two reads: the read due at
    // commit + 1 ms is checked when 0.9 ms have passed and computed when 1.2 have, which used to ask sleep(-0.2)
    let now = 0;
    const values = new Map<string, string>();
    const client = {
      put: async (key: string, value: string) => void values.set(key, value),
      get: async (key: string) => ({ values: values.has(key) ? [values.get(key)] : [] }),
      close: () => undefined,
    };
    const cluster = {
      config: { nodes: [0, 1, 2] },
      get nowMs() {
        return (now += 0.3);
      },
      client: async () => client,
      replicasOf: () => [0, 1, 2],
      sleep: async (ms: number) => {
        if (!(ms >= 0)) throw new InvalidArgumentError(`sleep takes a timeout in ms from 0; got ${ms}`);
        now += ms;
      },
    } as unknown as LeaderlessCluster;
    const r = await measureVisibility(cluster, { r: 1, w: 1, trials: 3, tMs: [0, 1, 2, 3], concurrency: 1, keyPrefix: 'k', seed: 1 });
    assert.deepEqual(r.consistent, [3, 3, 3, 3]);
    assert.equal(r.putSamplesMs.length, 3);
  });
});

describe('pbs --validate: empirical distributions', () => {
  test('a histogram of the samples: their quantiles, within the checked kinds, and refused when empty', () => {
    const xs = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000 / 100); // 0..9.99, shuffled
    const d = checkDistribution(empiricalDistribution(xs), 'empirical');
    const rng = new Prng(5);
    const draws = Array.from({ length: 20_000 }, () => sample(rng, d)).sort((a, b) => a - b);
    for (const f of [0.1, 0.5, 0.9]) {
      const got = draws[Math.floor(f * draws.length)];
      assert.ok(Math.abs(got - f * 10) < 0.3, `quantile ${f}: ${got}`);
    }
    assert.ok(draws[0] >= 0 && draws[draws.length - 1] <= 9.99);
    assert.deepEqual(empiricalDistribution([2, 2, 2], 3), { kind: 'mixture', parts: [1, 1, 1].map((weight) => ({ weight, dist: { kind: 'constant', ms: 2 } })) });
    assert.throws(() => empiricalDistribution([]), isArgError(/at least one finite sample >= 0; got 0 samples/));
    assert.throws(() => empiricalDistribution([1, -1]), isArgError(/finite sample >= 0/));
    assert.throws(() => empiricalDistribution([1], 257), isArgError(/bins must be an integer from 1 to 256/));
  });

  test('the own time of a message between workers: sorted differences of two round-trip samples, halved, never negative', () => {
    assert.deepEqual(quantileDifference([3, 1, 2], [0.5, 0, 1]), [0.5, 0.75, 1]);
    // as many as the shorter, each side read at the same quantile; a negative difference counts as 0
    assert.deepEqual(quantileDifference([1, 2, 3, 4], [2, 2]), [0, 0.5]);
    assert.throws(() => quantileDifference([], [1]), isArgError(/needs samples on both sides/));
  });

  test('a timer-held delay: draws under 0.5 ms go at once, the others plus a lateness', () => {
    const rng = new Prng(9);
    // exponential of mean 5 ms, lateness always +1 ms: P(0) = 1 - e^-0.1, and nothing in (0, 1.5)
    const d = timerRealized(exponentialDraw(rng, 5), [1], rng, 50_000);
    const draws = Array.from({ length: 20_000 }, () => sample(rng, d));
    const zero = draws.filter((x) => x === 0).length / draws.length;
    assert.ok(Math.abs(zero - (1 - Math.exp(-0.1))) < 0.01, `P(0) = ${zero}`);
    const inGap = draws.filter((x) => x > 0.01 && x < 1.45).length / draws.length;
    assert.ok(inGap < 0.01, `P(0 < x < 1.5) = ${inGap}`);
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    // E = e^-0.1 (0.5 + 5 + 1)
    assert.ok(Math.abs(mean - Math.exp(-0.1) * 6.5) < 0.15, `mean ${mean}`);
  });
});
