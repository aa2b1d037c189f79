// Anti-entropy on pure actors: Replica actors with in-memory stores wired by an in-process FIFO network (no threads,
// no timers). Scenarios: the digest and packed-hash helpers against their references; an exchange moves only the
// differing keys; paging; tombstones are reaped only once every replica holds them and never come back; the batched
// (pool) rehash path gives the same trees as the synchronous one; and a property: random writes and deletes with
// random missed deliveries, then repair rounds until quiet, leave every replica of every key with the same clock.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fcParams } from './helpers/fc.js';
import {
  DEFAULT_ANTI_ENTROPY,
  FLAG_MISSING,
  FLAG_TOMBSTONE,
  KeyCursor,
  hash32Bytes,
  hashSegmentsPacked,
  isTombstone,
  rangeId,
  rangesOf,
  validateAntiEntropyConfig,
  versionDigest,
  type AntiEntropyConfig,
  type HashBatch,
  type RoundResult,
} from '../actors/anti-entropy/index.js';
import { hash32 } from '../actors/hash.js';
import { defaultSegmentHasher, type SegmentItem } from '../actors/merkle.js';
import { CLIENT_BASE, isClient, type Message, type Send, type StoredClock } from '../actors/protocol.js';
import { Replica } from '../actors/replica/index.js';
import { Ring, keyHash } from '../actors/ring.js';
import { InvalidConfigError } from '../actors/errors.js';
import type { Stamped } from '../actors/types.js';
import { emptyClock, join, newClock, newWithContext, updateWith, values } from '../actors/versioning/dvv.js';
import { MapStore } from '../runtime/host/store.js';

function makeRing(nodes: number, replication: number): Ring {
  return new Ring({
    nodes: Array.from({ length: nodes }, (_, id) => ({ id, dc: 'dc1', rack: 'dc1/r0' })),
    vnodes: 8,
    replication,
  });
}

/** N replicas on one ring, a FIFO network between them, and virtual time. */
class Net {
  readonly ring: Ring;
  readonly stores: MapStore[];
  readonly replicas: Replica[];
  readonly queue: Send[] = [];
  nowMs = 0;
  delivered = 0;
  constructor(nodes: number, replication: number, config: Partial<AntiEntropyConfig> = {}) {
    this.ring = makeRing(nodes, replication);
    const ranges = rangesOf(this.ring);
    this.stores = Array.from({ length: nodes }, () => new MapStore());
    this.replicas = this.stores.map(
      (store, node) =>
        new Replica(store, {
          node,
          replicaId: String(node),
          conflicts: 'siblings',
          maxPendingPuts: 16,
          antiEntropy: {
            ranges,
            placement: (h) => this.ring.preferenceList(h),
            config: { ...DEFAULT_ANTI_ENTROPY, tombstoneGraceMs: 0, ...config },
          },
        }),
    );
  }

  primaries(key: string): number[] {
    return [...this.ring.preferenceList(hash32(key))];
  }

  /** Delivers queued messages until none is left (bounded); `drop` decides per message. */
  run(drop: (s: Send) => boolean = () => false): void {
    for (let steps = 0; this.queue.length > 0; steps++) {
      assert.ok(steps < 1_000_000, 'the network never went quiet');
      const s = this.queue.shift()!;
      if (isClient(s.to) || drop(s)) continue;
      this.delivered++;
      this.replicas[s.to].handle(s.msg, this.nowMs, this.queue);
    }
  }

  send(to: number, msg: Message): void {
    this.replicas[to].handle(msg, this.nowMs, this.queue);
    this.run();
  }

  /**
   * A write coordinated by `coord` (blind, or with the coordinator's context), merged at the coordinator and at
   * each other primary for which `deliver` says so (the others miss it).
   */
  write(key: string, value: string | null, coord: number, withContext: boolean, deliver: (node: number) => boolean): void {
    const local = this.stores[coord].get(key);
    const stamped: Stamped = { v: value, ts: this.nowMs, by: String(coord) };
    const fresh = withContext && local !== undefined ? newWithContext(join(local), stamped) : newClock(stamped);
    const clock = updateWith(fresh, local ?? emptyClock(), String(coord));
    for (const node of this.primaries(key)) {
      if (node !== coord && !deliver(node)) continue;
      this.send(node, { type: 'repair', req: -1, from: CLIENT_BASE, key, clock });
    }
  }

