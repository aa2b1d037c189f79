// Tombstone confirmation and reaping. A tombstone is reaped (deleted from the store) once every other replica of its
// range has been seen holding the same tombstone and tombstoneGraceMs has passed since; and only after every other
// node said it holds no hint for the key (a hint is never dropped by a timer, so it could bring the key back). A
// node that is down, does not answer in exchangeTimeoutMs or holds a hint puts the reap back by tombstoneGraceMs.

import { segmentOf } from '../merkle.js';
import type { AeMessage, Send } from '../protocol.js';
import type { AeContext } from './config.js';
import { isTombstone, versionDigest } from './digest.js';
import type { RangeState, Ranges } from './ranges.js';

interface ReapItem {
  key: string;
  range: RangeState;
  dueMs: number;
}

/**
 * Due reaps waiting for every other node to say it holds no hint for their keys. At most maxKeysPerMessage keys per
 * check, and enough checks in flight for maxReapsPerTick keys (no more).
 */
interface HintCheck {
  req: number;
  due: ReapItem[];
  /** nodes that have not answered yet */
  waiting: Set<number>;
  /** keys some node holds a hint for */
  held: Set<string>;
  deadlineMs: number;
}

export class Reaper {
  /** reap candidates in the order they became due (grace is constant, so dueMs ascends) */
  private readonly queue: ReapItem[] = [];
  private readonly checks = new Map<number, HintCheck>();

  constructor(
    private readonly ctx: AeContext,
    private readonly ranges: Ranges,
    /** every node of the ring but this one: each is asked about hints before a reap */
    private readonly others: readonly number[],
  ) {}

  /** Forgets every due reap and check in flight (the ranges were reset). */
  reset(): void {
    this.queue.length = 0;
    this.checks.clear();
  }

  /** A peer holds the same tombstone: counted; when it was the last peer, the reap is queued. False if not ours. */
  confirm(r: RangeState, keyId: string, digest: number, peer: number, nowMs: number): boolean {
    const t = r.tombs.get(keyId);
    if (t === undefined || t.digest !== digest) return false;
    if (!t.confirmed.has(peer)) {
      t.confirmed.add(peer);
      this.ctx.counters.tombstonesConfirmed++;
    }
    if (t.allMs < 0 && r.peers.every((p) => t.confirmed.has(p))) {
      t.allMs = nowMs;
      this.queue.push({ key: keyId, range: r, dueMs: nowMs + this.ctx.config.tombstoneGraceMs });
    }
    return true;
  }

  /** Tombstones tracked here, and how many are confirmed on every replica. */
  tombstones(): { tracked: number; confirmed: number } {
    let tracked = 0;
    let confirmed = 0;
    for (const r of this.ranges.all()) {
      for (const t of r.tombs.values()) {
        tracked++;
        if (t.allMs >= 0) confirmed++;
      }
    }
    return { tracked, confirmed };
  }

  /**
   * Takes the due reaps (at most maxReapsPerTick) and asks every other node, maxKeysPerMessage keys at a time,
   * whether it holds a hint for them; they are reaped when all have answered (onHintsReply). Nothing starts while a
   * node is down; a check a node did not answer in time is put back.
   */
  reap(nowMs: number, down: ReadonlySet<number>, out: Send[]): void {
    const { maxKeysPerMessage: perCheck, maxReapsPerTick } = this.ctx.config;
    for (const c of [...this.checks.values()]) {
      if (nowMs >= c.deadlineMs || [...c.waiting].some((n) => down.has(n))) this.endCheck(c, c.due, nowMs);
    }
    if (this.others.some((n) => down.has(n))) return;
    const maxChecks = Math.ceil(maxReapsPerTick / perCheck);
    let taken = 0;
    while (this.checks.size < maxChecks && taken < maxReapsPerTick) {
      const due = this.takeDue(Math.min(perCheck, maxReapsPerTick - taken), nowMs);
      if (due.length === 0) return;
      taken += due.length;
      if (this.others.length === 0) this.reapNow(due, nowMs);
      else this.ask(due, nowMs, out);
    }
  }

