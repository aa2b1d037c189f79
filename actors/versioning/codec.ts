// Binary codec for what a replica stores per key: a Clock<Stamped> (a DVVSet of stamped values).
//
// Byte layout (all integers are unsigned LEB128 varints of at most 8 bytes, value <= 2^53 - 1):
//
//   clock   := FORMAT:u8(0xD1)
//              E:varint  header*E            one header per entry, in the clock's order
//              A:varint                      number of anonymous values
//              stamped*(sum of counts + A)   every entry's values in entry order, then the anonymous ones
//   header  := str(id)  n:varint  count:varint
//   stamped := tag:u8  ts:f64(little-endian)  by  payload
//              tag 0 = tombstone (no payload), 1 = string (payload is UTF-8), 2 = bytes (payload is raw)
//   by      := ref:varint  [str(by) when ref = 0]
//              ref k >= 1 means "the same replica id as header k - 1": a value's `by` is nearly always the id of
//              one of the clock's entries, so it costs one byte and decodes to an existing string, no allocation.
//   payload := len:varint  len bytes
//   str     := len:varint  len bytes of UTF-8
//
// Headers come before values so that a `by` reference can point at any entry, and so that decodeValues can skip
// headers and walk the values in one loop without decoding ids, timestamps or replica ids.
//
// Use: encodedClockSize(c) gives the exact size; encodeClockInto(c, target, offset) writes it (the store writes
// straight into its arena); decodeClock(bytes, offset, length) rebuilds the clock, decodeValues only the values.
// Values come back as the type they were written in; a decoded Uint8Array is always a fresh copy, never a view (the
// source may be shared memory that is later reused). Strings round-trip exactly except lone surrogates, which
// become U+FFFD as with TextEncoder. Malformed input throws InvalidArgumentError and never reads past `length`.
//
// The decoder keeps its cursor in module variables (not an object) so that decoding allocates only its result; it
// is synchronous and not re-entrant, which JavaScript guarantees.

import { InvalidArgumentError } from '../errors.js';
import type { Stamped, Value } from '../types.js';
import type { Clock, Entry } from './dvv.js';

const FORMAT_V1 = 0xd1;
const TAG_TOMBSTONE = 0;
const TAG_STRING = 1;
const TAG_BYTES = 2;
const TS_BYTES = 8;
/** Smallest encoded stamped: tag, ts, a one-byte `by` ref. Bounds counts read from untrusted bytes. */
const MIN_STAMPED_BYTES = 1 + TS_BYTES + 1;
/** Smallest encoded header: empty id, n, count. */
const MIN_HEADER_BYTES = 3;
const VARINT_MAX_BYTES = 8;
/** `by` references are searched among this many entries: clocks name replicas only, so a few entries at most. */
const REF_SEARCH_MAX = 16;
/** Below this many bytes, ASCII is decoded by hand: TextDecoder costs about 100 ns per call whatever the size. */
const SHORT_STRING_BYTES = 24;
/** From this many chars, strings are encoded with TextEncoder.encodeInto (native, but a fixed cost per call). */
const LONG_STRING_CHARS = 24;
/** From this many chars, utf8Size first tries ASCII_ONLY. */
const REGEX_ASCII_MIN_CHARS = 32;
const ASCII_ONLY = /^[\x00-\x7f]*$/;

const textEncoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF in the value; fatal turns invalid UTF-8 (garbage) into an error.
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** shortScratch[n] is an n-element array reused to build short ASCII strings with String.fromCharCode.apply. */
const shortScratch: number[][] = [];
for (let n = 0; n < SHORT_STRING_BYTES; n++) shortScratch.push(new Array<number>(n).fill(0));

// ---------------------------------------------------------------------------------------------------------------
// Sizes

function varintSize(v: number): number {
  let size = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    size++;
  }
  return size;
}

