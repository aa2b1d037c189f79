// A write coordinated by a node that is none of the key's replicas: a proxy coordinator, as any node is in Cassandra
// and as the coordinator is in the PBS paper's WARS model (client -> coordinator -> N replicas -> coordinator). It is
// a measurement mode (`leaderless pbs --coordinator any`, the put option `coordinator`), not the default path, for two
// reasons that follow from DVV and the safety rules:
//
//   - It keeps nothing. A node holds data for a key it does not own only as a hint (ARCHITECTURE.md): a proxy's copy
//     would escape anti-entropy and tombstone reaping. So it writes the new version to no store and sends it to every
//     target as `replicate`; its own "ack" is not counted (it is not a target), so W acks come from replicas, and a
//     W = 1 write commits only after a round trip to a replica, as in WARS.
//   - Its dot is minted under a one-off DVV id, `<replicaId>~<n>` (DotFloor.standInId, as a stand-in coordinator's):
//     a dot names a replica and counts that replica's events on the key, and a proxy holds no history of the key to
//     count from. Under its own id, a second write through it would reuse dot 1 and DVV sync would take the two writes
//     for one. The cost: each write through a proxy adds one entry to the key's clock, never removed. Fine for one
//     write per fresh key (PBS trials); a long-lived key written through proxies would grow its clock without bound.
//
// The version supersedes exactly what the client's context covers (a blind write is a sibling of what the replicas
// hold, as always): the replicas merge it with DVV sync. In lww mode its timestamp is the proxy's clock alone (a
// replica coordinating a write stamps it later than every version it holds; a proxy holds none).
//
// The counting and replication are PutFsm's (put.ts), unchanged: the put core counts its own ack only for a target.

import type { PutRequest, StoredClock } from '../protocol.js';
import type { ConflictMode, Stamped } from '../types.js';
import { newClock, newWithContext, update } from '../versioning/dvv.js';
import { resolveLww } from '../versioning/lww.js';

/** The version a proxy sends to the targets: the client's value, with a new dot under `id`, over the client's context. */
export function proxyClock(msg: PutRequest, nowMs: number, id: string, by: string, conflicts: ConflictMode): StoredClock {
  const stamped: Stamped = { v: msg.value, ts: nowMs, by };
  const clock = update(msg.context === null ? newClock(stamped) : newWithContext(msg.context, stamped), id);
  return conflicts === 'lww' ? resolveLww(clock) : clock;
}
