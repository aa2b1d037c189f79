// The HTML report of a sweep: the trade-off between quorum configurations, side by side. Headline: the best and worst
// configuration on each axis; charts, one bar per configuration: read and write latency percentiles, throughput,
// availability under the fault schedule, stale-read rate, t-visibility (grouped bars, so no configuration's curve
// hides another's); then throughput over time per configuration (small multiples with the faults) and the table.
// Axes keep a minimum span: all-zero stale rates still get an axis from 0 to 1%, availability of 100% everywhere an
// axis from 95% to 100%.
import type { BenchReport } from '../run.js';
import { Charts, logRange, rangeDown, rangeUp, type ChartSpec } from './charts.js';
import { throughputSpec } from './bench-html.js';
import { details, esc, headlines, htmlTable, page, type Headline } from './html.js';
import { benchTable, int, mergeWrites, pct, runSummary, sweepTable, visibilityLabel } from './text.js';

const writeOps = (r: BenchReport) => r.ops.update ?? r.ops.insert ?? r.ops.rmw;

function latencyBars(runs: BenchReport[], what: 'read' | 'write'): ChartSpec | undefined {
  const stats = runs.map((r) => (what === 'read' ? r.ops.read : writeOps(r)));
  if (stats.every((s) => s === undefined)) return undefined;
  const pick = (p: 'p50' | 'p99' | 'p999'): Array<number | null> => stats.map((s) => (s === undefined || s.ok === 0 ? null : Math.max(1, s.latencyUs[p])));
  const series = [
    { name: 'p50', color: '#9ecae1', data: pick('p50') },
    { name: 'p99', color: '#3182bd', data: pick('p99') },
    { name: 'p99.9', color: '#08519c', data: pick('p999') },
  ];
  return {
    id: `${what}-latency`, kind: 'bar', title: `${what === 'read' ? 'Read' : 'Write'} latency percentiles per configuration (log scale)`,
    x: { title: 'configuration', categories: runs.map((r) => r.label) },
    y: { title: 'latency', log: true, format: 'us', ...logRange(series.flatMap((s) => s.data)) },
    series,
  };
}

function oneBar(runs: BenchReport[], id: string, title: string, yTitle: string, values: number[], y: Partial<ChartSpec['y']>, color: string, note?: string): ChartSpec {
  return {
    id, kind: 'bar', title,
    x: { title: 'configuration', categories: runs.map((r) => r.label) },
    y: { title: yTitle, ...y },
    series: [{ name: yTitle, color, data: values }],
    valueLabels: true, legend: false,
    ...(note !== undefined ? { note } : {}),
  };
}

function visibilityBars(runs: BenchReport[]): ChartSpec | undefined {
  const n = runs[0]?.consistency.tVisibility.length ?? 0;
  const used = [...Array(n).keys()].filter((i) => runs.some((r) => (r.consistency.tVisibility[i]?.reads ?? 0) > 0));
  if (used.length === 0) return undefined;
  const series = runs.map((r) => ({ name: r.label, data: used.map((i) => r.consistency.tVisibility[i]?.probability ?? null) }));
  const ps = series.flatMap((s) => s.data).filter((p): p is number => p !== null);
  return {
    id: 't-visibility', kind: 'bar', title: 't-visibility per configuration: P(a read sees the latest acknowledged write)',
    x: { title: 'time from the acknowledgement to the read', categories: used.map((i) => visibilityLabel(runs[0].consistency.tVisibility[i])) },
    y: { title: 'P(sees latest)', format: 'pct', ...rangeDown(ps, 1, 0.05, 0.05) },
    series, legend: true, width: 1060,
    note: (ps.every((p) => p === 1) ? 'Every judged read of every configuration saw the latest acknowledged write. ' : '') + 'No bar: no read of that configuration fell in that time bucket.',
  };
}

function sweepSpecs(runs: BenchReport[]): ChartSpec[] {
  const avail = runs.map((r) => r.ops.all.availability);
  const stale = runs.map((r) => r.consistency.staleRate);
  const faults = runs[0]?.config.faults.join('; ') || 'none';
  const specs: Array<ChartSpec | undefined> = [
    latencyBars(runs, 'read'),
    latencyBars(runs, 'write'),
    oneBar(runs, 'throughput', 'Throughput per configuration', 'operations per second', runs.map((r) => r.ops.all.opsPerSec), { format: 'int', ...rangeUp(runs.map((r) => r.ops.all.opsPerSec), 1) }, '#2ca02c'),
    oneBar(runs, 'availability', `Availability under the fault schedule (faults: ${faults})`, 'operations that met their quorum', avail, { format: 'pct', ...rangeDown(avail, 1, 0.05, 0.01) }, '#ff7f0e'),
    oneBar(runs, 'stale-rate', 'Stale-read rate per configuration', 'stale reads / judged reads', stale, { format: 'pct', ...rangeUp(stale, 0.01, 1) }, '#d62728', stale.every((s) => s === 0) ? 'No configuration returned a stale read.' : undefined),
  ];
  return specs.filter((s): s is ChartSpec => s !== undefined);
}

