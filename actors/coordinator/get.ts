// The read coordinator, hosted by a client (riak_kv_get_fsm in spirit, counting in the get core of actors/quorum.ts).
//
// States, in order:
//   collect    `get` goes to as many targets as the read needs (fanout 'all': every one it may ask now); a target
//              that fails, or a read still short after retryAfterMs, asks the next one it may. The targets are the
//              primaries that are up, then stand-ins (hintFor: the primary each stands in for, answering from its
//              hints). A stand-in is asked only in place of its primary: one that is down (not among the targets),
//              failed, or slow (asked retryAfterMs ago and silent). Replies are counted by the get core until R is
//              met, has become impossible, or time runs out; a stand-in's "not found" counts only with
//              standInNotFoundOk, and a primary's seat counts once (see newGetCore)
//   reconcile  the clocks received are merged with DVV sync (and LWW-resolved in lww mode): every sibling survives
//              (actors/versioning/reconcile.ts, shared with the client's local reads)
//   repair     each primary that answered with less than the merged clock gets a `repair`; with blocking read
//              repair the answer waits for their acks (monotonic quorum reads), otherwise it is given at once. A
//              stand-in is never repaired: a node keeps data for a key it does not own only as a hint
//   done
//
// The host calls start / onReply / onRepairAck / onTick with `nowMs` and performs the sends appended to `out`.
// When one of them returns a GetResult, the read is answered; the FSM may still be finishing repairs after that.

import { QuorumError, TimeoutError, type LeaderlessError } from '../errors.js';
import type { Address, GetReply, GetRequest, Send, StoredClock } from '../protocol.js';
import { counted, getAddReply, getNeeds, getOutcome, getStatus, getTimeout, newGetCore, type GetCore, type Requirement } from '../quorum/index.js';
import type { LinkView } from '../link-detector.js';
import type { Placement } from '../ring.js';
import type { ConflictMode } from '../types.js';
import { join, type VersionVector } from '../versioning/dvv.js';
import { reconcile } from '../versioning/reconcile.js';

export type ReadRepairMode = 'async' | 'blocking' | 'off';
export type GetState = 'collect' | 'repair' | 'done';

export interface GetParams {
  req: number;
  self: Address;
  key: string;
  targets: readonly Placement[];
  need: Requirement;
  sloppy: boolean;
  readRepair: ReadRepairMode;
  conflicts: ConflictMode;
  timeoutMs: number;
  /** a read still short of R after this long asks one more target (a slow or cut-off replica is replaced) */
  retryAfterMs: number;
  /** 'all': ask every primary at once and answer with the first R (Dynamo's and the PBS paper's read); default: R */
  fanout?: 'quorum' | 'all';
  /** a stand-in's "not found" counts toward R (availability over the guarantee that it never outvotes a primary) */
  standInNotFoundOk?: boolean;
  /** the client's ring epoch, sent with every get and repair (absent: the first epoch) */
  epoch?: number;
}

export type GetResult =
  | {
      ok: true;
      /** merged clock (null when no replica held the key) */
      clock: StoredClock | null;
      context: VersionVector;
      /** nodes whose replies counted */
      replied: number[];
      /** true when every counted reply came from a primary replica */
      primaryOnly: boolean;
      /** replicas sent a read repair */
      repaired: number[];
    }
  | { ok: false; error: LeaderlessError };

export class GetFsm {
  state: GetState = 'collect';
  readonly core: GetCore;
  readonly deadlineMs: number;
  /** per target: when it was asked (-1: not yet) */
  private readonly askedAtMs: number[];
  /** primaries that failed (error or unreachable) or stayed silent past retryAfterMs: their stand-ins may be asked */
  private readonly replaceable = new Set<number>();
  private readonly failedNodes = new Set<number>();
  /** the latest time the FSM was given (asks between ticks are dated by it) */
  private lastMs: number;
  private outstanding = 0;
  /** asked and not answered: a reply from anyone else (e.g. a node already given up as unreachable) is ignored */
  private readonly waiting = new Set<number>();
  /** targets whose link was up (for the client's detector) when they were asked */
  readonly upWhenAsked = new Set<number>();
  /** needed targets asked a second time after their link was confirmed down (once each) */
  private readonly resent = new Set<number>();
  /** targets given up without an answer: a full mailbox or a link the client's detector holds down */
  private readonly unreachable: number[] = [];
  /** replies in arrival order: node and its clock (null: it holds nothing) */
  private readonly replyNodes: number[] = [];
  private readonly replyClocks: Array<StoredClock | null> = [];
  private merged: StoredClock | null = null;
  private answer: GetResult | undefined;
  /** replicas whose blocking repair has not been acked (allocated only for blocking repair) */
  private repairsOutstanding: Set<number> | undefined;

