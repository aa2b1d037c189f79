// Hinted handoff queue: validation, bounds in count and bytes, the max hint window, one merged hint per key,
// take/ack/nack (including a write that arrives while its key's hint is being delivered), expiry, and a property
// test that runs random operations against a naive model (a plain array of hints per owner) and checks that every
// write is accounted for: delivered, still queued, refused or expired, and never two of these.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fcParams } from './helpers/fc.js';
import { InvalidArgumentError, InvalidConfigError } from '../actors/errors.js';
import { HintQueue, type AddResult, type HintQueueConfig } from '../actors/replica/hints.js';

// A payload is the sorted list of write ids it carries; merge is union, so no write is ever lost by merging.
type Payload = number[];
const union = (a: Payload, b: Payload): Payload => [...new Set([...a, ...b])].sort((x, y) => x - y);
const sizeBytes = (p: Payload): number => 8 * p.length;

function queue(over: Partial<HintQueueConfig<Payload>> = {}): HintQueue<Payload> {
  return new HintQueue<Payload>({
    maxHintsPerOwner: 100,
    maxBytesPerOwner: 1 << 20,
    maxHintWindowMs: 10_000,
    merge: union,
    sizeBytes,
    ...over,
  });
}

describe('hints: configuration and arguments', () => {
  const bad: Array<[Partial<HintQueueConfig<Payload>>, RegExp]> = [
    [{ maxHintsPerOwner: 0 }, /maxHintsPerOwner must be a positive integer; got 0/],
    [{ maxBytesPerOwner: 1.5 }, /maxBytesPerOwner must be a positive integer; got 1.5/],
    [{ maxHintWindowMs: 0 }, /maxHintWindowMs must be a finite number of ms > 0; got 0/],
    [{ hintTtlMs: -5 }, /hintTtlMs must be a finite number of ms > 0; got -5/],
    [{ merge: undefined as unknown as typeof union }, /merge and sizeBytes must be functions/],
  ];
  for (const [over, message] of bad) {
    test(`rejects ${JSON.stringify(over) ?? 'merge undefined'}`, () => {
      assert.throws(() => queue(over), (e: unknown) => e instanceof InvalidConfigError && message.test(e.message));
    });
  }

  test('rejects bad arguments', () => {
    const q = queue();
    assert.throws(() => q.add(-1, 'k', [1], 0, 0), /owner must be a node index/);
    assert.throws(() => q.add(0, 'k', [1], 0, 5), /ownerDownSinceMs 5 is after nowMs 0/);
    assert.throws(() => q.add(0, 'k', [1], NaN, 0), /nowMs must be a finite number/);
    assert.throws(() => q.take(0, 0), /take max must be a positive integer; got 0/);
    const broken = new HintQueue<Payload>({ ...queue().config, sizeBytes: () => -1 });
    assert.throws(() => broken.add(0, 'k', [1], 0, 0), InvalidArgumentError);
  });
});

