// Handoff: which replica streams to which (hand-checked), the wire tag, listing a range's keys in pages (over a plain
// key set and over anti-entropy's segment index, which must agree), the receiver's refusals, and streams driven
// through a seeded in-memory network that drops, delays, reorders and duplicates messages until it heals: every key
// of the range arrives with its clock, none outside it, and the bytes in flight never pass the budget.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fcParams } from './helpers/fc.js';
import { InvalidArgumentError, InvalidConfigError, QuorumError } from '../actors/errors.js';
import { hash32 } from '../actors/hash.js';
import type { AeSync, Send, StoredClock } from '../actors/protocol.js';
import type { NodeSpec } from '../actors/ring.js';
import { sync } from '../actors/versioning/dvv.js';
import { encodedClockSize } from '../actors/versioning/codec.js';
import { initialMembership, plan, type Plan } from '../actors/membership/plan.js';
import { contains, RING_SIZE } from '../actors/membership/token-range.js';
import { TransitionState } from '../actors/membership/transition.js';
import {
  DEFAULT_HANDOFF, handoffStreams, handoffTag, isHandoffTag, pageKeys, pageSegmentKeys, parseHandoffTag, type HandoffConfig, type HandoffStream,
} from '../actors/membership/handoff-plan.js';
import { HandoffSender, handoffReqs } from '../actors/membership/handoff-sender.js';
import { HandoffReceiver } from '../actors/membership/handoff-receiver.js';
import { HandoffProgress } from '../actors/membership/handoff-progress.js';

const tokenNodes = (tokens: number[]): NodeSpec[] => tokens.map((t, id) => ({ id, dc: 'dc1', rack: `r${id}`, tokens: [t] }));
// nodes at 100, 200, 300, N = 2; node 1 leaves: range 0 = (300,100] [0,1] -> [0,2]; range 1 = (100,200] [1,2] -> [2,0]
const leave1 = plan(initialMembership({ nodes: tokenNodes([100, 200, 300]), vnodes: 1, replication: 2 }), { type: 'leave', node: 1 });

describe('handoff streams: who sends to whom', () => {
  const pairs = (s: HandoffStream[]) => s.map((x) => [x.source, x.target]);
  test('the loser streams to the gainer that takes its place; when it is down, every surviving old replica does', () => {
    const r0 = leave1.moving[0];
    assert.deepEqual(pairs(handoffStreams(2, r0, () => true)), [[1, 2]]);
    assert.deepEqual(pairs(handoffStreams(2, r0, (n) => n !== 1)), [[0, 2]]);
    const replace = plan(initialMembership({ nodes: tokenNodes([100, 200, 300, 400]), vnodes: 1, replication: 3 }), { type: 'replace', node: 1 });
    const r = replace.moving.find((m) => m.oldReplicas.length === 3)!;
    const survivors = r.oldReplicas.filter((n) => n !== 1);
    assert.deepEqual(pairs(handoffStreams(2, r, (n) => n !== 1)), survivors.map((s) => [s, 4]));
    const s = handoffStreams(2, r, () => true);
    assert.deepEqual([s[0].epoch, s[0].rangeId, s[0].range], [2, r.id, { start: r.start, end: r.end }]);
  });

  test('no old replica up: a typed error naming the range', () => {
    assert.throws(() => handoffStreams(2, leave1.moving[0], (n) => n === 2), (e: unknown) => e instanceof QuorumError && /range 0 \(epoch 2\)/.test(e.message));
  });

  test('tags: handoff ranges never parse as anti-entropy range ids and back', () => {
    const rows: Array<[string, { epoch: number; rangeId: number } | undefined]> = [
      [handoffTag(7, 3), { epoch: 7, rangeId: 3 }],
      ['0,1,2', undefined],
      ['handoff:1', undefined],
      ['handoff:a:1', undefined],
      ['handoff:1:2:3', undefined],
    ];
    for (const [tag, parsed] of rows) {
      assert.deepEqual(parseHandoffTag(tag), parsed, tag);
      assert.equal(isHandoffTag(tag), parsed !== undefined);
    }
  });

  test('config: batch within the in-flight budget, every bound positive', () => {
    const bad: Array<Partial<HandoffConfig>> = [{ maxBatchBytes: 10, maxBytesInFlight: 5 }, { retryAfterMs: 0 }, { maxKeysPerBatch: 1.5 }];
    for (const b of bad) {
      assert.throws(() => new HandoffSender(0, handoffStreams(2, leave1.moving[0], () => true)[0], { listKeys: () => [], get: () => undefined }, { ...DEFAULT_HANDOFF, ...b }, handoffReqs()), InvalidConfigError);
    }
  });
});