  /** Which of the asked keys this node holds a hint for (any node may ask: hints are not range-bound). */
  serveHints(msg: Extract<AeMessage, { type: 'ae-hints' }>, out: Send[]): void {
    const { node, host } = this.ctx;
    if (!Array.isArray(msg.keys) || msg.keys.length > this.ctx.config.maxKeysPerMessage) {
      out.push({ to: msg.from, msg: { type: 'ae-abort', req: msg.req, from: node, reason: 'ae-hints is malformed or too long' } });
      return;
    }
    const keys = msg.keys.filter((k) => typeof k === 'string' && host.hinted(k));
    out.push({ to: msg.from, msg: { type: 'ae-hints-reply', req: msg.req, from: node, keys } });
  }

  /** Every node answered the check: reap the keys none holds a hint for, put the others back. */
  onHintsReply(msg: Extract<AeMessage, { type: 'ae-hints-reply' }>, nowMs: number): void {
    const c = this.checks.get(msg.req);
    if (c === undefined || !c.waiting.delete(msg.from)) return; // late, duplicated or unknown
    for (const k of msg.keys) c.held.add(k);
    if (c.waiting.size > 0) return;
    this.checks.delete(c.req);
    const free = c.due.filter((d) => !c.held.has(d.key) && !this.ctx.host.hinted(d.key));
    this.endCheck(null, c.due.filter((d) => !free.includes(d)), nowMs);
    this.reapNow(free, nowMs);
  }

  /** An ae-abort for one of this node's checks puts its reaps back (the node cannot say: it may hold a hint). */
  onAbort(msg: Extract<AeMessage, { type: 'ae-abort' }>, nowMs: number): boolean {
    const check = this.checks.get(msg.req);
    if (check === undefined || !check.waiting.has(msg.from)) return false;
    this.endCheck(check, check.due, nowMs);
    return true;
  }

  /** Up to `max` due reaps that are still reapable; those this node holds a hint for are put back. */
  private takeDue(max: number, nowMs: number): ReapItem[] {
    const due: ReapItem[] = [];
    const held: ReapItem[] = [];
    while (this.queue.length > 0 && due.length < max && this.queue[0].dueMs <= nowMs) {
      const head = this.queue.shift()!;
      if (!this.reapable(head, nowMs)) continue;
      (this.ctx.host.hinted(head.key) ? held : due).push(head);
    }
    this.endCheck(null, held, nowMs);
    return due;
  }

  private ask(due: ReapItem[], nowMs: number, out: Send[]): void {
    const req = this.ctx.nextReq();
    const deadlineMs = nowMs + this.ctx.config.exchangeTimeoutMs;
    this.checks.set(req, { req, due, waiting: new Set(this.others), held: new Set(), deadlineMs });
    const keys = due.map((d) => d.key);
    for (const to of this.others) out.push({ to, msg: { type: 'ae-hints', req, from: this.ctx.node, keys } });
  }

  /** Ends a check (if given) and puts reaps that could not happen back, one grace period on (dueMs stays ascending). */
  private endCheck(check: HintCheck | null, items: ReapItem[], nowMs: number): void {
    if (check !== null) this.checks.delete(check.req);
    for (const d of items) this.queue.push({ key: d.key, range: d.range, dueMs: nowMs + this.ctx.config.tombstoneGraceMs });
    this.ctx.counters.reapsDeferred += items.length;
  }

  /** Still a tombstone every replica confirmed more than the grace period ago, and the store holds exactly it. */
  private reapable(d: ReapItem, nowMs: number): boolean {
    const t = d.range.tombs.get(d.key);
    if (t === undefined || t.allMs < 0 || t.allMs + this.ctx.config.tombstoneGraceMs > nowMs) return false;
    // Check the store too: a write the hook saw would have dropped the tomb, but be sure before deleting.
    const clock = this.ctx.host.get(d.key);
    return clock !== undefined && isTombstone(clock) && versionDigest(clock) === t.digest;
  }

  private reapNow(items: ReapItem[], nowMs: number): void {
    const refused: ReapItem[] = [];
    for (const d of items) {
      if (!this.reapable(d, nowMs)) continue;
      if (!this.ctx.host.delete(d.key)) {
        refused.push(d); // the replica could not persist what a reap needs: try again later
        continue;
      }
      this.ranges.untrack(d.range, d.key, segmentOf(d.key, this.ctx.config.segments));
      this.ctx.counters.tombstonesReaped++;
    }
    this.endCheck(null, refused, nowMs);
  }
}
