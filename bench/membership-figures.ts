// What a run's membership changes (--fault join/leave/replace) cost: when each ran, what it moved (keys and bytes
// streamed to gaining replicas, copies dropped by losing ones, the ring's predicted share of keys), and the
// throughput the workload kept during it against the throughput before the first change.
import type { FaultMarker } from './faults.js';

export interface MembershipFigure {
  text: string;
  kind: string;
  startMs: number;
  endMs: number | null;
  epoch: number | null;
  /** the node that joined or left (replace: the node replaced) */
  node: number | null;
  replacement: number | null;
  keysMoved: number;
  bytesMoved: number;
  keysDropped: number;
  /** the ring's prediction: the share of keys whose replica set changed */
  movedFraction: number | null;
  durationMs: number | null;
  /** operations completed per second while the change ran (whole timeline buckets it overlapped) */
  opsPerSecDuring: number | null;
  /** operations completed per second from the start of the run to the first change */
  opsPerSecBefore: number | null;
  error: string | null;
}

const KINDS = new Set(['join', 'leave', 'replace']);

export function membershipFigures(
  markers: readonly FaultMarker[],
  buckets: ReadonlyArray<{ tMs: number; ok: number }>,
  bucketMs: number,
): MembershipFigure[] {
  const changes = markers.filter((m) => KINDS.has(m.kind));
  const firstMs = changes.length === 0 ? 0 : Math.min(...changes.map((m) => m.startMs));
  const before = rate(buckets, bucketMs, 0, firstMs);
  return changes.map((m) => ({
    text: m.text,
    kind: m.kind,
    startMs: m.startMs,
    endMs: m.endMs ?? null,
    epoch: m.change?.epoch ?? null,
    node: m.change?.node ?? null,
    replacement: m.change?.replacement ?? null,
    keysMoved: m.change?.keysMoved ?? 0,
    bytesMoved: m.change?.bytesMoved ?? 0,
    keysDropped: m.change?.keysDropped ?? 0,
    movedFraction: m.change?.movedFraction ?? null,
    durationMs: m.change?.durationMs ?? null,
    opsPerSecDuring: m.endMs === undefined ? null : rate(buckets, bucketMs, m.startMs, Math.max(m.endMs, m.startMs + 1)),
    opsPerSecBefore: before,
    error: m.error ?? null,
  }));
}

/** Completed operations per second over the buckets that overlap [fromMs, toMs); null when none does. */
function rate(buckets: ReadonlyArray<{ tMs: number; ok: number }>, bucketMs: number, fromMs: number, toMs: number): number | null {
  const over = buckets.filter((b) => b.tMs < toMs && b.tMs + bucketMs > fromMs);
  if (over.length === 0 || toMs <= fromMs) return null;
  return over.reduce((a, b) => a + b.ok, 0) / ((over.length * bucketMs) / 1000);
}
