// When exchanges run: repair rounds (one exchange per (range, higher peer) pair, with a result once all finished),
// periodic exchanges (one pair every intervalMs, round-robin), and the backlog that waits for a free slot
// (maxExchangesInFlight). A pair whose peer is down is skipped, not queued.

import { InvalidArgumentError } from '../errors.js';
import type { Send } from '../protocol.js';
import { emptyRoundResult, type AeContext, type RoundResult } from './config.js';
import type { RangeState, Ranges } from './ranges.js';

/** What one finished exchange adds to its round. */
export interface ExchangeStats {
  nodesCompared: number;
  segmentsCompared: number;
  segmentsExchanged: number;
  keysSent: number;
  bytesMoved: number;
}

/** Adds one exchange's figures to a total (a node's counters, a round's result). */
export function addExchangeStats(into: ExchangeStats, s: ExchangeStats): void {
  into.nodesCompared += s.nodesCompared;
  into.segmentsCompared += s.segmentsCompared;
  into.segmentsExchanged += s.segmentsExchanged;
  into.keysSent += s.keysSent;
  into.bytesMoved += s.bytesMoved;
}

interface Round {
  pending: number;
  ranges: Set<string>;
  result: RoundResult;
}

/** Repair rounds in progress and their tallies. Round 0 is no round (periodic exchanges). */
export class Rounds {
  private readonly byId = new Map<number, Round>();
  private next = 1;

  open(): { id: number; round: Round } {
    const id = this.next++;
    const round: Round = { pending: 0, ranges: new Set(), result: emptyRoundResult() };
    this.byId.set(id, round);
    return { id, round };
  }

  finished(id: number, rangeId: string, s: ExchangeStats): void {
    const round = this.byId.get(id);
    if (round === undefined) return;
    round.pending--;
    round.ranges.add(rangeId);
    const r = round.result;
    r.exchanges++;
    addExchangeStats(r, s);
  }

  failed(id: number): void {
    const round = this.byId.get(id);
    if (round === undefined) return;
    round.pending--;
    round.result.failed++;
  }

  skipped(id: number): void {
    const round = this.byId.get(id);
    if (round === undefined) return;
    round.pending--;
    round.result.skipped++;
  }

  /** The result of a round once every exchange in it has finished; undefined while some run. Forgets the round. */
  result(id: number): RoundResult | undefined {
    const round = this.byId.get(id);
    if (round === undefined) throw new InvalidArgumentError(`no repair round ${id} (unknown, or its result was taken)`);
    if (round.pending > 0) return undefined;
    this.byId.delete(id);
    round.result.ranges = round.ranges.size;
    round.result.rangeIds = [...round.ranges].sort();
    return round.result;
  }
}

/** What the scheduler needs of the initiator. */
export interface ExchangeStarter {
  readonly inFlight: number;
  running(range: RangeState, peer: number): boolean;
  begin(range: RangeState, peer: number, round: number, nowMs: number, out: Send[]): void;
}

export class Schedule {
  private readonly backlog: Array<{ range: RangeState; peer: number; round: number }> = [];
  /** (range, peer) pairs for periodic exchanges, and the next one to start */
  private readonly pairs: Array<{ range: RangeState; peer: number }> = [];
  private pairCursor = 0;
  private nextPeriodicMs = -Infinity;
  /** the nodes down as of the last tick or round */
  down: ReadonlySet<number> = new Set();

  constructor(
    private readonly ctx: AeContext,
    private readonly ranges: Ranges,
    private readonly rounds: Rounds,
    private readonly exchanges: ExchangeStarter,
  ) {
    this.resetPairs();
  }

  /** The ranges were reset: periodic pairs name the new states. */
  resetPairs(): void {
    this.pairs.length = 0;
    for (const r of this.ranges.all()) for (const peer of r.peers) this.pairs.push({ range: r, peer });
  }

  /**
   * Queues one exchange for every (range, peer) pair with peer > this node (so that when every node starts a
   * round, each pair of replicas sharing a range is compared once). Returns the round id.
   */
  startRound(nowMs: number, down: readonly number[], out: Send[]): number {
    this.down = new Set(down);
    const { id, round } = this.rounds.open();
    for (const r of this.ranges.all()) {
      for (const peer of r.peers) {
        if (peer < this.ctx.node) continue;
        if (this.down.has(peer)) {
          round.result.skipped++;
          this.ctx.counters.exchangesSkipped++;
          continue;
        }
        round.pending++;
        this.backlog.push({ range: r, peer, round: id });
      }
    }
    this.pump(nowMs, out);
    return id;
  }

  /** The oldest of the (range, peer) pairs' last completed exchanges, or null when some pair never completed one. */
  lastRepairMs(): number | null {
    let oldest = Infinity;
    for (const r of this.ranges.all()) {
      for (const p of r.peers) {
        const t = r.doneMs.get(p);
        if (t === undefined) return null;
        oldest = Math.min(oldest, t);
      }
    }
    return oldest === Infinity ? null : oldest;
  }

  /** Queues the next periodic pair when one is due (and not already running or waiting). */
  periodic(nowMs: number): void {
    if (this.ctx.config.intervalMs <= 0 || nowMs < this.nextPeriodicMs || this.pairs.length === 0) return;
    this.nextPeriodicMs = nowMs + this.ctx.config.intervalMs;
    const pair = this.pairs[this.pairCursor++ % this.pairs.length];
    const busy = this.exchanges.running(pair.range, pair.peer);
    if (!busy && !this.down.has(pair.peer) && this.backlog.length < this.pairs.length) {
      this.backlog.push({ range: pair.range, peer: pair.peer, round: 0 });
    }
  }

  /** Starts backlog exchanges while slots are free. */
  pump(nowMs: number, out: Send[]): void {
    while (this.exchanges.inFlight < this.ctx.config.maxExchangesInFlight && this.backlog.length > 0) {
      const job = this.backlog.shift()!;
      if (this.down.has(job.peer)) {
        this.ctx.counters.exchangesSkipped++;
        this.rounds.skipped(job.round);
        continue;
      }
      this.exchanges.begin(job.range, job.peer, job.round, nowMs, out);
    }
  }
}
