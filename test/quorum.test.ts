// Quorum levels (actors/quorum/levels.ts): table-driven checks of every level in one and two datacenters, every
// rejection (messages must carry the numbers), level parsing and replication validation. The counting cores are
// tested in test/quorum-cores.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidConfigError } from '../actors/errors.js';
import {
  CONSISTENCY_LEVELS,
  type Level,
  type QuorumTopology,
  type Requirement,
  parseLevel,
  quorum,
  requirement,
  validateReplication,
} from '../actors/quorum/index.js';

const ONE_DC: QuorumTopology = { replicationByDc: { dc1: 3 }, localDc: 'dc1' };
const TWO_DC: QuorumTopology = { replicationByDc: { dc1: 3, dc2: 2 }, localDc: 'dc2' };
const TWO_DC_LOCAL1: QuorumTopology = { replicationByDc: { dc1: 3, dc2: 2 }, localDc: 'dc1' };

/** Asserts fn throws InvalidConfigError whose message contains every fragment. */
function throwsConfig(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InvalidConfigError, `expected InvalidConfigError, got ${String(e)}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `message "${e.message}" lacks "${f}"`);
    return true;
  });
}

describe('quorum()', () => {
  test('floor(n/2)+1', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(quorum), [1, 2, 2, 3, 3, 4, 4]);
  });
});

describe('requirement: every level', () => {
  const cases: Array<[string, Level, 'read' | 'write', QuorumTopology, Omit<Requirement, 'hintsCount'>, boolean?]> = [
    ['ONE, one dc', 'ONE', 'read', ONE_DC, { level: 'ONE', total: 1, perDc: {} }],
    ['TWO, one dc', 'TWO', 'write', ONE_DC, { level: 'TWO', total: 2, perDc: {} }],
    ['THREE, one dc', 'THREE', 'read', ONE_DC, { level: 'THREE', total: 3, perDc: {} }],
    ['QUORUM, one dc', 'QUORUM', 'write', ONE_DC, { level: 'QUORUM', total: 2, perDc: {} }],
    ['ALL, one dc', 'ALL', 'read', ONE_DC, { level: 'ALL', total: 3, perDc: {} }],
    ['ANY, one dc', 'ANY', 'write', ONE_DC, { level: 'ANY', total: 1, perDc: {} }, true],
    ['LOCAL_ONE, one dc', 'LOCAL_ONE', 'read', ONE_DC, { level: 'LOCAL_ONE', total: 1, perDc: { dc1: 1 } }],
    ['LOCAL_QUORUM, one dc', 'LOCAL_QUORUM', 'write', ONE_DC, { level: 'LOCAL_QUORUM', total: 2, perDc: { dc1: 2 } }],
    ['EACH_QUORUM, one dc', 'EACH_QUORUM', 'write', ONE_DC, { level: 'EACH_QUORUM', total: 2, perDc: { dc1: 2 } }],
    ['w=2, one dc', 2, 'write', ONE_DC, { level: 'w=2', total: 2, perDc: {} }],
    ['r=3, one dc', 3, 'read', ONE_DC, { level: 'r=3', total: 3, perDc: {} }],
    ['ONE, two dcs', 'ONE', 'write', TWO_DC, { level: 'ONE', total: 1, perDc: {} }],
    ['TWO, two dcs', 'TWO', 'read', TWO_DC, { level: 'TWO', total: 2, perDc: {} }],
    ['THREE, two dcs', 'THREE', 'write', TWO_DC, { level: 'THREE', total: 3, perDc: {} }],
    ['QUORUM, two dcs', 'QUORUM', 'read', TWO_DC, { level: 'QUORUM', total: 3, perDc: {} }],
    ['ALL, two dcs', 'ALL', 'write', TWO_DC, { level: 'ALL', total: 5, perDc: {} }],
    ['ANY, two dcs', 'ANY', 'write', TWO_DC, { level: 'ANY', total: 1, perDc: {} }, true],
    ['LOCAL_ONE, two dcs', 'LOCAL_ONE', 'read', TWO_DC, { level: 'LOCAL_ONE', total: 1, perDc: { dc2: 1 } }],
    ['LOCAL_QUORUM local dc2', 'LOCAL_QUORUM', 'read', TWO_DC, { level: 'LOCAL_QUORUM', total: 2, perDc: { dc2: 2 } }],
    ['LOCAL_QUORUM local dc1', 'LOCAL_QUORUM', 'write', TWO_DC_LOCAL1, { level: 'LOCAL_QUORUM', total: 2, perDc: { dc1: 2 } }],
    ['EACH_QUORUM, two dcs', 'EACH_QUORUM', 'write', TWO_DC, { level: 'EACH_QUORUM', total: 4, perDc: { dc1: 2, dc2: 2 } }],
    ['w=5, two dcs', 5, 'write', TWO_DC, { level: 'w=5', total: 5, perDc: {} }],
    ['lower case name', 'quorum' as Level, 'read', TWO_DC, { level: 'QUORUM', total: 3, perDc: {} }],
  ];
  for (const [name, level, op, topo, want, hints] of cases) {
    test(name, () => {
      assert.deepEqual(requirement(level, op, topo), { ...want, hintsCount: hints === true });
    });
  }
});

describe('requirement: rejections name the numbers', () => {
  const cases: Array<[string, () => unknown, string[]]> = [
    ['w above N', () => requirement(4, 'write', ONE_DC), ['w=4', 'N=3', 'at most 3']],
    ['r above N over two dcs', () => requirement(6, 'read', TWO_DC), ['r=6', 'N=5']],
    ['zero', () => requirement(0, 'write', ONE_DC), ['w=0', 'positive integer']],
    ['negative', () => requirement(-2, 'read', ONE_DC), ['r=-2', 'positive integer']],
    ['non-integer', () => requirement(1.5, 'write', ONE_DC), ['w=1.5']],
    ['NaN', () => requirement(NaN, 'write', ONE_DC), ['w=NaN']],
    ['TWO beyond N', () => requirement('TWO', 'write', { replicationByDc: { dc1: 1 }, localDc: 'dc1' }), ['TWO', '2', 'N=1']],
    ['THREE beyond N', () => requirement('THREE', 'read', { replicationByDc: { a: 1, b: 1 }, localDc: 'a' }), ['THREE', '3', 'N=2']],
    ['ANY read', () => requirement('ANY', 'read', ONE_DC), ['ANY', 'writes only']],
    ['unknown local dc', () => requirement('ONE', 'read', { replicationByDc: { dc1: 3 }, localDc: 'dc9' }), ['dc9', 'dc1']],
    ['unknown level', () => requirement('MOST' as Level, 'read', ONE_DC), ['MOST', 'LOCAL_QUORUM', 'positive integer r']],
    ['N zero in topology', () => requirement('ONE', 'read', { replicationByDc: { dc1: 0 }, localDc: 'dc1' }), ['dc1', ' 0']],
    ['no dcs', () => requirement('ONE', 'read', { replicationByDc: {}, localDc: 'dc1' }), ['no datacenter']],
  ];
  for (const [name, fn, fragments] of cases) test(name, () => throwsConfig(fn, ...fragments));
});

describe('parseLevel', () => {
  const accepted: Array<[unknown, 'read' | 'write', Level]> = [
    ['quorum', 'read', 'QUORUM'],
    ['Local_Quorum', 'write', 'LOCAL_QUORUM'],
    ['local-one', 'read', 'LOCAL_ONE'],
    [' each_quorum ', 'write', 'EACH_QUORUM'],
    ['any', 'write', 'ANY'],
    ['2', 'write', 2],
    [3, 'read', 3],
  ];
  for (const [input, what, want] of accepted) {
    test(`accepts ${JSON.stringify(input)} for ${what}`, () => assert.equal(parseLevel(input, what), want));
  }
  test('accepts every level name for writes, all but ANY for reads', () => {
    for (const l of CONSISTENCY_LEVELS) {
      assert.equal(parseLevel(l.toLowerCase(), 'write'), l);
      if (l !== 'ANY') assert.equal(parseLevel(l, 'read'), l);
    }
  });
  const rejected: Array<[unknown, 'read' | 'write', string[]]> = [
    ['any', 'read', ['ANY', 'writes only']],
    ['sometimes', 'write', ['"sometimes"', 'ONE', 'EACH_QUORUM', 'positive integer w']],
    ['', 'read', ['""']],
    [0, 'write', ['w=0']],
    ['0', 'read', ['r=0']],
    [-1, 'read', ['r=-1']],
    [2.5, 'write', ['w=2.5']],
    ['2.5', 'write', ['w=2.5']],
    [NaN, 'read', ['r=NaN']],
    [Infinity, 'write', ['w=Infinity']],
    [null, 'read', ['null', 'ONE']],
    [{}, 'write', ['object']],
  ];
  for (const [input, what, fragments] of rejected) {
    test(`rejects ${String(input)} for ${what}`, () => throwsConfig(() => parseLevel(input, what), ...fragments));
  }
  test('the read list omits ANY', () => {
    assert.throws(() => parseLevel('x', 'read'), (e: Error) => !e.message.includes('ANY'));
  });
});

describe('validateReplication', () => {
  test('accepts N up to the nodes in each dc', () => {
    validateReplication({ dc1: 3 }, { dc1: 3 });
    validateReplication({ dc1: 3, dc2: 2 }, { dc1: 5, dc2: 2, dc3: 4 });
  });
  const rejected: Array<[string, Record<string, number>, Record<string, number>, string[]]> = [
    ['N above nodes', { dc1: 4 }, { dc1: 3 }, ['N=4', 'dc1', '3 nodes']],
    ['N zero', { dc1: 0 }, { dc1: 3 }, ['dc1', ' 0', 'positive integer']],
    ['N negative', { dc1: 3, dc2: -1 }, { dc1: 3, dc2: 3 }, ['dc2', '-1']],
    ['N non-integer', { dc1: 1.5 }, { dc1: 3 }, ['dc1', '1.5']],
    ['dc absent from nodes', { dc1: 2, dc2: 1 }, { dc1: 3 }, ['dc2', 'no nodes', 'dc1']],
    ['dc with zero nodes', { dc2: 1 }, { dc1: 3, dc2: 0 }, ['dc2', 'no nodes']],
    ['no dcs', {}, { dc1: 3 }, ['no datacenter']],
  ];
  for (const [name, repl, nodes, fragments] of rejected) {
    test(name, () => throwsConfig(() => validateReplication(repl, nodes), ...fragments));
  }
});
