// The latency profiles of `leaderless pbs` (Table 3 of Bailis et al., VLDB 2012), its bounds and defaults, and the
// argument checks every part of bench/pbs/ shares. See bench/pbs/index.ts for what PBS measures and how.
import { InvalidArgumentError, type Distribution } from '../../runtime/index.js';

/** Replicas per key: the paper's N, and the only one this reproduction runs (3 datacenters of one node for wan). */
export const PBS_N = 3;
export const PBS_PROFILE_NAMES = ['lnkd-ssd', 'lnkd-disk', 'ymmr', 'wan'] as const;
export type PbsProfileName = (typeof PBS_PROFILE_NAMES)[number];
/** The probability whose t the report gives (t-visibility). */
export const PBS_TARGET_P = 0.999;

/** Bounds on a run: trials per cell (each a fresh key in every replica's store), model trials, grid size. */
export const MAX_PBS_TRIALS = 200_000;
export const MAX_PBS_MODEL_TRIALS = 2_000_000;
export const MAX_PBS_T_POINTS = 32;
/** Largest t: each trial holds its cluster's virtual time that long, ticks included. */
export const MAX_PBS_T_MS = 60_000;
/**
 * Trials in flight at once on one simulated cluster: keys are fresh, so trials do not interact. Small on purpose:
 * the simulator scans every pending sleep on every event (16 ran 2.3x faster than 256 here, and as fast as 8).
 */
export const PBS_CONCURRENCY = 16;

export const PBS_DEFAULTS = {
  profiles: PBS_PROFILE_NAMES as readonly PbsProfileName[],
  configs: [
    { r: 1, w: 1 },
    { r: 1, w: 2 },
    { r: 2, w: 1 },
    { r: 2, w: 2 },
  ] as ReadonlyArray<RwConfig>,
  trials: 4000,
  modelTrials: 100_000,
  seed: 1,
};

export interface RwConfig {
  r: number;
  w: number;
}

export interface PbsProfile {
  name: PbsProfileName;
  /** one-way latencies in ms: write to a replica, its ack, read request, read response */
  w: Distribution;
  a: Distribution;
  r: Distribution;
  s: Distribution;
  /** extra one-way ms on a message between different datacenters (0: all replicas in one datacenter) */
  remoteMs: number;
  /** the t values (ms after commit) measured and printed unless the caller gives its own */
  tGridMs: readonly number[];
}

const mix = (...parts: Array<[number, Distribution]>): Distribution => ({
  kind: 'mixture',
  parts: parts.map(([weight, dist]) => ({ weight, dist })),
});
const pareto = (xm: number, alpha: number): Distribution => ({ kind: 'pareto', xm, alpha });
const exp = (rate: number): Distribution => ({ kind: 'exponential', rate });

// Table 3 of the paper (fits to LinkedIn and Yammer production latencies), in ms.
const LNKD_SSD = mix([0.9122, pareto(0.235, 10)], [0.0878, exp(1.66)]);
const LNKD_DISK_W = mix([0.38, pareto(1.05, 1.51)], [0.62, exp(0.183)]);
const YMMR_W = mix([0.939, pareto(3, 3.35)], [0.061, exp(0.0028)]);
const YMMR_ARS = mix([0.982, pareto(1.5, 3.8)], [0.018, exp(0.0217)]);

export const PBS_PROFILES: Readonly<Record<PbsProfileName, PbsProfile>> = {
  'lnkd-ssd': {
    name: 'lnkd-ssd', w: LNKD_SSD, a: LNKD_SSD, r: LNKD_SSD, s: LNKD_SSD, remoteMs: 0,
    tGridMs: [0, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5],
  },
  'lnkd-disk': {
    name: 'lnkd-disk', w: LNKD_DISK_W, a: LNKD_SSD, r: LNKD_SSD, s: LNKD_SSD, remoteMs: 0,
    tGridMs: [0, 1, 2, 5, 10, 15, 20, 25, 30, 35, 40, 50, 60, 80],
  },
  ymmr: {
    name: 'ymmr', w: YMMR_W, a: YMMR_ARS, r: YMMR_ARS, s: YMMR_ARS, remoteMs: 0,
    tGridMs: [0, 5, 10, 25, 50, 100, 250, 500, 750, 1000, 1250, 1500, 2000, 3000],
  },
  wan: {
    name: 'wan', w: LNKD_DISK_W, a: LNKD_SSD, r: LNKD_SSD, s: LNKD_SSD, remoteMs: 75,
    tGridMs: [0, 1, 5, 10, 25, 50, 75, 100, 125, 150, 175, 200, 250, 300],
  },
};

export function checkNrw(n: number, r: number, w: number): void {
  const ok = (x: number): boolean => Number.isInteger(x) && x >= 1 && x <= n;
  if (!Number.isInteger(n) || n < 1 || n > 64 || !ok(r) || !ok(w)) {
    throw new InvalidArgumentError(`need integers 1 <= N <= 64, 1 <= R <= N, 1 <= W <= N; got N=${n}, R=${r}, W=${w}`);
  }
}

export function checkCount(x: number, what: string, max: number): number {
  if (!Number.isInteger(x) || x < 1 || x > max) {
    throw new InvalidArgumentError(`${what} must be an integer from 1 to ${max}; got ${String(x)}`);
  }
  return x;
}
