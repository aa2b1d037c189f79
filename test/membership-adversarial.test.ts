// Adversarial membership scenarios (elastic membership, issue 12), each deterministic (seeded simulator): what a
// join, a leave or a replace must not break. Each test opens with the scenario it plays.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SimCluster } from '../runtime/sim/sim-cluster.js';
import { rejectsWith } from './helpers/errors.js';
import { contextOf } from '../actors/coordinator/results.js';
import { kindsOf } from './helpers/kv-oracle.js';
import { judgedWorkload } from './helpers/membership-workload.js';

/** The first key k0, k1, ... whose preference list is exactly `owners` (in any order). */
function keyOwnedBy(c: SimCluster, owners: number[]): string {
  for (let i = 0; i < 10_000; i++) {
    const k = `k${i}`;
    const r = c.replicasOf(k);
    if (r.length === owners.length && owners.every((o) => r.includes(o))) return k;
  }
  throw new Error(`no key owned by ${owners.join(',')}`);
}

/** 4 nodes, N=1, sloppy, and the first `count` keys k0, k1, ... that node 0 owns. */
async function nodeZeroKeys(count: number): Promise<{ c: SimCluster; keys: string[] }> {
  const c = await SimCluster.start({ nodes: 4, replication: 1, read: 1, write: 1, sloppy: true, seed: 3, vnodes: 4 });
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) if (c.replicasOf(`k${i}`)[0] === 0) keys.push(`k${i}`);
  return { c, keys };
}

/** 4 nodes, N=3, W=ALL, R=ONE, one key per handoff batch (changes take long enough to write through), 20 keys loaded. */
async function smallBatchCluster(): Promise<SimCluster> {
  const c = await SimCluster.start({
    seed: 1, timeoutMs: 300, nodes: 4, replication: 3, read: 'ONE', write: 'ALL', readRepair: 'off',
    handoff: { maxKeysPerBatch: 1, maxBatchBytes: 1024, maxBytesInFlight: 1024 },
  });
  for (let i = 0; i < 20; i++) await c.put(`p${i}`, 'x');
  return c;
}

/** Nine changes back to back: a join, a leave of the first member and a replace of the second, three times. */
async function nineChanges(c: SimCluster): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await c.addNode();
    await c.removeNode(c.membership().members[0]);
    await c.replaceNode(c.membership().members[1]);
  }
}

describe('membership, adversarial: hints held by a node that leaves', () => {
  test('a write acknowledged as a hint alone survives the removal of the node holding the hint', async () => {
    // N=1, 3 nodes, sloppy. The key's one owner (node 0) is down; a put at ANY is acknowledged by a stand-in that
    // holds it as a hint for node 0. The stand-in is removed while node 0 is still down (the leave's hint drain runs
    // out); then node 0 comes back. The acknowledged write must be readable: it was never lost to a fault, only to
    // a graceful leave.
    const c = await SimCluster.start({ nodes: 3, replication: 1, read: 1, write: 1, sloppy: true, seed: 3, vnodes: 4 });
    const k = keyOwnedBy(c, [0]);
    await c.faults.kill(0, { stayDown: true });
    const put = await c.put(k, 'acked', { consistency: 'ANY' });
    assert.equal(put.acked.length, 1);
    const standIn = put.acked[0];
    assert.notEqual(standIn, 0);
    await c.removeNode(standIn);
    await c.faults.restart(0);
    await c.sleep(2000);
    await c.settle();
    await c.repair();
    const got = await c.get(k, { consistency: 'ALL' });
    assert.deepEqual(got.values, ['acked'], `the write acknowledged by stand-in ${standIn} was lost when it left`);
    await c.stop();
  });
});

describe('membership, adversarial: a leaving node that has just restarted', () => {
  test('hints a stand-in persisted before it crashed are drained before it leaves, though it left while down', async () => {
    // 4 nodes, N=1, sloppy. Node 0 owns ten keys and is down; puts at ANY are acked by node 2 as hints for 0. Node 2
    // crashes (its hints are persisted) and is removed while down: the leave waits for it. Node 0 and node 2 come
    // back together, so node 2's hints can be delivered at once. The leave must drain them before node 2 stops for
    // good: a restarted replica recovers its hints on its first message, but a status call from the control plane
    // is not one, so the drain check reads hintsHeld 0 and retires node 2 with every hint (sim-membership seed 3444).
    const { c, keys } = await nodeZeroKeys(10);
    await c.faults.kill(0, { stayDown: true });
    for (const k of keys) assert.deepEqual((await c.put(k, `a${k}`, { consistency: 'ANY' })).acked, [2], k);
    await c.faults.kill(2, { stayDown: true });
    const leave = c.removeNode(2);
    await c.sleep(50);
    await c.faults.clear(); // node 0 and node 2 come back at once
    await leave;
    await c.settle();
    await c.repair();
    await c.settle();
    const missing: string[] = [];
    for (const k of keys) if ((await c.get(k, { consistency: 'ALL' })).values[0] !== `a${k}`) missing.push(k);
    assert.deepEqual(missing, [], `${missing.length} of ${keys.length} writes acknowledged by node 2 were lost when it left`);
    await c.stop();
  });
});

