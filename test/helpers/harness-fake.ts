// Test doubles for the harness: a virtual clock and an in-memory store with DVV-like contexts that misbehaves on
// purpose, keeping its own tally of what it did, so the runner and oracle can be checked against known answers.
//
// FakeStore: one "replica" per key holding live values, each with a dot (a counter). A get returns them all and a
// context naming their dots; a put removes the values its context names and adds the new one (a blind put adds a
// sibling): exactly the semantics of dotted version vectors on one replica. A put's returned context names only the
// value it wrote. Misbehaviour, drawn from a seeded PRNG:
//   staleProbability  a read returns the key's previous state (before its last write) -> tally.staleServed
//   dropProbability   a put is acknowledged but not stored                            -> tally.dropped
// With one operation in flight the oracle must find exactly these numbers.
import type { FaultApi } from '../../bench/faults.js';
import type { BenchCluster } from '../../bench/run.js';
import { Prng, type GetResult, type PutResult } from '../../runtime/index.js';

export class VirtualClock {
  t = 0;
  /** every reading advances time a little, so no two events share an instant */
  nowMs(): number {
    return (this.t += 0.01);
  }
  async sleepMs(ms: number): Promise<void> {
    this.t += ms;
  }
}

interface Live {
  dot: number;
  value: string;
}

export interface FakeOptions {
  seed?: number;
  staleProbability?: number;
  dropProbability?: number;
}

export class FakeStore implements BenchCluster {
  readonly tally = { staleServed: 0, dropped: 0, reads: 0, writes: 0 };
  readonly faultCalls: string[] = [];
  private readonly live = new Map<string, Live[]>();
  private readonly previous = new Map<string, Live[]>();
  private nextDot = 1;
  private readonly rand: () => number;
  stopped = false;

  constructor(private readonly o: FakeOptions = {}) {
    const rng = new Prng(o.seed ?? 1);
    this.rand = () => rng.float();
  }

  readonly faults: FaultApi = {
    partition: (groups) => void this.faultCalls.push(`partition ${JSON.stringify(groups)}`),
    heal: () => void this.faultCalls.push('heal'),
    kill: async (node) => void this.faultCalls.push(`kill ${node}`),
  };

  async get(key: string, options?: { consistency?: unknown }): Promise<GetResult> {
    const now = this.live.get(key) ?? [];
    const prev = this.previous.get(key);
    let served = now;
    // the final verification read (at ALL) is always exact
    if (options?.consistency !== 'ALL') {
      this.tally.reads++;
      if (prev !== undefined && this.rand() < (this.o.staleProbability ?? 0) && !sameDots(prev, now)) {
        served = prev;
        this.tally.staleServed++;
      }
    }
    return { found: served.length > 0, values: served.map((l) => l.value), context: served.map((l) => l.dot).join(','), deleted: false, primaryOnly: true };
  }

  async put(key: string, value: string, options?: { context?: string; consistency?: unknown }): Promise<PutResult> {
    const dot = this.nextDot++;
    if (options?.consistency !== 'ALL') this.tally.writes++;
    if (options?.consistency !== 'ALL' && this.rand() < (this.o.dropProbability ?? 0)) {
      this.tally.dropped++;
      return { acked: [0], primaryOnly: true, context: String(dot), values: [value], siblings: false };
    }
    const seen = new Set((options?.context ?? '').split(',').filter(Boolean).map(Number));
    const now = this.live.get(key) ?? [];
    this.previous.set(key, now);
    this.live.set(key, [...now.filter((l) => !seen.has(l.dot)), { dot, value }]);
    return { acked: [0], primaryOnly: true, context: String(dot), values: [value], siblings: false };
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }
}

function sameDots(a: Live[], b: Live[]): boolean {
  return a.length === b.length && a.every((l, i) => l.dot === b[i].dot);
}
