// Reports of a bench run or a sweep: the terminal table, the JSON document and a standalone HTML page.
//
// The HTML needs no network: styles are inline and the charts are inline SVG drawn here (no chart library). Every
// plotted point or bar carries class "mark" and every chart is an <svg class="chart" data-chart=NAME>, so a browser
// check can count what rendered: a small inline script at the end of the page measures each chart's marks with
// getBBox and writes the result into <body data-render-check>, which `chromium --dump-dom` shows
// (scripts/check-report.mjs). Charts: latency percentiles per operation, throughput over time with fault markers,
// the t-visibility curve; for a sweep, read p99 latency against the stale-read rate per configuration, and the
// t-visibility curve of each configuration.
//
// Use: process.stdout.write(benchTable(report)); writeFileSync(f, benchHtml(report)); sweepTable(reports) ...
import type { ClusterOptions } from '../runtime/config.js';
import type { VisibilityBucket } from './oracle.js';
import type { BenchReport, OpStats } from './run.js';
import { OP_KINDS } from './workloads.js';

export interface SweepReport {
  schema: 'leaderless-sweep/1';
  runs: BenchReport[];
}

// ------------------------------------------------------------------------------------------------ formatting

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const pct = (x: number, digits = 2): string => `${(x * 100).toFixed(digits)}%`;
const orNa = (n: number | null): string => (n === null ? 'n/a' : int(n));

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [pad(header, widths), ...rows.map((r) => pad(r, widths))].join('\n') + '\n';
}

export function clusterSummary(c: ClusterOptions): string {
  const nodes = c.datacenters ? c.datacenters.map((d) => `${d.name}:${d.nodes}`).join(',') : String(c.nodes ?? 5);
  const n = typeof c.replication === 'object' ? Object.entries(c.replication).map(([d, k]) => `${d}:${k}`).join(',') : String(c.replication ?? 3);
  return `${nodes} nodes, N=${n}, R=${c.read ?? 'QUORUM'}, W=${c.write ?? 'QUORUM'}, ${c.conflicts ?? 'siblings'}, sloppy ${c.sloppy === false ? 'off' : 'on'}, read repair ${c.readRepair ?? 'async'}`;
}

export function runSummary(r: BenchReport): string {
  const w = r.config.workload;
  const length = r.config.durationMs !== null ? `${(r.config.durationMs / 1000).toFixed(1)} s` : `${int(r.config.operations ?? 0)} ops`;
  return (
    `workload ${w.name} (${w.distribution}; ${OP_KINDS.filter((k) => w.mix[k] > 0).map((k) => `${k} ${w.mix[k]}`).join(', ')}), ` +
    `${int(w.keys)} keys, ${w.valueSizeBytes} B values, ${r.config.inFlight} in flight, ${length}, seed ${r.config.seed}`
  );
}

// ------------------------------------------------------------------------------------------------ terminal

export function opsTable(r: BenchReport): string {
  const kinds = [...OP_KINDS.filter((k) => r.ops[k] !== undefined), 'all' as const];
  const rows = kinds.map((k) => {
    const s = r.ops[k]!;
    const l = s.latencyUs;
    return [k, int(s.count), int(s.opsPerSec), pct(s.availability), ...[l.p50, l.p90, l.p99, l.p999, l.max].map(int), errorText(s)];
  });
  return table(['op', 'count', 'ops/s', 'avail', 'p50 us', 'p90 us', 'p99 us', 'p99.9 us', 'max us', 'errors'], rows);
}

function errorText(s: OpStats): string {
  const e = Object.entries(s.errors);
  return e.length === 0 ? '0' : e.map(([c, n]) => `${c} ${int(n)}`).join(', ');
}

function visibilityLabel(b: VisibilityBucket): string {
  const ms = (x: number): string => (x >= 1000 ? `${x / 1000}s` : `${x}ms`);
  return b.toMs === null ? `>=${ms(b.fromMs)}` : `<${ms(b.toMs)}`;
}

