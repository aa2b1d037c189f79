// Micro-benchmark: structured clone of message arrays vs the binary wire codec (runtime/wire.ts), through a real
// MessageChannel.
//
// Two batches of 256 messages: typical put requests (3 targets, 2 spares, 100-byte ASCII value, 3-entry context) and
// replicate messages (a clock of 1-3 entries, 100-byte values). For each batch and each way of sending it:
//   send  - the cost on the sending thread alone: postMessage(batch) (the clone is made synchronously) versus
//           encode + postMessage(buffer, [buffer]); the receiver drains (and decodes) outside the timed window.
//   e2e   - end to end: send, wait for the 'message' event, and (wire) decode; both ends run on this thread, so
//           this is the whole CPU cost of a hop plus one event-loop turn.
//   encode / decode alone, to see where the wire time goes.
// Times are per message (batch mean / 256), in microseconds; ratios are clone / wire (above 1: the codec wins).
//
// Run: npx tsc -p tsconfig.json && node dist/bench/micro/micro-wire.js [timeMs per task, default 1000]

import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { Bench, type Task } from 'tinybench';
import type { Message, PutRequest, Replicate } from '../../actors/protocol.js';
import type { Placement } from '../../actors/ring.js';
import { WireCodec } from '../../runtime/threads/wire.js';

const BATCH = 256;
const VALUE_BYTES = 100;
const DATACENTERS = ['dc1'];

function value(i: number): string {
  return `value-${i}-`.padEnd(VALUE_BYTES, 'x');
}

function putBatch(): PutRequest[] {
  const out: PutRequest[] = [];
  for (let i = 0; i < BATCH; i++) {
    const first = i % 5;
    const targets: Placement[] = [0, 1, 2].map((k) => ({ node: (first + k) % 5, dc: 'dc1', primary: true }));
    // sloppy quorum is on by default: stand-ins for two of the primaries on the other nodes of a 5-node ring
    const spares: Placement[] = [3, 4].map((k) => ({ node: (first + k) % 5, dc: 'dc1', primary: false, hintFor: (first + k - 3) % 5 }));
    out.push({
      type: 'put',
      req: 100_000 + i,
      from: 65536,
      key: `user:${1_000_000 + i * 7919}`,
      value: value(i),
      context: [
        ['n0', 10 + i],
        ['n1', 3],
        ['n2', 7],
      ],
      targets,
      spares,
      need: { level: 'QUORUM', total: 2, perDc: {}, hintsCount: false },
      sloppy: true,
      timeoutMs: 1000,
      hintAfterMs: 500,
    });
  }
  return out;
}

function replicateBatch(): Replicate[] {
  const out: Replicate[] = [];
  for (let i = 0; i < BATCH; i++) {
    const entries = [];
    for (let k = 0; k <= i % 3; k++) {
      const id = `n${k}`;
      entries.push({ id, n: 5 + i, values: [{ v: value(i + k), ts: 1_700_000_000_000 + i + 0.25, by: id }] });
    }
    out.push({ type: 'replicate', req: 200_000 + i, from: i % 5, key: `user:${1_000_000 + i * 7919}`, clock: { entries, anonymous: [] } });
  }
  return out;
}

/** One MessageChannel; `next()` resolves on the next message (decoded when the codec is given). */
function channel(codec: WireCodec | null) {
  const { port1, port2 } = new MessageChannel();
  let waiter: ((m: unknown) => void) | null = null;
  port2.on('message', (m: unknown) => {
    const got = codec !== null ? codec.decode(m as ArrayBuffer) : m;
    const w = waiter;
    waiter = null;
    w?.(got);
  });
  const next = (): Promise<unknown> => new Promise((resolve) => (waiter = resolve));
  return { port1, port2, next };
}

interface Row {
  batch: string;
  what: string;
  cloneTask?: Task;
  wireTask: Task;
}