  tick(ms: number, down: number[] = []): void {
    this.nowMs += ms;
    for (const r of this.replicas) r.handle({ type: 'tick', nowMs: this.nowMs, down }, this.nowMs, this.queue);
    this.run();
  }

  /**
   * One repair round: node by node (as cluster.repair does), each starts its round and the network runs until quiet;
   * exchanges cut off by `drop` fail by timeout. The results are summed (ranges: distinct over nodes).
   */
  round(drop?: (s: Send) => boolean): RoundResult {
    const sum: RoundResult = {
      exchanges: 0, failed: 0, skipped: 0, ranges: 0, rangeIds: [], nodesCompared: 0, segmentsCompared: 0, segmentsExchanged: 0, keysSent: 0, bytesMoved: 0,
    };
    const ranges = new Set<string>();
    this.replicas.forEach((replica, node) => {
      const ae = replica.antiEntropy!;
      const id = ae.startRound(this.nowMs, [], this.queue);
      this.run(drop);
      let r = ae.roundResult(id);
      if (r === undefined) {
        this.nowMs += ae.config.exchangeTimeoutMs;
        replica.handle({ type: 'tick', nowMs: this.nowMs, down: [] }, this.nowMs, this.queue);
        this.run(drop);
        r = ae.roundResult(id);
      }
      assert.ok(r !== undefined, `node ${node}'s round did not finish`);
      for (const k of Object.keys(sum) as Array<keyof RoundResult>) if (typeof r[k] === 'number') (sum[k] as number) += r[k] as number;
      for (const x of r.rangeIds) ranges.add(x);
    });
    sum.ranges = ranges.size;
    sum.rangeIds = [...ranges].sort();
    return sum;
  }

  /** Repair rounds until one sends no key; returns how many ran. */
  repairUntilQuiet(maxRounds: number): number {
    for (let i = 1; i <= maxRounds; i++) if (this.round().keysSent === 0) return i;
    assert.fail(`still sending keys after ${maxRounds} rounds`);
  }

  /** Every key any replica holds, with the clock each of its primaries holds. */
  keys(): string[] {
    const all = new Set<string>();
    for (const s of this.stores) for (const k of s.keys()) all.add(k);
    return [...all].sort();
  }

  assertConverged(): void {
    for (const key of this.keys()) {
      const clocks = this.primaries(key).map((n) => this.stores[n].get(key));
      for (const c of clocks.slice(1)) assert.deepEqual(c, clocks[0], `replicas of ${key} differ`);
    }
  }
}

function liveValues(c: StoredClock | undefined): string[] {
  if (c === undefined) return [];
  return values(c)
    .filter((v) => v.v !== null)
    .map((v) => String(v.v))
    .sort();
}