export function benchTable(r: BenchReport): string {
  const c = r.consistency;
  const lw = c.lostWrites;
  const vis = c.tVisibility.filter((b) => b.reads > 0).map((b) => `${visibilityLabel(b)} ${pct(b.probability!, 1)}`);
  const lines = [
    `leaderless bench: ${clusterSummary(r.config.cluster)}`,
    `  ${runSummary(r)}`,
    `  faults: ${r.faults.length === 0 && r.config.faults.length === 0 ? 'none' : r.faults.map((f) => `${f.text} (at ${(f.startMs / 1000).toFixed(2)}s${f.endMs !== undefined ? `, lifted ${(f.endMs / 1000).toFixed(2)}s` : ''})`).join('; ')}`,
    '',
    opsTable(r),
    'consistency',
    `  stale reads     ${int(c.staleReads)} of ${int(c.judgedReads)} judged reads (${pct(c.staleRate)}); k-staleness mean ${c.kStaleness.mean.toFixed(2)}, max ${c.kStaleness.max}`,
    `  t-visibility    ${vis.length === 0 ? 'no judged reads' : vis.join('  ')}`,
    `  conflicts       ${int(c.conflicts.reads)} reads with siblings (${pct(c.conflicts.rate)}), at most ${c.conflicts.maxSiblings} siblings`,
    `  lost writes     ${int(lw.lost)} of ${int(lw.acknowledged)} acknowledged (${pct(lw.lostRate, 3)}); ${int(lw.superseded)} superseded, ${int(lw.unverified)} unverified; final read of ${int(r.verify.keys)} keys at ALL: ${int(r.verify.levels.ALL)}`,
    'cluster (during the run)',
    `  read repairs ${orNa(r.cluster.readRepairs)}   hinted writes ${orNa(r.cluster.hintedWrites)}   hints queued ${orNa(r.cluster.hintsQueued)}   hints delivered ${orNa(r.cluster.hintsDelivered)}   anti-entropy repairs ${orNa(r.cluster.repairs)}`,
    `  load ${(r.run.loadMs / 1000).toFixed(2)} s, run ${(r.run.runMs / 1000).toFixed(2)} s, settle ${(r.run.settleMs / 1000).toFixed(2)} s, verify ${(r.run.verifyMs / 1000).toFixed(2)} s`,
    ...r.notes.map((n) => `note: ${n}`),
  ];
  return lines.join('\n') + '\n';
}

export function sweepTable(runs: BenchReport[]): string {
  const header = ['config', 'ops/s', 'read p50', 'read p99', 'write p50', 'write p99', 'stale', 'k max', 'avail', 'conflicts', 'lost'];
  const rows = runs.map((r) => {
    const reads = r.ops.read;
    const writes = mergeWrites(r);
    const c = r.consistency;
    return [
      r.label,
      int(r.ops.all.opsPerSec),
      reads ? int(reads.latencyUs.p50) : '-',
      reads ? int(reads.latencyUs.p99) : '-',
      writes ? int(writes.p50) : '-',
      writes ? int(writes.p99) : '-',
      pct(c.staleRate),
      String(c.kStaleness.max),
      pct(r.ops.all.availability),
      int(c.conflicts.reads),
      `${int(c.lostWrites.lost)}/${int(c.lostWrites.acknowledged)}`,
    ];
  });
  const first = runs[0];
  const head = first === undefined ? '' : `leaderless sweep: ${runSummary(first)}\n  faults: ${first.config.faults.join('; ') || 'none'}\n  latencies in us\n\n`;
  return head + table(header, rows);
}

/** The write row of a run: update, else insert, else rmw (the first the workload has). */
function mergeWrites(r: BenchReport): { p50: number; p99: number } | undefined {
  const s = r.ops.update ?? r.ops.insert ?? r.ops.rmw;
  return s === undefined ? undefined : { p50: s.latencyUs.p50, p99: s.latencyUs.p99 };
}

