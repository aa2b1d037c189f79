// The HTML report of one run (`leaderless bench --html`, `leaderless sim --html`): the headline numbers first (stale
// reads, lost writes, conflicts, availability, throughput, latency percentiles), then the charts (latency
// percentiles per operation, throughput over time with the faults, t-visibility, sibling counts), then the tables.
// A simulated run says so at the top: virtual time, seed, trace digest and the command that replays it.
import type { BenchReport } from '../run.js';
import { OP_KINDS } from '../workloads.js';
import { Charts, POINTS, logRange, rangeDown, rangeUp, type ChartSpec } from './charts.js';
import { details, esc, headlines, htmlTable, page, type Headline } from './html.js';
import { benchTable, clusterSummary, int, opsTable, pct, runSummary, visibilityLabel } from './text.js';

/** What a simulated run adds to its report. */
export interface SimInfo {
  /** the latency profile of the simulated network */
  latency: string;
  digest: string;
  /** virtual time at the end of the run, ms */
  virtualMs: number;
  /** the command line that replays the run (same seed, same digest) */
  replay: string;
}

const us = (x: number): string => (x >= 10_000 ? `${(x / 1000).toPrecision(3)} ms` : `${int(x)} µs`);

/** The headline cards of a run. */
export function benchHeadlines(r: BenchReport): Headline[] {
  const c = r.consistency;
  const lw = c.lostWrites;
  const all = r.ops.all;
  const read = r.ops.read ?? all;
  const write = r.ops.update ?? r.ops.insert ?? r.ops.rmw;
  const cards: Headline[] = [
    { id: 'stale-reads', label: 'stale reads', value: pct(c.staleRate), detail: `${int(c.staleReads)} of ${int(c.judgedReads)} judged; k max ${c.kStaleness.max}`, tone: c.staleReads > 0 ? 'bad' : 'good' },
    {
      id: 'lost-writes', label: 'lost writes', value: lw.checked ? int(lw.lost) : 'n/a',
      detail: `of ${int(lw.acknowledged)} acknowledged (${pct(lw.lostRate, 3)}); ${int(lw.superseded)} superseded`,
      tone: lw.lost > 0 ? 'bad' : 'good',
    },
    { id: 'conflicts', label: 'reads with siblings', value: pct(c.conflicts.rate), detail: `${int(c.conflicts.reads)} reads; at most ${c.conflicts.maxSiblings} siblings` },
    { id: 'availability', label: 'availability', value: pct(all.availability), detail: `${int(all.failed)} of ${int(all.count)} failed`, tone: all.availability < 1 ? 'bad' : 'good' },
    { id: 'throughput', label: 'throughput (ops/s)', value: int(all.opsPerSec), detail: `${int(all.count)} operations in ${(r.run.runMs / 1000).toFixed(2)} s` },
    { id: 'read-p50', label: `${r.ops.read ? 'read' : 'all'} p50`, value: us(read.latencyUs.p50) },
    { id: 'read-p99', label: `${r.ops.read ? 'read' : 'all'} p99`, value: us(read.latencyUs.p99), detail: `p99.9 ${us(read.latencyUs.p999)}, max ${us(read.latencyUs.max)}` },
  ];
  if (write !== undefined) {
    cards.push({ id: 'write-p99', label: 'write p99', value: us(write.latencyUs.p99), detail: `p50 ${us(write.latencyUs.p50)}, p99.9 ${us(write.latencyUs.p999)}` });
  }
  return cards;
}

const PERCENTILES = ['p50', 'p90', 'p99', 'p99.9', 'max'];

export function latencySpec(r: BenchReport, id = 'latency'): ChartSpec {
  const kinds = OP_KINDS.filter((k) => r.ops[k] !== undefined && r.ops[k]!.ok > 0);
  const all = kinds.flatMap((k) => Object.values(r.ops[k]!.latencyUs));
  return {
    id, kind: 'line', title: 'Latency percentiles per operation (log scale)',
    x: { title: 'percentile', categories: PERCENTILES },
    y: { title: 'latency', log: true, format: 'us', ...logRange(all) },
    series: kinds.map((k, i) => {
      const l = r.ops[k]!.latencyUs;
      return { name: k, point: POINTS[i % POINTS.length], radius: 5, data: [l.p50, l.p90, l.p99, l.p999, l.max].map((v) => Math.max(1, v)) };
    }),
    legend: true,
  };
}

