// The counting cores (actors/quorum/put-core.ts, get-core.ts): scripted reply sequences for the put and get cores
// (fallbacks with sloppy on and off, ANY, timeouts, a primary's seat filled once), and a property test in the manner
// of etcd raft's quorum/quick_test.go: the incremental cores against a dumb brute-force model over random
// requirements, targets and reply sequences. Levels are tested in test/quorum.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidArgumentError } from '../actors/errors.js';
import {
  CONSISTENCY_LEVELS,
  type CoreStatus,
  type Level,
  type QuorumTopology,
  type Requirement,
  type Target,
  getAddReply,
  getOutcome,
  getStatus,
  getTimeout,
  newGetCore,
  newPutCore,
  putAddReply,
  putOutcome,
  putStatus,
  putTimeout,
  requirement,
} from '../actors/quorum/index.js';
import { fcParams } from './helpers/fc.js';

const ONE_DC: QuorumTopology = { replicationByDc: { dc1: 3 }, localDc: 'dc1' };
const TWO_DC: QuorumTopology = { replicationByDc: { dc1: 3, dc2: 2 }, localDc: 'dc2' };

// ---------------------------------------------------------------------------------------------------------------
// Scripted core cases

const P = (node: number, dc = 'dc1'): Target => ({ node, dc, primary: true });
const F = (node: number, dc = 'dc1'): Target => ({ node, dc, primary: false });

interface PutCase {
  name: string;
  req: Requirement;
  targets: Target[];
  sloppy: boolean;
  /** status before any reply */
  initial: CoreStatus;
  /** [node, ok, status after] */
  script: Array<[number, boolean, CoreStatus]>;
  acked: number[];
  primaryOnly: boolean;
  message?: string[];
}

const W = (k: number, topo = ONE_DC): Requirement => requirement(k, 'write', topo);
const L = (l: Level, topo = ONE_DC, op: 'read' | 'write' = 'write'): Requirement => requirement(l, op, topo);
const twoDc = [P(0), P(1), P(2), P(3, 'dc2'), P(4, 'dc2')];

