// The simulated runtime (runtime/sim/): the behaviours test/cluster.test.ts checks on threads, here on virtual time
// (quorum reads and writes, siblings, lww, read repair, typed errors, timeouts, unreachable quorums), plus what only
// a simulator can promise: the same seed replays the same trace digest, virtual time moves only by events, and the
// pieces (PRNG, distributions, event queue) behave as their models say.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hash32, keyId } from '../actors/hash.js';
import { LeaderlessError } from '../actors/errors.js';
import { EventQueue } from '../runtime/sim/event-queue.js';
import { Prng, checkDistribution, sample, type Distribution } from '../runtime/host/prng.js';
import { SimCluster, type SimOptions } from '../runtime/sim/sim-cluster.js';
import { fcParams } from './helpers/fc.js';
import { rejectsWith } from './helpers/errors.js';

const primaries = (c: SimCluster, key: string): number[] => [...c.ring.preferenceList(hash32(keyId(key)))];
const sorted = (vs: unknown[]): string[] => vs.map(String).sort();
const ALL5 = [0, 1, 2, 3, 4];

describe('sim: a 5-node cluster, N=3, R=W=2 (siblings)', () => {
  const start = (extra: SimOptions = {}): Promise<SimCluster> =>
    SimCluster.start({ nodes: 5, replication: 3, read: 'QUORUM', write: 'QUORUM', seed: 11, ...extra });

  test('a quorum write is read back by a quorum read, and only the primaries hold it once settled', async () => {
    const cluster = await start();
    const res = await cluster.put('user:1', 'Alice');
    assert.ok(res.acked.length >= 2);
    const got = await cluster.get('user:1');
    assert.deepEqual([got.found, got.values], [true, ['Alice']]);
    assert.equal((await cluster.settle()).settled, true);
    for (const n of primaries(cluster, 'user:1')) assert.deepEqual(cluster.inspect(n, 'user:1')?.values, ['Alice']);
    for (const n of ALL5.filter((x) => !primaries(cluster, 'user:1').includes(x))) {
      assert.equal(cluster.inspect(n, 'user:1'), undefined);
    }
  });

  test('a missing key is not found', async () => {
    const cluster = await start();
    const got = await cluster.get('nobody');
    assert.deepEqual(JSON.parse(JSON.stringify(got)), { found: false, values: [], context: '', deleted: false, primaryOnly: true });
  });

  test('values come back as the type they were written in; byte keys equal their UTF-8 string', async () => {
    const cluster = await start();
    await cluster.put('bin', new Uint8Array([0, 1, 2, 255]));
    const got = await cluster.get('bin');
    assert.ok(got.values[0] instanceof Uint8Array);
    assert.deepEqual([...(got.values[0] as Uint8Array)], [0, 1, 2, 255]);
    await cluster.put('ключ', 'значение');
    assert.deepEqual((await cluster.get(new TextEncoder().encode('ключ'))).values, ['значение']);
    await cluster.put('empty', '');
    assert.deepEqual((await cluster.get('empty')).values, ['']);
  });

  test('concurrent blind writes become siblings; a write with the merged context resolves them', async () => {
    const cluster = await start();
    await Promise.all([cluster.put('cart', 'apple'), cluster.put('cart', 'pear'), cluster.put('cart', 'fig')]);
    const got = await cluster.get('cart');
    assert.deepEqual(sorted(got.values), ['apple', 'fig', 'pear']);
    assert.equal(cluster.counters.siblingsReturned, 1);
    await cluster.put('cart', 'apple+fig+pear', { context: got.context });
    assert.deepEqual((await cluster.get('cart', { consistency: 'ALL' })).values, ['apple+fig+pear']);
  });

  test('a write with the context of what it read supersedes exactly that, keeping a concurrent write', async () => {
    const cluster = await start();
    await cluster.put('doc', 'v1');
    const read = await cluster.get('doc');
    await cluster.put('doc', 'v2-concurrent');
    await cluster.put('doc', 'v2', { context: read.context });
    assert.deepEqual(sorted((await cluster.get('doc')).values), ['v2', 'v2-concurrent']);
  });

  test('the context a put returns supersedes that write without a read', async () => {
    const cluster = await start();
    const w = await cluster.put('counter', '1');
    await cluster.put('counter', '2', { context: w.context });
    assert.deepEqual((await cluster.get('counter', { consistency: 'ALL' })).values, ['2']);
  });

  test('delete with a context leaves a tombstone; the key reads as deleted', async () => {
    const cluster = await start();
    await cluster.put('gone', 'x');
    const read = await cluster.get('gone');
    await cluster.delete('gone', { context: read.context });
    const got = await cluster.get('gone');
    assert.deepEqual([got.found, got.deleted, got.values], [false, true, []]);
    await cluster.put('gone', 'back', { context: got.context });
    assert.deepEqual((await cluster.get('gone')).values, ['back']);
  });

  test('consistency ONE goes by message; with localReads it reads a primary store as the thread runtime does', async () => {
    const byMessage = await start();
    await byMessage.put('one', 'fast', { consistency: 'ALL' });
    const t0 = byMessage.nowMs;
    assert.deepEqual((await byMessage.get('one', { consistency: 'ONE' })).values, ['fast']);
    assert.ok(byMessage.nowMs > t0, 'the read took virtual time');
    assert.equal(byMessage.counters.getsLocal, 0);
    const local = await start({ localReads: true });
    await local.put('one', 'fast', { consistency: 'ALL' });
    const t1 = local.nowMs;
    assert.deepEqual((await local.get('one', { r: 1 })).values, ['fast']);
    assert.equal(local.nowMs, t1);
    assert.equal(local.counters.getsLocal, 1);
  });

  for (const mode of ['async', 'blocking'] as const) {
    test(`read repair (${mode}) makes a replica that missed a write current`, async () => {
      const cluster = await start();
      const key = `stale:${mode}`;
      const [a, b, c] = primaries(cluster, key);
      cluster.faults.partition([[a, b], [c, ...ALL5.filter((n) => n !== a && n !== b && n !== c)]]);
      await cluster.put(key, 'new', { w: 2 });
      await cluster.settle();
      cluster.faults.heal();
      assert.equal(cluster.inspect(c, key), undefined, 'the cut-off replica missed the write');
      const got = await cluster.get(key, { consistency: 'ALL', readRepair: mode });
      assert.deepEqual(got.values, ['new']);
      if (mode === 'async') await cluster.settle();
      assert.deepEqual(cluster.inspect(c, key)?.values, ['new']);
    });
  }

  test('metrics count what happened per node', async () => {
    const cluster = await start();
    await Promise.all([cluster.put('m', 'a'), cluster.put('m', 'b')]);
    await cluster.get('m', { consistency: 'ALL' });
    await cluster.settle();
    const m = await cluster.metrics();
    assert.equal(m.nodes.length, 5);
    assert.equal(m.totals.puts, 2);
    assert.equal(m.totals.putsOk, 2);
    assert.equal(m.totals.replicates, 4);
    assert.equal(m.client.siblingsReturned, 1);
  });

  test('a client near a replica is cut off with it by a partition', async () => {
    const cluster = await start({ sloppy: false });
    const key = 'near';
    const [a, b] = primaries(cluster, key);
    const beside = await cluster.client({ near: a });
    const far = await cluster.client({ near: b });
    cluster.faults.partition([[a], ALL5.filter((n) => n !== a)]);
    // a coordinates (it is first in the preference list) and applies the write, but cannot replicate it
    await rejectsWith(beside.put(key, 'v', { consistency: 'ALL', timeoutMs: 200 }), 'TIMEOUT', /timed out after 200 ms/);
    // the far side cannot reach a: the read asks a and b, and after readRetryMs the third primary instead
    const t0 = cluster.nowMs;
    assert.equal((await far.get(key, { r: 2 })).found, false);
    assert.ok(cluster.nowMs - t0 >= cluster.config.readRetryMs, 'the read waited for a before asking another');
    cluster.faults.heal();
    assert.deepEqual((await far.get(key, { consistency: 'ALL' })).values, ['v'], 'a failed write may still be applied');
  });
});