describe('membership, adversarial: availability through a change without faults', () => {
  test('writes at ALL do not fail while ranges complete (no faults, only joins, leaves and replaces)', async () => {
    // 4 nodes, N=3, W=ALL, small handoff batches. Four clients read then write (with the read's context) eight keys
    // while nine changes run back to back; nothing fails, nothing is slow. A write of a pending range goes to the old
    // and the new replicas; if the range completes at a losing replica while the write is on its way there, that
    // replica refuses the replicate (WRONG_EPOCH, not-owner), and the write must not fail for it: the new replicas
    // are all it needs now.
    const c = await smallBatchCluster();
    let going = true;
    let n = 0;
    const fails: string[] = [];
    const writer = async (): Promise<void> => {
      const cl = await c.client();
      while (going) {
        const k = `w${n++ % 8}`;
        try {
          const g = await cl.get(k);
          await cl.put(k, `v${n}`, g.context === '' ? {} : { context: g.context });
        } catch (e) {
          fails.push(`${c.nowMs.toFixed(1)} ${(e as { code?: string }).code}: ${(e as Error).message}`);
        }
        await c.sleep(0.3);
      }
      cl.close();
    };
    const writers = [0, 1, 2, 3].map(writer);
    await c.sleep(20);
    await nineChanges(c);
    going = false;
    await Promise.all(writers);
    assert.ok(n > 300, `${n} operations`);
    assert.deepEqual(fails, [], `${fails.length} of ${n} read-then-write rounds failed without a fault`);
    await c.stop();
  });
});

describe('membership, adversarial: reads through a change without faults', () => {
  test('a read at ONE never misses a value written at ALL before the change (readFanout all)', async () => {
    // 4 nodes, N=3. Sixty keys are written at ALL and never touched again. Eight clients (two near each first node)
    // read them at ONE, readFanout 'all', while five changes run back to back (leave, join, replace, leave, join).
    // R + W > N, and every replica that ever held a key held it: no read may come back empty. A losing replica
    // whose ranges all completed drops its copies at once, but a client's view learns of the completion only after
    // the gaining and losing replicas do: a read sent in that window reaches a replica that no longer owns the key,
    // which must not answer "not found" as though it still did.
    const c = await SimCluster.start({
      seed: 1, timeoutMs: 300, nodes: 4, replication: 3, read: 'ONE', write: 'ALL', readRepair: 'off', readFanout: 'all',
      handoff: { maxKeysPerBatch: 1, maxBatchBytes: 1024, maxBytesInFlight: 1024 },
    });
    const keys = Array.from({ length: 60 }, (_, i) => `r${i}`);
    for (const k of keys) await c.put(k, 'x', { consistency: 'ALL' });
    let going = true;
    let reads = 0;
    const stale: string[] = [];
    const reader = async (near: number): Promise<void> => {
      const cl = await c.client({ near });
      for (let i = near + 7; going; i += 7) {
        const k = keys[i % keys.length];
        const g = await cl.get(k);
        reads++;
        if (g.values.length !== 1) stale.push(`${c.nowMs.toFixed(1)} ${k} read near ${near} returned ${JSON.stringify(g.values)}`);
        await c.sleep(0.05);
      }
      cl.close();
    };
    const readers = [0, 1, 2, 3, 0, 1, 2, 3].map(reader);
    await c.sleep(5);
    await c.removeNode(0);
    await c.addNode();
    await c.replaceNode(1);
    await c.removeNode(2);
    await c.addNode();
    going = false;
    await Promise.all(readers);
    assert.ok(reads > 1000, `${reads} reads`);
    assert.deepEqual(stale, [], `${stale.length} of ${reads} reads at ONE missed a value written at ALL`);
    await c.stop();
  });
});

