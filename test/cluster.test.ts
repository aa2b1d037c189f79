// The embedded cluster on real worker threads: quorum reads and writes, siblings and their resolution, lww,
// read repair (async and blocking), every typed error, and a second application thread attached as a client.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { hash32, keyId } from '../actors/hash.js';
import { Cluster, LeaderlessError } from '../runtime/index.js';
import { eventually } from './helpers/eventually.js';
import { rejectsWith } from './helpers/errors.js';

const primaries = (c: Cluster, key: string): number[] => [...c.ring.preferenceList(hash32(keyId(key)))];
const sorted = (vs: unknown[]): string[] => vs.map(String).sort();

/**
 * Writes `value` at W=2 while the key's third primary is cut off by a partition, then heals: that replica is stale.
 * Returns it.
 */
async function staleThirdReplica(cluster: Cluster, key: string, value: string): Promise<number> {
  const [a, b, c] = primaries(cluster, key);
  const rest = cluster.config.nodes.map((n) => n.id).filter((n) => n !== a && n !== b && n !== c);
  cluster.faults.partition([[a, b], [c, ...rest]]);
  await cluster.put(key, value, { w: 2 });
  cluster.faults.heal();
  assert.equal(cluster.inspect(c, key), undefined, 'the cut-off replica missed the write');
  return c;
}

