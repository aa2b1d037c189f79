// Phi accrual failure detector: parameter validation, the phi formula, steady heartbeats keeping phi low, silence
// crossing the threshold exactly at detectionTimeMs, jitter delaying detection, the bounded window, and a property
// test of the window statistics against a naive model that keeps every learnt interval in an array.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fcParams } from './helpers/fc.js';
import { InvalidArgumentError, InvalidConfigError } from '../actors/errors.js';
import { PhiAccrualDetector, detectionTimeMs, phiOf, phiParams, crossingMs } from '../actors/failure-detector.js';

function steady(d: PhiAccrualDetector, startMs: number, intervalMs: number, beats: number): number {
  let t = startMs;
  for (let i = 0; i < beats; i++, t += intervalMs) d.heartbeat(t);
  return t - intervalMs; // time of the last heartbeat
}

describe('failure detector: parameters', () => {
  test('defaults', () => {
    assert.deepEqual(phiParams(), {
      threshold: 8,
      maxSampleSize: 200,
      minStdDeviationMs: 100,
      acceptableHeartbeatPauseMs: 0,
      firstHeartbeatEstimateMs: 500,
    });
  });

  const bad: Array<[object, RegExp]> = [
    [{ threshold: 0 }, /threshold must be a number in \(0, 100\]; got 0/],
    [{ threshold: NaN }, /got NaN/],
    [{ threshold: 101 }, /got 101/],
    [{ maxSampleSize: 0 }, /maxSampleSize must be an integer in 1 .. 100000; got 0/],
    [{ maxSampleSize: 2.5 }, /got 2.5/],
    [{ minStdDeviationMs: 0 }, /minStdDeviationMs must be a finite number > 0; got 0/],
    [{ acceptableHeartbeatPauseMs: -1 }, /acceptableHeartbeatPauseMs must be a finite number >= 0; got -1/],
    [{ firstHeartbeatEstimateMs: Infinity }, /firstHeartbeatEstimateMs must be a finite number > 0; got Infinity/],
  ];
  for (const [params, message] of bad) {
    test(`rejects ${JSON.stringify(params)}`, () => {
      const isConfigError = (e: unknown) => e instanceof InvalidConfigError && message.test(e.message);
      assert.throws(() => new PhiAccrualDetector(params), isConfigError);
      assert.throws(() => detectionTimeMs(params, 1000), isConfigError);
    });
  }

  test('detectionTimeMs rejects a bad interval', () => {
    assert.throws(() => detectionTimeMs({}, 0), InvalidArgumentError);
    assert.throws(() => detectionTimeMs({}, 1000, -1), InvalidArgumentError);
  });
});

describe('failure detector: phi', () => {
  test('phiOf: -log10(1/2) at the mean, monotone, large far past the mean', () => {
    assert.ok(Math.abs(phiOf(1000, 1000, 100) - Math.log10(2)) < 1e-12);
    let prev = -Infinity;
    for (let t = 0; t <= 5000; t += 10) {
      const p = phiOf(t, 1000, 100);
      assert.ok(p >= prev, `phi fell at ${t}`);
      prev = p;
    }
    assert.ok(phiOf(0, 1000, 100) < 1e-6);
    assert.ok(phiOf(2000, 1000, 100) > 30);
  });

  test('crossingMs solves phiOf = threshold', () => {
    for (const threshold of [0.5, 1, 3, 8, 16, 50]) {
      const t = crossingMs(threshold, 1000, 200);
      assert.ok(Math.abs(phiOf(t, 1000, 200) - threshold) < 1e-6, `threshold ${threshold}`);
    }
  });

  test('an unknown node is not suspected; time must not go backwards', () => {
    const d = new PhiAccrualDetector();
    assert.equal(d.phi(1e9), 0);
    assert.equal(d.isAvailable(1e9), true);
    assert.equal(d.suspectAtMs(), undefined);
    d.heartbeat(5000);
    assert.throws(() => d.phi(4999), /before the last heartbeat at 5000/);
    assert.throws(() => d.heartbeat(NaN), /finite/);
  });

  test('the first heartbeat alone uses firstHeartbeatEstimateMs', () => {
    const d = new PhiAccrualDetector({ firstHeartbeatEstimateMs: 1000 });
    d.heartbeat(0);
    assert.equal(d.meanMs(), 1000);
    assert.equal(d.stdDevMs(), 250);
    assert.ok(d.isAvailable(1000));
    assert.equal(d.suspectAtMs(), crossingMs(8, 1000, 250));
  });
});

