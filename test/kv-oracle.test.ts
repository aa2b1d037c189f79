// The independent oracle (test/helpers/kv-oracle.ts) on small hand-made histories with known verdicts: a clean
// history passes, and each verdict kind fires on the smallest history that breaks its rule (and only that kind).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { judge, kindsOf, type FinalKey, type HistoryOp, type OracleInput } from './helpers/kv-oracle.js';

let nextId = 0;
function op(o: Partial<HistoryOp> & Pick<HistoryOp, 'kind'>): HistoryOp {
  const id = nextId++;
  return { id, client: 'c', key: 'k', invokeMs: id * 10, completeMs: id * 10 + 1, timeoutMs: 100, outcome: 'ok', values: [], ...o };
}
const put = (value: string, o: Partial<HistoryOp> = {}): HistoryOp => op({ kind: 'put', value, values: [value], count: 3, primaryOnly: true, ...o });
const del = (o: Partial<HistoryOp> = {}): HistoryOp => op({ kind: 'delete', values: [], ...o });
const get = (values: string[], o: Partial<HistoryOp> = {}): HistoryOp => op({ kind: 'get', values, count: 2, ...o });

/** Every primary holds what the final read returned, no other node holds anything. */
function final(values: string[] | null, o: Partial<FinalKey> = {}): FinalKey {
  const held = values === null ? undefined : { values, context: 'ctx' };
  return { key: 'k', values, primaries: [0, 1, 2].map((node) => ({ node, held })), others: [{ node: 3, held: undefined }], ...o };
}

function verdict(ops: HistoryOp[], finals: FinalKey[], extra: Partial<OracleInput> = {}): string[] {
  return [...new Set(judge({ ops, finals, endMs: 1000, slackMs: 50, replication: 3, ...extra }).map((v) => v.kind))].sort();
}

