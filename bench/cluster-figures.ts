// What the cluster's own metrics say about a run, for the JSON report's `cluster` section.
//
// The rule: only counters take deltas. A counter is a field listed in COUNTERS (a cumulative count since the node or
// client started: operations, messages, hints, repairs); `cluster.counters` holds each one's change during the
// measured run (after minus before). Every other field (a gauge such as a queue length or key count, a percentile,
// a maximum, a timestamp, the figures of the last rebuild) is reported in `cluster.atEnd` as it was at the end. An
// unknown field is never subtracted: a field a runtime adds later shows up in `atEnd` until it is listed here.
//
// Per-node fields are combined over nodes: counters and sizes add up; timestamps, durations, maxima and "last ..."
// figures (a leaf or parent named last*/max*, or ending in Ms or Us) take the largest node's value.
//
// Use: const before = flattenMetrics(await c.metrics()); ...; clusterFigures(before, flattenMetrics(await c.metrics()))
import type { ClusterMetrics } from '../runtime/index.js';

const list = (prefix: string, names: string): string[] => names.split(/\s+/).filter(Boolean).map((n) => `${prefix}.${n}`);

/** Every counter, by its flattened name. */
export const COUNTERS: ReadonlySet<string> = new Set([
  ...list('totals', 'puts putsOk putsFailed gets replicates readRepairs hintedWrites hintsQueued hintsDelivered hintsExpired hintsDropped'),
  ...list('totals', 'aeExchanges aeKeysRepaired aeBytesMoved tombstonesReaped restarts'),
  ...list('client', 'gets getsLocal puts failures timeouts readRepairs siblingsReturned coordinatorFailovers readLatency.count writeLatency.count'),
  ...list('nodes.counters', 'puts putsOk putsFailed putsTimedOut replicates gets repairs hintedWrites hintsRefused handoffsSent handoffsReceived storeErrors'),
  ...list('nodes.hints', 'queued merged delivered expired dropped'),
  ...list('nodes', 'messagesIn batchesIn messagesOut batchesOut restarts wipes store.compactions'),
  ...list('nodes.ae', 'exchangesStarted exchangesCompleted exchangesFailed exchangesSkipped exchangesServed nodesCompared segmentsCompared'),
  ...list('nodes.ae', 'segmentsExchanged keysSent keysRepaired bytesMoved tombstonesConfirmed tombstonesReaped reapsDeferred segmentsRehashed rebuilds'),
]);

export const isCounter = (name: string): boolean => COUNTERS.has(name);

/** Per-node fields that combine by taking the largest value rather than the sum. */
export const takesMax = (name: string): boolean => /(^|\.)(last|max)[A-Z]/.test(name) || /(Ms|Us)$/.test(name);

export interface ClusterFigures {
  readRepairs: number | null;
  hintedWrites: number | null;
  hintsQueued: number | null;
  hintsDelivered: number | null;
  repairs: number | null;
  /** counters only: the change during the measured run */
  counters: Record<string, number>;
  /** everything else, as it was at the end */
  atEnd: Record<string, number>;
}

/** Every numeric leaf of the metrics: 'totals.readRepairs', 'client.gets', 'nodes.hints.queued' (over nodes). */
export function flattenMetrics(m: ClusterMetrics | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (m === undefined) return out;
  const walk = (prefix: string, o: unknown): void => {
    if (typeof o === 'number' && Number.isFinite(o)) {
      const prev = out[prefix];
      out[prefix] = prev === undefined ? o : takesMax(prefix) && !isCounter(prefix) ? Math.max(prev, o) : prev + o;
    } else if (o !== null && typeof o === 'object' && !Array.isArray(o)) for (const [k, v] of Object.entries(o)) walk(`${prefix}.${k}`, v);
  };
  walk('totals', m.totals);
  walk('client', m.client);
  for (const n of m.nodes ?? []) {
    const { node: _node, ...rest } = n as unknown as Record<string, unknown>;
    walk('nodes', rest);
  }
  return out;
}

export function clusterFigures(before: Record<string, number>, after: Record<string, number>): ClusterFigures {
  const counters: Record<string, number> = {};
  const atEnd: Record<string, number> = {};
  for (const k of Object.keys(after).sort()) {
    if (isCounter(k)) counters[k] = after[k] - (before[k] ?? 0);
    else atEnd[k] = after[k];
  }
  const pick = (...names: string[]): number | null => {
    for (const n of names) if (counters[n] !== undefined) return counters[n];
    return null;
  };
  return {
    readRepairs: pick('client.readRepairs', 'totals.readRepairs'),
    hintedWrites: pick('totals.hintedWrites'),
    hintsQueued: pick('totals.hintsQueued', 'nodes.hints.queued', 'nodes.counters.hintsQueued'),
    hintsDelivered: pick('totals.hintsDelivered', 'nodes.hints.delivered', 'nodes.counters.hintsDelivered'),
    repairs: pick('totals.aeKeysRepaired'),
    counters,
    atEnd,
  };
}
