// The NATS runtime's pure parts, no server needed: the heartbeat detector (times injected), the payload copy that
// feeds the wire decoder, and the typed errors for bad endpoints and cluster names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { HeartbeatDetector, decodeHeartbeat, encodeHeartbeat } from '../runtime/nats/detector.js';
import { payloadBuffer } from '../runtime/nats/transport.js';
import { checkClusterName, checkEndpoint, Subjects } from '../runtime/nats/connection.js';
import { WireCodec } from '../runtime/threads/wire.js';
import { InvalidConfigError } from '../runtime/index.js';

const DETECTOR = { threshold: 8, sampleMs: 50, minStdDeviationMs: 50, acceptableHeartbeatPauseMs: 250 };

test('detector: a node that beats stays up; one that stops goes suspect then down; a new incarnation is a restart', () => {
  const d = new HeartbeatDetector(3, DETECTOR, 0, 0);
  let t = 0;
  for (; t <= 2000; t += 50) {
    d.beat({ node: 1, inc: 'a' }, t);
    d.beat({ node: 2, inc: 'b' }, t);
    assert.deepEqual(d.sample(t), []);
  }
  const events: string[] = [];
  for (; t <= 6000; t += 50) {
    d.beat({ node: 1, inc: 'a' }, t);
    for (const c of d.sample(t)) events.push(`${c.node}:${c.event}`);
  }
  assert.deepEqual(events, ['2:node-suspect', '2:node-down'], 'node 2 stopped beating; node 0 is this detector itself');
  assert.equal(d.isUp(2), false);
  assert.deepEqual(d.down(), [2]);
  assert.equal(d.beat({ node: 2, inc: 'b' }, t), false, 'the same incarnation is no restart');
  assert.equal(d.beat({ node: 2, inc: 'c' }, t + 50), true, 'a new incarnation is a restart');
  assert.deepEqual(d.sample(t + 50).map((c) => c.event), ['node-up']);
  assert.equal(d.status(0), 'up');
});

test('heartbeats: malformed payloads are ignored, never trusted', () => {
  assert.deepEqual(decodeHeartbeat(encodeHeartbeat({ node: 2, inc: 'x' }), 3), { node: 2, inc: 'x' });
  for (const bad of ['{', '{"node":3,"inc":"x"}', '{"node":-1,"inc":"x"}', '{"node":1}', '{"node":1.5,"inc":"x"}', 'null']) {
    assert.equal(decodeHeartbeat(new TextEncoder().encode(bad), 3), undefined, bad);
  }
});

test('payloadBuffer copies exactly the payload out of a larger read buffer (Buffer.slice is a view, not a copy)', () => {
  // the NATS client hands payloads as Buffers into its read buffer: decoding its whole ArrayBuffer read the bytes of
  // the protocol line before the payload ("expected magic byte 0x57 at byte 1"), and every batch was dropped
  const codec = new WireCodec(['dc1']);
  const batch = [{ type: 'replicate-ack' as const, req: 7, from: 3, ok: true }];
  const encoded = new Uint8Array(codec.encode(batch));
  const read = Buffer.alloc(encoded.length + 40, 0x4d);
  read.set(encoded, 25);
  const payload = read.subarray(25, 25 + encoded.length);
  assert.deepEqual(codec.decode(payloadBuffer(payload)), batch);
  const exact = new Uint8Array(encoded);
  assert.equal(payloadBuffer(exact), exact.buffer, 'a payload that is its whole buffer is not copied');
});

