// Dotted version vector sets (actors/versioning/dvv.ts): the EUnit tests of dvvset.erl ported as tables (Erlang
// atoms become strings), the preconditions of each operation, and the causal-context codec. The simulation against a
// naive model, the laws of sync and last-write-wins are in test/dvv-model.test.ts.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fcParams } from './helpers/fc.js';
import {
  type Clock,
  type VersionVector,
  decodeContext,
  emptyClock,
  encodeContext,
  equal,
  ids,
  join,
  lastValue,
  less,
  lww,
  mapValues,
  newClock,
  newWithContext,
  size,
  sync,
  update,
  updateWith,
  values,
} from '../actors/versioning/dvv.js';
import { stampedEqual } from '../actors/versioning/lww.js';
import type { Stamped } from '../actors/types.js';
import { InvalidArgumentError } from '../actors/errors.js';
import { C, valueSet } from './helpers/dvv.js';

/** dvvset:sync/1 is a foldl of sync/2 starting from {}, so sync([A, B]) = sync(B, A). */
function syncList<V>(cs: Clock<V>[]): Clock<V> {
  return cs.reduce((acc, c) => sync(c, acc));
}

const sorted = <T>(xs: T[]): T[] => xs.slice().sort();

describe('dvvset EUnit tests, ported', () => {
  test('join_test', () => {
    const A = newClock('v1');
    const A1 = update(A, 'a');
    const B = newWithContext(join(A1), 'v2');
    const B1 = updateWith(B, A1, 'b');
    assert.deepEqual(join(A), []);
    assert.deepEqual(join(A1), [['a', 1]]);
    assert.deepEqual(join(B1), [['a', 1], ['b', 1]]);
  });

  test('update_test', () => {
    const A0 = update(newClock('v1'), 'a');
    const A1 = updateWith(newWithContext(join(A0), 'v2'), A0, 'a');
    const A2 = updateWith(newWithContext(join(A1), 'v3'), A1, 'b');
    const A3 = updateWith(newWithContext(join(A0), 'v4'), A1, 'b');
    const A4 = updateWith(newWithContext(join(A0), 'v5'), A1, 'a');
    const cases: Array<[string, Clock<string>, Clock<string>]> = [
      ['A0', A0, C([['a', 1, ['v1']]])],
      ['A1', A1, C([['a', 2, ['v2']]])],
      ['A2', A2, C([['a', 2, []], ['b', 1, ['v3']]])],
      ['A3', A3, C([['a', 2, ['v2']], ['b', 1, ['v4']]])],
      ['A4', A4, C([['a', 3, ['v5', 'v2']]])],
    ];
    for (const [name, got, want] of cases) assert.deepEqual(got, want, name);
  });

  test('sync_test', () => {
    const X = C<string>([['x', 1, []]]);
    const A = update(newClock('v1'), 'a');
    const Y = update(newClock('v2'), 'b');
    const A1 = update(newWithContext(join(A), 'v2'), 'a');
    const A3 = update(newWithContext(join(A1), 'v3'), 'b');
    const A4 = update(newWithContext(join(A1), 'v3'), 'c');
    const F = (l: string, r: string): boolean => l > r;
    const W = C<string>([['a', 1, []]]);
    const Z = C([['a', 2, ['v2', 'v1']]]);
    const cases: Array<[string, Clock<string>, Clock<string>]> = [
      ['[W,Z]', syncList([W, Z]), C([['a', 2, ['v2']]])],
      ['[W,Z] = [Z,W]', syncList([W, Z]), syncList([Z, W])],
      ['[A,A1] = [A1,A]', syncList([A, A1]), syncList([A1, A])],
      ['[A4,A3] = [A3,A4]', syncList([A4, A3]), syncList([A3, A4])],
      ['[A4,A3]', syncList([A4, A3]), C([['a', 2, []], ['b', 1, ['v3']], ['c', 1, ['v3']]])],
      ['[X,A]', syncList([X, A]), C([['a', 1, ['v1']], ['x', 1, []]])],
      ['[X,A] = [A,X]', syncList([X, A]), syncList([A, X])],
      ['[A,Y]', syncList([A, Y]), C([['a', 1, ['v1']], ['b', 1, ['v2']]])],
      ['[Y,A] = [A,Y]', syncList([Y, A]), syncList([A, Y])],
      ['lww(F,A4) = [A4,lww(F,A4)]', lww(A4, F), syncList([A4, lww(A4, F)])],
    ];
    for (const [name, got, want] of cases) assert.deepEqual(got, want, name);
  });

  test('sync_update_test', () => {
    const A0 = update(newClock('v1'), 'a'); // Mary writes v1 w/o VV
    const VV1 = join(A0); // Peter reads v1 with version vector (VV)
    const A1 = updateWith(newClock('v2'), A0, 'a'); // Mary writes v2 w/o VV
    const A2 = updateWith(newWithContext(VV1, 'v3'), A1, 'a'); // Peter writes v3 with VV from v1
    assert.deepEqual(VV1, [['a', 1]]);
    assert.deepEqual(A0, C([['a', 1, ['v1']]]));
    assert.deepEqual(A1, C([['a', 2, ['v2', 'v1']]]));
    // A2 has only v2 and v3: v3 is causally newer than v1
    assert.deepEqual(A2, C([['a', 3, ['v3', 'v2']]]));
  });

  test('event_test (event/3 is private: reached through a blind updateWith)', () => {
    const A = update(newClock('v1'), 'a');
    assert.deepEqual(updateWith(newClock('v2'), A, 'a'), C([['a', 2, ['v2', 'v1']]]));
    assert.deepEqual(updateWith(newClock('v2'), A, 'b'), C([['a', 1, ['v1']], ['b', 1, ['v2']]]));
  });

  test('lww_last_test', () => {
    // dvvset passes "less or equal"; this port takes a strict less. The values here have no ties.
    const F = (a: number, b: number): boolean => a < b;
    const F2 = (a: [number, number], b: [number, number]): boolean => a[1] < b[1];
    const X = C([['a', 4, [5, 2]], ['b', 1, []], ['c', 1, [3]]]);
    const Y = C([['a', 4, [5, 2]], ['b', 1, []], ['c', 1, [3]]], [10, 0]);
    const Z = C([['a', 4, [5, 2]], ['b', 1, [1]]], [3]);
    const A = C<[number, number]>(
      [
        ['a', 4, [[5, 1002345], [7, 1002340]]],
        ['b', 1, [[4, 1001340]]],
      ],
      [[2, 1001140]],
    );
    assert.equal(lastValue(X, F), 5);
    assert.equal(lastValue(Y, F), 10);
    assert.deepEqual(lww(X, F), C([['a', 4, [5]], ['b', 1, []], ['c', 1, []]]));
    assert.deepEqual(lww(Y, F), C([['a', 4, []], ['b', 1, []], ['c', 1, []]], [10]));
    assert.deepEqual(lww(Z, F), C([['a', 4, [5]], ['b', 1, []]]));
    assert.deepEqual(lww(A, F2), C([['a', 4, [[5, 1002345]]], ['b', 1, []]]));
  });

  test('less_test', () => {
    // dvvset's first write uses the id [a] (a list, unlike the atom a); '[a]' keeps it a distinct id.
    const A = update(newClock('v1'), '[a]');
    const B = update(newWithContext(join(A), 'v2'), 'a');
    const B2 = update(newWithContext(join(A), 'v2'), 'b');
    const B3 = update(newWithContext(join(A), 'v2'), 'z');
    const Cc = updateWith(newWithContext(join(B), 'v3'), A, 'c');
    const D = updateWith(newWithContext(join(Cc), 'v4'), B2, 'd');
    const cases: Array<[string, Clock<string>, Clock<string>, boolean]> = [
      ['A<B', A, B, true],
      ['A<C', A, Cc, true],
      ['B<C', B, Cc, true],
      ['B<D', B, D, true],
      ['B2<D', B2, D, true],
      ['A<D', A, D, true],
      ['B2<C', B2, Cc, false],
      ['B<B2', B, B2, false],
      ['B2<B', B2, B, false],
      ['A<A', A, A, false],
      ['C<C', Cc, Cc, false],
      ['D<B2', D, B2, false],
      ['B3<D', B3, D, false],
    ];
    for (const [name, a, b, want] of cases) assert.equal(less(a, b), want, name);
  });

  test('equal_test: only the causal history is compared', () => {
    const A = C([['a', 4, ['v5', 'v0']], ['b', 0, []], ['c', 1, ['v3']]], ['v0']);
    const B = C([['a', 4, ['v555', 'v0']], ['b', 0, []], ['c', 1, ['v3']]]);
    const Cc = C([['a', 4, ['v5', 'v0']], ['b', 0, []]], ['v6', 'v1']);
    assert.equal(equal(A, B), true);
    assert.equal(equal(B, A), true);
    assert.equal(equal(A, Cc), false);
    assert.equal(equal(B, Cc), false);
  });

  test('size_test', () => {
    assert.equal(size(newClock('v1')), 1);
    assert.equal(size(C([['a', 4, ['v5', 'v0']], ['b', 0, []], ['c', 1, ['v3']]], ['v4', 'v1'])), 5);
  });

  test('ids_values_test', () => {
    const A = C([['a', 4, ['v0', 'v5']], ['b', 0, []], ['c', 1, ['v3']]], ['v1']);
    const B = C([['a', 4, ['v0', 'v555']], ['b', 0, []], ['c', 1, ['v3']]]);
    const Cc = C<string>([['a', 4, []], ['b', 0, []]], ['v1', 'v6']);
    assert.deepEqual(ids(A), ['a', 'b', 'c']);
    assert.deepEqual(ids(B), ['a', 'b', 'c']);
    assert.deepEqual(ids(Cc), ['a', 'b']);
    assert.deepEqual(sorted(values(A)), ['v0', 'v1', 'v3', 'v5']);
    assert.deepEqual(sorted(values(B)), ['v0', 'v3', 'v555']);
    assert.deepEqual(sorted(values(Cc)), ['v1', 'v6']);
  });

  test('map_test', () => {
    const A = C<number>([['a', 4, []], ['b', 0, []], ['c', 1, []]], [10]);
    const B = C([['a', 4, [5, 0]], ['b', 0, []], ['c', 1, [2]]], [20, 10]);
    const F = (x: number): number => x * 2;
    assert.deepEqual(mapValues(A, F), C<number>([['a', 4, []], ['b', 0, []], ['c', 1, []]], [20]));
    assert.deepEqual(mapValues(B, F), C([['a', 4, [10, 0]], ['b', 0, []], ['c', 1, [4]]], [40, 20]));
  });
});

