// Elastic membership in the simulator, deterministic cases (the randomized schedules are test/sim-membership.test.ts):
// a join and a leave move exactly the keys the ring predicts and leave every key on its new replicas only; a dead
// node is replaced from the surviving replicas; a workload runs through a change without a failure; bad calls get
// typed errors; health warns while a change stalls; the epoch check and the per-epoch DVV id at one replica.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hash32, keyId } from '../actors/hash.js';
import { plan } from '../actors/membership/plan.js';
import { Replica } from '../actors/replica/index.js';
import { FLOOR_KEY } from '../actors/replica/hint-records.js';
import type { Message, Send } from '../actors/protocol.js';
import { MapStore } from '../runtime/host/store.js';
import { baseMembership, resolveConfig } from '../runtime/config.js';
import { replicaOptions } from '../runtime/host/replica-host.js';
import { SimCluster } from '../runtime/sim/sim-cluster.js';
import { rejectsWith } from './helpers/errors.js';

const KEYS = 600;
const keys = Array.from({ length: KEYS }, (_, i) => `key:${i}`);

async function loaded(nodes = 4): Promise<SimCluster> {
  const c = await SimCluster.start({ nodes, replication: 3, read: 'QUORUM', write: 'ALL', seed: 5, maxNodes: 10 });
  for (const k of keys) await c.put(k, `v-${k}`);
  return c;
}

/** Which live nodes hold each key (inspected without messages), by key. */
function holders(c: SimCluster): Map<string, number[]> {
  const members = c.membership().members;
  return new Map(keys.map((k) => [k, members.filter((n) => c.inspect(n, k) !== undefined)]));
}

const sortNum = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);

function assertOnNewReplicasOnly(c: SimCluster): void {
  for (const [k, held] of holders(c)) assert.deepEqual(sortNum(held), sortNum(c.replicasOf(k)), `key ${k}`);
}

describe('sim membership: keys move as the ring predicts', () => {
  test('a join streams each moving key to each gaining replica once, and the losers drop it', async () => {
    const c = await loaded();
    const before = new Map(keys.map((k) => [k, c.replicasOf(k)]));
    const r = await c.addNode();
    assert.equal(r.node, 4);
    assert.equal(r.epoch, 2);
    let moved = 0;
    let assignments = 0;
    for (const k of keys) {
      const gained = c.replicasOf(k).filter((n) => !before.get(k)!.includes(n));
      if (gained.length > 0) moved++;
      assignments += gained.length;
    }
    // every key was written at ALL and nothing failed: each (key, gaining replica) pair is streamed exactly once
    assert.equal(r.keysMoved, assignments);
    assert.equal(r.keysDropped, assignments, 'the losing replicas drop as many copies as the gaining ones took');
    // the plan's prediction of the share of keys that move, against the count (binomial, 4 sigma)
    const sigma = Math.sqrt(KEYS * r.movedFraction * (1 - r.movedFraction));
    assert.ok(Math.abs(moved - KEYS * r.movedFraction) <= 4 * sigma + 1, `moved ${moved}, predicted ${KEYS * r.movedFraction}`);
    assertOnNewReplicasOnly(c);
    for (const k of keys.slice(0, 50)) assert.deepEqual((await c.get(k, { consistency: 'ALL' })).values, [`v-${k}`]);
    await c.stop();
  });

  test('a leave hands its ranges off, drains, stops for good; ids are not reused', async () => {
    const c = await loaded(5);
    const r = await c.removeNode(1);
    assert.equal(r.node, 1);
    assert.ok(r.keysMoved > 0 && r.bytesMoved > 0);
    const m = c.membership();
    assert.deepEqual([m.epoch, m.members, m.left, m.inProgress], [2, [0, 2, 3, 4], [1], null]);
    assertOnNewReplicasOnly(c);
    const metrics = await c.metrics();
    assert.equal(metrics.nodes[1].left, true);
    assert.ok((await c.health()).nodes.every((n) => n.node !== 1), 'health leaves a node that left out');
    await rejectsWith(c.faults.restart(1), 'INVALID_ARGUMENT', /left the ring/);
    assert.equal((await c.addNode()).node, 5, 'the next join takes a new id');
    assertOnNewReplicasOnly(c);
    for (const k of keys.slice(0, 50)) assert.deepEqual((await c.get(k, { consistency: 'ALL' })).values, [`v-${k}`]);
    await c.stop();
  });

  test('replacing a dead node rebuilds its ranges from the surviving replicas', async () => {
    const c = await loaded(4);
    await c.faults.kill(2, { stayDown: true });
    const r = await c.replaceNode(2);
    assert.equal(r.replacement, 4);
    assert.deepEqual(c.membership().members, [0, 1, 3, 4]);
    assertOnNewReplicasOnly(c);
    for (const k of keys) assert.deepEqual((await c.get(k, { consistency: 'ALL' })).values, [`v-${k}`], k);
    await c.stop();
  });
});