function sweepHeadlines(runs: BenchReport[]): Headline[] {
  const best = (f: (r: BenchReport) => number, dir: 1 | -1, show: (x: number) => string): { value: string; detail: string } => {
    const sorted = [...runs].sort((a, b) => dir * (f(a) - f(b)));
    const [first, last] = [sorted[0], sorted[sorted.length - 1]];
    return { value: show(f(first)), detail: `${first.label}; worst ${last.label} ${show(f(last))}` };
  };
  const readP99 = (r: BenchReport): number => (r.ops.read ?? r.ops.all).latencyUs.p99;
  const us = (x: number): string => (x >= 10_000 ? `${(x / 1000).toPrecision(3)} ms` : `${int(x)} µs`);
  const staleAll = runs.reduce((a, r) => a + r.consistency.staleReads, 0);
  const lostAll = runs.reduce((a, r) => a + r.consistency.lostWrites.lost, 0);
  return [
    { id: 'configurations', label: 'configurations', value: String(runs.length), detail: runs.map((r) => r.label).join(', ') },
    { id: 'stale-reads', label: 'lowest stale-read rate', ...best((r) => r.consistency.staleRate, 1, (x) => pct(x)), tone: staleAll > 0 ? 'bad' : 'good' },
    { id: 'availability', label: 'best availability', ...best((r) => r.ops.all.availability, -1, (x) => pct(x)) },
    { id: 'throughput', label: 'best throughput (ops/s)', ...best((r) => r.ops.all.opsPerSec, -1, int) },
    { id: 'read-p99', label: 'lowest read p99', ...best(readP99, 1, us) },
    { id: 'lost-writes', label: 'lost writes, all runs', value: int(lostAll), detail: `of ${int(runs.reduce((a, r) => a + r.consistency.lostWrites.acknowledged, 0))} acknowledged`, tone: lostAll > 0 ? 'bad' : 'good' },
  ];
}

function sweepRows(runs: BenchReport[]): string[][] {
  return runs.map((r) => {
    const w = mergeWrites(r);
    const c = r.consistency;
    return [
      r.label, int(r.ops.all.opsPerSec), pct(r.ops.all.availability), r.ops.read ? int(r.ops.read.latencyUs.p50) : '-', r.ops.read ? int(r.ops.read.latencyUs.p99) : '-',
      w ? int(w.p50) : '-', w ? int(w.p99) : '-', pct(c.staleRate), String(c.kStaleness.max), pct(c.conflicts.rate), `${int(c.lostWrites.lost)}/${int(c.lostWrites.acknowledged)}`,
    ];
  });
}

export function sweepHtml(runs: BenchReport[]): string {
  const charts = new Charts();
  const figures = sweepSpecs(runs).map((s) => charts.figure(s));
  const visibility = visibilityBars(runs);
  const overTime = runs.map((r, i) => charts.figure(throughputSpec(r, `throughput-${i}`, { width: 520, height: 220, title: `${r.label}: throughput over time` })));
  const header = ['config', 'ops/s', 'avail', 'read p50 µs', 'read p99 µs', 'write p50 µs', 'write p99 µs', 'stale', 'k max', 'siblings', 'lost'];
  const body = [
    `<h1>leaderless sweep</h1>`,
    runs[0] ? `<p class="sub">${esc(runSummary(runs[0]))}<br>faults: ${esc(runs[0].config.faults.join('; ') || 'none')}</p>` : '',
    runs.length > 0 ? headlines(sweepHeadlines(runs)) : '<p>No runs.</p>',
    `<div class="grid">${figures.join('')}</div>`,
    visibility === undefined ? '<p>No read was judged: no t-visibility.</p>' : charts.figure(visibility),
    `<h2>Throughput over time, per configuration (faults shaded)</h2>`,
    `<div class="grid">${overTime.join('')}</div>`,
    `<h2>Per configuration</h2>`,
    htmlTable(header, sweepRows(runs)),
    details('The terminal table', sweepTable(runs)),
    ...runs.map((r) => details(`${r.label}: everything measured`, benchTable(r))),
  ];
  return page('leaderless sweep report', body.join('\n'), charts.specs);
}