describe('sim: lww mode', () => {
  test('concurrent blind writes leave one value, the newest, on every replica', async () => {
    const cluster = await SimCluster.start({ nodes: 3, replication: 3, conflicts: 'lww', seed: 5 });
    await cluster.put('k', 'first');
    await cluster.put('k', 'second');
    await Promise.all([cluster.put('c', 'x'), cluster.put('c', 'y')]);
    assert.deepEqual((await cluster.get('k')).values, ['second']);
    const got = await cluster.get('c', { consistency: 'ALL' });
    assert.equal(got.values.length, 1);
    await cluster.settle();
    for (const n of [0, 1, 2]) assert.deepEqual(cluster.inspect(n, 'c')?.values, got.values);
  });
});

describe('sim: errors are typed, say what was wrong, and leave the cluster working', () => {
  const start = (): Promise<SimCluster> =>
    SimCluster.start({ nodes: 5, replication: 3, sloppy: false, mailboxCapacity: 16, maxKeyBytes: 64, maxValueBytes: 128 });
  const stillWorks = async (cluster: SimCluster): Promise<void> => {
    await cluster.put('ok', 'yes');
    assert.deepEqual((await cluster.get('ok')).values, ['yes']);
  };

  test('impossible configurations are refused', async () => {
    await rejectsWith(SimCluster.start({ nodes: 5, replication: 3, write: 4 }), 'INVALID_CONFIG', /4.*3|3.*4/);
    await rejectsWith(SimCluster.start({ nodes: 2, replication: 3 }), 'INVALID_CONFIG', /3/);
    await rejectsWith(SimCluster.start({ nodes: 0 }), 'INVALID_CONFIG', /nodes/);
    await rejectsWith(SimCluster.start({ nodez: 3 } as never), 'INVALID_CONFIG', /unknown option nodez/);
    await rejectsWith(SimCluster.start({ seed: -1 }), 'INVALID_CONFIG', /seed/);
    await rejectsWith(SimCluster.start({ latency: { kind: 'pareto', xm: 0, alpha: 2 } }), 'INVALID_CONFIG', /xm is 0/);
    await rejectsWith(SimCluster.start({ dropProbability: 2 }), 'INVALID_CONFIG', /dropProbability/);
    await rejectsWith(SimCluster.start({ runtime: 'threads' } as never), 'INVALID_CONFIG', /runtime/);
  });

  test('bad options, keys and values per call', async () => {
    const cluster = await start();
    await rejectsWith(cluster.get('k', { r: 4 }), 'INVALID_CONFIG', /4/);
    await rejectsWith(cluster.get('k', { bogus: 1 } as never), 'INVALID_ARGUMENT', /unknown get option bogus/);
    await rejectsWith(cluster.get('k', { r: 1, consistency: 'ONE' }), 'INVALID_ARGUMENT', /not both/);
    await rejectsWith(cluster.put('k', 'v', { context: 'not a context!' }), 'INVALID_ARGUMENT', /context/);
    await rejectsWith(cluster.get('k', { timeoutMs: -1 }), 'INVALID_ARGUMENT', /timeoutMs/);
    await rejectsWith(cluster.put(42 as never, 'v'), 'INVALID_ARGUMENT', /key must be a string or a Uint8Array; got number/);
    await rejectsWith(cluster.get(''), 'INVALID_ARGUMENT', /empty/);
    await rejectsWith(cluster.put('k'.repeat(65), 'v'), 'KEY_TOO_LARGE', /65 bytes; the limit is 64/);
    await rejectsWith(cluster.put('k', 'é'.repeat(65)), 'VALUE_TOO_LARGE', /130 bytes/);
    assert.throws(() => cluster.faults.partition([[0, 1], [1]]), /node 1 is in two partition groups/);
    assert.throws(() => cluster.faults.drop({ probability: 1.5 }), /drop probability/);
    await stillWorks(cluster);
  });

  test('a timeout names who did not answer', async () => {
    const cluster = await start();
    const [a] = primaries(cluster, 'slow');
    cluster.faults.partition([[a], ALL5.filter((n) => n !== a)]);
    const e = await rejectsWith(
      cluster.put('slow', 'v', { consistency: 'ALL', timeoutMs: 100 }),
      'TIMEOUT',
      /timed out after 100 ms.*timed out waiting for nodes \d+,\d+/,
    );
    assert.deepEqual(e.details.acked, [a]);
    // the coordinator gives up inside the caller's 100 ms (its budget leaves room for the answer to come back)
    const window = 100 - 2 * cluster.config.tickMs;
    assert.ok(cluster.nowMs >= window && cluster.nowMs <= 100, `timed out at virtual ${cluster.nowMs} ms`);
    cluster.faults.heal();
    await stillWorks(cluster);
  });

  test('a full mailbox refuses work with OVERLOADED instead of queueing without bound', async () => {
    const cluster = await start();
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => cluster.put('hot', `v${i}`)));
    const refused = results.filter((r) => r.status === 'rejected');
    assert.ok(refused.length > 0);
    for (const r of refused) assert.equal(((r as PromiseRejectedResult).reason as LeaderlessError).code, 'OVERLOADED');
    assert.ok(results.some((r) => r.status === 'fulfilled'));
    await stillWorks(cluster);
  });

  test('a strict write that cannot reach W fails with QUORUM_UNREACHABLE; every call after stop() throws STOPPED', async () => {
    const cluster = await SimCluster.start({ nodes: 3, replication: 3, sloppy: false });
    await cluster.faults.kill(2, { stayDown: true });
    assert.equal(cluster.nodeStatus(2), 'down');
    const e = await rejectsWith(cluster.put('k', 'v', { consistency: 'ALL' }), 'QUORUM_UNREACHABLE', /needed 3/);
    assert.ok(Array.isArray(e.details.acked));
    await cluster.put('k', 'v2', { consistency: 'QUORUM' });
    assert.deepEqual((await cluster.get('k')).values, ['v2']);
    const pending = cluster.put('k', 'v3');
    await cluster.stop();
    await rejectsWith(pending, 'STOPPED');
    await rejectsWith(cluster.get('k'), 'STOPPED', /stopped/);
    assert.throws(() => cluster.inspect(0, 'k'), (x: LeaderlessError) => x.code === 'STOPPED');
    await cluster.stop();
  });
});

