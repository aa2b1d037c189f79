// The benchmark runner: load the keys, run a closed-loop workload with a fault schedule, heal, read everything back at
// ALL, and hand the history to the oracle. The cluster is injected (a factory) and so is time (a clock), so the
// same runner drives the thread runtime (`leaderless bench`) and, later, the simulated one (`leaderless sim`).
//
// Data layout: `inFlight` loops share one Workload (the op stream), one Recorder (per-op-kind HDR histograms of ok
// latencies in microseconds, outcome counts, a throughput timeline, and the history for the oracle, bounded by
// maxHistory) and one context cache (key -> the newest context the harness holds and the value ids it covers). Times
// in the history are ms from the start of the measured run (loading happens before 0).
//
// Use: const report = await runBench(spec, { factory, clock: realClock() });
import type { Histogram } from 'hdr-histogram-js';
import { LeaderlessError } from '../actors/errors.js';
import type { ClusterMetrics } from '../runtime/api.js';
import type { GetOptions, GetResult, PutOptions, PutResult } from '../runtime/threads/client.js';
import type { ClusterOptions } from '../runtime/config.js';
import { FaultDriver, type DriverClock, type FaultApi, type FaultMarker, type FaultSpec } from './faults.js';
import { analyze, type ConsistencyReport, type HistoryOp, type Outcome } from './oracle.js';
import { histogram } from './quick.js';
import { Workload, keyName, makeValue, valueId, OP_KINDS, type OpKind, type WorkloadSpec } from './workloads.js';

export interface BenchCluster {
  get(key: string, options?: GetOptions): Promise<GetResult>;
  put(key: string, value: string, options?: PutOptions): Promise<PutResult>;
  faults: FaultApi;
  metrics?(): Promise<ClusterMetrics>;
  /** hints delivered and in-flight work done (runtimes that have it) */
  settle?(): Promise<unknown>;
  /** one anti-entropy round (runtimes that have it): run after settle so the final read sees converged replicas */
  repair?(): Promise<unknown>;
  stop(): Promise<void>;
}

export type ClusterFactory = (options: ClusterOptions, seed: number) => Promise<BenchCluster>;
export type UpdateContext = 'last' | 'read' | 'none';

export interface BenchSpec {
  label: string;
  cluster: ClusterOptions;
  workload: WorkloadSpec;
  inFlight: number;
  /** exactly one of durationMs and operations */
  durationMs?: number;
  operations?: number;
  seed: number;
  faults: FaultSpec[];
  /** which context an update carries: the newest from a read or a put, only from a read, or none (blind) */
  updateContext: UpdateContext;
  /** operations the history keeps for the oracle; later ones are measured but not judged */
  maxHistory: number;
}

export interface Progress {
  phase: 'load' | 'run' | 'settle' | 'verify';
  done: number;
  /** operations or milliseconds, whichever `unit` says */
  total: number;
  unit: 'ops' | 'ms';
  elapsedMs: number;
  opsPerSec: number;
  errors: number;
}

export interface RunDeps {
  factory: ClusterFactory;
  clock: DriverClock;
  onProgress?: (p: Progress) => void;
  /** called once the cluster is up (e.g. to serve its metrics); the returned function is called before it stops */
  onCluster?: (c: BenchCluster) => (() => void | Promise<void>) | void;
}

export interface LatencyUs {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface OpStats {
  count: number;
  ok: number;
  failed: number;
  refused: number;
  errors: Record<string, number>;
  opsPerSec: number;
  /** ok / count: the share that met its quorum */
  availability: number;
  /** of ok operations */
  latencyUs: LatencyUs;
}

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
  run: { loadMs: number; runMs: number; settleMs: number; verifyMs: number; historyOps: number; historyTruncated: boolean };
  ops: Partial<Record<OpKind, OpStats>> & { all: OpStats };
  consistency: ConsistencyReport;
  verify: { keys: number; levels: Record<string, number> };
  cluster: {
    readRepairs: number | null;
    hintedWrites: number | null;
    hintsQueued: number | null;
    hintsDelivered: number | null;
    repairs: number | null;
    counters: Record<string, number>;
  };
  timeline: { bucketMs: number; buckets: Array<{ tMs: number; ok: number; failed: number }> };
  faults: FaultMarker[];
  notes: string[];
}

