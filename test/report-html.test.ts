// The HTML reports (bench/report/, bench/pbs/html.ts): what each page holds (headline cards first, one chart spec per
// chart, axes that never collapse, the sim banner, Chart.js inline and nothing fetched), and, where Chromium is
// installed, every kind of report (bench, sim, sweep, pbs) opened in headless Chromium: every chart drew, the headline
// numbers are on the page, and a screenshot is written (its path printed) for a person to look at.
// CI sets LEADERLESS_REQUIRE_CHROMIUM=1: there a missing Chromium fails instead of skipping.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseFault } from '../bench/faults.js';
import { parsePbsOptions, pbsHtml, runPbs, type PbsReport } from '../bench/pbs/index.js';
import { benchHeadlines, benchHtml, int, pct, rangeDown, rangeUp, replayCommand, sweepHtml, type ChartSpec } from '../bench/report/index.js';
import { runBench, type BenchReport, type BenchSpec } from '../bench/run.js';
import { PRESETS, type WorkloadSpec } from '../bench/workloads.js';
import { fcParams } from './helpers/fc.js';
import { FakeStore, VirtualClock } from './helpers/harness-fake.js';

const WORKLOAD_A: WorkloadSpec = { name: 'A', mix: PRESETS.A.mix, distribution: 'zipfian', keys: 50, valueSizeBytes: 20 };

function spec(label: string, overrides: Partial<BenchSpec> = {}): BenchSpec {
  return { label, cluster: { nodes: 3, replication: 3 }, workload: WORKLOAD_A, inFlight: 4, durationMs: 40, seed: 7, faults: [], updateContext: 'none', maxHistory: 100_000, ...overrides };
}

async function fakeReport(label: string, staleProbability: number, overrides: Partial<BenchSpec> = {}): Promise<BenchReport> {
  return runBench(spec(label, overrides), { factory: async () => new FakeStore({ seed: 3, staleProbability }), clock: new VirtualClock() });
}

function specsOf(html: string): ChartSpec[] {
  const m = /<script type="application\/json" id="chart-specs">([^<]*)<\/script>/.exec(html);
  assert.ok(m !== null, 'the page has its chart specs');
  return JSON.parse(m[1]) as ChartSpec[];
}

const chartOf = (html: string, id: string): ChartSpec => {
  const c = specsOf(html).find((s) => s.id === id);
  assert.ok(c !== undefined, `chart ${id} on the page`);
  return c;
};

async function smallPbs(): Promise<PbsReport> {
  const quiet = { write: () => true } as unknown as NodeJS.WritableStream;
  return runPbs(parsePbsOptions({ profile: 'lnkd-ssd,wan', rw: '1/1,2/2', trials: 150, modelTrials: 3000, t: '0,1,5,50,100' }), quiet);
}

describe('report axes', () => {
  test('rangeUp: all-zero rates still get a span; the largest value fits under the top', () => {
    assert.deepEqual(rangeUp([0, 0, 0], 0.01), { min: 0, max: 0.01 });
    assert.deepEqual(rangeUp([], 0.01), { min: 0, max: 0.01 });
    assert.ok(rangeUp([0.3], 0.01).max >= 0.3);
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { maxLength: 10 }), fc.double({ min: 1e-6, max: 10, noNaN: true }), (xs, span) => {
        const r = rangeUp(xs, span);
        assert.ok(r.max - r.min >= span && xs.every((x) => x <= r.max), JSON.stringify({ xs, span, r }));
      }),
      fcParams(200),
    );
  });

  test('rangeDown: 100% everywhere gives 95%..100%, never a line on the top edge; every value stays inside', () => {
    assert.deepEqual(rangeDown([1, 1], 1, 0.05, 0.05), { min: 0.95, max: 1 });
    const avail = rangeDown([0.9842, 1], 1, 0.05, 0.01);
    assert.ok(avail.min < 0.9842 && avail.min >= 0.9, JSON.stringify(avail));
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 10 }), (xs) => {
        const r = rangeDown(xs, 1, 0.05, 0.01);
        assert.ok(r.max - r.min >= 0.05 - 1e-12 && xs.every((x) => x >= r.min) && r.min >= 0, JSON.stringify({ xs, r }));
      }),
      fcParams(200),
    );
  });
});

