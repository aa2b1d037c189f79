// The options of `leaderless pbs`: parsed from a command line or checked when built in code.
import { InvalidArgumentError } from '../../runtime/index.js';
import {
  MAX_PBS_MODEL_TRIALS,
  MAX_PBS_TRIALS,
  MAX_PBS_T_MS,
  MAX_PBS_T_POINTS,
  PBS_DEFAULTS,
  PBS_N,
  PBS_PROFILE_NAMES,
  checkCount,
  type PbsProfileName,
  type RwConfig,
} from './profiles.js';

export type PbsFormat = 'table' | 'json';
/**
 * Who coordinates a trial's write: 'replica', the first of the key's replicas (our protocol's way, WARS-local), or
 * 'any', a node that is none of the key's replicas (a proxy, as in Cassandra and the paper's WARS: one more node in the
 * cluster, and a one-off DVV id per write, actors/coordinator/proxy-put.ts).
 */
export type PbsCoordinator = 'replica' | 'any';
export const PBS_COORDINATORS: readonly PbsCoordinator[] = ['replica', 'any'];

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
  /** default 'replica' */
  coordinator?: PbsCoordinator;
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
  coordinator?: string;
}

/** Validates command-line style options; throws InvalidArgumentError saying what was wrong and what is allowed. */
export function parsePbsOptions(raw: PbsRawOptions = {}): PbsOptions {
  if (raw === null || typeof raw !== 'object') throw new InvalidArgumentError('pbs options must be an object');
  const known = new Set(['profile', 'rw', 'trials', 'modelTrials', 'seed', 't', 'format', 'coordinator']);
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
    coordinator: raw.coordinator === undefined ? 'replica' : parseCoordinator(raw.coordinator),
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
  if (o.coordinator !== undefined) parseCoordinator(o.coordinator);
  return o;
}

function parseCoordinator(v: unknown): PbsCoordinator {
  if (!(PBS_COORDINATORS as readonly unknown[]).includes(v)) {
    throw new InvalidArgumentError(`--coordinator must be replica (the first of the key's replicas) or any (a node that is none of them, as in WARS); got ${String(v)}`);
  }
  return v as PbsCoordinator;
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
export function parseRwList(text: string): RwConfig[] {
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

export function parseInteger(v: string | number, flag: string, max: number, min = 1): number {
  const x = typeof v === 'number' ? v : /^\d+$/.test(String(v).trim()) ? Number(String(v).trim()) : NaN;
  if (!Number.isInteger(x) || x < min || x > max) {
    throw new InvalidArgumentError(`${flag} must be an integer from ${min} to ${max}; got ${String(v)}`);
  }
  return x;
}

/** `0,1,2.5,10`: distinct t values in ms, 0..MAX_PBS_T_MS, returned ascending. */
export function parseGrid(v: string | readonly number[]): number[] {
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
