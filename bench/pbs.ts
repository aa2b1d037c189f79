// `leaderless pbs`: Probabilistically Bounded Staleness (Bailis et al., VLDB 2012) reproduced on the simulated
// cluster running the real protocol, printed beside the paper's closed form and its WARS Monte Carlo.
//
// One trial: a write of a fresh key to all N replicas (the coordinator waits for W acks), then reads of that key
// t ms after the write commits, one read per t in the grid, each asking all N replicas and answering with the first
// R (readFanout 'all', read repair and anti-entropy off, strict quorums). A read is consistent iff it returns the
// value just written. Reads do not change state, so each read at t is a fair sample of "a read t ms after commit";
// the reads of one trial share its write, which correlates neighbouring t (a smoother curve, not a biased one).
// P(consistent) at t is the fraction of trials whose read at t was consistent.
//
// Three numbers per (profile, R, W, t):
//   measured     the simulated cluster (runtime/sim), every replica the real actor from actors/, message latencies
//                drawn per message type: 'replicate' = W, 'replicate-ack' = A, 'get' = R, 'get-reply' = S; the
//                client sits beside the coordinating replica ('put' and 'put-reply' take 0 ms), so the client hears
//                of the commit the moment the coordinator counts its W-th ack, as in the paper.
//   WARS         the paper's model: a coordinator apart from the N replicas; commit at the W-th fastest W_i + A_i; a
//                read at commit + t sees the write on replica i iff W_i <= commit + t + R_i; it uses the first R
//                replies by R_i + S_i.
//   WARS-local   the same model with our protocol's one difference: the coordinator is one of the N replicas and
//                applies the write locally at once (W_c = A_c = 0). It explains the gap between WARS and measured:
//                one replica always has the write at commit (P higher than WARS for W >= 2), but a W = 1 write
//                commits at once, before a round trip could spread it (P lower than WARS at small t for W = 1).
//   closed form  1 - C(N-W, R) / C(N, R): the k = 1 staleness bound, the same for every t.
//
// Data layout: a profile is four distributions (W, A, R, S) plus remoteMs, the extra one-way latency of a message
// that crosses datacenters (wan only: 3 datacenters of one replica each, so one replica is local to an operation's
// coordinator, chosen at random per operation: the writer's by the key, the reader's by a draw). Model trials keep
// one threshold per trial: the smallest t at which its read is consistent (0 when consistent at once), so P(t) and
// the t for 99.9% are read off the sorted thresholds exactly. The simulation measures on a grid of t only.
//
// Use: runPbs(parsePbsOptions({ profiles: 'lnkd-ssd', trials: '2000' }), process.stdout).
import { InvalidArgumentError } from '../actors/errors.js';
import { hash32, keyId } from '../actors/hash.js';
import { SimCluster, type SimOptions } from '../runtime/sim/sim-cluster.js';
import type { SimClient } from '../runtime/sim/sim-client.js';
import { Prng, sample, type Distribution } from '../runtime/sim/prng.js';

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

// ------------------------------------------------------------------------------------------------ closed form

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

function checkNrw(n: number, r: number, w: number): void {
  const ok = (x: number): boolean => Number.isInteger(x) && x >= 1 && x <= n;
  if (!Number.isInteger(n) || n < 1 || n > 64 || !ok(r) || !ok(w)) {
    throw new InvalidArgumentError(`need integers 1 <= N <= 64, 1 <= R <= N, 1 <= W <= N; got N=${n}, R=${r}, W=${w}`);
  }
}

// ------------------------------------------------------------------------------------------------ WARS Monte Carlo

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

function checkCount(x: number, what: string, max: number): number {
  if (!Number.isInteger(x) || x < 1 || x > max) {
    throw new InvalidArgumentError(`${what} must be an integer from 1 to ${max}; got ${String(x)}`);
  }
  return x;
}

// ------------------------------------------------------------------------------------------------ the simulation

export interface SimMeasureOptions {
  r: number;
  w: number;
  trials: number;
  seed: number;
  tMs: readonly number[];
}

