// Hashing pool: a piscina pool of runtime/hash-worker.ts threads, and the rebuild loop that feeds it.
//
// A full rebuild (at start, after a crash or a wipe) is split in two so the replica keeps serving:
//   1. index: every stored key id goes into its range's segment map with a pending digest, in chunks of
//      indexChunkKeys with a yield to the event loop between chunks (no clock is decoded here);
//   2. hash: dirty segments are handed out in batches (AntiEntropy.takeHashBatch), at most maxInFlight at once; a
//      pool thread reads the pending keys from shared memory, digests and hashes them; applyHashBatch installs the
//      result. A write racing a batch leaves its segment dirty (merkle.ts TAKEN_DIRTY), so nothing is lost.
// Small stores skip the pool: the same batches are hashed in-thread (computeHashBatch), since a piscina task costs
// about 25-50 us and a worker start about 50 ms (ARCHITECTURE.md). Bounded: at most maxBatches batches per rebuild;
// what is still dirty after that is rehashed by the next exchange.

import { Piscina } from 'piscina';
import type { AntiEntropy, HashBatch, HashBatchResult, RoundResult } from '../../actors/anti-entropy/index.js';
import type { AeStats, RebuildStats } from '../api.js';
import { InvalidConfigError } from '../../actors/errors.js';
import type { Send, StoredClock } from '../../actors/protocol.js';
import type { Replica } from '../../actors/replica/index.js';
import type { AntiEntropyOptions } from '../config.js';
import { computeHashBatch, type HashTask } from './hash-worker.js';
import type { SharedStore, StoreBuffers } from './store.js';

export interface HashPoolOptions {
  threads: number;
  /** an idle pool thread exits after this (ms) */
  idleTimeoutMs?: number;
  /** tasks queued beyond the threads before run() waits */
  maxQueue?: number;
}

export class HashPool {
  private readonly pool: Piscina<HashTask, HashBatchResult>;
  readonly threads: number;
  constructor(options: HashPoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1 || options.threads > 64) {
      throw new InvalidConfigError(`hash pool threads must be an integer from 1 to 64; got ${options.threads}`);
    }
    this.threads = options.threads;
    this.pool = new Piscina<HashTask, HashBatchResult>({
      filename: new URL('./hash-worker.js', import.meta.url).href,
      minThreads: 0,
      maxThreads: options.threads,
      idleTimeout: options.idleTimeoutMs ?? 1000,
      maxQueue: options.maxQueue ?? options.threads * 4,
    });
  }

  /** Hashes one batch on a pool thread; pending keys are read from `store`. */
  hash(store: StoreBuffers | null, batch: HashBatch): Promise<HashBatchResult> {
    const { keyBytes, keyEnds, segmentEnds, digests, pending } = batch;
    return this.pool.run({ store, batch: { keyBytes, keyEnds, segmentEnds, digests, pending } });
  }

  async destroy(): Promise<void> {
    await this.pool.destroy();
  }
}

export interface RebuildOptions {
  /** segments per batch */
  batchSegments: number;
  /** batches hashing at once */
  maxInFlight: number;
  /** keys indexed between two yields to the event loop */
  indexChunkKeys?: number;
  /** most batches in this rebuild */
  maxBatches?: number;
}


export type BatchHasher = (batch: HashBatch) => Promise<HashBatchResult>;

/** A hasher that runs on the pool. */
export function poolHasher(pool: HashPool, store: StoreBuffers): BatchHasher {
  return (batch) => pool.hash(store, batch);
}

/** A hasher that runs in this thread (small rebuilds, the simulator). */
export function inThreadHasher(get: (keyId: string) => StoredClock | undefined): BatchHasher {
  return async (batch) => computeHashBatch(get, batch);
}

