// Ring epochs and membership changes, planned as in Riak's `cluster plan`: a Membership is a ring plus its epoch
// (the version every request carries); plan(from, change) computes the next membership (epoch + 1) and the ranges
// whose preference list changes, with, for each, the replicas that gain it (they need its data) and those that lose
// it (they stop owning it once the range is handed off).
//
// Node ids are addresses and name replicas in version vectors and hints, so they are never reused or renumbered: a
// joining node takes the next id; a leaving node keeps its id on the ring marked `left` (it owns no tokens). A
// replacement (Cassandra's replace_address) is a new node that takes the dead node's tokens, dc and rack, so that
// only the dead node's ranges move, each to the replacement.
//
// Consistent hashing moves only what it must: a node's tokens depend only on its own id (ring.ts), so a join moves
// exactly the arcs where the new node enters a preference list and a leave those where it drops out. The moving
// ranges are computed exactly, arc by arc over the union of both rings' tokens, so `movedFraction` is the ring's own
// prediction of the share of keys that move (the tests check it against counted keys).

import { InvalidArgumentError, InvalidConfigError } from '../errors.js';
import { Ring, type NodeSpec, type RingConfig } from '../ring.js';
import { RING_SIZE, width, type TokenRange } from './token-range.js';

export interface Membership {
  /** 1, 2, ...: incremented by every change; requests carry it (see epoch.ts) */
  readonly epoch: number;
  readonly ring: Ring;
}

export type MembershipChange =
  | { type: 'join'; dc: string; rack: string }
  | { type: 'leave'; node: number }
  /** a new node takes `node`'s tokens (and, unless given, its dc and rack); `node` leaves (it may be dead) */
  | { type: 'replace'; node: number; dc?: string; rack?: string };

export interface MovingRange extends TokenRange {
  /** 0..moving.length-1, in ring order from the lowest end token */
  readonly id: number;
  /** the preference lists before and after (ring order) */
  readonly oldReplicas: readonly number[];
  readonly newReplicas: readonly number[];
  /** in newReplicas, not in oldReplicas: they need the range's data */
  readonly gaining: readonly number[];
  /** in oldReplicas, not in newReplicas: they own it no more once it is handed off */
  readonly losing: readonly number[];
}

export interface Plan {
  readonly from: Membership;
  readonly to: Membership;
  readonly change: MembershipChange;
  /** the node that joins (join, replace) or leaves (leave) */
  readonly node: number;
  /** for replace: the new node */
  readonly replacement?: number;
  readonly moving: readonly MovingRange[];
  /** share of the hash space (so of keys) whose replica set changes: the ring's prediction of keys moved */
  readonly movedFraction: number;
  /** share of (key, replica) assignments that move: sum of width * |gaining| over all ranges, / (2^32 * N) */
  readonly assignmentsMovedFraction: number;
}

export const FIRST_EPOCH = 1;

export function initialMembership(config: RingConfig, epoch = FIRST_EPOCH): Membership {
  if (!Number.isSafeInteger(epoch) || epoch < 1) {
    throw new InvalidConfigError(`membership epoch must be a positive safe integer; got ${epoch}`);
  }
  return Object.freeze({ epoch, ring: new Ring(config) });
}

/** The next membership after `change`, and every range that moves. Pure: nothing is committed. */
export function plan(from: Membership, change: MembershipChange): Plan {
  const { ring, node, replacement } = applyChange(from.ring, change);
  const to: Membership = Object.freeze({ epoch: from.epoch + 1, ring });
  const moving = movingRanges(from.ring, ring);
  let keys = 0;
  let assignments = 0;
  for (const r of moving) {
    keys += width(r);
    assignments += width(r) * r.gaining.length;
  }
  return Object.freeze({
    from,
    to,
    change,
    node,
    replacement,
    moving,
    movedFraction: keys / RING_SIZE,
    assignmentsMovedFraction: assignments / (RING_SIZE * ring.totalReplicas),
  });
}

