// The replica host both runtimes share (runtime/host/replica-host.ts), on an in-process transport: the full-mailbox
// rule for replicate, the paused inbox and its bound, ticks, counters across incarnations, and the wiped-replica id.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_BASE, type Address, type Message, type PutRequest } from '../actors/protocol.js';
import { Replica } from '../actors/replica/index.js';
import { requirement } from '../actors/quorum/index.js';
import { MapStore } from '../runtime/host/store.js';
import { ReplicaHost, replicaIdOf } from '../runtime/host/replica-host.js';

const CLIENT = CLIENT_BASE;
const targets = [
  { node: 0, dc: 'dc1', primary: true },
  { node: 1, dc: 'dc1', primary: true },
];

function put(req: number, w: number): PutRequest {
  const need = requirement(w, 'write', { replicationByDc: { dc1: 2 }, localDc: 'dc1' });
  return { type: 'put', req, from: CLIENT, key: `k${req}`, value: 'v', context: null, targets, spares: [], need, sloppy: false, timeoutMs: 1000, hintAfterMs: 1000 };
}

/** A host for node 0 whose transport records what it sends; `full` names the destinations whose mailbox is full. */
function hostOf(o: { capacity?: number; pending?: number; full?: Set<Address> } = {}) {
  const sent: Array<{ to: Address; msg: Message }> = [];
  let nowMs = 100;
  const handled: number[] = [];
  const host = new ReplicaHost<string>({
    node: 0,
    transport: { send: (to, msg) => void sent.push({ to, msg }), accepts: (to) => !(o.full?.has(to) ?? false) },
    now: () => nowMs,
    capacity: o.capacity ?? 64,
    pending: () => o.pending ?? 0,
    handled: (n) => void handled.push(n),
  });
  host.attach(new Replica(new MapStore(), { node: 0, replicaId: '0', conflicts: 'siblings', maxPendingPuts: 16 }));
  return { host, sent, handled, advance: (ms: number) => (nowMs += ms) };
}

describe('replica host: routing', () => {
  test('a replicate to a full mailbox is not sent: it fails its ack at once, and the write fails with it', () => {
    const { host, sent, handled } = hostOf({ full: new Set([1]) });
    host.deliver([put(1, 2)]);
    assert.deepEqual(handled, [1], 'the handled hook sees the batch');
    assert.equal(sent.filter((s) => s.msg.type === 'replicate').length, 0, 'nothing is sent to the full mailbox');
    const reply = sent.find((s) => s.msg.type === 'put-reply');
    assert.ok(reply !== undefined && reply.to === CLIENT, 'the client is answered');
    assert.equal((reply.msg as { ok: boolean }).ok, false, 'W=2 cannot be met without node 1');
    assert.equal(host.messagesOut, sent.length, 'only what was sent counts as out');
    assert.equal(host.messagesIn, 1);
    assert.equal(host.batchesIn, 1);
  });

  test('with room, the replicate goes out and the write waits for its ack', () => {
    const { host, sent } = hostOf();
    host.deliver([put(1, 2)]);
    assert.deepEqual(sent.map((s) => [s.to, s.msg.type]), [[1, 'replicate']]);
    host.deliverOne({ type: 'replicate-ack', req: (sent[0].msg as { req: number }).req, from: 1, ok: true });
    assert.deepEqual(sent.map((s) => s.msg.type), ['replicate', 'put-reply']);
    assert.equal((sent[1].msg as { ok: boolean }).ok, true);
    assert.equal(host.batchesIn, 2, 'deliverOne counts one batch per message');
  });

  test('a tick reaches the actor only while it runs', () => {
    const { host, sent, advance } = hostOf();
    host.deliver([put(1, 2)]); // the write waits for node 1
    host.pause();
    advance(5000);
    host.tick([]);
    assert.equal(sent.length, 1, 'a paused node does not tick: the write has not timed out');
    host.resume();
    host.tick([]);
    assert.ok(sent.some((s) => s.msg.type === 'put-reply'), 'once resumed, the tick times the write out');
  });
});

describe('replica host: the paused inbox', () => {
  test('holds within the mailbox bound, counting what is still on the way, and gives it back in arrival order', () => {
    const { host } = hostOf({ capacity: 4, pending: 1 });
    assert.throws(() => host.hold('a', 1), /not paused/, 'only a paused node holds what arrives');
    host.pause();
    assert.equal(host.paused, true);
    assert.equal(host.hold('a', 2), true);
    assert.equal(host.hold('b', 1), true, '2 held + 1 on the way + 1 = the capacity');
    assert.equal(host.hold('c', 1), false, 'one more would pass the capacity: refused');
    assert.deepEqual(host.inbox, ['a', 'b']);
    assert.deepEqual(host.resume(), ['a', 'b']);
    assert.equal(host.paused, false);
    assert.deepEqual(host.resume(), [], 'a second resume gives nothing');
    host.pause();
    assert.equal(host.hold('d', 3), true, 'the bound starts again from nothing held');
  });

  test('a node that is down does not pause; detach loses the inbox and keeps the counters', () => {
    const { host } = hostOf();
    host.deliver([put(1, 1)]);
    host.pause();
    assert.equal(host.hold('x', 1), true);
    host.detach();
    assert.equal(host.replica, null);
    assert.equal(host.paused, false);
    assert.deepEqual(host.inbox, []);
    host.pause();
    assert.equal(host.paused, false, 'nothing runs, so nothing pauses');
    assert.equal(host.counters().puts, 1, 'the counters of the incarnation that stopped are kept');
    host.attach(new Replica(new MapStore(), { node: 0, replicaId: '0', conflicts: 'siblings', maxPendingPuts: 16 }));
    host.deliver([put(2, 1)]);
    assert.equal(host.counters().puts, 2, 'and added to the next one');
    const stats = host.stats('0', { batchesOut: 0, store: { keys: 0, liveBytes: 0, arenaBytes: 0, compactions: 0 } as never, ae: {} as never });
    assert.equal(stats.counters.puts, 2);
    assert.equal(stats.messagesIn, 2);
  });
});

describe('replica host: the DVV id of a wiped node', () => {
  test('a node never wiped writes under its number; a wiped one under number.wipes', () => {
    assert.equal(replicaIdOf(3, 0), '3');
    assert.equal(replicaIdOf(3, 1), '3.1');
    assert.equal(replicaIdOf(0, 12), '0.12');
  });
});
