// Elastic membership's public face: ring epochs and plans, pending ranges, handoff streams, and the epoch check.
// Pure protocol like the rest of actors/: the runtime wires it (see each file's header).

export { FIRST_EPOCH, initialMembership, movingRanges, plan, type Membership, type MembershipChange, type MovingRange, type Plan } from './plan.js';
export { contains, RangeIndex, RING_SIZE, width, type TokenRange } from './token-range.js';
export { atLeast, transitionWriteMet, TransitionState, type QuorumRule, type RangePhase } from './transition.js';
export { MembershipView, type EpochRequest } from './epoch.js';
export { WrongEpochError, wrongEpochFromWire, type WrongEpochDetails, type WrongEpochReason } from './errors.js';
export {
  DEFAULT_HANDOFF, handoffStreams, handoffTag, isHandoffTag, keyOrder, pageKeys, pageSegmentKeys, parseHandoffTag,
  validateHandoffConfig, type HandoffConfig, type HandoffSource, type HandoffStream,
} from './handoff-plan.js';
export { HandoffProgress } from './handoff-progress.js';
export { HandoffSender, handoffReqs, type HandoffSenderStats } from './handoff-sender.js';
export { HandoffReceiver, type HandoffReceiverStats, type HandoffSink } from './handoff-receiver.js';
export { EMPTY_SNAPSHOT, membershipOf, replay, settledSnapshot, viewOf, type MembershipSnapshot } from './snapshot.js';
export type { MembershipCall, MembershipReply, StreamStatus } from './calls.js';