describe('a 5-node cluster, N=3, R=W=2 (siblings)', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await Cluster.start({ nodes: 5, replication: 3, read: 'QUORUM', write: 'QUORUM' });
  });
  after(() => cluster.stop());

  test('a quorum write is read back by a quorum read, and every primary ends up holding it', async () => {
    const res = await cluster.put('user:1', 'Alice');
    assert.ok(res.acked.length >= 2);
    const got = await cluster.get('user:1');
    assert.equal(got.found, true);
    assert.deepEqual(got.values, ['Alice']);
    assert.equal(typeof got.context, 'string');
    for (const n of primaries(cluster, 'user:1')) {
      await eventually(`replica ${n} holds user:1`, () => cluster.inspect(n, 'user:1')?.values[0] === 'Alice');
    }
    const others = [0, 1, 2, 3, 4].filter((n) => !primaries(cluster, 'user:1').includes(n));
    for (const n of others) assert.equal(cluster.inspect(n, 'user:1'), undefined);
  });

  test('a missing key is not found', async () => {
    const got = await cluster.get('nobody');
    assert.deepEqual({ ...got, context: got.context }, { found: false, values: [], context: '', deleted: false, primaryOnly: true });
    assert.deepEqual(JSON.parse(JSON.stringify(got)), { found: false, values: [], context: '', deleted: false, primaryOnly: true });
  });

  test('values come back as the type they were written in; byte keys equal their UTF-8 string', async () => {
    const bytes = new Uint8Array([0, 1, 2, 255]);
    await cluster.put('bin', bytes);
    const got = await cluster.get('bin');
    assert.ok(got.values[0] instanceof Uint8Array);
    assert.deepEqual([...(got.values[0] as Uint8Array)], [0, 1, 2, 255]);
    await cluster.put('ключ', 'значение');
    const viaBytes = await cluster.get(new TextEncoder().encode('ключ'));
    assert.deepEqual(viaBytes.values, ['значение']);
    await cluster.put('empty', '');
    assert.deepEqual((await cluster.get('empty')).values, ['']);
  });

  test('concurrent blind writes become siblings; a write with the merged context resolves them', async () => {
    await Promise.all([cluster.put('cart', 'apple'), cluster.put('cart', 'pear'), cluster.put('cart', 'fig')]);
    const got = await cluster.get('cart');
    assert.deepEqual(sorted(got.values), ['apple', 'fig', 'pear']);
    await cluster.put('cart', 'apple+fig+pear', { context: got.context });
    const merged = await cluster.get('cart', { consistency: 'ALL' });
    assert.deepEqual(merged.values, ['apple+fig+pear']);
  });

  test('a write with the context of what it read supersedes exactly that, keeping a concurrent write', async () => {
    await cluster.put('doc', 'v1');
    const read = await cluster.get('doc');
    await cluster.put('doc', 'v2-concurrent'); // blind: did not see v1's successor
    await cluster.put('doc', 'v2', { context: read.context });
    const got = await cluster.get('doc');
    assert.deepEqual(sorted(got.values), ['v2', 'v2-concurrent']);
  });

  test('delete with a context leaves a tombstone; the key reads as deleted', async () => {
    await cluster.put('gone', 'x');
    const read = await cluster.get('gone');
    await cluster.delete('gone', { context: read.context });
    const got = await cluster.get('gone');
    assert.equal(got.found, false);
    assert.equal(got.deleted, true);
    assert.deepEqual(got.values, []);
    await cluster.put('gone', 'back', { context: got.context });
    assert.deepEqual((await cluster.get('gone')).values, ['back']);
  });

  test('consistency ONE reads come straight from a replica store, with no message', async () => {
    await cluster.put('one', 'fast', { consistency: 'ALL' });
    const before = cluster.counters.getsLocal;
    const got = await cluster.get('one', { consistency: 'ONE' });
    assert.deepEqual(got.values, ['fast']);
    assert.equal(cluster.counters.getsLocal, before + 1);
    const viaR = await cluster.get('one', { r: 1 });
    assert.deepEqual(viaR.values, ['fast']);
  });

  test('read repair (async) makes a stale replica current', async () => {
    const key = 'stale:async';
    const c = await staleThirdReplica(cluster, key, 'new');
    const got = await cluster.get(key, { consistency: 'ALL' });
    assert.deepEqual(got.values, ['new']);
    await eventually(`replica ${c} repaired`, () => cluster.inspect(c, key)?.values[0] === 'new');
  });

  test('read repair (blocking) has repaired the stale replica before the read returns', async () => {
    const key = 'stale:blocking';
    const c = await staleThirdReplica(cluster, key, 'new');
    await cluster.get(key, { consistency: 'ALL', readRepair: 'blocking' });
    assert.deepEqual(cluster.inspect(c, key)?.values, ['new']);
  });

  test('metrics count what happened per node', async () => {
    const m = await cluster.metrics();
    assert.equal(m.nodes.length, 5);
    assert.ok(m.totals.puts > 0 && m.totals.putsOk > 0);
    assert.ok(m.totals.replicates >= m.totals.putsOk);
    assert.ok(m.totals.readRepairs >= 2);
    assert.ok(m.client.siblingsReturned >= 2);
  });

  test('a second application thread attaches, reads what the first wrote, and writes too', async () => {
    for (let i = 0; i < 20; i++) await cluster.put(`shared:${i}`, `v${i}`);
    const handle = await cluster.createHandle();
    const worker = new Worker(new URL('./helpers/attached-client-worker.js', import.meta.url), {
      workerData: { handle, readKeys: Array.from({ length: 20 }, (_, i) => `shared:${i}`), writePrefix: 'w:', writes: 50 },
      transferList: handle.transfer as never,
    });
    const reply = await new Promise<{ read: string[][]; local: string[]; error?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    assert.equal(reply.error, undefined);
    assert.deepEqual(reply.read, Array.from({ length: 20 }, (_, i) => [`v${i}`]));
    assert.deepEqual(reply.local, ['v0']);
    for (let i = 0; i < 50; i++) assert.deepEqual((await cluster.get(`w:${i}`)).values, [`from-worker-${i}`]);
  });
});

