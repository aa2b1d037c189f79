// The write coordinator, hosted by the coordinating replica (riak_kv_put_fsm in spirit).
//
// States, in order:
//   execute  the coordinator applies the write to its own copy: a new DVV event named after itself, superseding
//            exactly what the client's context covers (the host does this, then calls `start`)
//   collect  the resulting clock goes to every other target as `replicate`; acks are counted by the put core
//            (actors/quorum.ts) until W is met, has become impossible, or the deadline passes. Sloppy quorum: a
//            primary that fails, or has not answered within hintAfterMs, gets its stand-in (a spare, the next
//            healthy node on the ring) sent the clock with a hint naming it; the stand-in's ack counts toward W.
//            A target the coordinator's link detector (actors/link-detector.ts) holds down is not waited for: it
//            counts as failed at once (its stand-in takes the write), so a cut-off replica costs no timeout and a
//            write that cannot be met fails fast with QUORUM_UNREACHABLE naming the unreachable nodes
//   done     one put-reply has gone to the client; late acks are ignored
//
// The FSM never reads a clock or a timer: the host passes `nowMs` in and performs the sends it appends to `out`.

import { TimeoutError, QuorumError, type WireError } from '../errors.js';
import type { Address, PutReply, PutRequest, Replicate, Send, StoredClock } from '../protocol.js';
import type { LinkView } from '../link-detector.js';
import type { Placement } from '../ring.js';
import type { Value } from '../types.js';
import { join, type VersionVector } from '../versioning/dvv.js';
import {
  newPutCore,
  putAddReply,
  putNeeds,
  putWithdraw,
  putOutcome,
  putStatus,
  putTimeout,
  counted,
  type Counted,
  type PutCore,
} from '../quorum/index.js';

export type PutState = 'execute' | 'collect' | 'done';

export class PutFsm {
  state: PutState = 'execute';
  /** the context of the version written locally: returned to the client so it can write again without a read */
  private context: VersionVector = [];
  /** the values the context covers, when there is more than the one written (see PutReply.siblings) */
  private siblings: Array<Value | null> | undefined;
  /** true once the client has been told the write met its quorum */
  succeeded = false;
  readonly core: PutCore;
  readonly deadlineMs: number;

  constructor(
    readonly self: Address,
    /** the coordinator's own id for replicate messages (unique among its in-flight puts) */
    readonly localReq: number,
    readonly request: PutRequest,
    nowMs: number,
  ) {
    // Spares are targets from the start (they may yet answer), so the core does not call W impossible too early.
    const spares = request.sloppy ? request.spares.filter((s) => !request.targets.some((t) => t.node === s.node)) : [];
    this.spares = spares;
    this.core = newPutCore(request.need, spares.length === 0 ? request.targets : [...request.targets, ...spares], {
      sloppy: request.sloppy,
    });
    // the client's remaining budget when it sent this (a failover gets only what is left), else the caller's timeout
    this.deadlineMs = nowMs + (request.budgetMs ?? request.timeoutMs);
    this.hintAtMs = nowMs + request.hintAfterMs;
  }

  private readonly spares: Placement[];
  private readonly hintAtMs: number;
  private clock: StoredClock | undefined;
  /** primaries that acked; a spare is sent for any other once they fail or hintAfterMs passes */
  private readonly answered: number[] = [];
  /** primaries whose stand-in was sent the write (arrays: a handful of nodes, and a Set per put cost more) */
  private readonly sparesSent: number[] = [];
  /** the coordinator's link detector (the host keeps its time current); absent: every target is waited for */
  private links: LinkView | undefined;
  /** targets not waited for because the link to them is down (named in the error if the write fails) */
  private readonly unreachable: number[] = [];

  /** After the local write: count it, replicate to the other targets, and reply if W is already met. */
  start(clock: StoredClock, out: Send[], links?: LinkView): void {
    if (this.state !== 'execute') throw new Error(`PutFsm.start in state ${this.state}`);
    this.state = 'collect';
    this.context = join(clock);
    this.siblings = siblingValues(clock);
    this.clock = clock;
    this.links = links;
    this.answered.push(this.self);
    putAddReply(this.core, this.self, true);
    this.withdrawSpare(this.self);
    const { key, targets } = this.request;
    for (const t of targets) {
      if (t.node === this.self) continue;
      if (!this.reachable(t.node)) {
        this.markUnreachable(t.node);
        this.sendSpare(t.node, out);
        continue;
      }
      const msg: Replicate = { type: 'replicate', req: this.localReq, from: this.self, key, clock };
      if (this.request.epoch !== undefined) msg.epoch = this.request.epoch;
      if (t.hintFor !== undefined) msg.hintFor = t.hintFor;
      out.push({ to: t.node, msg });
    }
    this.settle(out);
  }

  /** The local write itself failed (e.g. the store is full): the put fails with that error. */
  failLocal(error: WireError, out: Send[]): void {
    this.state = 'done';
    out.push({ to: this.request.from, msg: this.reply(false, error, putOutcome(this.core)) });
  }

  onAck(from: Address, ok: boolean, out: Send[]): void {
    if (this.state !== 'collect') return;
    putAddReply(this.core, from, ok);
    if (ok) {
      if (!this.answered.includes(from)) this.answered.push(from);
      this.withdrawSpare(from);
    } else this.sendSpare(from, out);
    this.settle(out);
  }