describe('sim: node faults', () => {
  test('a crash with wipe comes back under a new DVV id, and read repair refills it', async () => {
    const cluster = await SimCluster.start({ nodes: 3, replication: 3, seed: 3 });
    await cluster.put('k', 'v', { consistency: 'ALL' });
    cluster.faults.kill(1, { wipe: true, stayDown: true });
    assert.equal(cluster.nodeStatus(1), 'down');
    assert.equal(cluster.inspect(1, 'k'), undefined);
    cluster.faults.restart(1);
    assert.equal(cluster.replicaId(1), '1.1');
    await cluster.get('k', { consistency: 'ALL', readRepair: 'blocking' });
    assert.deepEqual(cluster.inspect(1, 'k')?.values, ['v']);
  });

  test('a paused node buffers what arrives and handles it on resume', async () => {
    const cluster = await SimCluster.start({ nodes: 3, replication: 3, seed: 4 });
    cluster.faults.pause(2);
    await cluster.put('p', 'v', { w: 2 });
    await cluster.settle();
    assert.equal(cluster.inspect(2, 'p'), undefined);
    assert.equal(cluster.nodeStatus(2), 'up', 'a pause is not detected');
    cluster.faults.resume(2);
    await cluster.settle();
    assert.deepEqual(cluster.inspect(2, 'p')?.values, ['v']);
  });

  test('a delay fault slows every message into a replica; drop(1) loses them all', async () => {
    const latency: Distribution = { kind: 'constant', ms: 1 };
    const cluster = await SimCluster.start({ nodes: 3, replication: 3, latency, seed: 1, timeoutMs: 500 });
    cluster.faults.delay({ ms: 50 });
    const t0 = cluster.nowMs;
    await cluster.put('d', 'v');
    // into a replica (client -> coordinator, replicate, ack): 1 + 50 ms each; the reply into the client: 1 ms
    assert.equal(cluster.nowMs - t0, 51 + 51 + 51 + 1);
    cluster.faults.clear();
    cluster.faults.drop({ probability: 1 });
    await rejectsWith(cluster.get('d'), 'TIMEOUT');
    cluster.faults.clear();
    assert.deepEqual((await cluster.get('d')).values, ['v']);
  });
});

