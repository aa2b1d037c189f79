// Pending ranges and epoch checks: hand-checked targets and quorums of a leave, the single-view invariant (writes
// always reach every replica a read may use now or after any later completion), and a model of a whole change seen
// by several nodes that learn of completions at different times, with drops and a dead node: no acknowledged write is
// ever missed by a later quorum read (R + W > N). Last, the typed refusals of MembershipView.admit.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fcParams } from './helpers/fc.js';
import { fromWire, InvalidArgumentError, LeaderlessError } from '../actors/errors.js';
import { keyHash, type NodeSpec } from '../actors/ring.js';
import { initialMembership, plan, type MembershipChange, type Plan } from '../actors/membership/plan.js';
import { atLeast, TransitionState } from '../actors/membership/transition.js';
import { MembershipView } from '../actors/membership/epoch.js';
import { WrongEpochError, wrongEpochFromWire } from '../actors/membership/errors.js';
import { handoffStreams } from '../actors/membership/handoff-plan.js';

const tokenNodes = (tokens: number[]): NodeSpec[] => tokens.map((t, id) => ({ id, dc: 'dc1', rack: `r${id}`, tokens: [t] }));
const sorted = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);

// nodes at 100, 200, 300, N = 2; node 1 leaves: range 0 = (300,100] [0,1] -> [0,2]; range 1 = (100,200] [1,2] -> [2,0]
const base = initialMembership({ nodes: tokenNodes([100, 200, 300]), vnodes: 1, replication: 2 });
const leave1 = plan(base, { type: 'leave', node: 1 });

describe('pending ranges: hand-checked (node 1 leaves a 3-node ring, N = 2)', () => {
  test('targets before and after each range completes', () => {
    const t = new TransitionState(leave1);
    // key 50 is in range 0, key 150 in range 1, key 250 does not move
    const rows: Array<[number, number[], number[]]> = [
      [50, [0, 1, 2], [0, 1]],
      [150, [0, 1, 2], [1, 2]],
      [250, [0, 2], [0, 2]],
    ];
    for (const [h, w, r] of rows) assert.deepEqual([sorted(t.writeTargets(h)), sorted(t.readTargets(h))], [w, r], `key ${h}`);
    t.complete(0);
    assert.deepEqual([sorted(t.writeTargets(50)), sorted(t.readTargets(50))], [[0, 2], [0, 2]]);
    assert.deepEqual(sorted(t.readTargets(150)), [1, 2], 'range 1 still pending');
    assert.equal(t.done, false);
    t.complete(1);
    t.complete(1); // idempotent
    assert.equal(t.done, true);
    assert.deepEqual([sorted(t.writeTargets(150)), sorted(t.readTargets(150))], [[0, 2], [0, 2]]);
  });

  test('W = 2 while pending: W among the old replicas AND W among the new', () => {
    const t = new TransitionState(leave1);
    const w2 = atLeast(2);
    const rows: Array<[number, number[], boolean]> = [
      [50, [0, 1], false], // old {0,1} met, new {0,2} not
      [50, [0, 2], false], // new met, old not
      [50, [0, 1, 2], true],
      [150, [1, 2, 0], true],
      [150, [2, 0], false],
      [250, [0, 2], true], // not moving: the one set
      [250, [0], false],
    ];
    for (const [h, acked, met] of rows) assert.equal(t.writeMet(h, acked, w2), met, `key ${h} acks ${acked}`);
    t.complete(0);
    assert.equal(t.writeMet(50, [0, 2], w2), true, 'complete: the new set alone');
  });

  test('an unknown range id is a typed error naming the allowed ids', () => {
    const t = new TransitionState(leave1);
    assert.throws(() => t.complete(2), (e: unknown) => e instanceof InvalidArgumentError && /0\.\.1/.test(e.message));
    assert.throws(() => t.phase(-1), InvalidArgumentError);
  });
});

// ---- random plans ------------------------------------------------------------------------------------------------

