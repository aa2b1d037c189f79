// Per-link failure detection from the messages themselves (Dynamo's local failure detection), pure and deterministic.
//
// Each sender (a replica coordinating writes, a client coordinating reads and choosing a write coordinator) keeps one
// detector over the replicas it talks to. A peer is down *for this sender* once a request to it has gone unanswered
// for timeoutMs: nothing at all came back from it since the oldest request still waiting. Anything the peer sends
// (an ack, a reply, a request of its own) makes it up again. A partition cuts links, not heartbeats in shared memory,
// so only this tells a coordinator to route around a cut peer at once instead of waiting out hintAfterMs or
// readRetryMs on every operation.
//
// How long is too long is learnt per link, as TCP learns its retransmission timeout (Jacobson): the smoothed round
// trip plus four deviations, never below timeoutMs, and initialTimeoutMs before the link has answered anything (a
// slow WAN link or an injected delay is not a cut link). Round trips of a link that was down are not learnt.
//
// A down peer is probed: probeDue() says yes once every probeIntervalMs, and the caller then sends it a request
// whose answer nobody waits for (a replicate that was already hinted elsewhere, a read with a probe id). When the
// link is back the answer makes the peer up again.
//
// Data layout: per peer address (replicas only: at most MAX_NODES entries), the time the oldest unanswered request
// was sent (NaN: nothing waiting), whether the peer is down, when the next probe is due, and the smoothed round trip
// and its deviation (NaN before the first).
//
// Time is passed in as nowMs (monotonic ms), never read here.

import { InvalidConfigError } from './errors.js';

export interface LinkOptions {
  /** a peer that has sent nothing for this long since a request to it is down for this sender (ms), at least */
  timeoutMs: number;
  /** the same before the link has answered anything (no round trip learnt yet) (ms) */
  initialTimeoutMs: number;
  /** a down peer is sent one probe this often (ms) */
  probeIntervalMs: number;
}

export const DEFAULT_LINK_OPTIONS: Readonly<LinkOptions> = Object.freeze({
  timeoutMs: 500,
  initialTimeoutMs: 1000,
  probeIntervalMs: 250,
});

/** Most peers one detector tracks (replica addresses are below 2^16). */
export const MAX_LINK_PEERS = 1 << 16;

interface Link {
  waitingSinceMs: number;
  down: boolean;
  nextProbeMs: number;
  srttMs: number;
  rttVarMs: number;
}

/** Validates link options; throws InvalidConfigError naming the bad one and what is allowed. */
export function linkOptions(input: Partial<LinkOptions> = {}): LinkOptions {
  const o: LinkOptions = { ...DEFAULT_LINK_OPTIONS, ...input };
  for (const k of ['timeoutMs', 'initialTimeoutMs', 'probeIntervalMs'] as const) {
    if (typeof o[k] !== 'number' || !(o[k] >= 1 && o[k] <= 3_600_000)) {
      throw new InvalidConfigError(`links.${k} must be a number from 1 to 3600000 (ms); got ${String(o[k])}`);
    }
  }
  return o;
}

/** What a coordinator asks of the detector at one instant (time already bound in). */
export interface LinkView {
  isDown(peer: number): boolean;
  /** see LinkDetector.confirmedDown; `sinceMs`: when the caller's own request went to the peer */
  confirmedDown(peer: number, sinceMs?: number): boolean;
  probeDue(peer: number): boolean;
}

export class LinkDetector {
  readonly options: Readonly<LinkOptions>;
  private readonly links = new Map<number, Link>();
  private viewMs = 0;
  private readonly boundView: LinkView = {
    isDown: (peer) => this.isDown(peer, this.viewMs),
    confirmedDown: (peer, sinceMs) => this.confirmedDown(peer, this.viewMs, sinceMs),
    probeDue: (peer) => this.probeDue(peer, this.viewMs),
  };

  constructor(options: Partial<LinkOptions> = {}) {
    this.options = Object.freeze(linkOptions(options));
  }

  /** A request that expects an answer went to `peer`. */
  sent(peer: number, nowMs: number): void {
    const l = this.link(peer);
    if (l !== undefined && Number.isNaN(l.waitingSinceMs)) l.waitingSinceMs = nowMs;
  }

