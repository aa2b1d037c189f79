// The binary wire codec (runtime/wire.ts): every message type round-trips to a deepEqual copy (optional fields stay
// absent, value types are kept, bytes come back as fresh copies), arbitrary batches round-trip (property), limits
// and bad messages are refused with InvalidArgumentError / InvalidConfigError, and garbage or truncated buffers
// throw InvalidArgumentError and nothing else.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fcParams } from './helpers/fc.js';
import { InvalidArgumentError, InvalidConfigError, type WireError } from '../actors/errors.js';
import type { Message, PutRequest, StoredClock } from '../actors/protocol.js';
import { CONSISTENCY_LEVELS, type Requirement } from '../actors/quorum/index.js';
import type { Placement } from '../actors/ring.js';
import type { Stamped } from '../actors/types.js';
import type { VersionVector } from '../actors/versioning/dvv.js';
import { WireCodec } from '../runtime/threads/wire.js';

const DCS = ['dc1', 'eu-west', 'ap-✓'];
const codec = new WireCodec(DCS);

function roundTrip(batch: Message[], c: WireCodec = codec): Message[] {
  const buf = c.encode(batch);
  assert.ok(buf instanceof ArrayBuffer);
  return c.decode(buf);
}

const quorum: Requirement = { level: 'QUORUM', total: 2, perDc: {}, hintsCount: false };
const targets3: Placement[] = [
  { node: 0, dc: 'dc1', primary: true },
  { node: 1, dc: 'dc1', primary: true },
  { node: 2, dc: 'eu-west', primary: true },
];
const spares2: Placement[] = [
  { node: 3, dc: 'dc1', primary: false, hintFor: 0 },
  { node: 4, dc: 'eu-west', primary: false, hintFor: 2 },
];
const ctx3: VersionVector = [
  ['n0', 3],
  ['n1', 12],
  ['n2', 2 ** 40],
];
const stamped = (v: Stamped['v'], by = 'n0', ts = 1_700_000_000_123.5): Stamped => ({ v, ts, by });
const clock1: StoredClock = { entries: [{ id: 'n0', n: 4, values: [stamped('v4')] }], anonymous: [] };
const clockMixed: StoredClock = {
  entries: [
    { id: 'n0', n: 7, values: [stamped('héllo ✓ 😀'), stamped(new Uint8Array([0, 255, 7]))] },
    { id: 'n1', n: 2, values: [stamped(null, 'n1')] },
    { id: 'n2', n: 1, values: [] },
  ],
  anonymous: [stamped('blind', 'other-replica', -0)],
};
const anError: WireError = {
  code: 'QUORUM_UNREACHABLE',
  message: 'needed 2 acks, got 1 — n2 down',
  details: { needed: 2, acked: [0], dc: 'eu-west' },
};

function put(overrides: Partial<PutRequest>): PutRequest {
  return {
    type: 'put',
    req: 17,
    from: 65536,
    key: 'user:42',
    value: 'v'.repeat(100),
    context: ctx3,
    targets: targets3,
    spares: spares2,
    need: quorum,
    sloppy: true,
    timeoutMs: 1500,
    hintAfterMs: 500,
    ...overrides,
  };
}

