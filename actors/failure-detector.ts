// Phi accrual failure detector (Hayashibara et al. 2004), computed as Akka's PhiAccrualFailureDetector does.
//
// Data layout:
//   a ring of the last `maxSampleSize` inter-arrival intervals (Float64Array, ms) with their running sum and sum of
//   squares, plus the arrival time of the last heartbeat. The first heartbeat seeds the window with two intervals,
//   firstHeartbeatEstimateMs -/+ a quarter of it, so phi is meaningful before real intervals arrive.
//
// phi(nowMs) = -log10(P(an interval longer than nowMs - lastHeartbeat)), P from a logistic approximation of the
// normal distribution with mean = window mean + acceptableHeartbeatPauseMs and stdDev = max(window stdDev,
// minStdDeviationMs). phi 1 means a 10% chance the node is alive and merely late, 8 means 1e-8.
//
// How to use it: one detector per monitored node; call heartbeat(nowMs) on every arrival and isAvailable(nowMs) when
// deciding; suspectAtMs() says when to look again. Time is a number passed in (monotonic ms), never read here.
// As in Akka, an interval that arrives after the node was already suspected is not learnt: a long outage must not
// widen the distribution and slow the next detection. One deviation: the first real interval is always learnt.
// Akka never learns when firstHeartbeatEstimateMs is far below the real interval (every heartbeat arrives after
// suspicion), so the node would stay suspected between heartbeats forever.

import { InvalidArgumentError, InvalidConfigError } from './errors.js';

export interface PhiParams {
  /** phi at or above which the node is suspected; default 8, allowed (0, 100] */
  threshold: number;
  /** intervals remembered; default 200, allowed 1 .. 100000 */
  maxSampleSize: number;
  /** floor under the standard deviation, so a very steady sender is not suspected at once on a small delay */
  minStdDeviationMs: number;
  /** extra pause tolerated on top of the mean interval (GC pauses, a busy event loop) */
  acceptableHeartbeatPauseMs: number;
  /** assumed mean interval before the first real interval is known */
  firstHeartbeatEstimateMs: number;
}

export const DEFAULT_PHI_PARAMS: Readonly<PhiParams> = Object.freeze({
  threshold: 8,
  maxSampleSize: 200,
  minStdDeviationMs: 100,
  acceptableHeartbeatPauseMs: 0,
  firstHeartbeatEstimateMs: 500,
});

const MAX_THRESHOLD = 100;
const MAX_SAMPLE_SIZE = 100_000;

/** Fills defaults and validates; throws InvalidConfigError naming the bad parameter and what is allowed. */
export function phiParams(input: Partial<PhiParams> = {}): PhiParams {
  const p: PhiParams = { ...DEFAULT_PHI_PARAMS, ...input };
  if (!(p.threshold > 0 && p.threshold <= MAX_THRESHOLD)) {
    throw new InvalidConfigError(`phi threshold must be a number in (0, ${MAX_THRESHOLD}]; got ${p.threshold}`);
  }
  if (!Number.isInteger(p.maxSampleSize) || p.maxSampleSize < 1 || p.maxSampleSize > MAX_SAMPLE_SIZE) {
    throw new InvalidConfigError(
      `phi maxSampleSize must be an integer in 1 .. ${MAX_SAMPLE_SIZE}; got ${p.maxSampleSize}`,
    );
  }
  if (!(p.minStdDeviationMs > 0 && Number.isFinite(p.minStdDeviationMs))) {
    throw new InvalidConfigError(`phi minStdDeviationMs must be a finite number > 0; got ${p.minStdDeviationMs}`);
  }
  if (!(p.acceptableHeartbeatPauseMs >= 0 && Number.isFinite(p.acceptableHeartbeatPauseMs))) {
    throw new InvalidConfigError(
      `phi acceptableHeartbeatPauseMs must be a finite number >= 0; got ${p.acceptableHeartbeatPauseMs}`,
    );
  }
  if (!(p.firstHeartbeatEstimateMs > 0 && Number.isFinite(p.firstHeartbeatEstimateMs))) {
    throw new InvalidConfigError(
      `phi firstHeartbeatEstimateMs must be a finite number > 0; got ${p.firstHeartbeatEstimateMs}`,
    );
  }
  return p;
}

/** phi for a silence of `elapsedMs` given the interval distribution (mean, stdDev > 0). Non-decreasing in elapsed. */
export function phiOf(elapsedMs: number, meanMs: number, stdDevMs: number): number {
  const y = (elapsedMs - meanMs) / stdDevMs;
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
  // Two forms of one expression, each accurate on its side of the mean (Akka does the same).
  return elapsedMs > meanMs ? -Math.log10(e / (1 + e)) : -Math.log10(1 - 1 / (1 + e));
}

// Bisection steps: 200 halvings of any finite bracket reach the spacing of doubles.
const MAX_BISECTION_STEPS = 200;
const MAX_BRACKET_DOUBLINGS = 64;

