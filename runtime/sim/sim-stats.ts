// What the simulated cluster reports of its nodes and of the simulator itself (metrics(), simCounters).

import type { NodeMetrics } from '../api.js';
import { emptyAeStats } from '../host/cluster-stats.js';
import type { NetworkCounters } from './network.js';
import type { SimWorld, WorldCounters } from './world.js';

export interface SimCounters extends WorldCounters, NetworkCounters {
  nowMs: number;
  queued: number;
  queueOverflows: number;
}


/** One node's metrics in the shape both runtimes report (runtime/api.ts). */
export function simNodeMetrics(world: SimWorld, node: number, restarts: number): NodeMetrics {
  const n = world.nodes[node];
  const ae = n.replica?.antiEntropy ?? null;
  const t = ae?.tombstones() ?? { tracked: 0, confirmed: 0 };
  const store = n.store.stats();
  const stats = n.host.stats(n.replicaId, {
    batchesOut: n.messagesOut, // the simulator delivers one message at a time
    store: { keys: store.keys, liveBytes: store.liveBytes, arenaBytes: store.arenaBytes, compactions: store.compactions },
    ae: {
      ...(ae?.counters ?? emptyAeStats()),
      lastRepairMs: ae?.lastRepairMs() ?? null, inFlight: ae?.inFlight ?? 0, rebuilding: false, rebuilds: 0, lastRebuild: null,
      tombstones: t.tracked, confirmedTombstones: t.confirmed, ranges: ae?.rangeIds().length ?? 0,
    },
  });
  return {
    ...stats,
    status: n.status,
    ...(n.left ? { left: true } : {}),
    mailboxDepth: world.network.inFlightTo[node] + n.inbox.length,
    restarts,
    stale: n.replica === null,
  };
}

/** The simulator's own counters: events, deliveries, drops, the queue. */
export function simCountersOf(w: SimWorld): SimCounters {
  return {
    ...w.counters,
    ...w.network.counters,
    nowMs: w.nowMs,
    queued: w.queue.size,
    queueOverflows: w.queue.overflows,
  };
}