  /** spread into every repair sent: the client's epoch, when it has one */
  private readonly epoch: { epoch?: number };

  /** A get for one target, built field by field (an object spread per request cost more than the rest of it). */
  private request(): GetRequest {
    const m: GetRequest = { type: 'get', req: this.params.req, from: this.params.self, key: this.params.key };
    if (this.params.epoch !== undefined) m.epoch = this.params.epoch;
    return m;
  }

  constructor(
    readonly params: GetParams,
    nowMs: number,
  ) {
    this.epoch = params.epoch === undefined ? {} : { epoch: params.epoch };
    this.core = newGetCore(params.need, params.targets, { sloppy: params.sloppy, standInNotFoundOk: params.standInNotFoundOk });
    this.deadlineMs = nowMs + params.timeoutMs;
    this.retryAtMs = nowMs + params.retryAfterMs;
    this.askedAtMs = params.targets.map(() => -1);
    this.lastMs = nowMs;
  }

  private retryAtMs: number;

  start(out: Send[]): GetResult | undefined {
    // Ask as many replicas as could count (all of them when per-datacenter counts matter).
    const everyone = this.params.fanout === 'all' || Object.keys(this.params.need.perDc).length > 0;
    const wanted = everyone ? Infinity : this.params.need.total;
    while (this.outstanding < wanted && this.askNext(out));
    return this.settle(out);
  }

  onReply(msg: GetReply, out: Send[]): GetResult | undefined {
    if (this.state !== 'collect' || !this.waiting.delete(msg.from)) return undefined;
    this.outstanding--;
    if (msg.error !== undefined) {
      this.failed(msg.from);
      getAddReply(this.core, msg.from, 'error');
      this.askNext(out);
    } else {
      this.replyNodes.push(msg.from);
      this.replyClocks.push(msg.clock);
      getAddReply(this.core, msg.from, msg.clock === null ? 'notfound' : 'found');
    }
    return this.settle(out);
  }

  /** A target could not be reached (its mailbox was full, or it is known down): count it failed, ask another. */
  onUnreachable(node: number, out: Send[]): GetResult | undefined {
    if (this.state !== 'collect' || !this.waiting.delete(node)) return undefined;
    this.outstanding--;
    this.failed(node);
    this.unreachable.push(node);
    getAddReply(this.core, node, 'error');
    this.askNext(out);
    return this.settle(out);
  }

  /** Whether the read cannot be met if `node` fails: then it is asked even on a link held down (the verdict may be stale). */
  needs(node: number): boolean {
    return getNeeds(this.core, node);
  }

  /** Gives up at once on every target asked whose link has gone down since (no waiting out retryAfterMs). */
  onLinksDown(links: LinkView, out: Send[]): GetResult | undefined {
    if (this.state !== 'collect' || this.waiting.size === 0) return undefined;
    for (const node of [...this.waiting]) {
      // A replica the read cannot do without, whose link was up when it was asked, gets a second chance: it must
      // leave a second request unanswered too, for as long (a lost or very slow message, not a cut link: seed 7631
      // of test/sim-random.test.ts). One already down when asked fails the read fast (the partition case).
      const needed = this.needs(node);
      const i = this.params.targets.findIndex((t) => t.node === node);
      const since = needed && this.upWhenAsked.has(node) ? this.askedAtMs[i] : undefined;
      if (!(needed ? links.confirmedDown(node, since) : links.isDown(node))) continue; // see PutFsm.down
      if (since !== undefined && !this.resent.has(node)) {
        this.resent.add(node);
        this.askedAtMs[i] = this.lastMs;
        out.push({ to: node, msg: this.request() });
        continue;
      }
      const r = this.onUnreachable(node, out);
      if (r !== undefined) return r;
    }
    return undefined;
  }

  onRepairAck(from: Address): GetResult | undefined {
    if (this.state !== 'repair' || this.repairsOutstanding === undefined || !this.repairsOutstanding.delete(from)) return undefined;
    if (this.repairsOutstanding.size > 0) return undefined;
    this.state = 'done';
    return this.answer;
  }

