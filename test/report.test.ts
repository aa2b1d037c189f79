// Reports and their inputs: the Prometheus exposition, the terminal tables, the metrics server, fault schedules and
// workloads. The HTML pages are tested in test/report-html.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FaultDriver, checkFaults, checkSupported, parseFault, type FaultApi } from '../bench/faults.js';
import { startMetricsServer } from '../bench/metrics-server.js';
import { benchTable, sweepTable } from '../bench/report/index.js';
import { runBench, type BenchReport, type BenchSpec } from '../bench/run.js';
import { Prng } from '../runtime/index.js';
import { PRESETS, Workload, Zipfian, parseMix, type WorkloadSpec } from '../bench/workloads.js';
import type { ClusterMetrics } from '../runtime/api.js';
import { fcParams } from './helpers/fc.js';
import { FakeStore, VirtualClock } from './helpers/harness-fake.js';

// ------------------------------------------------------------------------------------------------ fixtures

function metricsFixture(): ClusterMetrics {
  const node = (i: number, status: 'up' | 'down') => ({
    node: i,
    replicaId: String(i),
    counters: { puts: 10 * i, putsOk: 9 * i, putsFailed: i, putsTimedOut: 0, replicates: 3, gets: 7, repairs: 1, hintedWrites: 0, storeErrors: 0 },
    pendingPuts: 2,
    messagesIn: 5,
    batchesIn: 2,
    messagesOut: 4,
    batchesOut: 1,
    store: { keys: 100, liveBytes: 2048, arenaBytes: 4096, compactions: 0 },
    hints: { queued: 3, delivered: 1 },
    status,
    mailboxDepth: i,
  });
  return {
    nodes: [node(0, 'up'), node(1, 'down')],
    client: { gets: 4, getsLocal: 1, puts: 3, failures: 0, timeouts: 0, readRepairs: 2, siblingsReturned: 1 },
    totals: { puts: 10, putsOk: 9, putsFailed: 1, gets: 14, replicates: 6, readRepairs: 2, hintedWrites: 0, keys: 200 },
  } as unknown as ClusterMetrics;
}

const WORKLOAD_A: WorkloadSpec = { name: 'A', mix: PRESETS.A.mix, distribution: 'zipfian', keys: 50, valueSizeBytes: 20 };

function spec(label: string, overrides: Partial<BenchSpec> = {}): BenchSpec {
  return { label, cluster: { nodes: 3, replication: 3 }, workload: WORKLOAD_A, inFlight: 4, durationMs: 40, seed: 7, faults: [], updateContext: 'read', maxHistory: 100_000, ...overrides };
}

async function fakeReport(label: string, staleProbability: number, overrides: Partial<BenchSpec> = {}): Promise<BenchReport> {
  return runBench(spec(label, overrides), { factory: async () => new FakeStore({ seed: 3, staleProbability }), clock: new VirtualClock() });
}

// ------------------------------------------------------------------------------------------------ metrics

// metricsText and the exposition's families: test/metrics.test.ts

describe('metrics server', () => {
  test('serves /metrics from the current cluster, 503 without one, 404 for /health when absent', async () => {
    let current: FakeStore | undefined;
    const server = await startMetricsServer(0, () => current);
    try {
      const url = (p: string): string => `http://127.0.0.1:${server.port}${p}`;
      assert.equal((await fetch(url('/metrics'))).status, 503);
      current = Object.assign(new FakeStore(), { metrics: async () => metricsFixture() });
      const res = await fetch(url('/metrics'));
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0.0.4/);
      assert.match(await res.text(), /leaderless_node_up/);
      assert.equal((await fetch(url('/health'))).status, 404);
      assert.equal((await fetch(url('/nope'))).status, 404);
    } finally {
      await server.close();
    }
  });
});

// ------------------------------------------------------------------------------------------------ faults