export function throughputSpec(r: BenchReport, id = 'throughput', size?: { width: number; height: number; title?: string }): ChartSpec {
  const b = r.timeline.bucketMs;
  const perSec = 1000 / b;
  const mid = (t: number): number => (t + b / 2) / 1000;
  const instant = (k: string): boolean => k === 'kill' || k === 'crash';
  const buckets = r.timeline.buckets;
  const radius = buckets.length <= 30 ? 3 : 0; // a short run has few buckets: a line alone would hide a lone point
  return {
    id, kind: 'line', title: size?.title ?? `Throughput over time (${b} ms buckets); faults shaded or dashed`,
    x: { title: 'time since the run started (s)', min: 0, max: Math.max(r.run.runMs, ...buckets.map((x) => x.tMs + b)) / 1000 },
    y: { title: 'operations per second', min: 0, format: 'int' },
    series: [
      { name: 'ok', color: '#2ca02c', radius, data: buckets.map((x) => [mid(x.tMs), x.ok * perSec] as [number, number]) },
      { name: 'failed', color: '#d62728', radius, point: 'triangle', dash: [5, 3], data: buckets.map((x) => [mid(x.tMs), x.failed * perSec] as [number, number]) },
    ],
    bands: r.faults.filter((f) => !instant(f.kind)).map((f) => ({ from: f.startMs / 1000, to: (f.endMs ?? r.run.runMs) / 1000, label: f.text })),
    vlines: r.faults.filter((f) => instant(f.kind)).map((f) => ({ x: f.startMs / 1000, label: f.text })),
    legend: true,
    ...(size !== undefined ? { width: size.width, height: size.height } : {}),
  };
}

/** Each membership change's handoff progress: the share of its moving ranges handed off, over the run's time. */
function handoffSpec(r: BenchReport): ChartSpec | undefined {
  const changes = r.faults.filter((f) => (f.progress?.length ?? 0) > 0);
  if (changes.length === 0) return undefined;
  return {
    id: 'handoff', kind: 'line', title: 'Membership changes: share of moving ranges handed off',
    x: { title: 'time since the run started (s)', min: 0, max: Math.max(r.run.runMs, ...changes.map((f) => f.endMs ?? 0)) / 1000 },
    y: { title: 'ranges handed off', min: 0, max: 1, format: 'pct' },
    series: changes.map((f, i) => ({
      name: f.text,
      color: ['#9467bd', '#8c564b', '#e377c2', '#17becf'][i % 4],
      radius: 2,
      data: [
        ...f.progress!.map((p) => [p.tMs / 1000, p.rangesTotal === 0 ? 1 : 1 - p.rangesPending / p.rangesTotal] as [number, number]),
        ...(f.endMs !== undefined && f.error === undefined ? [[f.endMs / 1000, 1] as [number, number]] : []),
      ],
    })),
    legend: true,
  };
}

/** Bars of P(sees latest) per bucket that had reads; undefined when no read was judged. */
function visibilitySpec(r: BenchReport): ChartSpec | undefined {
  const buckets = r.consistency.tVisibility.filter((v) => v.reads > 0 && v.probability !== null);
  if (buckets.length === 0) return undefined;
  const ps = buckets.map((v) => v.probability!);
  const allFresh = ps.every((p) => p === 1);
  return {
    id: 't-visibility', kind: 'bar',
    title: 't-visibility: P(a read sees the latest acknowledged write) by time since that acknowledgement',
    x: { title: 'time from the acknowledgement to the read (reads judged)', categories: buckets.map((v) => `${visibilityLabel(v)} (${int(v.reads)})`) },
    y: { title: 'P(sees latest)', format: 'pct', ...rangeDown(ps, 1, 0.05, 0.05) },
    series: [{ name: 'P(sees latest)', color: '#1f77b4', data: ps }],
    valueLabels: true,
    legend: false,
    note: allFresh ? `Every judged read (${int(r.consistency.judgedReads)}) saw the latest acknowledged write: every bar is at 100%.` : 'A bar under 100% is stale reads in that time bucket.',
  };
}

