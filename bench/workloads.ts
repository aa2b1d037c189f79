// YCSB-style workloads: an operation mix, a key distribution, and a seeded stream of (operation, key index).
//
// Data layout: a Workload holds the mix as cumulative thresholds (read, update, insert, rmw: one uniform draw picks the
// operation), a key chooser (uniform, zipfian or latest), and the key space: indices 0..keys-1 are loaded before the
// run; inserts take keys, keys+1, ... in order. Keys are named `key:<index>`.
//
// Use: const w = new Workload(spec, seed); const op = w.next(); ... if (op.kind === 'insert') w.inserted(op.key);
//
// The presets follow YCSB's core workloads: A 50/50 read/update, B 95/5 read/update, C read only, D 95/5 read/insert
// reading the latest keys, F 50/50 read/read-modify-write, all zipfian except D. E (short scans) is left out: the
// store has no range scans. The zipfian generator is YCSB's (Gray et al., theta 0.99), scrambled with FNV-1a 64 as
// YCSB's ScrambledZipfianGenerator does, so the hot keys are spread over the key space rather than packed at 0.
import { InvalidConfigError, Prng } from '../runtime/index.js';

export type OpKind = 'read' | 'update' | 'insert' | 'rmw';
export const OP_KINDS: readonly OpKind[] = ['read', 'update', 'insert', 'rmw'];
export type Mix = Record<OpKind, number>;
export type Distribution = 'uniform' | 'zipfian' | 'latest';
export const DISTRIBUTIONS: readonly Distribution[] = ['uniform', 'zipfian', 'latest'];

export interface Preset {
  mix: Mix;
  distribution: Distribution;
  description: string;
}

const mix = (m: Partial<Mix>): Mix => ({ read: 0, update: 0, insert: 0, rmw: 0, ...m });

export const PRESETS: Readonly<Record<string, Preset>> = Object.freeze({
  A: { mix: mix({ read: 0.5, update: 0.5 }), distribution: 'zipfian', description: 'update heavy: 50% read, 50% update' },
  B: { mix: mix({ read: 0.95, update: 0.05 }), distribution: 'zipfian', description: 'read mostly: 95% read, 5% update' },
  C: { mix: mix({ read: 1 }), distribution: 'zipfian', description: 'read only' },
  D: { mix: mix({ read: 0.95, insert: 0.05 }), distribution: 'latest', description: 'read latest: 95% read, 5% insert' },
  F: { mix: mix({ read: 0.5, rmw: 0.5 }), distribution: 'zipfian', description: '50% read, 50% read-modify-write' },
});

/** Most keys a run may load: the zipfian constant and the final ALL read scale with it. */
export const MAX_KEYS = 10_000_000;
export const YCSB_ZIPFIAN_THETA = 0.99;

export interface WorkloadSpec {
  /** a preset letter, or 'custom' for a --mix */
  name: string;
  mix: Mix;
  distribution: Distribution;
  /** keys loaded before the run */
  keys: number;
  valueSizeBytes: number;
}

export interface NextOp {
  kind: OpKind;
  key: number;
}

/** Parses `read=0.7,update=0.3` (shares; they must sum to 1 within 1e-6). */
export function parseMix(text: string): Mix {
  const out = mix({});
  const seen = new Set<string>();
  for (const part of text.split(',')) {
    const m = /^\s*([a-z]+)\s*=\s*([0-9.]+)\s*$/.exec(part);
    if (m === null) throw new InvalidConfigError(`--mix "${text}": each part must be kind=share, e.g. read=0.7,update=0.3`);
    const [, kind, share] = m;
    if (!(OP_KINDS as readonly string[]).includes(kind)) {
      throw new InvalidConfigError(`--mix "${text}": unknown operation ${kind}; allowed: ${OP_KINDS.join(', ')}`);
    }
    if (seen.has(kind)) throw new InvalidConfigError(`--mix "${text}": ${kind} is given twice`);
    seen.add(kind);
    const n = Number(share);
    if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidConfigError(`--mix "${text}": ${kind}=${share} must be from 0 to 1`);
    out[kind as OpKind] = n;
  }
  checkMix(out, `--mix "${text}"`);
  return out;
}

function checkMix(m: Mix, what: string): void {
  const total = OP_KINDS.reduce((s, k) => s + m[k], 0);
  if (Math.abs(total - 1) > 1e-6) throw new InvalidConfigError(`${what}: the shares sum to ${total}; they must sum to 1`);
}

/** sum_{i=1..n} 1 / i^theta, continued from an earlier sum up to `from` (YCSB's incremental zeta). */
function zeta(from: number, to: number, theta: number, initial: number): number {
  let sum = initial;
  for (let i = from; i < to; i++) sum += 1 / Math.pow(i + 1, theta);
  return sum;
}

/** YCSB's ZipfianGenerator over 0..items-1; items may grow (the zeta sum is extended, never recomputed). */
export class Zipfian {
  private items = 0;
  private zetan = 0;
  private eta = 0;
  private readonly alpha: number;
  private readonly zeta2: number;

  constructor(
    items: number,
    private readonly theta = YCSB_ZIPFIAN_THETA,
    zetan?: number,
  ) {
    if (!(theta > 0 && theta < 1)) throw new InvalidConfigError(`zipfian theta must be in (0, 1); got ${theta}`);
    this.alpha = 1 / (1 - theta);
    this.zeta2 = zeta(0, 2, theta, 0);
    if (zetan !== undefined) {
      this.items = items;
      this.zetan = zetan;
      this.eta = this.etaFor(items);
    } else this.grow(items);
  }