/** UTF-8 length of a string; lone surrogates count 3 bytes (they encode as U+FFFD). */
function utf8Size(s: string): number {
  // V8's regex engine scans long ASCII about twice as fast as a charCodeAt loop; short strings are not worth a call
  if (s.length >= REGEX_ASCII_MIN_CHARS && ASCII_ONLY.test(s)) return s.length;
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && isLowSurrogate(s.charCodeAt(i + 1))) {
      n += 2; // two chars, four bytes
      i++;
    } else n += 2;
  }
  return n;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

function strSize(s: string): number {
  const len = utf8Size(s);
  return varintSize(len) + len;
}

/** The `by` reference: k + 1 when entries[k].id === by (k < REF_SEARCH_MAX), else 0 (literal). */
function byRef(by: string, entries: Entry<Stamped>[], own: number): number {
  if (own >= 0 && own < REF_SEARCH_MAX && entries[own].id === by) return own + 1;
  const limit = Math.min(entries.length, REF_SEARCH_MAX);
  for (let k = 0; k < limit; k++) if (entries[k].id === by) return k + 1;
  return 0;
}

function stampedSize(s: Stamped, entries: Entry<Stamped>[], own: number): number {
  checkStamped(s);
  const ref = byRef(s.by, entries, own);
  let size = 1 + TS_BYTES + varintSize(ref) + (ref === 0 ? strSize(s.by) : 0);
  const v = s.v;
  if (v === null) return size;
  const len = typeof v === 'string' ? utf8Size(v) : v.length;
  return size + varintSize(len) + len;
}

/** Exact number of bytes encodeClockInto writes for `c`. Validates the clock's shape. */
export function encodedClockSize(c: Clock<Stamped>): number {
  checkClock(c);
  const entries = c.entries;
  let size = 1 + varintSize(entries.length) + varintSize(c.anonymous.length);
  for (let k = 0; k < entries.length; k++) {
    const e = entries[k];
    checkEntry(e, k);
    size += strSize(e.id) + varintSize(e.n) + varintSize(e.values.length);
    for (let i = 0; i < e.values.length; i++) size += stampedSize(e.values[i], entries, k);
  }
  for (let i = 0; i < c.anonymous.length; i++) size += stampedSize(c.anonymous[i], entries, -1);
  return size;
}

function checkClock(c: Clock<Stamped>): void {
  if (c === null || typeof c !== 'object' || !Array.isArray(c.entries) || !Array.isArray(c.anonymous)) {
    throw new InvalidArgumentError('clock must be { entries: Entry[], anonymous: Stamped[] }');
  }
}

function checkEntry(e: Entry<Stamped>, k: number): void {
  if (e === null || typeof e !== 'object' || typeof e.id !== 'string' || !Array.isArray(e.values)) {
    throw new InvalidArgumentError(`clock entry ${k} must be { id: string, n: number, values: Stamped[] }`);
  }
  if (!Number.isSafeInteger(e.n) || e.n < 0) {
    throw new InvalidArgumentError(`clock entry ${k} (id ${JSON.stringify(e.id)}): n is ${e.n}; must be an integer in 0..2^53-1`);
  }
}

