// `leaderless pbs --coordinator any`: each trial's write goes through a node that is none of the key's replicas (a
// proxy, actors/coordinator/proxy-put.ts), as in the paper's WARS model, so measured must follow WARS and not
// WARS-local where the two differ most (R=1 W=1 at t=0 on lnkd-ssd: WARS ~0.97, WARS-local ~0.56).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { InvalidArgumentError } from '../actors/errors.js';
import { PBS_PROFILES, measureSim, parsePbsOptions, pAt, runPbs, warsThresholds, type PbsReport } from '../bench/pbs/index.js';
import { pbsHtml } from '../bench/pbs/html.js';

const sink = (): { out: Writable; text: () => string } => {
  let s = '';
  return { out: new Writable({ write: (c: Buffer, _e, cb) => void ((s += c.toString()), cb()) }), text: () => s };
};

describe('pbs --coordinator any (a proxy coordinator, as in WARS)', () => {
  test('measured follows WARS, not WARS-local, where they differ most; with a replica coordinating, the reverse', async () => {
    const p = PBS_PROFILES['lnkd-ssd'];
    const model = (local: boolean): number => pAt(warsThresholds(p, { n: 3, r: 1, w: 1, trials: 50_000, seed: 5, localCoordinator: local }), 0);
    const [wars, local] = [model(false), model(true)];
    assert.ok(wars - local > 0.3, `the models differ: WARS ${wars}, WARS-local ${local}`);
    const at0 = async (coordinator: 'replica' | 'any'): Promise<number> => {
      const m = await measureSim(p, { r: 1, w: 1, trials: 2000, seed: 11, tMs: [0], coordinator });
      assert.equal(m.lateReads, 0);
      return m.consistent[0] / m.trials;
    };
    const [proxy, replica] = [await at0('any'), await at0('replica')];
    // 2000 trials: a standard error of at most 0.011
    assert.ok(Math.abs(proxy - wars) < 0.03, `proxy ${proxy} vs WARS ${wars}`);
    assert.ok(Math.abs(replica - local) < 0.05, `replica ${replica} vs WARS-local ${local}`);
  });

  test('the option: parsed, refused when unknown, and shown in the text, JSON and HTML', async () => {
    assert.equal(parsePbsOptions({}).coordinator, 'replica');
    assert.throws(() => parsePbsOptions({ coordinator: 'leader' }), (e: Error) => e instanceof InvalidArgumentError && /--coordinator must be replica .* or any .*; got leader/.test(e.message));
    const options = parsePbsOptions({ profile: 'lnkd-ssd', rw: '1/1', trials: 200, modelTrials: 2000, t: '0,1', coordinator: 'any' });
    const s = sink();
    const report = await runPbs(options, s.out);
    assert.match(s.text(), /--coordinator any/);
    assert.match(s.text(), /measured \(proxy\)/);
    assert.equal(report.coordinator, 'any');
    assert.equal(report.cells[0].coordinator, 'any');
    assert.ok(report.notes[0].startsWith('measured = the simulated cluster running the real protocol with a proxy coordinator'));
    const json = JSON.parse(JSON.stringify(report)) as PbsReport;
    assert.equal(json.coordinator, 'any');
    assert.match(pbsHtml(report), /largest \|measured - WARS\| \(proxy coordinator\)/);
  });
});