function perMessageUs(t: Task | undefined): number {
  if (t === undefined) return NaN;
  const r = t.result;
  if (r.state !== 'completed') throw new Error(`task ${t.name} did not complete: ${r.state}`);
  return (r.latency.mean * 1000) / BATCH;
}

async function main(): Promise<void> {
  const timeMs = Number(process.argv[2] ?? 1000);
  if (!(timeMs >= 10 && timeMs <= 60_000)) throw new Error(`time per task is ${process.argv[2]} ms; use 10..60000`);
  const bench = new Bench({ time: timeMs, warmupTime: Math.min(250, timeMs), throws: true });
  const sendCodec = new WireCodec(DATACENTERS);
  const rows: Row[] = [];
  const ports: Array<{ close(): void }> = [];

  for (const [name, batch] of [['256 puts', putBatch()], ['256 replicates', replicateBatch()]] as Array<[string, Message[]]>) {
    assert.deepStrictEqual(sendCodec.decode(sendCodec.encode(batch)), batch); // sanity: what we time is right
    const clone = channel(null);
    const wire = channel(new WireCodec(DATACENTERS));
    ports.push(clone.port1, clone.port2, wire.port1, wire.port2);
    let pending: Promise<unknown> = Promise.resolve();
    const drain = { beforeEach: () => void (pending = clone.next()), afterEach: async () => void (await pending) };
    const drainWire = { beforeEach: () => void (pending = wire.next()), afterEach: async () => void (await pending) };

    bench.add(`${name} send clone`, () => clone.port1.postMessage(batch), drain);
    bench.add(`${name} send wire`, () => {
      const buf = sendCodec.encode(batch);
      wire.port1.postMessage(buf, [buf]);
    }, drainWire);
    bench.add(`${name} e2e clone`, async () => {
      const got = clone.next();
      clone.port1.postMessage(batch);
      await got;
    });
    bench.add(`${name} e2e wire`, async () => {
      const got = wire.next(); // decodes in the handler
      const buf = sendCodec.encode(batch);
      wire.port1.postMessage(buf, [buf]);
      await got;
    });
    const encoded = sendCodec.encode(batch);
    bench.add(`${name} encode`, () => sendCodec.encode(batch));
    bench.add(`${name} decode`, () => sendCodec.decode(encoded));
    bench.add(`${name} encode+decode`, () => sendCodec.decode(sendCodec.encode(batch)));
    bench.add(`${name} structuredClone`, () => structuredClone(batch));
    const task = (what: string): Task => bench.getTask(`${name} ${what}`) as Task;
    rows.push({ batch: name, what: 'send (sending thread)', cloneTask: task('send clone'), wireTask: task('send wire') });
    rows.push({ batch: name, what: 'end to end', cloneTask: task('e2e clone'), wireTask: task('e2e wire') });
    rows.push({ batch: name, what: 'no channel: structuredClone vs encode+decode', cloneTask: task('structuredClone'), wireTask: task('encode+decode') });
    rows.push({ batch: name, what: 'encode alone', wireTask: task('encode') });
    rows.push({ batch: name, what: 'decode alone', wireTask: task('decode') });
    console.log(`${name}: ${encoded.byteLength} bytes encoded (${(encoded.byteLength / BATCH).toFixed(0)} per message)`);
  }

  await bench.run();
  for (const p of ports) p.close();

  const table = rows.map((r) => {
    const clone = perMessageUs(r.cloneTask);
    const wire = perMessageUs(r.wireTask);
    return {
      batch: r.batch,
      measure: r.what,
      'clone us/msg': Number.isNaN(clone) ? '' : clone.toFixed(3),
      'wire us/msg': wire.toFixed(3),
      'clone/wire': Number.isNaN(clone) ? '' : (clone / wire).toFixed(2),
      'wire msgs/s': Math.round(1e6 / wire).toLocaleString('en-US'),
    };
  });
  console.log(`Node ${process.version}, ${BATCH} messages per batch, mean of each task's samples`);
  console.table(table);
}

await main();
