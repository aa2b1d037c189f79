// The WARS Monte Carlo of PBS: per trial the smallest t after commit at which a read is consistent.
import { InvalidArgumentError, Prng, sample } from '../../runtime/index.js';
import { MAX_PBS_MODEL_TRIALS, checkCount, checkNrw, type PbsProfile } from './profiles.js';

export interface WarsOptions {
  n: number;
  r: number;
  w: number;
  trials: number;
  seed: number;
  /** our protocol's coordinator: one of the N replicas, with the write at once (W_c = A_c = 0) */
  localCoordinator: boolean;
}

/**
 * WARS Monte Carlo: per trial, the smallest t (ms after commit, >= 0) at which a read is consistent, sorted
 * ascending. P(consistent at t) = pAt(thresholds, t); the t for probability p = tFor(thresholds, p).
 */
export function warsThresholds(profile: PbsProfile, o: WarsOptions): Float64Array {
  checkNrw(o.n, o.r, o.w);
  checkCount(o.trials, 'WARS trials', MAX_PBS_MODEL_TRIALS);
  const rng = new Prng(o.seed);
  const out = new Float64Array(o.trials);
  const s = newScratch(o.n);
  for (let i = 0; i < o.trials; i++) out[i] = warsTrial(profile, o, rng, s);
  return out.sort();
}

interface Scratch {
  wMs: Float64Array;
  commitMs: Float64Array;
  rMs: Float64Array;
  replyMs: Float64Array;
  order: Int32Array;
}

function newScratch(n: number): Scratch {
  return {
    wMs: new Float64Array(n), commitMs: new Float64Array(n), rMs: new Float64Array(n), replyMs: new Float64Array(n),
    order: new Int32Array(n),
  };
}

/** One trial of the model; with remoteMs, each operation's local replica is drawn uniformly (the writer's first). */
function warsTrial(p: PbsProfile, o: WarsOptions, rng: Prng, s: Scratch): number {
  const remote = p.remoteMs > 0;
  const writeLocal = remote ? rng.int(o.n) : 0;
  const readLocal = remote ? rng.int(o.n) : 0;
  for (let i = 0; i < o.n; i++) {
    const extraW = remote && i !== writeLocal ? p.remoteMs : 0;
    s.wMs[i] = sample(rng, p.w) + extraW;
    const ackMs = sample(rng, p.a) + extraW;
    if (o.localCoordinator && i === writeLocal) s.wMs[i] = 0;
    s.commitMs[i] = o.localCoordinator && i === writeLocal ? 0 : s.wMs[i] + ackMs;
    const extraR = remote && i !== readLocal ? p.remoteMs : 0;
    s.rMs[i] = sample(rng, p.r) + extraR;
    s.replyMs[i] = s.rMs[i] + sample(rng, p.s) + extraR;
  }
  const commit = kthSmallest(s.commitMs, o.w, s.order);
  sortIndexBy(s.replyMs, s.order);
  let threshold = Infinity;
  for (let j = 0; j < o.r; j++) {
    const i = s.order[j];
    threshold = Math.min(threshold, s.wMs[i] - commit - s.rMs[i]);
  }
  return Math.max(0, threshold);
}

/** The k-th smallest (1-based) of xs; `order` is scratch space of the same length. */
function kthSmallest(xs: Float64Array, k: number, order: Int32Array): number {
  sortIndexBy(xs, order);
  return xs[order[k - 1]];
}

/** order = the indices of xs, ascending by value (insertion sort: N is a handful). */
function sortIndexBy(xs: Float64Array, order: Int32Array): void {
  for (let i = 0; i < order.length; i++) {
    let j = i;
    while (j > 0 && xs[order[j - 1]] > xs[i]) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = i;
  }
}

/** Fraction of thresholds <= tMs (thresholds sorted ascending). */
export function pAt(thresholds: Float64Array, tMs: number): number {
  let lo = 0;
  let hi = thresholds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (thresholds[mid] <= tMs) lo = mid + 1;
    else hi = mid;
  }
  return thresholds.length === 0 ? NaN : lo / thresholds.length;
}

/** The smallest t with pAt(t) >= p (thresholds sorted ascending). */
export function tFor(thresholds: Float64Array, p: number): number {
  if (!(p > 0 && p <= 1)) throw new InvalidArgumentError(`p must be in (0, 1]; got ${p}`);
  if (thresholds.length === 0) return NaN;
  return thresholds[Math.max(0, Math.ceil(p * thresholds.length - 1e-9) - 1)];
}
