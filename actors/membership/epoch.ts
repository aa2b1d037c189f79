// One node's view of the membership: the current epoch, the change in progress (pending ranges), and the check a
// replica makes on every request (admit) before it serves a read or accepts a write.
//
// Every request that reads or writes a key carries the sender's epoch. A receiver at epoch E admits it when
//   - the epoch is E, or E - 1 and the key's range did not move in the change to E (its owners are unchanged), and
//   - the receiver is among its own view's read targets (a read) or write targets (a write) for the key; for a
//     stand-in (a hinted write, or a read answered from hints) the node it stands in for must be.
// Otherwise it refuses with WrongEpochError, which says what the sender should do. The second rule is what makes
// completion safe to learn at different times: a range completes at its gaining and losing replicas before the
// others hear of it, after which a loser refuses reads (so a stale reader's R replies come from new replicas) and
// a gainer accepts them.

import { InvalidArgumentError } from '../errors.js';
import { WrongEpochError, type WrongEpochReason } from './errors.js';
import type { Membership, Plan } from './plan.js';
import { TransitionState } from './transition.js';

export interface EpochRequest {
  epoch: number;
  keyHash: number;
  access: 'read' | 'write';
  /** the request is for a stand-in: the primary it stands in for */
  hintFor?: number;
}

export class MembershipView {
  private current: Membership;
  private transitionState: TransitionState | undefined;
  /** the plan that led to the current epoch, kept after it is done to answer requests of the epoch before */
  private lastPlan: Plan | undefined;

  constructor(
    readonly node: number,
    initial: Membership,
  ) {
    this.current = initial;
  }

  get epoch(): number {
    return this.current.epoch;
  }

  get membership(): Membership {
    return this.current;
  }

  get transition(): TransitionState | undefined {
    return this.transitionState;
  }

  /** Starts a change: the plan must start from this view's epoch, and the previous change must be done. */
  begin(plan: Plan): TransitionState {
    if (plan.from.epoch !== this.current.epoch) {
      throw new InvalidArgumentError(`a plan from epoch ${plan.from.epoch} cannot start at epoch ${this.current.epoch}`);
    }
    if (this.transitionState !== undefined && !this.transitionState.done) {
      const left = this.transitionState.pending().length;
      throw new InvalidArgumentError(`epoch ${this.epoch} still has ${left} range(s) to hand off; one change at a time`);
    }
    this.current = plan.to;
    this.lastPlan = plan;
    this.transitionState = new TransitionState(plan);
    return this.transitionState;
  }

  /** A range of the change to `epoch` is handed off (stale completions of an older change are ignored). */
  complete(epoch: number, rangeId: number): void {
    if (this.transitionState !== undefined && epoch === this.transitionState.epoch) this.transitionState.complete(rangeId);
  }

  writeTargets(keyHash: number): readonly number[] {
    return this.transitionState?.writeTargets(keyHash) ?? this.current.ring.preferenceList(keyHash);
  }

  readTargets(keyHash: number): readonly number[] {
    return this.transitionState?.readTargets(keyHash) ?? this.current.ring.preferenceList(keyHash);
  }

  /** null when this node may serve the request; else the typed refusal the sender acts on. */
  admit(req: EpochRequest): WrongEpochError | null {
    if (!Number.isSafeInteger(req.epoch) || req.epoch < 0) {
      throw new InvalidArgumentError(`a request's epoch must be a non-negative safe integer (the sender's ring epoch); got ${req.epoch}`);
    }
    const rangeId = this.lastPlan?.to.epoch === this.epoch ? this.rangeIdOf(req.keyHash) : undefined;
    const refuse = (reason: WrongEpochReason): WrongEpochError =>
      new WrongEpochError({
        node: this.node, requestEpoch: req.epoch, currentEpoch: this.epoch, reason, keyHash: req.keyHash, access: req.access,
        ...(rangeId === undefined ? {} : { rangeId }),
      });
    if (req.epoch > this.epoch) return refuse('receiver-behind');
    if (req.epoch < this.epoch && (req.epoch !== this.epoch - 1 || rangeId !== undefined || this.lastPlan === undefined)) {
      return refuse('sender-behind');
    }
    const subject = req.hintFor ?? this.node;
    const targets = req.access === 'read' ? this.readTargets(req.keyHash) : this.writeTargets(req.keyHash);
    return targets.includes(subject) ? null : refuse('not-owner');
  }

  private rangeIdOf(keyHash: number): number | undefined {
    return (this.transitionState?.rangeOf(keyHash) ?? undefined)?.id;
  }
}
