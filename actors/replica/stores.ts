// What a replica needs of its stores: the key store (SharedStore's writer side or a Map, adapted by the runtime) and
// the hint store that keeps hints (and the dot floor) across a crash. A store write that fails with a typed error is
// a refusal the replica reports; anything else is a bug and throws.

import { LeaderlessError, type WireError } from '../errors.js';
import type { StoredClock } from '../protocol.js';
import type { ReplicaCounters } from './stats.js';

/** What the actor needs of its store. The runtime adapts SharedStore (writer side) or a Map to it. */
export interface ReplicaStore {
  get(keyId: string): StoredClock | undefined;
  set(keyId: string, clock: StoredClock): void;
  /** removes a key (anti-entropy reaps tombstones with it); a store without it never reaps */
  delete?(keyId: string): boolean;
  /** every key held (membership changes list a range's keys and drop those no longer owned); absent: none listed */
  forEachKey?(fn: (keyId: string) => void): void;
}

/**
 * Where hinted writes persist, so that a hint survives a crash of the node holding it (an acknowledged write may
 * live only there). Keys are hintKey(owner, keyId). The runtime gives the same store back to a restarted actor.
 */
export interface HintStore {
  get(keyId: string): StoredClock | undefined;
  set(keyId: string, clock: StoredClock): void;
  delete(keyId: string): boolean;
  forEach(fn: (keyId: string, clock: StoredClock) => void): void;
}

/** Runs a store write; a store error is counted and returned (a refusal), anything else is a bug and throws. */
export function storeCall(counters: ReplicaCounters, f: () => unknown): WireError | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    return storeError(counters, e);
  }
}

/** What storeCall does with a store's failure, for a hot path that calls the store itself (no closure per call). */
export function storeError(counters: ReplicaCounters, e: unknown): WireError {
  counters.storeErrors++;
  if (e instanceof LeaderlessError) return e.toWire();
  throw e;
}