describe('bench and sim pages', () => {
  test('headline cards come before every chart and say the numbers of the run', async () => {
    const r = await fakeReport('x', 0.2);
    const html = benchHtml(r);
    const cards = benchHeadlines(r);
    assert.deepEqual(cards.slice(0, 5).map((c) => c.id), ['stale-reads', 'lost-writes', 'conflicts', 'availability', 'throughput']);
    assert.equal(cards[0].value, pct(r.consistency.staleRate));
    assert.equal(cards[4].value, int(r.ops.all.opsPerSec));
    assert.ok(r.consistency.staleReads > 0);
    const firstCard = html.indexOf('data-headline="stale-reads"');
    assert.ok(firstCard > 0 && firstCard < html.indexOf('<canvas'), 'headline before the charts');
    assert.ok(html.indexOf('stale reads') < html.indexOf('<details>'), 'the figures are not only in the raw text at the bottom');
  });

  test('one self-contained file: Chart.js inline, nothing fetched, no early </script>', async () => {
    const r = await fakeReport('x', 0.1, { faults: [parseFault('partition:0/1,2@10ms-20ms'), parseFault('kill:1@30ms')] });
    const html = benchHtml(r);
    assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:|\/\/)/);
    assert.ok(html.length > 150_000 && html.includes('window.Chart='), 'Chart.js inlined');
    assert.equal(html.split('</script>').length - 1, 3, 'three scripts, each closed once');
    const ids = specsOf(html).map((s) => s.id);
    assert.deepEqual(ids, ['latency', 'throughput', 't-visibility', 'siblings']);
    const tp = chartOf(html, 'throughput');
    assert.equal(tp.bands?.[0]?.label, 'partition:0/1,2@10ms-20ms');
    assert.equal(tp.vlines?.[0]?.label, 'kill:1@30ms');
  });

  test('t-visibility when every read saw the latest write: full bars on an axis that does not collapse, and it says so', async () => {
    const r = await fakeReport('x', 0);
    assert.equal(r.consistency.staleReads, 0);
    const v = chartOf(benchHtml(r), 't-visibility');
    assert.equal(v.kind, 'bar');
    assert.deepEqual([v.y.min, v.y.max], [0.95, 1]);
    assert.ok((v.series[0].data as number[]).every((p) => p === 1));
    assert.match(v.note ?? '', /every bar is at 100%/);
  });

  test('the sibling chart counts single-value reads and every sibling count', async () => {
    const r = await fakeReport('x', 0);
    const s = chartOf(benchHtml(r), 'siblings');
    const c = r.consistency;
    assert.ok(c.conflicts.reads > 0, 'blind concurrent updates of hot keys make siblings');
    assert.deepEqual(s.x.categories, ['0-1', ...c.conflicts.siblingsHistogram.map((h) => String(h.siblings))]);
    assert.equal((s.series[0].data as number[]).reduce((a, b) => a + b, 0), c.reads);
    assert.match(s.note ?? '', /Workload A/);
  });

  test('a simulated run says so: virtual time, seed, trace digest and the command that replays it', async () => {
    const r = await fakeReport('x', 0);
    const html = benchHtml(r, { latency: 'lan', digest: 'abc123def', virtualMs: 2500, replay: 'leaderless sim --seed 7' });
    for (const s of ['Simulated run', 'virtual time <b data-sim="virtual-time">2.500 s</b>', 'seed <b data-sim="seed">7</b>', 'abc123def', 'leaderless sim --seed 7', 'same trace digest']) {
      assert.ok(html.includes(s), s);
    }
    assert.ok(!benchHtml(r).includes('Simulated run'));
  });

  test('replayCommand drops the output files and quotes what a shell would split', () => {
    assert.equal(
      replayCommand(['sim', '--seed', '3', '--html', 'a.html', '--json=b.json', '--fault', 'delay:*:5ms@1s-2s', '--duration', '2']),
      "leaderless sim --seed 3 --fault 'delay:*:5ms@1s-2s' --duration 2",
    );
  });
});

