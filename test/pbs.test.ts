// `leaderless pbs` (bench/pbs.ts): the closed-form staleness bound against a naive product and known values, the
// WARS Monte Carlo against the closed form where the two must agree, and the measurement on the simulated cluster:
// it follows WARS with a local coordinator, never goes stale when R + W > N, grows with t, and replays by seed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { InvalidArgumentError } from '../actors/errors.js';
import type { Distribution } from '../runtime/host/prng.js';
import {
  PBS_DEFAULTS,
  PBS_N,
  PBS_PROFILES,
  choose,
  gridCrossing,
  measureSim,
  pAt,
  pConsistentClosedForm,
  pStaleClosedForm,
  parsePbsOptions,
  runPbs,
  tFor,
  warsThresholds,
  type PbsProfile,
} from '../bench/pbs/index.js';
import { fcParams } from './helpers/fc.js';

const ALL_RW = [1, 2, 3].flatMap((r) => [1, 2, 3].map((w) => ({ r, w })));
const constant = (ms: number): Distribution => ({ kind: 'constant', ms });

function profileOf(w: Distribution, a: Distribution, r: Distribution, s: Distribution): PbsProfile {
  return { name: 'lnkd-ssd', w, a, r, s, remoteMs: 0, tGridMs: [0] };
}

/** |p - q| within `sigmas` standard errors of a proportion estimated from `trials` (plus a floor for p near 0 or 1). */
function near(p: number, q: number, trials: number, sigmas = 4): boolean {
  const se = Math.sqrt(Math.max(q * (1 - q), 1e-3) / trials);
  return Math.abs(p - q) <= sigmas * se;
}

function sink(): { out: Writable; text: () => string } {
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { out, text: () => chunks.join('') };
}

describe('pbs: the closed form', () => {
  test('C(n, k) on known values', () => {
    const table: Array<[number, number, number]> = [
      [0, 0, 1], [3, 0, 1], [3, 1, 3], [3, 2, 3], [3, 3, 1], [3, 4, 0], [5, 2, 10], [10, 3, 120], [20, 10, 184756],
    ];
    for (const [n, k, want] of table) assert.equal(choose(n, k), want, `C(${n}, ${k})`);
  });

  test('p_stale = C(N-W, R) / C(N, R) on known values (N=3 as the paper; N=5; k versions)', () => {
    const table: Array<[number, number, number, number, number]> = [
      // n, r, w, k, p_stale
      [3, 1, 1, 1, 2 / 3],
      [3, 1, 2, 1, 1 / 3],
      [3, 2, 1, 1, 1 / 3],
      [3, 2, 2, 1, 0],
      [3, 1, 3, 1, 0],
      [3, 3, 1, 1, 0],
      [5, 1, 1, 1, 4 / 5],
      [5, 2, 2, 1, 3 / 10],
      [5, 1, 2, 1, 3 / 5],
      [3, 1, 1, 2, 4 / 9],
      [3, 1, 1, 3, 8 / 27],
    ];
    for (const [n, r, w, k, want] of table) {
      assert.ok(Math.abs(pStaleClosedForm(n, r, w, k) - want) < 1e-12, `N=${n} R=${r} W=${w} k=${k}`);
    }
    assert.ok(Math.abs(pConsistentClosedForm(3, 1, 1) - 1 / 3) < 1e-12);
  });

  test('it equals the naive product prod_{i<R} (N-W-i)/(N-i), and is 0 exactly when R + W > N', () => {
    const nrw = fc
      .integer({ min: 1, max: 30 })
      .chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 1, max: n }), fc.integer({ min: 1, max: n })));
    fc.assert(
      fc.property(nrw, ([n, r, w]) => {
        let naive = 1;
        for (let i = 0; i < r; i++) naive *= Math.max(0, n - w - i) / (n - i);
        const p = pStaleClosedForm(n, r, w);
        assert.ok(Math.abs(p - naive) < 1e-9, `N=${n} R=${r} W=${w}: ${p} vs ${naive}`);
        assert.equal(p === 0, r + w > n);
      }),
      fcParams(300),
    );
  });

  test('it refuses impossible configurations', () => {
    for (const [n, r, w] of [[3, 0, 1], [3, 4, 1], [3, 1, 4], [0, 1, 1], [3, 1.5, 1]]) {
      assert.throws(() => pStaleClosedForm(n, r, w), InvalidArgumentError, `N=${n} R=${r} W=${w}`);
    }
    assert.throws(() => pStaleClosedForm(3, 1, 1, 0), InvalidArgumentError);
  });
});