// ---- listing keys ------------------------------------------------------------------------------------------------

const arbRange = fc.oneof(
  fc.record({ start: fc.nat({ max: RING_SIZE - 1 }), end: fc.nat({ max: RING_SIZE - 1 }) }),
  fc.nat({ max: RING_SIZE - 1 }).map((t) => ({ start: t, end: t })), // the whole ring
  fc.constant({ start: RING_SIZE - 1, end: 5000 }),
);

describe('handoff: listing a range in pages', () => {
  test('pageSegmentKeys (over the segment index) pages exactly like pageKeys: every key of the range once, in order', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ maxLength: 6 }), { maxLength: 200 }), arbRange, fc.constantFrom(1, 2, 16, 64), fc.integer({ min: 1, max: 7 }), (keys, range, segments, max) => {
        const bySeg = new Map<number, string[]>();
        for (const k of keys) {
          const s = Math.floor((hash32(k) * segments) / RING_SIZE);
          bySeg.set(s, [...(bySeg.get(s) ?? []), k]);
        }
        const drain = (page: (after: string | null) => string[]): string[] => {
          const out: string[] = [];
          for (let after: string | null = null, i = 0; i < 1000; i++) {
            const p = page(after);
            out.push(...p);
            if (p.length < max) return out;
            after = p[p.length - 1];
          }
          throw new Error('paging did not end');
        };
        const naive = drain((after) => pageKeys(keys, range, after, max));
        const indexed = drain((after) => pageSegmentKeys((s) => bySeg.get(s) ?? [], segments, range, after, max));
        assert.deepEqual(indexed, naive);
        assert.deepEqual([...naive].sort(), keys.filter((k) => contains(range, hash32(k))).sort());
      }),
      fcParams(300),
    );
  });
});

// ---- the receiver ------------------------------------------------------------------------------------------------

const clockOf = (key: string, bytes = 8): StoredClock => ({
  entries: [{ id: 'n0', n: 1 + (hash32(key) % 5), values: [{ v: 'x'.repeat(bytes), ts: 1, by: 'n0' }] }],
  anonymous: [],
});

/** A store that merges with DVV sync, as a replica does (values compared by content). */
function memoryStore(refuse: (key: string) => boolean = () => false) {
  const data = new Map<string, StoredClock>();
  const eq = (a: { v: unknown; ts: number }, b: { v: unknown; ts: number }) => a.v === b.v && a.ts === b.ts;
  return {
    data,
    merge(key: string, clock: StoredClock): boolean {
      if (refuse(key)) return false;
      const mine = data.get(key);
      data.set(key, mine === undefined ? clock : sync(mine, clock, eq));
      return true;
    },
  };
}

describe('handoff: the receiver refuses what it must not keep', () => {
  const t = new TransitionState(leave1); // node 2 gains range 0 = (300,100] from node 1
  const inRange0 = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].find((k) => contains(leave1.moving[0], hash32(k)))!;
  const batch = (over: Partial<AeSync>): AeSync => ({
    type: 'ae-sync', req: -1, from: 1, range: handoffTag(2, 0), entries: [{ key: inRange0, clock: clockOf(inRange0) }], want: [], ...over,
  });
  const rows: Array<[string, number, AeSync, RegExp | null, (() => TransitionState | undefined)?]> = [
    ['a batch from the loser to the gainer', 2, batch({}), null],
    ['no change in progress', 2, batch({}), /not in the change to epoch 2 \(it is in none\)/, () => undefined],
    ['another epoch', 2, batch({ range: handoffTag(3, 0) }), /not in the change to epoch 3/],
    ['no such range', 2, batch({ range: handoffTag(2, 9) }), /has no range 9/],
    ['not a gainer of the range', 0, batch({}), /node 0 does not gain range 0/],
    ['sender not an old replica', 2, batch({ from: 2 }), /node 2 is not an old replica/],
    // range 1 = (100,200], gained by node 0: a key of range 0 is outside it
    ['a key outside the range', 0, batch({ range: handoffTag(2, 1) }), /is outside range 1/],
    ['too many keys', 2, batch({ entries: Array.from({ length: 3 }, () => ({ key: inRange0, clock: clockOf(inRange0) })) }), /at most 2 keys/],
    ['not a handoff tag', 2, batch({ range: '0,1' }), /is not a handoff tag/],
  ];
  for (const [name, node, msg, refusal, view] of rows) {
    test(name, () => {
      const store = memoryStore();
      const out: Send[] = [];
      new HandoffReceiver(node, store, view ?? (() => t), 2).handle(msg, 0, out);
      assert.equal(out.length, 1);
      if (refusal === null) {
        assert.deepEqual(out[0], { to: msg.from, msg: { type: 'ae-sync-reply', req: -1, from: node, entries: [] } });
        assert.deepEqual([...store.data.keys()], [inRange0]);
      } else {
        assert.equal(out[0].msg.type, 'ae-abort');
        assert.match((out[0].msg as { reason: string }).reason, refusal);
        assert.equal(store.data.size, 0, 'nothing kept');
      }
    });
  }

  test('a store that refuses the write: the batch is not acknowledged', () => {
    const out: Send[] = [];
    new HandoffReceiver(2, memoryStore(() => true), () => t, 2).handle(batch({}), 0, out);
    assert.equal(out[0].msg.type, 'ae-abort');
  });
});

