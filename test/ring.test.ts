// Ring tests: hand-checked tables on rings with explicit tokens, property tests against a naive NetworkTopologyStrategy
// model and the laws of place(), and a balance / movement report over 100k synthetic keys (printed for the docs).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fcParams } from './helpers/fc.js';
import { InvalidArgumentError, InvalidConfigError } from '../actors/errors.js';
import { DEFAULT_VNODES, keyHash, nodeTokens, Ring, type NodeSpec, type RingConfig } from '../actors/ring.js';
import { hash32 } from '../actors/hash.js';

// ---- helpers -------------------------------------------------------------------------------------------------------

/** Nodes with one explicit token each: node i at tokens[i], in dc/rack given by the layout strings. */
function tokenNodes(tokens: number[], dcs?: string[], racks?: string[]): NodeSpec[] {
  return tokens.map((t, id) => ({ id, dc: dcs?.[id] ?? 'dc1', rack: racks?.[id] ?? `r${id}`, tokens: [t] }));
}

/** Naive NetworkTopologyStrategy: sort every token, walk clockwise with Sets, order by first meeting. */
function naivePreferenceList(config: RingConfig, h: number): number[] {
  const vnodes = config.vnodes;
  const ring = config.nodes
    .flatMap((n) => (n.tokens ?? nodeTokens(n.id, vnodes)).map((token, i) => ({ token, node: n.id, i })))
    .sort((a, b) => a.token - b.token || a.node - b.node || a.i - b.i);
  let start = ring.findIndex((e) => e.token >= h);
  if (start < 0) start = 0;
  const dcs = [...new Set(config.nodes.map((n) => n.dc))];
  const need: Record<string, number> =
    typeof config.replication === 'number' ? { [dcs[0]]: config.replication } : config.replication;
  const racksOf = (dc: string) => new Set(config.nodes.filter((n) => n.dc === dc).map((n) => n.rack));
  const chosen: number[] = [];
  const metAt = new Map<number, number>();
  const usedRacks = new Map<string, Set<string>>(dcs.map((dc) => [dc, new Set<string>()]));
  const aside = new Map<string, number[]>(dcs.map((dc) => [dc, []]));
  const count = (dc: string) => chosen.filter((c) => config.nodes[c].dc === dc).length;
  for (let s = 0; s < ring.length; s++) {
    const node = ring[(start + s) % ring.length].node;
    const { dc, rack } = config.nodes[node];
    if (metAt.has(node) || count(dc) >= (need[dc] ?? 0)) continue;
    metAt.set(node, s);
    const used = usedRacks.get(dc)!;
    if (used.size === racksOf(dc).size) chosen.push(node);
    else if (used.has(rack)) aside.get(dc)!.push(node);
    else {
      used.add(rack);
      chosen.push(node);
      if (used.size === racksOf(dc).size) for (const a of aside.get(dc)!) if (count(dc) < need[dc]) chosen.push(a);
    }
  }
  return chosen.sort((a, b) => metAt.get(a)! - metAt.get(b)!);
}

/** A random valid ring: 1..12 nodes over 1..3 dcs and 1..4 racks per dc, N per dc in range, some dcs unreplicated. */
const ringConfigArb: fc.Arbitrary<RingConfig> = fc
  .record({
    layout: fc.array(fc.tuple(fc.nat(2), fc.nat(3)), { minLength: 1, maxLength: 12 }),
    vnodes: fc.integer({ min: 1, max: 24 }),
    nSeeds: fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
    omit: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    plainNumber: fc.boolean(),
  })
  .map(({ layout, vnodes, nSeeds, omit, plainNumber }) => {
    const nodes = layout.map(([dc, rack], id) => ({ id, dc: `dc${dc}`, rack: `rack${rack}` }));
    const dcs = [...new Set(nodes.map((n) => n.dc))].sort();
    const sizeOf = (dc: string) => nodes.filter((n) => n.dc === dc).length;
    const byDc: Record<string, number> = {};
    dcs.forEach((dc, i) => {
      if (i === 0 || !omit[i]) byDc[dc] = 1 + (nSeeds[i] % sizeOf(dc));
    });
    const replication = dcs.length === 1 && plainNumber ? byDc[dcs[0]] : byDc;
    return { nodes, vnodes, replication };
  });

const hashArb = fc.nat({ max: 0xffffffff });
const dcOf = (ring: Ring, node: number) => ring.nodes[node].dc;

// ---- tables --------------------------------------------------------------------------------------------------------

