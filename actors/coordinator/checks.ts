// Argument checks of the client API, shared by both runtimes: every bad argument gets a typed error (actors/errors.ts)
// that says what was wrong and what is allowed. Also the consistency requirements a call asks for, parsed once per
// (level, op) and then looked up.

import { InvalidArgumentError, KeyTooLargeError, ValueTooLargeError, show } from '../errors.js';
import { isWellFormed, keyId, loneSurrogateAt, utf8Length, wellFormedUtf8Length, type Key } from '../hash.js';
import { parseLevel, requirement, type Level, type Op, type Requirement } from '../quorum/index.js';
import type { Value } from '../types.js';
import type { ReadRepairMode } from './get.js';

export const GET_KEYS = new Set(['consistency', 'r', 'timeoutMs', 'readRepair', 'standInNotFoundOk']);
export const PUT_KEYS = new Set(['context', 'consistency', 'w', 'timeoutMs', 'coordinator']);
/** The options of cluster.client() / createHandle(), in both runtimes. */
export const CLIENT_KEYS = new Set(['near']);
const CRASH_KEYS = new Set(['wipe']);

export function checkOptions(o: object, allowed: Set<string>, op: string): void {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    throw new InvalidArgumentError(`${op} options must be an object; got ${describe(o)}`);
  }
  for (const k in o) {
    if (!allowed.has(k)) {
      throw new InvalidArgumentError(`unknown ${op} option ${k}; allowed: ${[...allowed].join(', ')}`, { option: k });
    }
  }
}

/** faults.crash(node, { wipe }) in both runtimes: an object whose wipe, when given, is a boolean. */
export function checkCrashOptions(o: unknown): void {
  checkOptions(o as object, CRASH_KEYS, 'crash');
  const wipe = (o as { wipe?: unknown }).wipe;
  if (wipe !== undefined && typeof wipe !== 'boolean') throw new InvalidArgumentError(`wipe must be true or false; got ${show(wipe)}`);
}

export function checkTimeout(t: unknown): number {
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 3_600_000) {
    throw new InvalidArgumentError(`timeoutMs must be an integer from 1 to 3600000; got ${show(t)}`);
  }
  return t;
}

export function checkReadRepair(mode: unknown): ReadRepairMode {
  if (mode !== 'async' && mode !== 'blocking' && mode !== 'off') {
    throw new InvalidArgumentError(`readRepair must be async, blocking or off; got ${show(mode)}`);
  }
  return mode;
}

export function checkStandInNotFoundOk(ok: unknown): boolean {
  if (typeof ok !== 'boolean') throw new InvalidArgumentError(`standInNotFoundOk must be true or false; got ${String(ok)}`);
  return ok;
}

export function checkNode(node: unknown, nodes: number): asserts node is number {
  if (typeof node !== 'number' || !Number.isInteger(node) || node < 0 || node >= nodes) {
    throw new InvalidArgumentError(`node must be an integer from 0 to ${nodes - 1}; got ${show(node)}`);
  }
}

/** A key's id (actors/hash.ts), once it is known to be a non-empty, well-formed key of at most maxKeyBytes. */
export function checkKey(key: Key, maxKeyBytes: number): string {
  if (typeof key !== 'string' && !(key instanceof Uint8Array)) {
    throw new InvalidArgumentError(`a key must be a string or a Uint8Array; got ${describe(key)}`);
  }
  const bytes = typeof key === 'string' ? wellFormedUtf8Length(key) : key.length;
  if (bytes < 0) throw illFormed('key', key as string);
  if (bytes === 0) throw new InvalidArgumentError('a key must not be empty');
  if (bytes > maxKeyBytes) throw new KeyTooLargeError(bytes, maxKeyBytes);
  return keyId(key);
}

export function checkValue(value: Value, maxValueBytes: number): Value {
  if (typeof value === 'string') {
    if (!isWellFormed(value)) throw illFormed('value', value);
    // cheap upper bound first: UTF-8 takes at most 3 bytes per UTF-16 unit
    if (value.length * 3 > maxValueBytes) {
      const bytes = utf8Length(value);
      if (bytes > maxValueBytes) throw new ValueTooLargeError(bytes, maxValueBytes);
    }
    return value;
  }
  if (value instanceof Uint8Array) {
    if (value.length > maxValueBytes) throw new ValueTooLargeError(value.length, maxValueBytes);
    return value;
  }
  throw new InvalidArgumentError(`a value must be a string or a Uint8Array; got ${describe(value)}`);
}

/** A string with a lone surrogate: UTF-8 cannot carry it, so it would come back changed (or alias another key). */
function illFormed(what: 'key' | 'value', s: string): InvalidArgumentError {
  const index = loneSurrogateAt(s);
  return new InvalidArgumentError(
    `a ${what} string must be well-formed UTF-16: it has a lone surrogate at index ${index}, which UTF-8 cannot ` +
      `encode; pass a Uint8Array for arbitrary bytes`,
    { index },
  );
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? `an object (${(v as object).constructor?.name ?? 'Object'})` : typeof v;
}

/** The requirement a call asks for (a level or a count, not both), cached: a pure function of (level, op). */
export class Requirements {
  private readonly cache = { read: new Map<Level, Requirement>(), write: new Map<Level, Requirement>() };
  private readonly defaultRead: Requirement;
  private readonly defaultWrite: Requirement;

  constructor(
    private readonly topology: { readonly replication: Record<string, number>; readonly localDc: string },
    read: Level,
    write: Level,
  ) {
    this.defaultRead = this.cached(read, 'read');
    this.defaultWrite = this.cached(write, 'write');
  }

  of(level: Level | undefined, count: number | undefined, op: Op): Requirement {
    if (level !== undefined && count !== undefined) {
      throw new InvalidArgumentError(`give consistency or ${op === 'read' ? 'r' : 'w'}, not both`);
    }
    if (count !== undefined && typeof count !== 'number') {
      const name = op === 'read' ? 'r' : 'w';
      throw new InvalidArgumentError(`${name} must be a number (a positive integer up to N); got ${typeof count === 'string' ? `the string '${count}'` : describe(count)}`);
    }
    const chosen = count ?? level;
    if (chosen === undefined) return op === 'read' ? this.defaultRead : this.defaultWrite;
    return this.cached(chosen, op);
  }

  private cached(level: Level, op: Op): Requirement {
    const cache = this.cache[op];
    let r = cache.get(level);
    if (r === undefined) {
      r = requirement(parseLevel(level, op), op, { replicationByDc: this.topology.replication, localDc: this.topology.localDc });
      if (cache.size < 64) cache.set(level, r); // bounded: only well-formed levels get here, but be safe
    }
    return r;
  }
}