export interface SimMeasurement {
  trials: number;
  /** per t: trials whose read at t returned the value just written */
  consistent: number[];
  /** puts plus gets the simulation completed */
  ops: number;
  /** events the simulator processed (messages, ticks, wake-ups) */
  events: number;
  virtualMs: number;
  wallMs: number;
  digest: string;
  /** reads that could not be issued at exactly commit + t (must be 0: the pump runs the application in time) */
  lateReads: number;
}

/** The cluster of one cell: strict quorums, reads to all N answered by the first R, no repair of any kind. */
export function pbsClusterOptions(p: PbsProfile, rw: RwConfig, seed: number, trials: number): SimOptions {
  const zero: Distribution = { kind: 'constant', ms: 0 };
  const far = 3_600_000; // no timeout, coordinator failover or read retry may fire within a trial
  const topology: SimOptions =
    p.remoteMs > 0
      ? {
          datacenters: [0, 1, 2].map((d) => ({ name: `dc${d}`, nodes: 1 })),
          replication: { dc0: 1, dc1: 1, dc2: 1 },
          interDcLatency: { kind: 'constant', ms: p.remoteMs },
        }
      : { nodes: PBS_N, replication: PBS_N };
  return {
    ...topology,
    read: rw.r, write: rw.w, sloppy: false, readRepair: 'off', readFanout: 'all', conflicts: 'siblings',
    timeoutMs: 600_000, coordinatorFailoverMs: far, readRetryMs: far, hintAfterMs: far,
    links: { timeoutMs: far, initialTimeoutMs: far }, // PBS models plain quorums: no replica is routed around
    antiEntropy: { intervalMs: 0 },
    storeMaxKeys: Math.max(1024, 1 << Math.ceil(Math.log2(trials + 1))),
    seed,
    latencyByType: { put: zero, 'put-reply': zero, replicate: p.w, 'replicate-ack': p.a, get: p.r, 'get-reply': p.s },
  };
}

/** Runs `trials` PBS trials on a fresh simulated cluster, PBS_CONCURRENCY at a time. */
export async function measureSim(p: PbsProfile, o: SimMeasureOptions): Promise<SimMeasurement> {
  checkNrw(PBS_N, o.r, o.w);
  checkCount(o.trials, 'trials', MAX_PBS_TRIALS);
  const cluster = SimCluster.create(pbsClusterOptions(p, o, o.seed, o.trials));
  const clients: SimClient[] = [];
  for (let node = 0; node < PBS_N; node++) clients.push(await cluster.client({ near: node }));
  // The reader's datacenter is drawn per read from a stream apart from the network's, so draws do not shift latencies.
  const picks = new Prng((o.seed ^ 0x5bd1e995) >>> 0);
  const m: SimMeasurement = {
    trials: o.trials, consistent: o.tMs.map(() => 0), ops: 0, events: 0, virtualMs: 0, wallMs: 0, digest: '', lateReads: 0,
  };
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < o.trials) await simTrial(cluster, clients, picks, o, next++, m);
  };
  await Promise.all(Array.from({ length: Math.min(PBS_CONCURRENCY, o.trials) }, worker));
  m.wallMs = performance.now() - t0;
  m.events = cluster.simCounters.events;
  m.virtualMs = cluster.nowMs;
  m.digest = cluster.traceDigest();
  await cluster.stop();
  return m;
}

/**
 * One trial: write a fresh key through the client beside its coordinator, then read it at commit + t for each t
 * (ascending). One sleep at a time per trial: the simulator checks every waiting sleep on every event.
 */
