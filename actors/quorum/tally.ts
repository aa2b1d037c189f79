// The counting state both cores share, after Riak's riak_kv_put_core / riak_kv_get_core: one slot per placed target
// (node, dc index, countable?, state) and running counters, so adding a reply and asking for the status are
// O(number of datacenters named in perDc). Status is monotone: once 'ok' or 'failed' it never changes, because
// replies only move a target out of 'pending' and duplicates are ignored.
//
// A reply counts when it came from a primary, or from a fallback while sloppy quorum is on, or (ANY) from any
// fallback holding a hint. A fallback's ack that does not count is still recorded (uncountedNodes): it stored a
// hint even if the write failed.

import { InvalidArgumentError } from '../errors.js';
import type { Op, Requirement } from './levels.js';

/** A placed target, as the ring annotated it. */
export interface Target {
  node: number;
  dc: string;
  primary: boolean;
  /** a stand-in (a fallback): the primary it stands in for; reads count a stand-in's reply by the rules of the get core */
  hintFor?: number;
}

export type CoreStatus = 'pending' | 'ok' | 'failed';

export interface CoreOutcome {
  ok: boolean;
  /** acks needed in all (req.total) */
  needed: number;
  /** acks that counted */
  acked: number;
  /** nodes whose ack counted, in reply order */
  ackedNodes: number[];
  /** nodes that answered with an error or timed out, in target order */
  failedNodes: number[];
  /** nodes that have not answered, in target order */
  pendingNodes: number[];
  /** fallbacks that answered ok but did not count (sloppy quorum off): they hold a hint all the same */
  uncountedNodes: number[];
  /** nodes still pending when the core timed out (also in failedNodes) */
  timedOutNodes: number[];
  /** true when every counted reply came from a primary */
  primaryOnly: boolean;
  /** one sentence: what was needed, what answered, which failed */
  message: string;
}

/** At most this many targets per request: N plus fallbacks never comes near it. */
export const MAX_TARGETS = 256;

export const PENDING = 0;
export const ACKED = 1;
export const FAILED = 2;
export const TIMED_OUT = 3;
export const UNCOUNTED = 4;
/** a target that will never be asked (a stand-in whose primary acked): neither pending nor failed */
export const WITHDRAWN = 5;

/** The state shared by both cores. Slots are indexed by target position. */
export interface Tally {
  op: Op;
  req: Requirement;
  sloppy: boolean;
  nodes: number[];
  primary: boolean[];
  countable: boolean[];
  /** index into dcNames, or -1 when the target's dc has no perDc requirement */
  dcSlot: number[];
  /** per target: PENDING, ACKED, ... (a plain array: targets are few, and typed-array allocation is slow in V8) */
  state: number[];
  /** dcs named in req.perDc, with what each needs, has counted, and could still count */
  dcNames: string[];
  dcNeeded: number[];
  dcCounted: number[];
  dcOpen: number[];
  counted: number;
  /** pending targets whose ack would count */
  open: number;
  countedFallbacks: number;
  ackOrder: number[];
  timedOut: boolean;
}


function checkRequirement(req: Requirement): void {
  const bad = (what: string): never => {
    throw new InvalidArgumentError(`requirement ${what}; build it with requirement()`);
  };
  if (req === null || typeof req !== 'object') bad('must be an object');
  if (!Number.isSafeInteger(req.total) || req.total < 1) bad(`total must be a positive integer, got ${req.total}`);
  let sum = 0;
  for (const dc of Object.keys(req.perDc ?? bad('perDc is missing'))) {
    const k = req.perDc[dc];
    if (!Number.isSafeInteger(k) || k < 1) bad(`perDc.${dc} must be a positive integer, got ${k}`);
    sum += k;
  }
  if (sum > req.total) bad(`perDc sums to ${sum}, more than total ${req.total}`);
}

export function newTally(op: Op, req: Requirement, targets: readonly Target[], sloppy: boolean): Tally {
  checkRequirement(req);
  if (!Array.isArray(targets) || targets.length > MAX_TARGETS) {
    throw new InvalidArgumentError(`targets must be an array of at most ${MAX_TARGETS} targets`);
  }
  // Arrays of the targets' exact length, and one shared empty array where no datacenter is named (the usual case):
  // a tally is made per request, and arrays grown by push from empty took ~1.3 KB a put.
  const n = targets.length;
  const dcNames = namesDc(req.perDc) ? Object.keys(req.perDc) : (NO_DCS as string[]);
  const none = dcNames.length === 0;
  const t: Tally = {
    op, req, sloppy: sloppy === true,
    nodes: new Array<number>(n), primary: new Array<boolean>(n), countable: new Array<boolean>(n), dcSlot: new Array<number>(n),
    state: new Array<number>(n).fill(PENDING),
    dcNames,
    dcNeeded: none ? (NO_COUNTS as number[]) : dcNames.map((dc) => req.perDc[dc]),
    dcCounted: none ? (NO_COUNTS as number[]) : dcNames.map(() => 0),
    dcOpen: none ? (NO_COUNTS as number[]) : dcNames.map(() => 0),
    counted: 0, open: 0, countedFallbacks: 0, ackOrder: [], timedOut: false,
  };
  for (let i = 0; i < n; i++) addTarget(t, targets[i], i);
  return t;
}