// ---- streams through a faulty network ----------------------------------------------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Run {
  plan: Plan;
  /** node that is down during the handoff (its streams come from the survivors), or -1 */
  down: number;
  keys: number;
  config: HandoffConfig;
}

/**
 * Every stream of every moving range runs at once: each source node holds every key of the ring it is a replica of
 * (old ring), each gaining node a receiver. Until healAtMs the network drops 30% of messages and duplicates 5%; every
 * message is delayed 1..40 ms (so reordered). Gainers join the change late (their receivers refuse until 300 ms).
 */
function runStreams(seed: number, run: Run): string {
  const rnd = mulberry32(seed);
  const { plan: p, config } = run;
  const t = new TransitionState(p);
  const keys = Array.from({ length: run.keys }, (_, i) => `key-${seed}-${i}`);
  const sizeOf = (k: string) => 1 + (hash32(k) % 3 === 0 ? config.maxBatchBytes : 64); // some entries larger than a batch
  const stores = new Map(p.to.ring.nodes.map((n) => [n.id, memoryStore()]));
  for (const k of keys) for (const n of p.from.ring.preferenceList(hash32(k))) if (n !== run.down) stores.get(n)!.data.set(k, clockOf(k, sizeOf(k)));
  // one request sequence per node, shared by all its senders: an ack names only its req
  const reqs = new Map(p.to.ring.nodes.map((n) => [n.id, handoffReqs()]));
  const senders = p.moving.flatMap((r) => handoffStreams(p.to.epoch, r, (n) => n !== run.down)).map((s) => {
    const store = stores.get(s.source)!.data;
    return new HandoffSender(s.source, s, { listKeys: (range, after, max) => pageKeys(store.keys(), range, after, max), get: (k) => store.get(k) }, config, reqs.get(s.source)!);
  });
  let nowMs = 0;
  const receivers = new Map(p.to.ring.nodes.map((n) => [n.id, new HandoffReceiver(n.id, stores.get(n.id)!, () => (nowMs >= 300 ? t : undefined), config.maxKeysPerBatch)]));
  const largest = Math.max(...keys.map((k) => HEADER_BYTES_BOUND + k.length + encodedClockSize(clockOf(k, sizeOf(k)))));
  const queue: Array<{ at: number; from: number; send: Send }> = [];
  const post = (from: number, out: Send[]): void => {
    for (const send of out) {
      const faulty = nowMs < 2000;
      if (faulty && rnd() < 0.3) continue;
      const copies = faulty && rnd() < 0.05 ? 2 : 1;
      for (let c = 0; c < copies; c++) queue.push({ at: nowMs + 1 + Math.floor(rnd() * 40), from, send });
    }
  };
  senders.forEach((s) => {
    const out: Send[] = [];
    s.start(nowMs, out);
    post(s.stream.source, out);
  });
  for (; nowMs < 60_000 && !senders.every((s) => s.done); nowMs++) {
    for (const m of queue.filter((q) => q.at <= nowMs)) {
      queue.splice(queue.indexOf(m), 1);
      const out: Send[] = [];
      if (m.send.msg.type === 'ae-sync') receivers.get(m.send.to)!.handle(m.send.msg, nowMs, out);
      else if (m.send.msg.type === 'ae-sync-reply' || m.send.msg.type === 'ae-abort') {
        const msg = m.send.msg;
        for (const s of senders) if (s.stream.source === m.send.to && s.owns(msg.req)) s.handle(msg, nowMs, out);
      }
      post(m.send.to, out);
    }
    if (nowMs % 10 === 0) {
      for (const s of senders) {
        const out: Send[] = [];
        s.handle({ type: 'tick', nowMs }, nowMs, out);
        post(s.stream.source, out);
      }
    }
    for (const s of senders) assert.ok(s.bytesInFlight <= Math.max(config.maxBytesInFlight, largest), `in flight ${s.bytesInFlight}`);
  }
  assert.ok(senders.every((s) => s.done), `seed ${seed}: streams not done by ${nowMs} ms`);
  for (const r of p.moving) {
    for (const g of r.gaining) {
      const got = stores.get(g)!.data;
      for (const k of keys.filter((k) => contains(r, hash32(k)))) assert.deepEqual(got.get(k), clockOf(k, sizeOf(k)), `seed ${seed}: node ${g} lacks ${k}`);
    }
  }
  for (const [node, s] of stores) {
    for (const k of s.data.keys()) assert.ok(p.from.ring.preferenceList(hash32(k)).includes(node) || p.to.ring.preferenceList(hash32(k)).includes(node), `stray ${k} at ${node}`);
  }
  assert.ok(senders.some((s) => s.stats.resends > 0) && senders.some((s) => s.stats.refusals > 0), 'faults happened');
  const sum = (f: (x: HandoffSender['stats']) => number) => senders.reduce((a, x) => a + f(x.stats), 0);
  return `${senders.length} streams, ${sum((x) => x.keysAcked)} keys, ${sum((x) => x.bytesAcked)} bytes acked, ` +
    `${sum((x) => x.bytesSent)} sent, ${sum((x) => x.resends)} resends, ${sum((x) => x.refusals)} refusals, done at ${nowMs} ms`;
}

