// The read coordinator, hosted by a client (riak_kv_get_fsm in spirit, counting in the get core of actors/quorum.ts).
//
// States, in order:
//   collect    `get` goes to as many targets as the read needs (primaries first); a target that fails, or a read
//              still short after retryAfterMs, asks the next unasked one (with a sloppy quorum the targets end with
//              the primaries' stand-ins, which answer from their hints); replies are counted until R is met, has
//              become impossible, or time runs out
//   reconcile  the clocks received are merged with DVV sync (and LWW-resolved in lww mode): every sibling survives
//   repair     each replica that answered with less than the merged clock gets a `repair`; with blocking read
//              repair the answer waits for their acks (monotonic quorum reads), otherwise it is given at once
//   done
//
// The host calls start / onReply / onRepairAck / onTick with `nowMs` and performs the sends appended to `out`.
// When one of them returns a GetResult, the read is answered; the FSM may still be finishing repairs after that.

import { QuorumError, TimeoutError, type LeaderlessError } from '../errors.js';
import type { Address, GetReply, Send, StoredClock } from '../protocol.js';
import { counted, getAddReply, getNeeds, getOutcome, getStatus, getTimeout, newGetCore, type GetCore, type Requirement } from '../quorum.js';
import type { LinkView } from '../link-detector.js';
import type { Placement } from '../ring.js';
import type { ConflictMode } from '../types.js';
import { equal, join, sync, type VersionVector } from '../versioning/dvv.js';
import { resolveLww, stampedEqual } from '../versioning/lww.js';

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
  /** 'all': ask every target at once and answer with the first R (Dynamo's and the PBS paper's read); default: R */
  fanout?: 'quorum' | 'all';
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
  private asked = 0;
  private outstanding = 0;
  /** asked and not answered: a reply from anyone else (e.g. a node already given up as unreachable) is ignored */
  private readonly waiting = new Set<number>();
  /** targets given up without an answer: a full mailbox or a link the client's detector holds down */
  private readonly unreachable: number[] = [];
  /** replies in arrival order: node and its clock (null: it holds nothing) */
  private readonly replyNodes: number[] = [];
  private readonly replyClocks: Array<StoredClock | null> = [];
  private merged: StoredClock | null = null;
  private answer: GetResult | undefined;
  /** replicas whose blocking repair has not been acked (allocated only for blocking repair) */
  private repairsOutstanding: Set<number> | undefined;

  constructor(
    readonly params: GetParams,
    nowMs: number,
  ) {
    this.core = newGetCore(params.need, params.targets, { sloppy: params.sloppy });
    this.deadlineMs = nowMs + params.timeoutMs;
    this.retryAtMs = nowMs + params.retryAfterMs;
  }

  private retryAtMs: number;

  start(out: Send[]): GetResult | undefined {
    // Ask as many replicas as could count (all of them when per-datacenter counts matter).
    const everyone = this.params.fanout === 'all' || Object.keys(this.params.need.perDc).length > 0;
    const wanted = everyone ? this.params.targets.length : this.params.need.total;
    while (this.outstanding < wanted && this.askNext(out));
    return this.settle(out);
  }

  onReply(msg: GetReply, out: Send[]): GetResult | undefined {
    if (this.state !== 'collect' || !this.waiting.delete(msg.from)) return undefined;
    this.outstanding--;
    if (msg.error !== undefined) {
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
      if (!(this.needs(node) ? links.confirmedDown(node) : links.isDown(node))) continue; // see PutFsm.down
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
    if (this.state === 'collect' && nowMs >= this.retryAtMs && nowMs < this.deadlineMs) {
      this.retryAtMs = nowMs + this.params.retryAfterMs;
      this.askNext(out);
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

  private askNext(out: Send[]): boolean {
    const targets = this.params.targets;
    if (this.asked >= targets.length) return false;
    const t = targets[this.asked++];
    this.outstanding++;
    this.waiting.add(t.node);
    out.push({ to: t.node, msg: { type: 'get', req: this.params.req, from: this.params.self, key: this.params.key } });
    return true;
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
    let merged: StoredClock | null = null;
    for (const clock of this.replyClocks) {
      if (clock === null) continue;
      merged = merged === null ? clock : sync(merged, clock, stampedEqual);
    }
    if (merged !== null && this.params.conflicts === 'lww') merged = resolveLww(merged);
    this.merged = merged;
    const outcome = counted(this.core);
    const repaired: number[] = [];
    if (merged !== null && this.params.readRepair !== 'off') {
      const blocking = this.params.readRepair === 'blocking';
      for (let i = 0; i < this.replyNodes.length; i++) {
        const node = this.replyNodes[i];
        const clock = this.replyClocks[i];
        if (clock !== null && equal(clock, merged)) continue;
        repaired.push(node);
        if (blocking) (this.repairsOutstanding ??= new Set()).add(node);
        out.push({
          to: node,
          msg: { type: 'repair', req: blocking ? this.params.req : -1, from: this.params.self, key: this.params.key, clock: merged },
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

  get mergedClock(): StoredClock | null {
    return this.merged;
  }
}
