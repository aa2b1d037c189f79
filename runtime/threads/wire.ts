// Binary wire codec for the protocol's message batches: one transferable ArrayBuffer per batch.
//
// Why: posting an array of nested message objects makes postMessage structured-clone every object on the sending
// thread and rebuild it on the receiving one; on the client (main) thread that clone and the garbage it leaves were
// the largest cost of quorum throughput. A flat buffer is posted with `transfer: [buffer]` (no copy) and decoded
// in one pass that allocates only the messages themselves.
//
// Byte layout. varint = unsigned LEB128 of at most 8 bytes (value <= 2^53 - 1); zz = zigzag varint (a signed req);
// f64 = little-endian float64; str = len:varint + UTF-8; key = len:varint + one byte per char of the key id.
//
//   batch   := MAGIC:u8(0x57) count:varint message*count          (nothing may follow)
//   message := tag:u8 req:zz from:varint body
//     put           tag 1: key value flags{sloppy, context, budget} timeoutMs:f64 hintAfterMs:f64 need targets
//                          spares:targets [context] [budgetMs:f64]
//     put-reply     tag 2: flags{ok, error, primaryOnly} acked:(count:varint node:varint*) context [error]
//     replicate     tag 3: key flags{hintFor} [hintFor:varint] clock
//     replicate-ack tag 4: flags{ok, error} [error]
//     get           tag 5: key
//     get-reply     tag 6: key flags{clock, error} [clock] [error]
//     repair        tag 7: key clock
//     repair-ack    tag 8: flags{ok}
//     handoff       tag 9: count:varint (key clock)*
//     handoff-ack   tag 10: flags{ok}
//   value   := vtag:u8 (0 tombstone | 1 ASCII string | 2 UTF-8 string | 3 bytes) [len:varint len bytes]
//   clock   := size:varint, then `size` bytes in the format of actors/versioning/codec.ts
//   need    := level:u8 (k + 1: CONSISTENCY_LEVELS[k]; 0: level:str follows) total:varint flags{hintsCount}
//              perDc:(count:u8 (dc:u8 acks:varint)*)
//   targets := count:varint (node:varint dc:u8 flags{primary, hintFor} [hintFor:varint])*
//   context := count:varint (id:str n:varint)*
//   error   := code:u8 (index in ERROR_CODES) message:str details:str (JSON: errors are rare, details small)
// Datacenter names travel as their index in the `datacenters` given to the constructor (same list on both sides).
// Flag bits not listed are zero; the decoder rejects any other bit, tag or index.
//
// Use: one WireCodec per thread (it keeps one growable scratch buffer and is not re-entrant, which JavaScript's
// single thread guarantees); `port.postMessage(buf, [buf])` with `buf = codec.encode(batch)`, and `codec.decode(buf)`
// on the other side. Decoded messages deepEqual the encoded ones (optional fields absent stay absent; a Uint8Array
// value comes back as a fresh plain Uint8Array, even from a Buffer), except that lone surrogates in strings become
// U+FFFD (as with TextEncoder), WireError.details go through JSON (NaN, -0, undefined do not survive), and fields
// the protocol does not define are dropped.
// `tick` never crosses threads and is rejected. Malformed or truncated input throws InvalidArgumentError; every read
// is bounds-checked and every count is bounded by the bytes left, so garbage can neither loop nor allocate much.

import { Buffer } from 'node:buffer';
import v8 from 'node:v8';
import { InvalidArgumentError, InvalidConfigError, type ErrorCode, type WireError } from '../../actors/errors.js';
import { utf8Length } from '../../actors/hash.js';
import type {
  GetReply,
  GetRequest,
  Handoff,
  HandoffAck,
  Message,
  PutReply,
  PutRequest,
  RepairAck,
  RepairRequest,
  Replicate,
  ReplicateAck,
} from '../../actors/protocol.js';
import { CONSISTENCY_LEVELS, MAX_TARGETS, type Requirement } from '../../actors/quorum/index.js';
import type { Placement } from '../../actors/ring.js';
import type { Value } from '../../actors/types.js';
import { MAX_CONTEXT_ENTRIES, type VersionVector } from '../../actors/versioning/dvv.js';
import { decodeClock, encodeClockInto, encodedClockSize } from '../../actors/versioning/codec.js';
import type { StoredClock } from '../../actors/protocol.js';

/** Default and largest allowed limit on one encoded batch. */
export const DEFAULT_MAX_BATCH_BYTES = 64 * 1024 * 1024;
export const MAX_BATCH_BYTES_LIMIT = 1024 * 1024 * 1024;
const MIN_BATCH_BYTES_LIMIT = 1024;
/** Datacenter indices are one byte on the wire. */
export const MAX_DATACENTERS = 255;
/** Most hints one handoff message may carry (replicas send handoffBatch, 256 by default). */
export const MAX_HANDOFF_ENTRIES = 1 << 16;

export interface WireCodecOptions {
  /** encode throws (and decode refuses) batches larger than this; default DEFAULT_MAX_BATCH_BYTES */
  maxBatchBytes?: number;
}