const arbPlan = fc
  .record({
    nodes: fc.integer({ min: 3, max: 6 }),
    vnodes: fc.integer({ min: 1, max: 4 }),
    n: fc.integer({ min: 2, max: 3 }),
    kind: fc.constantFrom('join', 'leave', 'replace'),
    pick: fc.nat(),
    dead: fc.boolean(),
  })
  .map(({ nodes, vnodes, n, kind, pick, dead }) => {
    const specs: NodeSpec[] = Array.from({ length: nodes }, (_, id) => ({ id, dc: 'dc1', rack: `r${id}` }));
    const m = initialMembership({ nodes: specs, vnodes, replication: Math.min(n, nodes - 1) });
    const node = pick % nodes;
    const change: MembershipChange = kind === 'join' ? { type: 'join', dc: 'dc1', rack: `r${nodes}` } : { type: kind, node };
    const p = plan(m, change);
    // a dead node is the one leaving or replaced (removeNode of a dead node); a join never has one
    return { p, dead: kind !== 'join' && dead ? node : -1 };
  });

const sampleHashes = (p: Plan): number[] => [
  ...p.moving.flatMap((r) => [r.end, (r.start + 1) % 0x1_0000_0000]),
  ...Array.from({ length: 40 }, (_, i) => keyHash(`t${i}`)),
];

describe('pending ranges: properties', () => {
  test('at every point, writes reach every replica reads may use now or after any later completion', () => {
    fc.assert(
      fc.property(arbPlan, fc.array(fc.nat(), { maxLength: 40 }), ({ p }, order) => {
        const t = new TransitionState(p);
        const hashes = sampleHashes(p);
        const check = (): void => {
          for (const h of hashes) {
            const w = t.writeTargets(h);
            for (const x of [...t.readTargets(h), ...p.to.ring.preferenceList(h)]) assert.ok(w.includes(x), `key ${h}: ${x} not written`);
            const r = t.rangeOf(h);
            if (r !== undefined && t.phase(r.id) === 'pending') for (const x of r.oldReplicas) assert.ok(w.includes(x));
          }
        };
        check();
        for (const i of order) {
          if (p.moving.length === 0) break;
          t.complete(i % p.moving.length);
          check();
        }
        for (const r of p.moving) t.complete(r.id);
        assert.equal(t.done, true);
        check();
      }),
      fcParams(150),
    );
  });

  test('model: views learn completions at different times, messages drop, a node may be dead; no acked write is missed', () => {
    const op = fc.record({ kind: fc.constantFrom('write', 'read', 'read', 'advance', 'advance'), client: fc.nat(1), key: fc.nat(), mask: fc.integer({ min: 0, max: 2 ** 30 - 1 }) });
    fc.assert(
      fc.property(arbPlan, fc.integer({ min: 1, max: 3 }), fc.array(op, { minLength: 60, maxLength: 120 }), fc.array(fc.nat(), { maxLength: 20 }), runModel),
      fcParams(300),
    );
    console.log(`model coverage: ${JSON.stringify(coverage)}`);
    assert.ok(coverage.readsSwitched > 100 && coverage.readsPending > 100, 'reads on both sides of a switch were checked');
  });
});

type Op = { kind: string; client: number; key: number; mask: number };
/** what the model runs exercised, so that the test can tell it checked reads on both sides of a switch */
const coverage = { reads: 0, readsPending: 0, readsSwitched: 0, writesAcked: 0 };

/**
 * One change, seen by every replica and two clients, each with its own MembershipView. Before the change, writes
 * meet W on the old ring. At the start of the change each stream's sources are snapshotted (what a stream sent is at
 * least what they held then). Completion of a range reaches its gaining replicas (which then merge their sources'
 * snapshots), then its losing ones, then everyone else in a drawn order. Each message of a write or read is
 * delivered when its bit of `mask` is set, and admitted by the receiver's own view (MembershipView.admit).
 */
