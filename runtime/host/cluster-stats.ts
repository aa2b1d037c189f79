// Cluster-level numbers, computed once for both runtimes from what each node reports: metrics() totals and the
// design note's monitoring table (watch), health() alerts, and a repair round's result added up node by node.

import type { HandoffStatus } from './membership-driver.js';
import { InvalidArgumentError, show } from '../../actors/errors.js';
import type { ClientCounters } from '../../actors/coordinator/results.js';
import type { LatencySummary } from '../metrics/latency.js';
import type { AeStats, ClusterMetrics, HealthOptions, HealthReport, NodeMetrics, RepairResult } from '../api.js';

const HEALTH_KEYS = new Set(['maxRepairAgeMs', 'maxHintQueueKeys', 'maxMailboxFill']);

/** What metrics() is computed from: the nodes' own reports and this cluster's client and clock. */
export interface MetricsInput {
  nodes: NodeMetrics[];
  client: ClientCounters;
  latency: { read: LatencySummary; write: LatencySummary };
  restarts: number;
  /** the runtime's clock now, and when the cluster started (the repair age of a node that never repaired) */
  nowMs: number;
  startedAtMs: number;
}

export function clusterMetrics(m: MetricsInput): ClusterMetrics {
  const { nodes, nowMs, startedAtMs } = m;
  const sum = (f: (s: NodeMetrics) => number): number => nodes.reduce((a, s) => a + f(s), 0);
  const uptimeMs = nowMs - startedAtMs;
  const finished = sum((s) => s.counters.putsOk) + sum((s) => s.counters.putsFailed);
  return {
    nodes,
    client: { ...m.client, readLatency: m.latency.read, writeLatency: m.latency.write },
    watch: {
      uptimeMs,
      readRepairRate: sum((s) => s.counters.repairs) / Math.max(uptimeMs / 1000, 1e-3),
      hintQueueKeys: sum((s) => s.hints.keys),
      quorumSuccessRate: finished === 0 ? 1 : sum((s) => s.counters.putsOk) / finished,
      readLatencyUsP99: m.latency.read.p99Us,
      versionConflicts: m.client.siblingsReturned,
      maxMailboxDepth: Math.max(0, ...nodes.map((s) => s.mailboxDepth)),
      restarts: m.restarts,
      maxRepairAgeMs: Math.max(0, ...nodes.map((s) => nowMs - (s.ae.lastRepairMs ?? startedAtMs))),
    },
    totals: totalsOf(nodes, sum, m.restarts),
  };
}

function totalsOf(nodes: NodeMetrics[], sum: (f: (s: NodeMetrics) => number) => number, restarts: number): ClusterMetrics['totals'] {
  return {
    puts: sum((s) => s.counters.puts),
    putsOk: sum((s) => s.counters.putsOk),
    putsFailed: sum((s) => s.counters.putsFailed),
    gets: sum((s) => s.counters.gets),
    replicates: sum((s) => s.counters.replicates),
    readRepairs: sum((s) => s.counters.repairs),
    hintedWrites: sum((s) => s.counters.hintedWrites),
    hintsQueued: sum((s) => s.hints.queued),
    hintsDelivered: sum((s) => s.hints.delivered),
    hintsExpired: sum((s) => s.hints.expired),
    hintsDropped: sum((s) => s.hints.dropped),
    hintQueueKeys: sum((s) => s.hints.keys),
    aeExchanges: sum((s) => s.ae.exchangesCompleted),
    aeKeysRepaired: sum((s) => s.ae.keysRepaired),
    aeBytesMoved: sum((s) => s.ae.bytesMoved),
    tombstonesReaped: sum((s) => s.ae.tombstonesReaped),
    restarts,
    keys: nodes.reduce((a, s) => a + s.store.keys, 0),
  };
}

/** health()'s thresholds, checked, with their defaults. */
export function healthBounds(options: HealthOptions, defaultMaxRepairAgeMs: number): Required<HealthOptions> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError(`health options must be an object; got ${show(options)}`);
  }
  for (const k of Object.keys(options)) {
    if (!HEALTH_KEYS.has(k)) throw new InvalidArgumentError(`unknown health option ${show(k)}; allowed: ${[...HEALTH_KEYS].join(', ')}`);
  }
  const bound = options.maxRepairAgeMs ?? defaultMaxRepairAgeMs;
  if (typeof bound !== 'number' || !(bound > 0)) throw new InvalidArgumentError(`maxRepairAgeMs must be a positive number of ms; got ${show(bound)}`);
  const maxHints = options.maxHintQueueKeys ?? 10_000;
  if (typeof maxHints !== 'number' || !(maxHints >= 0)) throw new InvalidArgumentError(`maxHintQueueKeys must be a number >= 0; got ${show(maxHints)}`);
  const maxFill = options.maxMailboxFill ?? 0.8;
  if (typeof maxFill !== 'number' || !(maxFill > 0 && maxFill <= 1)) throw new InvalidArgumentError(`maxMailboxFill must be a number in (0, 1]; got ${show(maxFill)}`);
  return { maxRepairAgeMs: bound, maxHintQueueKeys: maxHints, maxMailboxFill: maxFill };
}

