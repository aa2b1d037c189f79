// Dotted version vector sets (DVVSet), after dvvset.erl in the Dotted-Version-Vectors project.
//
// TYPES ARE FIXED (other modules and the binary codec depend on them); the functions are to be implemented below.
//
// Data layout:
//   Clock<V> = { entries: Entry<V>[], anonymous: V[] }
//   entries are sorted by replica id (ascending, plain JS string comparison), one per replica id.
//   Entry<V> = { id, n, values }: the replica `id` has generated events 1..n; `values` holds the values of the
//   newest events still live, newest first: values[0] is dot (id, n), values[1] is dot (id, n - 1), and so on.
//   anonymous: values with no dot (only a clock made by newClock/newWithContext before `update` has them).
// Ids name replicas only, never clients, so a clock has at most a few entries.

import { InvalidArgumentError } from '../errors.js';

export type ReplicaId = string;

export interface Entry<V> {
  id: ReplicaId;
  n: number;
  values: V[];
}

export interface Clock<V> {
  entries: Entry<V>[];
  anonymous: V[];
}

/** The causal context of a clock (dvvset:join): every (id, n), sorted by id. */
export type VersionVector = Array<[ReplicaId, number]>;

// ---------------------------------------------------------------------------------------------------------------
// Functions. A port of dvvset.erl, function by function (names in the doc comments). How the store uses them:
//   get:  ctx = encodeContext(join(sync(...replies)))            -> the client holds ctx with the siblings
//   put:  state' = updateWith(newWithContext(decodeContext(ctx), v), state, self)   (a blind put: newClock(v))
//   repair / anti-entropy / handoff:  state' = sync(state, remote)
//   lww mode: state' = lww(state', lessThan) after every update and sync (see lww.ts).
// A replica's state has no anonymous values, with one exception: lww leaves its winner anonymous when the winner was
// anonymous (dvvset does the same).
// Every function returns a fresh clock and never mutates its inputs; results may share Entry objects and value
// arrays with the inputs, which is safe because clocks are treated as immutable everywhere.
// ---------------------------------------------------------------------------------------------------------------

/** Longest replica id a context may carry, in UTF-8 bytes: ids are short names like 'n3' or 'dc1-n3'. */
export const MAX_REPLICA_ID_BYTES = 255;
/** Most entries a context may carry: one per replica that ever coordinated a write to the key. */
export const MAX_CONTEXT_ENTRIES = 1024;

export function emptyClock<V>(): Clock<V> {
  return { entries: [], anonymous: [] };
}

/** dvvset:new/1. A client value with no causal history (a blind write). */
export function newClock<V>(value: V): Clock<V> {
  return { entries: [], anonymous: [value] };
}

/** dvvset:new/2. A client value written with the context of an earlier read (the output of join). */
export function newWithContext<V>(context: VersionVector, value: V): Clock<V> {
  const sorted = checkVector(context);
  return { entries: sorted.map(([id, n]) => ({ id, n, values: [] })), anonymous: [value] };
}

/** dvvset:update/2. Gives the client clock's single anonymous value a dot (id, n + 1). */
export function update<V>(c: Clock<V>, id: ReplicaId): Clock<V> {
  const value = clientValue(c, 'update');
  checkReplicaId(id);
  return { entries: event(c.entries, id, value), anonymous: [] };
}

/**
 * dvvset:update/3. `c` is a client clock (newClock / newWithContext); `local` is the replica's state. The result is
 * causally newer than both: the values `c`'s context covers are gone, the rest of `local` stays beside the new one.
 */
export function updateWith<V>(c: Clock<V>, local: Clock<V>, id: ReplicaId): Clock<V> {
  const value = clientValue(c, 'updateWith');
  checkReplicaId(id);
  // Sync the histories without the new value, then make the new event on the synced history.
  const synced = sync({ entries: c.entries, anonymous: [] }, local);
  return { entries: event(synced.entries, id, value), anonymous: synced.anonymous };
}

/**
 * dvvset:sync/2 (sync([A, B])). Merges two causal histories and drops the values either side knows are outdated.
 * `eq` decides when two anonymous values are the same (default ===); dotted values need no comparison.
 */
export function sync<V>(a: Clock<V>, b: Clock<V>, eq: (x: V, y: V) => boolean = strictEq): Clock<V> {
  let anonymous: V[];
  if (less(a, b)) anonymous = b.anonymous.slice();
  else if (less(b, a)) anonymous = a.anonymous.slice();
  else anonymous = unique(a.anonymous.concat(b.anonymous), eq);
  return { entries: syncEntries(a.entries, b.entries), anonymous };
}

