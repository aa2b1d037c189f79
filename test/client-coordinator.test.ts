// The client coordinator (actors/coordinator/client.ts) on an in-process environment, no runtime at all: what it
// sends, when it reads a store without a message, how a write fails over on the clock it is given, and what the
// observer is told. The scenario tests run it inside both runtimes; these pin the contract with the environment.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientCoordinator } from '../actors/coordinator/client.js';
import {
  LOCAL_READ_BUSY, LOCAL_READ_UNAVAILABLE, localClock, type ClientEnv, type LocalRead,
} from '../actors/coordinator/client-env.js';
import { CLIENT_BASE, type Address, type Message, type PutRequest } from '../actors/protocol.js';
import { hash32, keyId } from '../actors/hash.js';
import type { Stamped } from '../actors/types.js';
import { C } from './helpers/dvv.js';
import { resolveConfig, ringOf, type ClusterOptions } from '../runtime/config.js';

function setUp(options: ClusterOptions, o: { read?: (node: number) => LocalRead; localReadLimit?: number } = {}) {
  const config = resolveConfig({ nodes: 5, replication: 3, ...options });
  const sent: Array<{ to: Address; msg: Message }> = [];
  const completed: Array<['read' | 'write', number]> = [];
  let nowMs = 1000;
  const env: ClientEnv = {
    transport: { send: (to, msg) => void sent.push({ to, msg }), accepts: () => true },
    clock: { now: () => nowMs },
    view: { isUp: () => true, statusVersion: () => 0, readStore: (node) => o.read?.(node) ?? LOCAL_READ_UNAVAILABLE },
    host: { track: (start) => new Promise(start), checkOpen: () => undefined },
    observer: { completed: (op, ms) => void completed.push([op, ms]) },
    localReadLimit: o.localReadLimit ?? 1,
  };
  const client = new ClientCoordinator(config, CLIENT_BASE, env, ringOf(config));
  const primaries = (key: string): readonly number[] => client.ring.preferenceList(hash32(keyId(key)));
  return { client, sent, completed, primaries, advance: (ms: number) => (nowMs += ms), now: () => nowMs };
}

describe('client coordinator: local reads', () => {
  test('a ONE read is served from the store when it can be read, and goes by message when it is busy or unavailable', async () => {
    let answer: LocalRead = localClock(undefined);
    const { client, sent } = setUp({ read: 'ONE' }, { read: () => answer });
    const r = await client.get('k');
    assert.equal(r.found, false);
    assert.equal(client.counters.getsLocal, 1);
    assert.equal(sent.length, 0, 'no message');
    for (const why of [LOCAL_READ_BUSY, LOCAL_READ_UNAVAILABLE]) {
      answer = why;
      sent.length = 0;
      void client.get('k').catch(() => undefined);
      assert.ok(sent.some((s) => s.msg.type === 'get'), `${why.ok ? '' : why.why}: the read is asked by message`);
    }
    assert.equal(client.counters.getsLocal, 1);
    client.failAll();
  });
});

describe('client coordinator: local quorum reads', () => {
  const stamped = (v: string, ts: number): Stamped => ({ v, ts, by: '0' });

  test('R=2 from stores: the clocks are reconciled, and the primary found behind is repaired by message', async () => {
    const behind = C<Stamped>([['0', 1, [stamped('old', 1)]]]);
    const ahead = C<Stamped>([['0', 2, [stamped('new', 2)]]]);
    let p: readonly number[] = [];
    const { client, sent, primaries } = setUp({ read: 2, sharedMemoryReads: 'quorum' }, {
      read: (node) => localClock(node === p[0] ? ahead : node === p[1] ? behind : undefined),
      localReadLimit: Number.MAX_SAFE_INTEGER,
    });
    p = primaries('k');
    const r = await client.get('k');
    assert.deepEqual(r.values.map((v) => v), ['new']);
    assert.equal(client.counters.getsLocal, 1);
    assert.deepEqual(sent.map((s) => [s.to, s.msg.type]), [[p[1], 'repair']], 'only the store behind is repaired');
    assert.equal(client.counters.readRepairs, 1);
  });

  test('a level over several datacenters is not read locally', async () => {
    const { client, sent } = setUp(
      { datacenters: [{ name: 'dc1', nodes: 3 }, { name: 'dc2', nodes: 3 }], replication: { dc1: 2, dc2: 2 }, localDc: 'dc2', nodes: undefined },
      { read: () => localClock(undefined), localReadLimit: Number.MAX_SAFE_INTEGER },
    );
    void client.get('k', { consistency: 'LOCAL_ONE' });
    assert.equal(client.counters.getsLocal, 1, 'LOCAL_ONE in the local datacenter is read from the store');
    void client.get('k', { consistency: 'EACH_QUORUM' }).catch(() => undefined);
    assert.equal(client.counters.getsLocal, 1, 'EACH_QUORUM is not');
    assert.ok(sent.some((s) => s.msg.type === 'get'));
    client.failAll();
  });
});

describe('client coordinator: writes', () => {
  test('a write goes to the first primary with its budget; the reply settles it and the observer is told', async () => {
    const { client, sent, completed, primaries, advance } = setUp({ timeoutMs: 1000 });
    const pending = client.put('k', 'v');
    await Promise.resolve();
    const [first] = sent;
    assert.equal(first.to, primaries('k')[0]);
    const msg = first.msg as PutRequest & { budgetMs: number };
    assert.equal(msg.type, 'put');
    assert.ok(msg.budgetMs < 1000 && msg.budgetMs > 900, `budget ${msg.budgetMs} leaves time for the reply`);
    advance(7);
    client.receive({ type: 'put-reply', req: msg.req, from: first.to, ok: true, acked: [first.to], primaryOnly: true, context: [] });
    const r = await pending;
    assert.deepEqual(r.values, ['v']);
    assert.deepEqual(completed, [['write', 7]]);
    assert.equal(client.inFlight, 0);
  });

  test('a coordinator that does not answer is replaced after coordinatorFailoverMs, on the clock given', async () => {
    const { client, sent, primaries, advance, now } = setUp({ timeoutMs: 2000, coordinatorFailoverMs: 100 });
    const pending = client.put('k', 'v');
    const p = primaries('k');
    advance(99);
    client.tick(now());
    assert.deepEqual(sent.filter((s) => s.msg.type === 'put').map((s) => s.to), [p[0]], 'not yet');
    advance(1);
    client.tick(now());
    assert.deepEqual(sent.filter((s) => s.msg.type === 'put').map((s) => s.to), [p[0], p[1]], 'the next primary coordinates');
    assert.equal(client.counters.coordinatorFailovers, 1);
    advance(2000);
    client.tick(now());
    await assert.rejects(pending, { code: 'TIMEOUT' });
    assert.equal(client.counters.timeouts, 1);
  });

  test('closing fails what is pending with STOPPED, saying a write in flight may have been applied', async () => {
    const { client } = setUp({});
    const write = client.put('k', 'v');
    const read = client.get('k');
    client.failAll();
    await assert.rejects(write, (e: Error) => /may have been applied/.test(e.message));
    await assert.rejects(read, (e: Error & { code: string }) => e.code === 'STOPPED' && !/may have been applied/.test(e.message));
  });
});
