// Membership plans: hand-checked moving ranges on rings with explicit tokens (join, leave, replace), the ring's
// `left` nodes, validation, and properties over random rings: a key's replicas change only where the changed node is
// involved, a key moves exactly when it lies in a moving range (with that range's lists), and the fraction of keys
// that move matches the plan's prediction. Last, a movement report for 3->4, 5->6 and 6->5 nodes at vnodes 16.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fcParams } from './helpers/fc.js';
import { InvalidArgumentError, InvalidConfigError } from '../actors/errors.js';
import { DEFAULT_VNODES, keyHash, Ring, type NodeSpec } from '../actors/ring.js';
import { initialMembership, movingRanges, plan, type MembershipChange, type Plan } from '../actors/membership/plan.js';
import { contains, RangeIndex, RING_SIZE, width } from '../actors/membership/token-range.js';

const tokenNodes = (tokens: number[]): NodeSpec[] => tokens.map((t, id) => ({ id, dc: 'dc1', rack: `r${id}`, tokens: [t] }));
const sorted = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);
const summary = (p: Plan | ReturnType<typeof movingRanges>) =>
  ('moving' in p ? p.moving : p).map((r) => ({
    id: r.id, start: r.start, end: r.end, old: [...r.oldReplicas], new: [...r.newReplicas], gaining: [...r.gaining], losing: [...r.losing],
  }));

describe('membership plan: hand-checked', () => {
  // three nodes at tokens 100, 200, 300, N = 2: (300,100] -> [0,1], (100,200] -> [1,2], (200,300] -> [2,0]
  const base = initialMembership({ nodes: tokenNodes([100, 200, 300]), vnodes: 1, replication: 2 });

  test('a node at token 250 joins: it takes (100,200] from node 2 and (200,250] from node 0', () => {
    const after = base.ring.withNode({ id: 3, dc: 'dc1', rack: 'r3', tokens: [250] });
    assert.deepEqual(summary(movingRanges(base.ring, after)), [
      { id: 0, start: 100, end: 200, old: [1, 2], new: [1, 3], gaining: [3], losing: [2] },
      { id: 1, start: 200, end: 250, old: [2, 0], new: [3, 2], gaining: [3], losing: [0] },
    ]);
  });

  test('node 1 leaves: (300,100] goes to node 2, (100,200] to node 0; epoch + 1; node 1 keeps its id', () => {
    const p = plan(base, { type: 'leave', node: 1 });
    assert.equal(p.to.epoch, 2);
    assert.equal(p.node, 1);
    assert.equal(p.to.ring.nodes.length, 3);
    assert.equal(p.to.ring.isMember(1), false);
    assert.deepEqual(p.to.ring.tokensOf(1), []);
    assert.deepEqual(summary(p), [
      { id: 0, start: 300, end: 100, old: [0, 1], new: [0, 2], gaining: [2], losing: [1] },
      { id: 1, start: 100, end: 200, old: [1, 2], new: [2, 0], gaining: [0], losing: [1] },
    ]);
    assert.equal(p.movedFraction, (RING_SIZE - 300 + 100 + 100) / RING_SIZE);
  });

  test('node 1 is replaced: the new node 3 takes its token and exactly its place', () => {
    const p = plan(base, { type: 'replace', node: 1 });
    assert.equal(p.replacement, 3);
    assert.deepEqual(p.to.ring.tokensOf(3), [200]);
    assert.deepEqual(summary(p), [
      { id: 0, start: 300, end: 100, old: [0, 1], new: [0, 3], gaining: [3], losing: [1] },
      { id: 1, start: 100, end: 200, old: [1, 2], new: [3, 2], gaining: [3], losing: [1] },
    ]);
  });

  test('a join of a node that takes no key (N = 1, it lands where it owns nothing new) moves its arc only', () => {
    const m = initialMembership({ nodes: tokenNodes([100, 200]), vnodes: 1, replication: 1 });
    const after = m.ring.withNode({ id: 2, dc: 'dc1', rack: 'r2', tokens: [150] });
    assert.deepEqual(summary(movingRanges(m.ring, after)), [
      { id: 0, start: 100, end: 150, old: [1], new: [2], gaining: [2], losing: [1] },
    ]);
  });

  test('arcs that move the same way merge, across the wrap too', () => {
    // N = 1, node 0 at 10 and 4e9, node 1 at 2e9; node 0 leaves: everything becomes node 1's, one arc except (10, 2e9]
    const ring = new Ring({ nodes: [{ id: 0, dc: 'd', rack: 'a', tokens: [10, 4e9] }, { id: 1, dc: 'd', rack: 'b', tokens: [2e9] }], vnodes: 1, replication: 1 });
    const moves = movingRanges(ring, ring.withoutNode(0));
    assert.deepEqual(summary(moves), [{ id: 0, start: 2e9, end: 10, old: [0], new: [1], gaining: [1], losing: [0] }]);
    assert.equal(width(moves[0]), RING_SIZE - 2e9 + 10);
  });
});

