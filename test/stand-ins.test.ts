// Stand-ins (issue 15, findings 1 and 2, and "a refused hinted write leaves nothing behind"), on the simulator.
//
// A stand-in is the next healthy node on the ring that takes a primary's writes, as hints, while the primary is down
// or slow. The rules these tests hold the protocol to (shared/ARCHITECTURE.md, safety rules):
//   - a stand-in answers a read only in place of a primary that is down, failed or too slow, and its "not found"
//     never outvotes a primary that holds the key;
//   - a node holds data for a key it does not own only as a hint (delivered, then dropped): no read repair of a
//     stand-in, no copy kept by a fallback coordinator, so a reaped delete cannot come back through one;
//   - a write refused at admission (a hint the fallback coordinator cannot take) leaves nothing behind.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hash32, keyId } from '../actors/hash.js';
import { DEFAULT_ANTI_ENTROPY, rangesOf } from '../actors/anti-entropy/index.js';
import { GetFsm, type GetParams } from '../actors/coordinator/get.js';
import { CLIENT_BASE, type GetReply, type Send, type StoredClock } from '../actors/protocol.js';
import { Replica } from '../actors/replica/index.js';
import { getAddReply, getOutcome, getStatus, newGetCore, requirement, type Level } from '../actors/quorum/index.js';
import { Ring, type Placement } from '../actors/ring.js';
import { MapStore } from '../runtime/host/store.js';
import { SimCluster, type SimOptions } from '../runtime/sim/sim-cluster.js';
import { rejectsWith } from './helpers/errors.js';
import { fcParams } from './helpers/fc.js';

const primaries = (c: SimCluster, key: string): number[] => [...c.ring.preferenceList(hash32(keyId(key)))];
const others = (c: SimCluster, key: string): number[] => c.config.nodes.map((n) => n.id).filter((n) => !primaries(c, key).includes(n));
const reply = (from: number, clock: StoredClock | null): GetReply => ({ type: 'get-reply', req: 1, from, key: 'k', clock });
const keys = (count: number): string[] => Array.from({ length: count }, (_, i) => `key-${i}`);

/** Which of `names` a read at `consistency` does not find (they were all written at ALL before). */
async function notFound(c: SimCluster, names: string[], consistency: Level): Promise<string[]> {
  const missing: string[] = [];
  for (const k of names) if (!(await c.get(k, { consistency })).found) missing.push(k);
  return missing;
}

/** Nodes that are not primaries of `key` but hold it in their store (stray copies anti-entropy never sees). */
const strays = (c: SimCluster, key: string): number[] => others(c, key).filter((n) => c.inspect(n, key) !== undefined);

