// The gaining side of handoff streams: merges each batch (an ae-sync whose range is a handoff tag) into its store
// with the replica's own merge (DVV sync, as anti-entropy's peer does), then acknowledges it (ae-sync-reply). Like
// anti-entropy's serve.ts it keeps no per-stream state: the sender retries, and merging twice changes nothing.
//
// A node keeps data for a key it does not own only as a hint (ARCHITECTURE.md, safety rules), so a batch is refused
// (ae-abort) unless, in this node's view, the tag names the change in progress, this node gains that range, the
// sender is one of the range's old replicas, and every key of the batch lies in the range. A batch whose merge the
// store refuses is not acknowledged either (ae-abort): the sender sends it again later.

import { hash32 } from '../hash.js';
import type { AeSync, Send } from '../protocol.js';
import { parseHandoffTag } from './handoff-plan.js';
import { contains } from './token-range.js';
import type { TransitionState } from './transition.js';

export interface HandoffSink {
  /** the replica's merge (DVV sync + store write); false when the store refused the write */
  merge(keyId: string, clock: AeSync['entries'][number]['clock']): boolean;
}

export interface HandoffReceiverStats {
  batchesMerged: number;
  keysMerged: number;
  refused: number;
}

export class HandoffReceiver {
  readonly stats: HandoffReceiverStats = { batchesMerged: 0, keysMerged: 0, refused: 0 };

  constructor(
    private readonly node: number,
    private readonly sink: HandoffSink,
    /** this node's change in progress (MembershipView.transition) */
    private readonly transition: () => TransitionState | undefined,
    private readonly maxKeysPerBatch: number,
  ) {}

  handle(msg: AeSync, _nowMs: number, out: Send[]): void {
    const why = this.refusal(msg);
    if (why === undefined) {
      for (const e of msg.entries) {
        if (!this.sink.merge(e.key, e.clock)) {
          this.refuse(msg, `node ${this.node}'s store refused key ${JSON.stringify(e.key)}`, out);
          return;
        }
      }
      this.stats.batchesMerged++;
      this.stats.keysMerged += msg.entries.length;
      out.push({ to: msg.from, msg: { type: 'ae-sync-reply', req: msg.req, from: this.node, entries: [] } });
      return;
    }
    this.refuse(msg, why, out);
  }

  private refuse(msg: AeSync, reason: string, out: Send[]): void {
    this.stats.refused++;
    out.push({ to: msg.from, msg: { type: 'ae-abort', req: msg.req, from: this.node, reason } });
  }

  /** Why this batch must not be merged here, or undefined when it may. */
  private refusal(msg: AeSync): string | undefined {
    const tag = parseHandoffTag(msg.range);
    if (tag === undefined) return `${JSON.stringify(msg.range)} is not a handoff tag`;
    const t = this.transition();
    if (t === undefined || t.epoch !== tag.epoch) {
      return `node ${this.node} is not in the change to epoch ${tag.epoch} (it is in ${t === undefined ? 'none' : `epoch ${t.epoch}'s`})`;
    }
    const range = t.plan.moving[tag.rangeId];
    if (range === undefined) return `the change to epoch ${tag.epoch} has no range ${tag.rangeId}`;
    if (!range.gaining.includes(this.node)) return `node ${this.node} does not gain range ${tag.rangeId}`;
    if (!range.oldReplicas.includes(msg.from)) return `node ${msg.from} is not an old replica of range ${tag.rangeId}`;
    if (!Array.isArray(msg.entries) || msg.entries.length > this.maxKeysPerBatch) {
      return `a handoff batch carries at most ${this.maxKeysPerBatch} keys`;
    }
    const stray = msg.entries.find((e) => !contains(range, hash32(e.key)));
    if (stray !== undefined) return `key ${JSON.stringify(stray.key)} is outside range ${tag.rangeId}`;
    return undefined;
  }
}