const MAGIC = 0x57;
/** Most sibling values a put-reply carries (a key with more siblings than this is already pathological). */
const MAX_SIBLINGS = 65536;
const TAG_PUT = 1;
const TAG_PUT_REPLY = 2;
const TAG_REPLICATE = 3;
const TAG_REPLICATE_ACK = 4;
const TAG_GET = 5;
const TAG_GET_REPLY = 6;
const TAG_REPAIR = 7;
const TAG_REPAIR_ACK = 8;
const TAG_HANDOFF = 9;
const TAG_HANDOFF_ACK = 10;
/**
 * Anything else (the anti-entropy exchange's messages, rare and not on the per-operation path) travels as a v8
 * structured-clone serialization: varint length, then the bytes. New background message types need no codec work.
 */
const TAG_STRUCTURED = 11;

const V_TOMBSTONE = 0;
const V_ASCII = 1;
const V_UTF8 = 2;
const V_BYTES = 3;

// Flag bits, per message type (each byte's other bits must be zero).
const F_OK = 1;
const F_ERROR = 2;
const F_PRIMARY_ONLY = 4; // put-reply
const F_SIBLINGS = 8; // put-reply
const F_SLOPPY = 1; // put
const F_CONTEXT = 2; // put
const F_BUDGET = 4; // put
const F_HINT_FOR = 1; // replicate; placement (with F_PRIMARY = 2)
const F_PRIMARY = 2;
const F_CLOCK = 1; // get-reply (F_ERROR = 2)
const F_HINTS_COUNT = 1; // need

const VARINT_MAX_BYTES = 8;
const F64_BYTES = 8;
/** Smallest encoded message: tag, req, from. Bounds the message count read from untrusted bytes. */
const MIN_MESSAGE_BYTES = 3;
/** Slack for a message's fixed-size parts (tag, req, from, flags, f64s, short varints), checked once per part. */
const HEADER_SLACK_BYTES = 64;
/** Below this many chars/bytes strings are copied by hand: native calls cost ~50-100 ns whatever the size. */
const SHORT_STRING = 16;
const INITIAL_SCRATCH_BYTES = 64 * 1024;
/** After a batch grew the scratch past this, it is dropped so one huge batch does not pin memory forever. */
const KEEP_SCRATCH_BYTES = 1024 * 1024;

/** Every ErrorCode with its wire index; a Record so that a new ErrorCode fails to compile until it is added. */
const ERROR_CODE_INDEX: Record<ErrorCode, number> = {
  INVALID_CONFIG: 0,
  INVALID_ARGUMENT: 1,
  KEY_TOO_LARGE: 2,
  VALUE_TOO_LARGE: 3,
  QUORUM_UNREACHABLE: 4,
  TIMEOUT: 5,
  OVERLOADED: 6,
  STOPPED: 7,
  STORE_FULL: 8,
  INTERNAL: 9,
  WRONG_EPOCH: 10,
};
const ERROR_CODES: ErrorCode[] = [];
for (const code of Object.keys(ERROR_CODE_INDEX) as ErrorCode[]) ERROR_CODES[ERROR_CODE_INDEX[code]] = code;

const LEVEL_INDEX = new Map<string, number>(CONSISTENCY_LEVELS.map((level, k) => [level, k + 1]));

const textEncoder = new TextEncoder();
// fatal: invalid UTF-8 (garbage) is an error, not U+FFFD; ignoreBOM keeps a leading U+FEFF in the string.
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const EMPTY = new ArrayBuffer(0);
const EMPTY_U8: Uint8Array<ArrayBuffer> = new Uint8Array(EMPTY);
const EMPTY_VIEW: DataView<ArrayBuffer> = new DataView(EMPTY);
const EMPTY_BUF = Buffer.from(EMPTY);
/** shortScratch[n]: an n-element array reused to build short strings with String.fromCharCode.apply. */
const shortScratch: number[][] = [];
for (let n = 0; n < SHORT_STRING; n++) shortScratch.push(new Array<number>(n).fill(0));

function badMessage(what: string): never {
  throw new InvalidArgumentError(`cannot encode message: ${what}`);
}

export class WireCodec {
  private readonly dcNames: readonly string[];
  private readonly dcIndex = new Map<string, number>();
  private readonly maxBatchBytes: number;

  // Encoder: the scratch buffer (never longer than maxBatchBytes, so ensure() enforces the limit) and the position.
  private out: Uint8Array<ArrayBuffer> = EMPTY_U8;
  private outView: DataView<ArrayBuffer> = EMPTY_VIEW;
  private p = 0;

  // Decoder: the buffer being decoded (three views of it) and the cursor over [q, end).
  private in8 = EMPTY_U8;
  private inView = EMPTY_VIEW;
  private inBuf = EMPTY_BUF;
  private q = 0;
  private end = 0;

  constructor(datacenters: readonly string[], options: WireCodecOptions = {}) {
    if (!Array.isArray(datacenters) || datacenters.length < 1 || datacenters.length > MAX_DATACENTERS) {
      throw new InvalidConfigError(`datacenters must be an array of 1..${MAX_DATACENTERS} names`);
    }
    for (const dc of datacenters) {
      if (typeof dc !== 'string') throw new InvalidConfigError(`datacenter names must be strings; got ${typeof dc}`);
      if (this.dcIndex.has(dc)) throw new InvalidConfigError(`datacenter ${JSON.stringify(dc)} is listed twice`);
      this.dcIndex.set(dc, this.dcIndex.size);
    }
    this.dcNames = datacenters.slice();
    const max = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    if (!Number.isInteger(max) || max < MIN_BATCH_BYTES_LIMIT || max > MAX_BATCH_BYTES_LIMIT) {
      throw new InvalidConfigError(
        `maxBatchBytes is ${max}; must be an integer in ${MIN_BATCH_BYTES_LIMIT}..${MAX_BATCH_BYTES_LIMIT}`,
      );
    }
    this.maxBatchBytes = max;
    this.setScratch(new Uint8Array(Math.min(INITIAL_SCRATCH_BYTES, max)));
  }