describe('failure detector: behaviour', () => {
  test('steady heartbeats keep phi low', () => {
    const d = new PhiAccrualDetector({ firstHeartbeatEstimateMs: 1000 });
    let t = 0;
    for (let i = 0; i < 500; i++, t += 1000) {
      d.heartbeat(t);
      // Just before the next heartbeat is due, phi is still well under 1.
      assert.ok(d.phi(t + 999) < 1, `phi ${d.phi(t + 999)} at beat ${i}`);
    }
  });

  test('table: detection time for steady intervals (threshold 8, minStdDeviation 100 by default)', () => {
    const cases: Array<[params: object, intervalMs: number, lo: number, hi: number]> = [
      // phi = 8 at y = (t - mean) / stdDev = 5.226; phi = 1 at y = 1.282.
      [{}, 1000, 1522, 1523],
      [{}, 100, 622, 623],
      [{ threshold: 1 }, 1000, 1128, 1129],
      [{ acceptableHeartbeatPauseMs: 3000 }, 1000, 4522, 4523],
      [{ minStdDeviationMs: 500 }, 1000, 3612, 3614],
    ];
    for (const [params, intervalMs, lo, hi] of cases) {
      const ms = detectionTimeMs(params, intervalMs);
      assert.ok(ms > lo && ms < hi, `${JSON.stringify(params)} @${intervalMs}ms: ${ms}`);
    }
    const pause = detectionTimeMs({ acceptableHeartbeatPauseMs: 3000 }, 1000) - detectionTimeMs({}, 1000);
    assert.ok(Math.abs(pause - 3000) < 1e-6);
  });

  test('silence makes phi grow monotonically and cross the threshold at detectionTimeMs', () => {
    for (const intervalMs of [100, 500, 1000, 3000]) {
      const d = new PhiAccrualDetector();
      const last = steady(d, 0, intervalMs, 250); // 250 > maxSampleSize: only real intervals remain
      const detectMs = detectionTimeMs({}, intervalMs);
      assert.ok(Math.abs(d.suspectAtMs()! - (last + detectMs)) < 1e-6);
      let prev = -Infinity;
      for (let t = last; t <= last + 3 * detectMs; t += intervalMs / 50) {
        const p = d.phi(t);
        assert.ok(p >= prev, `phi fell at +${t - last}ms`);
        prev = p;
      }
      assert.equal(d.isAvailable(last + detectMs - 0.01), true);
      assert.equal(d.isAvailable(last + detectMs + 0.01), false);
    }
  });

  test('jittery heartbeats raise the detection time', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 400, max: 1600 }), { minLength: 250, maxLength: 300 }), (intervals) => {
        const d = new PhiAccrualDetector();
        let t = 0;
        d.heartbeat(t);
        for (const i of intervals) d.heartbeat((t += i));
        const window = intervals.slice(-200);
        const mean = window.reduce((a, b) => a + b, 0) / window.length;
        const sd = Math.sqrt(window.reduce((a, b) => a + (b - mean) ** 2, 0) / window.length);
        assert.ok(sd > 100, 'the generator makes jitter above minStdDeviationMs');
        const jittery = d.suspectAtMs()! - t;
        assert.ok(Math.abs(jittery - detectionTimeMs({}, mean, sd)) < 1e-6 * jittery);
        assert.ok(jittery > detectionTimeMs({}, mean), `jittery ${jittery} vs steady ${detectionTimeMs({}, mean)}`);
      }),
      fcParams(50),
    );
  });

  test('the window is bounded at maxSampleSize and forgets old intervals', () => {
    const d = new PhiAccrualDetector({ maxSampleSize: 50 });
    let t = 0;
    for (let i = 0; i < 120; i++) {
      d.heartbeat((t += 100));
      assert.ok(d.sampleCount <= 50);
    }
    assert.equal(d.sampleCount, 50);
    assert.equal(d.meanMs(), 100);
    // A slower sender, learnt gradually (each interval is learnt because the node is not yet suspected).
    for (let i = 0; i < 300; i++) d.heartbeat((t += 100 + Math.min(i, 100) * 2));
    assert.equal(d.sampleCount, 50);
    assert.equal(d.meanMs(), 300);
  });

  test('a first estimate far below the real interval still converges (the first real interval is learnt)', () => {
    const d = new PhiAccrualDetector({ firstHeartbeatEstimateMs: 100 });
    const last = steady(d, 0, 3000, 250);
    assert.equal(d.meanMs(), 3000);
    assert.ok(d.isAvailable(last + 3000));
  });

  test('an interval that ends a suspicion is not learnt', () => {
    const d = new PhiAccrualDetector();
    const last = steady(d, 0, 1000, 250);
    const before = [d.meanMs(), d.stdDevMs()];
    d.heartbeat(last + 60_000);
    assert.deepEqual([d.meanMs(), d.stdDevMs()], before);
    assert.ok(d.isAvailable(last + 60_500));
  });
});

// The naive model keeps every learnt interval and recomputes the statistics from the last maxSampleSize of them.
describe('failure detector: model', () => {
  test('window statistics and phi match a naive recomputation', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.double({ min: 0, max: 5000, noNaN: true }), { minLength: 1, maxLength: 150 }),
        (maxSampleSize, gaps) => {
          const d = new PhiAccrualDetector({ maxSampleSize });
          const learnt: number[] = [375, 625]; // firstHeartbeatEstimateMs 500 -/+ 125
          let t = 1000;
          d.heartbeat(t);
          for (const g of gaps) {
            const window = learnt.slice(-maxSampleSize);
            const mean = window.reduce((a, b) => a + b, 0) / window.length;
            const sd = Math.max(100, Math.sqrt(window.reduce((a, b) => a + (b - mean) ** 2, 0) / window.length));
            const naivePhi = phiOf(g, mean, sd);
            const phi = d.phi(t + g);
            if (Number.isFinite(naivePhi)) assert.ok(Math.abs(phi - naivePhi) <= 1e-6 * Math.max(1, naivePhi));
            else assert.equal(phi, naivePhi); // exp underflows far past the mean: phi is Infinity
            if (naivePhi < 8 || learnt.length === 2) learnt.push(g); // the first real interval is always learnt
            d.heartbeat((t += g));
            assert.equal(d.sampleCount, Math.min(learnt.length, maxSampleSize));
          }
        },
      ),
      fcParams(150),
    );
  });
});