  /** Something arrived from `peer`: the link works. */
  heard(peer: number, nowMs: number): void {
    const l = this.links.get(peer);
    if (l === undefined) return;
    if (!l.down && !Number.isNaN(l.waitingSinceMs)) learn(l, nowMs - l.waitingSinceMs);
    l.waitingSinceMs = NaN;
    l.down = false;
  }

  /** How long `peer` may leave a request unanswered before it is down (ms). */
  timeoutOf(peer: number): number {
    const l = this.links.get(peer);
    if (l === undefined || Number.isNaN(l.srttMs)) return Math.max(this.options.timeoutMs, this.options.initialTimeoutMs);
    return Math.max(this.options.timeoutMs, l.srttMs + 4 * l.rttVarMs);
  }

  /** Whether `peer` is down for this sender now (it has left a request unanswered for timeoutMs or more). */
  isDown(peer: number, nowMs: number): boolean {
    const l = this.links.get(peer);
    if (l === undefined) return false;
    if (!l.down && nowMs - l.waitingSinceMs >= this.timeoutOf(peer)) {
      l.down = true;
      l.nextProbeMs = nowMs; // probe at once: a link cut briefly comes back within one probe
    }
    return l.down;
  }

  /**
   * Down, and silent for one and a half times its timeout: a busy peer (a deep mailbox, a long pause) has had half a
   * timeout more to answer. An operation that cannot be met without the peer fails only on this, not on a fresh
   * verdict (a false one would fail it; a false one for a peer with a stand-in costs only a hint). Given `sinceMs`
   * (when the operation's own request went out), the silence counts from then at the earliest: a peer held down
   * since before a heal must first leave that request unanswered (seed 7631 of test/sim-random.test.ts).
   */
  confirmedDown(peer: number, nowMs: number, sinceMs = -Infinity): boolean {
    const l = this.links.get(peer);
    if (l === undefined || !this.isDown(peer, nowMs)) return false;
    return nowMs - Math.max(l.waitingSinceMs, sinceMs) >= 1.5 * this.timeoutOf(peer);
  }

  /** True at most once per probeIntervalMs for a down peer: the caller sends it one request as a probe. */
  probeDue(peer: number, nowMs: number): boolean {
    if (!this.isDown(peer, nowMs)) return false;
    const l = this.links.get(peer)!;
    if (nowMs < l.nextProbeMs) return false;
    l.nextProbeMs = nowMs + this.options.probeIntervalMs;
    this.sent(peer, nowMs);
    return true;
  }

  /**
   * `peer` was restarted (a new incarnation, on a new channel): what its old incarnation left unanswered says
   * nothing of the new one, so the link starts afresh, up until the new one leaves a request unanswered.
   */
  restarted(peer: number): void {
    this.links.delete(peer);
  }

  /** Whether a request to `peer` is waiting for an answer (a probe to an up peer would then add nothing). */
  waiting(peer: number): boolean {
    const l = this.links.get(peer);
    return l !== undefined && !Number.isNaN(l.waitingSinceMs);
  }

  /** The detector at `nowMs`, for a coordinator that takes a LinkView (one object, reused: valid until the next call). */
  at(nowMs: number): LinkView {
    this.viewMs = nowMs;
    return this.boundView;
  }

  /** The peers down for this sender now, ascending. */
  downPeers(nowMs: number): number[] {
    const out: number[] = [];
    for (const peer of this.links.keys()) if (this.isDown(peer, nowMs)) out.push(peer);
    return out.sort((a, b) => a - b);
  }

  private link(peer: number): Link | undefined {
    let l = this.links.get(peer);
    if (l === undefined) {
      if (!Number.isInteger(peer) || peer < 0 || peer >= MAX_LINK_PEERS) return undefined; // clients are not tracked
      l = { waitingSinceMs: NaN, down: false, nextProbeMs: 0, srttMs: NaN, rttVarMs: NaN };
      this.links.set(peer, l);
    }
    return l;
  }
}

/** One round trip learnt (RFC 6298's smoothing: gains 1/8 and 1/4). */
function learn(l: Link, rttMs: number): void {
  if (Number.isNaN(l.srttMs)) {
    l.srttMs = rttMs;
    l.rttVarMs = rttMs / 2;
    return;
  }
  l.rttVarMs = 0.75 * l.rttVarMs + 0.25 * Math.abs(l.srttMs - rttMs);
  l.srttMs = 0.875 * l.srttMs + 0.125 * rttMs;
}