describe('hints: add', () => {
  test('several writes for one key merge into one hint with merge', () => {
    const q = queue();
    assert.equal(q.add(1, 'k', [1], 100, 0), 'queued');
    assert.equal(q.add(1, 'k', [2], 200, 0), 'merged');
    assert.equal(q.add(1, 'j', [3], 300, 0), 'queued');
    assert.equal(q.size(1), 2);
    assert.equal(q.bytes(1), 24);
    assert.deepEqual(q.take(1, 10), [
      { keyId: 'k', payload: [1, 2], queuedAtMs: 100 },
      { keyId: 'j', payload: [3], queuedAtMs: 300 },
    ]);
    assert.deepEqual(q.counters, { queued: 2, merged: 1, delivered: 0, expired: 0, dropped: 0, inFlight: 2 });
  });

  test('an owner down longer than maxHintWindowMs gets no new hints', () => {
    const q = queue({ maxHintWindowMs: 5000 });
    assert.equal(q.add(0, 'k', [1], 5000, 0), 'queued'); // down exactly the window: still hinted
    assert.equal(q.add(0, 'k', [2], 5001, 0), 'rejected-window');
    assert.equal(q.add(0, 'j', [3], 5001, 0), 'rejected-window');
    assert.equal(q.add(2, 'j', [3], 5001, 1), 'queued'); // another owner, down for less
    assert.equal(q.counters.dropped, 2);
    assert.deepEqual(q.take(0, 5)[0].payload, [1]);
  });

  test('the count bound: a new key beyond maxHintsPerOwner is refused, a merge is not', () => {
    const q = queue({ maxHintsPerOwner: 2 });
    assert.equal(q.add(0, 'a', [1], 0, 0), 'queued');
    assert.equal(q.add(0, 'b', [2], 0, 0), 'queued');
    assert.equal(q.add(0, 'c', [3], 0, 0), 'rejected-full');
    assert.equal(q.add(0, 'a', [4], 0, 0), 'merged');
    assert.equal(q.add(1, 'c', [3], 0, 0), 'queued'); // the bound is per owner
    assert.equal(q.size(0), 2);
    assert.deepEqual(q.counters, { queued: 3, merged: 1, delivered: 0, expired: 0, dropped: 1, inFlight: 0 });
  });

  test('the byte bound: a write that would pass maxBytesPerOwner is refused and the old hint kept', () => {
    const q = queue({ maxBytesPerOwner: 24 });
    assert.equal(q.add(0, 'a', [1, 2], 0, 0), 'queued'); // 16 bytes
    assert.equal(q.add(0, 'b', [3, 4], 0, 0), 'rejected-full'); // 32 > 24
    assert.equal(q.add(0, 'a', [5, 6], 0, 0), 'rejected-full'); // merged would be 32
    assert.equal(q.add(0, 'a', [2, 7], 0, 0), 'merged'); // merged [1,2,7] is 24
    assert.equal(q.bytes(0), 24);
    assert.deepEqual(q.take(0, 9).map((h) => h.payload), [[1, 2, 7]]);
    // While [1,2,7] is in flight, a new write is kept apart; it still counts against the byte bound.
    assert.equal(q.add(0, 'a', [8], 0, 0), 'rejected-full');
    assert.equal(q.bytes(0), 24);
  });
});

describe('hints: delivery', () => {
  test('take is bounded and oldest first; in-flight hints are not taken twice; ack removes', () => {
    const q = queue();
    for (const [i, k] of ['a', 'b', 'c', 'd'].entries()) q.add(3, k, [i], i * 10, 0);
    assert.deepEqual(q.take(3, 2).map((h) => h.keyId), ['a', 'b']);
    assert.deepEqual(q.take(3, 5).map((h) => h.keyId), ['c', 'd']);
    assert.deepEqual(q.take(3, 5), []);
    assert.equal(q.counters.inFlight, 4);
    assert.equal(q.ack(3, ['a', 'c', 'zz']), 2); // unknown keys are ignored
    assert.equal(q.size(3), 2);
    assert.equal(q.bytes(3), 16);
    assert.deepEqual(q.counters, { queued: 4, merged: 0, delivered: 2, expired: 0, dropped: 0, inFlight: 2 });
    assert.equal(q.ack(3, ['a']), 0); // acked twice counts once
  });

  test('nack puts hints back in their places', () => {
    const q = queue();
    for (const k of ['a', 'b', 'c']) q.add(0, k, [1], 0, 0);
    q.take(0, 2);
    assert.equal(q.nack(0, ['b', 'a']), 2);
    assert.deepEqual(q.take(0, 3).map((h) => h.keyId), ['a', 'b', 'c']);
    assert.equal(q.counters.delivered, 0);
  });

  test('a write during delivery is not lost: it follows the ack, or merges on nack', () => {
    const q = queue();
    q.add(0, 'k', [1], 0, 0);
    q.add(0, 'j', [9], 5, 0);
    q.take(0, 1); // k in flight with [1]
    assert.equal(q.add(0, 'k', [2], 10, 0), 'merged');
    assert.equal(q.add(0, 'k', [3], 20, 0), 'merged');
    assert.equal(q.size(0), 2);
    assert.equal(q.bytes(0), 32);
    q.ack(0, ['k']);
    // [2, 3] was never sent: it is queued again, behind j.
    assert.deepEqual(q.take(0, 5), [
      { keyId: 'j', payload: [9], queuedAtMs: 5 },
      { keyId: 'k', payload: [2, 3], queuedAtMs: 10 },
    ]);
    assert.equal(q.add(0, 'k', [4], 30, 0), 'merged');
    q.nack(0, ['k']);
    assert.deepEqual(q.take(0, 5), [{ keyId: 'k', payload: [2, 3, 4], queuedAtMs: 10 }]);
    assert.equal(q.bytes(0), 8 + 24);
  });

  test('owners lists owners with hints, ascending; an emptied owner disappears', () => {
    const q = queue();
    q.add(7, 'a', [1], 0, 0);
    q.add(2, 'a', [1], 0, 0);
    assert.deepEqual(q.owners(), [2, 7]);
    q.take(7, 1);
    q.ack(7, ['a']);
    assert.deepEqual(q.owners(), [2]);
    assert.equal(q.size(7), 0);
    assert.equal(q.bytes(7), 0);
  });
});