async function simTrial(
  cluster: SimCluster,
  clients: SimClient[],
  picks: Prng,
  o: SimMeasureOptions,
  i: number,
  m: SimMeasurement,
): Promise<void> {
  const key = `pbs:${i}`;
  const value = `v${i}`;
  const coordinator = cluster.ring.preferenceList(hash32(keyId(key)))[0];
  await clients[coordinator].put(key, value, { w: o.w });
  m.ops++;
  const commitMs = cluster.nowMs;
  const reads: Array<Promise<void>> = [];
  for (let j = 0; j < o.tMs.length; j++) {
    const atMs = commitMs + o.tMs[j];
    if (atMs > cluster.nowMs) await cluster.sleep(atMs - cluster.nowMs);
    if (Math.abs(cluster.nowMs - atMs) > 1e-9 * Math.max(1, atMs)) m.lateReads++;
    const reader = clients[picks.int(PBS_N)];
    reads.push(
      reader.get(key, { r: o.r }).then((got) => {
        m.ops++;
        if (got.values.includes(value)) m.consistent[j]++;
      }),
    );
  }
  await Promise.all(reads);
}

// ------------------------------------------------------------------------------------------------ options

export type PbsFormat = 'table' | 'json';

export interface PbsOptions {
  profiles: PbsProfileName[];
  configs: RwConfig[];
  /** simulated trials per (profile, R/W) cell */
  trials: number;
  /** WARS Monte Carlo trials per cell, each model */
  modelTrials: number;
  seed: number;
  /** the t grid (ms, ascending); null: each profile's own grid */
  tMs: number[] | null;
  format: PbsFormat;
}

/** What a command line gives: strings (or already-typed values), every field optional. */
export interface PbsRawOptions {
  profile?: string | string[];
  rw?: string;
  trials?: string | number;
  modelTrials?: string | number;
  seed?: string | number;
  t?: string | number[];
  format?: string;
}

/** Validates command-line style options; throws InvalidArgumentError saying what was wrong and what is allowed. */
export function parsePbsOptions(raw: PbsRawOptions = {}): PbsOptions {
  if (raw === null || typeof raw !== 'object') throw new InvalidArgumentError('pbs options must be an object');
  const known = new Set(['profile', 'rw', 'trials', 'modelTrials', 'seed', 't', 'format']);
  for (const k of Object.keys(raw)) {
    if (!known.has(k)) throw new InvalidArgumentError(`unknown pbs option ${k}; allowed: ${[...known].join(', ')}`);
  }
  const options: PbsOptions = {
    profiles: raw.profile === undefined ? [...PBS_DEFAULTS.profiles] : parseProfiles(raw.profile),
    configs: raw.rw === undefined ? PBS_DEFAULTS.configs.map((c) => ({ ...c })) : parseRwList(raw.rw),
    trials: raw.trials === undefined ? PBS_DEFAULTS.trials : parseInteger(raw.trials, '--trials', MAX_PBS_TRIALS),
    modelTrials:
      raw.modelTrials === undefined ? PBS_DEFAULTS.modelTrials : parseInteger(raw.modelTrials, '--model-trials', MAX_PBS_MODEL_TRIALS),
    seed: raw.seed === undefined ? PBS_DEFAULTS.seed : parseInteger(raw.seed, '--seed', 0xffffffff, 0),
    tMs: raw.t === undefined ? null : parseGrid(raw.t),
    format: raw.format === undefined ? 'table' : parseFormat(raw.format),
  };
  return checkPbsOptions(options);
}

/** Checks a PbsOptions built in code (runPbs calls it): the same rules as parsePbsOptions. */
export function checkPbsOptions(o: PbsOptions): PbsOptions {
  if (!Array.isArray(o.profiles) || o.profiles.length === 0) throw new InvalidArgumentError('give at least one profile');
  for (const p of o.profiles) parseProfiles(p);
  if (!Array.isArray(o.configs) || o.configs.length === 0) throw new InvalidArgumentError('give at least one R/W configuration');
  for (const c of o.configs) checkRw(c.r, c.w, `${c.r}/${c.w}`);
  checkCount(o.trials, '--trials', MAX_PBS_TRIALS);
  checkCount(o.modelTrials, '--model-trials', MAX_PBS_MODEL_TRIALS);
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) {
    throw new InvalidArgumentError(`--seed must be an integer from 0 to 4294967295; got ${String(o.seed)}`);
  }
  if (o.tMs !== null) parseGrid(o.tMs);
  parseFormat(o.format);
  return o;
}

