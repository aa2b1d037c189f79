// The binary clock codec: table tests of the layout's edge cases, malformed input, and a fast-check round trip over
// arbitrary clocks (unicode, empty and large values, extreme timestamps and counters).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fcParams } from './helpers/fc.js';
import {
  decodeClock,
  decodeValues,
  encodeClock,
  encodeClockInto,
  encodedClockSize,
} from '../actors/versioning/codec.js';
import { InvalidArgumentError } from '../actors/errors.js';
import type { Clock } from '../actors/versioning/dvv.js';
import type { Stamped, Value } from '../actors/types.js';

function st(v: Value | null, ts = 1, by = 'r1'): Stamped {
  return { v, ts, by };
}

function allValues(c: Clock<Stamped>): Array<Value | null> {
  return [...c.entries.flatMap((e) => e.values.map((s) => s.v)), ...c.anonymous.map((s) => s.v)];
}

function roundTrip(c: Clock<Stamped>): Clock<Stamped> {
  const bytes = encodeClock(c);
  assert.equal(bytes.length, encodedClockSize(c));
  const back = decodeClock(bytes);
  assert.deepEqual(decodeValues(bytes, 0, bytes.length), allValues(back));
  return back;
}

const big = new Uint8Array(70_000).map((_, i) => (i * 31) & 0xff);

describe('codec: round trips of chosen clocks', () => {
  const cases: Array<[string, Clock<Stamped>]> = [
    ['empty clock', { entries: [], anonymous: [] }],
    ['one ascii value', { entries: [{ id: 'r1', n: 1, values: [st('hello')] }], anonymous: [] }],
    ['empty string and empty bytes', { entries: [{ id: 'r1', n: 2, values: [st(''), st(new Uint8Array(0))] }], anonymous: [] }],
    ['tombstone', { entries: [{ id: 'r1', n: 3, values: [st(null)] }], anonymous: [] }],
    ['unicode and a leading BOM', { entries: [{ id: 'é', n: 1, values: [st('\ufeffπ🙂漢字', 5, 'é')] }], anonymous: [] }],
    ['long ascii and long unicode', { entries: [{ id: 'r', n: 1, values: [st('x'.repeat(1000)), st('ü'.repeat(600), 2, 'r')] }], anonymous: [] }],
    // a UTF-8 length whose varint is longer than the char count's: the encoder moves the bytes up
    ['varint of the UTF-8 length outgrows the char count', { entries: [{ id: 'é'.repeat(64), n: 1, values: [st('🙂'.repeat(32)), st('é'.repeat(8192), 2, 'x'.repeat(127) + 'é')] }], anonymous: [] }],
    ['70 kB of bytes', { entries: [{ id: 'r1', n: 1, values: [st(big)] }], anonymous: [] }],
    ['by is another entry, or none', { entries: [{ id: 'a', n: 1, values: [st('1', 1, 'b')] }, { id: 'b', n: 0, values: [] }], anonymous: [st('2', 2, 'zz')] }],
    ['extreme numbers', { entries: [{ id: '', n: Number.MAX_SAFE_INTEGER, values: [st('a', -0), st('b', NaN), st('c', -Infinity), st('d', 2 ** 40 + 0.5)] }], anonymous: [] }],
    ['anonymous only', { entries: [], anonymous: [st('x', 1, 'c'), st(null, 2, 'c')] }],
  ];
  for (const [name, clock] of cases) {
    test(name, () => assert.deepEqual(roundTrip(clock), clock));
  }

  test('a lone surrogate becomes U+FFFD, as with TextEncoder', () => {
    const back = roundTrip({ entries: [], anonymous: [st('a\ud800b')] });
    assert.equal(back.anonymous[0].v, 'a\ufffdb');
  });

  test('a by that names an entry costs one byte', () => {
    const own = encodedClockSize({ entries: [{ id: 'replica-7', n: 1, values: [st('v', 1, 'replica-7')] }], anonymous: [] });
    const other = encodedClockSize({ entries: [{ id: 'replica-7', n: 1, values: [st('v', 1, 'replica-8')] }], anonymous: [] });
    assert.equal(other - own, 'replica-8'.length + 1);
  });
});

describe('codec: offsets, copies and shared memory', () => {
  const clock: Clock<Stamped> = { entries: [{ id: 'r1', n: 4, values: [st(new Uint8Array([1, 2, 3])), st('s')] }], anonymous: [] };

  test('encodeClockInto writes at an offset of a SharedArrayBuffer and decodes from there', () => {
    const target = new Uint8Array(new SharedArrayBuffer(256));
    const written = encodeClockInto(clock, target, 17);
    assert.equal(written, encodedClockSize(clock));
    assert.deepEqual(decodeClock(target, 17, written), clock);
    assert.deepEqual(decodeValues(target, 17, written), [new Uint8Array([1, 2, 3]), 's']);
  });

  test('decoded bytes are a copy, not a view of the source', () => {
    const target = new Uint8Array(new SharedArrayBuffer(256));
    const written = encodeClockInto(clock, target, 0);
    const back = decodeClock(target, 0, written);
    const [fast] = decodeValues(target, 0, written);
    target.fill(0);
    for (const v of [back.entries[0].values[0].v, fast]) {
      assert.ok(v instanceof Uint8Array);
      assert.ok(v.buffer instanceof ArrayBuffer);
      assert.deepEqual(v, new Uint8Array([1, 2, 3]));
    }
  });

  test('encodeClockInto refuses a target that is too small and writes nothing', () => {
    const target = new Uint8Array(8);
    assert.throws(() => encodeClockInto(clock, target, 0), InvalidArgumentError);
    assert.throws(() => encodeClockInto(clock, new Uint8Array(64), -1), InvalidArgumentError);
    assert.deepEqual(target, new Uint8Array(8));
  });
});