describe('stand-ins: reads', () => {
  for (const [n, level] of [
    [3, 'QUORUM'],
    [3, 'ONE'],
    [1, 'ALL'],
  ] as const) {
    test(`with readFanout 'all' and no faults, every key written at ALL is found at ${level} (N=${n})`, async () => {
      const c = await SimCluster.start({ nodes: 5, replication: n, readFanout: 'all', seed: 7 });
      const names = keys(200);
      for (const k of names) await c.put(k, `v-${k}`, { consistency: 'ALL' });
      const missing = await notFound(c, names, level);
      assert.equal(missing.length, 0, `${missing.length} of ${names.length} not found, e.g. ${missing.slice(0, 3).join(', ')}`);
    });
  }

  test('a slow primary is replaced by its stand-in, whose "not found" does not answer for it', async () => {
    // N=1: the key's one primary is slower than readRetryMs. The read asks its stand-in, which holds nothing: that
    // must not complete the read with "not found"; the read waits for the primary and finds the value.
    const c = await SimCluster.start({ nodes: 4, replication: 1, read: 'ALL', write: 'ALL', readRetryMs: 20, seed: 3 });
    await c.put('slow', 'there');
    const [p] = primaries(c, 'slow');
    c.faults.delay({ to: p, ms: 100 });
    const got = await c.get('slow', { timeoutMs: 2000 });
    assert.deepEqual([got.found, got.values], [true, ['there']]);
  });

  test('standInNotFoundOk: a stand-in\'s "not found" counts toward R, for availability', async () => {
    // The same slow primary; the option lets the stand-in's empty answer complete the read (and says so).
    const c = await SimCluster.start({ nodes: 4, replication: 1, read: 'ALL', write: 'ALL', readRetryMs: 20, seed: 3, standInNotFoundOk: true });
    await c.put('slow', 'there');
    c.faults.delay({ to: primaries(c, 'slow')[0], ms: 100 });
    const got = await c.get('slow', { timeoutMs: 2000 });
    assert.deepEqual([got.found, got.primaryOnly], [false, false]);
  });

  test('with every primary down, a read the stand-ins cannot answer fails instead of saying "not found"', async () => {
    const c = await SimCluster.start({ nodes: 5, replication: 3, seed: 5 });
    await c.put('k', 'v', { consistency: 'ALL' });
    for (const p of primaries(c, 'k')) await c.faults.kill(p, { stayDown: true });
    await c.sleep(50);
    await rejectsWith(c.get('k'), 'QUORUM_UNREACHABLE', /stand-in's "not found" counts only with standInNotFoundOk/);
    // what a stand-in holds as a hint is found in its primary's place
    await c.put('k', 'hinted', { consistency: 'ANY' });
    assert.deepEqual((await c.get('k', { consistency: 'ONE' })).values, ['hinted']);
  });
});

describe('stand-ins: no stray copies', () => {
  const graceMs = 500;
  const opts: SimOptions = {
    nodes: 5, replication: 3, seed: 9, readRetryMs: 20, hints: { hintTtlMs: graceMs }, antiEntropy: { tombstoneGraceMs: graceMs },
  };

  /** Deletes `key` at ALL, reaps its tombstone everywhere, and reads it back at every level: it must stay deleted. */
  async function deleteReapAndRead(c: SimCluster, key: string): Promise<void> {
    const seen = await c.get(key, { consistency: 'ALL' });
    await c.delete(key, { consistency: 'ALL', context: seen.context });
    await c.repair();
    await c.sleep(graceMs + 100);
    await c.repair();
    await c.repair();
    for (const p of primaries(c, key)) assert.equal(c.inspect(p, key), undefined, `node ${p} reaped the tombstone`);
    // slow primaries make reads reach the stand-ins too
    for (const p of primaries(c, key)) c.faults.delay({ to: p, ms: 200 });
    for (const consistency of ['ONE', 'QUORUM', 'ALL'] as const) {
      const got = await c.get(key, { consistency, timeoutMs: 3000 });
      assert.deepEqual(got.values, [], `read at ${consistency} after the reap`);
    }
    for (const p of primaries(c, key)) c.faults.delay({ to: p, ms: 0 });
    await c.settle();
    for (const p of primaries(c, key)) assert.equal(c.inspect(p, key), undefined, `node ${p} after the reads`);
  }

  test('read repair never writes to a stand-in, and a reaped delete stays deleted', async () => {
    // no faults: write at ALL, read with every replica asked (stand-ins included, before the fix), delete at ALL,
    // repair, wait past the grace period, repair again, read
    const c = await SimCluster.start({ ...opts, readFanout: 'all' });
    const names = keys(20);
    for (const k of names) await c.put(k, `v-${k}`, { consistency: 'ALL' });
    for (const k of names) await c.get(k, { consistency: 'ALL' });
    await c.settle();
    for (const k of names) assert.deepEqual(strays(c, k), [], `stray copies of ${k}`);
    for (const k of names.slice(0, 3)) await deleteReapAndRead(c, k);
  });

  test('a fallback coordinator (every primary briefly down) keeps its copy only as a hint', async () => {
    const c = await SimCluster.start(opts);
    const key = 'all-down';
    for (const p of primaries(c, key)) await c.faults.kill(p, { stayDown: true });
    await c.sleep(50);
    await c.put(key, 'old', { consistency: 'ONE' });
    for (const p of primaries(c, key)) c.faults.restart(p);
    assert.equal((await c.settle()).settled, true);
    await c.sleep(100);
    assert.deepEqual(strays(c, key), [], 'no stand-in keeps the key once its hint is delivered');
    await deleteReapAndRead(c, key);
  });

  test('a fallback coordinator that writes a key again after its hint was delivered mints a new dot', async () => {
    // The reason the fallback coordinator once kept its copy: a second write under the same dot would be taken for
    // the first and one of them dropped. Two blind writes through the same stand-in must both survive (siblings).
    const c = await SimCluster.start(opts);
    const key = 'twice';
    const down = async (): Promise<void> => {
      for (const p of primaries(c, key)) await c.faults.kill(p, { stayDown: true });
      await c.sleep(50);
    };
    const up = async (): Promise<void> => {
      for (const p of primaries(c, key)) c.faults.restart(p);
      assert.equal((await c.settle()).settled, true);
      await c.sleep(100);
    };
    await down();
    await c.put(key, 'first', { consistency: 'ONE' });
    await up();
    await down();
    await c.put(key, 'second', { consistency: 'ONE' });
    await up();
    const got = await c.get(key, { consistency: 'ALL' });
    assert.deepEqual(got.values.map(String).sort(), ['first', 'second']);
    assert.deepEqual(strays(c, key), []);
  });

  test('a replica refuses a repair or an unhinted replicate for a key it does not own', () => {
    // Read repair and replication go to primaries only; should one reach another node anyway (a stale placement), the
    // replica knows from the ring that the key is not its own and keeps nothing.
    const ring = new Ring({ nodes: [0, 1, 2, 3, 4].map((id) => ({ id, dc: 'dc1', rack: 'r1' })), vnodes: 16, replication: 3 });
    const key = keyId('foreign');
    const owners = ring.preferenceList(hash32(key));
    const stranger = [0, 1, 2, 3, 4].find((n) => !owners.includes(n))!;
    const store = new MapStore();
    const replica = new Replica(store, {
      node: stranger, replicaId: String(stranger), conflicts: 'siblings', maxPendingPuts: 16,
      antiEntropy: { ranges: rangesOf(ring), placement: (h) => ring.preferenceList(h), config: DEFAULT_ANTI_ENTROPY },
    }, new MapStore());
    const clock: StoredClock = { entries: [{ id: '0', n: 1, values: [{ v: 'v', ts: 1, by: '0' }] }], anonymous: [] };
    const out: Send[] = [];
    replica.handle({ type: 'repair', req: 1, from: CLIENT_BASE, key, clock }, 10, out);
    replica.handle({ type: 'replicate', req: 2, from: owners[0], key, clock }, 10, out);
    assert.deepEqual(out.map((s) => [s.msg.type, (s.msg as { ok: boolean }).ok]), [['repair-ack', false], ['replicate-ack', false]]);
    assert.equal(store.get(key), undefined);
    // a hinted replicate is what a stand-in may take: held as a hint, not stored
    replica.handle({ type: 'replicate', req: 3, from: owners[0], key, clock, hintFor: owners[1] }, 10, out);
    assert.equal((out[2].msg as { ok: boolean }).ok, true);
    assert.equal(store.get(key), undefined);
  });
});

describe('stand-ins: a refused hinted write leaves nothing behind', () => {
  test('a fallback coordinator that refuses the hint (max hint window) stores nothing, and no read returns it', async () => {
    const c = await SimCluster.start({ nodes: 5, replication: 3, seed: 13, hints: { maxHintWindowMs: 100 } });
    const key = 'refused';
    for (const p of primaries(c, key)) await c.faults.kill(p, { stayDown: true });
    await c.sleep(300); // every primary has been down longer than the max hint window
    await rejectsWith(c.put(key, 'ghost', { consistency: 'ONE' }), 'OVERLOADED', /max hint window/);
    assert.deepEqual(strays(c, key), []);
    for (const p of primaries(c, key)) c.faults.restart(p);
    await c.settle();
    await c.repair();
    assert.deepEqual((await c.get(key, { consistency: 'ALL' })).values, []);
  });
});

describe('stand-ins: the read coordinator and the get core', () => {
  const need = requirement('QUORUM', 'read', { replicationByDc: { dc1: 3 }, localDc: 'dc1' });
  const P = (node: number): Placement => ({ node, dc: 'dc1', primary: true });
  const S = (node: number, hintFor: number): Placement => ({ node, dc: 'dc1', primary: false, hintFor });
  const asked = (out: Send[]): number[] => out.filter((s) => s.msg.type === 'get').map((s) => s.to);
  const clock: StoredClock = { entries: [{ id: '0', n: 1, values: [{ v: 'v', ts: 1, by: '0' }] }], anonymous: [] };
  const fsm = (targets: Placement[], extra: Partial<GetParams> = {}): GetFsm =>
    new GetFsm({
      req: 1, self: CLIENT_BASE, key: 'k', targets, need, sloppy: true, readRepair: 'async', conflicts: 'siblings',
      timeoutMs: 1000, retryAfterMs: 50, fanout: 'all', ...extra,
    }, 0);

  test("fanout 'all' asks every primary and no stand-in; a silent primary's stand-in is asked after retryAfterMs", () => {
    const f = fsm([P(0), P(1), P(2), S(3, 0), S(4, 1), S(5, 2)]);
    const out: Send[] = [];
    assert.equal(f.start(out), undefined);
    assert.deepEqual(asked(out), [0, 1, 2]);
    out.length = 0;
    f.onReply(reply(1, null), out);
    f.onTick(49, out);
    assert.deepEqual(asked(out), [], 'not slow yet');
    f.onTick(50, out);
    assert.deepEqual(asked(out), [3, 5], 'in place of the two silent primaries');
  });

  test('a down primary is replaced at once; a failed one when it fails; a stand-in is never read-repaired', () => {
    const f = fsm([P(0), P(1), S(3, 2), S(4, 0)], { fanout: 'quorum' });
    const out: Send[] = [];
    f.start(out);
    assert.deepEqual(asked(out), [0, 1], 'R=2 of the primaries that are up');
    out.length = 0;
    f.onUnreachable(1, out);
    assert.deepEqual(asked(out), [3], 'for the failed primary 1: the stand-in of primary 2, which is down (primary 0 is asked already)');
    out.length = 0;
    f.onReply(reply(3, clock), out); // the stand-in holds a hint: it counts
    const r = f.onReply(reply(0, null), out);
    assert.ok(r?.ok === true && r.clock !== null && !r.primaryOnly);
    assert.deepEqual(r.repaired, [0], 'the primary is repaired, the stand-in is not');
  });

  test("get core: a stand-in's not-found does not count unless standInNotFoundOk; a seat counts once", () => {
    const targets = [P(0), P(1), S(3, 0), S(4, 1)];
    const strict = newGetCore(need, targets, { sloppy: true });
    getAddReply(strict, 3, 'notfound');
    getAddReply(strict, 4, 'notfound');
    assert.equal(getStatus(strict), 'pending', 'the primaries may still answer');
    getAddReply(strict, 0, 'found');
    getAddReply(strict, 1, 'notfound');
    assert.deepEqual([getStatus(strict), getOutcome(strict).ackedNodes, getOutcome(strict).uncountedNodes], ['ok', [0, 1], [3, 4]]);

    const lenient = newGetCore(need, targets, { sloppy: true, standInNotFoundOk: true });
    getAddReply(lenient, 3, 'notfound');
    getAddReply(lenient, 0, 'found'); // primary 0's seat is already filled by its stand-in
    assert.equal(getStatus(lenient), 'pending');
    getAddReply(lenient, 4, 'notfound');
    assert.deepEqual([getStatus(lenient), getOutcome(lenient).ackedNodes, getOutcome(lenient).primaryOnly], ['ok', [3, 4], false]);
  });
});

describe('stand-ins: property of the read coordinator', () => {
  // Random replica sets (some primaries down, some holding the key, stand-ins holding hints or not), random levels
  // and fanouts, and random schedules of replies, errors and ticks. Whatever happens: a stand-in is asked only in
  // place of a primary that is down, failed or silent for retryAfterMs; without standInNotFoundOk a "not found"
  // answer is never made of a stand-in's reply; no stand-in is repaired; and the read settles by its deadline.
  const scenario = fc.record({
    n: fc.integer({ min: 1, max: 4 }),
    downMask: fc.nat(15),
    holdMask: fc.nat(15),
    hintMask: fc.nat(15),
    r: fc.integer({ min: 1, max: 4 }),
    fanout: fc.constantFrom<'quorum' | 'all'>('quorum', 'all'),
    standInNotFoundOk: fc.boolean(),
    events: fc.array(fc.record({ kind: fc.constantFrom('reply', 'reply', 'error', 'tick'), pick: fc.nat(7), dt: fc.integer({ min: 1, max: 80 }) }), { maxLength: 24 }),
  });

  test('stand-ins are asked only in place of their primary, never outvote it, and are never repaired', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const r = Math.min(s.r, s.n);
        const up = (p: number): boolean => ((s.downMask >> p) & 1) === 0;
        const primaries = Array.from({ length: s.n }, (_, p) => p);
        const targets: Placement[] = [
          ...primaries.filter(up).map((p) => ({ node: p, dc: 'dc1', primary: true })),
          ...primaries.map((p) => ({ node: 10 + p, dc: 'dc1', primary: false, hintFor: p })),
        ];
        const holds = (node: number): boolean => (node < 10 ? (s.holdMask >> node) & 1 : (s.hintMask >> (node - 10)) & 1) === 1;
        const need = requirement(r, 'read', { replicationByDc: { dc1: s.n }, localDc: 'dc1' });
        const f = new GetFsm({
          req: 1, self: CLIENT_BASE, key: 'k', targets, need, sloppy: true, readRepair: 'async', conflicts: 'siblings',
          timeoutMs: 300, retryAfterMs: 50, fanout: s.fanout, standInNotFoundOk: s.standInNotFoundOk,
        }, 0);
        let now = 0;
        const askedAt = new Map<number, number>();
        const answered = new Set<number>();
        const failed = new Set<number>();
        let result: ReturnType<GetFsm['start']>;
        const sent = (out: Send[]): void => {
          for (const { to, msg } of out) {
            if (msg.type === 'repair') assert.ok(to < 10, `repair sent to stand-in ${to}`);
            if (msg.type !== 'get') continue;
            if (to >= 10) {
              const p = to - 10;
              const slow = askedAt.has(p) && !answered.has(p) && now - askedAt.get(p)! >= 50;
              assert.ok(!up(p) || failed.has(p) || slow, `stand-in ${to} asked at ${now} ms while primary ${p} is up and answering`);
            }
            askedAt.set(to, now);
          }
          out.length = 0;
        };
        const out: Send[] = [];
        result = f.start(out);
        sent(out);
        for (const e of s.events) {
          if (result !== undefined) break;
          const waiting = [...askedAt.keys()].filter((node) => !answered.has(node) && !failed.has(node));
          if (e.kind === 'tick') {
            now += e.dt;
            result = f.onTick(now, out);
          } else if (waiting.length > 0) {
            const node = waiting[e.pick % waiting.length];
            if (e.kind === 'error') failed.add(node);
            else answered.add(node);
            const clock = holds(node) ? { entries: [{ id: String(node), n: 1, values: [{ v: 'v', ts: 1, by: String(node) }] }], anonymous: [] } : null;
            result = f.onReply(e.kind === 'error' ? { ...reply(node, null), error: { code: 'INTERNAL', message: 'x', details: {} } } : reply(node, clock), out);
          }
          sent(out);
        }
        if (result === undefined) result = f.onTick(300, out);
        sent(out);
        assert.ok(result !== undefined, 'the read settles by its deadline');
        if (result.ok && result.clock === null && !s.standInNotFoundOk) {
          assert.ok(result.replied.every((node) => node < 10), `"not found" made of stand-ins' replies: ${result.replied}`);
        }
      }),
      fcParams(500),
    );
  });
});
