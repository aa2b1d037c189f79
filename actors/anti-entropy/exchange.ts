// The initiator side of an exchange (the peer keeps no state: see serve.ts). Both sides rehash their dirty segments;
// the initiator asks for the peer's node hashes level by level, descending only below nodes that differ; for
// differing segments it asks for the peer's (keyId, digest) lists and diffs them with its own; keys only on one side
// or with different digests are synced both ways with DVV sync (never overwritten); last, tombstones are confirmed.

import { diffKeys, type SegmentItem } from '../merkle.js';
import type { AeKeysReply, AeMessage, AeTreeReply, Send, StoredClock } from '../protocol.js';
import { encodedClockSize } from '../versioning/codec.js';
import type { AeContext } from './config.js';
import type { RangeState, Ranges } from './ranges.js';
import type { Reaper } from './reaping.js';
import type { Rebuild } from './rebuild.js';
import { addExchangeStats, type ExchangeStarter, type ExchangeStats, type Rounds } from './schedule.js';

/** estimated bytes of a message header (type, req, from, range) */
export const HEADER_BYTES = 16;

type Phase = 'tree' | 'keys' | 'sync' | 'tombs';

interface Exchange {
  req: number;
  peer: number;
  range: RangeState;
  round: number;
  phase: Phase;
  deadlineMs: number;
  depth: number;
  /** indices at `depth` still to ask for, and those asked for in the request in flight */
  ask: number[];
  asked: number[];
  /** differing nodes' children at depth + 1 */
  next: number[];
  /** differing segments, and the first one not yet fully listed */
  diff: number[];
  cursor: number;
  after: string | null;
  /** the peer's items of diff[cursor] received so far, when it came in pages */
  carry: SegmentItem[];
  send: string[];
  want: string[];
  tombs: Map<string, number>;
  stats: ExchangeStats;
}

export type AeReply = Extract<AeMessage, { type: 'ae-tree-reply' | 'ae-keys-reply' | 'ae-sync-reply' | 'ae-tombs-reply' }>;

export function keysBytes(keys: readonly string[]): number {
  let n = 0;
  for (const k of keys) n += k.length + 1;
  return n;
}

export class Exchanges implements ExchangeStarter {
  /** the exchanges this node initiated, by the req of their request in flight */
  private readonly byReq = new Map<number, Exchange>();

  constructor(
    private readonly ctx: AeContext,
    private readonly ranges: Ranges,
    private readonly rebuild: Rebuild,
    private readonly reaper: Reaper,
    private readonly rounds: Rounds,
    /** called when an exchange finished or a reply ended one: the backlog may start the next */
    private readonly whenFree: (nowMs: number, out: Send[]) => void,
  ) {}

  get inFlight(): number {
    return this.byReq.size;
  }

  running(range: RangeState, peer: number): boolean {
    return [...this.byReq.values()].some((e) => e.range === range && e.peer === peer);
  }

  begin(range: RangeState, peer: number, round: number, nowMs: number, out: Send[]): void {
    const ex: Exchange = {
      req: this.ctx.nextReq(), peer, range, round, phase: 'tree', deadlineMs: nowMs + this.ctx.config.exchangeTimeoutMs,
      depth: 0, ask: [0], asked: [], next: [], diff: [], cursor: 0, after: null, carry: [], send: [], want: [],
      tombs: new Map(),
      stats: { nodesCompared: 0, segmentsCompared: 0, segmentsExchanged: 0, keysSent: 0, bytesMoved: 0 },
    };
    this.byReq.set(ex.req, ex);
    this.ctx.counters.exchangesStarted++;
    if (this.rebuild.busy() || !this.ranges.settle(range)) {
      this.fail(ex); // a pool rebuild holds some segments: try again next round
      return;
    }
    this.askTree(ex, out);
  }

  /** Exchanges past their deadline, or whose peer is down, fail. */
  expire(nowMs: number, down: ReadonlySet<number>): void {
    for (const ex of [...this.byReq.values()]) if (nowMs >= ex.deadlineMs || down.has(ex.peer)) this.fail(ex);
  }

  /** Every exchange in flight fails (its range state was reset). */
  failAll(): void {
    for (const ex of [...this.byReq.values()]) this.fail(ex);
  }

  /** The peer aborted an exchange of ours. */
  onAbort(msg: Extract<AeMessage, { type: 'ae-abort' }>): void {
    const ex = this.byReq.get(msg.req);
    if (ex !== undefined && ex.peer === msg.from) this.fail(ex);
  }