const putCases: PutCase[] = [
  {
    name: 'w=2 of 3 primaries: ok at the second ack',
    req: W(2), targets: [P(0), P(1), P(2)], sloppy: false, initial: 'pending',
    script: [[0, true, 'pending'], [2, true, 'ok'], [1, false, 'ok']],
    acked: [0, 2], primaryOnly: true,
  },
  {
    name: 'w=3: one error makes it impossible at once',
    req: W(3), targets: [P(0), P(4), P(1)], sloppy: false, initial: 'pending',
    script: [[0, true, 'pending'], [4, true, 'pending'], [1, false, 'failed']],
    acked: [0, 4], primaryOnly: true,
    message: ['write needed 3 acks (w=3), got 2 from nodes 0,4; nodes 1 failed; 0 still pending'],
  },
  {
    name: 'QUORUM: two errors of three fail before the third answers',
    req: L('QUORUM'), targets: [P(0), P(1), P(2)], sloppy: false, initial: 'pending',
    script: [[1, false, 'pending'], [2, false, 'failed'], [0, true, 'failed']],
    acked: [0], primaryOnly: true, message: ['needed 2 acks (QUORUM)', 'nodes 1,2 failed'],
  },
  {
    name: 'duplicates and unknown nodes are ignored',
    req: W(2), targets: [P(0), P(1), P(2)], sloppy: false, initial: 'pending',
    script: [[0, true, 'pending'], [0, true, 'pending'], [9, true, 'pending'], [0, false, 'pending'], [1, true, 'ok']],
    acked: [0, 1], primaryOnly: true,
  },
  {
    name: 'strict: a fallback ack does not count',
    req: W(2), targets: [P(0), F(5), P(2)], sloppy: false, initial: 'pending',
    script: [[5, true, 'pending'], [0, true, 'pending'], [2, true, 'ok']],
    acked: [0, 2], primaryOnly: true,
  },
  {
    name: 'strict: too few primaries fails from the start',
    req: W(2), targets: [P(0), F(5), F(6)], sloppy: false, initial: 'failed',
    script: [[5, true, 'failed'], [0, true, 'failed'], [6, true, 'failed']],
    acked: [0], primaryOnly: true,
    message: ['got 1 from nodes 0', 'fallbacks 5,6 acked but do not count', '2 fallback targets cannot count'],
  },
  {
    name: 'sloppy: fallback acks count, primaryOnly false',
    req: W(2), targets: [P(0), F(5), F(6)], sloppy: true, initial: 'pending',
    script: [[0, false, 'pending'], [5, true, 'pending'], [6, true, 'ok']],
    acked: [5, 6], primaryOnly: false,
  },
  {
    name: 'fewer targets than needed fails from the start',
    req: W(3), targets: [P(0), P(1)], sloppy: true, initial: 'failed',
    script: [[0, true, 'failed'], [1, true, 'failed']],
    acked: [0, 1], primaryOnly: true, message: ['needed 3 acks', 'got 2'],
  },
  {
    name: 'ANY: a hint on a fallback counts with sloppy off',
    req: L('ANY'), targets: [P(0), P(1), F(7)], sloppy: false, initial: 'pending',
    script: [[0, false, 'pending'], [1, false, 'pending'], [7, true, 'ok']],
    acked: [7], primaryOnly: false,
  },
  {
    name: 'ANY: every target failing fails',
    req: L('ANY'), targets: [P(0), F(7)], sloppy: false, initial: 'pending',
    script: [[7, false, 'pending'], [0, false, 'failed']],
    acked: [], primaryOnly: true, message: ['needed 1 acks (ANY), got 0;', 'nodes 0,7 failed'],
  },
  {
    name: 'LOCAL_QUORUM dc2: remote acks do not help',
    req: L('LOCAL_QUORUM', TWO_DC), targets: twoDc, sloppy: false, initial: 'pending',
    script: [[0, true, 'pending'], [1, true, 'pending'], [2, true, 'pending'], [3, true, 'pending'], [4, true, 'ok']],
    acked: [0, 1, 2, 3, 4], primaryOnly: true,
  },
  {
    name: 'LOCAL_QUORUM dc2: one local error fails (N_local=2 needs both)',
    req: L('LOCAL_QUORUM', TWO_DC), targets: twoDc, sloppy: false, initial: 'pending',
    script: [[3, true, 'pending'], [4, false, 'failed']],
    acked: [3], primaryOnly: true, message: ['2 in dc2', 'dc2 has 1 of 2'],
  },
  {
    name: 'LOCAL_ONE dc2',
    req: L('LOCAL_ONE', TWO_DC, 'read'), targets: twoDc, sloppy: false, initial: 'pending',
    script: [[0, true, 'pending'], [4, true, 'ok']],
    acked: [0, 4], primaryOnly: true,
  },
  {
    name: 'EACH_QUORUM: needs 2 in dc1 and 2 in dc2',
    req: L('EACH_QUORUM', TWO_DC), targets: twoDc, sloppy: false, initial: 'pending',
    script: [[0, true, 'pending'], [1, true, 'pending'], [2, true, 'pending'], [3, true, 'pending'], [4, true, 'ok']],
    acked: [0, 1, 2, 3, 4], primaryOnly: true,
  },
  {
    name: 'EACH_QUORUM: two dc1 errors fail though the total could still be met',
    req: L('EACH_QUORUM', TWO_DC), targets: twoDc, sloppy: false, initial: 'pending',
    script: [[3, true, 'pending'], [4, true, 'pending'], [0, false, 'pending'], [1, false, 'failed']],
    acked: [3, 4], primaryOnly: true, message: ['dc1 has 0 of 2'],
  },
  {
    name: 'EACH_QUORUM: a sloppy fallback in dc2 stands in for a dc2 primary',
    req: L('EACH_QUORUM', TWO_DC), targets: [...twoDc, F(8, 'dc2')], sloppy: true, initial: 'pending',
    script: [[0, true, 'pending'], [1, true, 'pending'], [4, false, 'pending'], [3, true, 'pending'], [8, true, 'ok']],
    acked: [0, 1, 3, 8], primaryOnly: false,
  },
  {
    name: 'EACH_QUORUM: no target in dc2 fails from the start',
    req: L('EACH_QUORUM', TWO_DC), targets: [P(0), P(1), P(2), F(5), F(6)], sloppy: true, initial: 'failed',
    script: [], acked: [], primaryOnly: true,
  },
  {
    name: 'ALL over two dcs',
    req: L('ALL', TWO_DC), targets: twoDc, sloppy: false, initial: 'pending',
    script: [[0, true, 'pending'], [1, true, 'pending'], [2, true, 'pending'], [3, true, 'pending'], [4, false, 'failed']],
    acked: [0, 1, 2, 3], primaryOnly: true,
  },
];