describe('membership plan: validation and left nodes', () => {
  const m = initialMembership({ nodes: tokenNodes([100, 200, 300]), vnodes: 1, replication: 2 });
  const cases: Array<[string, MembershipChange, RegExp]> = [
    ['leave of an unknown node', { type: 'leave', node: 9 } as MembershipChange, /must be one of the ring's nodes \(0, 1, 2\); got 9/],
    ['join without a dc', { type: 'join', dc: '', rack: 'r' }, /dc must be a non-empty string/],
    ['unknown change', { type: 'grow' } as unknown as MembershipChange, /must be \{ type: 'join'/],
  ];
  for (const [name, change, message] of cases) {
    test(`${name}: typed error`, () => assert.throws(() => plan(m, change), (e: unknown) => e instanceof InvalidArgumentError && message.test(e.message)));
  }

  test('a leave that would leave a dc fewer nodes than N is refused, saying so', () => {
    const two = plan(m, { type: 'leave', node: 0 }).to;
    assert.throws(
      () => plan(two, { type: 'leave', node: 1 }),
      (e: unknown) => e instanceof InvalidArgumentError && /leave datacenter 'dc1' 1 node\(s\), fewer than its replication factor 2/.test(e.message),
    );
    assert.throws(() => plan(two, { type: 'leave', node: 0 }), InvalidArgumentError); // already left
  });

  test('epochs must be positive integers; a ring keeps at least one node', () => {
    assert.throws(() => initialMembership({ nodes: tokenNodes([1]), vnodes: 1, replication: 1 }, 0), InvalidConfigError);
    assert.throws(() => new Ring({ nodes: [{ id: 0, dc: 'd', rack: 'r', left: true }], vnodes: 1, replication: 1 }), InvalidConfigError);
  });

  test('a left node is never placed, not even as a fallback, and its rack no longer counts', () => {
    // racks: a, a, b; node 2 (the only rack b) leaves: the walk must not wait for rack b
    const nodes: NodeSpec[] = [
      { id: 0, dc: 'd', rack: 'a' }, { id: 1, dc: 'd', rack: 'a' }, { id: 2, dc: 'd', rack: 'b' }, { id: 3, dc: 'd', rack: 'a' },
    ];
    const ring = new Ring({ nodes, vnodes: 8, replication: 3 }).withoutNode(2);
    for (let i = 0; i < 500; i++) {
      const h = keyHash(`k${i}`);
      assert.deepEqual(sorted(ring.preferenceList(h)), [0, 1, 3]);
      assert.ok(ring.place(h, (n) => n !== 0).every((p) => p.node !== 2));
    }
    assert.deepEqual(ring.memberIds(), [0, 1, 3]);
  });
});

// ---- properties --------------------------------------------------------------------------------------------------

type Layout = 'rack-per-node' | 'one-rack' | 'random-racks';
const arbRing = (layout: Layout) =>
  fc
    .record({
      nodes: fc.integer({ min: 3, max: 8 }),
      vnodes: fc.integer({ min: 1, max: 32 }),
      n: fc.integer({ min: 1, max: 3 }),
      racks: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 9, maxLength: 9 }),
    })
    .map(({ nodes, vnodes, n, racks }) => {
      const rack = (id: number): string => (layout === 'one-rack' ? 'r' : layout === 'rack-per-node' ? `r${id}` : `r${racks[id]}`);
      const specs: NodeSpec[] = Array.from({ length: nodes }, (_, id) => ({ id, dc: 'dc1', rack: rack(id) }));
      return { m: initialMembership({ nodes: specs, vnodes, replication: Math.min(n, nodes - 1) }), rack: rack(nodes) };
    });

const hashes = Array.from({ length: 3000 }, (_, i) => keyHash(`prop-key-${i}`));

/** Every sampled key: in a moving range exactly when its set changes, with that range's old and new lists. */
function checkExact(p: Plan): Array<{ gained: number[]; lost: number[] }> {
  const index = new RangeIndex(p.moving);
  const out: Array<{ gained: number[]; lost: number[] }> = [];
  for (const h of [...hashes, 0, RING_SIZE - 1, ...p.moving.flatMap((r) => [r.start, r.end, (r.start + 1) % RING_SIZE])]) {
    const o = p.from.ring.preferenceList(h);
    const n = p.to.ring.preferenceList(h);
    const gained = n.filter((x) => !o.includes(x));
    const lost = o.filter((x) => !n.includes(x));
    const r = index.find(h);
    if (gained.length === 0) assert.equal(r, undefined, `key ${h} does not move but lies in range ${r?.id}`);
    else {
      assert.ok(r !== undefined && contains(r, h), `key ${h} moves but lies in no moving range`);
      assert.deepEqual([...r.oldReplicas], [...o]);
      assert.deepEqual([...r.newReplicas], [...n]);
    }
    out.push({ gained, lost });
  }
  return out;
}