describe('sim: determinism and virtual time', () => {
  /** A small concurrent workload on jittery links; its digest is what the replay tests compare. */
  async function workload(seed: number): Promise<{ digest: string; nowMs: number; values: string[] }> {
    const cluster = await SimCluster.start({
      nodes: 7, replication: 3, seed, duplicateProbability: 0.05, dropProbability: 0.01, timeoutMs: 300,
      latency: { kind: 'mixture', parts: [{ weight: 9, dist: { kind: 'exponential', rate: 1 } }, { weight: 1, dist: { kind: 'pareto', xm: 2, alpha: 1.5 } }] },
    });
    const clients = [cluster, await cluster.client(), await cluster.client({ near: 3 })];
    await Promise.all(
      clients.map(async (c, i) => {
        for (let j = 0; j < 20; j++) {
          const key = `k${(i + j) % 4}`;
          const r = await c.get(key).catch(() => undefined);
          await c.put(key, `c${i}-${j}`, r ? { context: r.context } : {}).catch(() => undefined);
        }
      }),
    );
    await cluster.settle();
    const values = (await cluster.get('k0', { consistency: 'ALL' }).catch(() => ({ values: [] }))).values.map(String).sort();
    return { digest: cluster.traceDigest(), nowMs: cluster.nowMs, values };
  }

  test('the same seed gives the same digest, time and values; different seeds give different digests', async () => {
    const a = await workload(42);
    const b = await workload(42);
    assert.deepEqual(b, a);
    assert.match(a.digest, /^[0-9a-f]{16}$/);
    const digests = new Set<string>([a.digest]);
    for (const seed of [1, 2, 3, 43]) digests.add((await workload(seed)).digest);
    assert.equal(digests.size, 5, 'five seeds, five digests');
  });

  test('virtual time stands still while the application is idle and moves exactly by event times', async () => {
    const cluster = await SimCluster.start({ nodes: 3, replication: 3, latency: { kind: 'constant', ms: 1 }, seed: 9 });
    assert.equal(cluster.nowMs, 0);
    for (let i = 0; i < 100; i++) await Promise.resolve();
    assert.equal(cluster.nowMs, 0);
    await cluster.put('t', 'v'); // client -> coordinator -> replicas -> acks -> client: four 1 ms hops
    assert.equal(cluster.nowMs, 4);
    await cluster.get('t'); // two replicas asked, two replies: two hops
    assert.equal(cluster.nowMs, 6);
    await cluster.sleep(100);
    assert.equal(cluster.nowMs, 106);
    const events = cluster.simCounters.events;
    assert.ok(events > 0 && events < 30, `${events} events`);
  });

  test('same seed, same digest: property over seeds and small workloads', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 0xffffffff }), fc.array(fc.tuple(fc.nat(3), fc.boolean()), { maxLength: 12 }), async (seed, ops) => {
        const run = async (): Promise<string> => {
          const c = await SimCluster.start({ nodes: 4, replication: 3, seed, latency: { kind: 'exponential', rate: 2 } });
          await Promise.all(ops.map(([k, isPut], i) => (isPut ? c.put(`k${k}`, `v${i}`) : c.get(`k${k}`))));
          return c.traceDigest();
        };
        assert.equal(await run(), await run());
      }),
      fcParams(25),
    );
  });
});

