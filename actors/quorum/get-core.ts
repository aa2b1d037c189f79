// The read's counting core: newGetCore, then getAddReply per reply, then getStatus; once it is not 'pending' (or the
// deadline passed: getTimeout) read getOutcome.

import { InvalidArgumentError } from '../errors.js';
import type { Requirement } from './levels.js';
import { tallyOutcome } from './outcome.js';
import { fillSeat, seatsOf, uncount } from './seats.js';
import {
  newTally,
  tallyNeeds,
  tallyReply,
  tallyStatus,
  tallyTimeout,
  type CoreOutcome,
  type CoreStatus,
  type Tally,
  type Target,
} from './tally.js';

export interface GetCore {
  tally: Tally;
  found: number;
  notfound: number;
  /** per target: the primary it answers for (its own node, or a stand-in's hintFor); -1: none (counted alone) */
  seat: number[];
  standInNotFoundOk: boolean;
}

export type GetReply = 'found' | 'notfound' | 'error';
export type GetOutcome = CoreOutcome & { found: number; notfound: number };

export interface GetCoreOptions {
  sloppy: boolean;
  /** a stand-in's "not found" counts toward R (Riak's notfound_ok, for stand-ins only); default false */
  standInNotFoundOk?: boolean;
}

/**
 * A read's targets are primaries and stand-ins (targets with hintFor). A primary's seat counts once: whichever of
 * the primary and its stand-ins first gives a reply that counts fills it, and the others no longer count. A
 * primary's "not found" counts (Riak's notfound_ok); a stand-in's counts only with standInNotFoundOk, because a
 * stand-in holds hints, not the key: its empty answer says nothing about what its primary holds.
 */
export function newGetCore(req: Requirement, targets: readonly Target[], opts: GetCoreOptions): GetCore {
  const tally = newTally('read', req, targets, opts?.sloppy === true);
  return { tally, found: 0, notfound: 0, seat: seatsOf(targets), standInNotFoundOk: opts?.standInNotFoundOk === true };
}

/**
 * Adds one read reply. A primary's notfound is a successful reply (notfound_ok); a stand-in's, only with
 * standInNotFoundOk. found/notfound are counted only for replies that count toward the requirement. Ignores unknown
 * nodes, duplicates, and replies after a timeout.
 */
export function getAddReply(core: GetCore, node: number, reply: GetReply): void {
  if (reply !== 'found' && reply !== 'notfound' && reply !== 'error') {
    throw new InvalidArgumentError(`get reply must be 'found', 'notfound' or 'error', got ${String(reply)}`);
  }
  const t = core.tally;
  const i = t.nodes.indexOf(node);
  const standIn = i >= 0 && !t.primary[i] && core.seat[i] >= 0;
  if (standIn && reply === 'notfound' && !core.standInNotFoundOk) uncount(t, i);
  const before = t.counted;
  if (!tallyReply(t, node, reply !== 'error') || t.counted === before) return;
  if (reply === 'found') core.found++;
  else core.notfound++;
  fillSeat(t, core.seat, i);
}


export function getStatus(core: GetCore): CoreStatus {
  return tallyStatus(core.tally);
}

export function getOutcome(core: GetCore): GetOutcome {
  return { ...tallyOutcome(core.tally), found: core.found, notfound: core.notfound };
}

/** Whether the read cannot be met if `node` fails (see putNeeds). */
export function getNeeds(core: GetCore, node: number): boolean {
  return tallyNeeds(core.tally, node);
}

/** The deadline passed: every pending target counts as failed (timed out). Later replies are ignored. */
export function getTimeout(core: GetCore): GetOutcome {
  tallyTimeout(core.tally);
  return getOutcome(core);
}