describe('put core: scripted replies', () => {
  for (const c of putCases) {
    test(c.name, () => {
      const core = newPutCore(c.req, c.targets, { sloppy: c.sloppy });
      assert.equal(putStatus(core), c.initial);
      c.script.forEach(([node, ok, want], step) => {
        putAddReply(core, node, ok);
        assert.equal(putStatus(core), want, `after step ${step} (node ${node} ${ok ? 'ok' : 'error'})`);
      });
      const o = putOutcome(core);
      assert.equal(o.ok, putStatus(core) === 'ok');
      assert.deepEqual(o.ackedNodes, c.acked);
      assert.equal(o.acked, c.acked.length);
      assert.equal(o.needed, c.req.total);
      assert.equal(o.primaryOnly, c.primaryOnly);
      for (const fragment of c.message ?? []) assert.ok(o.message.includes(fragment), `"${o.message}" lacks "${fragment}"`);
    });
  }
});

describe('timeouts', () => {
  test('put: pending targets become timed out and the message says so', () => {
    const core = newPutCore(W(2), [P(0), P(1), P(2)], { sloppy: false });
    putAddReply(core, 0, true);
    const o = putTimeout(core);
    assert.equal(o.ok, false);
    assert.equal(putStatus(core), 'failed');
    assert.deepEqual(o.timedOutNodes, [1, 2]);
    assert.deepEqual(o.failedNodes, [1, 2]);
    assert.deepEqual(o.pendingNodes, []);
    assert.match(o.message, /needed 2 acks \(w=2\), got 1 from nodes 0; no node failed; timed out waiting for nodes 1,2/);
    putAddReply(core, 1, true); // a late ack is ignored: the answer is already out
    assert.equal(putStatus(core), 'failed');
  });
  test('put: a timeout after success keeps ok', () => {
    const core = newPutCore(W(1), [P(0), P(1)], { sloppy: false });
    putAddReply(core, 1, true);
    const o = putTimeout(core);
    assert.equal(o.ok, true);
    assert.deepEqual(o.timedOutNodes, [0]);
    assert.match(o.message, /write met w=1: got 1 acks \(1 needed\) from nodes 1\./);
  });
  test('get: timeout with one of two replies', () => {
    const core = newGetCore(requirement('QUORUM', 'read', ONE_DC), [P(0), P(1), P(2)], { sloppy: false });
    getAddReply(core, 2, 'notfound');
    getAddReply(core, 1, 'error');
    const o = getTimeout(core);
    assert.equal(o.ok, false);
    assert.equal(o.notfound, 1);
    assert.match(o.message, /read needed 2 replies \(QUORUM\), got 1 from nodes 2; nodes 1 failed; timed out waiting for nodes 0/);
  });
});

describe('get core', () => {
  test('notfound counts as a successful reply (notfound_ok)', () => {
    const core = newGetCore(requirement(2, 'read', ONE_DC), [P(0), P(1), P(2)], { sloppy: false });
    getAddReply(core, 0, 'notfound');
    assert.equal(getStatus(core), 'pending');
    getAddReply(core, 1, 'found');
    assert.equal(getStatus(core), 'ok');
    const o = getOutcome(core);
    assert.deepEqual([o.found, o.notfound, o.acked], [1, 1, 2]);
    assert.deepEqual(o.pendingNodes, [2]);
  });
  test('errors fail it; strict fallbacks neither count nor add to found', () => {
    const core = newGetCore(requirement('QUORUM', 'read', ONE_DC), [P(0), P(1), F(5)], { sloppy: false });
    getAddReply(core, 5, 'found');
    assert.equal(getStatus(core), 'pending');
    getAddReply(core, 0, 'error'); // strict: only 2 primaries can count, so one error makes 2 impossible
    assert.equal(getStatus(core), 'failed');
    getAddReply(core, 1, 'error');
    const o = getOutcome(core);
    assert.deepEqual([o.found, o.notfound, o.acked], [0, 0, 0]);
    assert.deepEqual(o.uncountedNodes, [5]);
    assert.match(o.message, /read needed 2 replies \(QUORUM\), got 0; nodes 0,1 failed/);
  });
  test('sloppy read counts a fallback', () => {
    const core = newGetCore(requirement('QUORUM', 'read', ONE_DC), [P(0), P(1), F(5)], { sloppy: true });
    getAddReply(core, 0, 'found');
    getAddReply(core, 5, 'found');
    getAddReply(core, 5, 'error');
    assert.equal(getStatus(core), 'ok');
    assert.equal(getOutcome(core).primaryOnly, false);
    assert.equal(getOutcome(core).found, 2);
  });
  test('rejects an unknown reply kind', () => {
    const core = newGetCore(requirement(1, 'read', ONE_DC), [P(0)], { sloppy: false });
    assert.throws(() => getAddReply(core, 0, 'maybe' as 'found'), InvalidArgumentError);
  });
});

