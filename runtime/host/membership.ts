// What both runtimes share of membership changes beyond the driver: the checks and defaults of addNode's options,
// and the membership() report.

import { InvalidArgumentError, show } from '../../actors/errors.js';
import type { MembershipChange } from '../../actors/membership/plan.js';
import type { Ring } from '../../actors/ring.js';
import type { MembershipInfo, MembershipMetrics } from '../api.js';
import type { MembershipDriver } from './membership-driver.js';

const JOIN_KEYS = new Set(['datacenter', 'rack']);

/**
 * The join a call of addNode(options) asks for: the datacenter must be one the cluster was configured with (the
 * wire names datacenters by index); the rack defaults to the datacenter's least used one (ties: the first).
 */
export function joinChange(
  ring: Ring,
  config: { datacenters: readonly string[]; localDc: string; maxNodes: number },
  options: unknown,
): MembershipChange {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw new InvalidArgumentError(`addNode takes an options object { datacenter?, rack? }; got ${show(options)}`);
  }
  const o = (options ?? {}) as { datacenter?: unknown; rack?: unknown };
  for (const k of Object.keys(o)) {
    if (!JOIN_KEYS.has(k)) throw new InvalidArgumentError(`addNode: unknown option '${k}'; allowed: datacenter, rack`);
  }
  const dc = o.datacenter ?? config.localDc;
  if (typeof dc !== 'string' || !config.datacenters.includes(dc)) {
    throw new InvalidArgumentError(
      `addNode: datacenter must be one of the cluster's datacenters (${config.datacenters.join(', ')}); got ${show(o.datacenter)}`,
    );
  }
  if (ring.nodes.length >= config.maxNodes) {
    throw new InvalidArgumentError(
      `addNode: the cluster has used all ${config.maxNodes} node addresses (maxNodes; ids are never reused): start it with a larger maxNodes`,
      { maxNodes: config.maxNodes },
    );
  }
  if (o.rack !== undefined && (typeof o.rack !== 'string' || o.rack.length === 0)) {
    throw new InvalidArgumentError(`addNode: rack must be a non-empty string; got ${show(o.rack)}`);
  }
  return { type: 'join', dc, rack: (o.rack as string | undefined) ?? leastUsedRack(ring, dc) };
}

function leastUsedRack(ring: Ring, dc: string): string {
  const count = new Map<string, number>();
  for (const n of ring.nodes) {
    if (n.dc !== dc) continue;
    if (!count.has(n.rack)) count.set(n.rack, 0);
    if (!n.left) count.set(n.rack, count.get(n.rack)! + 1);
  }
  let best: string | undefined;
  for (const [rack, c] of count) if (best === undefined || c < count.get(best)!) best = rack;
  return best ?? `${dc}/rack0`;
}

export function membershipInfo(driver: MembershipDriver): MembershipInfo {
  const ring = driver.membership.ring;
  return {
    epoch: driver.membership.epoch,
    members: ring.memberIds(),
    left: ring.nodes.filter((n) => n.left === true).map((n) => n.id),
    inProgress: driver.status(),
    changes: driver.changes(),
  };
}

/** The membership figures of metrics(): the ring now, the change in progress, and what changes moved in all. */
export function membershipMetrics(driver: MembershipDriver): MembershipMetrics {
  const info = membershipInfo(driver);
  const active = info.inProgress;
  const done = info.changes;
  return {
    epoch: info.epoch,
    members: info.members.length,
    left: info.left.length,
    changesCompleted: done.length,
    changeInProgress: active === null ? 0 : 1,
    rangesPending: active?.rangesPending ?? 0,
    streamsPending: active?.streamsPending ?? 0,
    stalledMs: active?.stalledMs ?? 0,
    keysMoved: done.reduce((a, c) => a + c.keysMoved, 0) + (active?.keysMoved ?? 0),
    bytesMoved: done.reduce((a, c) => a + c.bytesMoved, 0) + (active?.bytesMoved ?? 0),
  };
}