describe('ring: hand-checked preference lists', () => {
  const cases: Array<{ name: string; config: RingConfig; h: number; want: number[] }> = [
    { name: 'between tokens', config: { nodes: tokenNodes([100, 200, 300, 400]), vnodes: 1, replication: 3 }, h: 150, want: [1, 2, 3] },
    { name: 'on a token (first token >= h)', config: { nodes: tokenNodes([100, 200, 300, 400]), vnodes: 1, replication: 3 }, h: 200, want: [1, 2, 3] },
    { name: 'wraps past the last token', config: { nodes: tokenNodes([100, 200, 300, 400]), vnodes: 1, replication: 3 }, h: 450, want: [0, 1, 2] },
    { name: 'hash 0', config: { nodes: tokenNodes([100, 200, 300, 400]), vnodes: 1, replication: 2 }, h: 0, want: [0, 1] },
    { name: 'max hash wraps', config: { nodes: tokenNodes([100, 200, 300, 400]), vnodes: 1, replication: 1 }, h: 0xffffffff, want: [0] },
    { name: 'wrap keeps ring order', config: { nodes: tokenNodes([100, 200, 300, 400]), vnodes: 1, replication: 3 }, h: 350, want: [3, 0, 1] },
    {
      name: 'rack already used: skip to the next rack',
      config: { nodes: tokenNodes([100, 200, 300, 400], undefined, ['a', 'a', 'b', 'b']), vnodes: 1, replication: 2 },
      h: 50,
      want: [0, 2],
    },
    {
      name: 'every rack used: the skipped node comes back, listed in ring order',
      config: { nodes: tokenNodes([100, 200, 300, 400], undefined, ['a', 'a', 'b', 'b']), vnodes: 1, replication: 3 },
      h: 50,
      want: [0, 1, 2],
    },
    {
      name: 'three racks, N=3: one node per rack',
      config: { nodes: tokenNodes([10, 20, 30, 40, 50, 60], undefined, ['a', 'a', 'b', 'b', 'c', 'c']), vnodes: 1, replication: 3 },
      h: 15,
      want: [1, 2, 4],
    },
    {
      name: 'two dcs, one replica each',
      config: { nodes: tokenNodes([100, 200, 300, 400], ['A', 'B', 'A', 'B']), vnodes: 1, replication: { A: 1, B: 1 } },
      h: 250,
      want: [2, 3],
    },
    {
      name: 'two dcs, N per dc 2 and 1',
      config: { nodes: tokenNodes([100, 200, 300, 400, 500], ['A', 'A', 'B', 'A', 'B']), vnodes: 1, replication: { A: 2, B: 1 } },
      h: 150,
      want: [1, 2, 3],
    },
    {
      name: 'an unreplicated dc is skipped',
      config: { nodes: tokenNodes([100, 200, 300, 400], ['A', 'C', 'A', 'C']), vnodes: 1, replication: { A: 2 } },
      h: 150,
      want: [2, 0],
    },
    {
      name: 'vnodes: a node met twice counts once',
      config: { nodes: [{ id: 0, dc: 'd', rack: 'r', tokens: [10, 20] }, { id: 1, dc: 'd', rack: 'r', tokens: [30] }], vnodes: 2, replication: 2 },
      h: 5,
      want: [0, 1],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const ring = new Ring(c.config);
      assert.deepEqual([...ring.preferenceList(c.h)], c.want);
      assert.deepEqual(naivePreferenceList(c.config, c.h), c.want);
    });
  }
});