  // -------------------------------------------------------------------------------------------------------------
  // Encoding

  /** The batch as a fresh ArrayBuffer (post it with `transfer: [buffer]`). Throws InvalidArgumentError. */
  encode(batch: readonly Message[]): ArrayBuffer {
    if (!Array.isArray(batch)) throw new InvalidArgumentError('encode: batch must be an array of messages');
    this.p = 0;
    try {
      this.ensure(1 + VARINT_MAX_BYTES);
      this.out[this.p++] = MAGIC;
      this.writeUint(batch.length, 'batch length');
      for (let i = 0; i < batch.length; i++) this.writeMessage(batch[i]);
      if (this.p > this.maxBatchBytes) throw new Error('unreachable: ensure() keeps batches within the limit');
      return this.out.buffer.slice(0, this.p);
    } finally {
      if (this.out.length > KEEP_SCRATCH_BYTES) this.setScratch(new Uint8Array(INITIAL_SCRATCH_BYTES));
    }
  }

  private setScratch(out: Uint8Array<ArrayBuffer>): void {
    this.out = out;
    this.outView = new DataView(out.buffer);
  }

  /** Makes room for n more bytes; the batch limit is checked here, against the sizes the writers ask for. */
  private ensure(n: number): void {
    const needed = this.p + n;
    if (needed <= this.out.length) return;
    if (needed > this.maxBatchBytes) {
      throw new InvalidArgumentError(
        `batch exceeds maxBatchBytes (${this.maxBatchBytes} bytes) while encoding; send smaller batches`,
        { maxBatchBytes: this.maxBatchBytes, encodedBytes: this.p },
      );
    }
    const grown = new Uint8Array(Math.min(this.maxBatchBytes, Math.max(needed, this.out.length * 2)));
    grown.set(this.out.subarray(0, this.p));
    this.setScratch(grown);
  }

  private writeMessage(m: Message): void {
    if (m === null || typeof m !== 'object') badMessage(`expected a message object, got ${m === null ? 'null' : typeof m}`);
    this.ensure(HEADER_SLACK_BYTES);
    switch (m.type) {
      case 'put':
        return this.writePut(m);
      case 'put-reply':
        return this.writePutReply(m);
      case 'replicate':
        this.writeHead(TAG_REPLICATE, m.req, m.from);
        this.writeKey(m.key);
        this.writeEpoch(m.epoch);
        this.writeFlagsHint(m.hintFor);
        return this.writeClock(m.clock);
      case 'replicate-ack':
        this.writeHead(TAG_REPLICATE_ACK, m.req, m.from);
        return this.writeOkError(m.ok, m.error);
      case 'get':
        this.writeHead(TAG_GET, m.req, m.from);
        this.writeKey(m.key);
        return this.writeEpoch(m.epoch);
      case 'get-reply':
        return this.writeGetReply(m);
      case 'repair':
        this.writeHead(TAG_REPAIR, m.req, m.from);
        this.writeKey(m.key);
        this.writeEpoch(m.epoch);
        return this.writeClock(m.clock);
      case 'repair-ack':
        this.writeHead(TAG_REPAIR_ACK, m.req, m.from);
        this.out[this.p++] = m.ok ? F_OK : 0;
        return;
      case 'handoff':
        return this.writeHandoff(m);
      case 'handoff-ack':
        this.writeHead(TAG_HANDOFF_ACK, m.req, m.from);
        this.out[this.p++] = m.ok ? F_OK : 0;
        return;
      case 'tick':
        return badMessage('tick messages never cross threads');
      default: {
        const type = (m as { type?: unknown }).type;
        if (typeof type !== 'string' || !type.startsWith('ae-')) badMessage(`unknown message type ${JSON.stringify(type)}`);
        return this.writeStructured(m);
      }
    }
  }

  private writeStructured(m: Message): void {
    const bytes = v8.serialize(m);
    this.out[this.p++] = TAG_STRUCTURED;
    this.writeUint(bytes.length, 'structured length');
    this.ensure(bytes.length);
    this.out.set(bytes, this.p);
    this.p += bytes.length;
  }

  private writeHead(tag: number, req: number, from: number): void {
    this.out[this.p++] = tag;
    if (!Number.isSafeInteger(req)) badMessage(`req is ${req}; must be an integer`);
    const zz = req >= 0 ? req * 2 : -req * 2 - 1;
    if (zz > Number.MAX_SAFE_INTEGER) badMessage(`req is ${req}; must be within -2^52..2^52-1`);
    this.writeUint(zz, 'req');
    this.writeUint(from, 'from');
  }