describe('sweep and pbs pages', () => {
  test('sweep: per configuration side by side; zero stale rates keep a 0..1% axis; availability axis shows the gap', async () => {
    const runs = [await fakeReport('R=1 W=1', 0), await fakeReport('R=2 W=2', 0)];
    const html = sweepHtml(runs);
    const ids = specsOf(html).map((s) => s.id);
    for (const id of ['read-latency', 'write-latency', 'throughput', 'availability', 'stale-rate', 't-visibility', 'throughput-0', 'throughput-1']) assert.ok(ids.includes(id), id);
    const stale = chartOf(html, 'stale-rate');
    assert.deepEqual([stale.y.min, stale.y.max, stale.x.categories], [0, 0.01, ['R=1 W=1', 'R=2 W=2']]);
    const avail = chartOf(html, 'availability');
    assert.ok((avail.y.max ?? 0) - (avail.y.min ?? 0) >= 0.05);
    const vis = chartOf(html, 't-visibility');
    assert.equal(vis.kind, 'bar', 'grouped bars: no configuration hides another');
    assert.deepEqual(vis.series.map((s) => s.name), ['R=1 W=1', 'R=2 W=2']);
    assert.ok(html.indexOf('data-headline') < html.indexOf('<canvas'));
  });

  test('pbs: a chart per profile, measured beside WARS-local and WARS for every R/W', async () => {
    const r = await smallPbs();
    const html = pbsHtml(r);
    const charts = specsOf(html);
    assert.deepEqual(charts.map((c) => c.id), ['pbs-lnkd-ssd', 'pbs-wan']);
    for (const c of charts) {
      assert.deepEqual(c.series.map((s) => s.name), ['R=1 W=1 measured', 'R=1 W=1 WARS-local', 'R=1 W=1 WARS', 'R=2 W=2 measured', 'R=2 W=2 WARS-local', 'R=2 W=2 WARS']);
      assert.deepEqual(c.x.categories, ['0', '1', '5', '50', '100']);
    }
    assert.deepEqual(charts[0].series[3].data, r.cells[1].measured);
    for (const id of ['cells', 'trials', 'seed', 'model-gap']) assert.ok(html.includes(`data-headline="${id}"`), id);
  });
});

// ------------------------------------------------------------------------------------------------ Chromium

const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser', process.env.CHROMIUM].find((c) => c !== undefined && c !== '' && existsSync(c));
const required = process.env.LEADERLESS_REQUIRE_CHROMIUM === '1';
const skip = chromium === undefined && !required ? 'no Chromium here (apt-get install -y chromium to run it)' : false;

interface RenderCheck {
  charts: Array<{ chart: string; marks: number; ink: number; width: number; error?: string }>;
  headlines: Array<{ id: string; value: string; visible: boolean }>;
}

/** Runs scripts/check-report.mjs; asserts it passed; returns what the browser measured. */
function browserCheck(file: string, charts: string[], headlines: string[], shots: string): RenderCheck {
  assert.ok(chromium !== undefined, 'LEADERLESS_REQUIRE_CHROMIUM=1 but no Chromium is installed');
  const png = join(shots, file.replace(/^.*\//, '').replace(/\.html$/, '.png'));
  const args = ['scripts/check-report.mjs', file, '--expect', charts.join(','), '--headlines', headlines.join(','), '--screenshot', png];
  const out = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 90_000 });
  assert.equal(out.status, 0, out.stderr);
  assert.ok(existsSync(png) && readFileSync(png).subarray(1, 4).toString() === 'PNG', `screenshot ${png}`);
  process.stdout.write(`screenshot: ${png}\n`);
  const check = JSON.parse(out.stdout) as RenderCheck;
  for (const c of check.charts) assert.ok(c.marks > 0 && c.ink > 0 && c.error === undefined, JSON.stringify(c));
  return check;
}

const value = (c: RenderCheck, id: string): string | undefined => c.headlines.find((h) => h.id === id)?.value;