  /**
   * Whether to send to `node` and wait for it: yes unless its link is down. A down link still gets the write as a
   * probe now and then, or when the write cannot be met without it (the verdict may be stale: the link healed); it is
   * then waited for until the next tick only (skipDown), which fails the write fast if the link is still down.
   */
  private reachable(node: number): boolean {
    const links = this.links;
    return links === undefined || !links.isDown(node) || links.probeDue(node) || putNeeds(this.core, node);
  }

  /** Every target still awaited whose link is down counts as failed now; a primary's stand-in takes its write. */
  private skipDown(out: Send[]): void {
    const links = this.links;
    if (links === undefined) return;
    for (const t of this.request.targets) {
      if (t.node === this.self || this.answered.includes(t.node) || !this.down(t.node)) continue;
      this.markUnreachable(t.node);
      this.sendSpare(t.node, out);
    }
    for (const s of this.spares) {
      if (this.sparesSent.includes(s.hintFor!) && !this.answered.includes(s.node) && this.down(s.node)) this.markUnreachable(s.node);
    }
  }

  /** Whether to stop waiting for `node`: its link is down (confirmedDown when the write cannot be met without it). */
  private down(node: number): boolean {
    const links = this.links!;
    return putNeeds(this.core, node) ? links.confirmedDown(node) : links.isDown(node);
  }

  /** A primary that acked never needs its stand-in: stop counting on it (unless it was already sent the write). */
  private withdrawSpare(primary: number): void {
    if (this.sparesSent.includes(primary)) return;
    const spare = this.spares.find((s) => s.hintFor === primary);
    if (spare !== undefined && !this.request.targets.some((t) => t.node === spare.node)) putWithdraw(this.core, spare.node);
  }

  private markUnreachable(node: number): void {
    if (!this.unreachable.includes(node)) this.unreachable.push(node);
    putAddReply(this.core, node, false);
  }

  /** Sends the clock, hinted, to the stand-in for a primary that failed or is slow (sloppy quorum only). */
  private sendSpare(primary: number, out: Send[]): void {
    if (this.clock === undefined || this.sparesSent.includes(primary)) return;
    const spare = this.spares.find((s) => s.hintFor === primary);
    if (spare === undefined) return;
    this.sparesSent.push(primary);
    if (!this.reachable(spare.node)) {
      this.markUnreachable(spare.node);
      return;
    }
    const { key } = this.request;
    out.push({
      to: spare.node,
      msg: { type: 'replicate', req: this.localReq, from: this.self, key, clock: this.clock, hintFor: primary, ...epochOf(this.request) },
    });
  }

  /** Called on every tick; true once the FSM is finished and can be forgotten. */
  onTick(nowMs: number, out: Send[]): boolean {
    if (this.state === 'collect') {
      this.skipDown(out);
      this.settle(out);
    }
    if (this.state === 'collect' && nowMs >= this.hintAtMs && this.spares.length > 0) {
      for (const t of this.request.targets) if (!this.answered.includes(t.node)) this.sendSpare(t.node, out);
    }
    if (this.state === 'collect' && nowMs >= this.deadlineMs) {
      const outcome = putTimeout(this.core);
      const error = new TimeoutError(`write timed out after ${this.request.timeoutMs} ms: ${outcome.message}`, {
        timeoutMs: this.request.timeoutMs,
        acked: outcome.ackedNodes,
        failed: outcome.failedNodes,
        pending: outcome.pendingNodes,
        needed: outcome.needed,
      });
      this.state = 'done';
      out.push({ to: this.request.from, msg: this.reply(false, error.toWire(), outcome) });
    }
    return this.state === 'done';
  }

  private settle(out: Send[]): void {
    const status = putStatus(this.core);
    if (status === 'pending') return;
    this.state = 'done';
    if (status === 'ok') {
      this.succeeded = true;
      out.push({ to: this.request.from, msg: this.reply(true, undefined, counted(this.core)) });
    } else {
      const outcome = putOutcome(this.core);
      const cut = this.unreachable;
      const why = cut.length === 0 ? '' : ` Unreachable from coordinator ${this.self}: nodes ${cut.join(',')}.`;
      const error = new QuorumError(outcome.message + why, {
        needed: outcome.needed,
        acked: outcome.ackedNodes,
        failed: outcome.failedNodes,
        pending: outcome.pendingNodes,
        unreachable: this.unreachable.slice(),
        level: this.request.need.level,
      });
      out.push({ to: this.request.from, msg: this.reply(false, error.toWire(), outcome) });
    }
  }

  private reply(ok: boolean, error: WireError | undefined, outcome: Counted): PutReply {
    const r: PutReply = {
      type: 'put-reply',
      req: this.request.req,
      from: this.self,
      ok,
      acked: outcome.ackedNodes.slice(),
      primaryOnly: outcome.primaryOnly,
      context: this.context,
    };
    if (this.siblings !== undefined) r.siblings = this.siblings;
    if (error) r.error = error;
    return r;
  }
}

/** Every value in the clock when there is more than one (siblings); undefined for the usual single value. */
function siblingValues(clock: StoredClock): Array<Value | null> | undefined {
  let n = clock.anonymous.length;
  for (const e of clock.entries) n += e.values.length;
  if (n <= 1) return undefined;
  const out: Array<Value | null> = [];
  for (const e of clock.entries) for (const s of e.values) out.push(s.v);
  for (const s of clock.anonymous) out.push(s.v);
  return out;
}

/** The epoch field a request carries on (none when the request had none). */
function epochOf(r: { epoch?: number }): { epoch?: number } {
  return r.epoch === undefined ? {} : { epoch: r.epoch };
}