const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Rebuilds every tree of `ae` from the given key ids (the store's keys), hashing through `hasher`. */
export async function rebuildTrees(ae: AntiEntropy, keys: readonly string[], hasher: BatchHasher, o: RebuildOptions): Promise<RebuildStats> {
  const start = performance.now();
  const chunk = o.indexChunkKeys ?? 20_000;
  ae.reset();
  ae.setRebuilding(true);
  try {
    return await rebuildSteps(ae, keys, hasher, o, chunk, start);
  } finally {
    ae.setRebuilding(false);
  }
}

async function rebuildSteps(ae: AntiEntropy, keys: readonly string[], hasher: BatchHasher, o: RebuildOptions, chunk: number, start: number): Promise<RebuildStats> {
  for (let i = 0; i < keys.length; i += chunk) {
    const end = Math.min(keys.length, i + chunk);
    for (let k = i; k < end; k++) ae.index(keys[k]);
    if (end < keys.length) await yieldToLoop();
  }
  const stats: RebuildStats = { keys: keys.length, batches: 0, segments: 0, failedBatches: 0, indexMs: performance.now() - start, durationMs: 0 };
  const maxBatches = o.maxBatches ?? Number.MAX_SAFE_INTEGER;
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const launch = (batch: HashBatch): void => {
    const p = hasher(batch).then(
      (result) => {
        ae.applyHashBatch(batch, result);
        stats.segments += batch.segments.length;
      },
      (e: unknown) => {
        ae.returnHashBatch(batch);
        stats.failedBatches++;
        failure = e;
      },
    );
    const tracked = p.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };
  while (failure === undefined && stats.batches < maxBatches) {
    const batch = inFlight.size < o.maxInFlight ? ae.takeHashBatch(o.batchSegments) : null;
    if (batch !== null) {
      stats.batches++;
      launch(batch);
      continue;
    }
    if (inFlight.size === 0) break;
    await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  stats.durationMs = performance.now() - start;
  if (failure !== undefined && stats.failedBatches > 0 && stats.segments === 0) throw failure;
  return stats;
}

// ---------------------------------------------------------------------------------------------------------------
// AeDriver: the replica worker's side of anti-entropy. It rebuilds the trees at start (on the pool for large
// stores), runs repair rounds the cluster asks for over the control plane (resolving when the actor says the round
// is done: poll() after every batch the worker routes), and reports counters.


export type RepairRoundResult = RoundResult & { durationMs: number };

export interface AeDriverHost {
  replica: Replica;
  store: SharedStore;
  options: AntiEntropyOptions;
  /** runs f with the worker's outbound list, then routes what f appended */
  act(f: (out: Send[]) => void): void;
  down(): readonly number[];
  now(): number;
}

export class AeDriver {
  private rebuilding: Promise<unknown> = Promise.resolve();
  private isRebuilding = false;
  private rebuilds = 0;
  private lastRebuild: RebuildStats | null = null;
  private readonly waiters: Array<{ id: number; startMs: number; resolve: (r: RepairRoundResult) => void }> = [];

  constructor(private readonly h: AeDriverHost) {}

  private get ae(): AntiEntropy {
    return this.h.replica.antiEntropy!;
  }

  /** Rebuilds every tree from the store: on a pool when it holds poolMinKeys keys or more, else in-thread. */
  rebuild(): Promise<RebuildStats> {
    const run = this.rebuilding.then(async () => {
      this.isRebuilding = true;
      const o = this.h.options;
      const keys = this.h.store.keys();
      const pool = keys.length >= o.poolMinKeys && keys.length > 0 ? new HashPool({ threads: o.poolThreads }) : null;
      const hasher = pool === null ? inThreadHasher((k) => this.readOwn(k)) : poolHasher(pool, this.h.store.buffers);
      try {
        const stats = await rebuildTrees(this.ae, keys, hasher, {
          batchSegments: o.rebuildBatchSegments,
          maxInFlight: pool === null ? 1 : 2 * o.poolThreads,
        });
        this.rebuilds++;
        this.lastRebuild = stats;
        return stats;
      } finally {
        this.isRebuilding = false;
        await pool?.destroy();
      }
    });
    this.rebuilding = run.catch(() => undefined);
    return run;
  }

  private readOwn(k: string): StoredClock | undefined {
    const c = this.h.store.get(k);
    return typeof c === 'symbol' ? undefined : c;
  }

  /** One round: an exchange with every peer above this node in every shared range; resolves when all finished. */
  async repair(): Promise<RepairRoundResult> {
    await this.rebuilding;
    const startMs = this.h.now();
    return new Promise((resolve) => {
      this.h.act((out) => {
        this.waiters.push({ id: this.ae.startRound(this.h.now(), this.h.down(), out), startMs, resolve });
      });
      this.poll();
    });
  }

  /** Resolves the rounds that finished; the worker calls it after routing every batch. */
  poll(): void {
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i];
      const r = this.ae.roundResult(w.id);
      if (r === undefined) continue;
      this.waiters.splice(i--, 1);
      w.resolve({ ...r, durationMs: this.h.now() - w.startMs });
    }
  }

  stats(): AeStats {
    const ae = this.ae;
    const t = ae.tombstones();
    return {
      ...ae.counters,
      lastRepairMs: ae.lastRepairMs(),
      inFlight: ae.inFlight,
      rebuilding: this.isRebuilding,
      rebuilds: this.rebuilds,
      lastRebuild: this.lastRebuild,
      tombstones: t.tracked,
      confirmedTombstones: t.confirmed,
      ranges: ae.rangeIds().length,
    };
  }
}