/** dvvset:join/1. The causal context: every (id, n), sorted by id. */
export function join<V>(c: Clock<V>): VersionVector {
  return c.entries.map((e): [ReplicaId, number] => [e.id, e.n]);
}

/** dvvset:less/2. True when a's history is strictly contained in b's: a's values are all outdated by b. */
export function less<V>(a: Clock<V>, b: Clock<V>): boolean {
  return greater(b.entries, a.entries);
}

/** dvvset:equal/2. Same causal history (ids, counters and number of live dots); values are not compared. */
export function equal<V>(a: Clock<V>, b: Clock<V>): boolean {
  if (a.entries.length !== b.entries.length) return false;
  for (let i = 0; i < a.entries.length; i++) {
    const x = a.entries[i];
    const y = b.entries[i];
    if (x.id !== y.id || x.n !== y.n || x.values.length !== y.values.length) return false;
  }
  return true;
}

/** dvvset:values/1. Anonymous values first, then each entry's values (newest first), entries by id. */
export function values<V>(c: Clock<V>): V[] {
  const out = c.anonymous.slice();
  for (const e of c.entries) for (const v of e.values) out.push(v);
  return out;
}

/** dvvset:size/1. The number of values (siblings), anonymous ones included. */
export function size<V>(c: Clock<V>): number {
  let total = c.anonymous.length;
  for (const e of c.entries) total += e.values.length;
  return total;
}

/** dvvset:ids/1. */
export function ids<V>(c: Clock<V>): ReplicaId[] {
  return c.entries.map((e) => e.id);
}

/** dvvset:map/2. */
export function mapValues<V, W>(c: Clock<V>, f: (v: V) => W): Clock<W> {
  return {
    entries: c.entries.map((e) => ({ id: e.id, n: e.n, values: e.values.map(f) })),
    anonymous: c.anonymous.map(f),
  };
}

/**
 * dvvset:last/2. The newest value by `lessThan` among the newest value of each entry and the anonymous values.
 * Like dvvset, an entry's older values are never candidates: the replica's own event order already says they are
 * older than its newest, whatever their timestamps (a wall clock that stepped back cannot revive them).
 */
export function lastValue<V>(c: Clock<V>, lessThan: (a: V, b: V) => boolean): V {
  const found = findLast(c, lessThan);
  if (found === null) throw new InvalidArgumentError('lastValue of a clock with no values; a clock needs >= 1 value');
  return found.value;
}

/**
 * dvvset:lww/2. Same causal history, only the newest value (see lastValue) kept: at its own dot when it has one,
 * else as the single anonymous value. A clock with no values is returned as it is (as a fresh copy).
 */
export function lww<V>(c: Clock<V>, lessThan: (a: V, b: V) => boolean): Clock<V> {
  const found = findLast(c, lessThan);
  if (found === null) return { entries: c.entries.slice(), anonymous: [] };
  if (found.id === null) return { entries: emptied(c.entries), anonymous: [found.value] };
  return {
    entries: c.entries.map((e) => ({ id: e.id, n: e.n, values: e.id === found.id ? [found.value] : [] })),
    anonymous: [],
  };
}

// --- private helpers ---

/** dvvset:sync2/2: a merge of two id-sorted entry lists. */
function syncEntries<V>(a: Entry<V>[], b: Entry<V>[]): Entry<V>[] {
  const out: Entry<V>[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i].id < b[j].id) out.push(a[i++]);
    else if (a[i].id > b[j].id) out.push(b[j++]);
    else out.push(mergeEntry(a[i++], b[j++]));
  }
  while (i < a.length) out.push(a[i++]);
  while (j < b.length) out.push(b[j++]);
  return out;
}

/**
 * dvvset:merge/5. Entry x holds live dots (x.n - |x.values|, x.n]; a dot both sides know stays live only if live in
 * both, a dot only one side knows stays as it is. So the live range is (max of the two floors, max of the two n].
 */
function mergeEntry<V>(x: Entry<V>, y: Entry<V>): Entry<V> {
  const [hi, lo] = x.n >= y.n ? [x, y] : [y, x];
  if (hi.n - hi.values.length >= lo.n - lo.values.length) return hi;
  return { id: hi.id, n: hi.n, values: hi.values.slice(0, hi.n - lo.n + lo.values.length) };
}