function parseProfiles(v: string | string[]): PbsProfileName[] {
  const names = (Array.isArray(v) ? v : String(v).split(',')).map((s) => s.trim());
  if (names.length === 1 && names[0] === 'all') return [...PBS_PROFILE_NAMES];
  if (names.length === 0 || names.length > PBS_PROFILE_NAMES.length) {
    throw new InvalidArgumentError(`--profile takes 1 to ${PBS_PROFILE_NAMES.length} of ${PBS_PROFILE_NAMES.join(', ')}, or all`);
  }
  const seen = new Set<string>();
  for (const n of names) {
    if (!(PBS_PROFILE_NAMES as readonly string[]).includes(n)) {
      throw new InvalidArgumentError(`unknown latency profile "${n}"; profiles: ${PBS_PROFILE_NAMES.join(', ')}, or all`);
    }
    if (seen.has(n)) throw new InvalidArgumentError(`--profile names ${n} twice`);
    seen.add(n);
  }
  return names as PbsProfileName[];
}

/** `1/1,1/2,2/1,2/2`: R/W pairs, each 1..N. */
function parseRwList(text: string): RwConfig[] {
  const parts = String(text).split(',').map((s) => s.trim());
  if (parts.length > PBS_N * PBS_N) throw new InvalidArgumentError(`--rw: at most ${PBS_N * PBS_N} pairs; got ${parts.length}`);
  const seen = new Set<string>();
  return parts.map((pair) => {
    const m = /^(\d+)\/(\d+)$/.exec(pair);
    if (m === null) throw new InvalidArgumentError(`--rw "${pair}": write R/W as two integers from 1 to ${PBS_N}, e.g. 2/1`);
    if (seen.has(pair)) throw new InvalidArgumentError(`--rw names ${pair} twice`);
    seen.add(pair);
    return checkRw(Number(m[1]), Number(m[2]), pair);
  });
}

function checkRw(r: number, w: number, label: string): RwConfig {
  const ok = (x: number): boolean => Number.isInteger(x) && x >= 1 && x <= PBS_N;
  if (!ok(r) || !ok(w)) throw new InvalidArgumentError(`--rw ${label}: R and W must be integers from 1 to N=${PBS_N}`);
  return { r, w };
}

function parseInteger(v: string | number, flag: string, max: number, min = 1): number {
  const x = typeof v === 'number' ? v : /^\d+$/.test(String(v).trim()) ? Number(String(v).trim()) : NaN;
  if (!Number.isInteger(x) || x < min || x > max) {
    throw new InvalidArgumentError(`${flag} must be an integer from ${min} to ${max}; got ${String(v)}`);
  }
  return x;
}

/** `0,1,2.5,10`: distinct t values in ms, 0..MAX_PBS_T_MS, returned ascending. */
function parseGrid(v: string | readonly number[]): number[] {
  const items = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : [...v];
  if (items.length === 0 || items.length > MAX_PBS_T_POINTS) {
    throw new InvalidArgumentError(`--t takes 1 to ${MAX_PBS_T_POINTS} comma-separated t values in ms, e.g. 0,1,5,10`);
  }
  const ts = items.map((s) => {
    const x = typeof s === 'number' ? s : s === '' ? NaN : Number(s);
    if (!Number.isFinite(x) || x < 0 || x > MAX_PBS_T_MS) {
      throw new InvalidArgumentError(`--t: each t is a number of ms from 0 to ${MAX_PBS_T_MS}; got ${String(s)}`);
    }
    return x;
  });
  const sorted = [...new Set(ts)].sort((a, b) => a - b);
  if (sorted.length !== ts.length) throw new InvalidArgumentError('--t names a t value twice');
  return sorted;
}

function parseFormat(v: string): PbsFormat {
  if (v !== 'table' && v !== 'json') throw new InvalidArgumentError(`--format must be table or json; got ${String(v)}`);
  return v;
}