  onReply(msg: AeReply, nowMs: number, out: Send[]): void {
    const ex = this.byReq.get(msg.req);
    if (ex === undefined || ex.peer !== msg.from) return; // late reply of a finished or failed exchange
    ex.deadlineMs = nowMs + this.ctx.config.exchangeTimeoutMs;
    if (msg.type === 'ae-tree-reply') this.onTreeReply(ex, msg, out);
    else if (msg.type === 'ae-keys-reply') this.onKeysReply(ex, msg, out);
    else if (msg.type === 'ae-sync-reply') this.onSyncReply(ex, msg.entries, out);
    else this.onTombsReply(ex, msg.keys, nowMs, out);
    if (!this.byReq.has(ex.req)) this.whenFree(nowMs, out);
  }

  /**
   * Sends the exchange's next request under a fresh request id, so that a late or duplicated reply to an earlier
   * request (networks duplicate and reorder; the simulator does both) is recognized as stale and ignored instead of
   * being taken for the answer to this one.
   */
  private emit(ex: Exchange, msg: AeMessage, bytes: number, out: Send[]): void {
    this.byReq.delete(ex.req);
    ex.req = this.ctx.nextReq();
    this.byReq.set(ex.req, ex);
    msg.req = ex.req;
    ex.stats.bytesMoved += HEADER_BYTES + ex.range.id.length + bytes;
    out.push({ to: ex.peer, msg });
  }

  private askTree(ex: Exchange, out: Send[]): void {
    ex.asked = ex.ask.splice(0, this.ctx.config.maxNodesPerMessage);
    const msg: AeMessage = { type: 'ae-tree', req: ex.req, from: this.ctx.node, range: ex.range.id, depth: ex.depth, indices: ex.asked };
    this.emit(ex, msg, 4 * ex.asked.length, out);
  }

  private onTreeReply(ex: Exchange, msg: AeTreeReply, out: Send[]): void {
    if (ex.phase !== 'tree' || msg.depth !== ex.depth || msg.hashes.length !== 2 * ex.asked.length) return this.fail(ex);
    ex.stats.bytesMoved += HEADER_BYTES + 4 * msg.hashes.length;
    const tree = ex.range.tree;
    const leaf = ex.depth === tree.leafDepth;
    for (let i = 0; i < ex.asked.length; i++) {
      const idx = ex.asked[i];
      const mine = tree.node(ex.depth, idx);
      const theirs = (BigInt(msg.hashes[2 * i] >>> 0) << 32n) | BigInt(msg.hashes[2 * i + 1] >>> 0);
      ex.stats.nodesCompared++;
      if (leaf) ex.stats.segmentsCompared++;
      if (mine === theirs) continue;
      if (leaf) ex.diff.push(idx);
      else {
        const [first, end] = tree.childRange(ex.depth, idx);
        for (let c = first; c < end; c++) ex.next.push(c);
      }
    }
    if (ex.ask.length > 0) return this.askTree(ex, out);
    if (ex.next.length > 0) {
      ex.depth++;
      ex.ask = ex.next;
      ex.next = [];
      return this.askTree(ex, out);
    }
    ex.phase = 'keys';
    this.nextKeys(ex, out);
  }

  /** Asks for the next differing segments' keys, or moves on to tombstones when all were listed. */
  private nextKeys(ex: Exchange, out: Send[]): void {
    if (ex.cursor >= ex.diff.length) return this.askTombs(ex, out);
    ex.phase = 'keys';
    const segments = ex.diff.slice(ex.cursor, ex.cursor + this.ctx.config.maxSegmentsPerRequest);
    const msg: AeMessage = { type: 'ae-keys', req: ex.req, from: this.ctx.node, range: ex.range.id, segments, after: ex.after };
    this.emit(ex, msg, 4 * segments.length + (ex.after?.length ?? 0), out);
  }

  private onKeysReply(ex: Exchange, msg: AeKeysReply, out: Send[]): void {
    const expected = ex.diff.slice(ex.cursor, ex.cursor + msg.segments.length);
    const total = msg.counts.reduce((a, b) => a + b, 0);
    const shapeOk = msg.segments.length > 0 && msg.counts.length === msg.segments.length && total === msg.keys.length;
    if (ex.phase !== 'keys' || !shapeOk || msg.digests.length !== total || expected.some((s, i) => s !== msg.segments[i])) {
      return this.fail(ex);
    }
    ex.stats.bytesMoved += HEADER_BYTES + 8 * msg.segments.length + keysBytes(msg.keys) + 4 * msg.digests.length;
    let k = 0;
    for (let i = 0; i < msg.segments.length; i++) {
      for (let j = 0; j < msg.counts[i]; j++, k++) ex.carry.push([msg.keys[k], msg.digests[k] >>> 0]);
      const last = i === msg.segments.length - 1;
      if (last && msg.more) {
        ex.after = ex.carry.length > 0 ? ex.carry[ex.carry.length - 1][0] : ex.after;
        break;
      }
      this.diffSegment(ex, msg.segments[i]);
      ex.carry = [];
      ex.after = null;
      ex.cursor++;
    }
    ex.phase = 'sync';
    this.flushSync(ex, out);
  }