function applyChange(ring: Ring, change: MembershipChange): { ring: Ring; node: number; replacement?: number } {
  switch (change?.type) {
    case 'join': {
      const id = ring.nodes.length;
      return { ring: ring.withNode(joinSpec(id, change.dc, change.rack)), node: id };
    }
    case 'leave':
      assertRemovable(ring, change.node, 'leave');
      return { ring: ring.withoutNode(change.node), node: change.node };
    case 'replace': {
      assertMember(ring, change.node, 'replace');
      const old = ring.nodes[change.node];
      const id = ring.nodes.length;
      const spec = { ...joinSpec(id, change.dc ?? old.dc, change.rack ?? old.rack), tokens: ring.tokensOf(change.node) };
      return { ring: ring.withNode(spec).withoutNode(change.node), node: change.node, replacement: id };
    }
    default:
      throw new InvalidArgumentError(
        `membership change must be { type: 'join', dc, rack }, { type: 'leave', node } or { type: 'replace', node }; ` +
          `got ${JSON.stringify(change)}`,
      );
  }
}

function joinSpec(id: number, dc: unknown, rack: unknown): NodeSpec {
  for (const [field, v] of [['dc', dc], ['rack', rack]] as const) {
    if (typeof v !== 'string' || v.length === 0) {
      throw new InvalidArgumentError(`a joining node's ${field} must be a non-empty string; got ${JSON.stringify(v)}`);
    }
  }
  return { id, dc: dc as string, rack: rack as string };
}

function assertMember(ring: Ring, node: number, what: string): void {
  if (!ring.isMember(node)) {
    throw new InvalidArgumentError(`${what}: node must be one of the ring's nodes (${ring.memberIds().join(', ')}); got ${node}`);
  }
}

/** A leave must leave every datacenter at least as many nodes as its replication factor. */
function assertRemovable(ring: Ring, node: number, what: string): void {
  assertMember(ring, node, what);
  const dc = ring.nodes[node].dc;
  const need = ring.replicationByDc[dc] ?? 0;
  const left = ring.memberIds().filter((n) => ring.nodes[n].dc === dc).length - 1;
  if (left < need || ring.memberIds().length === 1) {
    throw new InvalidArgumentError(
      `${what}: removing node ${node} would leave datacenter '${dc}' ${left} node(s), fewer than its replication ` +
        `factor ${need}; add a node first or replace this one`,
      { node, dc, nodesLeft: left, replication: need },
    );
  }
}

const sameSet = (a: readonly number[], b: readonly number[]): boolean =>
  a === b || (a.length === b.length && a.every((n) => b.includes(n)));

/**
 * The arcs whose replica set differs between two rings. The boundaries are every token of either ring, so within
 * one arc every key lands on one position in each ring; the arc's upper bound (a token) stands for all its keys.
 * Neighbouring arcs with the same old and new lists are merged (across the wrap too).
 */
export function movingRanges(before: Ring, after: Ring): MovingRange[] {
  const bounds = [...new Set([...before.allTokens(), ...after.allTokens()])].sort((a, b) => a - b);
  type Arc = { start: number; end: number; old: readonly number[]; new: readonly number[] };
  const arcs: Arc[] = [];
  for (let i = 0; i < bounds.length; i++) {
    const end = bounds[i];
    const start = bounds[i === 0 ? bounds.length - 1 : i - 1];
    const o = before.preferenceList(end);
    const n = after.preferenceList(end);
    if (sameSet(o, n)) continue;
    const last = arcs[arcs.length - 1];
    if (last !== undefined && last.end === start && last.old === o && last.new === n) last.end = end;
    else arcs.push({ start, end, old: o, new: n });
  }
  if (arcs.length > 1) {
    const first = arcs[0];
    const last = arcs[arcs.length - 1];
    if (last.end === first.start && last.old === first.old && last.new === first.new) {
      first.start = last.start;
      arcs.pop();
    }
  }
  return arcs.map((a, id) =>
    Object.freeze({
      id,
      start: a.start,
      end: a.end,
      oldReplicas: a.old,
      newReplicas: a.new,
      gaining: Object.freeze(a.new.filter((x) => !a.old.includes(x))),
      losing: Object.freeze(a.old.filter((x) => !a.new.includes(x))),
    }),
  );
}
