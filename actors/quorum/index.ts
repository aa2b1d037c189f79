// Quorum arithmetic and the counting cores, pure and deterministic.
//
//   levels.ts    levels and requirements: parseLevel on user input, validateReplication on the cluster config,
//                requirement() per request (or once per configured level)
//   tally.ts     the counting state both cores share (after Riak's riak_kv_put_core / riak_kv_get_core)
//   seats.ts     a primary's seat counts once, whether its own reply or a stand-in's fills it
//   outcome.ts   a core's outcome and the sentence that explains it
//   put-core.ts  newPutCore, putAddReply per reply, putStatus; putOutcome once not 'pending' (putTimeout at the deadline)
//   get-core.ts  the same for reads (get*)

export {
  CONSISTENCY_LEVELS,
  parseLevel,
  quorum,
  requirement,
  totalReplication,
  validateReplication,
  type ConsistencyLevel,
  type Level,
  type Op,
  type QuorumTopology,
  type Requirement,
} from './levels.js';
export { MAX_TARGETS, type CoreOutcome, type CoreStatus, type Target } from './tally.js';
export { counted, type Counted } from './outcome.js';
export { newPutCore, putAddReply, putNeeds, putOutcome, putStatus, putTimeout, putWithdraw, type PutCore } from './put-core.js';
export {
  getAddReply,
  getNeeds,
  getOutcome,
  getStatus,
  getTimeout,
  newGetCore,
  type GetCore,
  type GetCoreOptions,
  type GetOutcome,
  type GetReply,
} from './get-core.js';
