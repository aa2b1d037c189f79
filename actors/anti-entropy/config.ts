// Anti-entropy's settings, what it needs of its replica, and what it counts: the types every part shares.

import { InvalidConfigError } from '../errors.js';
import type { Address, StoredClock } from '../protocol.js';

export interface AntiEntropyConfig {
  /** segments per range tree: a power of two, 1 .. 2^20 */
  segments: number;
  /** children per inner node: a power of two, 2 .. 256 */
  fanout: number;
  /** periodic exchanges: one (range, peer) pair is started every intervalMs; 0 turns them off */
  intervalMs: number;
  /** a tombstone confirmed on every replica is reaped this long after the last confirmation */
  tombstoneGraceMs: number;
  /** an exchange waiting longer than this for a reply fails */
  exchangeTimeoutMs: number;
  /** most keys (listed, synced or wanted) in one message */
  maxKeysPerMessage: number;
  /** most node hashes asked for in one ae-tree */
  maxNodesPerMessage: number;
  /** most segments listed per ae-keys */
  maxSegmentsPerRequest: number;
  /** exchanges this node initiates at once */
  maxExchangesInFlight: number;
  /** most tombstones reaped per tick */
  maxReapsPerTick: number;
}

export const DEFAULT_ANTI_ENTROPY: AntiEntropyConfig = {
  segments: 1024,
  fanout: 16,
  intervalMs: 0,
  tombstoneGraceMs: 3 * 3600_000,
  exchangeTimeoutMs: 5000,
  maxKeysPerMessage: 1024,
  maxNodesPerMessage: 4096,
  maxSegmentsPerRequest: 64,
  maxExchangesInFlight: 4,
  maxReapsPerTick: 1024,
};

/** What anti-entropy needs of its replica: reads, reaping, and the replica's own merge (DVV sync + store write). */

export interface AntiEntropyHost {
  get(keyId: string): StoredClock | undefined;
  /** deletes a reaped tombstone; false when the store cannot delete (or the reap must not happen now) */
  delete(keyId: string): boolean;
  /** whether this node holds a hint for the key (for any owner): its tombstone must not be reaped anywhere yet */
  hinted(keyId: string): boolean;
  /** merges a clock from a peer into the local copy; false when the store refused the write */
  merge(keyId: string, clock: StoredClock): boolean;
}


export interface AntiEntropyOptions {
  node: Address;
  /** every replica set of the ring (see rangesOf); ranges not naming `node` are ignored */
  ranges: ReadonlyArray<readonly number[]>;
  /** the preference list (primaries) of a key, by its hash32 (ring.preferenceList) */
  placement: (keyHash: number) => readonly number[];
  config: AntiEntropyConfig;
}


export interface AeCounters {
  exchangesStarted: number;
  exchangesCompleted: number;
  exchangesFailed: number;
  /** exchanges not started because the peer was down */
  exchangesSkipped: number;
  /** exchanges this node served as the peer (counted when their last step, ae-tombs, arrived) */
  exchangesServed: number;
  nodesCompared: number;
  segmentsCompared: number;
  segmentsExchanged: number;
  /** clocks sent or received in exchanges this node initiated */
  keysSent: number;
  /** clocks received from peers and merged here (as initiator or peer) */
  keysRepaired: number;
  /** estimated wire bytes of exchanges this node initiated, both directions */
  bytesMoved: number;
  tombstonesConfirmed: number;
  tombstonesReaped: number;
  /** due reaps put back: a node held a hint for the key, was down or did not answer ae-hints, or the delete was refused */
  reapsDeferred: number;
  segmentsRehashed: number;
  /** keys whose preference list does not name this node (they are not tracked) */
  foreignKeys: number;
}

export interface RoundResult {
  /** exchanges completed */
  exchanges: number;
  failed: number;
  skipped: number;
  /** distinct ranges with at least one completed exchange, and their ids */
  ranges: number;
  rangeIds: string[];
  nodesCompared: number;
  /** leaf (segment) hashes compared */
  segmentsCompared: number;
  /** segments whose key lists were exchanged because their hashes differed */
  segmentsExchanged: number;
  keysSent: number;
  bytesMoved: number;
}

/** A batch of segments handed to a hashing pool: key ids packed as bytes (one per char), digests or PENDING. */
export function emptyRoundResult(): RoundResult {
  return {
    exchanges: 0, failed: 0, skipped: 0, ranges: 0, rangeIds: [], nodesCompared: 0, segmentsCompared: 0, segmentsExchanged: 0, keysSent: 0, bytesMoved: 0,
  };
}

export function newCounters(): AeCounters {
  return {
    exchangesStarted: 0, exchangesCompleted: 0, exchangesFailed: 0, exchangesSkipped: 0, exchangesServed: 0, nodesCompared: 0,
    segmentsCompared: 0, segmentsExchanged: 0, keysSent: 0, keysRepaired: 0, bytesMoved: 0, tombstonesConfirmed: 0,
    tombstonesReaped: 0, reapsDeferred: 0, segmentsRehashed: 0, foreignKeys: 0,
  };
}

const MAX_SEGMENTS = 1 << 20;

export function validateAntiEntropyConfig(c: AntiEntropyConfig): void {
  const pow2 = (n: number): boolean => Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
  if (!pow2(c.segments) || c.segments > MAX_SEGMENTS) {
    throw new InvalidConfigError(`antiEntropy.segments must be a power of two from 1 to ${MAX_SEGMENTS}; got ${c.segments}`);
  }
  if (!pow2(c.fanout) || c.fanout < 2 || c.fanout > 256) {
    throw new InvalidConfigError(`antiEntropy.fanout must be a power of two from 2 to 256; got ${c.fanout}`);
  }
  const positive: Array<keyof AntiEntropyConfig> = [
    'exchangeTimeoutMs', 'maxKeysPerMessage', 'maxNodesPerMessage', 'maxSegmentsPerRequest', 'maxExchangesInFlight', 'maxReapsPerTick',
  ];
  for (const k of positive) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new InvalidConfigError(`antiEntropy.${k} must be a positive integer; got ${c[k]}`);
  }
  for (const k of ['intervalMs', 'tombstoneGraceMs'] as const) {
    if (!Number.isFinite(c[k]) || c[k] < 0) throw new InvalidConfigError(`antiEntropy.${k} must be a number >= 0; got ${c[k]}`);
  }
}

/** What every part of one replica's anti-entropy shares: who it is, its settings, counters, host and request ids. */
export class AeContext {
  /** one sequence for exchanges and hint checks: an ae-abort names either by req */
  private req = 1;
  constructor(
    readonly node: Address,
    readonly config: AntiEntropyConfig,
    readonly counters: AeCounters,
    readonly host: AntiEntropyHost,
  ) {}

  nextReq(): number {
    return this.req++;
  }
}