function runModel({ p, dead }: { p: Plan; dead: number }, wDraw: number, ops: Op[], shuffle: number[]): void {
  const N = p.from.ring.totalReplicas;
  const W = Math.min(wDraw, N);
  const R = N + 1 - W;
  const nodeIds = p.to.ring.nodes.map((n) => n.id);
  const store = new Map<number, Map<number, Set<number>>>(nodeIds.map((id) => [id, new Map()]));
  const holds = (node: number, h: number): Set<number> => {
    const m = store.get(node)!;
    if (!m.has(h)) m.set(h, new Set());
    return m.get(h)!;
  };
  const hashes = sampleHashes(p).slice(0, 12);
  const acked = new Map<number, number[]>();
  let nextWrite = 1;
  // before the change: every key written once, acked by W of its old replicas
  for (const h of hashes) {
    const id = nextWrite++;
    const list = p.from.ring.preferenceList(h);
    const skip = (h >>> 3) % list.length; // which W of the N hold it varies with the key
    const holders = Array.from({ length: W }, (_, i) => list[(skip + i) % list.length]);
    for (const x of holders) holds(x, h).add(id);
    // a write whose only copies were on the node that then died is lost to that failure, not to the change
    acked.set(h, holders.some((x) => x !== dead) ? [id] : []);
  }
  const isUp = (x: number): boolean => x !== dead;
  const streamed = new Map<string, Set<number>>(); // `${target}:${h}` -> ids the streams bring
  for (const r of p.moving) {
    for (const s of handoffStreams(p.to.epoch, r, isUp)) {
      for (const h of hashes) {
        if (!inRange(r, h)) continue;
        const k = `${s.target}:${h}`;
        const set = streamed.get(k) ?? new Set<number>();
        for (const id of holds(s.source, h)) set.add(id);
        streamed.set(k, set);
      }
    }
  }
  const views = new Map<number, MembershipView>();
  const clients = [1000, 1001];
  for (const id of [...nodeIds, ...clients]) {
    const v = new MembershipView(id, p.from);
    v.begin(p);
    views.set(id, v);
  }
  const schedule = completionSchedule(p, clients, shuffle);
  const bit = (mask: number, i: number): boolean => ((mask >>> (i % 30)) & 1) === 0 || i >= 30;
  for (const o of ops) {
    if (o.kind === 'advance') {
      const next = schedule.shift();
      if (next === undefined) continue;
      const [rangeId, who] = next;
      const r = p.moving[rangeId];
      if (r.gaining.includes(who)) for (const h of hashes) for (const id of streamed.get(`${who}:${h}`) ?? []) holds(who, h).add(id);
      views.get(who)!.complete(p.to.epoch, rangeId);
      continue;
    }
    const cv = views.get(clients[o.client])!;
    const h = hashes[o.key % hashes.length];
    const access = o.kind === 'write' ? 'write' : 'read';
    const targets = access === 'write' ? cv.writeTargets(h) : cv.readTargets(h);
    const reached = targets.filter(
      (x, i) => isUp(x) && bit(o.mask, i) && views.get(x)!.admit({ epoch: p.to.epoch, keyHash: h, access }) === null,
    );
    if (access === 'write') {
      const id = nextWrite++;
      for (const x of reached) holds(x, h).add(id);
      if (cv.transition!.writeMet(h, reached, atLeast(W))) {
        acked.get(h)!.push(id);
        coverage.writesAcked++;
      }
      continue;
    }
    if (reached.length < R) continue; // the read fails: nothing to check
    const seen = new Set(reached.slice(0, R).flatMap((x) => [...holds(x, h)]));
    const r = cv.transition!.rangeOf(h);
    coverage.reads++;
    if (r !== undefined) coverage[cv.transition!.phase(r.id) === 'pending' ? 'readsPending' : 'readsSwitched']++;
    for (const id of acked.get(h)!) {
      assert.ok(seen.has(id), `key ${h}: acked write ${id} missed by a read of ${reached.slice(0, R)} (W=${W} R=${R}, dead ${dead})`);
    }
  }
}

function inRange(r: { start: number; end: number }, h: number): boolean {
  if (r.start < r.end) return h > r.start && h <= r.end;
  if (r.start > r.end) return h > r.start || h <= r.end;
  return true;
}

/**
 * Per range: its gaining replicas, then its losing ones, then the clients in a drawn order; ranges interleaved as
 * drawn. Other replicas' views do not matter: they are in both lists of a range or in neither, so what they admit
 * does not change when the range completes.
 */
function completionSchedule(p: Plan, clients: number[], draw: number[]): Array<[number, number]> {
  const d = (i: number): number => draw[i % Math.max(1, draw.length)] ?? i;
  const queues = p.moving.map((r, k) => {
    const order = d(k) % 2 === 0 ? clients : [...clients].reverse();
    return [...r.gaining, ...r.losing, ...order].map((who): [number, number] => [r.id, who]);
  });
  const out: Array<[number, number]> = [];
  for (let i = 0; queues.some((q) => q.length > 0); i++) {
    const live = queues.filter((q) => q.length > 0);
    out.push(live[d(i + 7) % live.length].shift()!);
  }
  return out;
}

// ---- epoch checks --------------------------------------------------------------------------------------------------