  /** The read's deadline: fails a collecting read; answers a blocking repair that took too long anyway. */
  onTick(nowMs: number, out: Send[]): GetResult | undefined {
    this.lastMs = nowMs;
    if (this.state === 'collect' && nowMs >= this.retryAtMs && nowMs < this.deadlineMs) {
      this.retryAtMs = nowMs + this.params.retryAfterMs;
      // one more target, or more: one in place of each primary that has just been found slow
      let more = Math.max(1, this.markSlow(nowMs));
      while (more-- > 0 && this.askNext(out));
    }
    if (nowMs < this.deadlineMs || this.state === 'done') return undefined;
    if (this.state === 'repair') {
      this.state = 'done';
      return this.answer;
    }
    const outcome = getTimeout(this.core);
    this.state = 'done';
    return {
      ok: false,
      error: new TimeoutError(`read timed out after ${this.params.timeoutMs} ms: ${outcome.message}`, {
        timeoutMs: this.params.timeoutMs,
        replied: outcome.ackedNodes,
        failed: outcome.failedNodes,
        pending: outcome.pendingNodes,
        needed: outcome.needed,
      }),
    };
  }

  /** Asks the first target not yet asked that may be asked now (primaries come first in the targets). */
  private askNext(out: Send[]): boolean {
    const targets = this.params.targets;
    const i = targets.findIndex((t, k) => this.askedAtMs[k] < 0 && this.mayAsk(t));
    if (i < 0) return false;
    this.askedAtMs[i] = this.lastMs;
    this.outstanding++;
    this.waiting.add(targets[i].node);
    out.push({ to: targets[i].node, msg: this.request() });
    return true;
  }

  /** A stand-in answers only in place of its primary: one that is down (not a target), failed, or slow. */
  private mayAsk(t: Placement): boolean {
    if (t.primary || t.hintFor === undefined) return true;
    return this.replaceable.has(t.hintFor) || !this.params.targets.some((p) => p.primary && p.node === t.hintFor);
  }

  private failed(node: number): void {
    this.failedNodes.add(node);
    this.replaceable.add(node);
  }

  /** Primaries asked at least retryAfterMs ago that have not answered become replaceable; returns how many did. */
  private markSlow(nowMs: number): number {
    let slow = 0;
    this.params.targets.forEach((t, i) => {
      const silent = this.askedAtMs[i] >= 0 && !this.replyNodes.includes(t.node) && !this.failedNodes.has(t.node);
      const due = nowMs - this.askedAtMs[i] >= this.params.retryAfterMs;
      if (!t.primary || !silent || !due || this.replaceable.has(t.node)) return;
      this.replaceable.add(t.node);
      slow++;
    });
    return slow;
  }

  private settle(out: Send[]): GetResult | undefined {
    const status = getStatus(this.core);
    if (status === 'pending') {
      // Everything asked has answered but more is needed: ask the rest.
      if (this.outstanding === 0 && !this.askNext(out)) return this.fail();
      return undefined;
    }
    if (status === 'failed') return this.fail();
    return this.reconcile(out);
  }

  private fail(): GetResult {
    const outcome = getOutcome(this.core);
    this.state = 'done';
    const why = this.unreachable.length === 0 ? '' : ` Unreachable from this client: nodes ${this.unreachable.join(',')}.`;
    return {
      ok: false,
      error: new QuorumError(outcome.message + why, {
        needed: outcome.needed,
        replied: outcome.ackedNodes,
        failed: outcome.failedNodes,
        unreachable: this.unreachable.slice(),
        level: this.params.need.level,
      }),
    };
  }

  private reconcile(out: Send[]): GetResult | undefined {
    const { merged, stale } = reconcile(this.replyNodes, this.replyClocks, this.params.conflicts);
    this.merged = merged;
    const outcome = counted(this.core);
    const repaired: number[] = [];
    if (merged !== null && this.params.readRepair !== 'off') {
      const blocking = this.params.readRepair === 'blocking';
      for (const node of stale) {
        if (!this.isPrimary(node)) continue; // a stand-in keeps nothing but hints: a copy there escapes anti-entropy
        repaired.push(node);
        if (blocking) (this.repairsOutstanding ??= new Set()).add(node);
        out.push({
          to: node,
          msg: { type: 'repair', req: blocking ? this.params.req : -1, from: this.params.self, key: this.params.key, clock: merged, ...this.epoch },
        });
      }
    }
    this.answer = {
      ok: true,
      clock: merged,
      context: merged === null ? [] : join(merged),
      replied: outcome.ackedNodes.slice(),
      primaryOnly: outcome.primaryOnly,
      repaired,
    };
    if (this.repairsOutstanding !== undefined && this.repairsOutstanding.size > 0) {
      this.state = 'repair';
      return undefined;
    }
    this.state = 'done';
    return this.answer;
  }

  private isPrimary(node: number): boolean {
    return this.params.targets.some((t) => t.node === node && t.primary);
  }

  get mergedClock(): StoredClock | null {
    return this.merged;
  }
}