  private diffSegment(ex: Exchange, seg: number): void {
    const d = diffKeys(this.ranges.items(ex.range, seg), ex.carry);
    ex.stats.segmentsExchanged++;
    for (const k of d.onlyA) if (!ex.range.settledTomb(k)) ex.send.push(k);
    for (const k of d.differ) {
      ex.send.push(k);
      ex.want.push(k);
    }
    for (const k of d.onlyB) ex.want.push(k);
  }

  /** Sends the next batch of clocks and wants; when none are left, lists more keys. */
  private flushSync(ex: Exchange, out: Send[]): void {
    if (ex.send.length === 0 && ex.want.length === 0) return this.nextKeys(ex, out);
    const max = this.ctx.config.maxKeysPerMessage;
    const entries: Array<{ key: string; clock: StoredClock }> = [];
    let bytes = 0;
    for (const key of ex.send.splice(0, max)) {
      const clock = this.ctx.host.get(key);
      if (clock === undefined || ex.range.settledTomb(key)) continue;
      entries.push({ key, clock });
      bytes += key.length + encodedClockSize(clock);
    }
    const want = ex.want.splice(0, max);
    ex.stats.keysSent += entries.length;
    const msg: AeMessage = { type: 'ae-sync', req: ex.req, from: this.ctx.node, range: ex.range.id, entries, want };
    this.emit(ex, msg, bytes + keysBytes(want), out);
  }

  private onSyncReply(ex: Exchange, entries: Array<{ key: string; clock: StoredClock }>, out: Send[]): void {
    if (ex.phase !== 'sync') return this.fail(ex);
    let bytes = 0;
    for (const e of entries) {
      bytes += e.key.length + encodedClockSize(e.clock);
      if (this.ctx.host.merge(e.key, e.clock)) this.ctx.counters.keysRepaired++;
    }
    ex.stats.keysSent += entries.length;
    ex.stats.bytesMoved += HEADER_BYTES + bytes;
    this.flushSync(ex, out);
  }

  private askTombs(ex: Exchange, out: Send[]): void {
    ex.phase = 'tombs';
    const keys: string[] = [];
    const digests: number[] = [];
    for (const [key, t] of ex.range.tombs) {
      if (keys.length >= this.ctx.config.maxKeysPerMessage) break;
      if (t.confirmed.has(ex.peer)) continue;
      keys.push(key);
      digests.push(t.digest);
      ex.tombs.set(key, t.digest);
    }
    const msg: AeMessage = { type: 'ae-tombs', req: ex.req, from: this.ctx.node, range: ex.range.id, keys, digests };
    this.emit(ex, msg, keysBytes(keys) + 4 * digests.length, out);
  }

  private onTombsReply(ex: Exchange, keys: string[], nowMs: number, out: Send[]): void {
    if (ex.phase !== 'tombs') return this.fail(ex);
    ex.stats.bytesMoved += HEADER_BYTES + keysBytes(keys);
    for (const key of keys) {
      const digest = ex.tombs.get(key);
      if (digest !== undefined) this.reaper.confirm(ex.range, key, digest, ex.peer, nowMs);
    }
    this.finish(ex, nowMs, out);
  }

  private finish(ex: Exchange, nowMs: number, out: Send[]): void {
    this.byReq.delete(ex.req);
    ex.range.doneMs.set(ex.peer, nowMs);
    const c = this.ctx.counters;
    const s = ex.stats;
    c.exchangesCompleted++;
    addExchangeStats(c, s);
    this.rounds.finished(ex.round, ex.range.id, s);
    this.whenFree(nowMs, out);
  }

  private fail(ex: Exchange): void {
    if (!this.byReq.delete(ex.req)) return;
    this.ctx.counters.exchangesFailed++;
    this.rounds.failed(ex.round);
    // the backlog is pumped by the caller's next tick or reply
  }
}