/** an upper bound of the header estimate (HEADER_BYTES + the tag) for the in-flight check */
const HEADER_BYTES_BOUND = 16 + 32;

describe('handoff: streams through a network that drops, delays, reorders and duplicates', () => {
  const ring = (n: number, vnodes: number) =>
    initialMembership({ nodes: Array.from({ length: n }, (_, id) => ({ id, dc: 'dc1', rack: `r${id}` })), vnodes, replication: 3 });
  const small: HandoffConfig = { maxBytesInFlight: 2048, maxBatchBytes: 512, maxKeysPerBatch: 8, retryAfterMs: 100, maxStreamsPerNode: 4 };

  test('a join (4 -> 5): every key of every moving range reaches its gainer (seeded)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => void runStreams(seed, { plan: plan(ring(4, 4), { type: 'join', dc: 'dc1', rack: 'r4' }), down: -1, keys: 300, config: small })),
      fcParams(8),
    );
  });

  test('a replace of a dead node: the surviving replicas stream, two senders into each gainer (seeded)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => void runStreams(seed, { plan: plan(ring(5, 2), { type: 'replace', node: 2 }), down: 2, keys: 300, config: small })),
      fcParams(8),
    );
    console.log(`handoff, replace of a dead node, seed 1: ${runStreams(1, { plan: plan(ring(5, 2), { type: 'replace', node: 2 }), down: 2, keys: 300, config: small })}`);
    console.log(`handoff, join 4 -> 5, seed 1: ${runStreams(1, { plan: plan(ring(4, 4), { type: 'join', dc: 'dc1', rack: 'r4' }), down: -1, keys: 300, config: small })}`);
  });
});

describe('handoff progress: when a range is complete', () => {
  // 4 nodes at 100..400, N = 3; node 1 is replaced by node 4: every range holding node 1 moves to node 4
  const replace = plan(initialMembership({ nodes: tokenNodes([100, 200, 300, 400]), vnodes: 1, replication: 3 }), { type: 'replace', node: 1 });

  test('loser up: one stream per range, each completing its range', () => {
    const hp = new HandoffProgress(replace, () => true);
    assert.equal(hp.streamsPending, replace.moving.length);
    assert.ok(hp.streams().every((s) => s.source === 1 && s.target === 4));
    const [first, ...rest] = hp.streams();
    assert.equal(hp.streamDone(first), first.rangeId);
    assert.equal(hp.streamDone(first), undefined, 'reported twice');
    assert.equal(hp.isComplete(first.rangeId), true);
    for (const s of rest) hp.streamDone(s);
    assert.equal(hp.rangesPending, 0);
    assert.throws(() => hp.streamDone({ rangeId: 0, source: 3, target: 4 }), InvalidArgumentError);
  });

  test('the loser dies mid-stream: the survivors take over, and the range completes only when both are done', () => {
    const hp = new HandoffProgress(replace, () => true);
    const r = hp.streams()[0].rangeId;
    const { streams, completed } = hp.sourceDown(1, (n) => n !== 1);
    assert.deepEqual(completed, []);
    const forR = streams.filter((s) => s.rangeId === r);
    assert.deepEqual(forR.map((s) => s.source).sort(), replace.moving[r].oldReplicas.filter((n) => n !== 1).sort());
    assert.equal(hp.streamDone(forR[0]), undefined);
    assert.equal(hp.streamDone(forR[1]), r);
    assert.throws(() => hp.sourceDown(0, (n) => n === 4), QuorumError);
  });
});
