// Metrics that tell the truth: percentiles from HDR histograms never above the max nor below the min; Prometheus
// buckets derived from HDR counts; the Prometheus exposition of a real cluster on prom-client (counters `_total`,
// gauges, a latency histogram in seconds, no state in a label, one source() call per scrape, fresh values, an
// application's own registry) checked by `promtool check metrics`; repair() reporting the tombstones it reaped.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as hdr from 'hdr-histogram-js';
import { Counter, Registry } from 'prom-client';
import { startMetricsServer } from '../bench/metrics-server.js';
import { Cluster, SimCluster } from '../runtime/index.js';
import { LATENCY_BUCKETS_US, latencyBuckets, percentileOf, summarizeLatency } from '../runtime/metrics/latency.js';
import { LATENCY_FAMILY, metricsText, registerClusterMetrics } from '../runtime/metrics/index.js';
import { Prng } from '../runtime/index.js';

const prng = (seed: number): (() => number) => {
  const r = new Prng(seed);
  return () => r.float();
};
import { runBench } from '../bench/run.js';
import { PRESETS } from '../bench/workloads.js';
import { FakeStore } from './helpers/harness-fake.js';

/** The client's histogram configuration (runtime/client-core.ts): 1 us .. 1 h, 2 significant digits. */
function clientHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 2 });
}

describe('percentiles from HDR histograms', () => {
  test('p99 of values all at 9199 us is 9199, not the top of its HDR bucket (9215)', () => {
    const h = clientHistogram();
    for (let i = 0; i < 100; i++) h.recordValue(9199);
    assert.equal(h.getValueAtPercentile(99), 9215, 'the raw HDR answer this guards against');
    const s = summarizeLatency(h);
    assert.equal(s.maxUs, 9199);
    assert.equal(s.p99Us, 9199);
    assert.equal(s.p50Us, 9199);
  });

  test('every percentile lies within [min, max], for seeded random latencies', () => {
    const rnd = prng(42);
    for (let run = 0; run < 50; run++) {
      const h = clientHistogram();
      const n = 1 + Math.floor(rnd() * 200);
      for (let i = 0; i < n; i++) h.recordValue(1 + Math.floor(Math.exp(rnd() * 16)));
      for (const p of [0, 1, 50, 90, 99, 99.9, 100]) {
        const v = percentileOf(h, p);
        assert.ok(v <= h.maxValue && v >= h.minNonZeroValue, `run ${run} p${p} = ${v} outside [${h.minNonZeroValue}, ${h.maxValue}]`);
      }
    }
  });

  test('the bench report: every read taking 9197 us gives p50 = p99 = p99.9 = max = 9197 (HDR alone says 9199)', async () => {
    // a clock that moves only inside the store: each read takes exactly 9.197 ms of it
    const clock = { t: 0, nowMs: () => clock.t, sleepMs: async (ms: number) => void (clock.t += ms) };
    const store = new FakeStore({ seed: 1 });
    const get = store.get.bind(store);
    store.get = async (...a) => ((clock.t += 9.197), get(...a));
    const report = await runBench(
      {
        label: 'fixed latency', cluster: { nodes: 3, replication: 3 }, workload: { name: 'C', mix: PRESETS.C.mix, distribution: 'uniform', keys: 10, valueSizeBytes: 8 },
        inFlight: 1, operations: 50, seed: 1, faults: [], updateContext: 'read', maxHistory: 1000,
      },
      { factory: async () => store, clock },
    );
    const l = report.ops.read!.latencyUs;
    assert.equal(l.max, 9197);
    assert.deepEqual([l.p50, l.p90, l.p99, l.p999], [9197, 9197, 9197, 9197]);
  });

  test('an empty histogram reports 0', () => {
    assert.equal(percentileOf(clientHistogram(), 99), 0);
    assert.deepEqual(summarizeLatency(clientHistogram()).buckets.counts, LATENCY_BUCKETS_US.map(() => 0));
  });
});

