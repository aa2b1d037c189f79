// The batched, bounded transport over NATS, the counterpart of the thread runtime's Outbox (runtime/threads/
// transport.ts): every message sent in one turn of the event loop is queued per destination, and when the turn ends
// (setImmediate) each destination gets one publish of one binary wire batch (runtime/threads/wire.ts) on its own
// subject. A request/reply round trip over NATS costs ~270 us on loopback, a batched publish of 100 operations ~1 us
// per operation (issue 14's measurements): batching is what makes the runtime fast.
//
// Bounded: a destination's queue holds at most `capacity` messages (accepts() is false past that, so the coordinator
// answers OVERLOADED instead of queueing without limit), and the NATS client's own reconnect buffer bounds what waits
// while this process is cut off from the server. A publish on a closed connection is a lost message, as a message to
// a dead worker is in the thread runtime.

import type { Address, Message } from '../../actors/protocol.js';
import { isClient } from '../../actors/protocol.js';
import type { WireCodec } from '../threads/wire.js';
import type { NatsConnection, Subjects } from './connection.js';

/** Most messages in one published batch (a NATS message's payload is bounded by the server's max_payload, 1 MiB). */
export const MAX_BATCH_MESSAGES = 1024;

export class NatsOutbox {
  private readonly queues = new Map<Address, Message[]>();
  private scheduled = false;
  private readonly flushBound = (): void => this.flush();
  messages = 0;
  batches = 0;
  /** messages lost because the connection was closed or cut off (faults.cut) */
  dropped = 0;
  /** while true every send is lost: the process is cut off from NATS (a fault, see server.ts) */
  cut = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly codec: WireCodec,
    private readonly capacity: number,
  ) {}

  /** Whether `to`'s queue here can take one more message (clients are bounded by their in-flight limit). */
  accepts(to: Address): boolean {
    if (isClient(to)) return true;
    return (this.queues.get(to)?.length ?? 0) < this.capacity;
  }

  send(to: Address, msg: Message): void {
    let q = this.queues.get(to);
    if (q === undefined) {
      q = [];
      this.queues.set(to, q);
    }
    q.push(msg);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushBound);
    }
  }

  flush(): void {
    this.scheduled = false;
    for (const [to, batch] of this.queues) {
      if (batch.length === 0) continue;
      this.queues.set(to, []);
      if (this.cut || this.nc.isClosed()) {
        this.dropped += batch.length;
        continue;
      }
      const subject = isClient(to) ? this.subjects.client(to) : this.subjects.node(to);
      for (let i = 0; i < batch.length; i += MAX_BATCH_MESSAGES) {
        const part = i === 0 && batch.length <= MAX_BATCH_MESSAGES ? batch : batch.slice(i, i + MAX_BATCH_MESSAGES);
        try {
          this.nc.publish(subject, new Uint8Array(this.codec.encode(part)));
          this.batches++;
          this.messages += part.length;
        } catch {
          this.dropped += part.length; // closed or draining meanwhile: lost like any message to a process gone
        }
      }
    }
  }
}

/** A NATS payload as the ArrayBuffer WireCodec.decode takes (a payload may be a view into a larger read buffer). */
export function payloadBuffer(data: Uint8Array): ArrayBuffer {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer) return data.buffer;
  // a copy (not data.slice(): on a Node Buffer, slice is a view into the same read buffer)
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return copy.buffer;
}