describe('quorum reads from shared memory (sharedMemoryReads: quorum)', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await Cluster.start({ nodes: 5, replication: 3, sharedMemoryReads: 'quorum', failureDetector: { sampleMs: 10, minStdDeviationMs: 10 } });
  });
  after(() => cluster.stop());

  test('R=2 and ALL reads merge the replicas\' stores with no message, siblings included', async () => {
    await Promise.all([cluster.put('sm', 'a'), cluster.put('sm', 'b')]);
    for (const n of primaries(cluster, 'sm')) {
      await eventually(`replica ${n} holds both`, () => cluster.inspect(n, 'sm')?.values.length === 2);
    }
    const before = cluster.counters.getsLocal;
    assert.deepEqual(sorted((await cluster.get('sm')).values), ['a', 'b']);
    assert.deepEqual(sorted((await cluster.get('sm', { consistency: 'ALL' })).values), ['a', 'b']);
    assert.equal(cluster.counters.getsLocal, before + 2);
  });

  test('a stale replica read directly is repaired by message', async () => {
    const key = 'sm:stale';
    const c = await staleThirdReplica(cluster, key, 'new');
    const local = cluster.counters.getsLocal;
    assert.deepEqual((await cluster.get(key, { consistency: 'ALL' })).values, ['new']);
    assert.equal(cluster.counters.getsLocal, local + 1);
    await eventually(`replica ${c} repaired`, () => cluster.inspect(c, key)?.values[0] === 'new');
  });

  test('a paused replica is never read directly: the read asks by message and replaces it', async () => {
    const key = 'sm:paused';
    await cluster.put(key, 'v', { consistency: 'ALL' });
    const [first] = primaries(cluster, key);
    await cluster.faults.pause(first);
    try {
      const local = cluster.counters.getsLocal;
      const got = await cluster.get(key, { consistency: 'ONE', timeoutMs: 2000 });
      assert.deepEqual(got.values, ['v']);
      assert.equal(cluster.counters.getsLocal, local, 'not served from the paused replica\'s memory');
    } finally {
      await cluster.faults.resume(first);
    }
  });
});

describe('lww mode', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await Cluster.start({ nodes: 3, replication: 3, conflicts: 'lww' });
  });
  after(() => cluster.stop());

  test('concurrent blind writes leave one value, the newest, on every replica', async () => {
    await cluster.put('k', 'first');
    await cluster.put('k', 'second');
    await Promise.all([cluster.put('c', 'x'), cluster.put('c', 'y')]);
    assert.deepEqual((await cluster.get('k')).values, ['second']);
    const got = await cluster.get('c', { consistency: 'ALL' });
    assert.equal(got.values.length, 1);
    for (const n of [0, 1, 2]) {
      await eventually(`replica ${n} converged`, () => cluster.inspect(n, 'c')?.values.length === 1);
      assert.deepEqual(cluster.inspect(n, 'c')?.values, got.values);
    }
  });
});