// ------------------------------------------------------------------------------------------------ SVG charts

const W = 720;
const H = 300;
const M = { left: 64, right: 20, top: 20, bottom: 48 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface Series {
  name: string;
  points: Array<[number, number]>;
  line?: boolean;
  labels?: string[];
}

interface ChartSpec {
  name: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** categorical x: tick labels at x = 0, 1, 2, ... */
  xCategories?: string[];
  yLog?: boolean;
  yMax?: number;
  bands?: Array<{ from: number; to: number; label: string }>;
  vlines?: Array<{ x: number; label: string }>;
}

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (hi <= lo) hi = lo + 1;
  const step0 = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const tickText = (v: number): string => (Math.abs(v) >= 10_000 ? `${+(v / 1000).toPrecision(3)}k` : String(+v.toPrecision(4)));

export function chart(c: ChartSpec): string {
  const all = c.series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]).filter((y) => !c.yLog || y > 0);
  const xMin = c.xCategories ? -0.5 : Math.min(0, ...xs);
  const xMax = c.xCategories ? c.xCategories.length - 0.5 : Math.max(1e-9, ...xs, ...(c.bands ?? []).map((b) => b.to)) * 1.02;
  let yLo = c.yLog ? Math.pow(10, Math.floor(Math.log10(Math.max(1, Math.min(...ys, 1e12))))) : 0;
  let yHi = c.yMax ?? (c.yLog ? Math.pow(10, Math.ceil(Math.log10(Math.max(10, ...ys)))) : Math.max(1e-9, ...ys) * 1.1);
  if (c.yLog && yHi <= yLo) yHi = yLo * 10;
  if (!Number.isFinite(yLo)) yLo = 1;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number): number => M.left + ((x - xMin) / (xMax - xMin)) * pw;
  const sy = (y: number): number => {
    const f = c.yLog ? (Math.log10(Math.max(y, yLo)) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo)) : (y - yLo) / (yHi - yLo);
    return M.top + ph - Math.min(1, Math.max(0, f)) * ph;
  };
  const parts: string[] = [];
  // fault windows and instants first, under the data
  for (const b of c.bands ?? []) {
    parts.push(`<rect class="fault" x="${sx(b.from).toFixed(1)}" y="${M.top}" width="${Math.max(1, sx(b.to) - sx(b.from)).toFixed(1)}" height="${ph}" fill="#f4a" fill-opacity="0.12"><title>${esc(b.label)}</title></rect>`);
    parts.push(`<text x="${(sx(b.from) + 3).toFixed(1)}" y="${M.top + 12}" font-size="10" fill="#a05">${esc(b.label)}</text>`);
  }
  for (const v of c.vlines ?? []) {
    parts.push(`<line class="fault" x1="${sx(v.x).toFixed(1)}" x2="${sx(v.x).toFixed(1)}" y1="${M.top}" y2="${M.top + ph}" stroke="#a05" stroke-dasharray="4 3"><title>${esc(v.label)}</title></line>`);
    parts.push(`<text x="${(sx(v.x) + 3).toFixed(1)}" y="${M.top + 24}" font-size="10" fill="#a05">${esc(v.label)}</text>`);
  }
  // axes, grid and ticks
  const yTicks = c.yLog ? logTicks(yLo, yHi) : niceTicks(yLo, yHi);
  for (const t of yTicks) {
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${M.left - 6}" y="${(sy(t) + 4).toFixed(1)}" font-size="11" text-anchor="end">${tickText(t)}</text>`);
  }
  const xTicks = c.xCategories ? c.xCategories.map((_, i) => i) : niceTicks(xMin, xMax);
  for (const t of xTicks) {
    const label = c.xCategories ? c.xCategories[t] : tickText(t);
    parts.push(`<text x="${sx(t).toFixed(1)}" y="${M.top + ph + 16}" font-size="11" text-anchor="middle">${esc(label)}</text>`);
  }
  parts.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + ph}" stroke="#333"/>`);
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${M.top + ph}" y2="${M.top + ph}" stroke="#333"/>`);
  parts.push(`<text x="${M.left + pw / 2}" y="${H - 8}" font-size="12" text-anchor="middle">${esc(c.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${M.top + ph / 2}) rotate(-90)" font-size="12" text-anchor="middle">${esc(c.yLabel)}</text>`);
  // data
  c.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.filter((p) => !c.yLog || p[1] > 0);
    if (s.line !== false && pts.length > 1) {
      parts.push(`<polyline class="series" fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ')}"/>`);
    }
    pts.forEach((p, j) => {
      const label = s.labels?.[j];
      parts.push(`<circle class="mark" cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="${s.line === false ? 5 : 3}" fill="${color}"><title>${esc(`${s.name}${label ? ` ${label}` : ''}: ${tickText(p[1])}`)}</title></circle>`);
      if (label !== undefined) parts.push(`<text x="${(sx(p[0]) + 7).toFixed(1)}" y="${(sy(p[1]) - 6).toFixed(1)}" font-size="11">${esc(label)}</text>`);
    });
    parts.push(`<rect x="${W - M.right - 150}" y="${M.top + 4 + i * 16}" width="10" height="10" fill="${color}"/><text x="${W - M.right - 134}" y="${M.top + 13 + i * 16}" font-size="11">${esc(s.name)}</text>`);
  });
  return (
    `<figure><figcaption>${esc(c.title)}</figcaption>` +
    `<svg class="chart" data-chart="${esc(c.name)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(c.title)}">` +
    parts.join('') +
    `</svg></figure>`
  );
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let v = lo; v <= hi * 1.0001; v *= 10) out.push(v);
  return out;
}

