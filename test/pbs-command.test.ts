// The `leaderless pbs` command (bench/pbs/command.ts): --json FILE and --html FILE as bench, sim and sweep write them,
// output paths refused before the run, and the deprecated --format json still working with one line saying so.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '../runtime/index.js';
import { checkWritable, pbsCommand, type PbsReport } from '../bench/pbs/index.js';

function sink(): { out: NodeJS.WritableStream; text: () => string } {
  let s = '';
  const out = { write: (chunk: string) => ((s += chunk), true) } as unknown as NodeJS.WritableStream;
  return { out, text: () => s };
}

const SMALL = { profile: 'wan', rw: '1/1', trials: '50', modelTrials: '500', seed: '2', t: '0,100' };

describe('pbs command', () => {
  test('--json FILE and --html FILE: the table on stdout, the report in the files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leaderless-pbs-'));
    try {
      const [out, err] = [sink(), sink()];
      await pbsCommand({ ...SMALL, json: join(dir, 'p.json'), html: join(dir, 'p.html') }, out.out, err.out);
      assert.match(out.text(), /== summary/);
      const report = JSON.parse(readFileSync(join(dir, 'p.json'), 'utf8')) as PbsReport;
      assert.deepEqual([report.seed, report.trials, report.cells.length, report.cells[0].tMs], [2, 50, 1, [0, 100]]);
      const html = readFileSync(join(dir, 'p.html'), 'utf8');
      assert.match(html, /data-chart="pbs-wan"/);
      assert.match(err.text(), /wrote .*p\.json\nwrote .*p\.html\n/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--json - prints the JSON instead of the table; --format json does too and says it is deprecated', async () => {
    const a = [sink(), sink()];
    await pbsCommand({ ...SMALL, json: '-' }, a[0].out, a[1].out);
    const b = [sink(), sink()];
    await pbsCommand({ ...SMALL, format: 'json' }, b[0].out, b[1].out);
    assert.deepEqual((JSON.parse(a[0].text()) as PbsReport).cells[0].measured, (JSON.parse(b[0].text()) as PbsReport).cells[0].measured);
    assert.equal(a[1].text(), '');
    assert.equal(b[1].text(), 'leaderless: --format json is deprecated; use --json - (or --json FILE)\n');
  });

  test('an unwritable --json or --html is refused before the run, saying why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leaderless-pbs-'));
    try {
      mkdirSync(join(dir, 'ro'));
      chmodSync(join(dir, 'ro'), 0o555);
      const cases: Array<[Record<string, string>, RegExp]> = [
        [{ html: join(dir, 'missing', 'x.html') }, /--html .*: the directory .*missing does not exist/],
        [{ json: dir }, /--json .*: is a directory/],
      ];
      if (process.getuid?.() !== 0) cases.push([{ json: join(dir, 'ro', 'x.json') }, /not writable/]); // root writes anywhere
      for (const [files, pattern] of cases) {
        const out = sink();
        await assert.rejects(pbsCommand({ ...SMALL, trials: '200000', ...files }, out.out, sink().out), (e: unknown) => e instanceof InvalidArgumentError && pattern.test(e.message));
        assert.equal(out.text(), '', 'nothing ran');
      }
      assert.throws(() => checkWritable(join(dir, 'missing', 'x'), '--json'), /give a path in an existing directory/);
      checkWritable(join(dir, 'fine.json'), '--json');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the CLI: a bad --html path exits 2 with one line', () => {
    const r = spawnSync(process.execPath, ['dist/bench/cli.js', 'pbs', '--html', '/nonexistent-dir/x.html'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^leaderless: --html \/nonexistent-dir\/x\.html: the directory \/nonexistent-dir does not exist/);
  });
});