/** dvvset:event/3: a new dot for `id` holding `value`, inserted in id order. */
function event<V>(entries: Entry<V>[], id: ReplicaId, value: V): Entry<V>[] {
  const out: Entry<V>[] = [];
  let placed = false;
  for (const e of entries) {
    if (!placed && e.id === id) {
      out.push({ id, n: e.n + 1, values: [value, ...e.values] });
      placed = true;
      continue;
    }
    if (!placed && e.id > id) {
      out.push({ id, n: 1, values: [value] });
      placed = true;
    }
    out.push(e);
  }
  if (!placed) out.push({ id, n: 1, values: [value] });
  return out;
}

/** dvvset:greater/3: a's history strictly contains b's (both id-sorted). */
function greater<V>(a: Entry<V>[], b: Entry<V>[]): boolean {
  let strict = false;
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i].id === b[j].id) {
      if (a[i].n < b[j].n) return false;
      if (a[i].n > b[j].n) strict = true;
      i++;
      j++;
    } else if (a[i].id < b[j].id) {
      strict = true; // a knows an id b does not
      i++;
    } else {
      return false; // b knows an id a does not
    }
  }
  if (j < b.length) return false;
  return strict || i < a.length;
}

/** dvvset:find_entry: scans entry heads in id order, then the anonymous values; id null means anonymous. */
function findLast<V>(c: Clock<V>, lessThan: (a: V, b: V) => boolean): { id: ReplicaId | null; value: V } | null {
  let best: { id: ReplicaId | null; value: V } | null = null;
  for (const e of c.entries) {
    if (e.values.length === 0) continue;
    if (best === null || lessThan(best.value, e.values[0])) best = { id: e.id, value: e.values[0] };
  }
  for (const v of c.anonymous) {
    if (best === null || lessThan(best.value, v)) best = { id: null, value: v };
  }
  return best;
}

function emptied<V>(entries: Entry<V>[]): Entry<V>[] {
  return entries.map((e) => (e.values.length === 0 ? e : { id: e.id, n: e.n, values: [] }));
}

function strictEq<V>(x: V, y: V): boolean {
  return x === y;
}

function unique<V>(vs: V[], eq: (x: V, y: V) => boolean): V[] {
  const out: V[] = [];
  for (const v of vs) if (!out.some((u) => eq(u, v))) out.push(v);
  return out;
}

/** dvvset:update asks for a client clock: exactly one anonymous value and no dotted values. */
function clientValue<V>(c: Clock<V>, fn: string): V {
  if (c.anonymous.length !== 1 || c.entries.some((e) => e.values.length !== 0)) {
    throw new InvalidArgumentError(
      `${fn}: the client clock has ${c.anonymous.length} anonymous and ${size(c) - c.anonymous.length} dotted ` +
        'values; it must come from newClock or newWithContext (exactly one anonymous value, no dotted values)',
    );
  }
  return c.anonymous[0];
}

function checkReplicaId(id: ReplicaId): void {
  if (typeof id !== 'string' || id.length === 0) {
    throw new InvalidArgumentError(`replica id ${String(id)} is not allowed; a replica id is a non-empty string`);
  }
}

function checkCounter(id: ReplicaId, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError(`context counter for '${id}' is ${n}; counters are integers in 0..2^53-1`);
  }
}

/** A sorted copy of a version vector (dvvset sorts too: a serializer may not keep order); ids must be unique. */
function checkVector(vv: VersionVector): VersionVector {
  if (!Array.isArray(vv)) throw new InvalidArgumentError('a context is an array of [replicaId, counter] pairs');
  const sorted = vv.slice().sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  for (let i = 0; i < sorted.length; i++) {
    checkReplicaId(sorted[i][0]);
    checkCounter(sorted[i][0], sorted[i][1]);
    if (i > 0 && sorted[i - 1][0] === sorted[i][0]) {
      throw new InvalidArgumentError(`context names replica '${sorted[i][0]}' twice; each replica id appears once`);
    }
  }
  return sorted;
}

// --- the context codec ---
// Layout: '' is the empty context. Otherwise base64url (no padding) of the bytes
//   [version = 1] then per entry, in ascending id order: varint(id UTF-8 length) id-bytes varint(n)
// with unsigned LEB128 varints. Encoding is canonical (sorted ids, minimal varints, zero pad bits), so
// encodeContext(decodeContext(s)) === s for every s that decodes.