describe('ring: hand-checked place()', () => {
  const four: RingConfig = { nodes: tokenNodes([100, 200, 300, 400]), vnodes: 1, replication: 2 };
  const twoDc: RingConfig = {
    nodes: tokenNodes([100, 200, 300, 400, 500, 600], ['A', 'B', 'B', 'A', 'B', 'A']),
    vnodes: 1,
    replication: { A: 1, B: 1 },
  };
  const cases: Array<{ name: string; config: RingConfig; h: number; down: number[]; want: string[] }> = [
    { name: 'all up', config: four, h: 50, down: [], want: ['0', '1'] },
    { name: 'first primary down', config: four, h: 50, down: [0], want: ['1', '2>0'] },
    { name: 'both down', config: four, h: 50, down: [0, 1], want: ['2>0', '3>1'] },
    { name: 'fallback skips a down node', config: four, h: 50, down: [0, 2], want: ['1', '3>0'] },
    { name: 'too few healthy nodes: shorter list', config: four, h: 50, down: [0, 1, 2], want: ['3>0'] },
    { name: 'nothing up', config: four, h: 50, down: [0, 1, 2, 3], want: [] },
    // primaries of h=50: 0 (A), 1 (B); next on the ring: 2 (B), 3 (A): node 0's stand-in must be 3, same dc
    { name: 'same dc preferred over nearer node', config: twoDc, h: 50, down: [0], want: ['1', '3>0'] },
    { name: 'each dc its own', config: twoDc, h: 50, down: [0, 1], want: ['3>0', '2>1'] },
    // dc A has nodes 0, 3, 5; with 0, 3, 5 all down nothing in A is left: take the first B node not listed
    { name: 'no node left in the dc: any dc', config: twoDc, h: 50, down: [0, 3, 5], want: ['1', '2>0'] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const ring = new Ring(c.config);
      const got = ring.place(c.h, (n) => !c.down.includes(n));
      assert.deepEqual(got.map((p) => (p.primary ? `${p.node}` : `${p.node}>${p.hintFor}`)), c.want);
      for (const p of got) assert.equal(p.dc, dcOf(ring, p.node));
    });
  }
});

describe('ring: configuration is validated', () => {
  const n3 = (dc = 'd') => [0, 1, 2].map((id) => ({ id, dc, rack: 'r' }));
  const bad: Array<[string, RingConfig, RegExp]> = [
    ['no nodes', { nodes: [], vnodes: 16, replication: 1 }, /nodes/],
    ['vnodes 0', { nodes: n3(), vnodes: 0, replication: 1 }, /vnodes/],
    ['vnodes 4097', { nodes: n3(), vnodes: 4097, replication: 1 }, /vnodes/],
    ['vnodes 1.5', { nodes: n3(), vnodes: 1.5, replication: 1 }, /vnodes/],
    ['N 0', { nodes: n3(), vnodes: 4, replication: 0 }, /1\.\.3/],
    ['N above nodes', { nodes: n3(), vnodes: 4, replication: 4 }, /1\.\.3/],
    ['N not an integer', { nodes: n3(), vnodes: 4, replication: 2.5 }, /integer/],
    ['unknown dc', { nodes: n3(), vnodes: 4, replication: { d: 1, east: 1 } }, /east/],
    ['N above dc size', { nodes: [...n3('a'), { id: 3, dc: 'b', rack: 'r' }], vnodes: 4, replication: { a: 1, b: 2 } }, /'b'/],
    ['plain N with two dcs', { nodes: [...n3('a'), { id: 3, dc: 'b', rack: 'r' }], vnodes: 4, replication: 1 }, /per datacenter/],
    ['empty record', { nodes: n3(), vnodes: 4, replication: {} }, /non-empty/],
    ['ids out of order', { nodes: [{ id: 1, dc: 'd', rack: 'r' }], vnodes: 4, replication: 1 }, /ids/],
    ['empty rack', { nodes: [{ id: 0, dc: 'd', rack: '' }], vnodes: 4, replication: 1 }, /rack/],
    ['bad explicit token', { nodes: [{ id: 0, dc: 'd', rack: 'r', tokens: [-1] }], vnodes: 4, replication: 1 }, /tokens/],
  ];
  for (const [name, config, message] of bad) {
    test(name, () => assert.throws(() => new Ring(config), (e: unknown) => e instanceof InvalidConfigError && message.test(e.message)));
  }
  test('defaults and derived fields', () => {
    const ring = new Ring({ nodes: [...n3('a'), { id: 3, dc: 'b', rack: 'r' }], vnodes: DEFAULT_VNODES, replication: { a: 2, b: 1 } });
    assert.equal(DEFAULT_VNODES, 16);
    assert.deepEqual(ring.replicationByDc, { a: 2, b: 1 });
    assert.equal(ring.totalReplicas, 3);
    assert.equal(ring.tokenCount, 64);
    assert.deepEqual(new Ring({ nodes: n3(), vnodes: 4, replication: 2 }).replicationByDc, { d: 2 });
  });
  test('bad arguments', () => {
    const ring = new Ring({ nodes: n3(), vnodes: 4, replication: 2 });
    for (const h of [-1, 1.5, 2 ** 32, NaN]) assert.throws(() => ring.preferenceList(h), InvalidArgumentError);
    assert.throws(() => ring.withNode({ id: 7, dc: 'd', rack: 'r' }), InvalidConfigError);
    assert.throws(() => ring.tokensOf(3), InvalidArgumentError);
  });
  test('keyHash is hash32 and tokens derive from the id alone', () => {
    assert.equal(keyHash('user:1'), hash32('user:1'));
    assert.deepEqual(nodeTokens(3, 2), [hash32('3#0'), hash32('3#1')]);
    const ring = new Ring({ nodes: n3(), vnodes: 4, replication: 1 });
    assert.deepEqual(ring.tokensOf(2), [...nodeTokens(2, 4)].sort((a, b) => a - b));
  });
});