describe('hints: expiry', () => {
  test('drops hints older than hintTtlMs, not those in flight, and counts them', () => {
    const q = queue({ hintTtlMs: 1000 });
    q.add(0, 'old', [1], 0, 0);
    q.add(0, 'flying', [2], 0, 0);
    q.add(0, 'young', [3], 600, 0);
    q.add(1, 'old', [4], 0, 0);
    assert.equal(q.add(0, 'old', [5], 900, 0), 'merged'); // a merge keeps the first queuedAtMs
    q.nack(0, q.take(0, 2).filter((h) => h.keyId === 'old').map((h) => h.keyId));
    assert.equal(q.expire(1000), 0);
    assert.equal(q.expire(1001), 2);
    assert.deepEqual(q.owners(), [0]);
    assert.equal(q.size(0), 2);
    assert.equal(q.counters.expired, 2);
    assert.equal(q.expire(1601), 1); // young; flying is still in flight
    assert.equal(q.size(0), 1);
  });

  test('without hintTtlMs nothing expires', () => {
    const q = queue();
    q.add(0, 'a', [1], 0, 0);
    assert.equal(q.expire(1e12), 0);
  });
});

// ---- property test against a naive model ----

interface ModelHint {
  key: string;
  payload: Payload;
  at: number;
  inFlight: boolean;
  later?: Payload;
  laterAt: number;
}

const MODEL = { maxHints: 3, maxBytes: 64, windowMs: 1000, ttlMs: 3000 };

class Model {
  readonly owners = new Map<number, ModelHint[]>();
  expiredIds: number[] = [];
  list(owner: number): ModelHint[] {
    if (!this.owners.has(owner)) this.owners.set(owner, []);
    return this.owners.get(owner)!;
  }
  bytes(owner: number): number {
    return this.list(owner).reduce((n, h) => n + sizeBytes(h.payload) + (h.later ? sizeBytes(h.later) : 0), 0);
  }
  add(owner: number, key: string, p: Payload, now: number, down: number): AddResult {
    if (now - down > MODEL.windowMs) return 'rejected-window';
    const hs = this.list(owner);
    const h = hs.find((x) => x.key === key);
    const fits = (growth: number) => this.bytes(owner) + growth <= MODEL.maxBytes;
    if (h === undefined) {
      if (hs.length >= MODEL.maxHints || !fits(sizeBytes(p))) return 'rejected-full';
      hs.push({ key, payload: p, at: now, inFlight: false, laterAt: 0 });
      return 'queued';
    }
    const slot = !h.inFlight ? 'payload' : 'later';
    const old = h[slot] ?? [];
    const merged = union(old, p);
    if (!fits(sizeBytes(merged) - sizeBytes(old))) return 'rejected-full';
    if (slot === 'later' && h.later === undefined) h.laterAt = now;
    h[slot] = merged;
    return 'merged';
  }
  take(owner: number, max: number) {
    const got = this.list(owner).filter((h) => !h.inFlight).slice(0, max);
    for (const h of got) h.inFlight = true;
    return got.map((h) => ({ keyId: h.key, payload: h.payload, queuedAtMs: h.at }));
  }
  ack(owner: number, keys: string[]): number {
    let n = 0;
    for (const k of keys) {
      const hs = this.list(owner);
      const i = hs.findIndex((h) => h.key === k && h.inFlight);
      if (i < 0) continue;
      const [h] = hs.splice(i, 1);
      if (h.later) hs.push({ key: k, payload: h.later, at: h.laterAt, inFlight: false, laterAt: 0 });
      n++;
    }
    return n;
  }
  nack(owner: number, keys: string[]): number {
    let n = 0;
    for (const k of keys) {
      const h = this.list(owner).find((x) => x.key === k && x.inFlight);
      if (!h) continue;
      h.inFlight = false;
      if (h.later) h.payload = union(h.payload, h.later);
      h.later = undefined;
      n++;
    }
    return n;
  }
  expire(now: number): number {
    let n = 0;
    for (const [owner, hs] of this.owners) {
      const keep = hs.filter((h) => h.inFlight || now - h.at <= MODEL.ttlMs);
      for (const h of hs) if (!keep.includes(h)) this.expiredIds.push(...h.payload);
      n += hs.length - keep.length;
      this.owners.set(owner, keep);
    }
    return n;
  }
}