/**
 * Flags every node whose last complete repair is older than the bound (a node that never completed one counts from
 * the cluster's start), that cannot be reached, whose hint queue or mailbox is past its bound.
 */
export function healthReport(
  m: ClusterMetrics,
  b: Required<HealthOptions>,
  mailboxCapacity: number,
  nowMs: number,
  startedAtMs: number,
  handoff: HandoffStatus | null = null,
): HealthReport {
  const alerts: string[] = [];
  if (handoff !== null && handoff.stalledMs > HANDOFF_STALL_MS) {
    alerts.push(
      `membership change to epoch ${handoff.epoch} stalled: no handoff progress for ${Math.round(handoff.stalledMs)} ms ` +
        `(${handoff.rangesPending} of ${handoff.rangesTotal} ranges pending, ${handoff.streamsPending} streams open): ` +
        'a gaining replica or every source of a range is down or cut off',
    );
  }
  const nodes = m.nodes.filter((n) => n.left !== true).map((n) => {
    const last = n.ae.lastRepairMs;
    const repairAgeMs = nowMs - (last ?? startedAtMs);
    const overdue = repairAgeMs > b.maxRepairAgeMs;
    if (overdue) {
      alerts.push(
        `node ${n.node} repair overdue: ${last === null ? 'no complete repair since the cluster started' : 'last complete repair'} ` +
          `${Math.round(repairAgeMs)} ms ago, bound ${b.maxRepairAgeMs} ms (antiEntropy.maxRepairAgeMs)`,
      );
    }
    const reachable = n.status !== 'down' && !n.stale && !n.paused;
    if (!reachable) alerts.push(`node ${n.node} unreachable: ${n.paused ? 'paused' : n.stale ? 'its process is down' : 'the failure detector holds it down'}`);
    if (n.hints.keys > b.maxHintQueueKeys) {
      alerts.push(`node ${n.node} hint queue: ${n.hints.keys} keys held for down owners (bound ${b.maxHintQueueKeys}): an owner is down or unreachable`);
    }
    if (n.mailboxDepth > b.maxMailboxFill * mailboxCapacity) {
      alerts.push(`node ${n.node} mailbox ${n.mailboxDepth} of ${mailboxCapacity} messages: it falls behind`);
    }
    return { node: n.node, reachable, status: n.status, hintQueueKeys: n.hints.keys, mailboxDepth: n.mailboxDepth, lastRepairMs: last, repairAgeMs, overdue };
  });
  return { ok: alerts.length === 0, nodes, alerts };
}

/** A membership change with no handoff progress for this long is reported by health(). */
export const HANDOFF_STALL_MS = 5000;

/** A repair round's result before any node has reported. */
export function emptyRepairResult(): RepairResult {
  return {
    ranges: 0, exchanges: 0, failed: 0, skipped: 0, skippedNodes: [], segmentsCompared: 0, segmentsExchanged: 0, nodesCompared: 0,
    keysSent: 0, bytesMoved: 0, durationMs: 0, tombstonesReaped: 0,
  };
}

type RoundCounts = Pick<RepairResult, 'exchanges' | 'failed' | 'skipped' | 'segmentsCompared' | 'segmentsExchanged' | 'nodesCompared' | 'keysSent' | 'bytesMoved'>;
const ROUND_KEYS = ['exchanges', 'failed', 'skipped', 'segmentsCompared', 'segmentsExchanged', 'nodesCompared', 'keysSent', 'bytesMoved'] as const;

/** Adds one node's round to the total; `ranges` collects the range ids it covered. */
export function addRound(total: RepairResult, r: RoundCounts & { rangeIds: readonly string[] }, ranges: Set<string>): void {
  for (const id of r.rangeIds) ranges.add(id);
  for (const k of ROUND_KEYS) total[k] += r[k];
}

export function checkRepairTimeout(ms: unknown): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0 || ms > 3_600_000) {
    throw new InvalidArgumentError(`repair takes a timeout in ms from 1 to 3600000; got ${show(ms)}`);
  }
  return ms;
}

/** Stats of a node that never reported (down since the start). */
export function emptyAeStats(): AeStats {
  return {
    exchangesStarted: 0, exchangesCompleted: 0, exchangesFailed: 0, exchangesSkipped: 0, exchangesServed: 0, nodesCompared: 0,
    segmentsCompared: 0, segmentsExchanged: 0, keysSent: 0, keysRepaired: 0, bytesMoved: 0, tombstonesConfirmed: 0,
    tombstonesReaped: 0, reapsDeferred: 0, segmentsRehashed: 0, foreignKeys: 0, lastRepairMs: null, inFlight: 0, rebuilding: false, rebuilds: 0,
    lastRebuild: null, tombstones: 0, confirmedTombstones: 0, ranges: 0,
  };
}
