// The write's counting core: newPutCore, then putAddReply per ack or error, then putStatus; once it is not 'pending'
// (or the deadline passed: putTimeout) read putOutcome.

import type { Requirement } from './levels.js';
import { tallyOutcome } from './outcome.js';
import { fillSeat, seatsOf } from './seats.js';
import {
  newTally,
  tallyNeeds,
  tallyReply,
  tallyStatus,
  tallyTimeout,
  tallyWithdraw,
  type CoreOutcome,
  type CoreStatus,
  type Tally,
  type Target,
} from './tally.js';

export interface PutCore {
  tally: Tally;
  /** per target: the primary whose seat it fills (see seatsOf) */
  seat: number[];
}


export function newPutCore(req: Requirement, targets: readonly Target[], opts: { sloppy: boolean }): PutCore {
  return { tally: newTally('write', req, targets, opts?.sloppy === true), seat: seatsOf(targets) };
}

/**
 * Adds one write ack (ok) or error (!ok). Ignores unknown nodes, duplicates, and replies after a timeout. A primary's
 * seat counts once, as in the get core: a stand-in's ack fills it, and the primary's late ack then does not count.
 */
export function putAddReply(core: PutCore, node: number, ok: boolean): void {
  const t = core.tally;
  const before = t.counted;
  if (tallyReply(t, node, ok === true) && t.counted > before) fillSeat(t, core.seat, t.nodes.indexOf(node));
}

export function putStatus(core: PutCore): CoreStatus {
  return tallyStatus(core.tally);
}

export function putOutcome(core: PutCore): CoreOutcome {
  return tallyOutcome(core.tally);
}

/**
 * A stand-in that will never be asked (its primary acked): the write stops counting on it, so that it can fail
 * fast when nothing else can answer, instead of waiting out its deadline for a node nobody asked.
 */
export function putWithdraw(core: PutCore, node: number): void {
  tallyWithdraw(core.tally, node);
}

/**
 * Whether the write cannot be met if `node` fails: a coordinator then asks a node its link detector holds down
 * anyway (a stale verdict must not fail it), instead of counting it failed at once.
 */
export function putNeeds(core: PutCore, node: number): boolean {
  return tallyNeeds(core.tally, node);
}

/** The deadline passed: every pending target counts as failed (timed out). Later replies are ignored. */
export function putTimeout(core: PutCore): CoreOutcome {
  tallyTimeout(core.tally);
  return tallyOutcome(core.tally);
}