// One row per shape worth keeping apart: each message type, with and without its optional fields.
const TABLE: Array<[string, Message]> = [
  ['put: typical (3 targets, 100-byte ASCII value, 3-entry context)', put({})],
  ['put: blind (null context), not sloppy (no spares)', put({ context: null, sloppy: false, spares: [] })],
  ['put: empty context', put({ context: [] })],
  ['put: with the sender\'s ring epoch', put({ epoch: 12 })],
  ['put: a failover\'s budget (what is left of the caller\'s timeoutMs)', put({ budgetMs: 280.5 })],
  ['put: unicode value, fractional times', put({ value: 'naïve ✓ 日本 😀', timeoutMs: 0.25, hintAfterMs: 12.5 })],
  ['put: long unicode value (native encoder path)', put({ value: 'é'.repeat(300) + '😀'.repeat(50) })],
  ['put: bytes value', put({ value: new Uint8Array([0, 1, 2, 254, 255]) })],
  ['put: empty bytes and empty string', put({ value: new Uint8Array(0), key: '' })],
  ['put: empty string value', put({ value: '' })],
  ['put: tombstone', put({ value: null })],
  ['put: key id with bytes 0..255', put({ key: '\u0000\u007f\u0080\u00ff' })],
  ['put: long binary key id', put({ key: 'k'.repeat(40) + '\u00e9\u00ff'.repeat(20) })],
  ['put: long ASCII key id', put({ key: 'user:'.repeat(20) })],
  [
    'put: hinted fallback targets, several datacenters, LOCAL_QUORUM',
    put({
      targets: [
        { node: 0, dc: 'dc1', primary: true },
        { node: 300, dc: 'ap-✓', primary: false, hintFor: 2 },
        { node: 4, dc: 'eu-west', primary: false, hintFor: 0 },
      ],
      need: { level: 'LOCAL_QUORUM', total: 2, perDc: { dc1: 2 }, hintsCount: false },
    }),
  ],
  [
    'put: EACH_QUORUM over three datacenters, ANY-style hintsCount',
    put({ need: { level: 'EACH_QUORUM', total: 6, perDc: { dc1: 2, 'eu-west': 2, 'ap-✓': 2 }, hintsCount: true } }),
  ],
  ['put: a literal level (w=2)', put({ need: { level: 'w=2', total: 2, perDc: {}, hintsCount: false } })],
  ['put: no targets, negative req, big from', put({ targets: [], req: -1, from: 2 ** 53 - 1 })],
  ['put: infinite timeout, NaN hint delay', put({ timeoutMs: Infinity, hintAfterMs: NaN })],
  [
    'put-reply: ok',
    { type: 'put-reply', req: 17, from: 0, ok: true, acked: [0, 1, 2], primaryOnly: true, context: ctx3 },
  ],
  [
    'put-reply: failed with error, empty context',
    { type: 'put-reply', req: 2 ** 52 - 1, from: 1, ok: false, error: anError, acked: [], primaryOnly: false, context: [] },
  ],
  ['replicate: no hint', { type: 'replicate', req: 5, from: 0, key: 'k', clock: clock1 }],
  ['replicate: hintFor, mixed clock', { type: 'replicate', req: 5, from: 3, key: 'k', clock: clockMixed, hintFor: 1 }],
  ['replicate: empty clock', { type: 'replicate', req: 0, from: 0, key: 'k', clock: { entries: [], anonymous: [] } }],
  ['replicate: hintFor and epoch', { type: 'replicate', req: 5, from: 3, key: 'k', clock: clock1, hintFor: 1, epoch: 300 }],
  ['replicate-ack: ok', { type: 'replicate-ack', req: 5, from: 1, ok: true }],
  [
    'replicate-ack: error',
    { type: 'replicate-ack', req: 5, from: 1, ok: false, error: { code: 'STORE_FULL', message: 'full', details: {} } },
  ],
  ['get', { type: 'get', req: 9, from: 65537, key: 'user:42' }],
  ['get: with the sender\'s ring epoch', { type: 'get', req: 9, from: 65537, key: 'user:42', epoch: 7 }],
  ['get-reply: not found', { type: 'get-reply', req: 9, from: 2, key: 'user:42', clock: null }],
  ['get-reply: clock', { type: 'get-reply', req: 9, from: 2, key: 'user:42', clock: clockMixed }],
  ['get-reply: error, no clock', { type: 'get-reply', req: 9, from: 2, key: 'k', clock: null, error: anError }],
  ['get-reply: error and clock', { type: 'get-reply', req: 9, from: 2, key: 'k', clock: clock1, error: anError }],
  ['repair: asynchronous (req -1)', { type: 'repair', req: -1, from: 65536, key: 'k', clock: clockMixed }],
  ['repair: blocking', { type: 'repair', req: 12, from: 65536, key: 'k', clock: clock1 }],
  ['repair: with epoch', { type: 'repair', req: 12, from: 65536, key: 'k', clock: clock1, epoch: 2 }],
  ['repair-ack: ok', { type: 'repair-ack', req: 12, from: 0, ok: true }],
  ['repair-ack: not ok', { type: 'repair-ack', req: 12, from: 0, ok: false }],
  ['handoff: empty', { type: 'handoff', req: 3, from: 4, entries: [] }],
  [
    'handoff: two keys',
    { type: 'handoff', req: 3, from: 4, entries: [{ key: 'a', clock: clock1 }, { key: '\u00ff', clock: clockMixed }] },
  ],
  ['handoff-ack', { type: 'handoff-ack', req: 3, from: 0, ok: true }],
];

