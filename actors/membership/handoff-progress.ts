// The change's bookkeeping, kept by whoever drives it (the runtime's control plane): every stream of every moving
// range, which are done, and when a range is complete (every stream into every gaining replica of it is done). A
// source that goes down mid-stream has its unfinished streams planned again from the replicas still up (what the
// gaining replica already merged stays: merging again changes nothing).

import { InvalidArgumentError } from '../errors.js';
import { handoffStreams, type HandoffStream } from './handoff-plan.js';
import type { Plan } from './plan.js';

const keyOf = (s: { rangeId: number; source: number; target: number }): string => `${s.rangeId}:${s.source}>${s.target}`;

export class HandoffProgress {
  private readonly open = new Map<string, HandoffStream>();
  private readonly finished = new Set<string>();
  private readonly completeRanges = new Set<number>();

  /** Plans every stream; a range none of whose old replicas is up throws QuorumError (handoffStreams). */
  constructor(
    readonly plan: Plan,
    isUp: (node: number) => boolean,
  ) {
    for (const r of plan.moving) for (const s of handoffStreams(plan.to.epoch, r, isUp)) this.open.set(keyOf(s), s);
    for (const r of plan.moving) if (r.gaining.length === 0) this.completeRanges.add(r.id);
  }

  /** Streams to run now (not done). */
  streams(): HandoffStream[] {
    return [...this.open.values()];
  }

  get rangesPending(): number {
    return this.plan.moving.length - this.completeRanges.size;
  }

  get streamsPending(): number {
    return this.open.size;
  }

  isComplete(rangeId: number): boolean {
    return this.completeRanges.has(rangeId);
  }

  /** A stream finished (its sender is done). Returns the range id when that completed the range, else undefined. */
  streamDone(s: { rangeId: number; source: number; target: number }): number | undefined {
    const k = keyOf(s);
    if (!this.open.delete(k)) {
      if (this.finished.has(k)) return undefined; // reported twice
      throw new InvalidArgumentError(`no open handoff stream ${k} in the change to epoch ${this.plan.to.epoch}`);
    }
    this.finished.add(k);
    if ([...this.open.values()].some((o) => o.rangeId === s.rangeId)) return undefined;
    this.completeRanges.add(s.rangeId);
    return s.rangeId;
  }

  /**
   * A source went down: its open streams are replaced by streams from the old replicas still up (for each gaining
   * replica that was waiting on it). Returns the streams to start, and the ranges this completed (when the streams
   * left had all finished already). Throws QuorumError when no old replica of a range is up.
   */
  sourceDown(node: number, isUp: (node: number) => boolean): { streams: HandoffStream[]; completed: number[] } {
    const lost = [...this.open.values()].filter((s) => s.source === node);
    const streams: HandoffStream[] = [];
    for (const s of lost) {
      this.open.delete(keyOf(s));
      const range = this.plan.moving[s.rangeId];
      const again = handoffStreams(this.plan.to.epoch, range, (n) => n !== node && isUp(n)).filter((x) => x.target === s.target);
      for (const x of again) {
        if (this.open.has(keyOf(x)) || this.finished.has(keyOf(x))) continue;
        this.open.set(keyOf(x), x);
        streams.push(x);
      }
    }
    const completed: number[] = [];
    for (const rangeId of new Set(lost.map((s) => s.rangeId))) {
      if ([...this.open.values()].some((o) => o.rangeId === rangeId)) continue;
      this.completeRanges.add(rangeId);
      completed.push(rangeId);
    }
    return { streams, completed };
  }
}