describe('fault specs', () => {
  const good: Array<[string, object]> = [
    ['kill:2@3s', { kind: 'kill', node: 2, wipe: false, atMs: 3000 }],
    ['kill:2:wipe@3s', { kind: 'kill', node: 2, wipe: true, atMs: 3000 }],
    ['crash:1:wipe@500ms', { kind: 'crash', node: 1, wipe: true, atMs: 500 }],
    ['pause:0@1-2.5', { kind: 'pause', node: 0, atMs: 1000, endMs: 2500 }],
    ['partition:0,1/2,3,4@2s-5s', { kind: 'partition', groups: [[0, 1], [2, 3, 4]], atMs: 2000, endMs: 5000 }],
    ['delay:*:50ms@1s-4s', { kind: 'delay', links: [{ from: '*', to: '*' }], delayMs: 50, atMs: 1000, endMs: 4000 }],
    ['delay:0>2:5@0s', { kind: 'delay', links: [{ from: 0, to: 2 }], delayMs: 5, atMs: 0 }],
    ['drop:1:20%@1s-2s', { kind: 'drop', links: [{ from: 1, to: '*' }, { from: '*', to: 1 }], probability: 0.2, atMs: 1000, endMs: 2000 }],
    ['join@2s', { kind: 'join', atMs: 2000 }],
    ['join:dc2@2s', { kind: 'join', datacenter: 'dc2', atMs: 2000 }],
    ['leave:3@4s', { kind: 'leave', node: 3, atMs: 4000 }],
    ['replace:1@500ms', { kind: 'replace', node: 1, atMs: 500 }],
  ];
  for (const [text, want] of good) {
    test(`parses ${text}`, () => {
      const f = parseFault(text);
      assert.deepEqual({ ...f, text: undefined }, { ...want, text: undefined });
    });
  }

  const bad: Array<[string, RegExp]> = [
    ['kill:2', /missing @WINDOW/],
    ['kill:2@soon', /malformed time/],
    ['explode:1@1s', /unknown fault kind explode/],
    ['partition:0,1/2@5s-2s', /ends .* before it starts/],
    ['drop:*:1.5@1s', /must be from 0 to 1/],
    ['kill:two@1s', /not a node number/],
    ['crash:1:melt@1s', /unknown crash option melt/],
    ['join@1s-2s', /a join has no END/],
    ['leave@1s', /name one node/],
    ['leave:1@1s-3s', /a leave has no END/],
  ];
  for (const [text, why] of bad) {
    test(`refuses ${text}`, () => assert.throws(() => parseFault(text), (e: Error & { code?: string }) => e.code === 'INVALID_CONFIG' && why.test(e.message)));
  }

  test('checks nodes and start times against the cluster and the run', () => {
    assert.throws(() => checkFaults([parseFault('kill:5@1s')], 5, 5000), /node 5 does not exist: the cluster has nodes 0 to 4/);
    assert.throws(() => checkFaults([parseFault('partition:0,1/1,2@1s')], 5, 5000), /a node is in two groups/);
    assert.throws(() => checkFaults([parseFault('kill:1@6s')], 5, 5000), /after the run ends/);
    checkFaults([parseFault('kill:1@6s')], 5, undefined);
    // a node that joins takes the next id: a later fault may name it, an earlier one may not
    checkFaults(['join@1s', 'leave:5@2s', 'kill:5@3s'].map(parseFault), 5, 5000);
    assert.throws(() => checkFaults(['leave:5@1s', 'join@2s'].map(parseFault), 5, 5000), /node 5 does not exist: the cluster has nodes 0 to 4 by then/);
  });

  test('membership changes run one at a time, each marked from its start to its completion with what it moved', async () => {
    let now = 0;
    const calls: string[] = [];
    const done = (node: number, epoch: number) => ({
      epoch, change: { type: 'join' as const, dc: 'dc1', rack: 'r' }, node, movedFraction: 0.25, assignmentsMovedFraction: 0.1, ranges: 3,
      streams: 3, keysMoved: 10 * node, bytesMoved: 100 * node, bytesSent: 100 * node, resends: 0, keysDropped: 10 * node, durationMs: 700,
    });
    const api: FaultApi = {
      partition() {}, heal() {}, kill: async () => {},
      addNode: async () => {
        calls.push(`${now} join`);
        now += 700; // the change takes 700 ms: the leave scheduled at 500 waits for it
        return done(3, 2);
      },
      removeNode: async (n) => {
        calls.push(`${now} leave ${n}`);
        throw new Error('refused');
      },
    };
    const clock = { nowMs: () => now, sleepMs: async (ms: number) => void (now += ms) };
    const d = new FaultDriver(api, ['join@100ms', 'leave:0@500ms'].map(parseFault), clock);
    await d.run(0);
    await d.restore(now);
    assert.deepEqual(calls, ['100 join', '800 leave 0']);
    assert.deepEqual(
      d.markers.map((m) => [m.text, m.startMs, m.endMs, m.change?.keysMoved, m.error]),
      [
        ['join@100ms', 100, 800, 30, undefined],
        ['leave:0@500ms', 800, 800, undefined, 'refused'],
      ],
    );
  });

  test('a fault the cluster cannot inject yet fails with one clear line', () => {
    const api: FaultApi = { partition() {}, heal() {}, kill: async () => {} };
    assert.throws(() => checkSupported(api, [parseFault('pause:1@1s')]), /does not support pause faults yet \(it has no faults.pause\)/);
    checkSupported(api, [parseFault('partition:0/1@1s')]);
  });

  test('the driver applies and lifts faults in time order and restores what is left', async () => {
    const calls: string[] = [];
    let now = 0;
    const api: FaultApi = {
      partition: (g) => void calls.push(`${now} partition ${JSON.stringify(g)}`),
      heal: () => void calls.push(`${now} heal`),
      kill: async (n) => void calls.push(`${now} kill ${n}`),
      pause: async (n) => void calls.push(`${now} pause ${n}`),
      resume: async (n) => void calls.push(`${now} resume ${n}`),
      delay: (o) => void calls.push(`${now} delay ${o.from}>${o.to} ${o.ms}`),
      clear: async () => void calls.push(`${now} clear`),
    };
    const clock = { nowMs: () => now, sleepMs: async (ms: number) => void (now += ms) };
    const specs = ['partition:0/1,2@2s-4s', 'kill:2@3s', 'delay:*:10ms@1s-5s', 'pause:1@4s'].map(parseFault);
    const d = new FaultDriver(api, specs, clock);
    await d.run(0);
    await d.restore(now);
    assert.deepEqual(calls, [
      '1000 delay *>* 10',
      '2000 partition [[0],[1,2]]',
      '3000 kill 2',
      '4000 heal',
      '4000 pause 1',
      '5000 clear', // clear lifts every fault, pauses too: the ones still in force are put back
      '5000 pause 1',
      '5000 resume 1', // restore: still paused when the schedule ended
    ]);
    assert.deepEqual(
      d.markers.map((m) => [m.text, m.startMs, m.endMs]),
      [
        ['delay:*:10ms@1s-5s', 1000, 5000],
        ['partition:0/1,2@2s-4s', 2000, 4000],
        ['kill:2@3s', 3000, undefined],
        ['pause:1@4s', 4000, 5000],
      ],
    );
  });
});

