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
function runModel(world: { p: Plan; dead: number }, wDraw: number, ops: Op[], shuffle: number[]): void {
  const m = new Model(world.p, world.dead, wDraw, shuffle);
  for (const o of ops) {
    if (o.kind === 'advance') m.advance();
    else if (o.kind === 'write') m.write(o);
    else m.read(o);
  }
}

class Model {
  readonly W: number;
  readonly R: number;
  readonly hashes: number[];
  readonly clients = [1000, 1001];
  /** node -> key hash -> write ids it holds */
  private readonly store = new Map<number, Map<number, Set<number>>>();
  private readonly acked = new Map<number, number[]>();
  /** `${target}:${h}` -> write ids the streams bring (their sources' data when the change began) */
  private readonly streamed = new Map<string, Set<number>>();
  private readonly views = new Map<number, MembershipView>();
  private readonly schedule: Array<[number, number]>;
  private nextWrite = 1;

  constructor(
    readonly p: Plan,
    readonly dead: number,
    wDraw: number,
    shuffle: number[],
  ) {
    const N = p.from.ring.totalReplicas;
    this.W = Math.min(wDraw, N);
    this.R = N + 1 - this.W;
    this.hashes = sampleHashes(p).slice(0, 12);
    for (const n of p.to.ring.nodes) this.store.set(n.id, new Map());
    this.writeBefore();
    for (const r of p.moving) {
      for (const s of handoffStreams(p.to.epoch, r, (x) => this.isUp(x))) {
        for (const h of this.hashes.filter((x) => inRange(r, x))) {
          const k = `${s.target}:${h}`;
          this.streamed.set(k, new Set([...(this.streamed.get(k) ?? []), ...this.holds(s.source, h)]));
        }
      }
    }
    for (const id of [...p.to.ring.nodes.map((n) => n.id), ...this.clients]) {
      const v = new MembershipView(id, p.from);
      v.begin(p);
      this.views.set(id, v);
    }
    this.schedule = completionSchedule(p, this.clients, shuffle);
  }

  isUp(x: number): boolean {
    return x !== this.dead;
  }

  holds(node: number, h: number): Set<number> {
    const m = this.store.get(node)!;
    if (!m.has(h)) m.set(h, new Set());
    return m.get(h)!;
  }

  /** Before the change: every key written once, acked by W of its old replicas. */
  private writeBefore(): void {
    for (const h of this.hashes) {
      const id = this.nextWrite++;
      const list = this.p.from.ring.preferenceList(h);
      const skip = (h >>> 3) % list.length; // which W of the N hold it varies with the key
      const holders = Array.from({ length: this.W }, (_, i) => list[(skip + i) % list.length]);
      for (const x of holders) this.holds(x, h).add(id);
      // a write whose only copies were on the node that then died is lost to that failure, not to the change
      this.acked.set(h, holders.some((x) => this.isUp(x)) ? [id] : []);
    }
  }

  advance(): void {
    const next = this.schedule.shift();
    if (next === undefined) return;
    const [rangeId, who] = next;
    if (this.p.moving[rangeId].gaining.includes(who)) {
      for (const h of this.hashes) for (const id of this.streamed.get(`${who}:${h}`) ?? []) this.holds(who, h).add(id);
    }
    this.views.get(who)!.complete(this.p.to.epoch, rangeId);
  }

  /** The replicas a message reaches: up, delivered (its bit of mask clear), admitted by the receiver's view. */
  private reach(o: Op, h: number, access: 'read' | 'write'): number[] {
    const cv = this.views.get(this.clients[o.client])!;
    const targets = access === 'write' ? cv.writeTargets(h) : cv.readTargets(h);
    const delivered = (i: number): boolean => i >= 30 || ((o.mask >>> i) & 1) === 0;
    return targets.filter(
      (x, i) => this.isUp(x) && delivered(i) && this.views.get(x)!.admit({ epoch: this.p.to.epoch, keyHash: h, access }) === null,
    );
  }

  write(o: Op): void {
    const h = this.hashes[o.key % this.hashes.length];
    const reached = this.reach(o, h, 'write');
    const id = this.nextWrite++;
    for (const x of reached) this.holds(x, h).add(id);
    if (this.views.get(this.clients[o.client])!.transition!.writeMet(h, reached, atLeast(this.W))) {
      this.acked.get(h)!.push(id);
      coverage.writesAcked++;
    }
  }

  read(o: Op): void {
    const h = this.hashes[o.key % this.hashes.length];
    const reached = this.reach(o, h, 'read').slice(0, this.R);
    if (reached.length < this.R) return; // the read fails: nothing to check
    const seen = new Set(reached.flatMap((x) => [...this.holds(x, h)]));
    const t = this.views.get(this.clients[o.client])!.transition!;
    const r = t.rangeOf(h);
    coverage.reads++;
    if (r !== undefined) coverage[t.phase(r.id) === 'pending' ? 'readsPending' : 'readsSwitched']++;
    for (const id of this.acked.get(h)!) {
      assert.ok(seen.has(id), `key ${h}: acked write ${id} missed by a read of ${reached} (W=${this.W} R=${this.R}, dead ${this.dead})`);
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

  test('a malformed epoch or key hash is a typed error, not a refusal', () => {
    for (const epoch of [Number.NaN, -1, 1.5, undefined as unknown as number]) {
      assert.throws(() => viewOf(0).admit({ epoch, keyHash: 50, access: 'read' }), (e: unknown) => e instanceof InvalidArgumentError && /epoch must be/.test(e.message));
    }
    assert.throws(() => viewOf(0).admit({ epoch: 2, keyHash: -5, access: 'read' }), InvalidArgumentError);
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