describe('sim membership: serving through a change', () => {
  test('writes and reads run through a join and a leave without a failure, and none is lost', async () => {
    // small handoff batches, so that a change takes long enough for the workload to run through it
    const handoff = { maxKeysPerBatch: 4, maxBatchBytes: 1024, maxBytesInFlight: 1024 };
    const c = await SimCluster.start({ nodes: 3, replication: 3, read: 'QUORUM', write: 'QUORUM', seed: 9, handoff });
    for (let i = 0; i < 400; i++) await c.put(`pre:${i}`, 'x');
    const acked = new Map<string, string>();
    let going = true;
    let ops = 0;
    let duringChange = 0;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; going; i++) {
        const k = `w${w}:${i}`; // a fresh key per write: blind writes of one key would be siblings
        const v = `${w}.${i}`;
        await c.put(k, v);
        acked.set(k, v);
        const got = await c.get(k);
        assert.deepEqual(got.values, [v], `read-your-write of ${k}`);
        ops += 2;
        if (c.membership().inProgress !== null) duringChange += 2;
        await c.sleep(0.5);
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    await c.sleep(20);
    const join = await c.addNode();
    const leave = await c.removeNode(0);
    await c.sleep(20);
    going = false;
    await Promise.all(workers);
    assert.equal(c.counters.failures, 0);
    assert.ok(duringChange >= 100, `${duringChange} of ${ops} operations during the changes`);
    assert.ok(join.streams > 0 && join.resends === 0);
    assert.ok(join.durationMs > 0 && leave.durationMs > 0);
    for (const [k, v] of acked) assert.deepEqual((await c.get(k, { consistency: 'ALL' })).values, [v]);
    await c.stop();
  });
});