  private etaFor(n: number): number {
    return (1 - Math.pow(2 / n, 1 - this.theta)) / (1 - this.zeta2 / this.zetan);
  }

  /** Extends the key space to n items (n never shrinks). */
  grow(n: number): void {
    if (n <= this.items) return;
    this.zetan = zeta(this.items, n, this.theta, this.zetan);
    this.items = n;
    this.eta = this.etaFor(n);
  }

  /** A rank in 0..items-1; 0 is the most popular. `u` is a uniform draw in [0, 1). */
  next(u: number): number {
    const uz = u * this.zetan;
    if (uz < 1) return 0;
    if (uz < 1 + Math.pow(0.5, this.theta)) return Math.min(1, this.items - 1);
    const r = Math.floor(this.items * Math.pow(this.eta * u - this.eta + 1, this.alpha));
    return Math.min(r, this.items - 1);
  }
}

const FNV_OFFSET_64 = 0xcbf29ce484222325n;
const FNV_PRIME_64 = 1099511628211n;

/** YCSB's Utils.fnvhash64: FNV-1a over the 8 little-endian bytes of a Java long, then abs. */
export function fnvhash64(value: number): bigint {
  let v = BigInt(value);
  let h = BigInt.asIntN(64, FNV_OFFSET_64);
  for (let i = 0; i < 8; i++) {
    const octet = v & 0xffn;
    v >>= 8n;
    h = BigInt.asIntN(64, (h ^ octet) * FNV_PRIME_64);
  }
  return h < 0n ? -h : h;
}

// ScrambledZipfianGenerator draws from a fixed 10^10-item zipfian whose zeta YCSB precomputed, then hashes.
const SCRAMBLED_ITEMS = 10_000_000_000;
const SCRAMBLED_ZETAN = 26.46902820178302;

export class Workload {
  readonly spec: WorkloadSpec;
  private readonly rand: () => number;
  private readonly thresholds: number[];
  private readonly zipf: Zipfian | undefined;
  private nextInsert: number;
  /** keys 0..ackedKeys-1 are (as far as the workload knows) written: `latest` reads stay below it */
  private ackedKeys: number;

  constructor(spec: WorkloadSpec, seed: number) {
    checkSpec(spec);
    this.spec = spec;
    const rng = new Prng(seed);
    this.rand = () => rng.float();
    let acc = 0;
    this.thresholds = OP_KINDS.map((k) => (acc += spec.mix[k]));
    this.nextInsert = spec.keys;
    this.ackedKeys = spec.keys;
    if (spec.distribution === 'zipfian') this.zipf = new Zipfian(SCRAMBLED_ITEMS, YCSB_ZIPFIAN_THETA, SCRAMBLED_ZETAN);
    else if (spec.distribution === 'latest') this.zipf = new Zipfian(spec.keys);
  }

  next(): NextOp {
    const u = this.rand();
    let i = this.thresholds.findIndex((t) => u < t);
    if (i < 0) i = this.thresholds.length - 1; // rounding: the shares sum to 1 only within 1e-6
    const kind = OP_KINDS[i];
    if (kind === 'insert') return { kind, key: this.nextInsert++ };
    return { kind, key: this.chooseKey() };
  }

  /** Call when an insert completed: `latest` then starts choosing it. */
  inserted(key: number): void {
    if (key >= this.ackedKeys) this.ackedKeys = key + 1;
  }

  /** Every key index the run may have written: 0..keySpace-1. */
  get keySpace(): number {
    return this.nextInsert;
  }

  private chooseKey(): number {
    const n = this.ackedKeys;
    switch (this.spec.distribution) {
      case 'uniform':
        return Math.floor(this.rand() * n);
      case 'zipfian':
        return Number(fnvhash64(this.zipf!.next(this.rand())) % BigInt(n));
      case 'latest':
        // SkewedLatestGenerator: the newest key is the most popular
        this.zipf!.grow(n);
        return n - 1 - this.zipf!.next(this.rand());
    }
  }
}

export function keyName(index: number): string {
  return `key:${index}`;
}

function checkSpec(spec: WorkloadSpec): void {
  if (!Number.isInteger(spec.keys) || spec.keys < 1 || spec.keys > MAX_KEYS) {
    throw new InvalidConfigError(`keys must be an integer from 1 to ${MAX_KEYS}; got ${String(spec.keys)}`);
  }
  if (!(DISTRIBUTIONS as readonly string[]).includes(spec.distribution)) {
    throw new InvalidConfigError(`distribution must be one of ${DISTRIBUTIONS.join(', ')}; got ${String(spec.distribution)}`);
  }
  checkMix(spec.mix, `workload ${spec.name}`);
}

/**
 * Values are unique so the oracle can tell writes apart: `<id>|` then padding up to the value size. The id alone is
 * what the history records (the padding carries no information).
 */
export function makeValue(id: string, sizeBytes: number): string {
  const head = `${id}|`;
  return head.length >= sizeBytes ? head : head + '.'.repeat(sizeBytes - head.length);
}

export function valueId(value: unknown): string {
  const s = typeof value === 'string' ? value : new TextDecoder().decode(value as Uint8Array);
  const bar = s.indexOf('|');
  return bar < 0 ? s : s.slice(0, bar);
}