  private writePut(m: PutRequest): void {
    this.writeHead(TAG_PUT, m.req, m.from);
    this.writeKey(m.key);
    this.writeEpoch(m.epoch);
    this.writeValue(m.value);
    this.ensure(1 + 2 * F64_BYTES);
    const budget = m.budgetMs !== undefined ? F_BUDGET : 0;
    this.out[this.p++] = (m.sloppy ? F_SLOPPY : 0) | (m.context !== null ? F_CONTEXT : 0) | budget;
    this.writeF64(m.timeoutMs, 'timeoutMs');
    this.writeF64(m.hintAfterMs, 'hintAfterMs');
    this.writeNeed(m.need);
    this.writeTargets(m.targets, 'targets');
    this.writeTargets(m.spares, 'spares');
    if (m.context !== null) this.writeContext(m.context);
    if (m.budgetMs !== undefined) {
      this.ensure(F64_BYTES);
      this.writeF64(m.budgetMs, 'budgetMs');
    }
  }

  /** A request's ring epoch (actors/membership/epoch.ts); 0 stands for none given. */
  private writeEpoch(epoch: number | undefined): void {
    if (epoch !== undefined && (!Number.isSafeInteger(epoch) || epoch < 1)) badMessage(`epoch is ${epoch}; must be a positive integer`);
    this.writeUint(epoch ?? 0, 'epoch');
  }

  private writePutReply(m: PutReply): void {
    this.writeHead(TAG_PUT_REPLY, m.req, m.from);
    const hasError = m.error !== undefined;
    const siblings = m.siblings;
    this.out[this.p++] = (m.ok ? F_OK : 0) | (hasError ? F_ERROR : 0) | (m.primaryOnly ? F_PRIMARY_ONLY : 0) | (siblings !== undefined ? F_SIBLINGS : 0);
    const acked = m.acked;
    if (!Array.isArray(acked) || acked.length > MAX_TARGETS) badMessage(`acked must be an array of at most ${MAX_TARGETS} nodes`);
    this.ensure(VARINT_MAX_BYTES * (acked.length + 1));
    this.writeUint(acked.length, 'acked length');
    for (let i = 0; i < acked.length; i++) this.writeUint(acked[i], 'acked node');
    this.writeContext(m.context);
    if (hasError) this.writeError(m.error as WireError);
    if (siblings !== undefined) {
      if (!Array.isArray(siblings) || siblings.length > MAX_SIBLINGS) badMessage(`siblings must be an array of at most ${MAX_SIBLINGS} values`);
      this.ensure(VARINT_MAX_BYTES);
      this.writeUint(siblings.length, 'siblings length');
      for (let i = 0; i < siblings.length; i++) this.writeValue(siblings[i]);
    }
  }