export const MAX_IN_FLIGHT = 65_536;
const MAX_TIMELINE_BUCKETS = 10_000;
const PROGRESS_EVERY_MS = 100;
const CONTROL_TIMEOUT_MS = 2_000;
const SETTLE_TIMEOUT_MS = 10_000;

export function realClock(): DriverClock {
  // unref'd: a fault scheduled after the run ends must not keep the process alive
  return { nowMs: () => performance.now(), sleepMs: (ms) => new Promise((r) => setTimeout(r, ms).unref()) };
}

// ------------------------------------------------------------------------------------------------ recorder

class KindStats {
  readonly latency: Histogram = histogram();
  ok = 0;
  failed = 0;
  refused = 0;
  readonly errors: Record<string, number> = {};
}

class Recorder {
  readonly kinds = new Map<OpKind | 'all', KindStats>();
  readonly history: HistoryOp[] = [];
  readonly incompleteKeys = new Set<string>();
  truncated = false;
  readonly timeline: Array<{ ok: number; failed: number }> = [];

  constructor(
    readonly maxHistory: number,
    readonly bucketMs: number,
  ) {}

  stats(kind: OpKind | 'all'): KindStats {
    let s = this.kinds.get(kind);
    if (s === undefined) this.kinds.set(kind, (s = new KindStats()));
    return s;
  }

  done(kind: OpKind, startMs: number, endMs: number, outcome: Outcome, code?: string): void {
    for (const s of [this.stats(kind), this.stats('all')]) {
      s[outcome]++;
      if (outcome === 'ok') s.latency.recordValue(Math.max(1, Math.round((endMs - startMs) * 1000)));
      else s.errors[code ?? 'UNKNOWN'] = (s.errors[code ?? 'UNKNOWN'] ?? 0) + 1;
    }
    const b = Math.floor(endMs / this.bucketMs);
    if (b >= 0 && b < MAX_TIMELINE_BUCKETS) {
      while (this.timeline.length <= b) this.timeline.push({ ok: 0, failed: 0 });
      this.timeline[b][outcome === 'ok' ? 'ok' : 'failed']++;
    }
  }

  record(op: HistoryOp): void {
    if (this.history.length < this.maxHistory) {
      this.history.push(op);
      return;
    }
    this.truncated = true;
    if (op.kind === 'write') this.incompleteKeys.add(op.key);
  }

  get completed(): number {
    const s = this.kinds.get('all');
    return s === undefined ? 0 : s.ok + s.failed + s.refused;
  }

  get errors(): number {
    const s = this.kinds.get('all');
    return s === undefined ? 0 : s.failed + s.refused;
  }
}

// ------------------------------------------------------------------------------------------------ operations

interface CachedContext {
  src: { readonly context: string };
  covers: string[];
}

function outcomeOf(e: unknown): { outcome: Outcome; code: string } {
  if (!(e instanceof LeaderlessError)) throw e; // a bug, not a measurement
  const refused =
    e.code === 'OVERLOADED' || (e.code === 'QUORUM_UNREACHABLE' && /nothing was written|no replica of the key is up/.test(e.message));
  return { outcome: refused ? 'refused' : 'failed', code: e.code };
}

/** Performs the workload's operations against one cluster and records them. */
class Driver {
  private readonly contexts = new Map<string, CachedContext>();
  private nextId = 0;

  constructor(
    private readonly cluster: BenchCluster,
    private readonly spec: BenchSpec,
    private readonly workload: Workload,
    private readonly rec: Recorder,
    private readonly now: () => number,
  ) {}

  async perform(kind: OpKind, index: number): Promise<void> {
    const key = keyName(index);
    const t0 = this.now();
    let r: { outcome: Outcome; code?: string };
    if (kind === 'read') r = await this.read(key);
    else if (kind === 'rmw') {
      const got = await this.read(key);
      // the context of this very read, not whatever another loop cached for the key since
      r = got.ctx === undefined ? got : await this.write(key, got.ctx);
    } else r = await this.write(key, kind === 'insert' ? undefined : this.updateContext(key));
    if (kind === 'insert' && r.outcome === 'ok') this.workload.inserted(index);
    this.rec.done(kind, t0, this.now(), r.outcome, r.code);
  }