describe('sim: PRNG, distributions and the event queue', () => {
  test('the PRNG is a pure function of its seed; different seeds give different streams', () => {
    const draw = (seed: number): number[] => {
      const r = new Prng(seed);
      return Array.from({ length: 8 }, () => r.next());
    };
    assert.deepEqual(draw(7), draw(7));
    assert.notDeepEqual(draw(7), draw(8));
    assert.throws(() => new Prng(1.5), /seed must be an integer/);
  });

  test('samples follow their distributions (means within 3% over 200k draws, a fixed seed)', () => {
    const rng = new Prng(123);
    const mean = (d: Distribution): number => {
      let s = 0;
      for (let i = 0; i < 200_000; i++) s += sample(rng, d);
      return s / 200_000;
    };
    const table: Array<[Distribution, number]> = [
      [{ kind: 'constant', ms: 2 }, 2],
      [{ kind: 'uniform', minMs: 1, maxMs: 3 }, 2],
      [{ kind: 'exponential', rate: 0.5 }, 2],
      [{ kind: 'pareto', xm: 1, alpha: 3 }, 1.5], // mean alpha xm / (alpha - 1)
      [{ kind: 'mixture', parts: [{ weight: 3, dist: { kind: 'constant', ms: 1 } }, { weight: 1, dist: { kind: 'constant', ms: 5 } }] }, 2],
      [{ kind: 'shifted', offsetMs: 75, dist: { kind: 'constant', ms: 1 } }, 76],
    ];
    for (const [d, expected] of table) {
      const m = mean(d);
      assert.ok(Math.abs(m - expected) / expected < 0.03, `${d.kind}: mean ${m}, expected ${expected}`);
    }
    for (let i = 0; i < 10_000; i++) assert.ok(rng.pareto(0.235, 10) >= 0.235);
  });

  test('malformed distributions are refused with what is allowed', () => {
    const bad: unknown[] = [
      null,
      { kind: 'gamma' },
      { kind: 'uniform', minMs: 3, maxMs: 1 },
      { kind: 'exponential', rate: 0 },
      { kind: 'mixture', parts: [] },
      { kind: 'constant', ms: -1 },
    ];
    for (const d of bad) assert.throws(() => checkDistribution(d, 'latency'), /latency: .*a distribution is/);
  });

  test('the event queue pops in (time, push order), like a stable sort', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (times) => {
        const q = new EventQueue<{ timeMs: number; seq: number; id: number }>(1000);
        times.forEach((t, id) => q.push({ timeMs: t, seq: 0, id }));
        const popped: number[] = [];
        for (let e = q.pop(); e !== undefined; e = q.pop()) popped.push(e.id);
        const model = times.map((t, id) => ({ t, id })).sort((x, y) => x.t - y.t || x.id - y.id).map((x) => x.id);
        assert.deepEqual(popped, model);
      }),
      fcParams(200),
    );
  });

  test('the event queue is bounded: a push beyond capacity is refused and counted', () => {
    const q = new EventQueue<{ timeMs: number; seq: number }>(2);
    assert.equal(q.push({ timeMs: 1, seq: 0 }), true);
    assert.equal(q.push({ timeMs: 2, seq: 0 }), true);
    assert.equal(q.push({ timeMs: 3, seq: 0 }), false);
    assert.equal(q.overflows, 1);
  });
});

