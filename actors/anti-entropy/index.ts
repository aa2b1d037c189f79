// Anti-entropy's public face: the AntiEntropy a replica owns, its settings and results, and the helpers runtimes and
// pool workers use (digests, ranges, hash batches). See anti-entropy.ts for how it works and where each part lives.

export { AntiEntropy } from './anti-entropy.js';
export {
  DEFAULT_ANTI_ENTROPY,
  validateAntiEntropyConfig,
  type AeCounters,
  type AntiEntropyConfig,
  type AntiEntropyHost,
  type AntiEntropyOptions,
  type RoundResult,
} from './config.js';
export { isTombstone, PENDING_DIGEST, rangeId, rangesOf, versionDigest } from './digest.js';
export { FLAG_MISSING, FLAG_TOMBSTONE, hashSegmentsPacked, KeyCursor, type HashBatch, type HashBatchResult } from './hash-batch.js';
export { hash32Bytes } from '../hash.js';
