// What the control plane asks of a replica during a membership change, and what the replica answers. The control
// plane is out of band (the thread runtime's control port, the simulator's world): it reaches a paused node too,
// and a node that is down misses nothing, because it is synced to the current snapshot when it starts again.

import type { HandoffStream } from './handoff-plan.js';
import type { HandoffReceiverStats } from './handoff-receiver.js';
import type { HandoffSenderStats } from './handoff-sender.js';
import type { MembershipSnapshot } from './snapshot.js';

export type MembershipCall =
  /**
   * Adopt this snapshot when it is ahead of the replica's (a later change, or more ranges complete); a snapshot
   * behind it changes nothing. Begin, complete and finish are all syncs: once every range of the last change is
   * complete, the replica drops what it no longer owns and rebuilds anti-entropy on the new ring.
   */
  | { op: 'sync'; snapshot: MembershipSnapshot }
  /** stream a range's data to a gaining replica (this node is the stream's source); a second call is a no-op */
  | { op: 'stream'; stream: HandoffStream }
  /** how the streams this node sends are doing */
  | { op: 'status' }
  /**
   * this node is leaving: hand the hints it holds for owners that are down to these nodes (as hints for the same
   * owners), so that none is lost when it stops; hints for owners that are up go to them as usual
   */
  | { op: 'transfer-hints'; to: readonly number[] };

export interface StreamStatus {
  stream: HandoffStream;
  done: boolean;
  stats: HandoffSenderStats;
  lastProgressMs: number;
  bytesInFlight: number;
}

export interface MembershipReply {
  /** the replica's epoch after the call */
  epoch: number;
  /** ranges of the current change complete at this replica */
  completed: number;
  /** every stream started on this node in the current change */
  streams: StreamStatus[];
  /** what this node merged as a gaining replica in the current change */
  received: HandoffReceiverStats;
  /** hint keys this node holds for other nodes (a leaving node drains them before it stops) */
  hintsHeld: number;
  /** writes this node is coordinating now (a leaving node finishes them before it stops) */
  pendingPuts: number;
  /** keys the cleanup after the current epoch's change dropped here, because this node no longer owns them */
  keysDropped: number;
}
