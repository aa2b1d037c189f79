// The replica actor and what a runtime needs to run one: options, stores, counters, hints.

export { Replica } from './replica.js';
export { DEFAULT_HINTS, type HintOptions, type ReplicaOptions } from './options.js';
export type { HintStore, ReplicaStore } from './stores.js';
export type { ReplicaCounters } from './stats.js';
export { hintKey } from './hint-records.js';
