// The closed-form k-staleness bound of PBS: (C(N-W, R) / C(N, R))^k, the same for every t.
import { InvalidArgumentError } from '../../runtime/index.js';
import { checkNrw } from './profiles.js';

/** Binomial coefficient C(n, k) for small non-negative integers (0 when k > n). */
export function choose(n: number, k: number): number {
  if (!Number.isInteger(n) || !Number.isInteger(k) || n < 0 || k < 0 || n > 1000) {
    throw new InvalidArgumentError(`choose(n, k) takes integers 0 <= n <= 1000 and k >= 0; got n=${n}, k=${k}`);
  }
  if (k > n) return 0;
  let c = 1;
  for (let i = 1; i <= Math.min(k, n - k); i++) c = (c * (n - i + 1)) / i;
  return Math.round(c);
}

/**
 * The paper's k-staleness probability (its Equation 2 with k versions): the read quorum misses all of the last k
 * write quorums, each a uniformly random W of N, the read a uniformly random R of N: (C(N-W, R) / C(N, R))^k.
 */
export function pStaleClosedForm(n: number, r: number, w: number, k = 1): number {
  checkNrw(n, r, w);
  if (!Number.isInteger(k) || k < 1) throw new InvalidArgumentError(`k (versions of staleness) must be an integer >= 1; got ${k}`);
  return Math.pow(choose(n - w, r) / choose(n, r), k);
}

/** P(consistent) by the closed form: 1 - pStale for k = 1, for every t (the bound ignores propagation). */
export function pConsistentClosedForm(n: number, r: number, w: number): number {
  return 1 - pStaleClosedForm(n, r, w, 1);
}