const PERCENTILES = ['p50', 'p90', 'p99', 'p99.9', 'max'];

function latencyChart(r: BenchReport): string {
  const kinds = OP_KINDS.filter((k) => r.ops[k] !== undefined && r.ops[k]!.ok > 0);
  return chart({
    name: 'latency',
    title: 'Latency percentiles per operation (microseconds, log scale)',
    xLabel: 'percentile',
    yLabel: 'latency (us)',
    xCategories: PERCENTILES,
    yLog: true,
    series: kinds.map((k) => {
      const l = r.ops[k]!.latencyUs;
      return { name: k, points: [l.p50, l.p90, l.p99, l.p999, l.max].map((v, i) => [i, Math.max(1, v)] as [number, number]) };
    }),
  });
}

function throughputChart(r: BenchReport): string {
  const b = r.timeline.bucketMs;
  const perSec = 1000 / b;
  const mid = (t: number): number => (t + b / 2) / 1000;
  const windows = r.faults.filter((f) => f.endMs !== undefined || (f.kind !== 'kill' && f.kind !== 'crash'));
  return chart({
    name: 'throughput',
    title: `Throughput over time (operations per second, ${b} ms buckets), faults shaded`,
    xLabel: 'time since the run started (s)',
    yLabel: 'ops/s',
    series: [
      { name: 'ok', points: r.timeline.buckets.map((x) => [mid(x.tMs), x.ok * perSec]) },
      { name: 'failed', points: r.timeline.buckets.map((x) => [mid(x.tMs), x.failed * perSec]) },
    ],
    bands: windows.map((f) => ({ from: f.startMs / 1000, to: (f.endMs ?? r.run.runMs) / 1000, label: f.text })),
    vlines: r.faults.filter((f) => f.kind === 'kill' || f.kind === 'crash').map((f) => ({ x: f.startMs / 1000, label: f.text })),
  });
}