describe('helpers', () => {
  test('hash32Bytes equals hash32 on the key id of the same bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 0, max: 0xffffffff }), (bytes, seed) => {
        const id = String.fromCharCode(...bytes);
        assert.equal(hash32Bytes(bytes, 0, bytes.length, seed), hash32(id, seed));
      }),
      fcParams(300),
    );
  });

  test('hashSegmentsPacked equals merkle.ts defaultSegmentHasher segment by segment', () => {
    const item = fc.tuple(fc.string({ maxLength: 12 }).map((s) => s.replace(/[^\x00-\xff]/g, 'x')), fc.integer({ min: 0, max: 0xffffffff }));
    fc.assert(
      fc.property(fc.array(fc.uniqueArray(item, { selector: (x) => x[0], maxLength: 8 }), { maxLength: 6 }), (segments) => {
        const keys = segments.flat();
        const bytes = new Uint8Array(keys.reduce((a, [k]) => a + k.length, 0));
        const keyEnds = new Uint32Array(keys.length);
        const digests = new Uint32Array(keys.length);
        let at = 0;
        keys.forEach(([k, d], i) => {
          for (const ch of k) bytes[at++] = ch.charCodeAt(0);
          keyEnds[i] = at;
          digests[i] = d;
        });
        let end = 0;
        const segmentEnds = new Uint32Array(segments.map((s) => (end += s.length)));
        const out = new Uint32Array(2 * segments.length);
        hashSegmentsPacked({ keyBytes: bytes, keyEnds, segmentEnds, digests }, out);
        segments.forEach((items, s) => {
          const expected = defaultSegmentHasher(items as SegmentItem[]);
          assert.equal((BigInt(out[2 * s]) << 32n) | BigInt(out[2 * s + 1]), expected);
        });
        const cursor = new KeyCursor({ keyBytes: bytes, keyEnds });
        keys.forEach(([k], i) => assert.equal(cursor.key(i), k));
      }),
      fcParams(200),
    );
  });

  test('versionDigest: equal clocks agree, a different history differs; isTombstone', () => {
    const st = (v: string | null, ts: number, by: string): Stamped => ({ v, ts, by });
    const a: StoredClock = updateWith(newClock(st('x', 1, '0')), emptyClock(), '0');
    const a2: StoredClock = updateWith(newClock(st('x', 1, '0')), emptyClock(), '0');
    const b = updateWith(newWithContext(join(a), st('y', 2, '0')), a, '0');
    const sib = updateWith(newClock(st('z', 2, '1')), a, '1');
    const tomb = updateWith(newWithContext(join(b), st(null, 3, '0')), b, '0');
    const table: Array<[string, StoredClock, StoredClock, boolean]> = [
      ['same clock built twice', a, a2, true],
      ['newer counter', a, b, false],
      ['a sibling more', a, sib, false],
      ['tombstone vs value', b, tomb, false],
    ];
    for (const [what, x, y, same] of table) assert.equal(versionDigest(x) === versionDigest(y), same, what);
    assert.equal(isTombstone(tomb), true);
    assert.equal(isTombstone(b), false);
    assert.equal(isTombstone(emptyClock()), false);
  });

  test('rangesOf names every key preference list; rangeId sorts', () => {
    const ring = makeRing(5, 3);
    const ids = new Set(rangesOf(ring).map(rangeId));
    for (let i = 0; i < 2000; i++) assert.ok(ids.has(rangeId(ring.preferenceList(keyHash(`k${i}`)))));
    assert.equal(rangeId([3, 0, 2]), '0,2,3');
  });

  test('config validation names the option and what is allowed', () => {
    const bad: Array<[Partial<AntiEntropyConfig>, RegExp]> = [
      [{ segments: 1000 }, /segments must be a power of two/],
      [{ fanout: 1 }, /fanout must be a power of two from 2/],
      [{ maxKeysPerMessage: 0 }, /maxKeysPerMessage must be a positive integer/],
      [{ tombstoneGraceMs: -1 }, /tombstoneGraceMs must be a number >= 0/],
    ];
    for (const [patch, re] of bad) {
      assert.throws(() => validateAntiEntropyConfig({ ...DEFAULT_ANTI_ENTROPY, ...patch }), (e: unknown) => e instanceof InvalidConfigError && re.test(e.message));
    }
  });
});