describe('membership, adversarial: every call settles', () => {
  test('a put whose client is closed while it waits to retry after WRONG_EPOCH settles (STOPPED), within its timeout', async () => {
    // 4 nodes, N=3, W=ALL, small handoff batches, nine changes back to back. Four writers each open a client, put
    // through it, and close it 0.5 ms after a coordinator refused one of its writes with WRONG_EPOCH (the put then
    // waits for the next tick or view to retry). close() fails the client's reads and writes in flight, but not the
    // operations waiting to retry: the closed client gets no more ticks or views, so they never settle.
    const c = await smallBatchCluster();
    const refused = new Set<number>();
    c.trace((_t, what, _from, to, msg) => {
      if (what === 'delivered' && msg.type === 'put-reply' && msg.error?.code === 'WRONG_EPOCH') refused.add(to);
    });
    let going = true;
    let n = 0;
    let closedAfterRefusal = 0;
    const unsettled = new Map<string, number>();
    const writer = async (w: number): Promise<void> => {
      while (going) {
        const cl = await c.client();
        const address = (cl as unknown as { address: number }).address;
        for (let j = 0; j < 5 && going; j++) {
          const tag = `writer ${w} put ${n} at ${c.nowMs.toFixed(1)} ms`;
          let settled = false;
          const put = cl.put(`w${n++ % 8}`, `v${n}`).then(() => (settled = true), () => (settled = true));
          void (async () => {
            for (let s = 0; s < 40 && !settled; s++) {
              await c.sleep(0.5);
              if (refused.delete(address)) {
                closedAfterRefusal++;
                return cl.close();
              }
            }
          })().catch(() => undefined); // its sleep rejects with STOPPED once the test stops the cluster
          await Promise.race([put, c.sleep(1000)]);
          if (!settled) {
            unsettled.set(tag, c.nowMs);
            break; // the client is closed: open another
          }
        }
        cl.close();
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    await c.sleep(20);
    await nineChanges(c);
    going = false;
    await Promise.all(writers);
    await c.stop(); // fails what is still pending (an operation left pending would hold the process open)
    assert.ok(closedAfterRefusal > 0, 'no client was closed right after a WRONG_EPOCH refusal: the scenario did not play');
    assert.deepEqual([...unsettled.keys()], [], `${unsettled.size} puts (timeoutMs 300) did not settle within 1000 ms of virtual time`);
  });
});

describe('membership, adversarial: node addresses run out', () => {
  test('replaceNode once every address (maxNodes) is used is refused with a typed error, and the cluster keeps working', async () => {
    // 4 nodes, maxNodes 5: a join takes the last address (4). A replace needs a new id too (ids are never reused),
    // and there is none: it must be refused as addNode is, not planned onto address 5, outside the cluster's
    // address space, where its streams never complete and the call never settles.
    const c = await SimCluster.start({ seed: 1, nodes: 4, replication: 3, maxNodes: 5 });
    for (let i = 0; i < 50; i++) await c.put(`k${i}`, 'v');
    assert.equal((await c.addNode()).node, 4);
    await rejectsWith(c.addNode(), 'INVALID_ARGUMENT', /all 5 node addresses/);
    let outcome = 'pending';
    const replace = c.replaceNode(0).then(
      (r) => (outcome = `ok, replacement ${r.replacement}`),
      (e: Error & { code?: string }) => (outcome = `${e.code}: ${e.message}`),
    );
    await c.sleep(30_000);
    const during = c.membership();
    await c.stop();
    await replace;
    assert.match(outcome, /^INVALID_ARGUMENT: .*node addresses/, `replaceNode with no address left: ${outcome}; ring ${JSON.stringify({ ...during, changes: undefined })}`);
  });
});

describe('membership, adversarial: hints held for a node that leaves', () => {
  test('hints whose handoff to a leaving node was lost reach the new owners before the cluster settles', async () => {
    // 4 nodes, N=1, sloppy. Node 0 owns twenty keys; 0 and 2 (its fallback) are down, so puts at ANY are acked by
    // node 3 as hints for 0. The link 3 -> 0 drops everything; 0 and 2 come back; 3's handoff to 0 is lost in flight.
    // Node 0 is removed (the keys move to node 2). Then every fault is cleared and the cluster settled and repaired:
    // every acknowledged write must be readable at ALL. The leave does not wait for other nodes' hints for the
    // leaving node, a hint whose handoff is in flight is not redirected until that handoff times out, and settle()
    // does not count hints for a node that is no longer up.
    const { c, keys } = await nodeZeroKeys(20);
    await c.faults.kill(0, { stayDown: true });
    await c.faults.kill(2, { stayDown: true });
    for (const k of keys) assert.deepEqual((await c.put(k, `a${k}`, { consistency: 'ANY' })).acked, [3], k);
    c.faults.drop({ from: 3, to: 0, probability: 1 });
    await c.faults.restart(0);
    await c.faults.restart(2);
    await c.sleep(100);
    await c.removeNode(0);
    await c.faults.clear();
    const settled = await c.settle();
    await c.repair();
    await c.settle();
    const missing: string[] = [];
    for (const k of keys) {
      const got = await c.get(k, { consistency: 'ALL' });
      if (got.values[0] !== `a${k}`) missing.push(`${k} (owner ${c.replicasOf(k).join(',')}) read ${JSON.stringify(got.values)}`);
    }
    assert.deepEqual(missing, [], `settle said ${JSON.stringify(settled)}; ${missing.length} of ${keys.length} acknowledged writes not readable at ALL`);
    await c.stop();
  });
});

describe('membership, adversarial: clocks across many changes', () => {
  test("a key's version vector stays a few entries long however many membership changes the cluster has been through", async () => {
    // 4 nodes, N=3. Twenty changes (a join, then a leave of the oldest member, alternating); before each, four
    // clients near different members read then write one hot key with the read's context (no siblings). A replica
    // writes under a fresh DVV id each epoch ("2@7"), so every epoch in which a node coordinated a write adds an
    // entry that nothing ever prunes: the context, and the stored clock, grow with the number of changes, not with
    // N (ARCHITECTURE: "clocks stay at most a few entries long").
    const c = await SimCluster.start({ seed: 1, nodes: 4, replication: 3, read: 'QUORUM', write: 'QUORUM', maxNodes: 256 });
    for (let i = 0; i < 20; i++) {
      const members = c.membership().members;
      for (let j = 0; j < 4; j++) {
        const cl = await c.client({ near: members[j % members.length] });
        const g = await cl.get('hot');
        await cl.put('hot', `v${i}.${j}`, g.context === '' ? {} : { context: g.context });
        cl.close();
      }
      if (i % 2 === 0) await c.addNode();
      else await c.removeNode(members[0]);
    }
    const g = await c.get('hot', { consistency: 'ALL' });
    assert.equal(g.values.length, 1);
    const entries = contextOf(g.context).length;
    const bound = 2 * c.membership().members.length;
    assert.ok(entries <= bound, `after 20 changes the clock of one key has ${entries} entries (${g.context.length} chars of context); bound ${bound}`);
    await c.stop();
  });
});

describe('membership, adversarial: what held up', () => {
  test('two datacenters, LOCAL_QUORUM and EACH_QUORUM, joins and leaves in each with a crash and a partition: the oracle finds nothing', async () => {
    // dc1 and dc2 with 3 nodes each, N=2 per datacenter, small handoff batches. Three clients read and write six
    // keys (contexts, deletes) at LOCAL_QUORUM, EACH_QUORUM and QUORUM while a dc2 node joins, node 1 crashes (and
    // is restarted), node 4 leaves, a dc1 node joins, the datacenters are partitioned for 100 ms, and node 0 leaves.
    const c = await SimCluster.start({
      seed: 2, timeoutMs: 300, datacenters: [{ name: 'dc1', nodes: 3 }, { name: 'dc2', nodes: 3 }], replication: { dc1: 2, dc2: 2 },
      read: 'LOCAL_QUORUM', write: 'LOCAL_QUORUM', sloppy: true, handoff: { maxKeysPerBatch: 2, maxBatchBytes: 1024, maxBytesInFlight: 1024 },
    });
    const levels = [{}, { consistency: 'EACH_QUORUM' }, { consistency: 'QUORUM' }];
    const changes: number[] = [];
    const r = await judgedWorkload(
      c,
      { seed: 2, keys: 6, slots: 3, durationMs: 1500, timeoutMs: 300, replication: 4, readOptions: levels, writeOptions: levels },
      async () => {
        await c.sleep(100);
        changes.push((await c.addNode({ datacenter: 'dc2' })).node);
        await c.faults.kill(1, { stayDown: false });
        await c.sleep(50);
        changes.push((await c.removeNode(4)).node);
        changes.push((await c.addNode({ datacenter: 'dc1' })).node);
        c.faults.partition([[0, 1, 2, 7], [3, 5, 6]]);
        await c.sleep(100);
        c.faults.heal();
        changes.push((await c.removeNode(0)).node);
      },
    );
    assert.deepEqual(changes, [6, 4, 7, 0]);
    assert.ok(r.history.filter((o) => o.outcome === 'ok').length > 200);
    assert.deepEqual(kindsOf(r.violations), [], r.violations.slice(0, 5).map((v) => `${v.kind} ${v.key}: ${v.detail}`).join('\n'));
    await c.stop();
  });
});
