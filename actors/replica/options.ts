// A replica's settings: who it is, how it resolves conflicts, its bounds, hints, anti-entropy and link detection.

import type { AntiEntropyOptions } from '../anti-entropy/index.js';
import type { LinkOptions } from '../link-detector.js';
import type { Address } from '../protocol.js';
import type { ConflictMode } from '../types.js';
import type { Membership } from '../membership/plan.js';
import type { HandoffConfig } from '../membership/handoff-plan.js';
import type { MembershipSnapshot } from '../membership/snapshot.js';

export interface HintOptions {
  /** most keys hinted per down owner */
  maxHintsPerOwner: number;
  /** most bytes (encoded clocks) hinted per down owner */
  maxBytesPerOwner: number;
  /** an owner down longer than this gets no new hints (Cassandra's max_hint_window; default 3 h) */
  maxHintWindowMs: number;
  /**
   * Deprecated, no effect. Hints were once dropped at this age, which lost writes acknowledged only through a hint;
   * now a hint leaves only by delivery, and tombstone reaping waits for it (see README, "Hints and deletes").
   */
  hintTtlMs?: number;
  /** hints sent to a returning owner per handoff message */
  handoffBatch: number;
  /** a handoff not acked within this is retried */
  handoffTimeoutMs: number;
}

export const DEFAULT_HINTS: HintOptions = {
  maxHintsPerOwner: 100_000,
  maxBytesPerOwner: 64 << 20,
  maxHintWindowMs: 3 * 3600_000,
  handoffBatch: 256,
  handoffTimeoutMs: 2000,
};

export interface ReplicaOptions {
  node: Address;
  /** DVV id of this replica incarnation, e.g. "2" or "2.1" after a wipe */
  replicaId: string;
  conflicts: ConflictMode;
  /** bound on write coordinators in flight at this replica; more is refused with OVERLOADED */
  maxPendingPuts: number;
  hints?: HintOptions;
  /** anti-entropy (Merkle trees, exchanges, tombstone reaping); absent: off, ae-* requests are aborted */
  antiEntropy?: Omit<AntiEntropyOptions, 'node'>;
  /** per-link failure detection of peers, from the messages themselves (defaults: DEFAULT_LINK_OPTIONS) */
  links?: Partial<LinkOptions>;
  /**
   * the ring's first membership and the snapshot of changes since (actors/membership/snapshot.ts); absent: the ring
   * never changes (anti-entropy's placement alone says what this replica owns)
   */
  membership?: { base: Membership; snapshot: MembershipSnapshot; handoff?: HandoffConfig };
}