describe('preconditions', () => {
  const state = update(newClock('v1'), 'a');
  const cases: Array<[string, () => unknown]> = [
    ['update of a replica state', () => update(state, 'a')],
    ['update of a clock with two anonymous values', () => update(C<string>([], ['x', 'y']), 'a')],
    ['updateWith of a replica state as the client clock', () => updateWith(state, state, 'b')],
    ['update with an empty replica id', () => update(newClock('v'), '')],
    ['newWithContext with a duplicate id', () => newWithContext([['a', 1], ['a', 2]], 'v')],
    ['newWithContext with a negative counter', () => newWithContext([['a', -1]], 'v')],
    ['newWithContext with a fractional counter', () => newWithContext([['a', 1.5]], 'v')],
    ['lastValue of an empty clock', () => lastValue(emptyClock<number>(), (a, b) => a < b)],
    ['encodeContext with a lone surrogate id', () => encodeContext([['\ud800', 1]])],
    ['encodeContext with a 256-byte id', () => encodeContext([['x'.repeat(256), 1]])],
  ];
  for (const [name, f] of cases) {
    test(name, () => assert.throws(f, InvalidArgumentError));
  }

  test('newWithContext sorts its context (a serializer may reorder it)', () => {
    assert.deepEqual(newWithContext([['b', 2], ['a', 1]], 'v'), C([['a', 1, []], ['b', 2, []]], ['v']));
  });

  test('lww of an empty clock keeps the empty clock', () => {
    assert.deepEqual(lww(emptyClock<number>(), (a, b) => a < b), emptyClock<number>());
  });

  test('sync with the empty clock is the identity', () => {
    assert.deepEqual(sync(emptyClock<string>(), state), state);
    assert.deepEqual(sync(state, emptyClock<string>()), state);
  });

  test('sync keeps anonymous values only from a side that is not older', () => {
    const cases: Array<[string, Clock<string>, Clock<string>, Clock<string>]> = [
      ['older client clock', newWithContext([['a', 1]], 'x'), C([['a', 2, ['y']]]), C([['a', 2, ['y']]])],
      ['newer client clock', newWithContext([['a', 3]], 'x'), C([['a', 2, ['y']]]), C([['a', 3, []]], ['x'])],
      ['concurrent', newWithContext([['a', 1]], 'x'), C([['b', 1, ['y']]]), C([['a', 1, []], ['b', 1, ['y']]], ['x'])],
      ['same history', newWithContext([['a', 1]], 'x'), newWithContext([['a', 1]], 'y'), C([['a', 1, []]], ['x', 'y'])],
    ];
    for (const [name, a, b, want] of cases) {
      assert.deepEqual(sync(a, b), want, name);
      assert.deepEqual(valueSet(sync(b, a)), valueSet(want), `${name}, reversed`);
    }
  });

  test('sync dedups concurrent anonymous values with eq', () => {
    const x: Stamped = { v: 'x', ts: 1, by: 'a' };
    const a = newWithContext<Stamped>([['a', 1]], x);
    const b = newWithContext<Stamped>([['b', 1]], { ...x });
    assert.equal(size(sync(a, b)), 2); // === tells two objects apart
    assert.equal(size(sync(a, b, stampedEqual)), 1);
  });
});