  private updateContext(key: string): CachedContext | undefined {
    return this.spec.updateContext === 'none' ? undefined : this.contexts.get(key);
  }

  async read(key: string): Promise<{ outcome: Outcome; code?: string; ctx?: CachedContext }> {
    const startMs = this.now();
    try {
      const got = await this.cluster.get(key);
      const values = got.values.map(valueId);
      this.rec.record({ kind: 'read', key, startMs, endMs: this.now(), outcome: 'ok', values });
      const ctx = { src: got, covers: values };
      this.contexts.set(key, ctx);
      return { outcome: 'ok', ctx };
    } catch (e) {
      const o = outcomeOf(e);
      this.rec.record({ kind: 'read', key, startMs, endMs: this.now(), outcome: o.outcome, values: [] });
      return o;
    }
  }

  async write(key: string, ctx: CachedContext | undefined, options: PutOptions = {}): Promise<{ outcome: Outcome; code?: string }> {
    const id = `w${(this.nextId++).toString(36)}`;
    return this.writeValue(key, id, ctx, options);
  }

  async writeValue(key: string, id: string, ctx: CachedContext | undefined, options: PutOptions): Promise<{ outcome: Outcome; code?: string }> {
    const startMs = this.now();
    const covers = ctx?.covers ?? [];
    try {
      const context = ctx?.src.context;
      const put = await this.cluster.put(key, makeValue(id, this.spec.workload.valueSizeBytes), context ? { ...options, context } : options);
      this.rec.record({ kind: 'write', key, startMs, endMs: this.now(), outcome: 'ok', value: id, covers });
      // A put's context covers what its result lists: the value written plus any siblings the coordinator held.
      if (this.spec.updateContext === 'last') this.contexts.set(key, { src: put, covers: put.values.map(valueId) });
      return { outcome: 'ok' };
    } catch (e) {
      const o = outcomeOf(e);
      this.rec.record({ kind: 'write', key, startMs, endMs: this.now(), outcome: o.outcome, value: id, covers });
      return o;
    }
  }
}

// ------------------------------------------------------------------------------------------------ phases

/** Runs `count` tasks with at most `width` in flight. */
async function pool(count: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, lane));
}

async function load(driver: Driver, spec: BenchSpec, deps: RunDeps, notes: string[]): Promise<void> {
  const t0 = deps.clock.nowMs();
  let failures = 0;
  await pool(spec.workload.keys, Math.max(64, spec.inFlight), async (i) => {
    // ALL, so that every replica starts from the same state; the oracle sees these writes like any other
    const r = await driver.writeValue(keyName(i), `L${i.toString(36)}`, undefined, { consistency: 'ALL' });
    if (r.outcome !== 'ok') failures++;
    if (i % 1000 === 0) deps.onProgress?.({ phase: 'load', done: i, total: spec.workload.keys, unit: 'ops', elapsedMs: deps.clock.nowMs() - t0, opsPerSec: 0, errors: failures });
  });
  if (failures > 0) notes.push(`${failures} of ${spec.workload.keys} loading writes at ALL failed`);
}

async function runWorkload(driver: Driver, workload: Workload, rec: Recorder, spec: BenchSpec, deps: RunDeps, originMs: number): Promise<void> {
  const clock = deps.clock;
  const endAt = spec.durationMs === undefined ? Infinity : originMs + spec.durationMs;
  let issued = 0;
  let lastMs = originMs;
  let lastDone = 0;
  const more = (): boolean => (spec.operations === undefined ? clock.nowMs() < endAt : issued < spec.operations);
  const lane = async (): Promise<void> => {
    while (more()) {
      issued++;
      const op = workload.next();
      await driver.perform(op.kind, op.key);
      const now = clock.nowMs();
      if (deps.onProgress !== undefined && now - lastMs >= PROGRESS_EVERY_MS) {
        const done = rec.completed;
        const opsPerSec = ((done - lastDone) * 1000) / (now - lastMs);
        [lastMs, lastDone] = [now, done];
        deps.onProgress(
          spec.operations === undefined
            ? { phase: 'run', done: now - originMs, total: spec.durationMs!, unit: 'ms', elapsedMs: now - originMs, opsPerSec, errors: rec.errors }
            : { phase: 'run', done, total: spec.operations, unit: 'ops', elapsedMs: now - originMs, opsPerSec, errors: rec.errors },
        );
      }
    }
  };
  await Promise.all(Array.from({ length: spec.inFlight }, lane));
}

