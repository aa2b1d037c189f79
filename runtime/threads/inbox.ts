// The receiving side of the thread transport (transport.ts sends): batches arrive in each sender's ring (ring.ts),
// and on the port only when a ring could not take them. An Inbox polls every ring it knows while batches keep
// coming (one round per turn of the event loop, so timers and control calls still run between rounds) and goes idle
// when a round finds nothing; a sender then wakes it with a message on the port.
//
// Per port, in the order the sender sent: a RING announcement (attach its ring), WAKE (poll), a posted batch (drain
// that sender's ring first: what is in it was sent earlier), GOODBYE (drain, then close the port).

import type { MessagePort } from 'node:worker_threads';
import { ByteRing } from './ring.js';
import { GOODBYE, RING, WAKE, type RingAnnouncement } from './transport.js';

/** Called with a batch as bytes [0, length) of a buffer that is reused after the call: decode it before returning. */
export type BatchHandler = (buffer: ArrayBuffer, length: number) => void;

interface Source {
  port: MessagePort;
  ring: ByteRing | null;
  take: (bytes: Uint8Array, length: number) => void;
}

export class Inbox {
  private readonly sources: Source[] = [];
  private scratch = new ArrayBuffer(64 * 1024);
  private scratch8 = new Uint8Array(this.scratch);
  private scheduled = false;
  private idle = true;
  private pumping = false;
  private readonly pumpBound = (): void => this.pump();
  /** batches taken from rings, and posted ones */
  ringBatches = 0;
  postedBatches = 0;

  /** Receives `port`'s batches with `handle`; forgets the port when it closes. */
  listen(port: MessagePort, handle: BatchHandler): void {
    const source: Source = {
      port,
      ring: null,
      take: (bytes, length) => {
        if (this.scratch.byteLength < length) this.grow(length);
        this.scratch8.set(bytes);
        this.ringBatches++;
        handle(this.scratch, length);
      },
    };
    port.on('message', (data: ArrayBuffer | string | RingAnnouncement) => {
      if (data === WAKE) return this.wake();
      if (typeof data === 'object' && data !== null && (data as RingAnnouncement).type === RING) {
        source.ring = ByteRing.attach((data as RingAnnouncement).buffer);
        if (!this.idle) source.ring.setIdle(false);
        this.sources.push(source);
        return;
      }
      source.ring?.drain(source.take); // batches in the ring were sent before this one
      if (data === GOODBYE) return port.close();
      if (data instanceof ArrayBuffer) {
        this.postedBatches++;
        try {
          handle(data, data.byteLength);
        } finally {
          source.ring?.tookPosted();
        }
      }
    });
    port.once('close', () => {
      const i = this.sources.indexOf(source);
      if (i >= 0) this.sources.splice(i, 1);
    });
  }

  private grow(length: number): void {
    let size = this.scratch.byteLength;
    while (size < length) size *= 2;
    this.scratch = new ArrayBuffer(size);
    this.scratch8 = new Uint8Array(this.scratch);
  }

  private wake(): void {
    if (this.idle) this.pump();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.pumpBound);
  }

  /** One round over every ring; another next turn if any had batches, else idle (see ring.ts: no lost wake-up). */
  private pump(): void {
    this.scheduled = false;
    if (this.pumping) return this.schedule(); // a handler's own call path reached here: finish the round first
    this.pumping = true;
    try {
      if (this.idle) {
        this.idle = false;
        for (const s of this.sources) s.ring!.setIdle(false);
      }
      let records = 0;
      for (let i = 0; i < this.sources.length; i++) records += this.sources[i].ring!.drain(this.sources[i].take);
      if (records > 0) return this.schedule();
      for (const s of this.sources) s.ring!.setIdle(true);
      this.idle = true;
      for (const s of this.sources) {
        if (!s.ring!.empty) {
          this.idle = false;
          for (const t of this.sources) t.ring!.setIdle(false);
          return this.schedule();
        }
      }
    } finally {
      this.pumping = false;
    }
  }
}