describe('pbs: the WARS Monte Carlo', () => {
  test('with every latency constant, a read after commit is always consistent (and so equals the closed form for R+W > N)', () => {
    const p = profileOf(constant(2), constant(1), constant(0.5), constant(0.5));
    for (const { r, w } of ALL_RW) {
      for (const localCoordinator of [false, true]) {
        const th = warsThresholds(p, { n: PBS_N, r, w, trials: 200, seed: 3, localCoordinator });
        assert.equal(pAt(th, 0), 1, `R=${r} W=${w} local=${localCoordinator}`);
        if (r + w > PBS_N) assert.equal(pAt(th, 0), pConsistentClosedForm(PBS_N, r, w));
      }
    }
  });

  test('at t=0 it converges to the closed form when exactly W replicas hold the write and the read set is uniform', () => {
    // A = R = 0: at commit (the W-th arrival) exactly W replicas hold the write, and the read reaches them at once;
    // S is i.i.d., so the first R replies are a uniformly random R of N: the closed form's assumptions exactly.
    const p = profileOf({ kind: 'exponential', rate: 1 }, constant(0), constant(0), { kind: 'uniform', minMs: 0, maxMs: 1 });
    const trials = 20_000;
    for (const { r, w } of ALL_RW) {
      const got = pAt(warsThresholds(p, { n: PBS_N, r, w, trials, seed: 11, localCoordinator: false }), 0);
      const want = pConsistentClosedForm(PBS_N, r, w);
      assert.ok(near(got, want, trials), `R=${r} W=${w}: WARS ${got} vs closed form ${want}`);
    }
  });

  test('R + W > N is consistent at every t for every profile; P(t) never decreases; seeds replay', () => {
    for (const profile of Object.values(PBS_PROFILES)) {
      const strict = warsThresholds(profile, { n: PBS_N, r: 2, w: 2, trials: 2000, seed: 5, localCoordinator: false });
      assert.equal(pAt(strict, 0), 1, profile.name);
      const loose = warsThresholds(profile, { n: PBS_N, r: 1, w: 1, trials: 2000, seed: 5, localCoordinator: true });
      assert.deepEqual(loose, warsThresholds(profile, { n: PBS_N, r: 1, w: 1, trials: 2000, seed: 5, localCoordinator: true }));
      fc.assert(
        fc.property(fc.double({ min: 0, max: 5000, noNaN: true }), fc.double({ min: 0, max: 5000, noNaN: true }), (a, b) => {
          assert.ok(pAt(loose, Math.min(a, b)) <= pAt(loose, Math.max(a, b)));
        }),
        fcParams(100),
      );
    }
  });

  test('pAt and tFor on a known threshold list', () => {
    const th = new Float64Array([0, 0, 1, 2, 5]);
    const table: Array<[number, number]> = [[0, 0.4], [0.5, 0.4], [1, 0.6], [4.9, 0.8], [5, 1], [100, 1]];
    for (const [t, p] of table) assert.equal(pAt(th, t), p, `pAt(${t})`);
    const inverse: Array<[number, number]> = [[0.2, 0], [0.4, 0], [0.41, 1], [0.6, 1], [0.8, 2], [0.999, 5], [1, 5]];
    for (const [p, t] of inverse) assert.equal(tFor(th, p), t, `tFor(${p})`);
    assert.throws(() => tFor(th, 0), InvalidArgumentError);
  });

  test('gridCrossing interpolates between the grid points around the crossing', () => {
    assert.deepEqual(gridCrossing([0, 10, 20], [0.5, 0.99, 1], 0.999), { atMs: 19, bracketMs: [10, 20] });
    assert.deepEqual(gridCrossing([0, 10], [1, 1], 0.999), { atMs: 0, bracketMs: [0, 0] });
    assert.equal(gridCrossing([0, 10], [0.5, 0.9], 0.999), undefined);
  });
});

describe('pbs: measured on the simulated cluster', () => {
  test('R + W > N: every read at every t returns the value just written (heavy-tailed ymmr, wan)', async () => {
    for (const name of ['ymmr', 'wan'] as const) {
      for (const { r, w } of ALL_RW.filter((c) => c.r + c.w > PBS_N)) {
        const m = await measureSim(PBS_PROFILES[name], { r, w, trials: 60, seed: 9, tMs: [0, 1, 10] });
        assert.deepEqual(m.consistent, [60, 60, 60], `${name} R=${r} W=${w}`);
        assert.equal(m.lateReads, 0);
      }
    }
  });

  test('P(consistent) grows with t (within noise, fixed seed) and at t=0 matches WARS with a local coordinator', async () => {
    const p = PBS_PROFILES['lnkd-disk'];
    const tMs = [0, 2, 5, 10, 20, 40, 80];
    const trials = 1500;
    for (const { r, w } of [{ r: 1, w: 1 }, { r: 2, w: 1 }]) {
      const m = await measureSim(p, { r, w, trials, seed: 21, tMs });
      assert.equal(m.lateReads, 0);
      const ps = m.consistent.map((c) => c / trials);
      for (let j = 1; j < ps.length; j++) {
        assert.ok(ps[j] >= ps[j - 1] - 0.01, `R=${r} W=${w}: P(${tMs[j]}) ${ps[j]} < P(${tMs[j - 1]}) ${ps[j - 1]}`);
      }
      assert.ok(ps[ps.length - 1] > 0.99 && ps[0] < 0.8, `R=${r} W=${w}: ${ps.join(' ')}`);
      const local = warsThresholds(p, { n: PBS_N, r, w, trials: 50_000, seed: 21, localCoordinator: true });
      assert.ok(near(ps[0], pAt(local, 0), trials), `R=${r} W=${w}: measured ${ps[0]} vs WARS-local ${pAt(local, 0)}`);
    }
  });

  test('the same seed gives the same numbers and digest; another seed another digest', async () => {
    const p = PBS_PROFILES.wan;
    const run = (seed: number) => measureSim(p, { r: 1, w: 1, trials: 200, seed, tMs: [0, 50, 100] });
    const [a, b, c] = [await run(4), await run(4), await run(5)];
    assert.deepEqual([a.consistent, a.ops, a.events, a.virtualMs, a.digest], [b.consistent, b.ops, b.events, b.virtualMs, b.digest]);
    assert.notEqual(a.digest, c.digest);
    assert.equal(a.ops, 200 * 4);
  });
});

