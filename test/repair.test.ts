// Anti-entropy on real worker threads (3 nodes, N=3, so every pair of nodes shares the one range "0,1,2"):
// a node paused while 1000 keys are written at W=2 is brought to hold exactly what its peers hold, exchanging only
// the differing segments; a wiped node is refilled; a restarted node rebuilds its trees on the hash pool and finds
// nothing to repair; a deleted key partitioned from one replica stays deleted on every replica, before and after
// its tombstone is reaped; health() flags an overdue repair; periodic exchanges repair without being asked.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keyId } from '../actors/hash.js';
import { segmentOf } from '../actors/merkle.js';
import { Cluster, type ClusterOptions } from '../runtime/index.js';
import { eventually } from './helpers/eventually.js';

const FAST: ClusterOptions = {
  nodes: 3,
  replication: 3,
  failureDetector: { sampleMs: 10, minStdDeviationMs: 10, threshold: 8 },
  restart: { delayMs: 20 },
  hintAfterMs: 50,
  readRetryMs: 50,
  readRepair: 'off',
};

/** Asserts every node holds exactly the same versions of every key (read from shared memory, no messages). */
function assertSameEverywhere(cluster: Cluster, keys: string[]): void {
  for (const k of keys) {
    const seen = [0, 1, 2].map((n) => cluster.inspect(n, k));
    assert.ok(seen[0] !== undefined, `node 0 lacks ${k}`);
    assert.deepEqual(seen[1], seen[0], `node 1 differs on ${k}`);
    assert.deepEqual(seen[2], seen[0], `node 2 differs on ${k}`);
  }
}

async function pauseUntilDown(cluster: Cluster, node: number): Promise<void> {
  const down = cluster.waitFor('node-down', node, 5000);
  await cluster.faults.pause(node);
  await down;
}

async function resumeUntilUp(cluster: Cluster, node: number): Promise<void> {
  await cluster.faults.resume(node);
  await eventually(`node ${node} up`, () => cluster.nodeStatus(node) === 'up');
}

async function putAll(cluster: Cluster, keys: string[], consistency: 'ALL' | 'QUORUM'): Promise<void> {
  for (let i = 0; i < keys.length; i += 100) {
    await Promise.all(keys.slice(i, i + 100).map((k) => cluster.put(k, `v-${k}`, { consistency })));
  }
}

