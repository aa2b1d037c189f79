// Elastic membership on the thread runtime (issue 12): the maxNodes option, the MembershipPort's plumbing on its own
// (a joining node's worker is spawned, linked, supervised; a retired one stops for good and keeps its address), and a
// whole change under load: a 3-node cluster grows to 6 and shrinks back to 3 while a client writes and reads, and the
// oracle (bench/oracle.ts) finds no acknowledged write lost, every key reads back, and each node then holds exactly
// the keys the new ring gives it, with as many keys moved as the plan predicted.
import { Prng } from '../runtime/host/prng.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError, InvalidConfigError } from '../actors/errors.js';
import type { MembershipSnapshot } from '../actors/membership/snapshot.js';
import { plan } from '../actors/membership/plan.js';
import { MAX_NODES, baseMembership, resolveConfig } from '../runtime/config.js';
import { ThreadCluster } from '../runtime/threads/cluster.js';
import type { ThreadMembershipPort } from '../runtime/threads/membership-port.js';
import type { WorkerSlot } from '../runtime/threads/workers.js';
import type { NodeEvent } from '../runtime/api.js';
import type { MembershipChangeResult } from '../runtime/host/membership-driver.js';
import { analyze, type HistoryOp, type Outcome, type ReadOp, type WriteOp } from '../bench/oracle.js';
import { outcomeOf } from './helpers/kv-history.js';
import { nowMs } from '../runtime/threads/clock.js';
import { eventually } from './helpers/eventually.js';
import { hash32, keyId } from '../actors/hash.js';
import { SharedView } from '../runtime/threads/shared-view.js';

/** The cluster's internals this file checks the plumbing through (private: reached by a cast, tests only). */
interface Internals {
  members: { port: ThreadMembershipPort };
  hosts: WorkerSlot[];
  clients: Array<{ linked: Set<number> }>;
}
const internals = (c: ThreadCluster): Internals => c as unknown as Internals;

describe('maxNodes', () => {
  test('defaults to max(16, 2 x nodes), at most MAX_NODES (256)', () => {
    assert.equal(resolveConfig({ nodes: 3 }).maxNodes, 16);
    assert.equal(resolveConfig({ nodes: 10 }).maxNodes, 20);
    assert.equal(resolveConfig({ nodes: 200 }).maxNodes, MAX_NODES);
    assert.equal(resolveConfig({ nodes: 3, maxNodes: 3 }).maxNodes, 3);
    assert.equal(resolveConfig({ nodes: 3, maxNodes: MAX_NODES }).maxNodes, MAX_NODES);
  });

  test('fewer than the nodes, more than MAX_NODES, or not an integer: a typed error that says what is allowed', () => {
    for (const bad of [2, MAX_NODES + 1, 3.5, '8', -1]) {
      assert.throws(
        () => resolveConfig({ nodes: 3, maxNodes: bad as number }),
        (e: unknown) => e instanceof InvalidConfigError && new RegExp(`maxNodes must be an integer from 3 to ${MAX_NODES}`).test(e.message),
        `maxNodes ${String(bad)}`,
      );
    }
  });

  test('a cluster with no free address refuses addNode (and replaceNode) before anything changes', async () => {
    const cluster = await ThreadCluster.start({ nodes: 3, replication: 3, maxNodes: 3 });
    try {
      await assert.rejects(cluster.addNode(), (e: unknown) => e instanceof InvalidArgumentError && /used all 3 node addresses \(maxNodes/.test(e.message));
      await assert.rejects(cluster.replaceNode(1), (e: unknown) => e instanceof InvalidArgumentError && /maxNodes/.test(e.message));
      await assert.rejects(cluster.addNode({ datacenter: 'mars' }), (e: unknown) => e instanceof InvalidArgumentError && /datacenter must be one of the cluster's datacenters \(dc1\)/.test(e.message));
      await assert.rejects(cluster.addNode({ zone: 'a' } as never), (e: unknown) => e instanceof InvalidArgumentError && /unknown option 'zone'/.test(e.message));
      await assert.rejects(cluster.removeNode(0), (e: unknown) => e instanceof InvalidArgumentError && /fewer than its replication factor 3/.test(e.message));
      await assert.rejects(cluster.removeNode(7), InvalidArgumentError);
      assert.deepEqual(cluster.membership(), { epoch: 1, members: [0, 1, 2], left: [], inProgress: null, changes: [] });
    } finally {
      await cluster.stop();
    }
  });
});

test('a cluster stopped while a node joins: addNode settles with STOPPED', { timeout: 30_000 }, async () => {
  const cluster = await ThreadCluster.start({ nodes: 3, replication: 3 });
  const joining = cluster.addNode();
  await cluster.stop();
  await assert.rejects(joining, (e: unknown) => (e as { code?: string }).code === 'STOPPED');
  assert.deepEqual(internals(cluster).hosts.filter((h) => !h.exited).map((h) => h.node), [], 'no worker outlives stop(), the joining one included');
  await assert.rejects(cluster.addNode(), (e: unknown) => (e as { code?: string }).code === 'STOPPED');
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
    assert.deepEqual(m.nodes.map((n) => [n.node, n.status, n.left === true]), [[0, 'up', false], [1, 'up', false], [2, 'up', false], [3, 'down', true]]);
    const h = await cluster.health();
    assert.deepEqual(h.nodes.map((n) => [n.node, n.reachable]), [[0, true], [1, true], [2, true]], 'health lists the members');
    assert.ok(!h.alerts.some((a) => a.startsWith('node 3 ')), `a node that left is no alert: ${h.alerts.join('; ')}`);
    assert.equal(cluster.nodeStatus(3), 'down', 'address 3 is still a node id (it stays reserved)');
    await cluster.faults.clear(); // skips the retired node
  });
});

