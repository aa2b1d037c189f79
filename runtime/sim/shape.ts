// Argument checks and result shaping for the simulated client, the same as runtime/client.ts does them for the
// thread runtime (there they are private to ClusterClient; these are copies, kept line for line alike so that both
// runtimes refuse the same calls with the same messages and shape the same results). If client.ts ever exports
// them, this file should shrink to re-exports.

import { InvalidArgumentError, KeyTooLargeError, ValueTooLargeError } from '../../actors/errors.js';
import { keyByteLength, keyId, utf8Length, type Key } from '../../actors/hash.js';
import type { StoredClock } from '../../actors/protocol.js';
import { parseLevel, requirement, type Level, type Requirement } from '../../actors/quorum.js';
import type { Value } from '../../actors/types.js';
import { encodeContext, join, type VersionVector } from '../../actors/versioning/dvv.js';
import type { GetResult, Inspection } from '../client.js';
import type { ResolvedConfig } from '../config.js';

export const GET_KEYS = new Set(['consistency', 'r', 'timeoutMs', 'readRepair']);
export const PUT_KEYS = new Set(['context', 'consistency', 'w', 'timeoutMs']);

export function checkOptions(o: object, allowed: Set<string>, op: string): void {
  if (o === null || typeof o !== 'object') throw new InvalidArgumentError(`${op} options must be an object`);
  for (const k of Object.keys(o)) {
    if (!allowed.has(k)) {
      throw new InvalidArgumentError(`unknown ${op} option ${k}; allowed: ${[...allowed].join(', ')}`, { option: k });
    }
  }
}

export function checkTimeout(t: unknown): number {
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 3_600_000) {
    throw new InvalidArgumentError(`timeoutMs must be an integer from 1 to 3600000; got ${String(t)}`);
  }
  return t;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? `an object (${(v as object).constructor?.name ?? 'Object'})` : typeof v;
}

export function checkKey(config: ResolvedConfig, key: Key): string {
  if (typeof key !== 'string' && !(key instanceof Uint8Array)) {
    throw new InvalidArgumentError(`a key must be a string or a Uint8Array; got ${describe(key)}`);
  }
  const bytes = keyByteLength(key);
  if (bytes === 0) throw new InvalidArgumentError('a key must not be empty');
  if (bytes > config.maxKeyBytes) throw new KeyTooLargeError(bytes, config.maxKeyBytes);
  return keyId(key);
}

export function checkValue(config: ResolvedConfig, value: Value): Value {
  if (typeof value === 'string') {
    // cheap upper bound first: UTF-8 takes at most 3 bytes per UTF-16 unit
    if (value.length * 3 > config.maxValueBytes) {
      const bytes = utf8Length(value);
      if (bytes > config.maxValueBytes) throw new ValueTooLargeError(bytes, config.maxValueBytes);
    }
    return value;
  }
  if (value instanceof Uint8Array) {
    if (value.length > config.maxValueBytes) throw new ValueTooLargeError(value.length, config.maxValueBytes);
    return value;
  }
  throw new InvalidArgumentError(`a value must be a string or a Uint8Array; got ${describe(value)}`);
}

/** The requirement of one call: its consistency or r/w (not both), else the cluster's default. */
export function requirementOf(
  config: ResolvedConfig,
  level: Level | undefined,
  count: number | undefined,
  op: 'read' | 'write',
  fallback: Requirement,
): Requirement {
  if (level !== undefined && count !== undefined) {
    throw new InvalidArgumentError(`give consistency or ${op === 'read' ? 'r' : 'w'}, not both`);
  }
  const chosen = count ?? level;
  if (chosen === undefined) return fallback;
  return requirement(parseLevel(chosen, op), op, { replicationByDc: config.replication, localDc: config.localDc });
}

export function toResult(clock: StoredClock | null, primaryOnly: boolean, context?: VersionVector): GetResult {
  if (clock === null) return { found: false, values: [], context: '', deleted: false, primaryOnly };
  const values: Value[] = [];
  let tombstones = 0;
  for (const e of clock.entries) {
    for (const s of e.values) {
      if (s.v === null) tombstones++;
      else values.push(s.v);
    }
  }
  for (const s of clock.anonymous) {
    if (s.v === null) tombstones++;
    else values.push(s.v);
  }
  return {
    found: values.length > 0,
    values,
    context: encodeContext(context ?? join(clock)),
    deleted: values.length === 0 && tombstones > 0,
    primaryOnly,
  };
}

export function toInspection(clock: StoredClock): Inspection {
  const r = toResult(clock, true);
  let versions = clock.anonymous.length;
  for (const e of clock.entries) versions += e.values.length;
  return { values: r.values, context: r.context, versions, deleted: r.deleted };
}