describe('sim: scale', () => {
  test('a 100-node cluster serves 20 concurrent clients; simulated ops per second of wall time are printed', async () => {
    const cluster = await SimCluster.start({ nodes: 100, replication: 3, seed: 100 });
    const clients = await Promise.all(Array.from({ length: 20 }, () => cluster.client()));
    const opsPerClient = 400;
    const wallStart = performance.now();
    let ok = 0;
    await Promise.all(
      clients.map(async (c, i) => {
        for (let j = 0; j < opsPerClient; j++) {
          const key = `key:${(i * 131 + j * 17) % 2000}`;
          if (j % 2 === 0) await c.put(key, `v${i}-${j}`);
          else await c.get(key);
          ok++;
        }
      }),
    );
    const wallMs = performance.now() - wallStart;
    assert.equal(ok, 20 * opsPerClient);
    const m = await cluster.metrics();
    assert.equal(m.totals.putsOk, 20 * opsPerClient / 2);
    assert.ok(m.nodes.filter((n) => n.store.keys > 0).length > 90, 'keys spread over the ring');
    console.log(
      `sim scale: 100 nodes, ${ok} ops in ${wallMs.toFixed(0)} ms wall = ${Math.round((ok / wallMs) * 1000)} simulated ops/s; ` +
        `${cluster.nowMs.toFixed(0)} virtual ms, ${cluster.simCounters.events} events`,
    );
  });
});
