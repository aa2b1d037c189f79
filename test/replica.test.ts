// The replica actor on its own (no threads): a key reaped by anti-entropy and then written again must not be hidden
// by a replica that still holds the old tombstone, across a restart of the actor too.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message, PutRequest, Send, StoredClock } from '../actors/protocol.js';
import { Replica } from '../actors/replica/index.js';
import { requirement } from '../actors/quorum/index.js';
import { MapStore } from '../runtime/host/store.js';

const need = requirement(1, 'write', { replicationByDc: { dc1: 2 }, localDc: 'dc1' });
const targets = [
  { node: 0, dc: 'dc1', primary: true },
  { node: 1, dc: 'dc1', primary: true },
];

function put(key: string, value: string | null, context: PutRequest['context'], req: number): PutRequest {
  return { type: 'put', req, from: 1 << 16, key, value, context, targets, spares: [], need, sloppy: false, timeoutMs: 1000, hintAfterMs: 1000 };
}

/** Delivers a put to `a` and the replicate it sends to `b`; returns the clock a wrote. */
function write(a: Replica, b: Replica | null, msg: PutRequest, nowMs: number): StoredClock {
  const out: Send[] = [];
  a.handle(msg, nowMs, out);
  const rep = out.find((s) => s.msg.type === 'replicate');
  assert.ok(rep !== undefined, 'the coordinator replicates');
  if (b !== null) b.handle(rep.msg as Message, nowMs, []);
  return (rep.msg as { clock: StoredClock }).clock;
}

const values = (c: StoredClock | undefined): unknown[] => (c === undefined ? [] : c.entries.flatMap((e) => e.values.map((v) => v.v)));
const reap = (r: Replica, key: string): boolean => (r as unknown as { reap(k: string): boolean }).reap(key);

describe('dots after a reaped tombstone', () => {
  test('a write to a key its coordinator reaped is not hidden by a replica still holding the tombstone', () => {
    const storeA = new MapStore();
    const hintsA = new MapStore();
    const storeB = new MapStore();
    const opts = { conflicts: 'siblings' as const, maxPendingPuts: 16 };
    let a = new Replica(storeA, { node: 0, replicaId: '0', ...opts }, hintsA);
    const b = new Replica(storeB, { node: 1, replicaId: '1', ...opts }, new MapStore());
    const first = write(a, b, put('k', 'v1', null, 1), 10);
    const ctx = first.entries.map((e) => [e.id, e.n] as [string, number]);
    write(a, b, put('k', null, ctx, 2), 20); // delete with the context of v1: both hold the tombstone (0, 2)
    assert.deepEqual(values(storeB.get('k')), [null]);
    assert.equal(reap(a, 'k'), true); // a reaps; b has not yet
    assert.equal(storeA.get('k'), undefined);

    const again = write(a, b, put('k', 'v2', null, 3), 30);
    assert.ok(again.entries.find((e) => e.id === '0')!.n > 2, `the new dot lands above the reaped one: ${JSON.stringify(again.entries)}`);
    assert.deepEqual(values(storeB.get('k')).filter((v) => v !== null), ['v2'], 'b sees the new write beside its tombstone');

    // a restarted actor on the same stores keeps the floor
    a = new Replica(storeA, { node: 0, replicaId: '0', ...opts }, hintsA);
    const fresh = write(a, null, put('other', 'x', null, 4), 40);
    assert.ok(fresh.entries.find((e) => e.id === '0')!.n > 2, 'dots stay above the floor after a restart');
  });
});