describe('codec: invalid clocks and malformed bytes throw InvalidArgumentError', () => {
  const badClocks: Array<[string, unknown]> = [
    ['not an object', 42],
    ['entries missing', { anonymous: [] }],
    ['negative n', { entries: [{ id: 'a', n: -1, values: [] }], anonymous: [] }],
    ['fractional n', { entries: [{ id: 'a', n: 1.5, values: [] }], anonymous: [] }],
    ['numeric value', { entries: [], anonymous: [{ v: 7, ts: 1, by: 'a' }] }],
    ['missing ts', { entries: [], anonymous: [{ v: 'x', by: 'a' }] }],
  ];
  for (const [name, c] of badClocks) {
    test(`encode: ${name}`, () => assert.throws(() => encodeClock(c as Clock<Stamped>), InvalidArgumentError));
  }

  const good = encodeClock({ entries: [{ id: 'r1', n: 1, values: [st('hello')] }], anonymous: [] });
  const badBytes: Array<[string, number[]]> = [
    ['empty', []],
    ['wrong format byte', [0x00, 0, 0]],
    ['trailing byte', [...good, 0]],
    ['unknown tag', [0xd1, 0, 1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
    ['reference past the entries', [0xd1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]],
    ['count larger than the input', [0xd1, 0x7f]],
    ['varint too long', [0xd1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
    ['invalid utf-8 in a value', [0xd1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0xc3, 0x28]],
  ];
  for (const [name, bytes] of badBytes) {
    test(`decode: ${name}`, () => {
      const u = new Uint8Array(bytes);
      assert.throws(() => decodeClock(u), InvalidArgumentError);
      assert.throws(() => decodeValues(u, 0, u.length), InvalidArgumentError);
    });
  }

  test('decode: a range outside the array', () => {
    assert.throws(() => decodeClock(good, 2, good.length), InvalidArgumentError);
  });
});

const replicaId = fc.oneof(fc.constantFrom('r1', 'r2', 'node-3'), fc.string({ unit: 'binary', maxLength: 6 }));
const value: fc.Arbitrary<Value | null> = fc.oneof(
  fc.constant(null),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.uint8Array({ maxLength: 64 }),
  fc.uint8Array({ minLength: 2000, maxLength: 5000 }),
);
// plain prototypes: fast-check may otherwise build null-prototype records, which deepEqual tells apart
const plain = { noNullPrototype: true };
const stamped: fc.Arbitrary<Stamped> = fc.record({ v: value, ts: fc.double(), by: replicaId }, plain);
const clockArb: fc.Arbitrary<Clock<Stamped>> = fc.record({
  entries: fc.array(
    fc.record(
      { id: replicaId, n: fc.oneof(fc.nat(1000), fc.maxSafeNat()), values: fc.array(stamped, { maxLength: 3 }) },
      plain,
    ),
    { maxLength: 4 },
  ),
  anonymous: fc.array(stamped, { maxLength: 2 }),
}, plain);

describe('codec: properties', () => {
  test('decode(encode(c)) equals c, and decodeValues lists every value in order', () => {
    fc.assert(
      fc.property(clockArb, (c) => {
        assert.deepEqual(roundTrip(c), c);
      }),
      fcParams(300),
    );
  });

  test('every strict prefix of an encoding is rejected', () => {
    fc.assert(
      fc.property(clockArb, fc.double({ min: 0, max: 1, noNaN: true }), (c, frac) => {
        const bytes = encodeClock(c);
        const cut = Math.floor(frac * (bytes.length - 1));
        assert.throws(() => decodeClock(bytes, 0, cut), InvalidArgumentError);
        assert.throws(() => decodeValues(bytes, 0, cut), InvalidArgumentError);
      }),
      fcParams(200),
    );
  });

  test('random bytes decode or throw InvalidArgumentError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (tail) => {
        const bytes = new Uint8Array([0xd1, ...tail]);
        for (const decode of [() => decodeClock(bytes), () => decodeValues(bytes, 0, bytes.length)]) {
          try {
            decode();
          } catch (e) {
            assert.ok(e instanceof InvalidArgumentError, String(e));
          }
        }
      }),
      fcParams(500),
    );
  });
});
