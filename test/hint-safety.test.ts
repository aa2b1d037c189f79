// Hints and their persistence (issue 15, findings 3, 4 and 7): a restart keeps a hint's age; an acknowledged write
// that lives only in a hint is never dropped by a timer, and tombstone reaping waits for every hint of its key
// instead; a full hint store neither kills a replica when a reap persists its dot floor nor is smaller than the
// hint bounds it must hold. Each scenario is stated above its test; simulated ones print their seed when they fail.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hash32, keyId } from '../actors/hash.js';
import { InvalidConfigError } from '../actors/errors.js';
import type { Message, PutRequest, Send, StoredClock } from '../actors/protocol.js';
import { DEFAULT_HINTS, Replica } from '../actors/replica/index.js';
import { HintQueue } from '../actors/replica/hints.js';
import { requirement } from '../actors/quorum/index.js';
import { MapStore } from '../runtime/host/store.js';
import { SimCluster, type SimOptions } from '../runtime/sim/sim-cluster.js';
import { hintStoreSize, resolveConfig } from '../runtime/config.js';

const primaries = (c: SimCluster, key: string): number[] => [...c.ring.preferenceList(hash32(keyId(key)))];

/** Runs a simulated scenario; a failure names its seed so that it replays exactly. */
async function withSeed(seed: number, f: (seed: number) => Promise<void>): Promise<void> {
  try {
    await f(seed);
  } catch (e) {
    (e as Error).message = `seed ${seed}: ${(e as Error).message}`;
    throw e;
  }
}

async function hintHolders(c: SimCluster): Promise<number[]> {
  return (await c.metrics()).nodes.filter((n) => n.hints.keys > 0).map((n) => n.node);
}

// ---- the replica actor on its own: two primaries (0, 1), node 2 a down owner this replica holds hints for ----

const need = requirement(1, 'write', { replicationByDc: { dc1: 2 }, localDc: 'dc1' });
const targets = [
  { node: 0, dc: 'dc1', primary: true },
  { node: 1, dc: 'dc1', primary: true },
];
const OPTS = { node: 0, replicaId: '0', conflicts: 'siblings' as const, maxPendingPuts: 16 };

function put(key: string, value: string | null, context: PutRequest['context'], req: number): PutRequest {
  return { type: 'put', req, from: 1 << 16, key, value, context, targets, spares: [], need, sloppy: false, timeoutMs: 1000, hintAfterMs: 1000 };
}

/** A put coordinated by `r`; returns the clock it wrote. */
function write(r: Replica, msg: PutRequest, nowMs: number): StoredClock {
  const out: Send[] = [];
  r.handle(msg, nowMs, out);
  const rep = out.find((s) => s.msg.type === 'replicate');
  assert.ok(rep !== undefined, 'the coordinator replicates');
  return (rep.msg as { clock: StoredClock }).clock;
}

/** A hinted replicate for owner 2 arriving from node 1; returns whether it was acked. */
function hintFor2(r: Replica, key: string, value: string, nowMs: number): boolean {
  const clock: StoredClock = { entries: [{ id: '1', n: 1, values: [{ v: value, ts: nowMs, by: '1' }] }], anonymous: [] };
  const out: Send[] = [];
  r.handle({ type: 'replicate', req: 1, from: 1, key, clock, hintFor: 2 } as Message, nowMs, out);
  return (out[0].msg as { ok: boolean }).ok;
}

const reap = (r: Replica, key: string): boolean => (r as unknown as { reap(k: string): boolean }).reap(key);

