// Read reconciliation (actors/versioning/reconcile.ts): the merge and the stale list the read coordinator and the
// client's local reads share. Concurrent writes survive as siblings, lww keeps only the newest, a replica that holds
// nothing or less than the merge is stale, and a replica that holds exactly the merge is not.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredClock } from '../actors/protocol.js';
import type { Stamped } from '../actors/types.js';
import { equal, join, newClock, newWithContext, sync, updateWith, values } from '../actors/versioning/dvv.js';
import { resolveLww, stampedEqual } from '../actors/versioning/lww.js';
import { reconcile } from '../actors/versioning/reconcile.js';

const s = (v: string, ts: number, by = 'a'): Stamped => ({ v, ts, by });
const empty: StoredClock = { entries: [], anonymous: [] };
/** a blind write coordinated by replica `id` on top of `local` (a sibling of what it holds) */
const write = (local: StoredClock, v: Stamped, id: string): StoredClock => updateWith(newClock(v), local, id);
/** a write with the context of a read of `local`: it supersedes what it read */
const overwrite = (local: StoredClock, v: Stamped, id: string): StoredClock => updateWith(newWithContext(join(local), v), local, id);

describe('reconcile', () => {
  const x = write(empty, s('x', 1), 'a');
  const y = overwrite(x, s('y', 2), 'a'); // supersedes x
  const z = write(empty, s('z', 3, 'b'), 'b'); // concurrent with x and y

  test('no replica holds the key: nothing merged, nobody stale (null and undefined both mean not found)', () => {
    assert.deepEqual(reconcile([1, 2, 3], [null, undefined, null], 'siblings'), { merged: null, stale: [] });
    assert.deepEqual(reconcile([], [], 'lww'), { merged: null, stale: [] });
  });

  test('a newer version wins over the one it supersedes; the holders of the older one and of nothing are stale', () => {
    const r = reconcile([1, 2, 3], [x, y, null], 'siblings');
    assert.ok(r.merged !== null && equal(r.merged, y));
    assert.deepEqual(values(r.merged!).map((v) => v.v), ['y']);
    assert.deepEqual(r.stale, [1, 3]);
  });

  test('concurrent versions survive as siblings and every replica missing one is stale', () => {
    const r = reconcile([4, 5], [y, z], 'siblings');
    assert.deepEqual(values(r.merged!).map((v) => v.v).sort(), ['y', 'z']);
    assert.deepEqual(r.stale, [4, 5]);
    const again = reconcile([4, 5, 6], [y, r.merged, z], 'siblings');
    assert.deepEqual(again.stale, [4, 6], 'a replica holding the merge is not stale');
  });

  test('lww keeps only the newest value, and a replica already holding that resolution is not stale', () => {
    const r = reconcile([1, 2], [y, z], 'lww');
    assert.deepEqual(values(r.merged!).map((v) => v.v), ['z']);
    const resolved = resolveLww(sync(y, z, stampedEqual));
    assert.ok(equal(r.merged!, resolved));
    assert.deepEqual(reconcile([1, 2], [resolved, y], 'lww').stale, [2]);
  });

  test('the merge does not depend on the order of the replies', () => {
    const a = reconcile([1, 2, 3], [x, z, y], 'siblings').merged!;
    const b = reconcile([3, 2, 1], [y, z, x], 'siblings').merged!;
    assert.ok(equal(a, b));
    assert.deepEqual(values(a).map((v) => v.v).sort(), values(b).map((v) => v.v).sort());
  });
});