describe('grow a 3-node cluster to 6 and shrink it back to 3 under load (siblings, N=3, QUORUM)', () => {
  const KEYS = 300;
  const keys = Array.from({ length: KEYS }, (_, i) => `key-${i}`);

  test('no acknowledged write is lost, every key reads back, and nodes hold exactly what the new ring gives them', { timeout: 180_000 }, async () => {
    const cluster = await ThreadCluster.start({ nodes: 3, replication: 3, read: 'QUORUM', write: 'QUORUM', conflicts: 'siblings' });
    const history: HistoryOp[] = [];
    try {
      for (const key of keys) await recordWrite(cluster, history, key, `${key}#0`, []);
      assert.ok(history.every((o) => o.outcome === 'ok'), 'the load before any change is acknowledged');
      await cluster.settle();
      assert.deepEqual(holderMismatches(cluster, keys), [], 'before any change');
      // half the load goes through a second client of this thread: every client follows the published membership
      const second = await cluster.client();
      const load = startLoad([cluster, second], cluster, history, keys);
      const changes: Array<{ change: string; predicted: number; counted: number; ms: number; keysMoved: number }> = [];
      const run = async (name: string, change: () => Promise<MembershipChangeResult>): Promise<void> => {
        const before = holders(cluster, keys);
        const result = await change();
        const after = holders(cluster, keys);
        const moved = keys.filter((k) => before.get(k) !== after.get(k)).length / KEYS;
        changes.push({ change: name, predicted: result.movedFraction, counted: moved, ms: Math.round(result.durationMs), keysMoved: result.keysMoved });
        assert.deepEqual(holderMismatches(cluster, keys), [], `after ${name}: every key is held by exactly its replicas on the new ring`);
      };
      for (let i = 0; i < 3; i++) await run(`join ${3 + i}`, () => cluster.addNode());
      assert.deepEqual(cluster.membership().members, [0, 1, 2, 3, 4, 5]);
      for (const node of [0, 3, 4]) await run(`leave ${node}`, () => cluster.removeNode(node));
      const ops = await load.stop();
      const info = cluster.membership();
      assert.deepEqual([info.epoch, info.members, info.left, info.inProgress], [7, [1, 2, 5], [0, 3, 4], null]);
      for (const c of changes) assert.ok(Math.abs(c.counted - c.predicted) <= 0.1, `${c.change}: moved ${c.counted} of the keys, the plan said ${c.predicted}`);
      await cluster.settle();
      const finalReads = new Map<string, readonly string[] | null>();
      for (const key of keys) {
        const r = await cluster.get(key, { consistency: 'ALL' }).catch(() => null);
        finalReads.set(key, r === null ? null : r.values.map(String));
      }
      const report = analyze({ mode: 'siblings', history, finalReads });
      const okOps = history.filter((o) => o.outcome === 'ok').length;
      const round = (x: number): number => Math.round(x * 1000) / 1000;
      const moves = changes.map((c) => `${c.change}: ${c.ms} ms, ${c.keysMoved} keys streamed, moved ${round(c.counted)} (plan ${round(c.predicted)})`);
      console.log(`# ${ops.count} ops in ${ops.ms} ms under changes (${Math.round((1000 * ops.count) / ops.ms)}/s), ${okOps} ok of ${history.length}; ${moves.join('; ')}`);
      assert.ok(ops.count / (ops.ms / 1000) >= 100, `the workload ran at ${ops.count} ops in ${ops.ms} ms`);
      assert.ok(okOps >= 0.95 * history.length, `${okOps} of ${history.length} operations succeeded`);
      assert.deepEqual(keys.filter((k) => [...second.ring.preferenceList(hash32(keyId(k)))].join() !== cluster.replicasOf(k).join()), [], 'the second client places keys on the new ring');
      assert.equal(report.lostWrites.checked, true);
      assert.deepEqual([report.lostWrites.lost, report.lostWrites.unverified], [0, 0], `lost: ${JSON.stringify(report.lostWrites.examples)}`);
      assert.ok(report.lostWrites.acknowledged > KEYS);
      assert.deepEqual(keys.filter((k) => (finalReads.get(k) ?? []).length === 0), [], 'every key reads back at ALL');
      assert.deepEqual(holderMismatches(cluster, keys), [], 'after the workload and settle');
    } finally {
      await cluster.stop();
    }
  });
});