describe('core preconditions', () => {
  const req = W(1);
  const cases: Array<[string, () => unknown]> = [
    ['a node placed twice', () => newPutCore(req, [P(0), F(0)], { sloppy: true })],
    ['a negative node id', () => newPutCore(req, [P(-1)], { sloppy: true })],
    ['a zero total', () => newPutCore({ level: 'x', total: 0, perDc: {}, hintsCount: false }, [P(0)], { sloppy: false })],
    ['perDc above total', () => newGetCore({ level: 'x', total: 1, perDc: { dc1: 2 }, hintsCount: false }, [P(0)], { sloppy: false })],
    ['too many targets', () => newPutCore(req, Array.from({ length: 300 }, (_, i) => P(i)), { sloppy: false })],
  ];
  for (const [name, fn] of cases) test(`rejects ${name}`, () => assert.throws(fn, InvalidArgumentError));
});

// ---------------------------------------------------------------------------------------------------------------
// Property: incremental cores equal a brute-force model.

const DCS = ['dc1', 'dc2', 'dc3'];
type Kind = 'found' | 'notfound' | 'error';

/** Requirements from real levels and topologies, plus raw ones the level table never makes. */
const reqArb: fc.Arbitrary<Requirement> = fc.oneof(
  fc
    .record({
      ns: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
      local: fc.nat(2),
      level: fc.oneof(fc.constantFrom<Level>(...CONSISTENCY_LEVELS), fc.integer({ min: 1, max: 8 })),
      op: fc.constantFrom<'read' | 'write'>('read', 'write'),
    })
    .map(({ ns, local, level, op }) => {
      const replicationByDc = Object.fromEntries(ns.map((n, i) => [DCS[i], n]));
      try {
        return requirement(level, op, { replicationByDc, localDc: DCS[local % ns.length] });
      } catch {
        return null;
      }
    })
    .filter((r): r is Requirement => r !== null),
  fc
    .record({
      total: fc.integer({ min: 1, max: 6 }),
      perDc: fc.dictionary(fc.constantFrom(...DCS), fc.integer({ min: 1, max: 3 }), { maxKeys: 3 }),
      hintsCount: fc.boolean(),
    })
    .map(({ total, perDc, hintsCount }) => {
      const sum = Object.values(perDc).reduce((a, b) => a + b, 0);
      return { level: 'raw', total: Math.max(total, sum), perDc, hintsCount };
    }),
);

const targetsArb = fc.uniqueArray(
  fc.record({ node: fc.nat(9), dc: fc.constantFrom(...DCS), primary: fc.boolean() }),
  { selector: (t) => t.node, maxLength: 8 },
);

// Nodes 10..11 are never targets: unknown senders.
const repliesArb = fc.array(
  fc.record({ node: fc.nat(11), kind: fc.constantFrom<Kind>('found', 'notfound', 'error') }),
  { maxLength: 16 },
);

/** The dumb model: first reply per target wins; status by enumerating every completion of the pending targets. */
function modelStatus(req: Requirement, targets: Target[], sloppy: boolean, answered: Map<number, Kind>, timedOut: boolean): CoreStatus {
  const counts = (t: Target): boolean => t.primary || sloppy || req.hintsCount;
  const meets = (oks: Target[]): boolean => {
    const c = oks.filter(counts);
    if (c.length < req.total) return false;
    return Object.entries(req.perDc).every(([dc, k]) => c.filter((t) => t.dc === dc).length >= k);
  };
  const okNow = targets.filter((t) => answered.has(t.node) && answered.get(t.node) !== 'error');
  if (meets(okNow)) return 'ok';
  const pending = timedOut ? [] : targets.filter((t) => !answered.has(t.node));
  for (let mask = 0; mask < 1 << pending.length; mask++) {
    if (meets([...okNow, ...pending.filter((_, i) => (mask >> i) & 1)])) return 'pending';
  }
  return 'failed';
}

