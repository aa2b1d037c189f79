// The batched, bounded transport between threads.
//
// An Outbox collects every message a thread sends in one turn of its event loop and posts, per destination, one
// batch when the turn ends (setImmediate), encoded by runtime/wire.ts into one transferred ArrayBuffer (structured
// clone of nested objects cost 4-5x more on the sending thread): 100 messages to one replica cost one postMessage
// (ARCHITECTURE.md: ~26 us per small round trip, millions of ops/s batched). Mailboxes are bounded: a sender adds
// the batch length to the destination's depth counter in shared memory and the receiver subtracts what it handled;
// `accepts(to)` tells whether the destination's mailbox has room, so an overloaded replica is refused at the sender
// (OVERLOADED to the application) instead of queueing without limit. The count belongs to one incarnation of the
// destination (`incarnations`, set with each port): a batch for a worker restarted since is not posted or counted.

import type { MessagePort } from 'node:worker_threads';
import { isClient, type Address, type Message } from '../../actors/protocol.js';
import { sampleDelayMs } from './link-delay.js';
import type { SharedView } from './shared-view.js';
import type { WireCodec } from './wire.js';

export interface Port {
  postMessage(value: unknown, transfer?: readonly ArrayBuffer[]): void;
}

/** Most messages in one posted batch; a longer queue goes as several batches (every batch has a bound). */
export const MAX_BATCH_MESSAGES = 4096;

/**
 * What a closing client posts on each of its ports instead of closing it: closing a port drops the batches still
 * queued in it, which the replica's mailbox depth already counts. Ports deliver in order, so the replica closes its
 * end on this once it has taken every batch sent before it.
 */
export const GOODBYE = 'goodbye';

export class Outbox {
  private readonly queues = new Map<Address, Message[]>();
  private scheduled = false;
  private readonly flushBound = (): void => this.flush();
  /** the incarnation of the replica each port in `ports` leads to (0, the first, when not set) */
  readonly incarnations = new Map<Address, number>();
  /** messages and batches posted, for metrics */
  messages = 0;
  batches = 0;

  /** messages dropped by a partition or an injected drop */
  dropped = 0;
  /** messages held back by an injected delay */
  delayed = 0;

  constructor(
    private readonly ports: Map<Address, Port>,
    private readonly codec: WireCodec,
    private readonly view: SharedView,
    private readonly mailboxCapacity: number,
    /** the replica this sender sits beside for partitions (-1: a client placed nowhere, never cut off) */
    private readonly near: number,
  ) {}

  /** Whether a replica's mailbox can take one more message (clients' mailboxes are bounded by their in-flight limit). */
  accepts(to: Address): boolean {
    if (isClient(to)) return true;
    const queued = this.queues.get(to)?.length ?? 0;
    return this.view.depth(to) + queued < this.mailboxCapacity;
  }

  send(to: Address, msg: Message): void {
    if (!isClient(to)) {
      if (this.near >= 0 && this.view.blocked(this.near, to)) {
        this.dropped++;
        return;
      }
      if (this.view.impaired && this.impair(to, msg)) return;
    }
    this.enqueue(to, msg);
  }

  /** Injected delay and loss on the link into replica `to` (faults.delay / faults.drop): true when handled here. */
  private impair(to: Address, msg: Message): boolean {
    const row = this.near >= 0 ? this.near : this.view.nodes;
    const ppm = this.view.dropPpm(row, to);
    if (ppm > 0 && Math.random() * 1e6 < ppm) {
      this.dropped++;
      return true;
    }
    // drawn per message (a distribution reorders, as in the simulator); 0 when a sample rounds to no timer at all
    const ms = sampleDelayMs(this.view, row, to);
    if (ms <= 0) return false;
    this.delayed++;
    setTimeout(() => this.enqueue(to, msg), ms);
    return true;
  }

  private enqueue(to: Address, msg: Message): void {
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
      const port = this.ports.get(to);
      this.queues.set(to, []);
      if (port === undefined) continue; // destination gone (stopped or never attached): like a lost message
      // One binary buffer per batch, transferred (not cloned): see runtime/wire.ts for why. Encoded before the depth
      // is counted, so that a worker terminated mid-flush has next to no window between counting and posting.
      const buffers: ArrayBuffer[] = [];
      for (let i = 0; i < batch.length; i += MAX_BATCH_MESSAGES) {
        buffers.push(this.codec.encode(i === 0 && batch.length <= MAX_BATCH_MESSAGES ? batch : batch.slice(i, i + MAX_BATCH_MESSAGES)));
      }
      // a port to an incarnation restarted since leads nowhere: the batch is lost like any message to a dead worker
      if (!isClient(to) && !this.view.addDepth(to, batch.length, this.incarnations.get(to) ?? 0)) continue;
      for (const buffer of buffers) port.postMessage(buffer, [buffer]);
      this.batches += buffers.length;
      this.messages += batch.length;
    }
  }
}

export type { MessagePort };