describe('membership plan: properties', () => {
  for (const layout of ['rack-per-node', 'one-rack', 'random-racks'] as const) {
    test(`join (${layout}): only the new node gains; a key moves iff it lies in a moving range`, () => {
      fc.assert(
        fc.property(arbRing(layout), ({ m, rack }) => {
          const p = plan(m, { type: 'join', dc: 'dc1', rack });
          for (const { gained, lost } of checkExact(p)) {
            assert.ok(gained.every((x) => x === p.node), `gained ${gained}`);
            assert.equal(lost.length, gained.length);
          }
        }),
        fcParams(60),
      );
    });

    test(`leave (${layout}): only the leaving node loses; replace swaps exactly the replaced node`, () => {
      fc.assert(
        fc.property(arbRing(layout), fc.nat(), ({ m }, pick) => {
          const node = pick % m.ring.nodes.length;
          for (const { gained, lost } of checkExact(plan(m, { type: 'leave', node }))) {
            assert.ok(lost.every((x) => x === node), `lost ${lost}`);
            assert.equal(gained.length, lost.length);
          }
          const r = plan(m, { type: 'replace', node });
          for (const { gained, lost } of checkExact(r)) {
            assert.deepEqual([gained, lost], gained.length === 0 ? [[], []] : [[r.replacement], [node]]);
          }
        }),
        fcParams(60),
      );
    });
  }

  test('the fraction of keys moved matches the plan (100k keys, within 4 standard deviations)', () => {
    const K = 100_000;
    const keys = Array.from({ length: K }, (_, i) => keyHash(`frac-${i}`));
    fc.assert(
      fc.property(arbRing('rack-per-node'), ({ m, rack }) => {
        const p = plan(m, { type: 'join', dc: 'dc1', rack });
        const moved = countMoved(p, keys);
        const f = p.movedFraction;
        assert.ok(Math.abs(moved / K - f) <= 4 * Math.sqrt((f * (1 - f)) / K) + 1e-4, `counted ${moved / K}, predicted ${f}`);
      }),
      fcParams(10),
    );
  });
});

function countMoved(p: Plan, keys: number[]): number {
  let moved = 0;
  for (const h of keys) {
    const o = p.from.ring.preferenceList(h);
    if (p.to.ring.preferenceList(h).some((x) => !o.includes(x))) moved++;
  }
  return moved;
}

describe('membership plan: key movement report (vnodes 16, N = 3, a rack per node, 100k keys)', () => {
  test('3->4, 5->6, 6->5: counted keys moved equal the prediction; printed for the docs', () => {
    const K = 100_000;
    const keys = Array.from({ length: K }, (_, i) => keyHash(`report-${i}`));
    const ring = (n: number) => initialMembership({ nodes: Array.from({ length: n }, (_, id) => ({ id, dc: 'dc1', rack: `r${id}` })), vnodes: DEFAULT_VNODES, replication: 3 });
    const rows = ['change | keys moved (counted) | predicted | ideal | assignments moved | ideal | ranges'];
    const cases: Array<[string, Plan, number, number]> = [
      ['3 -> 4', plan(ring(3), { type: 'join', dc: 'dc1', rack: 'r3' }), 3 / 4, 1 / 4],
      ['5 -> 6', plan(ring(5), { type: 'join', dc: 'dc1', rack: 'r5' }), 3 / 6, 1 / 6],
      ['6 -> 5', plan(ring(6), { type: 'leave', node: 5 }), 3 / 6, 1 / 6],
    ];
    for (const [name, p, idealKeys, idealAssign] of cases) {
      const moved = countMoved(p, keys);
      const f = p.movedFraction;
      assert.ok(Math.abs(moved / K - f) <= 4 * Math.sqrt((f * (1 - f)) / K) + 1e-4, `${name}: counted ${moved / K}, predicted ${f}`);
      rows.push(
        `${name} | ${moved} (${(moved / K).toFixed(3)}) | ${f.toFixed(3)} | ${idealKeys.toFixed(3)} | ` +
          `${p.assignmentsMovedFraction.toFixed(3)} | ${idealAssign.toFixed(3)} | ${p.moving.length}`,
      );
    }
    console.log(`membership key movement:\n${rows.join('\n')}`);
  });
});
