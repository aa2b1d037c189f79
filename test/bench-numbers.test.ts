// The harness's own numbers, checked on runs whose answers are known: lost writes of a healthy last-write-wins
// store, which metrics take deltas in the JSON report (counters only), the length of a run whose operations outlast
// its deadline, and progress lines outside a terminal. Virtual time throughout: deterministic, no sleeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { latencyHistogram, latencySummary, recordMs } from '../bench/histogram.js';
import { explain } from '../bench/explain.js';
import { analyze, type ConsistencyReport } from '../bench/oracle.js';
import { ProgressBar } from '../bench/progress.js';
import { runBench, type BenchCluster, type BenchSpec } from '../bench/run.js';
import { PRESETS } from '../bench/workloads.js';
import type { FaultApi } from '../bench/faults.js';
import type { GetResult, PutResult } from '../runtime/index.js';
import { FakeStore, VirtualClock } from './helpers/harness-fake.js';

function spec(over: Partial<BenchSpec> = {}): BenchSpec {
  return {
    label: 'fake',
    cluster: { conflicts: 'siblings' },
    workload: { name: 'A', mix: PRESETS.A.mix, distribution: 'zipfian', keys: 20, valueSizeBytes: 16 },
    inFlight: 1,
    operations: 300,
    seed: 7,
    faults: [],
    updateContext: 'read',
    maxHistory: 1_000_000,
    ...over,
  };
}

const noFaults: FaultApi = { partition: () => {}, heal: () => {}, kill: async () => {} };

/** A healthy last-write-wins register per key: every put replaces the value; with one operation in flight, the
 * arrival order is the timestamp order. */
class LwwStore implements BenchCluster {
  readonly faults = noFaults;
  private readonly values = new Map<string, string>();
  async get(key: string): Promise<GetResult> {
    const v = this.values.get(key);
    return { found: v !== undefined, values: v === undefined ? [] : [v], context: '', deleted: false, primaryOnly: true };
  }
  async put(key: string, value: string): Promise<PutResult> {
    this.values.set(key, value);
    return { acked: [0], primaryOnly: true, context: '', values: [value], siblings: false };
  }
  async stop(): Promise<void> {}
}

test('lww: a healthy store with one writer at a time loses no write, blind updates included', async () => {
  for (const updateContext of ['none', 'read'] as const) {
    const report = await runBench(spec({ cluster: { conflicts: 'lww' }, updateContext }), { factory: async () => new LwwStore(), clock: new VirtualClock() });
    const lw = report.consistency.lostWrites;
    assert.ok(lw.acknowledged > 100, 'the run wrote');
    assert.equal(lw.lost, 0, updateContext);
    assert.equal(lw.droppedByLww, 0, updateContext);
    assert.ok(lw.superseded > 0, 'later writes superseded earlier ones');
    assert.equal(report.consistency.staleReads, 0);
  }
});

/** Metrics that move between the "before" and "after" readings: counters grow, percentiles fall, a timestamp ticks. */
class MeteredStore extends FakeStore {
  private calls = 0;
  async metrics(): Promise<never> {
    const end = this.calls++ > 0;
    const m = {
      totals: { puts: end ? 150 : 100, hintQueueKeys: end ? 2 : 9 },
      client: { gets: end ? 40 : 10, writeLatency: { count: end ? 30 : 20, p50Us: end ? 1200 : 8880, p99Us: end ? 5000 : 9000, maxUs: end ? 7000 : 9100 } },
      watch: { uptimeMs: 99 },
      nodes: [
        { node: 0, ae: { keysRepaired: end ? 5 : 1, lastRepairMs: end ? 1_700_000_000_500 : 1_700_000_000_000, inFlight: end ? 0 : 1 }, mailboxDepth: end ? 3 : 8 },
        { node: 1, ae: { keysRepaired: end ? 4 : 4, lastRepairMs: end ? 1_700_000_000_600 : 1_700_000_000_100, inFlight: 0 }, mailboxDepth: 1 },
      ],
    };
    return m as never;
  }
}

test('json: only counters take deltas; percentiles, maxima, gauges and timestamps are as they were at the end', async () => {
  const report = await runBench(spec(), { factory: async () => new MeteredStore({ seed: 1 }), clock: new VirtualClock() });
  const c = report.cluster;
  assert.deepEqual(c.counters, {
    'client.gets': 30,
    'client.writeLatency.count': 10,
    'nodes.ae.keysRepaired': 4,
    'totals.puts': 50,
  });
  assert.deepEqual(c.atEnd, {
    'client.writeLatency.maxUs': 7000,
    'client.writeLatency.p50Us': 1200,
    'client.writeLatency.p99Us': 5000,
    'nodes.ae.inFlight': 0,
    'nodes.ae.lastRepairMs': 1_700_000_000_600,
    'nodes.mailboxDepth': 4,
    'totals.hintQueueKeys': 2,
  });
  assert.equal(c.repairs, null);
});