const CONTEXT_VERSION = 1;
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_INDEX = new Map<string, number>([...B64].map((ch, i) => [ch, i]));
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** A compact, opaque, URL-safe string for a context; the inverse of decodeContext. */
export function encodeContext(vv: VersionVector): string {
  const sorted = checkVector(vv);
  if (sorted.length === 0) return '';
  if (sorted.length > MAX_CONTEXT_ENTRIES) {
    throw new InvalidArgumentError(`context has ${sorted.length} entries; at most ${MAX_CONTEXT_ENTRIES} allowed`);
  }
  const bytes: number[] = [CONTEXT_VERSION];
  for (const [id, n] of sorted) {
    const idBytes = idToUtf8(id);
    if (idBytes === null || idBytes.length > MAX_REPLICA_ID_BYTES) {
      throw new InvalidArgumentError(
        `replica id '${id}' cannot go in a context; ids are well-formed strings of <= ${MAX_REPLICA_ID_BYTES} bytes`,
      );
    }
    pushVarint(bytes, idBytes.length);
    for (let i = 0; i < idBytes.length; i++) bytes.push(idBytes[i]);
    pushVarint(bytes, n);
  }
  return toBase64Url(bytes);
}

/** The version vector behind an encodeContext string; '' is the empty context. Throws on anything else. */
export function decodeContext(s: string): VersionVector {
  if (typeof s !== 'string') throw malformed('not a string');
  if (s === '') return [];
  const bytes = fromBase64Url(s);
  if (bytes[0] !== CONTEXT_VERSION) throw malformed(`unknown version ${bytes[0]}`);
  const out: VersionVector = [];
  const at = { pos: 1 };
  while (at.pos < bytes.length) {
    if (out.length === MAX_CONTEXT_ENTRIES) throw malformed(`more than ${MAX_CONTEXT_ENTRIES} entries`);
    const idLength = readVarint(bytes, at);
    if (idLength > MAX_REPLICA_ID_BYTES || at.pos + idLength > bytes.length) throw malformed('bad replica id length');
    const id = decodeId(bytes.subarray(at.pos, at.pos + idLength));
    at.pos += idLength;
    const n = readVarint(bytes, at);
    if (out.length > 0 && !(out[out.length - 1][0] < id)) throw malformed('replica ids not strictly ascending');
    out.push([id, n]);
  }
  if (out.length === 0) throw malformed('no entries');
  return out;
}

function malformed(why: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `malformed context (${why}); pass back exactly the context string a get returned, or '' for none`,
  );
}

/** UTF-8 bytes of an id, or null when it holds a lone surrogate (it would not come back the same). */
function idToUtf8(id: string): ArrayLike<number> | null {
  if (isAscii(id)) return Array.from(id, (ch) => ch.charCodeAt(0)); // the common case: ids like 'n3'
  const bytes = utf8Encoder.encode(id);
  return utf8Decoder.decode(bytes) === id ? bytes : null;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function decodeId(b: Uint8Array): string {
  if (b.length === 0) throw malformed('empty replica id');
  if (b.every((x) => x < 0x80)) return String.fromCharCode(...b);
  try {
    return utf8Decoder.decode(b);
  } catch {
    throw malformed('replica id is not UTF-8');
  }
}

function pushVarint(out: number[], n: number): void {
  let rest = n;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

/** Unsigned LEB128, minimal form only, at most 2^53 - 1 (8 bytes carry 56 bits). */
function readVarint(bytes: Uint8Array, at: { pos: number }): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    if (at.pos >= bytes.length) throw malformed('truncated number');
    const b = bytes[at.pos++];
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (b === 0 && i > 0) throw malformed('non-minimal number');
      if (!Number.isSafeInteger(value)) throw malformed('number too large');
      return value;
    }
    scale *= 0x80;
  }
  throw malformed('number too long');
}

function toBase64Url(bytes: number[]): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const chunk = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let k = 0; k < chars; k++) out += B64[(chunk >> (18 - 6 * k)) & 0x3f];
  }
  return out;
}

function fromBase64Url(s: string): Uint8Array {
  if (s.length % 4 === 1) throw malformed('bad length');
  const out = new Uint8Array(Math.floor((s.length * 6) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const ch of s) {
    const v = B64_INDEX.get(ch);
    if (v === undefined) throw malformed(`character '${ch}' outside the base64url alphabet`);
    acc = ((acc << 6) | v) & 0xffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) throw malformed('non-zero padding bits');
  return out;
}
