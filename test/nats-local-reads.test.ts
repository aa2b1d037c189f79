// Scenario: zero-hop reads over NATS. A serving process (here, this test's own process) hosts all three replicas of
// a three-node cluster; a client made beside them (server.client()) reads a consistency-ONE get straight from the
// replica's shared-memory store, without a message (a quorum read too, by default), while a client that merely
// connected reads by message. Skipped
// only without nats-server (CI installs it and fails without it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, NatsServer } from '../runtime/index.js';
import { LocalNats, natsServerBinary } from '../bench/nats-local.js';

const binary = natsServerBinary();

test('a client beside its replicas reads their stores with no message; a remote one asks', { timeout: 30_000 }, async (t) => {
  if (binary === undefined) {
    assert.ok(process.env.CI === undefined, 'CI must install nats-server (.ci/run does: apt-get install nats-server)');
    return t.skip('nats-server is not installed (apt-get install nats-server); CI installs it');
  }
  const local = await LocalNats.start(binary);
  process.once('exit', () => local.stopAll());
  const server = await NatsServer.start({ nats: local.url, cluster: 'lr', nodes: [0, 1, 2], options: { nodes: 3, replication: 3, read: 2, write: 2 } });
  const beside = await server.client();
  const remote = await Cluster.connect({ nats: local.url, cluster: 'lr' });
  t.after(async () => {
    await beside.stop();
    await remote.stop();
    await server.stop();
    local.stopAll();
  });
  await remote.put('k', 'v1');
  const near = await beside.get('k', { consistency: 'ONE' });
  assert.deepEqual(near.values, ['v1']);
  assert.equal(beside.counters.getsLocal, 1, 'read from shared memory');
  const far = await remote.get('k', { consistency: 'ONE' });
  assert.deepEqual(far.values, ['v1']);
  assert.equal(remote.counters.getsLocal, 0, 'another process: by message');
  // a second process asked to serve a node this one serves is refused before it starts anything
  await assert.rejects(
    NatsServer.start({ nats: local.url, cluster: 'lr', nodes: [2] }),
    (e: Error & { code?: string }) => e.code === 'INVALID_CONFIG' && /node 2 of this cluster is served by another process already/.test(e.message),
  );
  const quorum = await beside.get('k');
  assert.deepEqual(quorum.values, ['v1']);
  assert.equal(beside.counters.getsLocal, 2, "R=2 reads the stores too under the default sharedMemoryReads: 'quorum'");
  const again = await remote.get('k');
  assert.deepEqual(again.values, ['v1']);
  assert.equal(remote.counters.getsLocal, 0, 'another process: a quorum read by message');
});