/** The silence (ms) at which phiOf reaches `threshold`, found by bisection (phi is monotone). */
export function crossingMs(threshold: number, meanMs: number, stdDevMs: number): number {
  if (phiOf(0, meanMs, stdDevMs) >= threshold) return 0;
  let lo = 0;
  let hi = Math.max(meanMs, stdDevMs);
  for (let i = 0; i < MAX_BRACKET_DOUBLINGS && phiOf(hi, meanMs, stdDevMs) < threshold; i++) {
    lo = hi;
    hi *= 2;
  }
  for (let i = 0; i < MAX_BISECTION_STEPS && hi - lo > 1e-9 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (phiOf(mid, meanMs, stdDevMs) >= threshold) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * How long after the last heartbeat a node that stops is suspected, once the window holds only heartbeats at a
 * steady `intervalMs` (with a standard deviation of `intervalStdDevMs`, 0 for a perfectly steady sender).
 */
export function detectionTimeMs(params: Partial<PhiParams>, intervalMs: number, intervalStdDevMs = 0): number {
  const p = phiParams(params);
  if (!(intervalMs > 0 && Number.isFinite(intervalMs))) {
    throw new InvalidArgumentError(`intervalMs must be a finite number > 0; got ${intervalMs}`);
  }
  if (!(intervalStdDevMs >= 0 && Number.isFinite(intervalStdDevMs))) {
    throw new InvalidArgumentError(`intervalStdDevMs must be a finite number >= 0; got ${intervalStdDevMs}`);
  }
  const mean = intervalMs + p.acceptableHeartbeatPauseMs;
  return crossingMs(p.threshold, mean, Math.max(intervalStdDevMs, p.minStdDeviationMs));
}

export class PhiAccrualDetector {
  readonly params: Readonly<PhiParams>;
  private readonly intervals: Float64Array;
  private head = 0; // index of the oldest interval
  private count = 0;
  private sum = 0;
  private sumSquares = 0;
  private lastMs = NaN; // NaN until the first heartbeat
  private learnt = 0; // real intervals learnt, capped at 1: only "none yet" matters

  constructor(params: Partial<PhiParams> = {}) {
    this.params = Object.freeze(phiParams(params));
    this.intervals = new Float64Array(this.params.maxSampleSize);
  }

  /** Intervals in the window (at most maxSampleSize). */
  get sampleCount(): number {
    return this.count;
  }

  /** Arrival time of the last heartbeat, or undefined before the first. */
  get lastHeartbeatMs(): number | undefined {
    return Number.isNaN(this.lastMs) ? undefined : this.lastMs;
  }

  heartbeat(nowMs: number): void {
    this.assertTime(nowMs);
    if (Number.isNaN(this.lastMs)) {
      const first = this.params.firstHeartbeatEstimateMs;
      this.record(first - first / 4);
      this.record(first + first / 4);
    } else if (this.learnt === 0 || this.isAvailable(nowMs)) {
      this.record(nowMs - this.lastMs);
      this.learnt = 1;
    }
    this.lastMs = nowMs;
  }

  /** Suspicion level; 0 before the first heartbeat (an unknown node is not suspected). */
  phi(nowMs: number): number {
    this.assertTime(nowMs);
    if (Number.isNaN(this.lastMs)) return 0;
    return phiOf(nowMs - this.lastMs, this.meanMs(), this.stdDevMs());
  }

  isAvailable(nowMs: number): boolean {
    return this.phi(nowMs) < this.params.threshold;
  }

  /** When phi will reach the threshold if no heartbeat arrives; undefined before the first heartbeat. */
  suspectAtMs(): number | undefined {
    if (Number.isNaN(this.lastMs)) return undefined;
    return this.lastMs + crossingMs(this.params.threshold, this.meanMs(), this.stdDevMs());
  }

  /** Mean interval the detector expects, acceptableHeartbeatPauseMs included. */
  meanMs(): number {
    return this.sum / this.count + this.params.acceptableHeartbeatPauseMs;
  }

  /** Standard deviation of the window, floored at minStdDeviationMs. */
  stdDevMs(): number {
    const mean = this.sum / this.count;
    const variance = Math.max(0, this.sumSquares / this.count - mean * mean);
    return Math.max(Math.sqrt(variance), this.params.minStdDeviationMs);
  }

  private record(intervalMs: number): void {
    const size = this.intervals.length;
    if (this.count === size) {
      const old = this.intervals[this.head];
      this.sum -= old;
      this.sumSquares -= old * old;
      this.intervals[this.head] = intervalMs;
      this.head = (this.head + 1) % size;
      if (this.head === 0) {
        // Once per lap, recompute the sums from the window so rounding in the running sums cannot accumulate.
        this.resum();
        return;
      }
    } else {
      this.intervals[(this.head + this.count) % size] = intervalMs;
      this.count++;
    }
    this.sum += intervalMs;
    this.sumSquares += intervalMs * intervalMs;
  }

  private resum(): void {
    this.sum = 0;
    this.sumSquares = 0;
    for (let i = 0; i < this.count; i++) {
      this.sum += this.intervals[i];
      this.sumSquares += this.intervals[i] * this.intervals[i];
    }
  }

  private assertTime(nowMs: number): void {
    if (!Number.isFinite(nowMs)) throw new InvalidArgumentError(`nowMs must be a finite number; got ${nowMs}`);
    if (nowMs < this.lastMs) {
      throw new InvalidArgumentError(
        `nowMs ${nowMs} is before the last heartbeat at ${this.lastMs}; time must not go backwards`,
      );
    }
  }
}
