// The benchmark runner: load the keys, run a closed-loop workload with a fault schedule, heal, read everything back at
// ALL, and hand the history to the oracle. The cluster is injected (a factory) and so is time (a clock), so the
// same runner drives the thread runtime (`leaderless bench`) and the simulated one (`leaderless sim`).
//
// Data layout: `inFlight` loops share one Workload (the op stream), one Recorder (bench/recorder.ts: latencies,
// outcomes, timeline, the history for the oracle) and one Driver (bench/driver.ts: the operations and the context
// cache). Times in the history are ms from the start of the measured run (loading happens before 0). The phases are
// in bench/phases.ts, the cluster's own counters in bench/cluster-figures.ts.
//
// Run length: a duration run issues no operation after its deadline. `run.runMs` is the deadline; operations still in
// flight then are awaited (`run.drainMs`, `run.inFlightAtDeadline`) and count in latency, availability and the
// history, but throughput (`opsPerSec`) is the operations completed by the deadline divided by runMs.
//
// Use: const report = await runBench(spec, { factory, clock: realClock() });
import type { ClusterOptions } from '../runtime/index.js';
import { clusterFigures, flattenMetrics, type ClusterFigures } from './cluster-figures.js';
import { Driver } from './driver.js';
import { explain } from './explain.js';
import { FaultDriver, type DriverClock, type FaultApi, type FaultMarker } from './faults.js';
import { membershipFigures, type MembershipFigure } from './membership-figures.js';
import { analyze, type ConsistencyReport } from './oracle.js';
import { load, runWorkload, settle, verify, withTimeout, type RunWindow } from './phases.js';
import { Recorder, type OpStats } from './recorder.js';
import { Workload, keyName, type OpKind, type WorkloadSpec } from './workloads.js';

export type { LatencyUs } from './histogram.js';
export type { OpStats } from './recorder.js';
export { flattenMetrics } from './cluster-figures.js';
export type { BenchCluster, BenchSpec, ClusterFactory, Progress, RunDeps, UpdateContext } from './spec.js';
import type { BenchCluster, BenchSpec, RunDeps, UpdateContext } from './spec.js';

export interface BenchReport {
  schema: 'leaderless-bench/1';
  label: string;
  config: {
    cluster: ClusterOptions;
    workload: WorkloadSpec;
    inFlight: number;
    durationMs: number | null;
    operations: number | null;
    seed: number;
    faults: string[];
    updateContext: UpdateContext;
    maxHistory: number;
  };
  run: {
    loadMs: number;
    /** the measured run: the deadline of a duration run, or until the last operation of a count run */
    runMs: number;
    /** after the deadline, waiting for the operations still in flight */
    drainMs: number;
    inFlightAtDeadline: number;
    settleMs: number;
    verifyMs: number;
    historyOps: number;
    historyTruncated: boolean;
  };
  ops: Partial<Record<OpKind, OpStats>> & { all: OpStats };
  consistency: ConsistencyReport;
  verify: { keys: number; levels: Record<string, number> };
  cluster: ClusterFigures;
  timeline: { bucketMs: number; buckets: Array<{ tMs: number; ok: number; failed: number }> };
  faults: FaultMarker[];
  /** the membership changes of the fault schedule: what each moved and the throughput during it */
  membership: MembershipFigure[];
  notes: string[];
}

export const MAX_IN_FLIGHT = 65_536;
const CONTROL_TIMEOUT_MS = 2_000;

export function realClock(): DriverClock {
  // unref'd: a fault scheduled after the run ends must not keep the process alive
  return { nowMs: () => performance.now(), sleepMs: (ms) => new Promise((r) => setTimeout(r, ms).unref()) };
}

// ------------------------------------------------------------------------------------------------ the run

interface Measured {
  loadMs: number;
  window: RunWindow;
  settleMs: number;
  verifyMs: number;
  before: Record<string, number>;
  after: Record<string, number>;
  keys: string[];
  verified: Awaited<ReturnType<typeof verify>>;
  markers: FaultMarker[];
}

export async function runBench(spec: BenchSpec, deps: RunDeps): Promise<BenchReport> {
  const notes: string[] = [];
  const bucketMs = spec.durationMs === undefined ? 250 : Math.max(50, Math.ceil(spec.durationMs / 100));
  const rec = new Recorder(spec.maxHistory, bucketMs, spec.durationMs ?? Infinity);
  const workload = new Workload(spec.workload, spec.seed);
  const cluster = await deps.factory(spec.cluster, spec.seed);
  const detach = deps.onCluster?.(cluster);
  try {
    const m = await measure(cluster, spec, deps, rec, workload, notes);
    return report(spec, rec, m, notes, bucketMs);
  } finally {
    await detach?.();
    await cluster.stop();
  }
}