// ------------------------------------------------------------------------------------------------ the run

export interface PbsCell {
  profile: PbsProfileName;
  r: number;
  w: number;
  /** the seed of this cell's cluster and models, derived from the run's seed, the profile and R/W */
  seed: number;
  tMs: number[];
  /** P(consistent) per t: the simulated cluster, WARS with the coordinator a replica, plain WARS */
  measured: number[];
  warsLocal: number[];
  wars: number[];
  /** 1 - C(N-W, R) / C(N, R), every t */
  closedForm: number;
  /** the t (ms) at which P reaches PBS_TARGET_P; measured: interpolated on the grid, null if the grid never does */
  tVisibilityMs: { measured: number | null; measuredBracketMs: [number, number] | null; warsLocal: number; wars: number };
  sim: SimMeasurement;
}

export interface PbsReport {
  n: number;
  seed: number;
  trials: number;
  modelTrials: number;
  targetP: number;
  cells: PbsCell[];
  /** the simulation's throughput: puts plus gets (and simulator events) per second of wall time */
  sim: { ops: number; events: number; wallMs: number; opsPerSec: number; eventsPerSec: number };
  modelWallMs: number;
  notes: string[];
}

export const PBS_NOTES: readonly string[] = [
  'measured = the simulated cluster running the real protocol (actors/), one fresh key per trial, reads at commit + t.',
  'WARS = the paper\'s model: a coordinator apart from the N replicas, commit at the W-th fastest W_i + A_i.',
  'WARS-local = WARS with our protocol\'s difference: the coordinator is one of the N replicas and applies the write ' +
    'locally at once (W_c = A_c = 0). Measured follows WARS-local, not WARS. Two effects: one replica always holds the ' +
    'write at commit (raises P for W >= 2), and its own ack is instant, so a W = 1 write commits before any other ' +
    'replica can have it, where plain WARS waits a round trip during which the write spreads (lowers P at small t ' +
    'for W = 1, sharply for R = 2, W = 1).',
  'closed form = 1 - C(N-W, R) / C(N, R), the k=1 staleness bound: it ignores propagation, so it holds at every t.',
  'wan: 3 datacenters of one replica, +75 ms one way across datacenters; the writer sits beside the key\'s coordinator, ' +
    'each read beside a replica drawn at random (the models draw both operations\' local replica at random).',
  't for 99.9%: exact quantiles for the models; for measured, linear between the two grid points around the crossing, ' +
    'with about trials/1000 stale reads left at that t (noisy below ~10^4 trials; raise --trials).',
];

