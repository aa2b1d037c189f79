// Seeded randomness: the simulator's one source of it (a seeded PRNG), and the delay distributions both runtimes
// sample (the simulator from this PRNG; the thread runtime's injected link delays with Math.random).
//
// Data layout: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, as in PractRand) keeps four uint32 words
// (a, b, c, counter) in a Uint32Array; seeding from one 32-bit integer runs 12 warm-up rounds so nearby seeds give
// unrelated streams. Every draw is a pure function of the seed and the number of earlier draws, so a run that draws
// in the same order replays exactly.
//
// Use:
//   const rng = new Prng(seed);
//   rng.float() in [0, 1); rng.int(n) in 0..n-1; rng.chance(p); rng.pick(array)
//   rng.uniform(a, b); rng.exponential(ratePerMs); rng.pareto(xm, alpha)   (Pareto as xm / U^(1/alpha))
//   sample(rng, { kind: 'mixture', parts: [{ weight: 0.9122, dist: { kind: 'pareto', xm: 0.235, alpha: 10 } }, ...] })
//   rng.fork() gives an independent stream (for a workload beside the network) without disturbing this one's order.

import { InvalidArgumentError, InvalidConfigError, show } from '../../actors/errors.js';

export class Prng {
  private readonly s = new Uint32Array(4);

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new InvalidConfigError(`seed must be an integer from 0 to 4294967295; got ${show(seed)}`);
    }
    // Constants from the golden ratio and sfc32's reference seeding: the state is never all zero.
    this.s[0] = 0x9e3779b9;
    this.s[1] = 0x243f6a88;
    this.s[2] = seed >>> 0;
    this.s[3] = 1;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** The next uint32. */
  next(): number {
    const s = this.s;
    const t = (((s[0] + s[1]) >>> 0) + s[3]) >>> 0;
    s[3] = (s[3] + 1) >>> 0;
    s[0] = s[1] ^ (s[1] >>> 9);
    s[1] = (s[2] + (s[2] << 3)) >>> 0;
    s[2] = ((s[2] << 21) | (s[2] >>> 11)) >>> 0;
    s[2] = (s[2] + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  float(): number {
    return this.next() / 4294967296;
  }

  /** Uniform integer in 0..n-1 (n a positive integer below 2^32). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) {
      throw new InvalidArgumentError(`int(n) needs an integer n from 1 to 2^32-1; got ${String(n)}`);
    }
    return Math.floor(this.float() * n);
  }

  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new InvalidArgumentError('pick from an empty array; give at least one item');
    return items[this.int(items.length)];
  }

  uniform(a: number, b: number): number {
    return a + (b - a) * this.float();
  }

  /** Exponential with rate lambda per ms (mean 1 / lambda ms). */
  exponential(rate: number): number {
    return -Math.log(1 - this.float()) / rate;
  }

  /** Pareto with scale xm and shape alpha, sampled as xm / U^(1/alpha) (U in (0, 1]), as Bailis et al. do. */
  pareto(xm: number, alpha: number): number {
    return xm / Math.pow(1 - this.float(), 1 / alpha);
  }

  /** An independent stream seeded from this one (one draw from this stream). */
  fork(): Prng {
    return new Prng(this.next());
  }
}

/** A delay distribution in milliseconds. */
export type Distribution =
  | { kind: 'constant'; ms: number }
  | { kind: 'uniform'; minMs: number; maxMs: number }
  /** rate lambda per ms: mean 1 / rate */
  | { kind: 'exponential'; rate: number }
  | { kind: 'pareto'; xm: number; alpha: number }
  /** one part chosen with probability weight / sum of weights, then sampled */
  | { kind: 'mixture'; parts: ReadonlyArray<{ weight: number; dist: Distribution }> }
  /** offsetMs plus a sample of dist (a WAN hop on top of a LAN profile) */
  | { kind: 'shifted'; offsetMs: number; dist: Distribution };

/** Mixtures nest at most this deep: a profile is a mixture of plain distributions, perhaps shifted. */
export const MAX_DISTRIBUTION_DEPTH = 4;
/** Parts in one mixture, at most. */
export const MAX_MIXTURE_PARTS = 16;

export function sample(rng: Prng, d: Distribution): number {
  switch (d.kind) {
    case 'constant':
      return d.ms;
    case 'uniform':
      return rng.uniform(d.minMs, d.maxMs);
    case 'exponential':
      return rng.exponential(d.rate);
    case 'pareto':
      return rng.pareto(d.xm, d.alpha);
    case 'shifted':
      return d.offsetMs + sample(rng, d.dist);
    case 'mixture': {
      let total = 0;
      for (const p of d.parts) total += p.weight;
      let u = rng.float() * total;
      for (const p of d.parts) {
        if (u < p.weight) return sample(rng, p.dist);
        u -= p.weight;
      }
      return sample(rng, d.parts[d.parts.length - 1].dist); // rounding left u at the very top
    }
  }
}

/** Throws InvalidConfigError naming `what` unless `d` is a well-formed distribution of non-negative delays. */
export function checkDistribution(d: unknown, what: string, depth = 0): Distribution {
  const bad = (why: string): never => {
    throw new InvalidConfigError(
      `${what}: ${why}; a distribution is { kind: 'constant', ms } | { kind: 'uniform', minMs, maxMs } | ` +
        `{ kind: 'exponential', rate } | { kind: 'pareto', xm, alpha } | { kind: 'mixture', parts: [{ weight, dist }] } ` +
        `| { kind: 'shifted', offsetMs, dist }, all numbers finite and >= 0 (rate, xm, alpha > 0)`,
    );
  };
  if (depth > MAX_DISTRIBUTION_DEPTH) bad(`nested deeper than ${MAX_DISTRIBUTION_DEPTH}`);
  if (d === null || typeof d !== 'object') bad('not an object');
  const x = d as Record<string, unknown>;
  const nonNeg = (k: string): void => {
    if (typeof x[k] !== 'number' || !Number.isFinite(x[k]) || (x[k] as number) < 0) bad(`${k} is ${show(x[k])}`);
  };
  const positive = (k: string): void => {
    nonNeg(k);
    if (x[k] === 0) bad(`${k} is 0`);
  };
  switch (x.kind) {
    case 'constant':
      nonNeg('ms');
      break;
    case 'uniform':
      nonNeg('minMs');
      nonNeg('maxMs');
      if ((x.minMs as number) > (x.maxMs as number)) bad(`minMs ${show(x.minMs)} > maxMs ${show(x.maxMs)}`);
      break;
    case 'exponential':
      positive('rate');
      break;
    case 'pareto':
      positive('xm');
      positive('alpha');
      break;
    case 'shifted':
      nonNeg('offsetMs');
      checkDistribution(x.dist, what, depth + 1);
      break;
    case 'mixture': {
      const parts = x.parts;
      if (!Array.isArray(parts) || parts.length === 0 || parts.length > MAX_MIXTURE_PARTS) {
        bad(`parts must be an array of 1 to ${MAX_MIXTURE_PARTS} { weight, dist }`);
      }
      for (const p of parts as Array<{ weight: unknown; dist: unknown }>) {
        if (typeof p?.weight !== 'number' || !(p.weight > 0) || !Number.isFinite(p.weight)) bad('a weight is not > 0');
        checkDistribution(p.dist, what, depth + 1);
      }
      break;
    }
    default:
      bad(`unknown kind ${show(x.kind)}`);
  }
  return d as Distribution;
}