  private writeHandoff(m: Handoff): void {
    this.writeHead(TAG_HANDOFF, m.req, m.from);
    const entries = m.entries;
    if (!Array.isArray(entries) || entries.length > MAX_HANDOFF_ENTRIES) {
      badMessage(`handoff entries must be an array of at most ${MAX_HANDOFF_ENTRIES} { key, clock }`);
    }
    this.writeUint(entries.length, 'handoff length');
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e === null || typeof e !== 'object') badMessage(`handoff entry ${i} must be { key, clock }`);
      this.writeKey(e.key);
      this.writeClock(e.clock);
    }
  }

  private writeGetReply(m: GetReply): void {
    this.writeHead(TAG_GET_REPLY, m.req, m.from);
    this.writeKey(m.key);
    this.ensure(1);
    const hasError = m.error !== undefined;
    this.out[this.p++] = (m.clock !== null ? F_CLOCK : 0) | (hasError ? F_ERROR : 0);
    if (m.clock !== null) this.writeClock(m.clock);
    if (hasError) this.writeError(m.error as WireError);
  }

  private writeOkError(ok: boolean, error: WireError | undefined): void {
    this.out[this.p++] = (ok ? F_OK : 0) | (error !== undefined ? F_ERROR : 0);
    if (error !== undefined) this.writeError(error);
  }

  private writeFlagsHint(hintFor: number | undefined): void {
    this.ensure(1 + VARINT_MAX_BYTES);
    if (hintFor === undefined) {
      this.out[this.p++] = 0;
      return;
    }
    this.out[this.p++] = F_HINT_FOR;
    this.writeUint(hintFor, 'hintFor');
  }

  /** Callers have ensured VARINT_MAX_BYTES of room. */
  private writeUint(v: number, what: string): void {
    if ((v >>> 0) !== v && !(Number.isSafeInteger(v) && v >= 0)) badMessage(`${what} is ${v}; must be an integer in 0..2^53-1`);
    const t = this.out;
    let p = this.p;
    while (v >= 0x80) {
      t[p++] = (v & 0x7f) | 0x80; // & keeps the low 32 bits (ToInt32), so the low 7 are right past 2^32 too
      v = v > 0x7fffffff ? Math.floor(v / 128) : v >>> 7;
    }
    t[p++] = v;
    this.p = p;
  }

  /** Callers have ensured F64_BYTES of room. */
  private writeF64(x: number, what: string): void {
    if (typeof x !== 'number') badMessage(`${what} must be a number; got ${typeof x}`);
    this.outView.setFloat64(this.p, x, true);
    this.p += F64_BYTES;
  }

  /** A key id: one byte per char, each 0..255. */
  private writeKey(key: string): void {
    if (typeof key !== 'string') badMessage(`key must be a key id string; got ${typeof key}`);
    const n = key.length;
    this.ensure(VARINT_MAX_BYTES + n);
    this.writeUint(n, 'key length');
    if (n >= SHORT_STRING && this.tryWriteAscii(key)) return;
    const t = this.out;
    let p = this.p;
    for (let i = 0; i < n; i++) {
      const c = key.charCodeAt(i);
      if (c > 0xff) badMessage(`key id has char ${c} at ${i}; key ids hold one byte (0..255) per char`);
      t[p++] = c;
    }
    this.p = p;
  }

  /** Writes `s` at p when it is all ASCII (native encodeInto) and returns true; else writes nothing useful. */
  private tryWriteAscii(s: string): boolean {
    const n = s.length;
    const r = textEncoder.encodeInto(s, this.out.subarray(this.p, this.p + n));
    if (r.read !== n || r.written !== n) return false;
    this.p += n;
    return true;
  }

  /** A length-prefixed UTF-8 string; returns whether it was all ASCII (the length is then s.length). */
  private writeStr(s: string): boolean {
    const n = s.length;
    this.ensure(VARINT_MAX_BYTES + n);
    const start = this.p;
    this.writeUint(n, 'string length');
    if (n >= SHORT_STRING) {
      if (this.tryWriteAscii(s)) return true;
    } else {
      const t = this.out;
      let p = this.p;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        t[p++] = c;
      }
      this.p = p;
      if (i === n) return true;
    }
    this.p = start;
    this.writeUtf8(s);
    return false;
  }

  private writeUtf8(s: string): void {
    const n = utf8Length(s); // lone surrogates count 3 bytes: TextEncoder writes them as U+FFFD
    this.ensure(VARINT_MAX_BYTES + n);
    this.writeUint(n, 'string length');
    const r = textEncoder.encodeInto(s, this.out.subarray(this.p, this.p + n));
    if (r.written !== n || r.read !== s.length) badMessage(`string encoded to ${r.written} bytes, expected ${n}`);
    this.p += n;
  }

  private writeValue(v: Value | null): void {
    this.ensure(1);
    const tagAt = this.p++;
    if (v === null) {
      this.out[tagAt] = V_TOMBSTONE;
    } else if (typeof v === 'string') {
      const ascii = this.writeStr(v);
      this.out[tagAt] = ascii ? V_ASCII : V_UTF8; // out may have grown: index it after the write
    } else if (v instanceof Uint8Array) {
      this.out[tagAt] = V_BYTES;
      this.ensure(VARINT_MAX_BYTES + v.length);
      this.writeUint(v.length, 'value length');
      this.out.set(v, this.p);
      this.p += v.length;
    } else {
      badMessage(`value must be a string, a Uint8Array or null; got ${typeof v}`);
    }
  }

  private writeClock(c: StoredClock): void {
    const size = encodedClockSize(c); // validates the clock
    this.ensure(VARINT_MAX_BYTES + size);
    this.writeUint(size, 'clock size');
    this.p += encodeClockInto(c, this.out, this.p, size);
  }

  private writeDc(dc: string): void {
    const k = this.dcIndex.get(dc);
    if (k === undefined) {
      const known = this.dcNames.length <= 8 ? JSON.stringify(this.dcNames) : `the ${this.dcNames.length} given`;
      badMessage(`datacenter ${JSON.stringify(dc)} is not one of this codec's datacenters (${known})`);
    }
    this.out[this.p++] = k;
  }

  private writeNeed(need: Requirement): void {
    if (need === null || typeof need !== 'object') badMessage('need must be a Requirement');
    const code = LEVEL_INDEX.get(need.level);
    this.ensure(HEADER_SLACK_BYTES);
    this.out[this.p++] = code ?? 0;
    if (code === undefined) {
      if (typeof need.level !== 'string') badMessage(`need.level must be a string; got ${typeof need.level}`);
      this.writeStr(need.level);
      this.ensure(HEADER_SLACK_BYTES);
    }
    this.writeUint(need.total, 'need.total');
    this.out[this.p++] = need.hintsCount ? F_HINTS_COUNT : 0;
    this.writePerDc(need.perDc);
  }

  /** perDc has at most one entry per datacenter: a u8 count, patched after the loop (for-in allocates nothing). */
  private writePerDc(perDc: Readonly<Record<string, number>>): void {
    if (perDc === null || typeof perDc !== 'object') badMessage('need.perDc must be a record of dc -> acks');
    const countAt = this.p++;
    let count = 0;
    for (const dc in perDc) {
      this.ensure(1 + VARINT_MAX_BYTES);
      this.writeDc(dc);
      this.writeUint(perDc[dc], 'need.perDc acks');
      count++;
    }
    this.out[countAt] = count; // at most dcNames.length <= 255: writeDc rejected anything else, and keys are unique
  }

  private writeTargets(targets: Placement[], what: string): void {
    if (!Array.isArray(targets) || targets.length > MAX_TARGETS) {
      badMessage(`${what} must be an array of at most ${MAX_TARGETS} placements`);
    }
    this.ensure(VARINT_MAX_BYTES + targets.length * (2 + 2 * VARINT_MAX_BYTES));
    this.writeUint(targets.length, 'targets length');
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i];
      if (t === null || typeof t !== 'object') badMessage(`${what}[${i}] must be a placement { node, dc, primary }`);
      this.writeUint(t.node, 'target node');
      this.writeDc(t.dc);
      const hasHint = t.hintFor !== undefined;
      this.out[this.p++] = (t.primary ? F_PRIMARY : 0) | (hasHint ? F_HINT_FOR : 0);
      if (hasHint) this.writeUint(t.hintFor as number, 'target hintFor');
    }
  }

  private writeContext(context: VersionVector): void {
    if (!Array.isArray(context) || context.length > MAX_CONTEXT_ENTRIES) {
      badMessage(`context must be null or an array of at most ${MAX_CONTEXT_ENTRIES} [replicaId, counter] pairs`);
    }
    this.ensure(VARINT_MAX_BYTES);
    this.writeUint(context.length, 'context length');
    for (let i = 0; i < context.length; i++) {
      const [id, n] = context[i];
      if (typeof id !== 'string') badMessage(`context entry ${i}: replica id must be a string`);
      this.writeStr(id);
      this.ensure(VARINT_MAX_BYTES);
      this.writeUint(n, 'context counter');
    }
  }

  private writeError(e: WireError): void {
    if (e === null || typeof e !== 'object') badMessage('error must be a WireError { code, message, details }');
    const code: number | undefined = Object.hasOwn(ERROR_CODE_INDEX, e.code) ? ERROR_CODE_INDEX[e.code] : undefined;
    if (code === undefined || typeof e.message !== 'string') badMessage(`error must be a WireError; got code ${String(e.code)}`);
    let details: string;
    try {
      details = JSON.stringify(e.details ?? {});
    } catch (err) {
      return badMessage(`error details are not JSON-serializable: ${(err as Error).message}`);
    }
    this.ensure(1);
    this.out[this.p++] = code;
    this.writeStr(e.message);
    this.writeStr(details);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Decoding

  /** The messages of a buffer made by encode. Throws InvalidArgumentError on anything else. */
  decode(buffer: ArrayBuffer): Message[] {
    if (!(buffer instanceof ArrayBuffer)) throw new InvalidArgumentError('decode: expected an ArrayBuffer');
    if (buffer.byteLength > this.maxBatchBytes) {
      throw new InvalidArgumentError(
        `decode: a ${buffer.byteLength}-byte batch exceeds maxBatchBytes (${this.maxBatchBytes} bytes)`,
      );
    }
    this.in8 = new Uint8Array(buffer);
    this.inView = new DataView(buffer);
    this.inBuf = Buffer.from(buffer);
    this.q = 0;
    this.end = buffer.byteLength;
    try {
      if (this.readByte() !== MAGIC) this.malformed(`expected magic byte 0x${MAGIC.toString(16)}`);
      const count = this.readCount(MIN_MESSAGE_BYTES);
      const out: Message[] = new Array(count);
      for (let i = 0; i < count; i++) out[i] = this.readMessage();
      if (this.q !== this.end) this.malformed(`${this.end - this.q} trailing bytes`);
      return out;
    } finally {
      // Drop the views: decoded strings and byte arrays are copies, so the buffer can be collected.
      this.in8 = EMPTY_U8;
      this.inView = EMPTY_VIEW;
      this.inBuf = EMPTY_BUF;
    }
  }

  private malformed(what: string): never {
    throw new InvalidArgumentError(`malformed wire batch: ${what} (at byte ${this.q} of ${this.end})`);
  }

  private readMessage(): Message {
    const tag = this.readByte();
    if (tag === TAG_STRUCTURED) return this.readStructured();
    if (tag < TAG_PUT || tag > TAG_HANDOFF_ACK) this.malformed(`unknown message tag ${tag}`);
    const req = this.readReq();
    const from = this.readUint();
    switch (tag) {
      case TAG_PUT:
        return this.readPut(req, from);
      case TAG_PUT_REPLY:
        return this.readPutReply(req, from);
      case TAG_REPLICATE:
        return this.readReplicate(req, from);
      case TAG_REPLICATE_ACK: {
        const flags = this.readFlags(F_OK | F_ERROR);
        const m: ReplicateAck = { type: 'replicate-ack', req, from, ok: (flags & F_OK) !== 0 };
        if ((flags & F_ERROR) !== 0) m.error = this.readError();
        return m;
      }
      case TAG_GET: {
        const m: GetRequest = { type: 'get', req, from, key: this.readKey() };
        this.readEpochInto(m);
        return m;
      }
      case TAG_GET_REPLY:
        return this.readGetReply(req, from);
      case TAG_REPAIR: {
        const key = this.readKey();
        const epoch = this.readUint();
        const m: RepairRequest = { type: 'repair', req, from, key, clock: this.readClock() };
        if (epoch > 0) m.epoch = epoch;
        return m;
      }
      case TAG_REPAIR_ACK: {
        const m: RepairAck = { type: 'repair-ack', req, from, ok: this.readFlags(F_OK) === F_OK };
        return m;
      }
      case TAG_HANDOFF:
        return this.readHandoff(req, from);
      case TAG_HANDOFF_ACK: {
        const m: HandoffAck = { type: 'handoff-ack', req, from, ok: this.readFlags(F_OK) === F_OK };
        return m;
      }
      default:
        return this.malformed(`unknown message tag ${tag}`);
    }
  }

  private readEpochInto(m: { epoch?: number }): void {
    const epoch = this.readUint();
    if (epoch > 0) m.epoch = epoch;
  }

  private readPut(req: number, from: number): PutRequest {
    const key = this.readKey();
    const epoch = this.readUint();
    const value = this.readValue();
    const flags = this.readFlags(F_SLOPPY | F_CONTEXT | F_BUDGET);
    const timeoutMs = this.readF64();
    const hintAfterMs = this.readF64();
    const need = this.readNeed();
    const targets = this.readTargets();
    const spares = this.readTargets();
    const context = (flags & F_CONTEXT) !== 0 ? this.readContext() : null;
    const sloppy = (flags & F_SLOPPY) !== 0;
    const m: PutRequest = { type: 'put', req, from, key, value, context, targets, spares, need, sloppy, timeoutMs, hintAfterMs };
    if ((flags & F_BUDGET) !== 0) m.budgetMs = this.readF64();
    if (epoch > 0) m.epoch = epoch;
    return m;
  }

  private readPutReply(req: number, from: number): PutReply {
    const flags = this.readFlags(F_OK | F_ERROR | F_PRIMARY_ONLY | F_SIBLINGS);
    const count = this.readCount(1);
    if (count > MAX_TARGETS) this.malformed(`${count} acked nodes; at most ${MAX_TARGETS}`);
    const acked: number[] = new Array(count);
    for (let i = 0; i < count; i++) acked[i] = this.readUint();
    const context = this.readContext();
    const ok = (flags & F_OK) !== 0;
    const m: PutReply = { type: 'put-reply', req, from, ok, acked, primaryOnly: (flags & F_PRIMARY_ONLY) !== 0, context };
    if ((flags & F_ERROR) !== 0) m.error = this.readError();
    if ((flags & F_SIBLINGS) !== 0) {
      const n = this.readCount(1);
      if (n > MAX_SIBLINGS) this.malformed(`${n} siblings; at most ${MAX_SIBLINGS}`);
      const siblings: Array<Value | null> = new Array(n);
      for (let i = 0; i < n; i++) siblings[i] = this.readValue();
      m.siblings = siblings;
    }
    return m;
  }

  private readReplicate(req: number, from: number): Replicate {
    const key = this.readKey();
    const epoch = this.readUint();
    const flags = this.readFlags(F_HINT_FOR);
    const hintFor = (flags & F_HINT_FOR) !== 0 ? this.readUint() : -1;
    const m: Replicate = { type: 'replicate', req, from, key, clock: this.readClock() };
    if (hintFor >= 0) m.hintFor = hintFor;
    if (epoch > 0) m.epoch = epoch;
    return m;
  }

  private readHandoff(req: number, from: number): Handoff {
    const count = this.readCount(2); // an empty key and a zero-size clock at least
    if (count > MAX_HANDOFF_ENTRIES) this.malformed(`${count} handoff entries; at most ${MAX_HANDOFF_ENTRIES}`);
    const entries: Handoff['entries'] = new Array(count);
    for (let i = 0; i < count; i++) {
      const key = this.readKey();
      entries[i] = { key, clock: this.readClock() };
    }
    return { type: 'handoff', req, from, entries };
  }

  private readGetReply(req: number, from: number): GetReply {
    const key = this.readKey();
    const flags = this.readFlags(F_CLOCK | F_ERROR);
    const clock = (flags & F_CLOCK) !== 0 ? this.readClock() : null;
    const m: GetReply = { type: 'get-reply', req, from, key, clock };
    if ((flags & F_ERROR) !== 0) m.error = this.readError();
    return m;
  }

  private readStructured(): Message {
    const n = this.readLength();
    const start = this.q;
    this.q += n;
    let m: unknown;
    try {
      m = v8.deserialize(this.in8.subarray(start, start + n));
    } catch (e) {
      this.malformed(`structured message does not deserialize: ${(e as Error).message}`);
    }
    const type = (m as { type?: unknown } | null)?.type;
    if (typeof type !== 'string' || !type.startsWith('ae-')) this.malformed(`structured message of type ${String(type)}`);
    return m as Message;
  }

  private readByte(): number {
    if (this.q >= this.end) this.malformed('runs past the end');
    return this.in8[this.q++];
  }

  /** A flags byte whose bits must all be within `allowed`. */
  private readFlags(allowed: number): number {
    const flags = this.readByte();
    if ((flags & ~allowed) !== 0) this.malformed(`flags 0x${flags.toString(16)} has bits outside 0x${allowed.toString(16)}`);
    return flags;
  }

  private readUint(): number {
    const t = this.in8;
    let b = this.readByte();
    if (b < 0x80) return b;
    let v = b & 0x7f;
    let mul = 0x80;
    for (let i = 1; i < VARINT_MAX_BYTES; i++) {
      if (this.q >= this.end) this.malformed('varint runs past the end');
      b = t[this.q++];
      v += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (v > Number.MAX_SAFE_INTEGER) this.malformed('varint exceeds 2^53 - 1');
        return v;
      }
      mul *= 0x80;
    }
    return this.malformed(`varint longer than ${VARINT_MAX_BYTES} bytes`);
  }

  private readReq(): number {
    const zz = this.readUint();
    return zz % 2 === 0 ? zz / 2 : -(zz + 1) / 2;
  }

  /** A count of items each at least `minBytes` long: bounded by what is left, so garbage cannot allocate much. */
  private readCount(minBytes: number): number {
    const n = this.readUint();
    if (n * minBytes > this.end - this.q) this.malformed(`count ${n} cannot fit in the ${this.end - this.q} bytes left`);
    return n;
  }

  private readLength(): number {
    const n = this.readUint();
    if (n > this.end - this.q) this.malformed(`length ${n} runs past the end`);
    return n;
  }

  private readF64(): number {
    if (this.q + F64_BYTES > this.end) this.malformed('float64 runs past the end');
    const x = this.inView.getFloat64(this.q, true);
    this.q += F64_BYTES;
    return x;
  }

  /** n bytes at q as one char per byte (the caller checked n). Short runs by hand, long ones natively. */
  private readLatin1(n: number): string {
    const start = this.q;
    this.q += n;
    if (n >= SHORT_STRING) return this.inBuf.toString('latin1', start, start + n);
    const a = shortScratch[n];
    const t = this.in8;
    for (let i = 0; i < n; i++) a[i] = t[start + i];
    return String.fromCharCode.apply(null, a);
  }

  private readKey(): string {
    return this.readLatin1(this.readLength());
  }

  /** A str of unknown content: ASCII by hand when short, else validated UTF-8. */
  private readStr(): string {
    const n = this.readLength();
    if (n < SHORT_STRING) {
      const t = this.in8;
      let or = 0;
      for (let i = 0; i < n; i++) or |= t[this.q + i];
      if (or < 0x80) return this.readLatin1(n);
    }
    return this.readUtf8(n);
  }

  private readUtf8(n: number): string {
    const start = this.q;
    try {
      const s = textDecoder.decode(this.in8.subarray(start, start + n));
      this.q += n;
      return s;
    } catch {
      return this.malformed('string is not valid UTF-8');
    }
  }

  private readValue(): Value | null {
    const tag = this.readByte();
    switch (tag) {
      case V_TOMBSTONE:
        return null;
      case V_ASCII: {
        // Decoded as Latin-1 without re-checking: bounds hold either way, and the encoder wrote only ASCII here.
        return this.readLatin1(this.readLength());
      }
      case V_UTF8:
        return this.readUtf8(this.readLength());
      case V_BYTES: {
        const n = this.readLength();
        const start = this.q;
        this.q += n;
        return this.in8.slice(start, start + n); // a copy: the caller may keep it
      }
      default:
        return this.malformed(`unknown value tag ${tag}`);
    }
  }

  private readClock(): StoredClock {
    const size = this.readLength();
    const start = this.q;
    this.q += size;
    return decodeClock(this.in8, start, size); // throws InvalidArgumentError on malformed clock bytes
  }

  private readDc(): string {
    const k = this.readByte();
    if (k >= this.dcNames.length) this.malformed(`datacenter index ${k}; this codec knows ${this.dcNames.length}`);
    return this.dcNames[k];
  }

  private readNeed(): Requirement {
    const code = this.readByte();
    if (code > CONSISTENCY_LEVELS.length) this.malformed(`unknown level code ${code}`);
    const level = code === 0 ? this.readStr() : CONSISTENCY_LEVELS[code - 1];
    const total = this.readUint();
    const hintsCount = this.readFlags(F_HINTS_COUNT) !== 0;
    const count = this.readByte();
    if (count > this.dcNames.length) this.malformed(`perDc has ${count} entries; there are ${this.dcNames.length} datacenters`);
    const perDc: Record<string, number> = {};
    for (let i = 0; i < count; i++) {
      const dc = this.readDc();
      if (Object.hasOwn(perDc, dc)) this.malformed(`perDc names datacenter ${JSON.stringify(dc)} twice`);
      perDc[dc] = this.readUint();
    }
    return { level, total, perDc, hintsCount };
  }

  private readTargets(): Placement[] {
    const count = this.readCount(3);
    if (count > MAX_TARGETS) this.malformed(`${count} targets; at most ${MAX_TARGETS}`);
    const targets: Placement[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const node = this.readUint();
      const dc = this.readDc();
      const flags = this.readFlags(F_PRIMARY | F_HINT_FOR);
      const t: Placement = { node, dc, primary: (flags & F_PRIMARY) !== 0 };
      if ((flags & F_HINT_FOR) !== 0) t.hintFor = this.readUint();
      targets[i] = t;
    }
    return targets;
  }

  private readContext(): VersionVector {
    const count = this.readCount(2);
    if (count > MAX_CONTEXT_ENTRIES) this.malformed(`${count} context entries; at most ${MAX_CONTEXT_ENTRIES}`);
    const context: VersionVector = new Array(count);
    for (let i = 0; i < count; i++) {
      const id = this.readStr();
      context[i] = [id, this.readUint()];
    }
    return context;
  }

  private readError(): WireError {
    const k = this.readByte();
    if (k >= ERROR_CODES.length) this.malformed(`unknown error code index ${k}`);
    const message = this.readStr();
    const text = this.readStr();
    let details: unknown;
    try {
      details = JSON.parse(text);
    } catch {
      return this.malformed('error details are not JSON');
    }
    if (details === null || typeof details !== 'object' || Array.isArray(details)) {
      this.malformed('error details must be a JSON object');
    }
    return { code: ERROR_CODES[k], message, details: details as Record<string, unknown> };
  }
}