describe('WireCodec round trip: one row per message shape', () => {
  for (const [name, msg] of TABLE) {
    test(name, () => {
      const [back, ...rest] = roundTrip([msg]);
      assert.equal(rest.length, 0);
      assert.deepStrictEqual(back, msg);
    });
  }

  test('the whole table as one batch, twice (the scratch buffer is reused)', () => {
    const batch = TABLE.map(([, m]) => m);
    assert.deepStrictEqual(roundTrip(batch), batch);
    assert.deepStrictEqual(roundTrip(batch), batch);
  });

  test('an empty batch', () => {
    const buf = codec.encode([]);
    assert.deepStrictEqual(codec.decode(buf), []);
  });

  test('absent optional fields stay absent, present ones stay present', () => {
    const [p, r, pr] = roundTrip([
      put({ targets: [{ node: 1, dc: 'dc1', primary: false }] }),
      { type: 'replicate', req: 1, from: 0, key: 'k', clock: clock1 },
      { type: 'put-reply', req: 1, from: 0, ok: true, acked: [1], primaryOnly: true, context: [] },
    ]);
    assert.equal(Object.hasOwn((p as PutRequest).targets[0], 'hintFor'), false);
    assert.equal(Object.hasOwn(r, 'hintFor'), false);
    assert.equal(Object.hasOwn(pr, 'error'), false);
  });

  test('values keep their type; bytes come back as a fresh Uint8Array', () => {
    const bytes = new Uint8Array([9, 8, 7]);
    const buf = codec.encode([put({ value: bytes }), put({ value: '987' }), put({ value: null })]);
    const [a, b, c] = codec.decode(buf) as PutRequest[];
    assert.ok(a.value instanceof Uint8Array);
    assert.equal(Object.getPrototypeOf(a.value), Uint8Array.prototype);
    assert.notEqual(a.value.buffer, buf);
    assert.equal(a.value.byteOffset, 0);
    assert.equal(a.value.buffer.byteLength, 3);
    assert.equal(typeof b.value, 'string');
    assert.equal(c.value, null);
  });

  test('the buffer can be transferred (detached) after decode without touching decoded messages', () => {
    const msg = put({ value: new Uint8Array(64).fill(5), key: 'x'.repeat(40) });
    const buf = codec.encode([msg]);
    const [back] = codec.decode(buf);
    structuredClone(buf, { transfer: [buf] }); // detaches buf
    assert.equal(buf.byteLength, 0);
    assert.deepStrictEqual(back, msg);
  });

  test('lone surrogates become U+FFFD, as with TextEncoder', () => {
    const [back] = roundTrip([put({ value: 'a\ud800b' })]) as PutRequest[];
    assert.equal(back.value, 'a\ufffdb');
  });

  test('big batches grow the scratch buffer and later small batches still encode right', () => {
    const big = Array.from({ length: 300 }, (_, i) => put({ req: i, value: 'x'.repeat(1000) + i }));
    big.push(put({ value: new Uint8Array(2 * 1024 * 1024).fill(1) })); // past the 1 MiB the scratch keeps
    assert.deepStrictEqual(roundTrip(big), big);
    const small = [put({ req: 1 })];
    assert.deepStrictEqual(roundTrip(small), small);
  });

  test('a typical put encodes to under 200 bytes', () => {
    const size = codec.encode([put({})]).byteLength;
    assert.ok(size > 100 && size < 200, `typical put encoded to ${size} bytes`);
  });
});

