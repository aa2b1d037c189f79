// The dot floor: the highest counter this replica's own id had in any key it reaped. A key that is reaped and then
// written again starts its dots above it: a replica that still holds the old tombstone would otherwise take the new
// dot for one it has already seen (and hide the write). Persisted in the hint store under FLOOR_KEY, so a restart
// keeps it. Stand-in writes draw their one-off DVV ids from it too.

import type { WireError } from '../errors.js';
import type { StoredClock } from '../protocol.js';
import { stampedEqual } from '../versioning/lww.js';
import { sync } from '../versioning/dvv.js';
import { FLOOR_KEY } from './hint-records.js';
import type { ReplicaCounters } from './stats.js';
import { storeCall, type HintStore } from './stores.js';

export class DotFloor {
  private value = 0;

  constructor(
    /** the replica's current DVV id (it changes with the ring epoch; the floor's value carries over) */
    private readonly idNow: () => string,
    private readonly hintStore: HintStore | undefined,
    private readonly counters: ReplicaCounters,
  ) {}

  /** A restarted actor's floor, from the hint store's record. */
  load(record: StoredClock): void {
    this.value = record.entries[0]?.n ?? 0;
  }

  /** Writes the current floor to the hint store (a recovered store without the record gets one). */
  persistCurrent(): WireError | undefined {
    return this.persist(this.value);
  }

  /**
   * The DVV id of one write coordinated as a stand-in: `${replicaId}~${n}`, n one above the floor, which is raised to
   * n and persisted first, so no restart hands the same id out again. A fresh id claims no history: under
   * replicaId itself the new dot would claim every earlier one, and hide a write this node coordinated before.
   */
  standInId(): string | WireError {
    const n = this.value + 1;
    const error = this.persist(n);
    if (error !== undefined) return error;
    this.value = n;
    return `${this.idNow()}~${n}`;
  }

  /**
   * A key is about to be reaped: the floor rises to the counter our id reached in it, persisted first (the floor
   * must outlive the actor). False when it could not be persisted: then the reap must not happen.
   */
  raiseFor(clock: StoredClock | undefined): boolean {
    const own = clock?.entries.find((e) => e.id === this.idNow())?.n ?? 0;
    if (own > this.value) {
      if (this.persist(own) !== undefined) return false;
      this.value = own;
    }
    return true;
  }

  /** The local clock a write builds on: where our id has no entry yet, one at the floor, so the new dot lands above it. */
  under(local: StoredClock | undefined): StoredClock | undefined {
    if (this.value === 0 || local?.entries.some((e) => e.id === this.idNow())) return local;
    const floor: StoredClock = { entries: [{ id: this.idNow(), n: this.value, values: [] }], anonymous: [] };
    return local === undefined ? floor : sync(local, floor, stampedEqual);
  }

  private persist(n: number): WireError | undefined {
    return storeCall(this.counters, () => this.hintStore?.set(FLOOR_KEY, { entries: [{ id: this.idNow(), n, values: [] }], anonymous: [] }));
  }
}