/** Shared by every tally whose requirement names no datacenter: frozen, and never written (no target has a slot). */
const NO_DCS: readonly string[] = Object.freeze([]);
const NO_COUNTS: readonly number[] = Object.freeze([]);

function namesDc(perDc: Record<string, number>): boolean {
  for (const _ in perDc) return true;
  return false;
}

function addTarget(t: Tally, target: Target, i: number): void {
  const { node, dc, primary } = target;
  if (!Number.isSafeInteger(node) || node < 0) {
    throw new InvalidArgumentError(`target ${i} has node ${node}: a node id is an integer >= 0`);
  }
  for (let k = 0; k < i; k++) {
    if (t.nodes[k] === node) throw new InvalidArgumentError(`node ${node} is placed twice in targets: each node may appear once`);
  }
  const countable = primary || t.sloppy || t.req.hintsCount;
  const slot = t.dcNames.length === 0 ? -1 : t.dcNames.indexOf(dc);
  t.nodes[i] = node;
  t.primary[i] = primary === true;
  t.countable[i] = countable;
  t.dcSlot[i] = slot;
  if (countable) {
    t.open++;
    if (slot >= 0) t.dcOpen[slot]++;
  }
}

/** Records one reply; false when it was ignored (unknown node, second reply, or after a timeout). */
export function tallyReply(t: Tally, node: number, ok: boolean): boolean {
  // a linear search: a request has a handful of targets (at most MAX_TARGETS), and a Map per request costs more
  const i = t.nodes.indexOf(node);
  if (i < 0 || t.state[i] !== PENDING || t.timedOut) return false;
  const slot = t.dcSlot[i];
  if (t.countable[i]) {
    t.open--;
    if (slot >= 0) t.dcOpen[slot]--;
  }
  if (!ok) {
    t.state[i] = FAILED;
    return true;
  }
  if (!t.countable[i]) {
    t.state[i] = UNCOUNTED;
    return true;
  }
  t.state[i] = ACKED;
  t.counted++;
  t.ackOrder.push(node);
  if (slot >= 0) t.dcCounted[slot]++;
  if (!t.primary[i]) t.countedFallbacks++;
  return true;
}

export function tallyStatus(t: Tally): CoreStatus {
  let met = t.counted >= t.req.total;
  let possible = t.counted + t.open >= t.req.total;
  for (let s = 0; s < t.dcNames.length; s++) {
    if (t.dcCounted[s] < t.dcNeeded[s]) met = false;
    if (t.dcCounted[s] + t.dcOpen[s] < t.dcNeeded[s]) possible = false;
  }
  if (met) return 'ok';
  return possible ? 'pending' : 'failed';
}

/** A pending target will never be asked: it no longer counts as possible (false when it was not pending). */
export function tallyWithdraw(t: Tally, node: number): boolean {
  const i = t.nodes.indexOf(node);
  if (i < 0 || t.state[i] !== PENDING || t.timedOut) return false;
  if (t.countable[i]) {
    t.open--;
    if (t.dcSlot[i] >= 0) t.dcOpen[t.dcSlot[i]]--;
  }
  t.state[i] = WITHDRAWN;
  return true;
}

/** Whether counting `node` failed would make the requirement impossible (false for a node not pending or not counted). */
export function tallyNeeds(t: Tally, node: number): boolean {
  const i = t.nodes.indexOf(node);
  if (i < 0 || t.state[i] !== PENDING || !t.countable[i] || t.timedOut) return false;
  if (t.counted + t.open - 1 < t.req.total) return true;
  const slot = t.dcSlot[i];
  return slot >= 0 && t.dcCounted[slot] + t.dcOpen[slot] - 1 < t.dcNeeded[slot];
}

/** Every pending target becomes timed out; the status is then 'ok' or 'failed', never 'pending'. */
export function tallyTimeout(t: Tally): void {
  if (t.timedOut) return;
  for (let i = 0; i < t.nodes.length; i++) {
    if (t.state[i] !== PENDING) continue;
    t.state[i] = TIMED_OUT;
    if (!t.countable[i]) continue;
    t.open--;
    if (t.dcSlot[i] >= 0) t.dcOpen[t.dcSlot[i]]--;
  }
  t.timedOut = true;
}

export function nodesIn(t: Tally, ...states: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < t.nodes.length; i++) if (states.includes(t.state[i])) out.push(t.nodes[i]);
  return out;
}
