// Measured samples as a simulator Distribution, and the thread runtime's own costs measured for the validation
// (bench/pbs/validate.ts) in a calibration phase before its measured trials.
//
// An empirical distribution is written with the kinds runtime/host/prng.ts already samples: a mixture of equal-weight
// uniforms between consecutive quantiles of the samples (a histogram with as many bins as quantiles), nested one level
// (at most 16 mixtures of at most 16 uniforms) to stay within MAX_MIXTURE_PARTS. Its quantiles are the samples'.
import { Worker } from 'node:worker_threads';
import { InvalidArgumentError, type Distribution, type Prng } from '../../runtime/index.js';

/** The parts a mixture may have (runtime/host/prng.ts's MAX_MIXTURE_PARTS; checkDistribution refuses more). */
const MAX_MIXTURE_PARTS = 16;
/** Most bins an empirical distribution has (16 x 16: two levels of mixtures). */
export const MAX_EMPIRICAL_BINS = MAX_MIXTURE_PARTS * MAX_MIXTURE_PARTS;

/** The samples (ms, >= 0) as a Distribution: `bins` equal-weight uniforms between consecutive sample quantiles. */
export function empiricalDistribution(samplesMs: readonly number[], bins = MAX_EMPIRICAL_BINS): Distribution {
  if (samplesMs.length === 0 || samplesMs.some((x) => !(x >= 0 && Number.isFinite(x)))) {
    throw new InvalidArgumentError(`an empirical distribution needs at least one finite sample >= 0; got ${samplesMs.length} samples`);
  }
  if (!Number.isInteger(bins) || bins < 1 || bins > MAX_EMPIRICAL_BINS) {
    throw new InvalidArgumentError(`bins must be an integer from 1 to ${MAX_EMPIRICAL_BINS}; got ${String(bins)}`);
  }
  const s = [...samplesMs].sort((a, b) => a - b);
  const q = (f: number): number => {
    const x = f * (s.length - 1);
    const i = Math.floor(x);
    return i + 1 < s.length ? s[i] + (s[i + 1] - s[i]) * (x - i) : s[i];
  };
  const uniforms: Distribution[] = [];
  for (let i = 0; i < bins; i++) {
    const [lo, hi] = [q(i / bins), q((i + 1) / bins)];
    uniforms.push(lo === hi ? { kind: 'constant', ms: lo } : { kind: 'uniform', minMs: lo, maxMs: hi });
  }
  const groups: Distribution[] = [];
  for (let i = 0; i < uniforms.length; i += MAX_MIXTURE_PARTS) {
    const g = uniforms.slice(i, i + MAX_MIXTURE_PARTS);
    groups.push(g.length === 1 ? g[0] : { kind: 'mixture', parts: g.map((dist) => ({ weight: 1, dist })) });
  }
  if (groups.length === 1) return groups[0];
  // weights by the bins each group holds (the last may hold fewer)
  return {
    kind: 'mixture',
    parts: groups.map((dist, k) => ({ weight: Math.min(MAX_MIXTURE_PARTS, uniforms.length - k * MAX_MIXTURE_PARTS), dist })),
  };
}

/**
 * How late a Node timer fires, ms (negative: early), for timers of the lengths the thread runtime sets for injected
 * delays drawn from `draw` (runtime/threads/link-delay.ts: a draw under 0.5 ms goes at once and sets no timer; any
 * other sets a timer of that many ms, and Node fires none sooner than 1 ms, on an integer-ms clock). `loops` timers in
 * flight at once, `count` timers in all. Run beside load like the measured run's (the calibration trials).
 */
export async function measureTimerLateness(draw: () => number, count: number, loops: number, beforeEach?: () => void): Promise<number[]> {
  const out: number[] = [];
  let left = count;
  const loop = async (): Promise<void> => {
    while (left > 0) {
      left--;
      const ms = draw();
      if (ms < 0.5) continue;
      beforeEach?.();
      const t0 = performance.now();
      await new Promise<void>((resolve) => setTimeout(resolve, ms));
      out.push(performance.now() - t0 - ms);
    }
  };
  await Promise.all(Array.from({ length: loops }, loop));
  return out;
}

/**
 * measureTimerLateness in a worker thread of its own (bench/pbs/timer-worker.ts), as a replica's timers run: in a
 * thread apart from the main one, which carries every client. Run beside load like the measured run's.
 */
export async function measureWorkerTimerLateness(meanMs: number, seed: number, count: number, loops: number): Promise<number[]> {
  const worker = new Worker(new URL('./timer-worker.js', import.meta.url), { workerData: { meanMs, seed, count, loops } });
  try {
    return await new Promise<number[]>((resolve, reject) => {
      worker.once('message', (samples: number[]) => resolve(samples));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the timer worker exited (code ${code}) before it answered`)));
    });
  } finally {
    await worker.terminate();
  }
}

/** An exponential draw of mean `meanMs` from a seeded Prng (the same law the thread runtime draws with Math.random). */
export function exponentialDraw(rng: Prng, meanMs: number): () => number {
  return () => rng.exponential(1 / meanMs);
}

/**
 * The delay a thread link really holds a message for, as a distribution: `n` draws from `draw`, each under 0.5 ms sent
 * at once (0), each other one plus a lateness drawn from `latenessMs` (at least 0 in all); the empirical distribution
 * of those. A Monte Carlo convolution: the simulator's Distribution has no sum of two random parts.
 */
export function timerRealized(draw: () => number, latenessMs: readonly number[], rng: Prng, n = 100_000): Distribution {
  if (latenessMs.length === 0) throw new InvalidArgumentError('timerRealized needs at least one lateness sample');
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const ms = draw();
    xs.push(ms < 0.5 ? 0 : Math.max(0, ms + rng.pick(latenessMs as number[])));
  }
  return empiricalDistribution(xs);
}

/**
 * The time a thread message takes in all, as a distribution: its own time (a draw from `ownMs`: batching, postMessage,
 * decoding) plus, when `draw` is given, the injected delay as the sending thread's timer holds it (a draw under 0.5 ms
 * sent at once, any other plus a lateness drawn from `latenessMs`, at least 0 in all). `n` sums, as an empirical
 * distribution (a Monte Carlo convolution, as timerRealized).
 */
export function messageTime(ownMs: readonly number[], draw: (() => number) | null, latenessMs: readonly number[], rng: Prng, n = 100_000): Distribution {
  if (ownMs.length === 0 || (draw !== null && latenessMs.length === 0)) {
    throw new InvalidArgumentError(`messageTime needs own-time samples, and lateness samples with a draw; got ${ownMs.length} and ${latenessMs.length}`);
  }
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    let ms = rng.pick(ownMs as number[]);
    if (draw !== null) {
      const d = draw();
      if (d >= 0.5) ms += Math.max(0, d + rng.pick(latenessMs as number[]));
    }
    xs.push(Math.max(0, ms));
  }
  return empiricalDistribution(xs);
}

/** Quantiles of samples, for the report. */
export function quantiles(samplesMs: readonly number[], fs: readonly number[]): number[] {
  const s = [...samplesMs].sort((a, b) => a - b);
  return fs.map((f) => (s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor(f * s.length))]));
}