describe('sim membership: typed errors and health', () => {
  test('bad calls are refused with what was wrong; the cluster keeps working', async () => {
    const c = await SimCluster.start({ nodes: 3, replication: 3, seed: 1, maxNodes: 4 });
    await rejectsWith(c.removeNode(0), 'INVALID_ARGUMENT', /fewer than its replication factor 3/);
    await rejectsWith(c.removeNode(7), 'INVALID_ARGUMENT');
    await rejectsWith(c.addNode({ datacenter: 'mars' }), 'INVALID_ARGUMENT', /one of the cluster's datacenters \(dc1\)/);
    await rejectsWith(c.addNode({ rack: '' }), 'INVALID_ARGUMENT', /rack must be a non-empty string/);
    await rejectsWith(c.addNode({ zone: 'a' } as never), 'INVALID_ARGUMENT', /unknown option 'zone'/);
    const first = c.addNode();
    await rejectsWith(c.addNode(), 'INVALID_ARGUMENT', /one change at a time/);
    await first;
    await rejectsWith(c.addNode(), 'INVALID_ARGUMENT', /all 4 node addresses \(maxNodes/);
    await c.put('still', 'works');
    assert.deepEqual((await c.get('still')).values, ['works']);
    await c.stop();
  });

  test('health warns while a change stalls on a node that is down, and the change completes once it is back', async () => {
    const c = await loaded(4);
    await c.faults.kill(0, { stayDown: true }); // node 0 loses ranges to the joining node: its streams wait for it
    const join = c.addNode();
    await c.sleep(6000);
    const during = await c.health();
    assert.ok(during.alerts.some((a) => /membership change to epoch 2 stalled/.test(a)), during.alerts.join('\n'));
    assert.ok(c.membership().inProgress!.rangesPending > 0);
    await c.faults.restart(0);
    const r = await join;
    assert.equal(r.epoch, 2);
    assert.ok(!(await c.health()).alerts.some((a) => /stalled/.test(a)));
    assertOnNewReplicasOnly(c);
    await c.stop();
  });
});

describe('membership at one replica', () => {
  const config = resolveConfig({ nodes: 3, replication: 3 });
  const base = baseMembership(config);
  const join = { type: 'join' as const, dc: 'dc1', rack: 'dc1/rack0' };
  const p = plan(base, join);
  const moving = keys.find((k) => p.moving.some((r) => r.gaining.length > 0 && (() => {
    const h = hash32(keyId(k));
    return r.start < r.end ? h > r.start && h <= r.end : h > r.start || h <= r.end;
  })()))!;
  const still = keys.find((k) => !p.moving.some((r) => {
    const h = hash32(keyId(k));
    return r.start < r.end ? h > r.start && h <= r.end : h > r.start || h <= r.end;
  }))!;

  const stores = new Map<Replica, MapStore>();
  function replicaAt(snapshotChanges: number, node = 0): Replica {
    const store = Object.assign(new MapStore(), { forEachKey: (fn: (k: string) => void) => store.forEach((k) => fn(k)) });
    const snapshot = { changes: snapshotChanges === 0 ? [] : [join], completed: [] };
    const r = new Replica(store, replicaOptions(config, node, String(node), base, snapshot), new MapStore());
    stores.set(r, store);
    return r;
  }

  /** The DVV ids of the entries of what a replica stored for the key. */
  function inspectIds(r: Replica, key: string): string[] {
    return (stores.get(r)!.get(keyId(key))?.entries ?? []).map((e) => e.id);
  }

  const put = (key: string, epoch: number): Message => ({
    type: 'put', req: 1, from: 1 << 16, key: keyId(key), value: 'v', context: null,
    targets: [{ node: 0, dc: 'dc1', primary: true }], spares: [], need: { level: 'w=1', total: 1, perDc: {}, hintsCount: false },
    sloppy: false, timeoutMs: 100, hintAfterMs: 50, epoch,
  });

  test('a replica in the change refuses a write of the epoch before for a moving range, and admits one that did not move', () => {
    const r = replicaAt(1);
    const out: Send[] = [];
    r.handle(put(moving, 1), 0, out);
    const refused = out.find((s) => s.msg.type === 'put-reply')!.msg as Extract<Message, { type: 'put-reply' }>;
    assert.equal(refused.ok, false);
    assert.equal(refused.error?.code, 'WRONG_EPOCH');
    assert.equal((refused.error?.details as { reason?: string }).reason, 'sender-behind');
    out.length = 0;
    r.handle(put(still, 1), 0, out);
    assert.equal((out.find((s) => s.msg.type === 'put-reply')!.msg as { ok: boolean }).ok, true);
    out.length = 0;
    r.handle({ type: 'get', req: 2, from: 1 << 16, key: keyId(moving), epoch: 3 }, 0, out);
    const behind = out[0].msg as Extract<Message, { type: 'get-reply' }>;
    assert.equal((behind.error?.details as { reason?: string }).reason, 'receiver-behind');
  });

  test('a gaining replica mints a pending key\'s write under a one-off id; others under their own (MEMBERSHIP_SEED=246)', () => {
    // node 3 joins: it gains `moving` and has not received it yet, so a dot under "3" could claim (and hide) earlier
    // dots of "3" for the key, had the key moved away from 3 once and be on its way back
    const gainer = replicaAt(1, 3);
    const out: Send[] = [];
    gainer.handle({ ...put(moving, 2), targets: [{ node: 3, dc: 'dc1', primary: true }] } as Message, 0, out);
    const reply = out.find((s) => s.msg.type === 'put-reply')?.msg as Extract<Message, { type: 'put-reply' }> | undefined;
    assert.equal(reply?.ok ?? true, true, JSON.stringify(reply));
    const ids = inspectIds(gainer, moving);
    assert.ok(ids.length === 1 && /^3~\d+$/.test(ids[0]), `ids ${ids.join(',')}`);
    const owner = replicaAt(1, 0);
    owner.handle(put(still, 2), 0, []);
    assert.deepEqual(inspectIds(owner, still), ['0']);
    assert.equal(owner.replicaId, '0', 'the replica keeps its id across changes: clocks do not grow with them');
  });
});

describe('membership at one replica: a key that moves away and comes back', () => {
  test('a write the returning owner coordinates before the key is streamed back does not hide the versions it dropped', () => {
    // N=1: key k is node 0's, moves to node 3 when 3 joins (0 streams it and drops it, raising its dot floor to 1),
    // and comes back to 0 when 3 leaves. Before 3's stream reaches 0, 0 coordinates a blind write of k. Under its own
    // id, over the floor, that write would be dot 0:2, which claims 0:1: the version 3 still holds and streams back,
    // and DVV sync would then drop it. Under a one-off id the two are concurrent and both stay.
    const config = resolveConfig({ nodes: 3, replication: 1 });
    const base = baseMembership(config);
    const join = { type: 'join' as const, dc: 'dc1', rack: 'dc1/rack0' };
    const joined = plan(base, join);
    const back = plan(joined.to, { type: 'leave', node: 3 });
    const k = keys.find((x) => {
      const h = hash32(keyId(x));
      return base.ring.preferenceList(h)[0] === 0 && joined.to.ring.preferenceList(h)[0] === 3 && back.to.ring.preferenceList(h)[0] === 0;
    })!;
    const store = Object.assign(new MapStore(), { forEachKey: (fn: (x: string) => void) => store.forEach((x) => fn(x)) });
    const hints = new MapStore();
    hints.set(FLOOR_KEY, { entries: [{ id: '0', n: 1, values: [] }], anonymous: [] }); // 0 dropped k at dot 0:1
    const snapshot = { changes: [join, { type: 'leave' as const, node: 3 }], completed: [] };
    const r = new Replica(store, replicaOptions(config, 0, '0', base, snapshot), hints);
    const out: Send[] = [];
    r.handle({
      type: 'put', req: 1, from: 1 << 16, key: keyId(k), value: 'new', context: null, epoch: 3,
      targets: [{ node: 3, dc: 'dc1', primary: true }, { node: 0, dc: 'dc1', primary: true }].reverse(), spares: [],
      need: { level: 'w=1', total: 1, perDc: {}, hintsCount: false }, sloppy: false, timeoutMs: 100, hintAfterMs: 50,
    }, 0, out);
    assert.equal((out.find((s) => s.msg.type === 'put-reply')?.msg as { ok?: boolean } | undefined)?.ok ?? true, true);
    // node 3's copy arrives (as its stream, or any replicate, would bring it)
    r.handle({ type: 'replicate', req: 9, from: 3, key: keyId(k), epoch: 3, clock: { entries: [{ id: '0', n: 1, values: [{ v: 'old', ts: 1, by: '0' }] }], anonymous: [] } }, 1, out);
    const values = store.get(keyId(k))!.entries.flatMap((e) => e.values.map((v) => v.v)).sort();
    assert.deepEqual(values, ['new', 'old'], 'the version that moved away and back was hidden by the new write');
  });
});