/** Every operation takes 300 ms of virtual time. */
class SlowStore extends FakeStore {
  constructor(private readonly clock: VirtualClock) {
    super({ seed: 3 });
  }
  override async get(key: string, options?: { consistency?: unknown }): Promise<GetResult> {
    if (options?.consistency !== 'ALL') this.clock.t += 300;
    return super.get(key, options);
  }
  override async put(key: string, value: string, options?: { context?: string; consistency?: unknown }): Promise<PutResult> {
    if (options?.consistency !== 'ALL') this.clock.t += 300;
    return super.put(key, value, options);
  }
}

test('run length: issuing stops at the deadline; the run is as long as asked, throughput counts what finished in it', async () => {
  const clock = new VirtualClock();
  const s = spec({ operations: undefined, durationMs: 1000, workload: { ...spec().workload, mix: PRESETS.C.mix } });
  const report = await runBench(s, { factory: async () => new SlowStore(clock), clock });
  // operations start at about 0, 300, 600 and 900 ms; the last one finishes at about 1200 ms
  assert.equal(report.ops.all.count, 4);
  assert.equal(report.run.runMs, 1000);
  assert.ok(Math.abs(report.run.drainMs - 200) < 1, `drained ${report.run.drainMs} ms`);
  assert.equal(report.run.inFlightAtDeadline, 1);
  assert.equal(report.ops.all.opsPerSec, 3);
  assert.ok(report.notes.some((n) => /1 operation was in flight at the deadline/.test(n)), report.notes.join('\n'));
});

test('progress outside a terminal prints each phase once it completes', async () => {
  let text = '';
  const out = new Writable({ write: (chunk, _enc, cb) => ((text += String(chunk)), cb()) });
  const bar = new ProgressBar(out, '', false);
  await runBench(spec({ workload: { ...spec().workload, keys: 2500 } }), { factory: async () => new FakeStore({ seed: 2 }), clock: new VirtualClock(), onProgress: (p) => bar.update(p) });
  for (const phase of ['load', 'run', 'settle', 'verify']) {
    assert.match(text, new RegExp(`^${phase} +done\\b`, 'm'), `${phase} completion in:\n${text}`);
  }
  assert.match(text, /^load +done .*2,500 \/ 2,500/m);
});

test('latency summaries: no percentile above the maximum (HDR reports the top of a bucket)', () => {
  const h = latencyHistogram();
  recordMs(h, 5); // 5000 us: HDR's bucket there is 4 us wide, and it reports its top, 5003
  assert.ok(h.getValueAtPercentile(99) > h.maxValue, 'HDR itself rounds up past the max here');
  const s = latencySummary(h);
  assert.equal(s.max, 5000);
  assert.deepEqual([s.p50, s.p90, s.p99, s.p999], [5000, 5000, 5000, 5000]);
  assert.deepEqual(latencySummary(latencyHistogram()), { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 });
});

test('a high sibling rate on workload A is explained in one line; a low one, or lww, is not', () => {
  const consistency = (rate: number) => analyzeWith(rate);
  const window = { runMs: 1000, drainMs: 0 };
  const a = explain(spec({ inFlight: 64 }), consistency(0.43), 0, window);
  assert.equal(a.length, 1);
  assert.match(a[0], /^siblings: 43\.0% of reads returned siblings, as expected from workload A's concurrent blind updates of zipfian hot keys with 64 in flight/);
  assert.doesNotMatch(a[0], /\n/);
  assert.deepEqual(explain(spec(), consistency(0.001), 0, window), []);
  assert.deepEqual(explain(spec({ workload: { ...spec().workload, name: 'C', mix: PRESETS.C.mix } }), consistency(0.43), 0, window), []);
  assert.equal(explain(spec({ cluster: { conflicts: 'lww' } }), consistency(0.43), 0, window).filter((n) => n.startsWith('siblings')).length, 0);
});

/** A consistency report whose only interesting figure is the share of reads with siblings. */
function analyzeWith(rate: number): ConsistencyReport {
  const base = analyze({ mode: 'siblings', history: [], finalReads: new Map() });
  return { ...base, reads: 1000, conflicts: { ...base.conflicts, reads: Math.round(rate * 1000), rate } };
}