function siblingsSpec(r: BenchReport): ChartSpec | undefined {
  const c = r.consistency;
  // the oracle counts reads with two or more values; the rest returned one value (or none)
  const h = [{ label: '0-1', reads: Math.max(0, c.reads - c.conflicts.reads) }, ...c.conflicts.siblingsHistogram.map((x) => ({ label: String(x.siblings), reads: x.reads }))];
  if (c.reads === 0) return undefined;
  const hot = r.config.workload.name === 'A' && c.conflicts.reads > 0;
  return {
    id: 'siblings', kind: 'bar', title: 'Values per read: 2 or more are siblings (concurrent writes kept side by side)',
    x: { title: 'values the read returned', categories: h.map((x) => x.label) },
    y: { title: 'reads', format: 'int', ...rangeUp(h.map((x) => x.reads), 1) },
    series: [{ name: 'reads', color: '#9467bd', data: h.map((x) => x.reads) }],
    valueLabels: true,
    legend: false,
    note: `${int(c.reads)} reads, ${int(c.conflicts.reads)} with siblings.` + (hot ? ' Workload A updates zipfian hot keys concurrently; those writes are concurrent, so siblings are the correct answer, not a bug.' : ''),
  };
}

function simBanner(r: BenchReport, sim: SimInfo): string {
  return (
    `<div class="banner" data-simulated="true"><b>Simulated run</b>: every replica is the real protocol on one thread, ` +
    `in virtual time over a seeded network (latency profile ${esc(sim.latency)}). Latencies and throughput are virtual.<br>` +
    `virtual time <b data-sim="virtual-time">${(sim.virtualMs / 1000).toFixed(3)} s</b>, seed <b data-sim="seed">${r.config.seed}</b>, ` +
    `trace digest <code data-sim="digest">${esc(sim.digest)}</code><br>` +
    `Replay: <code>${esc(sim.replay)}</code> runs it again event for event; the same seed gives the same trace digest.</div>`
  );
}

export function benchHtml(r: BenchReport, sim?: SimInfo): string {
  const charts = new Charts();
  const figures = [latencySpec(r), throughputSpec(r), visibilitySpec(r), siblingsSpec(r), handoffSpec(r)].flatMap((s) => (s === undefined ? [] : [charts.figure(s)]));
  const cards = benchHeadlines(r);
  if (sim !== undefined) cards.push({ id: 'virtual-time', label: 'virtual time', value: `${(sim.virtualMs / 1000).toFixed(2)} s`, detail: `seed ${r.config.seed}` });
  const opsText = opsTable(r).trimEnd().split('\n').map((l) => l.trim().split(/\s{2,}/));
  const body = [
    `<h1>leaderless ${sim !== undefined ? 'sim (simulated)' : 'bench'}</h1>`,
    `<p class="sub">${esc(clusterSummary(r.config.cluster))}<br>${esc(runSummary(r))}<br>faults: ${esc(r.config.faults.join('; ') || 'none')}</p>`,
    sim !== undefined ? simBanner(r, sim) : '',
    headlines(cards),
    ...r.notes.map((n) => `<p class="note">${esc(n)}</p>`),
    `<div class="grid">${figures.join('')}</div>`,
    `<h2>Operations</h2>`,
    htmlTable(opsText[0], opsText.slice(1)),
    ...membershipSection(r),
    details('Everything measured (the terminal report)', benchTable(r)),
  ];
  return page(sim !== undefined ? 'leaderless sim report (simulated)' : 'leaderless bench report', body.join('\n'), charts.specs);
}

/** The membership changes of the run, one row each: what it moved, how long it took, the throughput through it. */
function membershipSection(r: BenchReport): string[] {
  const changes = r.membership ?? [];
  if (changes.length === 0) return [];
  const n = (x: number | null, digits = 0): string => (x === null ? 'n/a' : x.toLocaleString('en-US', { maximumFractionDigits: digits }));
  const rows = changes.map((c) => [
    c.text, c.error ?? `epoch ${c.epoch}`, n(c.replacement ?? c.node), c.durationMs === null ? 'n/a' : `${(c.durationMs / 1000).toFixed(2)} s`,
    n(c.keysMoved), n(c.bytesMoved), n(c.keysDropped), c.movedFraction === null ? 'n/a' : `${(c.movedFraction * 100).toFixed(1)}%`,
    n(c.opsPerSecDuring), n(c.opsPerSecBefore),
  ]);
  const head = ['change', 'result', 'node', 'duration', 'keys streamed', 'bytes streamed', 'copies dropped', 'ring predicted', 'ops/s during', 'ops/s before'];
  return [`<h2>Membership changes</h2>`, htmlTable(head, rows)];
}

/** The command line that replays a sim run: the same arguments, without the output files. */
export function replayCommand(argv: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--html' || a === '--json') i++;
    else if (!a.startsWith('--html=') && !a.startsWith('--json=')) out.push(/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  }
  return ['leaderless', ...out].join(' ');
}