describe('errors are typed, say what was wrong, and leave the cluster working', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await Cluster.start({ nodes: 5, replication: 3, sloppy: false, mailboxCapacity: 16, maxKeyBytes: 64, maxValueBytes: 128 });
  });
  after(() => cluster.stop());
  let probe = 0;
  const stillWorks = async (): Promise<void> => {
    const key = `ok:${probe++}`;
    await cluster.put(key, 'yes');
    assert.deepEqual((await cluster.get(key)).values, ['yes']);
  };

  test('impossible configurations are refused before any thread starts', async () => {
    await rejectsWith(Cluster.start({ nodes: 5, replication: 3, write: 4 }), 'INVALID_CONFIG', /4.*3|3.*4/);
    await rejectsWith(Cluster.start({ nodes: 2, replication: 3 }), 'INVALID_CONFIG', /3/);
    await rejectsWith(Cluster.start({ nodes: 0 }), 'INVALID_CONFIG', /nodes/);
    await rejectsWith(Cluster.start({ nodes: 2.5 } as never), 'INVALID_CONFIG', /integer/);
    await rejectsWith(Cluster.start({ nodes: 3, replication: { nowhere: 1 } }), 'INVALID_CONFIG', /nowhere/);
    await rejectsWith(Cluster.start({ nodez: 3 } as never), 'INVALID_CONFIG', /unknown option nodez/);
    await rejectsWith(Cluster.start({ nodes: 3, read: 'ANY' }), 'INVALID_CONFIG', /ANY/);
  });

  test('bad options per call', async () => {
    await rejectsWith(cluster.get('k', { r: 4 }), 'INVALID_CONFIG', /4/);
    await rejectsWith(cluster.put('k', 'v', { w: 0 }), 'INVALID_CONFIG');
    await rejectsWith(cluster.get('k', { bogus: 1 } as never), 'INVALID_ARGUMENT', /unknown get option bogus/);
    await rejectsWith(cluster.get('k', { r: 1, consistency: 'ONE' }), 'INVALID_ARGUMENT', /not both/);
    await rejectsWith(cluster.put('k', 'v', { context: 'not a context!' }), 'INVALID_ARGUMENT', /context/);
    await rejectsWith(cluster.get('k', { timeoutMs: -1 }), 'INVALID_ARGUMENT', /timeoutMs/);
    await stillWorks();
  });

  test('keys and values of the wrong type or size', async () => {
    await rejectsWith(cluster.put(42 as never, 'v'), 'INVALID_ARGUMENT', /key must be a string or a Uint8Array; got number/);
    await rejectsWith(cluster.put('k', { a: 1 } as never), 'INVALID_ARGUMENT', /value must be a string or a Uint8Array/);
    await rejectsWith(cluster.get(''), 'INVALID_ARGUMENT', /empty/);
    await rejectsWith(cluster.put('k'.repeat(65), 'v'), 'KEY_TOO_LARGE', /65 bytes; the limit is 64/);
    await rejectsWith(cluster.put('k', 'v'.repeat(129)), 'VALUE_TOO_LARGE', /129 bytes; the limit is 128/);
    await rejectsWith(cluster.put('k', new Uint8Array(200)), 'VALUE_TOO_LARGE', /200 bytes/);
    await rejectsWith(cluster.put('k', 'é'.repeat(65)), 'VALUE_TOO_LARGE', /130 bytes/);
    await stillWorks();
  });

  test('a timeout names who did not answer', async () => {
    const key = 'slow';
    const [a] = primaries(cluster, key);
    cluster.faults.partition([[a], [0, 1, 2, 3, 4].filter((n) => n !== a)]);
    const e = await rejectsWith(cluster.put(key, 'v', { consistency: 'ALL', timeoutMs: 100 }), 'TIMEOUT', /timed out after 100 ms/);
    // timeoutMs bounds the whole write: the coordinator gives up two ticks early so that its answer (naming the
    // cut-off replicas) arrives in time; on a loaded machine it can still be late, and the client's own answer names
    // the coordinator that did not answer
    if (e.details.failed === undefined) assert.deepEqual(e.details.coordinators, [a]);
    else {
      assert.equal((e.details.failed as number[]).length, 2, 'the two cut-off replicas are named');
      assert.deepEqual(e.details.acked, [a]);
    }
    cluster.faults.heal();
    await stillWorks();
  });

  test('a full mailbox refuses work with OVERLOADED instead of queueing without bound', async () => {
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => cluster.put('hot', `v${i}`)));
    const refused = results.filter((r) => r.status === 'rejected');
    assert.ok(refused.length > 0, 'some writes were refused');
    for (const r of refused) assert.equal(((r as PromiseRejectedResult).reason as LeaderlessError).code, 'OVERLOADED');
    assert.ok(results.some((r) => r.status === 'fulfilled'));
    await stillWorks();
  });
});

describe('quorum unreachable and use after stop', () => {
  test('a strict write that cannot reach W fails with QUORUM_UNREACHABLE saying how many answered', async () => {
    const cluster = await Cluster.start({ nodes: 3, replication: 3, sloppy: false });
    try {
      await cluster.faults.kill(2);
      await eventually('node 2 is down', () => cluster.nodeStatus(2) === 'down');
      const e = await rejectsWith(cluster.put('k', 'v', { consistency: 'ALL' }), 'QUORUM_UNREACHABLE', /needed 3/);
      assert.match(e.message, /nothing was written/);
      assert.equal(e.details.needed, 3);
      for (const n of [0, 1, 2]) assert.equal(cluster.inspect(n, 'k'), undefined);
      await cluster.put('k', 'v2', { consistency: 'QUORUM' });
      assert.deepEqual((await cluster.get('k')).values, ['v2']);
    } finally {
      await cluster.stop();
    }
  });

  test('every call after stop() throws STOPPED', async () => {
    const cluster = await Cluster.start({ nodes: 3, replication: 3 });
    await cluster.put('k', 'v');
    await cluster.stop();
    await rejectsWith(cluster.get('k'), 'STOPPED', /stopped/);
    await rejectsWith(cluster.put('k', 'v'), 'STOPPED');
    assert.throws(() => cluster.inspect(0, 'k'), (e: LeaderlessError) => e.code === 'STOPPED');
    await cluster.stop(); // idempotent
  });
});
