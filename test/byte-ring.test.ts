// The shared-memory byte ring of the thread transport (runtime/threads/ring.ts) and its receiving side
// (runtime/threads/inbox.ts): records come out whole and in order across wrap-around, a full ring refuses without
// writing, the sender owes exactly one wake-up to an idle receiver, and batches posted on the port (ring full, or
// too large) are handled after what the ring held before them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { ByteRing } from '../runtime/threads/ring.js';
import { Inbox } from '../runtime/threads/inbox.js';
import { Outbox } from '../runtime/threads/transport.js';
import { SharedView } from '../runtime/threads/shared-view.js';
import { WireCodec } from '../runtime/threads/wire.js';
import { Prng } from '../runtime/host/prng.js';
import type { Message } from '../actors/protocol.js';

function bytesOf(seq: number, length: number): Uint8Array {
  const b = new Uint8Array(length);
  for (let i = 0; i < length; i++) b[i] = (seq * 31 + i) & 0xff;
  return b;
}

function drainAll(ring: ByteRing): Uint8Array[] {
  const out: Uint8Array[] = [];
  ring.drain((bytes, length) => {
    assert.equal(bytes.length, length);
    out.push(bytes.slice());
  });
  return out;
}

describe('ByteRing', () => {
  it('hands out every record whole and in order across many wrap-arounds (seeded sizes)', () => {
    const seed = 7;
    const rng = new Prng(seed);
    const ring = ByteRing.create(4096);
    let written = 0;
    let read = 0;
    const pending: Array<{ seq: number; length: number }> = [];
    for (let round = 0; round < 2000; round++) {
      const length = 1 + Math.floor(rng.float() * 900);
      if (ring.tryWrite(bytesOf(written, length), length)) pending.push({ seq: written++, length });
      if (rng.float() < 0.4 || pending.length > 8) {
        for (const got of drainAll(ring)) {
          const want = pending.shift();
          assert.ok(want !== undefined, `seed ${seed}: a record nobody wrote`);
          assert.deepEqual(got, bytesOf(want.seq, want.length), `seed ${seed}: record ${want.seq}`);
          read++;
        }
      }
    }
    for (const got of drainAll(ring)) assert.deepEqual(got, bytesOf(pending[0].seq, pending.shift()!.length));
    assert.equal(pending.length, 0);
    assert.ok(read > 1000 && written > 1000, `seed ${seed}: ${written} written, ${read} read`);
    assert.ok(ring.empty);
  });

  it('refuses a record when full or larger than a quarter of it, writing nothing', () => {
    const ring = ByteRing.create(1024);
    assert.equal(ring.tryWrite(new Uint8Array(257), 257), false, 'over maxRecordBytes (256)');
    let n = 0;
    while (ring.tryWrite(bytesOf(n, 200), 200)) n++;
    assert.equal(n, 5, '5 records of 204 bytes fit in 1024');
    const got = drainAll(ring);
    assert.equal(got.length, 5);
    got.forEach((g, i) => assert.deepEqual(g, bytesOf(i, 200)));
    assert.ok(ring.tryWrite(bytesOf(9, 200), 200), 'room again once drained');
  });

  it('owes one wake-up per sleep: the first write after setIdle(true), not the next ones', () => {
    const ring = ByteRing.create(1024);
    assert.ok(ring.tryWrite(bytesOf(0, 8), 8));
    assert.equal(ring.wakeNeeded(), true, 'a new ring starts with its receiver asleep');
    assert.ok(ring.tryWrite(bytesOf(1, 8), 8));
    assert.equal(ring.wakeNeeded(), false, 'already woken');
    drainAll(ring);
    ring.setIdle(true);
    assert.ok(ring.tryWrite(bytesOf(2, 8), 8));
    assert.equal(ring.wakeNeeded(), true);
  });

  it('tells the sender to post, not write, while a batch it posted is unhandled', () => {
    const ring = ByteRing.create(1024);
    assert.ok(ring.inOrder);
    ring.posted();
    assert.equal(ring.inOrder, false);
    ring.tookPosted();
    assert.ok(ring.inOrder);
  });

  it('rejects a capacity that is not a power of two', () => {
    assert.throws(() => ByteRing.create(3000), /power of two/);
  });
});

describe('Outbox to Inbox over a MessageChannel', () => {
  const codec = () => new WireCodec(['dc1']);
  const ack = (req: number): Message => ({ type: 'replicate-ack', req, from: 1, ok: true });

  it('delivers every batch in order, through the ring and through the port when the ring is full', async () => {
    const { port1, port2 } = new MessageChannel();
    const view = SharedView.create(4);
    // a small ring (1 KiB: at most 256 bytes a batch) so that large batches and a full ring go by the port
    const outbox = new Outbox(new Map([[-1, port1]]), codec(), view, 1 << 20, -1, 1024);
    const received: number[] = [];
    const inbox = new Inbox();
    const decoder = codec();
    inbox.listen(port2, (buffer, length) => {
      for (const m of decoder.decode(buffer, length)) received.push((m as { req: number }).req);
    });
    let req = 0;
    const sizes = [1, 3, 60, 2, 1, 80, 5, 1, 1, 40];
    for (let turn = 0; turn < 30; turn++) {
      for (let i = 0; i < sizes[turn % sizes.length]; i++) outbox.send(-1, ack(req++));
      outbox.flush();
      if (turn % 3 === 0) await new Promise((r) => setImmediate(r));
    }
    const deadline = Date.now() + 5000;
    while (received.length < req && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(received, Array.from({ length: req }, (_, i) => i));
    assert.ok(outbox.ringed > 0 && outbox.ringed < outbox.batches, `some by ring (${outbox.ringed}), some posted (${outbox.batches})`);
    assert.ok(inbox.ringBatches > 0 && inbox.postedBatches > 0);
    port1.close();
  });
});