const metricsOf = async (cluster: BenchCluster): Promise<Record<string, number>> =>
  flattenMetrics(cluster.metrics ? await withTimeout(cluster.metrics(), CONTROL_TIMEOUT_MS) : undefined);

/** Load, run under the fault schedule, heal and settle, verify: every phase of one run. */
async function measure(cluster: BenchCluster, spec: BenchSpec, deps: RunDeps, rec: Recorder, workload: Workload, notes: string[]): Promise<Measured> {
  const clock = deps.clock;
  const loadStartMs = clock.nowMs();
  let originMs = loadStartMs;
  const driver = new Driver(cluster, spec, workload, rec, () => clock.nowMs() - originMs);
  const faults = new FaultDriver(faultApiOf(cluster), spec.faults, clock); // checks support before anything runs
  await load(driver, spec, deps, notes);
  const loadMs = clock.nowMs() - loadStartMs;
  const before = await metricsOf(cluster);
  originMs = clock.nowMs();
  rec.shift(originMs - loadStartMs); // history times so far are from the start of loading: the run starts at 0
  const faultsDone = faults.run(originMs);
  const window = await runWorkload(driver, workload, rec, spec, deps, originMs);
  faults.stop();
  await faults.restore(clock.nowMs() - originMs);
  await faultsDone;
  const settleMs = await settle(cluster, clock, deps, notes);
  const after = await metricsOf(cluster);
  const v0 = clock.nowMs();
  const keys = Array.from({ length: workload.keySpace }, (_, i) => keyName(i));
  const verified = await verify(cluster, keys, spec.inFlight, deps);
  return { loadMs, window, settleMs, verifyMs: clock.nowMs() - v0, before, after, keys, verified, markers: faults.markers };
}

/**
 * The cluster's faults, and its membership calls where it has them (join, leave and replace faults use them). The
 * faults object stays the prototype, so that a class's methods keep their `this`.
 */
function faultApiOf(cluster: BenchCluster): FaultApi {
  if (cluster.addNode === undefined) return cluster.faults;
  const membership: Partial<FaultApi> = {
    addNode: (o) => cluster.addNode!(o),
    removeNode: (n) => cluster.removeNode!(n),
    replaceNode: (n) => cluster.replaceNode!(n),
    ...(cluster.membership === undefined ? {} : { membership: () => cluster.membership!() }),
  };
  return Object.assign(Object.create(cluster.faults) as FaultApi, membership);
}

function report(spec: BenchSpec, rec: Recorder, m: Measured, notes: string[], bucketMs: number): BenchReport {
  const { levels, finals } = m.verified;
  if (levels.ALL < m.keys.length) notes.push(`the final read met ALL for ${levels.ALL} of ${m.keys.length} keys (QUORUM ${levels.QUORUM}, ONE ${levels.ONE}, failed ${levels.failed})`);
  if (rec.truncated) notes.push(`the history reached its limit (${spec.maxHistory} operations): later operations were measured but not judged`);
  const mode = spec.cluster.conflicts ?? 'siblings';
  const consistency = analyze({ mode, history: rec.history, finalReads: finals, incompleteKeys: rec.incompleteKeys });
  const all = rec.stats('all');
  const inFlightAtDeadline = all.ok + all.failed + all.refused - all.inRun;
  notes.push(...explain(spec, consistency, inFlightAtDeadline, m.window));
  return {
    schema: 'leaderless-bench/1',
    label: spec.label,
    config: {
      cluster: spec.cluster,
      workload: spec.workload,
      inFlight: spec.inFlight,
      durationMs: spec.durationMs ?? null,
      operations: spec.operations ?? null,
      seed: spec.seed,
      faults: spec.faults.map((f) => f.text),
      updateContext: spec.updateContext,
      maxHistory: spec.maxHistory,
    },
    run: { loadMs: m.loadMs, ...m.window, inFlightAtDeadline, settleMs: m.settleMs, verifyMs: m.verifyMs, historyOps: rec.history.length, historyTruncated: rec.truncated },
    ops: rec.opStats(m.window.runMs),
    consistency,
    verify: { keys: m.keys.length, levels },
    cluster: clusterFigures(m.before, m.after),
    timeline: { bucketMs, buckets: rec.timeline.map((b, i) => ({ tMs: i * bucketMs, ...b })) },
    faults: m.markers,
    membership: membershipFigures(m.markers, rec.timeline.map((b, i) => ({ tMs: i * bucketMs, ...b })), bucketMs),
    notes,
  };
}
