// The source side of one handoff stream: lists the range's keys from its store in a fixed order and sends their
// clocks to the gaining replica in batches, with at most maxBytesInFlight unacknowledged; a batch not acknowledged
// within retryAfterMs (dropped, refused with ae-abort, or its ack lost) is sent again, unchanged and under the same
// req, so a late ack of an earlier copy acknowledges it too. The receiver merges with DVV sync, so a batch that
// arrives twice, or after a newer write of the same key, changes nothing it should not.
//
// Wire format: anti-entropy's own. A batch is an `ae-sync` (entries = clocks, want = []) whose `range` is the
// handoff tag (handoff-plan.ts); the ack is the `ae-sync-reply` (entries = []); a refusal is `ae-abort`. Bytes are
// estimated exactly as anti-entropy's exchange estimates them (HEADER_BYTES, key length, encodedClockSize).
//
// States: streaming (batches to send or in flight) -> done (every key listed was acknowledged). The host calls
// start, then handle(msg, nowMs, out) with replies and ticks, and performs the sends appended to `out`.

import { HEADER_BYTES } from '../anti-entropy/exchange.js';
import type { AeSync, Message, Send, StoredClock } from '../protocol.js';
import { encodedClockSize } from '../versioning/codec.js';
import { handoffTag, validateHandoffConfig, type HandoffConfig, type HandoffSource, type HandoffStream } from './handoff-plan.js';

interface Batch {
  msg: AeSync;
  bytes: number;
  sentAtMs: number;
}

export interface HandoffSenderStats {
  batchesSent: number;
  /** batches sent again after retryAfterMs */
  resends: number;
  /** ae-abort answers (the target refused: not yet in the change, or its store refused) */
  refusals: number;
  keysAcked: number;
  /** estimated bytes of batches acknowledged (each counted once) */
  bytesAcked: number;
  /** estimated bytes put on the wire, resends included */
  bytesSent: number;
}

/**
 * Request ids for handoff batches: negative, so that they never clash with anti-entropy's (positive) ones. One
 * sequence per node, shared by every sender on it: an ack (ae-sync-reply) names only its req, not the stream.
 */
export function handoffReqs(): () => number {
  let next = -1;
  return () => next--;
}

export class HandoffSender {
  state: 'idle' | 'streaming' | 'done' = 'idle';
  readonly tag: string;
  readonly stats: HandoffSenderStats = { batchesSent: 0, resends: 0, refusals: 0, keysAcked: 0, bytesAcked: 0, bytesSent: 0 };
  /** when the stream last made progress (an ack): health warns when nowMs - this grows */
  lastProgressMs = 0;
  private readonly inFlight = new Map<number, Batch>();
  private inFlightBytes = 0;
  /** keys listed and not yet batched */
  private queue: string[] = [];
  private after: string | null = null;
  private listed = false;

  constructor(
    private readonly node: number,
    readonly stream: HandoffStream,
    private readonly source: HandoffSource,
    private readonly config: HandoffConfig,
    private readonly nextReq: () => number,
  ) {
    validateHandoffConfig(config);
    this.tag = handoffTag(stream.epoch, stream.rangeId);
  }

  get bytesInFlight(): number {
    return this.inFlightBytes;
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /** Whether a reply with this req is this stream's. */
  owns(req: number): boolean {
    return this.inFlight.has(req);
  }

  start(nowMs: number, out: Send[]): void {
    if (this.state !== 'idle') return;
    this.state = 'streaming';
    this.lastProgressMs = nowMs;
    this.pump(nowMs, out);
  }

  handle(msg: Message, nowMs: number, out: Send[]): void {
    if (this.state !== 'streaming') return;
    if (msg.type === 'tick') return this.resendDue(nowMs, out);
    if (msg.type !== 'ae-sync-reply' && msg.type !== 'ae-abort') return;
    const batch = this.inFlight.get(msg.req);
    if (batch === undefined || msg.from !== this.stream.target) return; // a late ack of a batch already acknowledged
    if (msg.type === 'ae-abort') {
      this.stats.refusals++; // kept in flight: sent again after retryAfterMs
      return;
    }
    this.inFlight.delete(msg.req);
    this.inFlightBytes -= batch.bytes;
    this.stats.keysAcked += batch.msg.entries.length;
    this.stats.bytesAcked += batch.bytes;
    this.lastProgressMs = nowMs;
    this.pump(nowMs, out);
  }

  private resendDue(nowMs: number, out: Send[]): void {
    for (const batch of this.inFlight.values()) {
      if (nowMs - batch.sentAtMs < this.config.retryAfterMs) continue;
      batch.sentAtMs = nowMs;
      this.stats.resends++;
      this.stats.bytesSent += batch.bytes;
      out.push({ to: this.stream.target, msg: batch.msg });
    }
  }

  /** Sends batches while the budget allows; done once everything listed was acknowledged. */
  private pump(nowMs: number, out: Send[]): void {
    const { maxBytesInFlight, maxBatchBytes } = this.config;
    while (this.inFlightBytes === 0 || this.inFlightBytes + maxBatchBytes <= maxBytesInFlight) {
      const batch = this.nextBatch(nowMs);
      if (batch === undefined) break;
      this.inFlight.set(batch.msg.req, batch);
      this.inFlightBytes += batch.bytes;
      this.stats.batchesSent++;
      this.stats.bytesSent += batch.bytes;
      out.push({ to: this.stream.target, msg: batch.msg });
    }
    if (this.inFlight.size === 0 && this.queue.length === 0 && this.listed) this.state = 'done';
  }

  /**
   * The next batch: keys in list order while they fit maxKeysPerBatch and maxBatchBytes. A single entry larger than
   * maxBatchBytes goes alone, and only when nothing else is in flight, so bytesInFlight never exceeds the larger of
   * maxBytesInFlight and the largest entry.
   */
  private nextBatch(nowMs: number): Batch | undefined {
    const { maxKeysPerBatch, maxBatchBytes } = this.config;
    const entries: Array<{ key: string; clock: StoredClock }> = [];
    let bytes = HEADER_BYTES + this.tag.length;
    while (entries.length < maxKeysPerBatch) {
      const key = this.peekKey();
      if (key === undefined) break;
      const clock = this.source.get(key);
      if (clock === undefined) {
        this.queue.shift(); // gone since it was listed (a reaped tombstone): nothing to hand off
        continue;
      }
      const size = key.length + encodedClockSize(clock);
      const oversize = entries.length === 0 && size + bytes > maxBatchBytes;
      if (oversize && this.inFlightBytes > 0) break;
      if (!oversize && bytes + size > maxBatchBytes) break;
      this.queue.shift();
      entries.push({ key, clock });
      bytes += size;
      if (oversize) break;
    }
    if (entries.length === 0) return undefined;
    const msg: AeSync = { type: 'ae-sync', req: this.nextReq(), from: this.node, range: this.tag, entries, want: [] };
    return { msg, bytes, sentAtMs: nowMs };
  }

  /** The next key to send, listing the next page when the queue is empty. */
  private peekKey(): string | undefined {
    if (this.queue.length === 0 && !this.listed) {
      const max = this.config.maxKeysPerBatch;
      const page = this.source.listKeys(this.stream.range, this.after, max);
      if (page.length < max) this.listed = true;
      if (page.length > 0) this.after = page[page.length - 1];
      this.queue = page;
    }
    return this.queue[0];
  }
}