describe('repair on worker threads', () => {
  test('a node paused during 1000 writes at W=2 ends with exactly what its peers hold; only differing segments move', async () => {
    const segments = 4096;
    const cluster = await Cluster.start({ ...FAST, write: 2, antiEntropy: { segments } });
    try {
      const before = Array.from({ length: 2000 }, (_, i) => `base${i}`);
      await putAll(cluster, before, 'ALL');
      await new Promise((r) => setTimeout(r, 150)); // let the detector learn the heartbeat interval
      await pauseUntilDown(cluster, 2);
      const missed = Array.from({ length: 1000 }, (_, i) => `missed${i}`);
      await putAll(cluster, missed, 'QUORUM');
      await resumeUntilUp(cluster, 2);
      assert.equal(cluster.inspect(2, 'missed0'), undefined);

      const r = await cluster.repair();
      const differing = new Set(missed.map((k) => segmentOf(keyId(k), segments))).size;
      console.log(`# repair: ${JSON.stringify(r)}; ${differing} segments hold the missed keys`);
      assert.equal(r.ranges, 1);
      assert.equal(r.exchanges, 3);
      assert.equal(r.failed, 0);
      assert.equal(r.segmentsExchanged, differing, 'exactly the segments holding missed keys were listed');
      assert.ok(differing < segments);
      assert.equal(r.keysSent, missed.length, 'only the missed keys moved');
      assertSameEverywhere(cluster, [...before, ...missed]);

      const again = await cluster.repair();
      assert.equal(again.keysSent, 0);
      assert.equal(again.segmentsExchanged, 0);
      assert.equal(again.nodesCompared, 3, 'one root per pair');
      const m = await cluster.metrics();
      assert.ok(m.totals.aeExchanges >= 6);
      assert.equal(m.totals.aeKeysRepaired, missed.length);
      assert.ok(m.totals.aeBytesMoved > 0);
    } finally {
      await cluster.stop();
    }
  });

  test('a wiped node is fully refilled by repair', async () => {
    const cluster = await Cluster.start({ ...FAST, antiEntropy: { segments: 256 } });
    try {
      const keys = Array.from({ length: 500 }, (_, i) => `k${i}`);
      await putAll(cluster, keys, 'ALL');
      const restarted = cluster.waitFor('node-restarted', 1);
      await cluster.faults.crash(1, { wipe: true });
      await restarted;
      await eventually('node 1 up', () => cluster.nodeStatus(1) === 'up');
      assert.equal(cluster.inspect(1, 'k0'), undefined);
      const r = await cluster.repair();
      assert.equal(r.failed, 0);
      assert.ok(r.keysSent >= keys.length);
      assertSameEverywhere(cluster, keys);
      assert.equal((await cluster.metrics()).nodes[1].store.keys, keys.length);
    } finally {
      await cluster.stop();
    }
  });

  test('a restarted node rebuilds its trees on the hash pool and then has nothing to repair', async () => {
    const cluster = await Cluster.start({ ...FAST, antiEntropy: { segments: 1024, poolMinKeys: 1, rebuildBatchSegments: 64 } });
    try {
      const keys = Array.from({ length: 1000 }, (_, i) => `p${i}`);
      await putAll(cluster, keys, 'ALL');
      const restarted = cluster.waitFor('node-restarted', 0);
      await cluster.faults.kill(0);
      await restarted;
      await eventually('node 0 up', () => cluster.nodeStatus(0) === 'up');
      const r = await cluster.repair(); // waits for node 0's rebuild before its round
      const ae = (await cluster.metrics()).nodes[0].ae;
      assert.equal(ae.rebuilds, 1);
      assert.ok(ae.lastRebuild !== null && ae.lastRebuild.keys === keys.length && ae.lastRebuild.batches >= 2, JSON.stringify(ae.lastRebuild));
      assert.equal(r.failed, 0, JSON.stringify(r));
      assert.equal(r.keysSent, 0);
      assert.equal(r.segmentsExchanged, 0);
    } finally {
      await cluster.stop();
    }
  });

  test('a delete a partitioned replica missed: the key stays deleted everywhere, before and after reaping', async () => {
    const cluster = await Cluster.start({
      ...FAST,
      write: 2,
      antiEntropy: { tombstoneGraceMs: 200, exchangeTimeoutMs: 500 },
    });
    try {
      await cluster.put('gone', 'old', { consistency: 'ALL' });
      await cluster.put('kept', 'v', { consistency: 'ALL' });
      await new Promise((r) => setTimeout(r, 150));
      await pauseUntilDown(cluster, 2);
      await cluster.delete('gone', { consistency: 'QUORUM', context: (await cluster.get('gone', { consistency: 'QUORUM' })).context });
      // nodes 0 and 1 confirm each other, but node 2 never confirmed: past the grace, nothing is reaped
      await cluster.repair();
      await new Promise((r) => setTimeout(r, 400));
      for (const n of [0, 1]) assert.equal(cluster.inspect(n, 'gone')?.deleted, true, `node ${n} keeps its tombstone`);
      assert.deepEqual(cluster.inspect(2, 'gone')?.values, ['old']);

      await resumeUntilUp(cluster, 2);
      const healed = await cluster.repair();
      for (const n of [0, 1, 2]) assert.equal(cluster.inspect(n, 'gone')?.deleted, true, `node ${n} holds the tombstone`);
      assert.equal((await cluster.get('gone', { consistency: 'ALL' })).found, false);
      const confirming = await cluster.repair(); // completes the confirmations the first healed round could not
      await eventually('every copy reaped', () => [0, 1, 2].every((n) => cluster.inspect(n, 'gone') === undefined), 5000);
      assert.equal((await cluster.metrics()).totals.tombstonesReaped, 3);

      const after = await cluster.repair();
      assert.equal(after.keysSent, 0);
      // each round reports the reaps since the previous one returned: together, all 3
      assert.equal(healed.tombstonesReaped + confirming.tombstonesReaped + after.tombstonesReaped, 3);
      for (const n of [0, 1, 2]) {
        assert.equal(cluster.inspect(n, 'gone'), undefined, `node ${n}: the deleted key came back`);
        assert.deepEqual(cluster.inspect(n, 'kept')?.values, ['v']);
      }
      assert.equal((await cluster.get('gone', { consistency: 'ALL' })).found, false);
    } finally {
      await cluster.stop();
    }
  });

  test('health() flags a node whose last complete repair is older than the bound', async () => {
    const cluster = await Cluster.start({ ...FAST, antiEntropy: { maxRepairAgeMs: 60_000 } });
    try {
      await cluster.put('h', 'x', { consistency: 'ALL' });
      const fresh = await cluster.health();
      assert.equal(fresh.ok, true, 'a new cluster is within the bound');
      await cluster.repair();
      const ok = await cluster.health();
      assert.equal(ok.ok, true);
      assert.ok(ok.nodes.every((n) => n.lastRepairMs !== null));
      await new Promise((r) => setTimeout(r, 20));
      const late = await cluster.health({ maxRepairAgeMs: 10 });
      assert.equal(late.ok, false);
      assert.equal(late.alerts.length, 3);
      assert.match(late.alerts[0], /node 0 repair overdue: last complete repair \d+ ms ago, bound 10 ms/);
    } finally {
      await cluster.stop();
    }
  });

  test('periodic exchanges (intervalMs) repair a node without cluster.repair()', async () => {
    const cluster = await Cluster.start({ ...FAST, write: 2, antiEntropy: { intervalMs: 20, segments: 256 } });
    try {
      await new Promise((r) => setTimeout(r, 150));
      await pauseUntilDown(cluster, 1);
      const keys = Array.from({ length: 200 }, (_, i) => `periodic${i}`);
      await putAll(cluster, keys, 'QUORUM');
      await resumeUntilUp(cluster, 1);
      await eventually('node 1 refilled by periodic exchanges', () => keys.every((k) => cluster.inspect(1, k) !== undefined), 5000);
      assertSameEverywhere(cluster, keys);
    } finally {
      await cluster.stop();
    }
  });
});

