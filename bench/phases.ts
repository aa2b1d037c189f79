// The phases of a run after the cluster is up: load the keys, run the workload until its deadline (or operation
// count), settle (heal, hints delivered, one anti-entropy round), and verify (read every key back). Each reports its
// progress, and its completion, through deps.onProgress.
import type { DriverClock } from './faults.js';
import { outcomeOf, type Driver } from './driver.js';
import type { Recorder } from './recorder.js';
import type { BenchCluster, BenchSpec, Progress, RunDeps } from './spec.js';
import { keyName, valueId, type Workload } from './workloads.js';

const PROGRESS_EVERY_MS = 100;
const LOAD_PROGRESS_EVERY = 1000;
const SETTLE_TIMEOUT_MS = 10_000;

/** Runs `count` tasks with at most `width` in flight. */
export async function pool(count: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, lane));
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  return Promise.race([p.catch(() => undefined), t]).finally(() => clearTimeout(timer));
}

function counted(phase: 'load' | 'verify', done: number, total: number, elapsedMs: number, errors: number): Progress {
  return { phase, done, total, unit: 'ops', elapsedMs, opsPerSec: elapsedMs > 0 ? (done * 1000) / elapsedMs : 0, errors };
}

/** Writes every key at ALL, so that every replica starts from the same state; the oracle sees these writes too. */
export async function load(driver: Driver, spec: BenchSpec, deps: RunDeps, notes: string[]): Promise<void> {
  const t0 = deps.clock.nowMs();
  const total = spec.workload.keys;
  let failures = 0;
  let done = 0;
  deps.onProgress?.(counted('load', 0, total, 0, 0));
  await pool(total, Math.max(64, spec.inFlight), async (i) => {
    const r = await driver.writeValue(keyName(i), `L${i.toString(36)}`, undefined, { consistency: 'ALL' });
    if (r.outcome !== 'ok') failures++;
    if (++done % LOAD_PROGRESS_EVERY === 0 && done < total) deps.onProgress?.(counted('load', done, total, deps.clock.nowMs() - t0, failures));
  });
  deps.onProgress?.(counted('load', total, total, deps.clock.nowMs() - t0, failures));
  if (failures > 0) notes.push(`${failures} of ${total} loading writes at ALL failed`);
}

/** What the run phase measured: its length, and what was still in flight when it ended. */
export interface RunWindow {
  /** the run's length: the deadline for a duration run, the last completion for an operation-count run */
  runMs: number;
  /** how long the operations in flight at the deadline took to finish after it (0 for an operation-count run) */
  drainMs: number;
}

/** Closed loops issue operations until the deadline (or the operation count); none is issued after it. */
export async function runWorkload(driver: Driver, workload: Workload, rec: Recorder, spec: BenchSpec, deps: RunDeps, originMs: number): Promise<RunWindow> {
  const clock = deps.clock;
  const endAt = spec.durationMs === undefined ? Infinity : originMs + spec.durationMs;
  let issued = 0;
  const report = progressReporter(rec, spec, deps, originMs);
  const more = (): boolean => (spec.operations === undefined ? clock.nowMs() < endAt : issued < spec.operations);
  const lane = async (): Promise<void> => {
    while (more()) {
      issued++;
      const op = workload.next();
      await driver.perform(op.kind, op.key);
      report(false);
    }
  };
  await Promise.all(Array.from({ length: spec.inFlight }, lane));
  const lastMs = clock.nowMs() - originMs;
  report(true);
  if (spec.durationMs === undefined) return { runMs: lastMs, drainMs: 0 };
  return { runMs: Math.min(lastMs, spec.durationMs), drainMs: Math.max(0, lastMs - spec.durationMs) };
}

function progressReporter(rec: Recorder, spec: BenchSpec, deps: RunDeps, originMs: number): (final: boolean) => void {
  let lastMs = originMs;
  let lastDone = 0;
  return (final) => {
    if (deps.onProgress === undefined) return;
    const now = deps.clock.nowMs();
    if (!final && now - lastMs < PROGRESS_EVERY_MS) return;
    const done = rec.completed;
    const elapsedMs = now - originMs;
    const opsPerSec = final ? (elapsedMs > 0 ? (done * 1000) / elapsedMs : 0) : ((done - lastDone) * 1000) / (now - lastMs);
    [lastMs, lastDone] = [now, done];
    const byTime = spec.operations === undefined;
    deps.onProgress({
      phase: 'run',
      done: byTime ? (final ? spec.durationMs! : Math.min(elapsedMs, spec.durationMs!)) : done,
      total: byTime ? spec.durationMs! : spec.operations!,
      unit: byTime ? 'ms' : 'ops',
      elapsedMs,
      opsPerSec,
      errors: rec.errors,
    });
  };
}

/** Waits for hints to be delivered (settle) and runs one anti-entropy round, so the final read sees converged replicas. */
export async function settle(cluster: BenchCluster, clock: DriverClock, deps: RunDeps, notes: string[]): Promise<number> {
  const s0 = clock.nowMs();
  const at = (done: number): Progress => ({ phase: 'settle', done, total: 1, unit: 'ops', elapsedMs: clock.nowMs() - s0, opsPerSec: 0, errors: 0 });
  deps.onProgress?.(at(0));
  if (cluster.settle) {
    if ((await withTimeout(cluster.settle().then(() => true), SETTLE_TIMEOUT_MS)) !== true) notes.push('settle() did not finish in 10 s');
  } else {
    notes.push('this cluster has no settle(): the final read ran 100 ms after healing, without waiting for hints');
    await clock.sleepMs(100);
  }
  if (cluster.repair) {
    if ((await withTimeout(cluster.repair().then(() => true), SETTLE_TIMEOUT_MS)) !== true) notes.push('repair() did not finish in 10 s');
  }
  deps.onProgress?.(at(1));
  return clock.nowMs() - s0;
}

const VERIFY_LEVELS = ['ALL', 'QUORUM', 'ONE'] as const;

export interface Verified {
  finals: Map<string, string[] | null>;
  levels: Record<string, number>;
}

/** Reads every key the run may have written, at ALL (falling back to QUORUM, then ONE, where ALL cannot be met). */
export async function verify(cluster: BenchCluster, keys: string[], width: number, deps: RunDeps): Promise<Verified> {
  const finals = new Map<string, string[] | null>();
  const levels: Record<string, number> = { ALL: 0, QUORUM: 0, ONE: 0, failed: 0 };
  const t0 = deps.clock.nowMs();
  let done = 0;
  deps.onProgress?.(counted('verify', 0, keys.length, 0, 0));
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
    if (++done % LOAD_PROGRESS_EVERY === 0 && done < keys.length) deps.onProgress?.(counted('verify', done, keys.length, deps.clock.nowMs() - t0, levels.failed));
  });
  deps.onProgress?.(counted('verify', keys.length, keys.length, deps.clock.nowMs() - t0, levels.failed));
  return { finals, levels };
}
