// The client's side of a write: the request goes to one coordinating replica (which counts the acks, see
// actors/coordinator/put.ts); this file chooses that replica, fails over to the next one the client can reach when
// it does not answer, and bounds the whole operation by its deadline (timeoutMs covers failover too).
//
// Data layout: `pending` maps a request id to its PendingPut: the request (resent as it is to the next coordinator),
// the index of the coordinator asked last, the coordinators asked so far, and three times: the deadline (never
// moved), when the current coordinator was asked, and when it is replaced if it has not answered.

import { QuorumError, StoppedError, TimeoutError, fromWire, type LeaderlessError } from '../errors.js';
import type { LinkDetector } from '../link-detector.js';
import type { PutReply, PutRequest } from '../protocol.js';
import type { Placement } from '../ring.js';
import type { ClientConfig, ClientTransport, Clock, OperationObserver } from './client-env.js';
import { WriteResult, type ClientCounters, type PutResult } from './results.js';

/** The req of a probe (a read nobody waits for, sent to a replica whose link is down): real reqs start at 1. */
export const PROBE_REQ = 0;

interface PendingPut {
  resolve: (r: PutResult) => void;
  reject: (e: LeaderlessError) => void;
  /** startMs + timeoutMs: the whole operation's bound, failover included; never moved */
  deadlineMs: number;
  timeoutMs: number;
  /** the request, resent to the next coordinator when one does not answer */
  msg: PutRequest;
  /** index in msg.targets of the coordinator asked last */
  attempt: number;
  /** coordinators asked so far */
  asked: number[];
  /** when the current coordinator was asked, and when it is replaced if it has not answered */
  sentAtMs: number;
  failoverAtMs: number;
  startMs: number;
  /** a proxy coordinator, none of the key's targets (proxy-put.ts): asked instead of targets[attempt], never failed over */
  proxy: number | undefined;
}

export class Writes {
  private readonly pending = new Map<number, PendingPut>();