// ---- properties ----------------------------------------------------------------------------------------------------

describe('ring: properties', () => {
  test('preference list equals the naive model; N distinct nodes per dc; racks spread maximally', () => {
    fc.assert(
      fc.property(ringConfigArb, fc.array(hashArb, { minLength: 1, maxLength: 8 }), (config, hashes) => {
        const ring = new Ring(config);
        for (const h of hashes) {
          const list = ring.preferenceList(h);
          assert.deepEqual([...list], naivePreferenceList(config, h));
          assert.equal(new Set(list).size, list.length);
          assert.equal(list.length, ring.totalReplicas);
          for (const dc of new Set(config.nodes.map((n) => n.dc))) {
            const inDc = list.filter((n) => dcOf(ring, n) === dc);
            assert.equal(inDc.length, ring.replicationByDc[dc] ?? 0);
            const racksInDc = new Set(config.nodes.filter((n) => n.dc === dc).map((n) => n.rack)).size;
            const racksUsed = new Set(inDc.map((n) => ring.nodes[n].rack)).size;
            assert.equal(racksUsed, Math.min(inDc.length, racksInDc));
          }
          assert.equal(ring.preferenceList(h), list, 'the same precomputed array every call');
          assert.ok(Object.isFrozen(list));
        }
      }),
      fcParams(200),
    );
  });

  test('place(): no down node, no duplicate, every up primary, length min(N, up), dc preferred, all-up = primaries', () => {
    fc.assert(
      fc.property(ringConfigArb, hashArb, fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }), (config, h, upBits) => {
        const ring = new Ring(config);
        const isUp = (n: number) => upBits[n];
        const primaries = ring.preferenceList(h);
        const got = ring.place(h, isUp);
        const listed = got.map((p) => p.node);
        assert.equal(new Set(listed).size, listed.length, 'no node twice');
        for (const p of got) assert.ok(isUp(p.node), `down node ${p.node} listed`);
        const upPrimaries = primaries.filter(isUp);
        assert.deepEqual(got.filter((p) => p.primary).map((p) => p.node), upPrimaries, 'up primaries, ring order');
        assert.deepEqual(got.slice(0, upPrimaries.length).map((p) => p.primary), upPrimaries.map(() => true), 'primaries first');
        const upCount = config.nodes.filter((n) => isUp(n.id)).length;
        assert.equal(got.length, Math.min(ring.totalReplicas, upCount));
        const hinted = got.filter((p) => !p.primary).map((p) => p.hintFor!);
        assert.equal(new Set(hinted).size, hinted.length, 'one stand-in per down primary');
        for (const d of hinted) assert.ok(primaries.includes(d) && !isUp(d));
        for (const p of got.filter((q) => !q.primary && q.dc !== dcOf(ring, q.hintFor!))) {
          const dc = dcOf(ring, p.hintFor!);
          const idleInDc = config.nodes.filter((n) => n.dc === dc && isUp(n.id) && !listed.includes(n.id));
          assert.deepEqual(idleInDc, [], `stand-in for ${p.hintFor} left dc ${dc} though a node there was free`);
        }
        const allUp = ring.place(h, () => true);
        assert.deepEqual(allUp, primaries.map((node) => ({ node, dc: dcOf(ring, node), primary: true })));
      }),
      fcParams(300),
    );
  });

  test('withNode: old tokens unchanged; keys move only to the new node (one rack, or a rack per node)', () => {
    fc.assert(
      fc.property(ringConfigArb, fc.boolean(), fc.nat(2), fc.array(hashArb, { minLength: 1, maxLength: 20 }), (config, oneRack, dcPick, hashes) => {
        const nodes = config.nodes.map((n) => ({ ...n, rack: oneRack ? 'r' : `r${n.id}` }));
        const ring = new Ring({ ...config, nodes });
        const dcs = Object.keys(ring.replicationByDc);
        const dc = dcs[dcPick % dcs.length];
        const id = nodes.length;
        const grown = ring.withNode({ id, dc, rack: oneRack ? 'r' : `r${id}` });
        for (let n = 0; n < nodes.length; n++) assert.deepEqual(grown.tokensOf(n), ring.tokensOf(n));
        for (const h of hashes) {
          const before = ring.preferenceList(h);
          const after = grown.preferenceList(h);
          const gained = after.filter((n) => !before.includes(n));
          const lost = before.filter((n) => !after.includes(n));
          assert.ok(gained.every((n) => n === id), `key ${h} moved to old node(s) ${gained}`);
          assert.equal(lost.length, gained.length);
          assert.ok(lost.every((n) => dcOf(ring, n) === dc), 'only the new node\'s dc gives up a replica');
        }
      }),
      fcParams(200),
    );
  });
});