test('endpoints and cluster names: bad input gets a typed error saying what is allowed', () => {
  assert.equal(checkClusterName('demo-1_a'), 'demo-1_a');
  for (const bad of ['', 'a.b', 'a b', '*', '>', 'x'.repeat(65), 3]) assert.throws(() => checkClusterName(bad), InvalidConfigError, String(bad));
  assert.throws(() => checkEndpoint({ servers: 'http://x:1' }), /nats:\/\/127\.0\.0\.1:4222/);
  assert.throws(() => checkEndpoint({ servers: 'nats://x:1', user: 3 }), /user must be a string/);
  assert.throws(() => checkEndpoint(null), InvalidConfigError);
  assert.deepEqual(checkEndpoint({ servers: ['nats://a:1', 'tls://b:2'], token: 't' }).servers, ['nats://a:1', 'tls://b:2']);
  const s = new Subjects('demo');
  assert.deepEqual([s.node(3), s.client(70000), s.heartbeat, s.config, s.control(1)], [
    'leaderless.demo.node.3', 'leaderless.demo.client.70000', 'leaderless.demo.hb', 'leaderless.demo.config', 'leaderless.demo.ctl.1',
  ]);
});

test('cli: --connect and serve refuse what cannot work, in one line, before anything starts', async () => {
  const { main } = await import('../bench/cli.js');
  const write = process.stderr.write;
  const lines: string[] = [];
  process.stderr.write = ((s: string) => (lines.push(String(s)), true)) as typeof process.stderr.write;
  try {
    assert.equal(await main(['bench', '--connect', 'nats://127.0.0.1:1']), 2);
    assert.match(lines.pop()!, /--connect needs --cluster NAME/);
    assert.equal(await main(['bench', '--cluster', 'x']), 2);
    assert.match(lines.pop()!, /--cluster goes with --connect/);
    assert.equal(await main(['bench', '--connect', 'nats://127.0.0.1:1', '--cluster', 'x', '--fault', 'kill:1@1s']), 2);
    assert.match(lines.pop()!, /--fault acts on replicas this process owns/);
    assert.equal(await main(['serve', '--nats', 'nats://127.0.0.1:1', '--cluster', 'x', '--nodes', '0,a']), 2);
    assert.match(lines.pop()!, /--nodes takes node ids like 0,1/);
    assert.equal(await main(['serve', '--nats', 'nats://127.0.0.1:1', '--cluster', 'x', '--nodes', '0', '--options', '{']), 2);
    assert.match(lines.pop()!, /--options must be JSON/);
  } finally {
    process.stderr.write = write;
  }
});

test('Cluster.connect to an address where no NATS server listens rejects with a typed error (it never hangs)', async () => {
  const { Cluster } = await import('../runtime/index.js');
  const { freePort } = await import('../bench/nats-local.js');
  const port = await freePort();
  await assert.rejects(Cluster.connect({ nats: `nats://127.0.0.1:${port}`, cluster: 'x' }), (e: Error) => {
    assert.ok(e instanceof InvalidConfigError);
    assert.match(e.message, new RegExp(`cannot connect to NATS at nats://127.0.0.1:${port}`));
    return true;
  });
  await assert.rejects(Cluster.connect({ nats: 'nats://127.0.0.1:1', cluster: 'a.b' }), /cluster must be a name/);
  await assert.rejects(Cluster.connect({ nats: 'nats://127.0.0.1:1', cluster: 'x', bogus: 1 } as never), /unknown Cluster.connect option "bogus"/);
});

// `bench --connect` checks that the run's flags describe the served cluster. It compared levels as written, so
// `--r 2` was refused against a cluster served with R=QUORUM at N=3, the same requirement.
test('bench --connect compares read and write levels by the replicas they ask for, where one datacenter makes that plain', async () => {
  const { levelCount } = await import('../bench/connect.js');
  assert.equal(levelCount('QUORUM', { dc1: 3 }), 2);
  assert.equal(levelCount(2, { dc1: 3 }), 2);
  assert.equal(levelCount('ALL', { dc1: 3 }), 3);
  assert.equal(levelCount('one', { dc1: 3 }), 1);
  assert.equal(levelCount('ANY', { dc1: 3 }), 'ANY', 'ANY is not a count of replicas');
  assert.equal(levelCount('LOCAL_QUORUM', { dc1: 3 }), 'LOCAL_QUORUM');
  assert.equal(levelCount('QUORUM', { dc1: 2, dc2: 2 }), 'QUORUM', 'several datacenters: as written');
});