describe('pbs: options and the run', () => {
  test('defaults: every profile, R/W 1/1 1/2 2/1 2/2, the profile grids', () => {
    const o = parsePbsOptions({});
    assert.deepEqual(o.profiles, ['lnkd-ssd', 'lnkd-disk', 'ymmr', 'wan']);
    assert.deepEqual(o.configs, PBS_DEFAULTS.configs);
    assert.equal(o.tMs, null);
    assert.equal(o.format, 'table');
    const p = parsePbsOptions({
      profile: 'wan,ymmr', rw: '2/1', trials: '300', modelTrials: 1000, seed: '0', t: '5,0,1.5', format: 'json',
    });
    assert.deepEqual(
      [p.profiles, p.configs, p.trials, p.modelTrials, p.seed, p.tMs, p.format],
      [['wan', 'ymmr'], [{ r: 2, w: 1 }], 300, 1000, 0, [0, 1.5, 5], 'json'],
    );
  });

  test('bad options throw InvalidArgumentError naming what is allowed', () => {
    const table: Array<[Record<string, unknown>, RegExp]> = [
      [{ profile: 'lnkd' }, /unknown latency profile "lnkd"; profiles: lnkd-ssd, lnkd-disk, ymmr, wan/],
      [{ profile: 'wan,wan' }, /names wan twice/],
      [{ rw: '4/1' }, /R and W must be integers from 1 to N=3/],
      [{ rw: '0/1' }, /from 1 to N=3/],
      [{ rw: 'ONE/ONE' }, /write R\/W as two integers/],
      [{ rw: '1/1,1/1' }, /twice/],
      [{ trials: '0' }, /--trials must be an integer from 1 to/],
      [{ trials: '1.5' }, /--trials/],
      [{ trials: 'many' }, /--trials/],
      [{ modelTrials: -1 }, /--model-trials/],
      [{ seed: '4294967296' }, /--seed must be an integer from 0 to 4294967295/],
      [{ t: '0,-1' }, /each t is a number of ms from 0/],
      [{ t: '0,,1' }, /each t/],
      [{ t: '1,1' }, /twice/],
      [{ format: 'html' }, /--format must be table or json/],
      [{ trails: 5 }, /unknown pbs option trails/],
    ];
    for (const [raw, pattern] of table) {
      const matches = (e: unknown): boolean => e instanceof InvalidArgumentError && pattern.test(e.message);
      assert.throws(() => parsePbsOptions(raw as never), matches, JSON.stringify(raw));
    }
  });

  test('runPbs prints the grid, the models, the closed form, the summary and the ops/s; JSON says the same', async () => {
    const options = parsePbsOptions({ profile: 'lnkd-ssd', rw: '1/1,2/2', trials: 100, modelTrials: 2000, t: '0,1,5' });
    const { out, text } = sink();
    const report = await runPbs(options, out);
    const s = text();
    for (const want of ['== lnkd-ssd', 'measured (sim)', 'WARS-local', 'closed form k=1', '== summary', 'ops/s', 'note: WARS-local']) {
      assert.ok(s.includes(want), `output lacks ${want}`);
    }
    assert.equal(report.cells.length, 2);
    const strict = report.cells[1];
    assert.deepEqual([strict.measured, strict.closedForm, strict.tVisibilityMs.measured], [[1, 1, 1], 1, 0]);
    assert.ok(report.sim.ops === 2 * 100 * 4 && report.sim.opsPerSec > 0);
    const json = sink();
    const again = await runPbs({ ...options, format: 'json' }, json.out);
    const parsed = JSON.parse(json.text()) as typeof report;
    assert.deepEqual(parsed.cells.map((c) => c.measured), report.cells.map((c) => c.measured));
    assert.deepEqual(again.cells.map((c) => c.sim.digest), report.cells.map((c) => c.sim.digest));
  });
});