describe('replace a dead node', () => {
  test('the replacement takes its ranges from the survivors: every key reads back, held as the new ring says', { timeout: 60_000 }, async () => {
    const cluster = await ThreadCluster.start({ nodes: 4, replication: 3, read: 'QUORUM', write: 'QUORUM' });
    try {
      const keys = Array.from({ length: 200 }, (_, i) => `r-${i}`);
      for (const key of keys) await cluster.put(key, `${key}=v`);
      await cluster.settle();
      // a client made from a handle (as another thread would attach one): it hears of the change over its control port
      const attached = ThreadCluster.attach(await cluster.createHandle());
      await cluster.faults.kill(1, { stayDown: true });
      const result = await cluster.replaceNode(1);
      assert.deepEqual([result.node, result.replacement, result.epoch], [1, 4, 2]);
      const info = cluster.membership();
      assert.deepEqual([info.members, info.left], [[0, 2, 3, 4], [1]]);
      assert.equal(cluster.nodeStatus(4), 'up');
      await assert.rejects(cluster.faults.restart(1), InvalidArgumentError, 'the replaced node is gone for good');
      // node 1's store is what its dead worker left (its disk is taken to be gone): only members are judged
      assert.deepEqual(holderMismatches(cluster, keys, [1]), []);
      const missing = [];
      for (const key of keys) if ((await cluster.get(key, { consistency: 'ALL' })).values[0] !== `${key}=v`) missing.push(key);
      assert.deepEqual(missing, []);
      const onNewRing = (): boolean => keys.every((k) => [...attached.ring.preferenceList(hash32(keyId(k)))].join() === cluster.replicasOf(k).join());
      await eventually('the attached client places keys on the new ring', onNewRing);
      const viaAttached = await attached.get(keys[0], { consistency: 'ALL' }); // needs its port to the replacement, node 4
      assert.deepEqual(viaAttached.values, [`${keys[0]}=v`]);
      assert.ok(attached.inspect(4, keys.find((k) => cluster.replicasOf(k).includes(4))!) !== undefined, 'it reads node 4\'s store');
      attached.close();
    } finally {
      await cluster.stop();
    }
  });
});

