// The membership as the control plane publishes it: every change since the cluster started, in order, and which
// ranges of the last change are handed off. Plain data (it travels in worker data and survives structured clone);
// plan() is pure and a node's tokens derive from its id, so every party that replays a snapshot computes the same
// rings and the same moving ranges (see plan.ts). A node that (re)starts is given the snapshot of the moment, so
// it never serves under an epoch older than the one its peers were told of.

import { InvalidArgumentError } from '../errors.js';
import { MembershipView } from './epoch.js';
import { plan, type Membership, type MembershipChange, type Plan } from './plan.js';

export interface MembershipSnapshot {
  /** every change since the initial ring, in order; the last is in progress unless every range of it is complete */
  readonly changes: readonly MembershipChange[];
  /** ids of the moving ranges of the last change that are handed off */
  readonly completed: readonly number[];
  /**
   * every range of the last change is complete and every party (clients included) has been told: losing replicas may
   * now drop what they lost (not before: a client that has not heard yet may still read them)
   */
  readonly settled?: boolean;
}

export const EMPTY_SNAPSHOT: MembershipSnapshot = Object.freeze({ changes: Object.freeze([]), completed: Object.freeze([]) });

/** Every membership from the initial one on, with the plans between them (plans[i] leads to memberships[i + 1]). */
export function replay(base: Membership, snapshot: MembershipSnapshot): { memberships: Membership[]; plans: Plan[] } {
  const memberships = [base];
  const plans: Plan[] = [];
  for (const change of snapshot.changes) {
    const p = plan(memberships[memberships.length - 1], change);
    plans.push(p);
    memberships.push(p.to);
  }
  return { memberships, plans };
}

/** Node (or client) `self`'s view of the snapshot: at the last epoch, with the last change's completed ranges. */
export function viewOf(self: number, base: Membership, snapshot: MembershipSnapshot = EMPTY_SNAPSHOT): MembershipView {
  const { memberships, plans } = replay(base, snapshot);
  if (plans.length === 0) {
    if (snapshot.completed.length > 0) throw new InvalidArgumentError('a membership snapshot without changes has no ranges to complete');
    return new MembershipView(self, base);
  }
  // the view starts at the epoch before the last change and begins it, so that it keeps the last plan (an epoch-(e-1)
  // request for a range that did not move is still admitted)
  const view = new MembershipView(self, memberships[memberships.length - 2]);
  const last = plans[plans.length - 1];
  view.begin(last);
  for (const r of snapshot.completed) view.complete(last.to.epoch, r);
  return view;
}

/** Whether `a` is ahead of `b`: a later change, more of the last one handed off, or now settled. */
export function snapshotAhead(a: MembershipSnapshot, b: MembershipSnapshot): boolean {
  if (a.changes.length !== b.changes.length) return a.changes.length > b.changes.length;
  if (a.completed.length !== b.completed.length) return a.completed.length > b.completed.length;
  return a.settled === true && b.settled !== true;
}

/** Whether every range of the snapshot's last change is handed off (or there is no change). */
export function settledSnapshot(base: Membership, snapshot: MembershipSnapshot): boolean {
  const { plans } = replay(base, snapshot);
  const last = plans[plans.length - 1];
  return last === undefined || new Set(snapshot.completed).size >= last.moving.length;
}

/** The membership of a snapshot (its last epoch). */
export function membershipOf(base: Membership, snapshot: MembershipSnapshot): Membership {
  const { memberships } = replay(base, snapshot);
  return memberships[memberships.length - 1];
}