describe('kv oracle: hand-made histories', () => {
  test('a clean read-modify-write history passes', () => {
    const a = put('a');
    const r = get(['a']);
    const b = put('b', { contextFrom: r.id });
    const c = put('c'); // blind: a sibling of b
    const r2 = get(['b', 'c']);
    const d = del({ contextFrom: r2.id });
    const e = put('e');
    assert.deepEqual(verdict([a, r, b, c, r2, d, e], [final(['e'])]), []);
  });

  test('lost-write: an acked put is gone and nothing covered it', () => {
    const a = put('a');
    const b = put('b');
    assert.deepEqual(verdict([a, b], [final(['b'])]), ['lost-write']);
  });

  test('lost-write does not fire when a failed write covered the value (it may have been applied)', () => {
    const a = put('a');
    const r = get(['a']);
    const b = put('b', { contextFrom: r.id, outcome: 'failed', code: 'TIMEOUT', values: undefined });
    assert.deepEqual(verdict([a, r, b], [final(['b'])]), []);
  });

  test('resurrected: a value an acked delete covered is back', () => {
    const a = put('a');
    const r = get(['a']);
    const d = del({ contextFrom: r.id });
    assert.deepEqual(verdict([a, r, d], [final(['a'])]), ['resurrected']);
  });

  test('resurrected: coverage is transitive through a chain of contexts', () => {
    const a = put('a');
    const r1 = get(['a']);
    const b = put('b', { contextFrom: r1.id });
    const c = put('c', { contextFrom: b.id }); // the put result's context covers b, and through b, a
    assert.deepEqual(verdict([a, r1, b, c], [final(['a', 'c'])]), ['not-concurrent', 'resurrected']);
  });

  test('unknown-value: a value never written to this key', () => {
    const a = put('a');
    const other = put('x', { key: 'other' });
    assert.deepEqual(verdict([a, other, get(['a', 'x'])], [final(['a'])]), ['unknown-value']);
  });

  test('refused-value: a refused put left its value behind', () => {
    const a = put('a', { outcome: 'refused', code: 'OVERLOADED', values: undefined });
    assert.deepEqual(verdict([a], [final(['a'])]), ['refused-value']);
  });

  test('duplicate-value: one write read back twice', () => {
    const a = put('a');
    assert.deepEqual(verdict([a, get(['a', 'a'])], [final(['a'])]), ['duplicate-value']);
  });

  test('not-concurrent: siblings where one write covered the other', () => {
    const a = put('a');
    const r = get(['a']);
    const b = put('b', { contextFrom: r.id, outcome: 'failed', code: 'TIMEOUT', values: undefined });
    assert.deepEqual(verdict([a, r, b, get(['a', 'b'])], [final(['b'])]), ['not-concurrent']);
  });

  test('bad-put-result: a put result that does not list its own value', () => {
    const a = put('a', { values: [] });
    assert.deepEqual(verdict([a], [final(['a'])]), ['bad-put-result']);
  });

  test('not-converged: a primary holds something else, or contexts differ', () => {
    const a = put('a');
    const lagging = final(['a']);
    lagging.primaries[2] = { node: 2, held: undefined };
    assert.deepEqual(verdict([a], [lagging]), ['not-converged']);
    const split = final(['a']);
    split.primaries[1] = { node: 1, held: { values: ['a'], context: 'other' } };
    assert.deepEqual(verdict([a], [split]), ['not-converged']);
  });

  test('not-converged ignores a tombstone beside nothing (the same to a client)', () => {
    const a = put('a');
    const r = get(['a']);
    const d = del({ contextFrom: r.id });
    const f = final([]);
    f.primaries[0] = { node: 0, held: undefined };
    assert.deepEqual(verdict([a, r, d], [f]), []);
  });

  test('stray-copy: a node that is not a replica holds the key', () => {
    const a = put('a');
    assert.deepEqual(verdict([a], [final(['a'], { others: [{ node: 3, held: { values: ['a'], context: 'ctx' } }] })]), ['stray-copy']);
  });

  test('final-read-failed', () => {
    assert.deepEqual(verdict([put('a')], [final(null, { error: 'TIMEOUT' })]), ['final-read-failed']);
  });

  test('unsettled and late: a pending operation, and one past its timeout plus slack', () => {
    const hung = put('a', { outcome: 'pending', completeMs: undefined, values: undefined });
    assert.deepEqual(verdict([hung], []), ['unsettled']);
    const slow = put('b', { invokeMs: 0, completeMs: 151, outcome: 'failed', code: 'TIMEOUT', values: undefined });
    assert.deepEqual(verdict([slow], []), ['late']);
    const inTime = put('c', { invokeMs: 0, completeMs: 150, outcome: 'failed', code: 'TIMEOUT', values: undefined });
    assert.deepEqual(verdict([inTime], []), []);
  });

  test('untyped-error: a failure without a code', () => {
    assert.deepEqual(verdict([put('a', { outcome: 'failed', values: undefined })], []), ['untyped-error']);
  });

  test('stale-quorum-read: in the calm phase only, and only when r + w > N', () => {
    const a = put('a', { count: 3 });
    const miss = get([], { count: 1 });
    assert.deepEqual(verdict([a, miss], [], { calmFromMs: 0 }), ['stale-quorum-read']);
    assert.deepEqual(verdict([a, miss], [], { calmFromMs: 10_000 }), [], 'before the calm phase: not judged');
    const weak = put('b', { count: 1 });
    assert.deepEqual(verdict([weak, get([], { count: 2 })], [], { calmFromMs: 0 }), [], 'r + w = N: no overlap promised');
    const hinted = put('c', { count: 3, primaryOnly: false });
    assert.deepEqual(verdict([hinted, get([], { count: 3 })], [], { calmFromMs: 0 }), [], 'acked through a stand-in');
  });

  test('kindsOf counts violations per kind', () => {
    const a = put('a');
    const b = put('b');
    const vs = judge({ ops: [a, b], finals: [final([])], endMs: 100, slackMs: 0, replication: 3 });
    assert.deepEqual(kindsOf(vs), ['lost-write x2']);
  });
});