/** One put, recorded for the oracle (covers: the values of the read whose context it passes). */
async function recordWrite(c: Client, history: HistoryOp[], key: string, value: string, covers: string[], context?: string): Promise<void> {
  const op: WriteOp = { kind: 'write', key, startMs: nowMs(), endMs: 0, outcome: 'ok', value, covers };
  history.push(op);
  try {
    await c.put(key, value, context === undefined ? {} : { context });
  } catch (e) {
    op.outcome = outcomeOf(e).outcome as Outcome;
  }
  op.endMs = nowMs();
}

type Client = Pick<ThreadCluster, 'get' | 'put'>;

/** Four loops of read-then-write (with the read's context) on keys drawn from a seeded generator, ~10 ms apart. */
function startLoad(clients: Client[], c: ThreadCluster, history: HistoryOp[], keys: string[]): { stop(): Promise<{ count: number; ms: number }> } {
  let running = true;
  let count = 0;
  let seq = 0;
  const rng = new Prng(12);
  const startMs = c.nowMs;
  const loop = async (_: unknown, i: number): Promise<void> => {
    const client = clients[i % clients.length];
    while (running) {
      const key = keys[rng.int(keys.length)];
      const read: ReadOp = { kind: 'read', key, startMs: nowMs(), endMs: 0, outcome: 'ok', values: [] };
      history.push(read);
      let context: string | undefined;
      try {
        const r = await client.get(key);
        read.values = r.values.map(String);
        context = r.context;
      } catch (e) {
        read.outcome = outcomeOf(e).outcome as Outcome;
      }
      read.endMs = nowMs();
      count++;
      if (context !== undefined) {
        await recordWrite(client, history, key, `${key}#w${++seq}`, [...read.values], context);
        count++;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const loops = Array.from({ length: 4 }, loop);
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { count, ms: c.nowMs - startMs };
    },
  };
}

/** For each key, the nodes whose store holds it, as a sorted list in a string. */
function holders(c: ThreadCluster, keys: string[], skip: readonly number[] = []): Map<string, string> {
  const nodes = Array.from({ length: internals(c).hosts.length }, (_, i) => i).filter((i) => !skip.includes(i));
  return new Map(keys.map((k) => [k, nodes.filter((i) => c.inspect(i, k) !== undefined).join(',')]));
}

/** Keys not held by exactly their replicas on the cluster's current ring: "key: held by ... ring says ...". */
function holderMismatches(c: ThreadCluster, keys: string[], skip: readonly number[] = []): string[] {
  const held = holders(c, keys, skip);
  const out: string[] = [];
  for (const k of keys) {
    const want = c.replicasOf(k).sort((a, b) => a - b).join(',');
    if (held.get(k) !== want) out.push(`${k}: held by ${held.get(k)}, ring says ${want}`);
  }
  return out;
}

// A client in another thread learns of a membership change by a posted message, so it can lag. While it does, it
// must not read a replica's store directly: the replica may already have dropped a range the client's ring still
// gives it, and by message it would answer WRONG_EPOCH instead (the client retries on the new ring). Here the lag is
// made by publishing a rank in the control block that the attached client has not taken.
test('a client that has not taken the membership last published reads by message, not from stores', { timeout: 30_000 }, async () => {
  const cluster = await ThreadCluster.start({ nodes: 4, replication: 3, read: 2, write: 2 });
  try {
    const handle = await cluster.createHandle();
    const client = ThreadCluster.attach(handle);
    await client.put('k', 'v');
    assert.deepEqual((await client.get('k')).values, ['v']);
    assert.equal(client.counters.getsLocal, 1, 'in step: a quorum read from the stores');
    const view = new SharedView(handle.view, cluster.config.maxNodes);
    view.publishMembership(1, 0); // a change this client has not heard of
    assert.deepEqual((await client.get('k')).values, ['v']);
    assert.deepEqual((await client.get('k', { consistency: 'ONE' })).values, ['v']);
    assert.equal(client.counters.getsLocal, 1, 'lagging: both reads went by message');
    view.publishMembership(0, 0);
    await client.get('k');
    assert.equal(client.counters.getsLocal, 2, 'in step again: from the stores');
    client.close();
  } finally {
    await cluster.stop();
  }
});