describe('Prometheus buckets from HDR histograms', () => {
  test('exact below 256 us, where every value is its own HDR bucket', () => {
    const h = clientHistogram();
    const values = [1, 50, 50, 51, 99, 100, 101, 249, 250, 251, 255];
    for (const v of values) h.recordValue(v);
    const b = latencyBuckets(h, [50, 100, 250]);
    assert.deepEqual(b.counts, [3, 6, 9]);
    assert.equal(b.count, values.length);
    assert.equal(b.sumUs, values.reduce((a, v) => a + v, 0));
  });

  test('within one HDR bucket of the exact cumulative count at every default bound', () => {
    const rnd = prng(7);
    const h = clientHistogram();
    const values: number[] = [];
    for (let i = 0; i < 5000; i++) values.push(1 + Math.floor(Math.exp(rnd() * 17)));
    for (const v of values) h.recordValue(v);
    const b = latencyBuckets(h);
    const exact = (le: number): number => values.filter((v) => v <= le).length;
    b.boundsUs.forEach((le, i) => {
      const tol = le / 100; // 2 significant digits: an HDR bucket is under 1% of its values wide
      assert.ok(b.counts[i] >= exact(le - tol) && b.counts[i] <= exact(le + tol), `le ${le}: ${b.counts[i]} vs exact ${exact(le)}`);
      if (i > 0) assert.ok(b.counts[i] >= b.counts[i - 1], 'cumulative');
    });
    assert.equal(b.count, values.length);
    const sum = values.reduce((a, v) => a + v, 0);
    assert.ok(Math.abs(b.sumUs - sum) / sum < 0.01, `sum ${b.sumUs} vs ${sum}`);
  });
});

/** Families of an exposition: name -> { type, help, samples }. */
function parse(text: string): Map<string, { type: string; help: string; samples: string[] }> {
  const fams = new Map<string, { type: string; help: string; samples: string[] }>();
  let cur: { type: string; help: string; samples: string[] } | undefined;
  for (const line of text.split('\n')) {
    const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (m !== null) {
      if (!fams.has(m[2])) fams.set(m[2], { type: '', help: '', samples: [] });
      cur = fams.get(m[2])!;
      if (m[1] === 'HELP') cur.help = m[3];
      else cur.type = m[3];
    } else if (line !== '') cur!.samples.push(line);
  }
  return fams;
}