describe('exchanges', () => {
  test('equal replicas compare one root per pair and move nothing', () => {
    const net = new Net(3, 3);
    for (let i = 0; i < 200; i++) net.write(`k${i}`, `v${i}`, i % 3, false, () => true);
    const r = net.round();
    assert.equal(r.exchanges, 3);
    assert.equal(r.ranges, 1);
    assert.equal(r.nodesCompared, 3);
    assert.equal(r.segmentsExchanged, 0);
    assert.equal(r.keysSent, 0);
  });

  test('only differing segments are listed and only differing keys move', () => {
    const net = new Net(3, 3, { segments: 256 });
    for (let i = 0; i < 500; i++) net.write(`k${i}`, `v${i}`, 0, false, () => true);
    const missed = ['k7', 'k70', 'k300'];
    for (const k of missed) net.write(k, 'new', 0, true, (n) => n !== 2);
    const segs = new Set(missed.map((k) => Math.floor((hash32(k) * 256) / 2 ** 32)));
    const r = net.round();
    // pair (0, 1) is equal; (0, 2) syncs the three keys; (1, 2) runs after and finds them equal
    assert.equal(r.segmentsExchanged, segs.size);
    assert.equal(r.keysSent, missed.length);
    assert.ok(r.nodesCompared <= 3 + segs.size * 2 * 16, `nodes compared ${r.nodesCompared}`);
    net.assertConverged();
    assert.equal(net.round().keysSent, 0);
  });

  test('a node that lost everything is refilled, in pages of maxKeysPerMessage', () => {
    const net = new Net(3, 3, { segments: 1, maxKeysPerMessage: 7, maxSegmentsPerRequest: 1 });
    for (let i = 0; i < 60; i++) net.write(`k${i}`, `v${i}`, 1, false, (n) => n !== 0);
    assert.equal(net.stores[0].size, 0);
    const r = net.round();
    assert.equal(net.stores[0].size, 60);
    assert.ok(r.keysSent >= 60);
    net.assertConverged();
  });

  test('concurrent versions on two replicas are merged as siblings, never overwritten', () => {
    const net = new Net(3, 3);
    net.write('k', 'a', 0, false, () => false);
    net.write('k', 'b', 1, false, () => false);
    net.round();
    net.assertConverged();
    assert.deepEqual(liveValues(net.stores[2].get('k')), ['a', 'b']);
  });

  test('an exchange is refused while a pool rebuild holds segments, and runs after', () => {
    const net = new Net(3, 3);
    for (let i = 0; i < 20; i++) net.write(`k${i}`, 'v', 0, false, (n) => n !== 2);
    const ae2 = net.replicas[2].antiEntropy!;
    ae2.reset();
    for (const k of net.stores[2].keys()) ae2.index(k);
    ae2.index('x'); // make a dirty segment even though node 2 holds nothing
    const batch = ae2.takeHashBatch(8)!;
    const r = net.round();
    assert.ok(r.failed >= 1, 'the exchanges with node 2 must fail while it rebuilds');
    ae2.returnHashBatch(batch);
    net.round();
    net.assertConverged();
  });
});

describe('the batched rebuild', () => {
  test('takeHashBatch -> hasher -> applyHashBatch gives the same trees as the synchronous rehash', () => {
    const net = new Net(4, 3);
    for (let i = 0; i < 300; i++) net.write(`k${i}`, i % 5 === 0 ? null : `v${i}`, i % 4, false, () => true);
    const ae = net.replicas[1].antiEntropy!;
    const store = net.stores[1];
    ae.rehashAll();
    const before = net.round();
    assert.equal(before.keysSent, 0);
    ae.reset();
    for (const k of store.keys()) ae.index(k);
    let batches = 0;
    for (let b: HashBatch | null; (b = ae.takeHashBatch(16)) !== null; batches++) {
      // what runtime/hash-worker.ts does, in-thread
      const cursor = new KeyCursor(b);
      const flags = new Uint8Array(b.digests.length);
      const digests = b.digests.slice();
      for (let i = 0; i < digests.length; i++) {
        if (b.pending[i] === 0) continue;
        const c = store.get(cursor.key(i));
        if (c === undefined) flags[i] = FLAG_MISSING;
        else {
          digests[i] = versionDigest(c);
          if (isTombstone(c)) flags[i] = FLAG_TOMBSTONE;
        }
      }
      const hashes = new Uint32Array(2 * b.segments.length);
      hashSegmentsPacked({ ...b, digests }, hashes);
      ae.applyHashBatch(b, { hashes, digests, flags });
    }
    assert.ok(batches > 1);
    assert.equal(ae.dirtySegments(), 0);
    const after = net.round();
    assert.equal(after.keysSent, 0);
    assert.equal(after.segmentsExchanged, 0);
    assert.equal(ae.tombstones().tracked, net.stores[1].keys().filter((k) => isTombstone(store.get(k)!)).length);
  });
});