describe('reports in headless Chromium', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'leaderless-report-'));
  const shots = process.env.LEADERLESS_SHOTS ?? join(dir, 'shots');

  test('bench: every chart drew; the headline numbers are the run\'s', { timeout: 120_000 }, async () => {
    const r = await fakeReport('x', 0.1, { faults: [parseFault('partition:0/1,2@10ms-20ms'), parseFault('kill:1@30ms')] });
    const file = join(dir, 'bench.html');
    writeFileSync(file, benchHtml(r));
    const check = browserCheck(file, ['latency', 'throughput', 't-visibility', 'siblings'], ['stale-reads', 'lost-writes', 'conflicts', 'availability', 'throughput', 'read-p99'], shots);
    assert.equal(value(check, 'stale-reads'), pct(r.consistency.staleRate));
    assert.equal(value(check, 'availability'), pct(r.ops.all.availability));
    assert.equal(value(check, 'throughput'), int(r.ops.all.opsPerSec));
    assert.equal(value(check, 'lost-writes'), int(r.consistency.lostWrites.lost));
  });

  test('sim: the CLI\'s page of a simulated run with faults renders, with its digest and virtual time', { timeout: 120_000 }, () => {
    const file = join(dir, 'sim.html');
    const argv = ['dist/bench/cli.js', 'sim', '--nodes', '3', '--keys', '100', '--duration', '0.4', '--in-flight', '8', '--seed', '5', '--no-progress', '--html', file,
      '--fault', 'partition:0/1,2@100ms-200ms', '--fault', 'kill:2@120ms', '--fault', 'delay:*:5ms@110ms-250ms'];
    const run = spawnSync(process.execPath, argv, { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    const digest = /trace digest (\w+)/.exec(run.stdout)?.[1];
    assert.ok(digest !== undefined && readFileSync(file, 'utf8').includes(digest), 'the page names the printed digest');
    const check = browserCheck(file, ['latency', 'throughput'], ['stale-reads', 'availability', 'virtual-time'], shots);
    assert.match(value(check, 'virtual-time') ?? '', /^\d+\.\d\d s$/);
  });

  test('sweep and pbs: every chart drew, even with every stale rate 0', { timeout: 120_000 }, async () => {
    // every stale rate 0: the case whose chart used to collapse (a 0-height bar draws nothing unless it is kept visible)
    const runs = [await fakeReport('R=2 W=2', 0), await fakeReport('R=3 W=1', 0, { seed: 8 })];
    const sweep = join(dir, 'sweep.html');
    writeFileSync(sweep, sweepHtml(runs));
    const s = browserCheck(sweep, ['read-latency', 'write-latency', 'throughput', 'availability', 'stale-rate', 't-visibility'], ['stale-reads', 'availability', 'throughput'], shots);
    assert.equal(value(s, 'stale-reads'), '0.00%');
    const r = await smallPbs();
    const pbs = join(dir, 'pbs.html');
    writeFileSync(pbs, pbsHtml(r));
    const check = browserCheck(pbs, ['pbs-lnkd-ssd', 'pbs-wan'], ['cells', 'trials', 'seed', 'model-gap'], shots);
    assert.equal(value(check, 'trials'), '150');
  });
});

describe('check-report judges a render check', () => {
  test('a chart with no ink or no marks, a hidden or empty headline, a missing chart: each is a problem', async () => {
    const url = new URL('../../scripts/check-report.mjs', import.meta.url).href;
    const { problems } = (await import(url)) as { problems: (c: unknown, charts?: string[], heads?: string[]) => string[] };
    const ok = { charts: [{ chart: 'a', marks: 3, ink: 10, width: 5, height: 5 }], headlines: [{ id: 'h', value: '1.5%', visible: true }] };
    assert.deepEqual(problems(ok, ['a'], ['h']), []);
    const bad = {
      charts: [{ chart: 'a', marks: 3, ink: 0, width: 5, height: 5 }, { chart: 'b', marks: 0, ink: 4, width: 5, height: 5, error: 'boom' }],
      headlines: [{ id: 'h', value: '', visible: false }],
    };
    assert.deepEqual(problems(bad, ['c'], ['h', 'k']), [
      'chart a: nothing coloured drawn in its plot area',
      'chart b: boom',
      'chart b: no data marks laid out',
      'headline h is not visible',
      'headline h shows no number ("")',
      'chart c is missing',
      'headline k is missing',
    ]);
    assert.deepEqual(problems({ charts: [], headlines: [] }), ['no charts on the page']);
  });
});
