// Read reconciliation, once for every reader: the clocks some replicas returned for one key are merged with DVV sync
// (every sibling survives; in lww mode only the newest value), and the replicas whose clock differs from the merged
// one (or that hold nothing) are named stale, for read repair. Pure: the caller decides whom to repair and how (a
// coordinator repairs primaries only, never a stand-in; readRepair 'off' repairs nobody).

import type { StoredClock } from '../protocol.js';
import type { ConflictMode } from '../types.js';
import { equal, sync } from './dvv.js';
import { resolveLww, stampedEqual } from './lww.js';

export interface Reconciled {
  /** every clock merged (LWW-resolved in lww mode); null when no replica held the key */
  merged: StoredClock | null;
  /** replicas (from `nodes`, in that order) whose clock is not the merged one; empty when merged is null */
  stale: number[];
}

/**
 * Merges the replies of a read. nodes[i] answered clocks[i]; null or undefined means it holds nothing for the key.
 * The clocks are merged in the order given (the result does not depend on it: sync is commutative and LWW's order is
 * total). Throws nothing; nodes and clocks must have the same length.
 */
export function reconcile(
  nodes: readonly number[],
  clocks: ReadonlyArray<StoredClock | null | undefined>,
  conflicts: ConflictMode,
): Reconciled {
  let merged: StoredClock | null = null;
  for (const clock of clocks) {
    if (clock === null || clock === undefined) continue;
    merged = merged === null ? clock : sync(merged, clock, stampedEqual);
  }
  if (merged === null) return { merged, stale: [] };
  if (conflicts === 'lww') merged = resolveLww(merged);
  const stale: number[] = [];
  for (let i = 0; i < nodes.length; i++) {
    const clock = clocks[i];
    if (clock !== null && clock !== undefined && equal(clock, merged)) continue;
    stale.push(nodes[i]);
  }
  return { merged, stale };
}