// ------------------------------------------------------------------------------------------------ workloads

describe('workloads', () => {
  test('--mix parses shares and refuses what does not add up', () => {
    assert.deepEqual(parseMix('read=0.7,update=0.3'), { read: 0.7, update: 0.3, insert: 0, rmw: 0 });
    assert.throws(() => parseMix('read=0.7'), /sum to 0.7/);
    assert.throws(() => parseMix('read=0.5,scan=0.5'), /unknown operation scan/);
    assert.throws(() => parseMix('read'), /kind=share/);
    assert.throws(() => parseMix('read=0.5,read=0.5'), /given twice/);
  });

  test('property: the same seed gives the same operations; keys stay in the key space', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.constantFrom('A', 'B', 'C', 'D', 'F'), fc.constantFrom('uniform', 'zipfian', 'latest') as fc.Arbitrary<'uniform' | 'zipfian' | 'latest'>, (seed, name, distribution) => {
        const s: WorkloadSpec = { name, mix: PRESETS[name].mix, distribution, keys: 100, valueSizeBytes: 10 };
        const a = new Workload(s, seed);
        const b = new Workload(s, seed);
        for (let i = 0; i < 200; i++) {
          const x = a.next();
          assert.deepEqual(x, b.next());
          if (x.kind === 'insert') {
            a.inserted(x.key);
            b.inserted(x.key);
          } else assert.ok(x.key >= 0 && x.key < a.keySpace, `${x.key} < ${a.keySpace}`);
        }
      }),
      fcParams(100),
    );
  });

  test('the mix is honoured', () => {
    const w = new Workload({ name: 'B', mix: PRESETS.B.mix, distribution: 'uniform', keys: 1000, valueSizeBytes: 10 }, 1);
    let reads = 0;
    for (let i = 0; i < 20_000; i++) if (w.next().kind === 'read') reads++;
    assert.ok(Math.abs(reads / 20_000 - 0.95) < 0.01, String(reads));
  });

  test('zipfian: rank 0 is the most popular and ranks stay in range (theta 0.99)', () => {
    const z = new Zipfian(1000);
    const counts = new Array<number>(1000).fill(0);
    const rng = new Prng(11);
    const rand = (): number => rng.float();
    for (let i = 0; i < 50_000; i++) counts[z.next(rand())]++;
    assert.equal(counts.indexOf(Math.max(...counts)), 0);
    assert.ok(counts[0] > 1.5 * counts[1] && counts[1] > counts[10] && counts[10] > counts[500]);
    assert.ok(Math.abs(counts[0] / 50_000 - 1 / 7.73) < 0.02, `P(rank 0) = ${counts[0] / 50_000}; 1 / zeta(1000, 0.99) is about 1 / 7.73`);
  });

  test('latest: the newest keys are the most read', () => {
    const w = new Workload({ name: 'D', mix: PRESETS.D.mix, distribution: 'latest', keys: 1000, valueSizeBytes: 10 }, 5);
    let high = 0;
    let reads = 0;
    for (let i = 0; i < 5000; i++) {
      const op = w.next();
      if (op.kind === 'insert') w.inserted(op.key);
      else {
        reads++;
        if (op.key >= w.keySpace - 100) high++;
      }
    }
    assert.ok(high / reads > 0.5, `${high} of ${reads}`);
  });
});

// ------------------------------------------------------------------------------------------------ tables and HTML

describe('reports', () => {
  test('the bench table shows throughput, latency and every consistency figure', async () => {
    const r = await fakeReport('x', 0.2);
    const t = benchTable(r);
    for (const s of ['read', 'update', 'all', 'p99.9 us', 'stale reads', 't-visibility', 'conflicts', 'lost writes', 'read repairs']) assert.ok(t.includes(s), s);
    assert.ok(r.consistency.staleReads > 0);
    assert.equal(r.schema, 'leaderless-bench/1');
    assert.deepEqual(JSON.parse(JSON.stringify(r)).config.workload, WORKLOAD_A);
  });

  test('the sweep table has one row per configuration', async () => {
    const runs = [await fakeReport('R=1 W=1', 0.3), await fakeReport('R=2 W=2', 0)];
    const lines = sweepTable(runs).trimEnd().split('\n');
    assert.match(lines[lines.length - 2], /^R=1 W=1 /);
    assert.match(lines[lines.length - 1], /^R=2 W=2 .* 0\.00% /);
  });
  // the HTML pages: test/report-html.test.ts
});