describe('hint safety: a restart keeps a hint\'s age (finding 3)', () => {
  // A node holds a hint queued at 100 ms and restarts; the actor that comes back at 600 ms on the same hint store
  // must hand out the hint as queued at 100 ms, not at 600 ms.
  test('a restarted replica restores each hint with the time it was first queued', () => {
    const store = new MapStore();
    const hints = new MapStore();
    const before = new Replica(store, OPTS, hints);
    before.handle({ type: 'tick', nowMs: 50, down: [2] }, 50, []);
    assert.equal(hintFor2(before, 'a', 'x', 100), true);
    assert.equal(hintFor2(before, 'b', 'y', 300), true);
    assert.equal(hintFor2(before, 'a', 'x2', 400), true); // a merge keeps the first queued-at time

    const after = new Replica(store, OPTS, hints);
    after.handle({ type: 'tick', nowMs: 600, down: [2] }, 600, []);
    const taken = after.hints.take(2, 10).map((h) => [h.keyId, h.queuedAtMs]);
    assert.deepEqual(taken, [['a', 100], ['b', 300]]);
  });

  // The scenario: hint TTL = grace = 1000 ms. A write hinted for a down owner; the hint holder is cut off and
  // restarted at 600 ms; the key is deleted on both primaries, confirmed, and past the grace period reaped. After
  // heal the hint must not bring the deleted value back.
  test('a hint holder cut off and restarted does not bring a reaped delete back after heal', async () => {
    for (const seed of [1, 2, 3]) {
      await withSeed(seed, async () => {
        const opts: SimOptions = {
          nodes: 4, replication: 2, seed,
          hints: { hintTtlMs: 1000, handoffTimeoutMs: 100 },
          antiEntropy: { tombstoneGraceMs: 1000, exchangeTimeoutMs: 100 },
        };
        const c = await SimCluster.start(opts);
        const key = 'doomed';
        const [p, owner] = primaries(c, key);
        await c.faults.kill(owner, { stayDown: true });
        await c.put(key, 'old', { consistency: 'QUORUM' });
        const [holder] = await hintHolders(c);
        assert.ok(holder !== undefined && holder !== p, 'a stand-in holds the hint');
        c.faults.partition([[holder], [0, 1, 2, 3].filter((n) => n !== holder)]);
        c.faults.restart(owner);
        const read = await c.get(key, { consistency: 'QUORUM' });
        await c.delete(key, { context: read.context, consistency: 'ALL' });
        await c.repair();
        await c.repair();
        if (c.nowMs < 600) await c.sleep(600 - c.nowMs);
        c.faults.kill(holder, { stayDown: true });
        c.faults.restart(holder);
        // past the grace period of the confirmations (about 300 ms): the primaries may reap, but never while a node
        // holds a hint for the key; heal before the restarted hint's old TTL (600 + 1000 ms) would run out
        await c.sleep(1450 - c.nowMs);
        c.faults.heal();
        await c.settle();
        await c.repair();
        const got = await c.get(key, { consistency: 'ALL' });
        assert.deepEqual(got.values, [], `the deleted value came back at ${c.nowMs} ms`);
        // only garbage collection waited: with the hint delivered, the tombstones are reaped
        await c.sleep(2500);
        await c.repair();
        await c.sleep(1100);
        for (const n of [p, owner]) assert.equal(c.inspect(n, key), undefined, `node ${n} reaped its tombstone`);
        assert.deepEqual((await c.get(key, { consistency: 'ALL' })).values, []);
      });
    }
  });
});

describe('hint safety: no timer drops an acknowledged write (finding 4)', () => {
  // N=1: the only primary of a key is down, so a write is acknowledged through a hint alone. The primary stays down
  // three times the old hint TTL; when it returns, the write must be delivered to it.
  test('a write acknowledged only through a hint survives its primary being down past the hint TTL', async () => {
    for (const seed of [1, 2, 3]) {
      await withSeed(seed, async () => {
        const c = await SimCluster.start({
          nodes: 3, replication: 1, write: 1, read: 1, seed, hints: { hintTtlMs: 1000 }, antiEntropy: { tombstoneGraceMs: 1000 },
        });
        const [owner] = primaries(c, 'only-in-a-hint');
        await c.faults.kill(owner, { stayDown: true });
        const put = await c.put('only-in-a-hint', 'acked');
        assert.equal(put.primaryOnly, false, 'acknowledged through a hint');
        await c.sleep(3000);
        c.faults.restart(owner);
        assert.equal((await c.settle()).settled, true);
        assert.deepEqual((await c.get('only-in-a-hint', { consistency: 'ALL' })).values, ['acked']);
        assert.deepEqual(c.inspect(owner, 'only-in-a-hint')?.values, ['acked']);
        assert.deepEqual(await hintHolders(c), [], 'delivered, then dropped');
      });
    }
  });
});

describe('hint safety: admission is atomic with the durable copy', () => {
  // The queue asks `persist` before it changes: a write the store refuses leaves the queue exactly as it was (a new
  // key is not queued, a merge does not happen, a write during delivery is not kept apart) and is counted as dropped.
  test('a write whose durable copy is refused leaves the hint queue unchanged', () => {
    const union = (a: number[], b: number[]): number[] => [...new Set([...a, ...b])].sort((x, y) => x - y);
    const q = new HintQueue<number[]>({ maxHintsPerOwner: 10, maxBytesPerOwner: 1000, maxHintWindowMs: 1000, merge: union, sizeBytes: (p) => 8 * p.length });
    const seen: Array<[number[], number]> = [];
    const ok = (view: number[], at: number): boolean => (seen.push([view, at]), true);
    const no = (): boolean => false;
    assert.equal(q.add(1, 'k', [1], 10, 0, ok), 'queued');
    assert.equal(q.add(1, 'j', [9], 11, 0, no), 'rejected-store');
    assert.equal(q.add(1, 'k', [2], 20, 0, no), 'rejected-store');
    assert.deepEqual([q.size(1), q.bytes(1), q.peek(1, 'k')], [1, 8, [1]]);
    assert.deepEqual(q.take(1, 5).map((h) => h.keyId), ['k']); // now in flight
    assert.equal(q.add(1, 'k', [3], 30, 0, no), 'rejected-store');
    assert.equal(q.add(1, 'k', [4], 40, 0, ok), 'merged');
    assert.deepEqual(seen, [[[1], 10], [[1, 4], 10]], 'persist sees the merged view and the first queued-at time');
    assert.equal(q.ack(1, ['k']), 1);
    assert.deepEqual([q.peek(1, 'k'), q.queuedAtMs(1, 'k')], [[4], 40]);
    assert.equal(q.counters.dropped, 3);
  });
});