describe('WireCodec configuration and refusals', () => {
  const configCases: Array<[string, () => unknown]> = [
    ['no datacenters', () => new WireCodec([])],
    ['not an array', () => new WireCodec('dc1' as unknown as string[])],
    ['a duplicate datacenter', () => new WireCodec(['a', 'b', 'a'])],
    ['a non-string datacenter', () => new WireCodec([1 as unknown as string])],
    ['256 datacenters', () => new WireCodec(Array.from({ length: 256 }, (_, i) => `dc${i}`))],
    ['maxBatchBytes too small', () => new WireCodec(DCS, { maxBatchBytes: 10 })],
    ['maxBatchBytes not an integer', () => new WireCodec(DCS, { maxBatchBytes: 5000.5 })],
    ['maxBatchBytes over 1 GiB', () => new WireCodec(DCS, { maxBatchBytes: 2 ** 31 })],
  ];
  for (const [name, make] of configCases) {
    test(`constructor refuses ${name}`, () => assert.throws(make, InvalidConfigError));
  }

  test('255 datacenters are fine, and the last one round-trips', () => {
    const names = Array.from({ length: 255 }, (_, i) => `dc${i}`);
    const c = new WireCodec(names);
    const msg = put({ targets: [{ node: 1, dc: 'dc254', primary: true }], spares: [], need: { ...quorum, perDc: { dc254: 1 } } });
    assert.deepStrictEqual(roundTrip([msg], c), [msg]);
  });

  const bad = (m: unknown): Message => m as Message;
  const encodeCases: Array<[string, unknown]> = [
    ['a tick', { type: 'tick', nowMs: 5 }],
    ['an unknown type', { type: 'gossip', req: 1, from: 0 }],
    ['null', null],
    ['an unknown datacenter', put({ targets: [{ node: 0, dc: 'mars', primary: true }] })],
    ['an unknown perDc datacenter', put({ need: { ...quorum, perDc: { mars: 1 } } })],
    ['a key char above 255', put({ key: 'k\u0100' })],
    ['a long key with a char above 255', put({ key: 'k'.repeat(30) + '✓' })],
    ['a non-string key', put({ key: 5 as unknown as string })],
    ['a negative from', put({ from: -1 })],
    ['a fractional req', put({ req: 1.5 })],
    ['a req beyond 2^52 - 1', put({ req: 2 ** 52 })],
    ['a fractional node', put({ targets: [{ node: 0.5, dc: 'dc1', primary: true }] })],
    ['a number value', put({ value: 5 as unknown as string })],
    ['a string timeout', put({ timeoutMs: '5' as unknown as number })],
    ['more than 256 targets', put({ targets: Array.from({ length: 257 }, () => targets3[0]) })],
    ['a put without spares', put({ spares: undefined as unknown as Placement[] })],
    ['a null spare', put({ spares: [null as unknown as Placement] })],
    ['a put without hintAfterMs', put({ hintAfterMs: undefined as unknown as number })],
    ['a negative context counter', put({ context: [['n0', -1]] })],
    ['an unknown error code', { type: 'replicate-ack', req: 1, from: 0, ok: false, error: { code: 'NOPE', message: '', details: {} } }],
    ['a malformed clock', { type: 'replicate', req: 1, from: 0, key: 'k', clock: { entries: 5 } }],
    ['a put-reply without context', { type: 'put-reply', req: 1, from: 0, ok: true, acked: [], primaryOnly: true }],
  ];
  for (const [name, m] of encodeCases) {
    test(`encode refuses ${name}`, () => {
      assert.throws(() => codec.encode([put({}), bad(m)]), InvalidArgumentError);
      assert.deepStrictEqual(roundTrip([put({})]), [put({})]); // and the codec still works afterwards
    });
  }

  test('encode refuses a non-array batch', () => {
    assert.throws(() => codec.encode({} as unknown as Message[]), InvalidArgumentError);
  });

  test('a batch over maxBatchBytes throws a clear error; smaller batches still pass', () => {
    const c = new WireCodec(DCS, { maxBatchBytes: 4096 });
    assert.throws(
      () => c.encode([put({ value: 'x'.repeat(5000) })]),
      (e: unknown) => e instanceof InvalidArgumentError && /maxBatchBytes \(4096 bytes\)/.test(e.message),
    );
    assert.throws(() => c.encode(Array.from({ length: 40 }, () => put({}))), InvalidArgumentError);
    const ok = Array.from({ length: 10 }, () => put({}));
    assert.deepStrictEqual(roundTrip(ok, c), ok);
    const big = codec.encode([put({ value: 'x'.repeat(5000) })]);
    assert.throws(() => c.decode(big), /exceeds maxBatchBytes/);
  });

  test('decode refuses what is not an ArrayBuffer', () => {
    const buf = codec.encode([put({})]);
    for (const x of [new Uint8Array(buf), new SharedArrayBuffer(8), null, 'x']) {
      assert.throws(() => codec.decode(x as unknown as ArrayBuffer), InvalidArgumentError);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Arbitrary batches

const keyId = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }));
const nat = fc.oneof(fc.nat(300), fc.nat(), fc.maxSafeNat());
const req = fc.oneof(fc.integer({ min: -2, max: 300 }), fc.integer(), fc.integer({ min: -(2 ** 52), max: 2 ** 52 }));
const value = fc.oneof(text, fc.string({ minLength: 16, maxLength: 300 }), fc.uint8Array({ maxLength: 40 }), fc.constant(null));
const dc = fc.constantFrom(...DCS);
const placement: fc.Arbitrary<Placement> = fc.record(
  { node: nat, dc, primary: fc.boolean(), hintFor: nat },
  { noNullPrototype: true, requiredKeys: ['node', 'dc', 'primary'] }
);
const perDc = fc.subarray(DCS).chain((names) =>
  fc.tuple(...names.map(() => fc.nat(9))).map((counts) => Object.fromEntries(names.map((n, i) => [n, counts[i]]))),
);
const requirement: fc.Arbitrary<Requirement> = fc.record({
  level: fc.oneof(fc.constantFrom(...CONSISTENCY_LEVELS), text),
  total: fc.nat(20),
  perDc,
  hintsCount: fc.boolean(),
}, { noNullPrototype: true });
const context: fc.Arbitrary<VersionVector> = fc.array(fc.tuple(text, nat), { maxLength: 4 });
const stampedArb: fc.Arbitrary<Stamped> = fc.record({ v: value, ts: fc.double(), by: fc.constantFrom('n0', 'n1', 'x') }, { noNullPrototype: true });
const clock: fc.Arbitrary<StoredClock> = fc.record({
  entries: fc.uniqueArray(fc.record({ id: fc.constantFrom('n0', 'n1', 'n2', 'é'), n: nat, values: fc.array(stampedArb, { maxLength: 2 }) }, { noNullPrototype: true }), {
    selector: (e) => e.id,
    maxLength: 3,
  }),
  anonymous: fc.array(stampedArb, { maxLength: 2 }),
}, { noNullPrototype: true });
const jsonDetails = fc.dictionary(
  fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'),
  fc.oneof(fc.integer(), fc.array(fc.integer(), { maxLength: 3 }), fc.string({ maxLength: 10 })),
  { maxKeys: 3, noNullPrototype: true },
);
const wireError: fc.Arbitrary<WireError> = fc.record({
  code: fc.constantFrom('INVALID_ARGUMENT', 'TIMEOUT', 'QUORUM_UNREACHABLE', 'INTERNAL', 'STORE_FULL' as const),
  message: text,
  details: jsonDetails,
}, { noNullPrototype: true });
const head = { req, from: nat };
const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record({
    type: fc.constant('put' as const),
    ...head,
    key: keyId,
    value,
    context: fc.option(context, { nil: null }),
    targets: fc.array(placement, { maxLength: 4 }),
    spares: fc.array(placement, { maxLength: 3 }),
    need: requirement,
    sloppy: fc.boolean(),
    timeoutMs: fc.double(),
    hintAfterMs: fc.double(),
  }, { noNullPrototype: true }),
  fc.record(
    {
      type: fc.constant('put-reply' as const),
      ...head,
      ok: fc.boolean(),
      error: wireError,
      acked: fc.array(nat, { maxLength: 5 }),
      primaryOnly: fc.boolean(),
      context,
    },
    { noNullPrototype: true, requiredKeys: ['type', 'req', 'from', 'ok', 'acked', 'primaryOnly', 'context'] }
  ),
  fc.record(
    { type: fc.constant('replicate' as const), ...head, key: keyId, clock, hintFor: nat },
    { noNullPrototype: true, requiredKeys: ['type', 'req', 'from', 'key', 'clock'] }
  ),
  fc.record(
    { type: fc.constant('replicate-ack' as const), ...head, ok: fc.boolean(), error: wireError },
    { noNullPrototype: true, requiredKeys: ['type', 'req', 'from', 'ok'] }
  ),
  fc.record({ type: fc.constant('get' as const), ...head, key: keyId }, { noNullPrototype: true }),
  fc.record(
    { type: fc.constant('get-reply' as const), ...head, key: keyId, clock: fc.option(clock, { nil: null }), error: wireError },
    { noNullPrototype: true, requiredKeys: ['type', 'req', 'from', 'key', 'clock'] }
  ),
  fc.record({ type: fc.constant('repair' as const), ...head, key: keyId, clock }, { noNullPrototype: true }),
  fc.record({ type: fc.constant('repair-ack' as const), ...head, ok: fc.boolean() }, { noNullPrototype: true }),
  fc.record({
    type: fc.constant('handoff' as const),
    ...head,
    entries: fc.array(fc.record({ key: keyId, clock }, { noNullPrototype: true }), { maxLength: 3 }),
  }, { noNullPrototype: true }),
  fc.record({ type: fc.constant('handoff-ack' as const), ...head, ok: fc.boolean() }, { noNullPrototype: true }),
);
const batchArb = fc.array(message, { maxLength: 12 });

describe('WireCodec properties', () => {
  test('decode(encode(batch)) deepEquals batch', () => {
    fc.assert(
      fc.property(batchArb, (batch) => {
        assert.deepStrictEqual(roundTrip(batch), batch);
      }),
      fcParams(300),
    );
  });

  test('encoding is deterministic: the same batch gives the same bytes, from any codec', () => {
    const other = new WireCodec(DCS);
    fc.assert(
      fc.property(batchArb, (batch) => {
        const a = new Uint8Array(codec.encode(batch));
        const b = new Uint8Array(other.encode(batch));
        assert.deepStrictEqual(a, b);
      }),
      fcParams(100),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Garbage and truncation

/** Decode must either succeed or throw InvalidArgumentError: never a RangeError, TypeError or a hang. */
function decodeOrRefuse(bytes: Uint8Array): Message[] | 'refused' {
  const buf = bytes.slice().buffer;
  try {
    return codec.decode(buf);
  } catch (e) {
    if (e instanceof InvalidArgumentError) return 'refused';
    throw e;
  }
}

const everyType = TABLE.map(([, m]) => m);

describe('WireCodec on garbage', () => {
  test('every strict prefix of a batch of every message type is refused', () => {
    const bytes = new Uint8Array(codec.encode(everyType));
    for (let n = 0; n < bytes.length; n++) {
      assert.equal(decodeOrRefuse(bytes.subarray(0, n)), 'refused', `prefix of ${n} of ${bytes.length} bytes`);
    }
  });

  test('each message alone: every strict prefix is refused', () => {
    for (const msg of everyType) {
      const bytes = new Uint8Array(codec.encode([msg]));
      for (let n = 0; n < bytes.length; n++) assert.equal(decodeOrRefuse(bytes.subarray(0, n)), 'refused');
    }
  });

  const valid = new Uint8Array(codec.encode([put({ value: 'é!' }), { type: 'repair-ack', req: 1, from: 0, ok: true }]));
  // Byte offsets in `valid`: 0 magic, 1 count, 2 put tag, 3 req, 4..6 from (65536), 7 key length, ...
  const patched = (at: number, b: number): Uint8Array => {
    const copy = valid.slice();
    copy[at] = b;
    return copy;
  };
  const keyEnd = 8 + 'user:42'.length + 1; // after the key and the epoch varint (0: none): the value tag
  const cases: Array<[string, Uint8Array]> = [
    ['an empty buffer', new Uint8Array(0)],
    ['a wrong magic byte', patched(0, 0x58)],
    ['a count larger than the bytes could hold', patched(1, 0x7f)],
    ['an unknown message tag', patched(2, 0xee)],
    ['a tick tag', patched(2, 0)],
    ['an unknown value tag', patched(keyEnd, 9)],
    ['invalid UTF-8 in a UTF-8 value', Uint8Array.from([...valid.subarray(0, keyEnd + 2), 0xff, 0xfe, ...valid.subarray(keyEnd + 4)])],
    ['a trailing byte', Uint8Array.from([...valid, 0])],
    ['a varint longer than 8 bytes', Uint8Array.from([0x57, 1, 5, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 1, 0, 0])],
    ['a varint past 2^53', Uint8Array.from([0x57, 1, 5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0])],
    ['a flags byte with unknown bits', Uint8Array.from([0x57, 1, 8, 0, 0, 0x80])],
    ['a get with a key past the end', Uint8Array.from([0x57, 1, 5, 0, 0, 10, 65])],
    ['a repair with a garbage clock', Uint8Array.from([0x57, 1, 7, 0, 0, 1, 65, 3, 1, 2, 3])],
    ['a handoff count past the end', Uint8Array.from([0x57, 1, 9, 0, 0, 100])],
  ];
  for (const [name, bytes] of cases) {
    test(`refuses ${name}`, () => assert.equal(decodeOrRefuse(bytes), 'refused'));
  }

  test('the valid base of those cases decodes', () => {
    assert.notEqual(decodeOrRefuse(valid), 'refused');
  });

  test('random bytes are refused or decoded, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bytes, magic) => {
        if (magic && bytes.length > 0) bytes[0] = 0x57; // get past the magic byte half the time
        decodeOrRefuse(bytes);
      }),
      fcParams(1000),
    );
  });

  test('a valid batch with one byte changed is refused or decodes to messages that encode again', () => {
    fc.assert(
      fc.property(batchArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (batch, at, xor) => {
        const bytes = new Uint8Array(codec.encode(batch));
        bytes[at % bytes.length] ^= xor;
        const out = decodeOrRefuse(bytes);
        if (out !== 'refused') assert.ok(codec.encode(out).byteLength > 0);
      }),
      fcParams(300),
    );
  });
});
