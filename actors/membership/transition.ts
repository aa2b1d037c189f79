// Pending ranges (Cassandra's), as one node sees them during a membership change.
//
// For a key in a moving range that is not yet handed off: writes go to the old replicas and the gaining ones (the
// union), reads to the old replicas. Once the range is complete (its data streamed to every gaining replica), both
// go to the new replicas. Keys outside every moving range use the new ring (its replica set is the old one).
//
// Quorum during the change (transitionWriteMet): while a range is pending, a write is acknowledged only when it meets
// W among the OLD replicas AND W among the NEW ones. Why this keeps read-your-writes across the switch:
//   - a read before the switch asks R of the old replicas, and R + W > N meets one of the W old acks;
//   - a read after the switch asks R of the new replicas, and R + W > N meets one of the W new acks;
//   - a write acknowledged before the change began holds W old replicas; handoff.ts streams each losing replica's
//     data to the gaining one that takes its place (or, when it is dead, every surviving old replica's), so the new
//     set holds it on at least W replicas too.
// Cassandra's rule (W + number of pending replicas, over the union) implies this one when gaining and losing replicas
// pair off (they do: every list has N nodes) and needs more acks: old {a,b,c}, new {a,b,x}, W = 2: acks {a,b} meet
// both quorums here, while Cassandra waits for a third.
//
// Different nodes learn of a completed range at different times. That stays safe because of the order the runtime
// must keep (see epoch.ts): a range completes first at its gaining and losing replicas, and a replica serves a read
// only when it is among its own view's read targets and accepts a write only when it is among its write targets.
// So a stale reader's reads reach only old replicas that are also new (the losers refuse), and a stale writer writes
// to a superset of the new replicas.

import { InvalidArgumentError } from '../errors.js';
import type { MovingRange, Plan } from './plan.js';
import { RangeIndex } from './token-range.js';

/** Whether the acks in a set of replicas meet the requirement (default: at least W of them). */
export type QuorumRule = (replicas: readonly number[], acked: ReadonlySet<number>) => boolean;

export const atLeast =
  (w: number): QuorumRule =>
  (replicas, acked) => {
    let n = 0;
    for (const r of replicas) if (acked.has(r)) n++;
    return n >= w;
  };

export type RangePhase = 'pending' | 'complete';

export class TransitionState {
  /** the epoch of the membership being moved to (requests during the change carry it) */
  readonly epoch: number;
  readonly plan: Plan;
  private readonly index: RangeIndex<MovingRange>;
  private readonly completed = new Set<number>();
  /** write targets of each pending range: old replicas then gaining ones */
  private readonly unions: ReadonlyArray<readonly number[]>;

  constructor(plan: Plan) {
    this.plan = plan;
    this.epoch = plan.to.epoch;
    this.index = new RangeIndex(plan.moving);
    this.unions = plan.moving.map((r) => Object.freeze([...r.oldReplicas, ...r.gaining]));
  }

  /** The moving range holding a key hash, or undefined when the key's replicas do not change. */
  rangeOf(keyHash: number): MovingRange | undefined {
    return this.index.find(keyHash);
  }

  phase(rangeId: number): RangePhase {
    this.assertRange(rangeId);
    return this.completed.has(rangeId) ? 'complete' : 'pending';
  }

  /** Replicas a write of this key must be sent to: old and new while its range is pending, else the new ones. */
  writeTargets(keyHash: number): readonly number[] {
    const r = this.index.find(keyHash);
    if (r === undefined) return this.plan.to.ring.preferenceList(keyHash);
    return this.completed.has(r.id) ? r.newReplicas : this.unions[r.id];
  }

  /** Replicas a read of this key may ask: the old ones until its range is handed off, then the new ones. */
  readTargets(keyHash: number): readonly number[] {
    const r = this.index.find(keyHash);
    if (r === undefined) return this.plan.to.ring.preferenceList(keyHash);
    return this.completed.has(r.id) ? r.newReplicas : r.oldReplicas;
  }

  /** Whether these acks acknowledge a write of this key (see the header: W among old and W among new if pending). */
  writeMet(keyHash: number, acked: Iterable<number>, rule: QuorumRule): boolean {
    const r = this.index.find(keyHash);
    const set = acked instanceof Set ? (acked as ReadonlySet<number>) : new Set(acked);
    if (r === undefined) return rule(this.plan.to.ring.preferenceList(keyHash), set);
    return transitionWriteMet(set, r, this.completed.has(r.id), rule);
  }

  /** The range is handed off: reads and writes move to its new replicas. Idempotent. */
  complete(rangeId: number): void {
    this.assertRange(rangeId);
    this.completed.add(rangeId);
  }

  get done(): boolean {
    return this.completed.size === this.plan.moving.length;
  }

  pending(): MovingRange[] {
    return this.plan.moving.filter((r) => !this.completed.has(r.id));
  }

  private assertRange(rangeId: number): void {
    if (!Number.isInteger(rangeId) || rangeId < 0 || rangeId >= this.plan.moving.length) {
      const n = this.plan.moving.length;
      throw new InvalidArgumentError(
        `range id must be an integer in 0..${n - 1} (the plan to epoch ${this.epoch} moves ${n} ranges); got ${rangeId}`,
      );
    }
  }
}

/** The write rule of one moving range: the new set alone once complete, else the old set AND the new set. */
export function transitionWriteMet(
  acked: ReadonlySet<number>,
  range: MovingRange,
  complete: boolean,
  rule: QuorumRule,
): boolean {
  if (complete) return rule(range.newReplicas, acked);
  return rule(range.oldReplicas, acked) && rule(range.newReplicas, acked);
}
