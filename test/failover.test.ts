// One write, one value (issue 15, "a value written once can come back twice"). A client that fails a write over to
// a second coordinator cannot know whether the first one applied it: if it did, the value exists under two dots, and a
// later write whose context saw one copy supersedes only that one. So coordinator failover is off by default: a write
// goes to one coordinator, and a coordinator that does not answer fails the write as indeterminate (TIMEOUT, or
// QUORUM_UNREACHABLE "it may have been applied" once its link is known down). coordinatorFailoverMs > 0 opts in to
// at-least-once failover, and then a refusal from a later coordinator is not reported as a refusal.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hash32, keyId } from '../actors/hash.js';
import { LeaderlessError, OverloadedError, QuorumError, TimeoutError } from '../actors/errors.js';
import { afterFailover } from '../actors/coordinator/writes.js';
import { SimCluster } from '../runtime/sim/sim-cluster.js';
import { codeOf } from './helpers/errors.js';

const primaries = (c: SimCluster, key: string): number[] => [...c.ring.preferenceList(hash32(keyId(key)))];

describe('coordinator failover: one write, one value', () => {
  for (const seed of [1, 2, 3]) {
    test(`seed ${seed}: with the defaults, a write whose coordinator is slow is applied once`, async () => {
      const cluster = await SimCluster.start({ nodes: 5, replication: 3, seed, timeoutMs: 5000 });
      try {
        const key = `slow-${seed}`;
        const [coordinator] = primaries(cluster, key);
        cluster.faults.delay({ to: coordinator, ms: 1200 }); // slower than the old 1000 ms failover, well within the timeout
        const code = await codeOf(cluster.put(key, 'x', { consistency: 'ONE' }));
        cluster.faults.delay({ to: coordinator, ms: 0 });
        await cluster.settle();
        await cluster.repair();
        const got = await cluster.get(key, { consistency: 'ALL' });
        assert.deepEqual(got.values, code === 'ok' || got.values.length > 0 ? ['x'] : [], `put ended ${code}`);
        assert.equal((await cluster.metrics()).client.coordinatorFailovers, 0);
      } finally {
        await cluster.stop();
      }
    });
  }

  test('with the defaults, a write whose coordinator is cut off fails as indeterminate, not as a refusal, and is not sent elsewhere', async () => {
    const cluster = await SimCluster.start({ nodes: 5, replication: 3, seed: 9, timeoutMs: 3000 });
    try {
      const key = 'cut';
      const p = primaries(cluster, key);
      const client = await cluster.client({ near: [0, 1, 2, 3, 4].find((n) => !p.includes(n))! });
      await client.put('warm', 'w'); // the client's links have answered once (their learnt timeout applies)
      cluster.faults.partition([[p[0]], [0, 1, 2, 3, 4].filter((n) => n !== p[0])]);
      const t0 = cluster.nowMs;
      const code = await codeOf(client.put(key, 'x'));
      assert.ok(code === 'TIMEOUT' || code === 'QUORUM_UNREACHABLE', code);
      assert.ok(cluster.nowMs - t0 <= 3000 + 1, `took ${cluster.nowMs - t0} ms`);
      assert.equal(client.counters.coordinatorFailovers, 0);
    } finally {
      await cluster.stop();
    }
  });

  test('opting in to failover: a refusal from a later coordinator is reported as indeterminate (the first may have applied it)', () => {
    const refusal = new OverloadedError('replica 3 refused a hinted write: max hint window', { owner: 1 });
    const once = afterFailover(refusal, [2]);
    assert.equal(once, refusal, 'one coordinator asked: its refusal stands (nothing was written)');
    const twice = afterFailover(refusal, [2, 3]);
    assert.equal(twice.code, 'QUORUM_UNREACHABLE');
    assert.match(twice.message, /may have been applied/);
    assert.doesNotMatch(twice.message, /nothing was written/);
    assert.deepEqual((twice.details as { coordinators: number[] }).coordinators, [2, 3]);
    const nothing = new QuorumError('need 2 of 3 (nothing was written)', { needed: 2 });
    assert.doesNotMatch(afterFailover(nothing, [2, 3]).message, /nothing was written/);
    const timeout = new TimeoutError('write timed out', { timeoutMs: 5 });
    assert.equal(afterFailover(timeout, [2, 3]), timeout, 'an indeterminate error stays as it is');
  });

  test('a write pending when its client closes fails STOPPED and says it may have been applied', async () => {
    const cluster = await SimCluster.start({ nodes: 3, replication: 3, seed: 5, timeoutMs: 5000 });
    try {
      const client = await cluster.client();
      const key = 'closing';
      cluster.faults.delay({ to: primaries(cluster, key)[0], ms: 200 }); // the write is still in flight when the client closes
      const pending = client.put(key, 'x');
      const read = client.get('other');
      client.close();
      await assert.rejects(pending, (e: unknown) => e instanceof LeaderlessError && e.code === 'STOPPED' && /may have been applied/.test(e.message));
      await assert.rejects(read, (e: unknown) => e instanceof LeaderlessError && e.code === 'STOPPED' && !/may have been applied/.test(e.message));
    } finally {
      await cluster.stop();
    }
  });
});