function checkStamped(s: Stamped): void {
  if (s === null || typeof s !== 'object' || typeof s.ts !== 'number' || typeof s.by !== 'string') {
    throw new InvalidArgumentError('stamped value must be { v: string | Uint8Array | null, ts: number, by: string }');
  }
  const v = s.v;
  if (v !== null && typeof v !== 'string' && !(v instanceof Uint8Array)) {
    throw new InvalidArgumentError(`stamped value v must be a string, a Uint8Array or null; got ${typeof v}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding

function writeVarint(t: Uint8Array, p: number, v: number): number {
  while (v >= 0x80) {
    t[p++] = (v & 0x7f) | 0x80; // & works past 2^32: ToInt32 keeps the low 32 bits, so the low 7 are right
    v = v > 0x7fffffff ? Math.floor(v / 128) : v >>> 7;
  }
  t[p++] = v;
  return p;
}

function writeF64(t: Uint8Array, p: number, x: number): number {
  f64[0] = x;
  if (littleEndian) for (let i = 0; i < TS_BYTES; i++) t[p + i] = f64Bytes[i];
  else for (let i = 0; i < TS_BYTES; i++) t[p + i] = f64Bytes[TS_BYTES - 1 - i];
  return p + TS_BYTES;
}

/** Writes the UTF-8 of `s` at p, never past `limit`; returns the end. */
function writeUtf8(t: Uint8Array, p: number, s: string, limit: number): number {
  if (s.length >= LONG_STRING_CHARS) {
    const { read, written } = textEncoder.encodeInto(s, t.subarray(p, limit));
    if (read !== s.length) throw new InvalidArgumentError('clock changed while it was encoded (a string grew)');
    return p + written;
  }
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      t[p++] = c;
    } else if (c < 0x800) {
      t[p++] = 0xc0 | (c >> 6);
      t[p++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && isLowSurrogate(s.charCodeAt(i + 1))) {
      c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      t[p++] = 0xf0 | (c >> 18);
      t[p++] = 0x80 | ((c >> 12) & 0x3f);
      t[p++] = 0x80 | ((c >> 6) & 0x3f);
      t[p++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate, as TextEncoder does
      t[p++] = 0xe0 | (c >> 12);
      t[p++] = 0x80 | ((c >> 6) & 0x3f);
      t[p++] = 0x80 | (c & 0x3f);
    }
  }
  return p;
}

/**
 * Writes varint(UTF-8 length) and the UTF-8 of `s` in one pass over `s`: the bytes go where they would if `s` were
 * ASCII, and in the rare case that the real length needs a longer varint, they are moved up by the difference.
 * `limit` is the end of the whole clock, which the exact size computed beforehand guarantees is enough.
 */
function writeStr(t: Uint8Array, p: number, s: string, limit: number): number {
  const guess = varintSize(s.length);
  const start = p + guess;
  const end = writeUtf8(t, start, s, limit);
  const len = end - start;
  const shift = varintSize(len) - guess;
  if (shift !== 0) t.copyWithin(start + shift, start, end);
  writeVarint(t, p, len);
  return end + shift;
}

function writeStamped(t: Uint8Array, p: number, s: Stamped, entries: Entry<Stamped>[], own: number, limit: number): number {
  const v = s.v;
  t[p++] = v === null ? TAG_TOMBSTONE : typeof v === 'string' ? TAG_STRING : TAG_BYTES;
  p = writeF64(t, p, s.ts);
  const ref = byRef(s.by, entries, own);
  p = writeVarint(t, p, ref);
  if (ref === 0) p = writeStr(t, p, s.by, limit);
  if (v === null) return p;
  if (typeof v === 'string') return writeStr(t, p, v, limit);
  p = writeVarint(t, p, v.length);
  t.set(v, p);
  return p + v.length;
}

/**
 * Writes `c` into `target` at `offset`; returns the number of bytes written. Throws InvalidArgumentError (and
 * writes nothing) when the clock is malformed or `target` has fewer than encodedClockSize(c) bytes from `offset`.
 * `knownSizeBytes`, when given, must be encodedClockSize(c) (the store has just computed it): it skips a pass.
 */
export function encodeClockInto(c: Clock<Stamped>, target: Uint8Array, offset: number, knownSizeBytes?: number): number {
  const size = knownSizeBytes ?? encodedClockSize(c);
  if (!Number.isInteger(offset) || offset < 0 || offset + size > target.length) {
    throw new InvalidArgumentError(
      `cannot encode a ${size}-byte clock at offset ${offset} of a ${target.length}-byte target`,
    );
  }
  const entries = c.entries;
  const limit = offset + size;
  let p = offset;
  target[p++] = FORMAT_V1;
  p = writeVarint(target, p, entries.length);
  for (let k = 0; k < entries.length; k++) {
    const e = entries[k];
    p = writeStr(target, p, e.id, limit);
    p = writeVarint(target, p, e.n);
    p = writeVarint(target, p, e.values.length);
  }
  p = writeVarint(target, p, c.anonymous.length);
  for (let k = 0; k < entries.length; k++) {
    const values = entries[k].values;
    for (let i = 0; i < values.length; i++) p = writeStamped(target, p, values[i], entries, k, limit);
  }
  for (let i = 0; i < c.anonymous.length; i++) p = writeStamped(target, p, c.anonymous[i], entries, -1, limit);
  if (p - offset !== size) throw new InvalidArgumentError(`clock encoded to ${p - offset} bytes, expected ${size}`);
  return size;
}

/** The clock as a fresh byte array. */
export function encodeClock(c: Clock<Stamped>): Uint8Array {
  const size = encodedClockSize(c);
  const out = new Uint8Array(size);
  encodeClockInto(c, out, 0, size);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding: a cursor over bytes[pos, end) in module variables.

let buf: Uint8Array = new Uint8Array(0);
let pos = 0;
let end = 0;
let base = 0;

function malformed(what: string): never {
  throw new InvalidArgumentError(
    `malformed clock bytes: ${what} (at byte ${pos - base} of ${end - base})`,
  );
}

function begin(bytes: Uint8Array, offset: number, length: number | undefined): void {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError('clock bytes must be a Uint8Array');
  const len = length ?? bytes.length - offset;
  if (!Number.isInteger(offset) || !Number.isInteger(len) || offset < 0 || len < 0 || offset + len > bytes.length) {
    throw new InvalidArgumentError(
      `clock bytes range [${offset}, ${offset}+${len}) is outside the ${bytes.length}-byte array`,
    );
  }
  buf = bytes;
  pos = offset;
  base = offset;
  end = offset + len;
  if (len === 0 || buf[pos] !== FORMAT_V1) malformed(`expected format byte 0x${FORMAT_V1.toString(16)}`);
  pos++;
}

function readVarint(): number {
  if (pos >= end) malformed('varint runs past the end');
  let b = buf[pos++];
  if (b < 0x80) return b;
  let v = b & 0x7f;
  let mul = 0x80;
  for (let i = 1; i < VARINT_MAX_BYTES; i++) {
    if (pos >= end) malformed('varint runs past the end');
    b = buf[pos++];
    v += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (v > Number.MAX_SAFE_INTEGER) malformed('varint exceeds 2^53 - 1');
      return v;
    }
    mul *= 0x80;
  }
  return malformed(`varint longer than ${VARINT_MAX_BYTES} bytes`);
}

/** A count of items each at least `minBytes` long: bounded by what is left, so garbage cannot allocate much. */
function readCount(minBytes: number): number {
  const n = readVarint();
  if (n * minBytes > end - pos) malformed(`count ${n} cannot fit in the ${end - pos} bytes left`);
  return n;
}

function readLength(): number {
  const n = readVarint();
  if (n > end - pos) malformed(`length ${n} runs past the end`);
  return n;
}

function readF64(): number {
  if (pos + TS_BYTES > end) malformed('timestamp runs past the end');
  if (littleEndian) for (let i = 0; i < TS_BYTES; i++) f64Bytes[i] = buf[pos + i];
  else for (let i = 0; i < TS_BYTES; i++) f64Bytes[TS_BYTES - 1 - i] = buf[pos + i];
  pos += TS_BYTES;
  return f64[0];
}

function readStr(): string {
  const len = readLength();
  const start = pos;
  pos += len;
  if (len < SHORT_STRING_BYTES) {
    const a = shortScratch[len];
    let or = 0;
    for (let i = 0; i < len; i++) {
      const c = buf[start + i];
      or |= c;
      a[i] = c;
    }
    if (or < 0x80) return String.fromCharCode.apply(null, a);
  }
  try {
    return textDecoder.decode(buf.subarray(start, start + len));
  } catch {
    pos = start;
    return malformed('string is not valid UTF-8');
  }
}

function readBytes(): Uint8Array {
  const len = readLength();
  const start = pos;
  pos += len;
  return buf.slice(start, start + len); // a copy: never a view into (shared) source memory
}

function readValue(tag: number): Value | null {
  if (tag === TAG_STRING) return readStr();
  if (tag === TAG_BYTES) return readBytes();
  if (tag === TAG_TOMBSTONE) return null;
  return malformed(`unknown value tag ${tag}`);
}

function readStamped(entries: Entry<Stamped>[]): Stamped {
  if (pos >= end) malformed('value runs past the end');
  const tag = buf[pos++];
  const ts = readF64();
  const ref = readVarint();
  if (ref > entries.length) malformed(`replica reference ${ref} but the clock has ${entries.length} entries`);
  const by = ref === 0 ? readStr() : entries[ref - 1].id;
  return { v: readValue(tag), ts, by };
}

let counts = new Uint32Array(16);

/** Per-entry value counts while decoding (headers come before values); reused, grown on demand. */
function countScratch(entryCount: number): Uint32Array {
  if (counts.length < entryCount) counts = new Uint32Array(Math.max(entryCount, counts.length * 2));
  return counts;
}

function finish(): void {
  if (pos !== end) malformed(`${end - pos} trailing bytes`);
}

/** Decodes a clock from bytes[offset, offset + length) (length defaults to the rest of the array). */
export function decodeClock(bytes: Uint8Array, offset = 0, length?: number): Clock<Stamped> {
  begin(bytes, offset, length);
  const entryCount = readCount(MIN_HEADER_BYTES);
  const entries: Entry<Stamped>[] = [];
  const counts = countScratch(entryCount);
  for (let k = 0; k < entryCount; k++) {
    const id = readStr();
    const n = readVarint();
    counts[k] = readCount(MIN_STAMPED_BYTES);
    entries.push({ id, n, values: [] });
  }
  const anonymousCount = readCount(MIN_STAMPED_BYTES);
  for (let k = 0; k < entryCount; k++) {
    const values = entries[k].values;
    for (let i = 0, count = counts[k]; i < count; i++) values.push(readStamped(entries));
  }
  const anonymous: Stamped[] = [];
  for (let i = 0; i < anonymousCount; i++) anonymous.push(readStamped(entries));
  finish();
  return { entries, anonymous };
}

/**
 * Only the values of a clock, in encoding order (entries' values, newest first per entry, then anonymous), null
 * for a tombstone. Skips ids, timestamps and replica ids without decoding them.
 */
export function decodeValues(bytes: Uint8Array, offset: number, length: number): Array<Value | null> {
  begin(bytes, offset, length);
  const entryCount = readCount(MIN_HEADER_BYTES);
  let total = 0;
  for (let k = 0; k < entryCount; k++) {
    const idLength = readLength(); // not `pos += readLength()`: that reads pos before readLength moves it
    pos += idLength;
    readVarint(); // n
    total += readCount(MIN_STAMPED_BYTES);
  }
  total += readCount(MIN_STAMPED_BYTES);
  if (total * MIN_STAMPED_BYTES > end - pos) malformed(`${total} values cannot fit in the ${end - pos} bytes left`);
  const out: Array<Value | null> = new Array(total);
  for (let i = 0; i < total; i++) {
    if (pos + 1 + TS_BYTES > end) malformed('value runs past the end');
    const tag = buf[pos];
    pos += 1 + TS_BYTES;
    const ref = readVarint();
    if (ref > entryCount) malformed(`replica reference ${ref} but the clock has ${entryCount} entries`);
    if (ref === 0) {
      const byLength = readLength();
      pos += byLength;
    }
    out[i] = readValue(tag);
  }
  finish();
  return out;
}