const VERIFY_LEVELS = ['ALL', 'QUORUM', 'ONE'] as const;

/** Reads every key the run may have written, at ALL (falling back to QUORUM, then ONE, where ALL cannot be met). */
async function verify(cluster: BenchCluster, keys: string[], width: number, deps: RunDeps): Promise<{ finals: Map<string, string[] | null>; levels: Record<string, number> }> {
  const finals = new Map<string, string[] | null>();
  const levels: Record<string, number> = { ALL: 0, QUORUM: 0, ONE: 0, failed: 0 };
  const t0 = deps.clock.nowMs();
  await pool(keys.length, Math.max(64, width), async (i) => {
    const key = keys[i];
    let values: string[] | null = null;
    for (const level of VERIFY_LEVELS) {
      try {
        values = (await cluster.get(key, { consistency: level })).values.map(valueId);
        levels[level]++;
        break;
      } catch (e) {
        outcomeOf(e);
      }
    }
    if (values === null) levels.failed++;
    finals.set(key, values);
    if (i % 1000 === 0) deps.onProgress?.({ phase: 'verify', done: i, total: keys.length, unit: 'ops', elapsedMs: deps.clock.nowMs() - t0, opsPerSec: 0, errors: levels.failed });
  });
  return { finals, levels };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  return Promise.race([p.catch(() => undefined), t]).finally(() => clearTimeout(timer));
}

// ------------------------------------------------------------------------------------------------ metrics

/** Every numeric leaf of the metrics, summed over nodes: 'totals.readRepairs', 'nodes.hints.queued', 'client.gets'. */
export function flattenMetrics(m: ClusterMetrics | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (m === undefined) return out;
  const walk = (prefix: string, o: unknown): void => {
    if (typeof o === 'number' && Number.isFinite(o)) out[prefix] = (out[prefix] ?? 0) + o;
    else if (o !== null && typeof o === 'object' && !Array.isArray(o)) for (const [k, v] of Object.entries(o)) walk(`${prefix}.${k}`, v);
  };
  walk('totals', m.totals);
  walk('client', m.client);
  for (const n of m.nodes ?? []) {
    const { node: _node, ...rest } = n as unknown as Record<string, unknown>;
    walk('nodes', rest);
  }
  return out;
}

function clusterFigures(before: Record<string, number>, after: Record<string, number>): BenchReport['cluster'] {
  const counters: Record<string, number> = {};
  for (const k of Object.keys(after).sort()) counters[k] = after[k] - (before[k] ?? 0);
  const pick = (...names: string[]): number | null => {
    for (const n of names) if (counters[n] !== undefined) return counters[n];
    return null;
  };
  return {
    readRepairs: pick('client.readRepairs', 'totals.readRepairs'),
    hintedWrites: pick('totals.hintedWrites'),
    hintsQueued: pick('totals.hintsQueued', 'nodes.hints.queued', 'nodes.counters.hintsQueued'),
    hintsDelivered: pick('totals.hintsDelivered', 'nodes.hints.delivered', 'nodes.counters.hintsDelivered'),
    repairs: pick('totals.aeKeysRepaired'),
    counters,
  };
}

// ------------------------------------------------------------------------------------------------ the run