/** Runs `promtool check metrics` on text; undefined when promtool is not installed (an error under CI). */
function promtool(text: string): { status: number | null; output: string } | undefined {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    if (process.env.CI) assert.fail('promtool is not installed, and CI must check the exposition (apt-get install prometheus)');
    return undefined;
  }
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('Prometheus exposition of a real cluster', () => {
  test('counters _total, gauges, a latency histogram in seconds, no state label; promtool accepts it', async (t) => {
    const cluster = await Cluster.start({ nodes: 3, replication: 3 });
    try {
      for (let i = 0; i < 20; i++) await cluster.put(`k${i}`, `v${i}`);
      for (let i = 0; i < 20; i++) await cluster.get(`k${i}`, { consistency: 'QUORUM' });
      const registry = new Registry();
      new Counter({ name: 'app_requests_total', help: 'Requests the application served.', registers: [registry] }).inc(5);
      let calls = 0;
      const reg = registerClusterMetrics(registry, () => (calls++, cluster.metrics()));
      const text = await registry.metrics();
      assert.equal(calls, 1, 'one metrics() call per scrape');
      const fams = parse(text);
      assert.ok(fams.has('app_requests_total'), 'the application\'s own metrics stay beside');
      for (const [name, f] of fams) {
        assert.ok(/^(counter|gauge|histogram)$/.test(f.type), `${name} typed ${f.type}`);
        assert.equal(f.type === 'counter', name.endsWith('_total'), `${name}: counters and only counters end in _total`);
        assert.ok(!/_(us|ms|p\d+)(_|$)/.test(name), `${name}: base units, no percentiles`);
        if (name.startsWith('leaderless_')) assert.ok(f.help.split(' ').length >= 5 && f.help !== name.replace(/_/g, ' '), `${name}: HELP explains: ${f.help}`);
      }
      assert.match(text, /^leaderless_node_up\{node="0"\} 1$/m);
      for (const s of ['up', 'suspect', 'down']) assert.match(text, new RegExp(`^leaderless_node_state\\{node="2",state="${s}"\\} ${s === 'up' ? 1 : 0}$`, 'm'));
      assert.ok(!/status=/.test(text), 'no state in a label');
      assert.match(text, /^leaderless_replica_coordinated_writes_total\{node="\d"\} \d+$/m);
      assert.match(text, /^leaderless_store_live_bytes\{node="1"\} \d+$/m);
      const hist = fams.get(LATENCY_FAMILY)!;
      assert.equal(hist.type, 'histogram');
      const m = await cluster.metrics();
      for (const op of ['read', 'write'] as const) {
        const count = (op === 'read' ? m.client.readLatency : m.client.writeLatency).count;
        assert.ok(count >= 20, `${op}s recorded`);
        assert.ok(hist.samples.includes(`${LATENCY_FAMILY}_bucket{op="${op}",le="+Inf"} ${count}`), `${op} +Inf bucket = ${count}`);
        assert.ok(hist.samples.includes(`${LATENCY_FAMILY}_count{op="${op}"} ${count}`));
        assert.ok(hist.samples.some((s) => s.startsWith(`${LATENCY_FAMILY}_bucket{op="${op}",le="0.001"}`)), 'bounds in seconds');
      }
      const writes = (s: string): number =>
        [...s.matchAll(/^leaderless_client_writes_total (\d+)$/gm)].reduce((a, x) => a + Number(x[1]), 0);
      await cluster.put('one-more', 'v');
      assert.equal(writes(await registry.metrics()), writes(text) + 1, 'a scrape reads fresh values');
      assert.equal(calls, 2);

      const checked = promtool(text);
      if (checked === undefined) t.skip('promtool is not installed (apt-get install prometheus); CI installs it');
      else assert.equal(checked.status, 0, `promtool check metrics:\n${checked.output}`);

      reg.unregister();
      assert.equal((await registry.metrics()).trim().split('\n').filter((l) => !l.startsWith('#')).join(), 'app_requests_total 5');
    } finally {
      await cluster.stop();
    }
  });

  test('--metrics-port serves the same families from its own registry', async () => {
    const cluster = await Cluster.start({ nodes: 3, replication: 3 });
    const server = await startMetricsServer(0, () => cluster);
    try {
      await cluster.put('k', 'v');
      const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0.0.4/);
      const body = await res.text();
      assert.deepEqual([...parse(body).keys()], [...parse(await cluster.metricsText()).keys()]);
      const checked = promtool(body);
      if (checked !== undefined) assert.equal(checked.status, 0, checked.output);
    } finally {
      await server.close();
      await cluster.stop();
    }
  });

  test('registerClusterMetrics refuses what is not a registry or a source, saying what it needs', () => {
    assert.throws(() => registerClusterMetrics({} as Registry, () => ({ nodes: [] })), { code: 'INVALID_ARGUMENT', message: /prom-client Registry; got object/ });
    assert.throws(() => registerClusterMetrics(new Registry(), 'cluster' as never), { code: 'INVALID_ARGUMENT', message: /source function.*got string/ });
  });

  test('metricsText of the simulator\'s metrics(), which lacks anti-entropy and latency figures, is valid too', async () => {
    const sim = await SimCluster.start({ nodes: 3, replication: 3, seed: 3 });
    await sim.put('k', 'v');
    const text = await metricsText(await sim.metrics());
    assert.match(text, /^leaderless_replica_coordinated_writes_total\{node="\d"\} 1$/m);
    assert.match(text, /^leaderless_node_up\{node="1"\} 1$/m);
    const checked = promtool(text);
    if (checked !== undefined) assert.equal(checked.status, 0, checked.output);
    await sim.stop();
  });

  test('membership: the ring epoch, members, and what changes moved; promtool accepts it', async () => {
    const sim = await SimCluster.start({ nodes: 3, replication: 3, seed: 3 });
    for (let i = 0; i < 40; i++) await sim.put(`k${i}`, 'v');
    const join = await sim.addNode();
    const text = await metricsText(await sim.metrics());
    assert.match(text, /^leaderless_ring_epoch 2$/m);
    assert.match(text, /^leaderless_ring_members 4$/m);
    assert.match(text, /^leaderless_membership_changes_completed_total 1$/m);
    assert.match(text, /^leaderless_membership_handoffs_in_progress 0$/m);
    assert.match(text, new RegExp(`^leaderless_membership_keys_moved_total ${join.keysMoved}$`, 'm'));
    assert.match(text, new RegExp(`^leaderless_membership_bytes_moved_total ${join.bytesMoved}$`, 'm'));
    const checked = promtool(text);
    if (checked !== undefined) assert.equal(checked.status, 0, checked.output);
    await sim.stop();
  });
});

describe('repair() statistics', () => {
  test('tombstonesReaped counts the reaps since the previous round, adding up to the totals', async () => {
    const c = await SimCluster.start({ nodes: 3, replication: 3, seed: 7, antiEntropy: { tombstoneGraceMs: 200 } });
    const keys = ['a', 'b', 'c'];
    for (const k of keys) await c.put(k, 'v', { consistency: 'ALL' });
    for (const k of keys) await c.delete(k, { consistency: 'ALL', context: (await c.get(k, { consistency: 'ALL' })).context });
    const reported: number[] = [];
    const totals: number[] = [];
    for (let i = 0; i < 3; i++) {
      reported.push((await c.repair()).tombstonesReaped);
      totals.push((await c.metrics()).totals.tombstonesReaped);
      await c.sleep(300); // past the grace: the tombstones this round confirmed are reaped on the ticks meanwhile
    }
    assert.equal(totals[2], 9, 'every replica reaped each of the 3 tombstones');
    assert.deepEqual(reported, [0, 9, 0], 'the round after the reaps reports them');
    await c.stop();
  });
});