describe('property: cores equal the brute-force model', () => {
  test('put and get status after every reply, and the outcome lists', () => {
    fc.assert(
      fc.property(reqArb, targetsArb, fc.boolean(), repliesArb, fc.nat(17), (req, targets, sloppy, replies, timeoutAt) => {
        const put = newPutCore(req, targets, { sloppy });
        const get = newGetCore(req, targets, { sloppy });
        const answered = new Map<number, Kind>();
        let timedOut = false;
        const check = (): void => {
          const want = modelStatus(req, targets, sloppy, answered, timedOut);
          assert.equal(putStatus(put), want);
          assert.equal(getStatus(get), want);
        };
        check();
        replies.forEach(({ node, kind }, step) => {
          if (step === timeoutAt) {
            putTimeout(put);
            getTimeout(get);
            timedOut = true;
            check();
          }
          putAddReply(put, node, kind !== 'error');
          getAddReply(get, node, kind);
          if (!timedOut && !answered.has(node) && targets.some((t) => t.node === node)) answered.set(node, kind);
          check();
        });
        checkOutcome(req, targets, sloppy, answered, timedOut, getOutcome(get));
        // The two cores count alike; only the wording of their messages differs (write/acks, read/replies).
        assert.deepEqual({ ...putOutcome(put), message: '' }, { ...stripGet(getOutcome(get)), message: '' });
      }),
      fcParams(300),
    );
  });
});

function stripGet(o: ReturnType<typeof getOutcome>): Omit<ReturnType<typeof getOutcome>, 'found' | 'notfound'> {
  const { found: _f, notfound: _n, ...rest } = o;
  return rest;
}

function checkOutcome(
  req: Requirement, targets: Target[], sloppy: boolean, answered: Map<number, Kind>, timedOut: boolean,
  o: ReturnType<typeof getOutcome>,
): void {
  const counts = (t: Target): boolean => t.primary || sloppy || req.hintsCount;
  const okT = targets.filter((t) => answered.has(t.node) && answered.get(t.node) !== 'error');
  const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
  assert.deepEqual(sorted(o.ackedNodes), sorted(okT.filter(counts).map((t) => t.node)));
  assert.deepEqual(sorted(o.uncountedNodes), sorted(okT.filter((t) => !counts(t)).map((t) => t.node)));
  const silent = targets.filter((t) => !answered.has(t.node)).map((t) => t.node);
  assert.deepEqual(sorted(o.pendingNodes), timedOut ? [] : sorted(silent));
  assert.deepEqual(sorted(o.timedOutNodes), timedOut ? sorted(silent) : []);
  const errored = targets.filter((t) => answered.get(t.node) === 'error').map((t) => t.node);
  assert.deepEqual(sorted(o.failedNodes), sorted([...errored, ...(timedOut ? silent : [])]));
  assert.equal(o.acked, o.ackedNodes.length);
  assert.equal(o.found + o.notfound, o.acked);
  assert.equal(o.found, okT.filter((t) => counts(t) && answered.get(t.node) === 'found').length);
  assert.equal(o.primaryOnly, okT.filter(counts).every((t) => t.primary));
  assert.ok(o.message.length > 0 && o.message.endsWith('.'));
}

// A write's stand-in (a spare sent the write with a hint when its primary was slow) fills that primary's seat: the
// primary's own late ack must not count a second time, or W = ALL would succeed with another primary holding nothing.
describe('put core: a primary and its stand-in fill one seat', () => {
  const S = (node: number, hintFor: number): Target => ({ node, dc: 'dc1', primary: false, hintFor });
  test('W=ALL: the coordinator, primary 1 and its stand-in 3 do not meet ALL while primary 2 is silent', () => {
    const core = newPutCore(W(3), [P(0), P(1), P(2), S(3, 1), S(4, 2)], { sloppy: true });
    putAddReply(core, 0, true);
    putAddReply(core, 3, true); // stand-in for the slow primary 1
    assert.equal(putStatus(core), 'pending');
    putAddReply(core, 1, true); // primary 1 answers late: its seat is already filled
    assert.equal(putStatus(core), 'pending');
    assert.deepEqual(putOutcome(core).ackedNodes, [0, 3]);
    putAddReply(core, 4, true); // primary 2's seat, through its stand-in
    assert.equal(putStatus(core), 'ok');
  });
  test('W=ALL: once a seat is filled, the rest of it cannot make the write impossible', () => {
    const core = newPutCore(W(3), [P(0), P(1), P(2), S(3, 1)], { sloppy: true });
    putAddReply(core, 0, true);
    putAddReply(core, 1, true);
    putAddReply(core, 3, false); // primary 1's stand-in fails after primary 1 acked: nothing lost
    assert.equal(putStatus(core), 'pending');
    putAddReply(core, 2, true);
    assert.equal(putStatus(core), 'ok');
  });
});