describe('hint safety: a full hint store (finding 7)', () => {
  // A replica's hint store has room for three records and holds hints for a down owner; then anti-entropy reaps a
  // tombstone this replica minted dots in, which must persist the dot floor. The replica must not throw, the floor
  // must survive a restart, and a hint the store refuses is refused whole (counted, nothing left behind).
  test('a reap that raises the dot floor with the hint store full neither throws nor loses the floor', () => {
    const store = new MapStore();
    const hints = new MapStore({ maxKeys: 3, arenaBytes: 4096 });
    let r = new Replica(store, OPTS, hints);
    const first = write(r, put('k', 'v1', null, 1), 10);
    write(r, put('k', null, first.entries.map((e) => [e.id, e.n] as [string, number]), 2), 20);
    r.handle({ type: 'tick', nowMs: 30, down: [2] }, 30, []);
    const acked = ['h1', 'h2', 'h3'].filter((k, i) => hintFor2(r, k, `x${i}`, 40 + i));
    assert.equal(hints.size, 3, 'the hint store is full');
    const refused = ['h1', 'h2', 'h3'].filter((k) => !acked.includes(k));
    for (const k of refused) assert.equal(r.hints.peek(2, k), undefined, `refused hint ${k} left nothing behind`);
    assert.equal(r.counters.hintsRefused, refused.length);

    assert.doesNotThrow(() => reap(r, 'k'));
    if (store.get('k') === undefined) {
      // reaped: the floor was persisted, so a restarted actor mints above the reaped dot
      r = new Replica(store, OPTS, hints);
      const again = write(r, put('k', 'v2', null, 3), 50);
      assert.ok(again.entries.find((e) => e.id === '0')!.n > 2, `dots stay above the floor: ${JSON.stringify(again.entries)}`);
    }
    for (const k of acked) assert.ok(r.hints.peek(2, k) !== undefined, `acked hint ${k} is still held`);
  });

  // The hint store is sized from the hint bounds, not capped at storeMaxKeys: with storeMaxKeys = 16 and room for 64
  // hints per owner, a node of a 3-node cluster must be able to hold 64 hints for each of the two others (and the dot
  // floor's record). By default (5 nodes) that is 4 x 100,000 + 1 keys, not storeMaxKeys = 262,144.
  test('each node\'s hint store holds every other node\'s hint queue at its bound, however small storeMaxKeys is', async () => {
    const c = await SimCluster.start({ nodes: 3, replication: 1, storeMaxKeys: 16, hints: { maxHintsPerOwner: 64 } });
    const world = (c as unknown as { world: { nodes: Array<{ hintStore: MapStore }> } }).world;
    const clock: StoredClock = { entries: [{ id: '1', n: 1, values: [{ v: 'x', ts: 0, by: '1' }] }], anonymous: [] };
    const hints = world.nodes[0].hintStore;
    for (let i = hints.size; i < 2 * 64 + 1; i++) hints.set(`h${i}`, clock);
    assert.equal(hints.size, 2 * 64 + 1);
    const defaults = hintStoreSize(resolveConfig({ nodes: 5 }));
    assert.ok(defaults.maxKeys >= 4 * DEFAULT_HINTS.maxHintsPerOwner + 1, `default hint store: ${defaults.maxKeys} keys`);
  });

  test('hint bounds no hint store can hold are refused when the cluster is configured', () => {
    assert.throws(
      () => resolveConfig({ nodes: 5, hints: { maxHintsPerOwner: 1 << 24 } }),
      (e: unknown) => e instanceof InvalidConfigError && /maxHintsPerOwner \(16777216\) x 4 other nodes .* at most 16777215/.test(e.message),
    );
    assert.equal(hintStoreSize(resolveConfig({ nodes: 5, hints: { maxHintsPerOwner: (1 << 24) - 1 } })).maxKeys, 4 * ((1 << 24) - 1) + 1);
  });
});