describe('context codec', () => {
  test('table', () => {
    const cases: Array<[VersionVector, string]> = [
      [[], ''],
      [[['a', 1]], encodeContext([['a', 1]])],
    ];
    for (const [vv, s] of cases) assert.deepEqual(decodeContext(s), vv);
    assert.equal(encodeContext([['b', 2], ['a', 1]]), encodeContext([['a', 1], ['b', 2]]));
    assert.deepEqual(decodeContext(encodeContext([['n1', 2 ** 53 - 1]])), [['n1', 2 ** 53 - 1]]);
    // Three replicas with small counters fit in a couple of dozen characters.
    assert.ok(encodeContext([['n1', 3], ['n2', 7], ['n3', 1200]]).length <= 24);
  });

  const good = encodeContext([['a', 1], ['b', 2]]);
  const garbage: Array<[string, string]> = [
    ['not base64url', 'ab+c'],
    ['a dangling character', 'AAAAA'],
    ['version 0', 'AA'],
    ['version 2', 'Ag'],
    ['truncated', good.slice(0, good.length - 2)],
    ['non-zero pad bits', 'AR'],
    ['version byte only', 'AQ'],
    ['ids out of order', encodeBytes([1, 1, 98, 2, 1, 97, 1])],
    ['duplicate ids', encodeBytes([1, 1, 97, 2, 1, 97, 1])],
    ['empty id', encodeBytes([1, 0, 1])],
    ['id not UTF-8', encodeBytes([1, 1, 0xff, 1])],
    ['non-minimal varint', encodeBytes([1, 1, 97, 0x81, 0x00])],
    ['counter over 2^53', encodeBytes([1, 1, 97, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])],
    ['a number', 42 as unknown as string],
  ];
  for (const [name, s] of garbage) {
    test(`decode rejects: ${name}`, () =>
      assert.throws(
        () => decodeContext(s),
        (e: unknown) => e instanceof InvalidArgumentError && /^malformed context/.test(e.message),
      ));
  }

  const vvArb = fc
    .uniqueArray(fc.tuple(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), fc.maxSafeNat()), {
      selector: (e) => e[0],
      maxLength: 8,
    })
    .map((es) => es as VersionVector);

  test('round trip: decode(encode(vv)) is vv sorted; the string is URL-safe and canonical', () => {
    fc.assert(
      fc.property(vvArb, (vv) => {
        const s = encodeContext(vv);
        assert.match(s, /^[A-Za-z0-9_-]*$/);
        const back = decodeContext(s);
        assert.deepEqual(back, vv.slice().sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)));
        assert.equal(encodeContext(back), s);
      }),
      fcParams(300),
    );
  });

  test('any string either decodes canonically or is rejected as malformed', () => {
    const chars = fc.string({ unit: fc.constantFrom(...'ABCDQabgw019-_+/=!'.split('')), maxLength: 24 });
    fc.assert(
      fc.property(fc.oneof(chars, fc.string()), (s) => {
        let vv: VersionVector;
        try {
          vv = decodeContext(s);
        } catch (e) {
          assert.ok(e instanceof InvalidArgumentError && /^malformed context/.test(e.message), String(e));
          return;
        }
        assert.equal(encodeContext(vv), s);
      }),
      fcParams(500),
    );
  });
});

/** base64url of raw bytes, to hand-craft malformed contexts. */
function encodeBytes(bytes: number[]): string {
  return Buffer.from(bytes).toString('base64url');
}