// ---- balance and movement report -----------------------------------------------------------------------------------

describe('ring: load balance and key movement (report)', () => {
  const KEY_COUNT = 100_000;
  const hashes = new Uint32Array(KEY_COUNT);
  for (let i = 0; i < KEY_COUNT; i++) hashes[i] = keyHash(`key:${i}`);
  const flat = (count: number): NodeSpec[] => Array.from({ length: count }, (_, id) => ({ id, dc: 'dc1', rack: `r${id}` }));
  const maxOverMean = (counts: number[]) => Math.max(...counts) / (counts.reduce((a, b) => a + b, 0) / counts.length);

  test('max/mean keys per node over vnodes', () => {
    const rows: string[] = ['vnodes | 5 nodes N=1 | 10 nodes N=1 | 5 nodes N=3 | 10 nodes N=3'];
    const at256: number[] = [];
    for (const vnodes of [1, 4, 16, 64, 256]) {
      const cells: string[] = [];
      for (const replication of [1, 3]) {
        for (const count of [5, 10]) {
          const ratio = maxOverMean(new Ring({ nodes: flat(count), vnodes, replication }).ownership(hashes));
          cells.push(ratio.toFixed(3));
          if (vnodes === 256 && replication === 1) at256.push(ratio);
        }
      }
      rows.push(`${String(vnodes).padStart(6)} | ${cells.map((c) => c.padStart(11)).join(' | ')}`);
    }
    console.log(`ring balance, max/mean keys per node, ${KEY_COUNT} keys:\n${rows.join('\n')}`);
    for (const r of at256) assert.ok(r < 1.25, `max/mean ${r} at vnodes=256`);
  });

  test('a 6th node joining 5 at N=3 takes about its fair share, only to itself', () => {
    const N = 3;
    const rows: string[] = ['vnodes | keys moved (fair 0.500) | assignments moved (fair 0.167) | new node share'];
    for (const vnodes of [1, 4, 16, 64, 256]) {
      const before = new Ring({ nodes: flat(5), vnodes, replication: N });
      const after = before.withNode({ id: 5, dc: 'dc1', rack: 'r5' });
      let keysMoved = 0;
      let moved = 0;
      for (const h of hashes) {
        const old = before.preferenceList(h);
        const gained = after.preferenceList(h).filter((n) => !old.includes(n));
        assert.ok(gained.every((n) => n === 5), 'no movement between old nodes');
        moved += gained.length;
        if (gained.length > 0) keysMoved++;
      }
      const keyFraction = keysMoved / KEY_COUNT;
      const assignmentFraction = moved / (KEY_COUNT * N);
      rows.push(`${String(vnodes).padStart(6)} | ${keyFraction.toFixed(3).padStart(22)} | ${assignmentFraction.toFixed(3).padStart(29)} | ${(after.ownership(hashes)[5] / KEY_COUNT).toFixed(3)}`);
      if (vnodes >= 16) {
        // fair: the new node takes N/(n+1) of keys, 1/(n+1) of (key, replica) slots; measured within 1.25x
        assert.ok(keyFraction <= 1.3 * (N / 6), `keys moved ${keyFraction} at vnodes=${vnodes}`);
        assert.ok(assignmentFraction <= 1.3 * (1 / 6), `assignments moved ${assignmentFraction} at vnodes=${vnodes}`);
        assert.ok(assignmentFraction >= 0.7 * (1 / 6), `new node took too little: ${assignmentFraction}`);
      }
    }
    console.log(`ring movement, 5 -> 6 nodes, N=${N}, ${KEY_COUNT} keys:\n${rows.join('\n')}`);
  });
});