export async function runBench(spec: BenchSpec, deps: RunDeps): Promise<BenchReport> {
  const clock = deps.clock;
  const notes: string[] = [];
  const bucketMs = spec.durationMs === undefined ? 250 : Math.max(50, Math.ceil(spec.durationMs / 100));
  const rec = new Recorder(spec.maxHistory, bucketMs);
  const workload = new Workload(spec.workload, spec.seed);
  const cluster = await deps.factory(spec.cluster, spec.seed);
  const detach = deps.onCluster?.(cluster);
  try {
    let originMs = clock.nowMs();
    const driver = new Driver(cluster, spec, workload, rec, () => clock.nowMs() - originMs);
    const driverFaults = new FaultDriver(cluster.faults, spec.faults, clock); // checks support before anything runs
    await load(driver, spec, deps, notes);
    const loadStartMs = originMs;
    const loadMs = clock.nowMs() - loadStartMs;
    const before = flattenMetrics(cluster.metrics ? await withTimeout(cluster.metrics(), CONTROL_TIMEOUT_MS) : undefined);
    originMs = clock.nowMs();
    // history times so far are from the start of loading: shift them so that the run starts at 0
    const shiftMs = originMs - loadStartMs;
    for (const op of rec.history) [op.startMs, op.endMs] = [op.startMs - shiftMs, op.endMs - shiftMs];
    const faultsDone = driverFaults.run(originMs);
    await runWorkload(driver, workload, rec, spec, deps, originMs);
    const runMs = clock.nowMs() - originMs;
    driverFaults.stop();
    await driverFaults.restore(runMs);
    await faultsDone;
    const s0 = clock.nowMs();
    deps.onProgress?.({ phase: 'settle', done: 0, total: 1, unit: 'ops', elapsedMs: 0, opsPerSec: 0, errors: 0 });
    if (cluster.settle) {
      if ((await withTimeout(cluster.settle().then(() => true), SETTLE_TIMEOUT_MS)) !== true) notes.push('settle() did not finish in 10 s');
    } else {
      notes.push('this cluster has no settle(): the final read ran 100 ms after healing, without waiting for hints');
      await clock.sleepMs(100);
    }
    if (cluster.repair) {
      if ((await withTimeout(cluster.repair().then(() => true), SETTLE_TIMEOUT_MS)) !== true) notes.push('repair() did not finish in 10 s');
    }
    const settleMs = clock.nowMs() - s0;
    const after = flattenMetrics(cluster.metrics ? await withTimeout(cluster.metrics(), CONTROL_TIMEOUT_MS) : undefined);
    const v0 = clock.nowMs();
    const keys = Array.from({ length: workload.keySpace }, (_, i) => keyName(i));
    const { finals, levels } = await verify(cluster, keys, spec.inFlight, deps);
    const verifyMs = clock.nowMs() - v0;
    if (levels.ALL < keys.length) notes.push(`the final read met ALL for ${levels.ALL} of ${keys.length} keys (QUORUM ${levels.QUORUM}, ONE ${levels.ONE}, failed ${levels.failed})`);
    if (rec.truncated) notes.push(`the history reached its limit (${spec.maxHistory} operations): later operations were measured but not judged`);
    const consistency = analyze({ mode: spec.cluster.conflicts ?? 'siblings', history: rec.history, finalReads: finals, incompleteKeys: rec.incompleteKeys });
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
      run: { loadMs, runMs, settleMs, verifyMs, historyOps: rec.history.length, historyTruncated: rec.truncated },
      ops: opStats(rec, runMs),
      consistency,
      verify: { keys: keys.length, levels },
      cluster: clusterFigures(before, after),
      timeline: { bucketMs, buckets: rec.timeline.map((b, i) => ({ tMs: i * bucketMs, ...b })) },
      faults: driverFaults.markers,
      notes,
    };
  } finally {
    await detach?.();
    await cluster.stop();
  }
}

function opStats(rec: Recorder, runMs: number): BenchReport['ops'] {
  const toStats = (s: KindStats): OpStats => {
    const count = s.ok + s.failed + s.refused;
    const h = s.latency;
    const empty = h.totalCount === 0;
    const at = (p: number): number => (empty ? 0 : h.getValueAtPercentile(p));
    return {
      count,
      ok: s.ok,
      failed: s.failed,
      refused: s.refused,
      errors: s.errors,
      opsPerSec: runMs > 0 ? (count * 1000) / runMs : 0,
      availability: count === 0 ? 1 : s.ok / count,
      latencyUs: { p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max: empty ? 0 : h.maxValue, mean: empty ? 0 : Math.round(h.mean) },
    };
  };
  const out: Partial<Record<OpKind, OpStats>> = {};
  for (const k of OP_KINDS) {
    const s = rec.kinds.get(k);
    if (s !== undefined) out[k] = toStats(s);
  }
  return { ...out, all: toStats(rec.stats('all')) };
}
