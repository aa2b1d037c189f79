// The terminal text of a bench run and a sweep: the run summary lines, the per-operation table and the consistency
// figures. The HTML pages (bench/report/*-html.ts) reuse the summaries and the number formats.
import type { ClusterOptions } from '../../runtime/index.js';
import type { VisibilityBucket } from '../oracle.js';
import type { BenchReport, OpStats } from '../run.js';
import { OP_KINDS } from '../workloads.js';

export interface SweepReport {
  schema: 'leaderless-sweep/1';
  runs: BenchReport[];
}

// ------------------------------------------------------------------------------------------------ formatting

export const int = (n: number): string => Math.round(n).toLocaleString('en-US');
export const pct = (x: number, digits = 2): string => `${(x * 100).toFixed(digits)}%`;
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
  return `${nodes} nodes, N=${n}, R=${c.read ?? 'QUORUM'}, W=${c.write ?? 'QUORUM'}, ${c.conflicts ?? 'siblings'}, sloppy ${c.sloppy === false ? 'off' : 'on'}, read repair ${c.readRepair ?? 'async'}, local reads ${c.sharedMemoryReads ?? 'quorum'}`;
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

export function visibilityLabel(b: VisibilityBucket): string {
  const ms = (x: number): string => (x >= 1000 ? `${x / 1000}s` : `${x}ms`);
  return b.toMs === null ? `>=${ms(b.fromMs)}` : `<${ms(b.toMs)}`;
}

/** One line per membership change: what it moved, how long it took, the throughput through it. */
function membershipLines(r: BenchReport): string[] {
  const changes = r.membership ?? [];
  if (changes.length === 0) return [];
  const ops = (x: number | null): string => (x === null ? 'n/a' : `${int(x)} ops/s`);
  return [
    'membership changes',
    ...changes.map((c) =>
      c.error !== null
        ? `  ${c.text}: failed: ${c.error}`
        : `  ${c.text}: epoch ${c.epoch}, node ${c.replacement ?? c.node}, ${(c.durationMs! / 1000).toFixed(2)} s, ` +
          `${int(c.keysMoved)} keys / ${int(c.bytesMoved)} bytes streamed, ${int(c.keysDropped)} copies dropped ` +
          `(ring predicted ${pct(c.movedFraction ?? 0)} of keys move); throughput ${ops(c.opsPerSecDuring)} during, ${ops(c.opsPerSecBefore)} before`,
    ),
  ];
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
    ...membershipLines(r),
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
export function mergeWrites(r: BenchReport): { p50: number; p99: number } | undefined {
  const s = r.ops.update ?? r.ops.insert ?? r.ops.rmw;
  return s === undefined ? undefined : { p50: s.latencyUs.p50, p99: s.latencyUs.p99 };
}