/** Runs every (profile, R/W) cell, printing as it goes (a table, or the report as JSON at the end). */
export async function runPbs(options: PbsOptions, out: NodeJS.WritableStream): Promise<PbsReport> {
  const o = checkPbsOptions(options);
  const report: PbsReport = {
    n: PBS_N, seed: o.seed, trials: o.trials, modelTrials: o.modelTrials, targetP: PBS_TARGET_P, cells: [],
    sim: { ops: 0, events: 0, wallMs: 0, opsPerSec: 0, eventsPerSec: 0 }, modelWallMs: 0, notes: [...PBS_NOTES],
  };
  const table = o.format === 'table';
  if (table) out.write(headerText(o));
  for (const name of o.profiles) {
    const profile = PBS_PROFILES[name];
    if (table) out.write(profileText(profile));
    for (const rw of o.configs) {
      const cell = await runCell(profile, rw, o, report);
      report.cells.push(cell);
      if (table) out.write(cellText(cell));
    }
  }
  const s = report.sim;
  s.opsPerSec = s.wallMs > 0 ? (s.ops / s.wallMs) * 1000 : 0;
  s.eventsPerSec = s.wallMs > 0 ? (s.events / s.wallMs) * 1000 : 0;
  out.write(table ? summaryText(report) : `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

async function runCell(profile: PbsProfile, rw: RwConfig, o: PbsOptions, report: PbsReport): Promise<PbsCell> {
  const seed = hash32(`pbs/${profile.name}/${rw.r}/${rw.w}`, o.seed);
  const tMs = o.tMs ?? [...profile.tGridMs];
  const sim = await measureSim(profile, { ...rw, trials: o.trials, seed, tMs });
  const t0 = performance.now();
  const model = { n: PBS_N, ...rw, trials: o.modelTrials, seed };
  // The same seed for both models: common random numbers, so their difference is the coordinator, not noise.
  const local = warsThresholds(profile, { ...model, localCoordinator: true });
  const plain = warsThresholds(profile, { ...model, localCoordinator: false });
  report.modelWallMs += performance.now() - t0;
  report.sim.ops += sim.ops;
  report.sim.events += sim.events;
  report.sim.wallMs += sim.wallMs;
  const measured = sim.consistent.map((c) => c / sim.trials);
  const crossing = gridCrossing(tMs, measured, PBS_TARGET_P);
  return {
    profile: profile.name, ...rw, seed, tMs, measured,
    warsLocal: tMs.map((t) => pAt(local, t)),
    wars: tMs.map((t) => pAt(plain, t)),
    closedForm: pConsistentClosedForm(PBS_N, rw.r, rw.w),
    tVisibilityMs: {
      measured: crossing?.atMs ?? null,
      measuredBracketMs: crossing?.bracketMs ?? null,
      warsLocal: tFor(local, PBS_TARGET_P),
      wars: tFor(plain, PBS_TARGET_P),
    },
    sim,
  };
}

/** The first grid t where p reaches target, linear between it and the grid point before; undefined if none does. */
export function gridCrossing(
  tMs: readonly number[],
  p: readonly number[],
  target: number,
): { atMs: number; bracketMs: [number, number] } | undefined {
  if (tMs.length !== p.length) throw new InvalidArgumentError(`gridCrossing: ${tMs.length} t values but ${p.length} probabilities`);
  for (let j = 0; j < tMs.length; j++) {
    if (p[j] < target) continue;
    if (j === 0) return { atMs: tMs[0], bracketMs: [tMs[0], tMs[0]] };
    const [t0, t1, p0, p1] = [tMs[j - 1], tMs[j], p[j - 1], p[j]];
    return { atMs: t0 + ((target - p0) / (p1 - p0)) * (t1 - t0), bracketMs: [t0, t1] };
  }
  return undefined;
}

// ------------------------------------------------------------------------------------------------ text

/** A distribution as the paper writes it: 91.22% Pareto(xm 0.235, a 10) + 8.78% Exp(l 1.66). */
export function describeDistribution(d: Distribution): string {
  switch (d.kind) {
    case 'constant':
      return `${d.ms} ms`;
    case 'uniform':
      return `U(${d.minMs}, ${d.maxMs})`;
    case 'exponential':
      return `Exp(l ${d.rate})`;
    case 'pareto':
      return `Pareto(xm ${d.xm}, a ${d.alpha})`;
    case 'shifted':
      return `${d.offsetMs} + ${describeDistribution(d.dist)}`;
    case 'mixture': {
      const total = d.parts.reduce((a, p) => a + p.weight, 0);
      return d.parts.map((p) => `${round((100 * p.weight) / total, 4)}% ${describeDistribution(p.dist)}`).join(' + ');
    }
  }
}

const round = (x: number, digits: number): number => Number(x.toPrecision(digits));
const prob = (x: number): string => x.toFixed(4);
const ms = (x: number | null): string => (x === null ? '-' : x === 0 ? '0' : String(round(x, 3)));
const pad = (s: string, width: number): string => (s.length >= width ? s : ' '.repeat(width - s.length) + s);
const padEnd = (s: string, width: number): string => (s.length >= width ? s : s + ' '.repeat(width - s.length));

function headerText(o: PbsOptions): string {
  return (
    `leaderless pbs: Bailis et al., "Probabilistically Bounded Staleness for Practical Partial Quorums" (VLDB 2012)\n` +
    `N=${PBS_N}, seed ${o.seed}, ${o.trials} simulated trials and ${o.modelTrials} model trials per cell; ` +
    `strict quorums, reads ask all N and take the first R, read repair and anti-entropy off\n`
  );
}

function profileText(p: PbsProfile): string {
  const same = [p.a, p.r, p.s].every((d) => d === p.w);
  const lines = [`\n== ${p.name}${p.remoteMs > 0 ? ` (+${p.remoteMs} ms one way to a replica in another datacenter)` : ''}`];
  if (same) lines.push(`   W, A, R, S: ${describeDistribution(p.w)}`);
  else {
    lines.push(`   W: ${describeDistribution(p.w)}`);
    lines.push(`   A, R, S: ${describeDistribution(p.a)}`);
  }
  return `${lines.join('\n')}\n`;
}

function cellText(c: PbsCell): string {
  const width = Math.max(7, ...c.tMs.map((t) => ms(t).length + 1));
  const label = (s: string): string => padEnd(s, 18);
  const row = (name: string, ps: readonly number[], tv: string): string =>
    `${label(name)}${ps.map((x) => pad(prob(x), width)).join('')}  ${tv}`;
  const v = c.tVisibilityMs;
  const b = v.measuredBracketMs;
  const bracket = b === null ? `not reached by t=${ms(c.tMs[c.tMs.length - 1])}` : `(grid ${ms(b[0])}..${ms(b[1])})`;
  const lines = [
    `-- R=${c.r} W=${c.w}${c.r + c.w > PBS_N ? ' (R+W > N: strict quorum overlap)' : ''}`,
    `${label('t (ms)')}${c.tMs.map((t) => pad(ms(t), width)).join('')}  t@${PBS_TARGET_P * 100}% (ms)`,
    row('measured (sim)', c.measured, `${ms(v.measured)} ${bracket}`),
    row('WARS-local', c.warsLocal, ms(v.warsLocal)),
    row('WARS', c.wars, ms(v.wars)),
    `${label('closed form k=1')}${pad(prob(c.closedForm), width)}  at every t`,
  ];
  if (c.sim.lateReads > 0) lines.push(`!! ${c.sim.lateReads} reads were issued after their commit + t: measured is optimistic`);
  return `${lines.join('\n')}\n`;
}

function summaryText(r: PbsReport): string {
  const head = ['profile', 'R/W', 'P0 sim', 'P0 local', 'P0 WARS', 'closed', 't99.9 sim', 't99.9 local', 't99.9 WARS'];
  const widths = [10, 5, 8, 9, 8, 7, 10, 12, 11];
  const line = (cols: string[]): string => cols.map((c, i) => (i < 2 ? padEnd(c, widths[i]) : pad(c, widths[i]))).join(' ');
  const rows = r.cells.map((c) => {
    const i0 = c.tMs.indexOf(0);
    const at0 = (ps: number[]): string => (i0 < 0 ? '-' : prob(ps[i0]));
    const v = c.tVisibilityMs;
    const ps = [at0(c.measured), at0(c.warsLocal), at0(c.wars), prob(c.closedForm)];
    return line([c.profile, `${c.r}/${c.w}`, ...ps, ms(v.measured), ms(v.warsLocal), ms(v.wars)]);
  });
  const s = r.sim;
  return [
    '',
    `== summary: P(consistent) at t=0 and t (ms) at which it reaches ${PBS_TARGET_P * 100}% ` +
      `(sim: ${r.trials} trials, models: ${r.modelTrials})`,
    line(head),
    ...rows,
    '',
    ...r.notes.map((n) => `note: ${n}`),
    '',
    `simulation: ${s.ops} operations (puts + gets) in ${(s.wallMs / 1000).toFixed(2)} s of wall time = ` +
      `${Math.round(s.opsPerSec)} ops/s; ${Math.round(s.eventsPerSec)} simulator events/s; models ${(r.modelWallMs / 1000).toFixed(2)} s`,
    '',
  ].join('\n');
}
