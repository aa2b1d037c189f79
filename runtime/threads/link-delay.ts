// Injected link delays in the thread runtime: faults.delay's `ms` (a number, or a distribution as the simulator takes
// it) checked, encoded as a kind code and two integers for the SharedView, and sampled per message by the sending
// thread (Math.random: the thread runtime is not replayable anyway; the simulator samples from its seeded Prng).
//
// Kinds and their integer parameters (a, b) in the SharedView's link slots:
//   NONE         no delay
//   CONSTANT     a = the delay, us
//   UNIFORM      a = least, b = most, us
//   EXPONENTIAL  a = the mean (1 / rate), us
//   PARETO       a = xm, us; b = alpha in millionths   (xm / U^(1/alpha), as the simulator samples it)
// Mixtures and shifted distributions are the simulator's only: a thread link takes one plain distribution.
// A sample is capped at MAX_FAULT_DELAY_MS (a timer longer than that is not a delay but a loss). A sample of a random
// kind under half a ms is sent at once (a timer cannot fire sooner than 1 ms: the nearest it can do); a constant is
// honoured as at least itself.

import { InvalidArgumentError, show } from '../../actors/errors.js';
import { MAX_FAULT_DELAY_MS, checkDelayMs } from '../host/faults.js';
import type { SharedView } from './shared-view.js';

export const enum DelayKind {
  None = 0,
  Constant = 1,
  Uniform = 2,
  Exponential = 3,
  Pareto = 4,
}

/** The distributions a thread link delay takes: the plain kinds of the simulator's Distribution, in ms. */
export type LinkDelayDistribution =
  | { kind: 'constant'; ms: number }
  | { kind: 'uniform'; minMs: number; maxMs: number }
  /** rate per ms: mean 1 / rate */
  | { kind: 'exponential'; rate: number }
  | { kind: 'pareto'; xm: number; alpha: number };

export interface EncodedDelay {
  kind: DelayKind;
  a: number;
  b: number;
}

/** The shortest delay a Node timer gives. */
const MIN_TIMER_MS = 1;
const NO_DELAY: EncodedDelay = { kind: DelayKind.None, a: 0, b: 0 };
const ALLOWED =
  "a number of ms from 0 to 60000, or { kind: 'constant', ms } | { kind: 'uniform', minMs, maxMs } | " +
  "{ kind: 'exponential', rate } | { kind: 'pareto', xm, alpha } (ms; rate per ms)";

/** faults.delay's `ms` checked and encoded; InvalidArgumentError saying what was wrong and what is allowed. */
export function encodeDelay(ms: unknown): EncodedDelay {
  if (typeof ms === 'number') {
    const us = Math.round(checkDelayMs(ms) * 1000);
    return us === 0 ? NO_DELAY : { kind: DelayKind.Constant, a: us, b: 0 };
  }
  const bad = (why: string): never => {
    throw new InvalidArgumentError(`delay ms: ${why}; the thread runtime takes ${ALLOWED}`);
  };
  if (ms === null || typeof ms !== 'object' || Array.isArray(ms)) return bad(`got ${show(ms)}`);
  const d = ms as Record<string, unknown>;
  /** a parameter in ms (or 1/ms), > 0 or >= 0, at most the longest delay, as integer us */
  const us = (key: string, positive: boolean): number => {
    const x = d[key];
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || (positive && x === 0) || x > MAX_FAULT_DELAY_MS) {
      bad(`${key} is ${show(x)} (must be ${positive ? '> 0' : '>= 0'} and at most ${MAX_FAULT_DELAY_MS})`);
    }
    return Math.round((x as number) * 1000);
  };
  switch (d.kind) {
    case 'constant': {
      const a = us('ms', false);
      return a === 0 ? NO_DELAY : { kind: DelayKind.Constant, a, b: 0 };
    }
    case 'uniform': {
      const [a, b] = [us('minMs', false), us('maxMs', false)];
      if (a > b) bad(`minMs ${show(d.minMs)} > maxMs ${show(d.maxMs)}`);
      return b === 0 ? NO_DELAY : { kind: DelayKind.Uniform, a, b };
    }
    case 'exponential': {
      const rate = d.rate;
      if (typeof rate !== 'number' || !(rate > 0) || !Number.isFinite(rate) || 1 / rate > MAX_FAULT_DELAY_MS) {
        bad(`rate is ${show(rate)} (must be > 0, a mean 1 / rate of at most ${MAX_FAULT_DELAY_MS} ms)`);
      }
      return { kind: DelayKind.Exponential, a: Math.max(1, Math.round(1000 / (rate as number))), b: 0 };
    }
    case 'pareto': {
      const a = Math.max(1, us('xm', true));
      const alpha = d.alpha;
      if (typeof alpha !== 'number' || !(alpha > 0) || alpha > 1000) bad(`alpha is ${show(alpha)} (must be > 0 and at most 1000)`);
      return { kind: DelayKind.Pareto, a, b: Math.max(1, Math.round((alpha as number) * 1e6)) };
    }
    default:
      return bad(`kind ${show(d.kind)} is not one the thread runtime samples (mixture and shifted are the simulator's only)`);
  }
}

/** One sample of the delay on link (row, to), in ms (0: none set), drawn with `random` (uniform in [0, 1)). */
export function sampleDelayMs(view: SharedView, row: number, to: number, random: () => number = Math.random): number {
  const kind = view.delayKind(row, to) as DelayKind;
  if (kind === DelayKind.None) return 0;
  const a = view.delayA(row, to) / 1000;
  if (kind === DelayKind.Constant) return a;
  let ms: number;
  switch (kind) {
    case DelayKind.Uniform:
      ms = a + (view.delayB(row, to) / 1000 - a) * random();
      break;
    case DelayKind.Exponential:
      ms = -Math.log(1 - random()) * a;
      break;
    case DelayKind.Pareto:
      ms = a / Math.pow(1 - random(), 1e6 / view.delayB(row, to));
      break;
    default:
      return 0; // a kind this build does not know: no delay rather than a wrong one
  }
  // Node fires no timer sooner than 1 ms: a sample goes to the nearest delay a timer can give, so under half a ms it
  // goes at once (always rounding up to 1 ms would add a third of a ms on average to an exponential of mean 2 ms)
  return ms < MIN_TIMER_MS / 2 ? 0 : Math.min(ms, MAX_FAULT_DELAY_MS);
}