function visibilityChart(runs: BenchReport[], name: string): string {
  const buckets = runs[0]?.consistency.tVisibility ?? [];
  return chart({
    name,
    title: 't-visibility: P(a read sees the latest acknowledged write) by time since its acknowledgement',
    xLabel: 'time from the acknowledgement to the read',
    yLabel: 'probability',
    xCategories: buckets.map(visibilityLabel),
    yMax: 1,
    series: runs.map((r) => ({
      name: runs.length === 1 ? 'P(sees latest)' : r.label,
      points: r.consistency.tVisibility.flatMap((v, i) => (v.probability === null ? [] : [[i, v.probability] as [number, number]])),
    })),
  });
}

function stalenessChart(runs: BenchReport[]): string {
  const point = (r: BenchReport, p: 'p50' | 'p99'): [number, number] => [r.consistency.staleRate * 100, Math.max(1, r.ops.read?.latencyUs[p] ?? r.ops.all.latencyUs[p])];
  return chart({
    name: 'latency-vs-staleness',
    title: 'Read latency against stale-read rate, one point per configuration',
    xLabel: 'stale reads (%)',
    yLabel: 'read latency (us, log scale)',
    yLog: true,
    series: [
      { name: 'read p99', line: false, points: runs.map((r) => point(r, 'p99')), labels: runs.map((r) => r.label) },
      { name: 'read p50', line: false, points: runs.map((r) => point(r, 'p50')) },
    ],
  });
}

// ------------------------------------------------------------------------------------------------ HTML pages

// Runs in the browser when the page loads: counts the marks of every chart that actually laid out.
const RENDER_CHECK = `<script>
(function () {
  var out = [];
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var marks = svg.querySelectorAll('.mark'), drawn = 0;
    marks.forEach(function (m) { var b = m.getBBox(); if (b.width > 0 && b.height > 0) drawn++; });
    var r = svg.getBoundingClientRect();
    out.push({ chart: svg.getAttribute('data-chart'), marks: marks.length, drawn: drawn, width: Math.round(r.width), height: Math.round(r.height) });
  });
  document.body.setAttribute('data-render-check', JSON.stringify(out));
})();
</script>`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1000px; }
table { border-collapse: collapse; margin: 8px 0 16px; } td, th { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }
td:first-child, th:first-child { text-align: left; } figure { margin: 16px 0; } figcaption { font-weight: 600; margin-bottom: 4px; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; } .note { color: #a05; }
</style></head>
<body>
${body}
${RENDER_CHECK}
</body></html>
`;
}

function htmlTable(text: string): string {
  const lines = text.trimEnd().split('\n');
  const cells = (l: string): string[] => l.trim().split(/\s{2,}/);
  const head = cells(lines[0]);
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${lines
    .slice(1)
    .map((l) => `<tr>${cells(l).map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export function benchHtml(r: BenchReport): string {
  const body = [
    `<h1>leaderless bench</h1>`,
    `<p>${esc(clusterSummary(r.config.cluster))}<br>${esc(runSummary(r))}<br>faults: ${esc(r.config.faults.join('; ') || 'none')}</p>`,
    htmlTable(opsTable(r)),
    latencyChart(r),
    throughputChart(r),
    visibilityChart([r], 't-visibility'),
    `<h2>Everything measured</h2><pre>${esc(benchTable(r))}</pre>`,
    ...r.notes.map((n) => `<p class="note">${esc(n)}</p>`),
  ];
  return page('leaderless bench report', body.join('\n'));
}

export function sweepHtml(runs: BenchReport[]): string {
  const text = sweepTable(runs);
  const tableText = text.slice(text.indexOf('config'));
  const body = [
    `<h1>leaderless sweep</h1>`,
    runs[0] ? `<p>${esc(runSummary(runs[0]))}<br>faults: ${esc(runs[0].config.faults.join('; ') || 'none')}</p>` : '',
    htmlTable(tableText),
    stalenessChart(runs),
    visibilityChart(runs, 't-visibility'),
    ...runs.map((r) => `<h2>${esc(r.label)}</h2><pre>${esc(benchTable(r))}</pre>`),
  ];
  return page('leaderless sweep report', body.join('\n'));
}