  constructor(
    private readonly config: ClientConfig,
    private readonly transport: ClientTransport,
    private readonly clock: Clock,
    private readonly links: LinkDetector,
    private readonly counters: ClientCounters,
    private readonly observer: OperationObserver,
    private readonly address: number,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** Sends the write to targets[first] and tracks it until it is answered, fails over, or times out. */
  start(msg: PutRequest, first: number, resolve: (r: PutResult) => void, reject: (e: LeaderlessError) => void, proxy?: number): void {
    const now = this.clock.now();
    const p: PendingPut = {
      resolve, reject, deadlineMs: now + msg.timeoutMs, timeoutMs: msg.timeoutMs, msg, attempt: first,
      asked: [], sentAtMs: now, failoverAtMs: now, startMs: now, proxy,
    };
    this.pending.set(msg.req, p);
    this.send(p, now);
  }

  onReply(msg: PutReply): void {
    const p = this.pending.get(msg.req);
    if (p === undefined) return;
    this.pending.delete(msg.req);
    this.observer.completed('write', this.clock.now() - p.startMs);
    if (msg.ok) p.resolve(new WriteResult(msg.acked, msg.primaryOnly, msg.context, msg.siblings, p.msg.value));
    else {
      // a refusal at the coordinator's epoch check wrote nothing: the client retries it (not a failure unless that
      // runs out of time, which counts it then)
      if (msg.error?.code !== 'WRONG_EPOCH') this.counters.failures++;
      p.reject(afterFailover(fromWire(msg.error ?? { code: 'INTERNAL', message: 'write failed without a reason', details: {} }), p.asked));
    }
  }

  /** Time passed: deadlines, failover, and probes of a coordinator slow to answer. */
  tick(nowMs: number): void {
    for (const [req, p] of this.pending) {
      if (nowMs >= p.deadlineMs) {
        this.fail(req, p, new TimeoutError(
          `write timed out after ${p.timeoutMs} ms: coordinating replicas ${p.asked.join(',')} did not answer`,
          { timeoutMs: p.timeoutMs, coordinators: p.asked.slice() },
        ));
        continue;
      }
      const coordinator = p.proxy ?? p.msg.targets[p.attempt].node;
      if (this.config.coordinatorFailoverMs === 0 && this.links.isDown(coordinator, nowMs)) {
        this.fail(req, p, unansweredWrite(p.asked));
        continue;
      }
      // Not on a down link alone: the coordinator may have applied the write, and another copy would be a sibling.
      if (nowMs >= p.failoverAtMs) this.failOver(req, p, nowMs);
      else if (nowMs - p.sentAtMs >= Math.min(this.links.timeoutOf(coordinator), p.timeoutMs / 2) && !this.links.waiting(coordinator)) {
        // slow to answer: ask it something it answers at once, so that a cut link shows within the link's timeout
        // (by half the write's own timeout at the latest: a write that gives up sooner must not leave it unasked)
        this.probe(coordinator, p.msg.key, nowMs);
      }
    }
  }

  /** Fails every pending write; one already sent may have been applied, and a STOPPED error says so. */
  failAll(e: LeaderlessError): void {
    const inFlight =
      this.pending.size === 0 || e.code !== 'STOPPED' ? e : new StoppedError(`${e.message}; the write was in flight and may have been applied`);
    for (const p of this.pending.values()) p.reject(inFlight);
    this.pending.clear();
  }

  /**
   * Index of the first target from `from` on whose link is not down, or -1. A write is not a probe (it would wait
   * out coordinatorFailoverMs on a cut link): a down target due a probe is sent a read nobody waits for instead.
   */
  reachableFrom(targets: readonly Placement[], key: string, from: number, nowMs: number): number {
    for (let i = from; i < targets.length; i++) {
      const node = targets[i].node;
      if (!this.links.isDown(node, nowMs)) return i;
      if (this.links.probeDue(node, nowMs)) this.transport.send(node, { type: 'get', req: PROBE_REQ, from: this.address, key });
    }
    return -1;
  }

  /**
   * The coordinating replica has not answered (down, cut off, or slow): the next replica this client can reach
   * coordinates, with what is left of the budget. If the first one did apply the write, the value may appear twice
   * as siblings (at-least-once: see the README). With no replica left to ask, a coordinator whose link is down
   * fails the write at once; one that is only slow is waited for until the deadline.
   */
  private failOver(req: number, p: PendingPut, nowMs: number): void {
    const next = this.reachableFrom(p.msg.targets, p.msg.key, p.attempt + 1, nowMs);
    if (next >= 0 && p.deadlineMs - nowMs > this.replyAllowanceMs()) {
      p.attempt = next;
      this.counters.coordinatorFailovers++;
      this.send(p, nowMs);
      return;
    }
    p.failoverAtMs = p.deadlineMs; // nobody left to ask
    if (!this.links.isDown(p.msg.targets[p.attempt].node, nowMs)) return;
    this.fail(req, p, unansweredWrite(p.asked, p.msg.need.total));
  }

  /** Sends the write to targets[p.attempt] with the budget left: the coordinator's deadline ends before the client's. */
  private send(p: PendingPut, nowMs: number): void {
    const node = p.proxy ?? p.msg.targets[p.attempt].node;
    p.asked.push(node);
    p.sentAtMs = nowMs;
    // failover off (0, the default): the write stays with this coordinator until it answers, its link is known down,
    // or the deadline passes; a proxy is never failed over
    p.failoverAtMs = this.config.coordinatorFailoverMs === 0 || p.proxy !== undefined ? p.deadlineMs : nowMs + this.config.coordinatorFailoverMs;
    const budgetMs = Math.max(1, p.deadlineMs - nowMs - this.replyAllowanceMs());
    if (p.asked.length > 1) return this.transport.send(node, { ...p.msg, budgetMs });
    // the first send: the message has gone nowhere yet, so it is sent itself (a copy per put, with an object spread,
    // cost the client thread about 2 us a put and left the encoder a shape it had not seen)
    p.msg.budgetMs = budgetMs;
    this.transport.send(node, p.msg);
  }

  /** Time kept back for a coordinator's answer to come back and be seen (two ticks: its tick, then ours). */
  private replyAllowanceMs(): number {
    return 2 * this.config.tickMs;
  }

  private fail(req: number, p: PendingPut, e: LeaderlessError): void {
    this.pending.delete(req);
    this.counters.failures++;
    if (e.code === 'TIMEOUT') this.counters.timeouts++;
    p.reject(e);
  }

  /** A read nobody waits for: its answer, if any, tells the link detector the replica is reachable. */
  private probe(node: number, key: string, nowMs: number): void {
    this.links.sent(node, nowMs);
    this.transport.send(node, { type: 'get', req: PROBE_REQ, from: this.address, key });
  }
}

/**
 * The error a write ends with once it was sent to more than one coordinator (failover): a refusal from a later one
 * promises only that that one wrote nothing, while an earlier one may have applied the write, so it is reported as
 * indeterminate (QUORUM_UNREACHABLE, "it may have been applied"). Errors that already say so stay as they are.
 */
export function afterFailover(e: LeaderlessError, coordinators: readonly number[]): LeaderlessError {
  if (coordinators.length < 2 || e.code === 'TIMEOUT') return e;
  if (e.code === 'QUORUM_UNREACHABLE' && !/nothing was written/.test(e.message)) return e;
  const last = coordinators[coordinators.length - 1];
  const why = e.message.replace(/\s*\(nothing was written\)/, '');
  return new QuorumError(
    `write failed at coordinator ${last} (${e.code}: ${why}) after failing over from ${coordinators.slice(0, -1).join(',')}, ` +
      'which did not answer: it may have been applied',
    { coordinators: coordinators.slice(), cause: e.code },
  );
}

/** A write whose coordinators are unreachable from this client: indeterminate, since one may have applied it. */
function unansweredWrite(coordinators: readonly number[], needed?: number): QuorumError {
  return new QuorumError(
    `write failed: coordinating replica${coordinators.length > 1 ? 's' : ''} ${coordinators.join(',')} unreachable from this ` +
      'client (a request left unanswered longer than the link\'s timeout, see links); it may have been applied',
    { needed, acked: [], unreachable: coordinators.slice(), coordinators: coordinators.slice() },
  );
}
