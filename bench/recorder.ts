// What a run records: per operation kind, an HDR histogram of ok latencies (microseconds) and outcome counts; a
// throughput timeline; and the history the oracle judges, bounded by maxHistory.
//
// Data layout: times are ms from the start of the measured run. `deadlineMs` (a duration run) splits completions
// into those inside the run (they make its throughput) and those drained after it (they still count in latency and
// availability: an operation issued in the run is part of it).
import { latencyHistogram, latencySummary, recordMs, type LatencyHistogram, type LatencyUs } from './histogram.js';
import type { HistoryOp, Outcome } from './oracle.js';
import { OP_KINDS, type OpKind } from './workloads.js';

export const MAX_TIMELINE_BUCKETS = 10_000;

export interface OpStats {
  count: number;
  ok: number;
  failed: number;
  refused: number;
  errors: Record<string, number>;
  /** operations completed inside the run / the run's length */
  opsPerSec: number;
  /** ok / count: the share that met its quorum */
  availability: number;
  /** of ok operations */
  latencyUs: LatencyUs;
}

export class KindStats {
  readonly latency: LatencyHistogram = latencyHistogram();
  ok = 0;
  failed = 0;
  refused = 0;
  /** completed by the deadline (all of them in an operation-count run) */
  inRun = 0;
  readonly errors: Record<string, number> = {};
}

export class Recorder {
  readonly kinds = new Map<OpKind | 'all', KindStats>();
  readonly history: HistoryOp[] = [];
  readonly incompleteKeys = new Set<string>();
  truncated = false;
  readonly timeline: Array<{ ok: number; failed: number }> = [];

  constructor(
    readonly maxHistory: number,
    readonly bucketMs: number,
    /** end of the measured run, ms; Infinity for an operation-count run */
    readonly deadlineMs: number = Infinity,
  ) {}

  stats(kind: OpKind | 'all'): KindStats {
    let s = this.kinds.get(kind);
    if (s === undefined) this.kinds.set(kind, (s = new KindStats()));
    return s;
  }

  done(kind: OpKind, startMs: number, endMs: number, outcome: Outcome, code?: string): void {
    for (const s of [this.stats(kind), this.stats('all')]) {
      s[outcome]++;
      if (endMs <= this.deadlineMs) s.inRun++;
      if (outcome === 'ok') recordMs(s.latency, endMs - startMs);
      else s.errors[code ?? 'UNKNOWN'] = (s.errors[code ?? 'UNKNOWN'] ?? 0) + 1;
    }
    const b = Math.floor(endMs / this.bucketMs);
    if (b >= 0 && b < MAX_TIMELINE_BUCKETS) {
      while (this.timeline.length <= b) this.timeline.push({ ok: 0, failed: 0 });
      this.timeline[b][outcome === 'ok' ? 'ok' : 'failed']++;
    }
  }

  record(op: HistoryOp): void {
    if (this.history.length < this.maxHistory) {
      this.history.push(op);
      return;
    }
    this.truncated = true;
    if (op.kind === 'write') this.incompleteKeys.add(op.key);
  }

  get completed(): number {
    const s = this.kinds.get('all');
    return s === undefined ? 0 : s.ok + s.failed + s.refused;
  }

  get errors(): number {
    const s = this.kinds.get('all');
    return s === undefined ? 0 : s.failed + s.refused;
  }

  /** Shifts the history recorded so far by -ms (loading is recorded before the run's origin is known). */
  shift(ms: number): void {
    for (const op of this.history) [op.startMs, op.endMs] = [op.startMs - ms, op.endMs - ms];
  }

  opStats(runMs: number): Partial<Record<OpKind, OpStats>> & { all: OpStats } {
    const toStats = (s: KindStats): OpStats => {
      const count = s.ok + s.failed + s.refused;
      return {
        count,
        ok: s.ok,
        failed: s.failed,
        refused: s.refused,
        errors: s.errors,
        opsPerSec: runMs > 0 ? (s.inRun * 1000) / runMs : 0,
        availability: count === 0 ? 1 : s.ok / count,
        latencyUs: latencySummary(s.latency),
      };
    };
    const out: Partial<Record<OpKind, OpStats>> = {};
    for (const k of OP_KINDS) {
      const s = this.kinds.get(k);
      if (s !== undefined) out[k] = toStats(s);
    }
    return { ...out, all: toStats(this.stats('all')) };
  }
}