describe('epoch checks: MembershipView.admit', () => {
  const viewOf = (node: number): MembershipView => {
    const v = new MembershipView(node, base);
    v.begin(leave1);
    return v;
  };

  test('refusals, table-driven (node 1 leaves; epoch 2; range 0 = (300,100], range 1 = (100,200])', () => {
    const rows: Array<[string, number, { epoch: number; keyHash: number; access: 'read' | 'write'; hintFor?: number }, string | null]> = [
      ['current epoch, owner, read', 0, { epoch: 2, keyHash: 50, access: 'read' }, null],
      ['newer epoch than the receiver', 0, { epoch: 3, keyHash: 50, access: 'read' }, 'receiver-behind'],
      ['previous epoch, range moved', 0, { epoch: 1, keyHash: 50, access: 'write' }, 'sender-behind'],
      ['previous epoch, key did not move', 0, { epoch: 1, keyHash: 250, access: 'write' }, null],
      ['two epochs behind', 0, { epoch: 0, keyHash: 250, access: 'write' }, 'sender-behind'],
      ['gainer reads while pending', 2, { epoch: 2, keyHash: 50, access: 'read' }, 'not-owner'],
      ['gainer writes while pending', 2, { epoch: 2, keyHash: 50, access: 'write' }, null],
      ['loser reads while pending', 1, { epoch: 2, keyHash: 50, access: 'read' }, null],
      ['not a replica at all', 1, { epoch: 2, keyHash: 250, access: 'write' }, 'not-owner'],
      ['a stand-in for an owner', 1, { epoch: 2, keyHash: 250, access: 'write', hintFor: 2 }, null],
    ];
    for (const [name, node, req, reason] of rows) {
      const e = viewOf(node).admit(req);
      assert.equal(e?.reason ?? null, reason, name);
      if (e !== null) assert.equal(e.currentEpoch, 2, name);
    }
  });

  test('after range 0 completes, the gainer serves its reads and the loser refuses them', () => {
    const gainer = viewOf(2);
    const loser = viewOf(1);
    gainer.complete(2, 0);
    loser.complete(2, 0);
    loser.complete(1, 1); // a completion of another epoch is ignored
    assert.equal(gainer.admit({ epoch: 2, keyHash: 50, access: 'read' }), null);
    const e = loser.admit({ epoch: 2, keyHash: 50, access: 'read' });
    assert.ok(e instanceof WrongEpochError && e.reason === 'not-owner' && e.details.rangeId === 0);
    assert.equal(loser.admit({ epoch: 2, keyHash: 50, access: 'write' })?.reason, 'not-owner');
    assert.equal(loser.admit({ epoch: 2, keyHash: 150, access: 'read' }), null, 'range 1 is still pending at the loser');
  });

  test('the refusal is a typed LeaderlessError that crosses the wire', () => {
    const e = viewOf(0).admit({ epoch: 1, keyHash: 50, access: 'write' })!;
    assert.ok(e instanceof LeaderlessError && e.code === 'WRONG_EPOCH');
    assert.match(e.message, /node 0 is at ring epoch 2; a write at epoch 1 .* fetch the membership of epoch 2 and retry/);
    const w = JSON.parse(JSON.stringify(e.toWire()));
    assert.equal(fromWire(w).code, 'WRONG_EPOCH');
    const back = wrongEpochFromWire(w)!;
    assert.ok(back instanceof WrongEpochError);
    assert.deepEqual([back.reason, back.currentEpoch, back.details.rangeId, back.message], ['sender-behind', 2, 0, e.message]);
    assert.equal(wrongEpochFromWire({ code: 'TIMEOUT', message: '', details: {} }), undefined);
  });

  test('a plan must start from the view epoch, one change at a time', () => {
    const v = new MembershipView(0, base);
    assert.throws(() => v.begin(plan(leave1.to, { type: 'join', dc: 'dc1', rack: 'r9' })), InvalidArgumentError);
    v.begin(leave1);
    const next = plan(leave1.to, { type: 'join', dc: 'dc1', rack: 'r9' });
    assert.throws(() => v.begin(next), (e: unknown) => e instanceof InvalidArgumentError && /2 range\(s\) to hand off/.test(e.message));
    v.complete(2, 0);
    v.complete(2, 1);
    v.begin(next);
    assert.equal(v.epoch, 3);
  });
});