const keyArb = fc.constantFrom('a', 'b', 'c', 'd', 'e');
const ownerArb = fc.integer({ min: 0, max: 2 });
const keysArb = fc.subarray(['a', 'b', 'c', 'd', 'e']);
const addArb = fc.record({
  op: fc.constant('add' as const),
  owner: ownerArb,
  key: keyArb,
  dtMs: fc.nat(400),
  downForMs: fc.nat(1500),
  ids: fc.integer({ min: 1, max: 3 }),
});
const takeArb = fc.record({ op: fc.constant('take' as const), owner: ownerArb, max: fc.integer({ min: 1, max: 4 }) });
const opArb = fc.oneof(
  { weight: 5, arbitrary: addArb },
  { weight: 2, arbitrary: takeArb },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('ack' as const), owner: ownerArb, keys: keysArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('nack' as const), owner: ownerArb, keys: keysArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('expire' as const), dtMs: fc.nat(2000) }) },
);

describe('hints: model', () => {
  test('random operations agree with a naive model, and every write is accounted for once', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 80, size: 'max' }), (ops) => {
        const q = queue({
          maxHintsPerOwner: MODEL.maxHints,
          maxBytesPerOwner: MODEL.maxBytes,
          maxHintWindowMs: MODEL.windowMs,
          hintTtlMs: MODEL.ttlMs,
        });
        const m = new Model();
        let now = 0;
        let nextId = 1;
        const rejected: number[] = [];
        let adds = 0;
        let refusedAdds = 0;
        let expired = 0;
        const delivered: number[] = [];
        const inFlight = new Map<string, Payload>(); // `${owner}/${key}` -> payload handed out
        for (const o of ops) {
          if (o.op === 'add') {
            now += o.dtMs;
            const p = Array.from({ length: o.ids }, () => nextId++);
            const down = Math.max(0, now - o.downForMs);
            const r = q.add(o.owner, o.key, p, now, down);
            assert.equal(r, m.add(o.owner, o.key, p, now, down));
            adds++;
            if (r.startsWith('rejected')) {
              refusedAdds++;
              rejected.push(...p);
            }
          } else if (o.op === 'take') {
            const got = q.take(o.owner, o.max);
            assert.deepEqual(got, m.take(o.owner, o.max));
            for (const h of got) inFlight.set(`${o.owner}/${h.keyId}`, h.payload);
          } else if (o.op === 'ack' || o.op === 'nack') {
            const n = o.op === 'ack' ? q.ack(o.owner, o.keys) : q.nack(o.owner, o.keys);
            assert.equal(n, o.op === 'ack' ? m.ack(o.owner, o.keys) : m.nack(o.owner, o.keys));
            for (const k of o.keys) {
              const p = inFlight.get(`${o.owner}/${k}`);
              if (p !== undefined && o.op === 'ack') delivered.push(...p);
              inFlight.delete(`${o.owner}/${k}`);
            }
          } else {
            now += o.dtMs;
            const n = q.expire(now);
            assert.equal(n, m.expire(now));
            expired += n;
          }
          for (const owner of [0, 1, 2]) {
            assert.equal(q.size(owner), m.list(owner).length);
            assert.equal(q.bytes(owner), m.bytes(owner));
            assert.ok(q.size(owner) <= MODEL.maxHints && q.bytes(owner) <= MODEL.maxBytes);
          }
          assert.deepEqual(q.owners(), [0, 1, 2].filter((w) => m.list(w).length > 0));
          assert.equal(q.counters.inFlight, inFlight.size);
        }
        // Conservation: give back what is in flight, then drain; every write id lands in exactly one place.
        const queued: number[] = [];
        for (const owner of q.owners()) {
          q.nack(owner, ['a', 'b', 'c', 'd', 'e']);
          for (const h of q.take(owner, MODEL.maxHints)) queued.push(...h.payload);
        }
        const all = [...delivered, ...queued, ...rejected, ...m.expiredIds].sort((x, y) => x - y);
        assert.deepEqual(all, Array.from({ length: nextId - 1 }, (_, i) => i + 1));
        const c = q.counters;
        assert.equal(c.queued + c.merged + c.dropped, adds);
        assert.equal(c.dropped, refusedAdds);
        assert.equal(c.expired, expired);
      }),
      fcParams(200),
    );
  });
});