describe('tombstones', () => {
  test('a replica that missed the delete blocks reaping; after repair the key is reaped and stays deleted', () => {
    const net = new Net(3, 3, { tombstoneGraceMs: 100 });
    net.write('gone', 'old', 0, false, () => true);
    net.write('kept', 'v', 0, false, () => true);
    // node 2 is cut off: the delete reaches 0 and 1 only
    net.write('gone', null, 0, true, (n) => n !== 2);
    const cutOff = (s: Send): boolean => s.to === 2 || (s.msg as { from: number }).from === 2;
    net.round(cutOff);
    net.tick(1000);
    for (const n of [0, 1]) assert.ok(isTombstone(net.stores[n].get('gone')!), `node ${n} must keep its tombstone`);
    assert.deepEqual(liveValues(net.stores[2].get('gone')), ['old']);
    // healed: repair carries the tombstone to node 2; confirmations complete; after the grace every copy is reaped
    net.round();
    for (const n of [0, 1, 2]) assert.ok(isTombstone(net.stores[n].get('gone')!), `node ${n} holds the tombstone`);
    net.round(); // confirmations that the first healed round could not make yet
    net.tick(50);
    for (const n of [0, 1, 2]) assert.ok(net.stores[n].has('gone'), 'not reaped before the grace period');
    net.tick(200);
    for (const n of [0, 1, 2]) assert.equal(net.stores[n].has('gone'), false, `node ${n} reaped`);
    assert.equal(net.replicas.reduce((a, r) => a + r.antiEntropy!.counters.tombstonesReaped, 0), 3);
    // and it never comes back
    for (let i = 0; i < 3; i++) net.round();
    for (const n of [0, 1, 2]) {
      assert.equal(net.stores[n].has('gone'), false);
      assert.deepEqual(liveValues(net.stores[n].get('kept')), ['v']);
    }
  });

  test('a reaper does not get its tombstone back from a replica that has not reaped yet', () => {
    const net = new Net(3, 3, { tombstoneGraceMs: 0 });
    net.write('gone', 'old', 0, false, () => true);
    net.write('gone', null, 0, true, () => true);
    net.round();
    net.round();
    // reap on node 0 only (its tick), then repair: nodes 1 and 2 must not send the tombstone back
    net.replicas[0].handle({ type: 'tick', nowMs: 10, down: [] }, 10, net.queue);
    net.run();
    assert.equal(net.stores[0].has('gone'), false);
    const r = net.round();
    assert.equal(r.keysSent, 0);
    assert.equal(net.stores[0].has('gone'), false);
  });
});

describe('property', () => {
  test('random writes, deletes and missed deliveries; repair rounds until quiet converge every replica', () => {
    const op = fc.record({
      key: fc.integer({ min: 0, max: 24 }),
      del: fc.boolean(),
      coord: fc.integer({ min: 0, max: 3 }),
      withContext: fc.boolean(),
      missMask: fc.integer({ min: 0, max: 15 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 1, max: 7 }), (ops, lossyMask) => {
        const net = new Net(4, 3, { segments: 64, fanout: 4, maxKeysPerMessage: 5, tombstoneGraceMs: 0 });
        ops.forEach((o, i) => {
          const key = `key${o.key}`;
          const prims = net.primaries(key);
          const coord = prims[o.coord % prims.length];
          net.nowMs += 1;
          net.write(key, o.del ? null : `v${i}`, coord, o.withContext, (n) => ((o.missMask & lossyMask) >> n & 1) === 0);
        });
        const rounds = net.repairUntilQuiet(3);
        assert.ok(rounds <= 2, `took ${rounds} rounds`);
        net.assertConverged();
        // reaping changes nothing anyone can read, and the replicas stay converged
        const visible = new Map(net.keys().map((k) => [k, liveValues(net.stores[net.primaries(k)[0]].get(k))]));
        net.round(); // confirmations
        net.tick(1);
        net.repairUntilQuiet(3);
        net.assertConverged();
        for (const [k, vs] of visible) {
          for (const n of net.primaries(k)) assert.deepEqual(liveValues(net.stores[n].get(k)), vs, `${k} on node ${n}`);
        }
      }),
      fcParams(60),
    );
  });
});
