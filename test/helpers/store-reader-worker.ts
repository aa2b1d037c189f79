// Worker side of the torn-read test in test/store.test.ts: attaches to a SharedStore as a reader and reads its keys
// in a bounded loop while the main thread writes and compacts, checking every record it sees against the shape the
// writer gives each version (see versionOf / payloadFor below, shared with the test).
//
// Control block (Int32Array over a SharedArrayBuffer, fields named in READER_CTRL): the main thread sets STOP; the
// worker bumps READS after every read and notifies every 16 (the writer waits on it so that reads really interleave
// with its writes) and
// posts its tallies when done. Loaded on the main thread (by the test's import of the shape helpers) it does nothing.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { BUSY, SharedStore, type StoreBuffers } from '../../runtime/host/store.js';
import type { Stamped, Value } from '../../actors/types.js';
import type { Clock } from '../../actors/versioning/dvv.js';

export const READER_CTRL = Object.freeze({ STOP: 0, READS: 1, FIELDS: 4 });
/** the reader stops on its own after this many reads, so it cannot outlive a test that failed to stop it */
export const READER_MAX_READS = 20_000_000;

export interface ReaderData {
  store: StoreBuffers;
  ctrl: SharedArrayBuffer;
  keys: string[];
}

export interface ReaderReport {
  reads: number;
  found: number;
  busy: number;
  /** reads that found no record, a malformed one, or an older version than an earlier read did */
  anomalies: string[];
  /** reads that saw a version different from the previous read of the same key */
  changes: number;
}

/** The payload of version `n` of `key`: its length and filler both derive from (key, n), so a torn one shows. */
export function payloadFor(key: string, n: number): string {
  const filler = String.fromCharCode(97 + ((n + key.length) % 26));
  return `${key}#${n}#` + filler.repeat(20 + ((n * 37) % 180));
}

export function clockFor(key: string, n: number): Clock<Stamped> {
  const v = payloadFor(key, n);
  return { entries: [{ id: 'r1', n, values: [{ v, ts: n, by: 'r1' }] }], anonymous: [] };
}

/** The version a value claims to be, or -1 if it is not exactly payloadFor(key, that version). */
export function versionOf(key: string, v: Value | null): number {
  if (typeof v !== 'string') return -1;
  const parts = v.split('#');
  if (parts.length !== 3 || parts[0] !== key) return -1;
  const n = Number(parts[1]);
  return Number.isInteger(n) && payloadFor(key, n) === v ? n : -1;
}

function checkClock(key: string, c: Clock<Stamped>): number {
  if (c.entries.length !== 1 || c.anonymous.length !== 0) return -1;
  const e = c.entries[0];
  if (e.id !== 'r1' || e.values.length !== 1 || e.values[0].ts !== e.n || e.values[0].by !== 'r1') return -1;
  return versionOf(key, e.values[0].v) === e.n ? e.n : -1;
}

function readOnce(store: SharedStore, key: string, round: number): number | undefined | typeof BUSY {
  if (round % 2 === 0) {
    const c = store.get(key);
    return c === BUSY || c === undefined ? c : checkClock(key, c);
  }
  const values = store.getValues(key);
  if (values === BUSY || values === undefined) return values;
  return values.length === 1 ? versionOf(key, values[0]) : -1;
}

function run(data: ReaderData): ReaderReport {
  const store = SharedStore.attach(data.store, 'reader');
  const ctrl = new Int32Array(data.ctrl);
  const last = new Map<string, number>();
  const report: ReaderReport = { reads: 0, found: 0, busy: 0, anomalies: [], changes: 0 };
  while (Atomics.load(ctrl, READER_CTRL.STOP) === 0 && report.reads < READER_MAX_READS) {
    const key = data.keys[report.reads % data.keys.length];
    const seen = readOnce(store, key, Math.floor(report.reads / data.keys.length));
    report.reads++;
    // Wake a writer waiting for reads every 16 reads (notify takes a lock; once per read would slow reads down).
    if ((Atomics.add(ctrl, READER_CTRL.READS, 1) & 15) === 15) Atomics.notify(ctrl, READER_CTRL.READS);
    if (seen === BUSY) {
      report.busy++;
      continue;
    }
    if (seen === undefined) {
      // every key exists from before the reader starts to the end: missing means a lookup went wrong
      if (report.anomalies.length < 10) report.anomalies.push(`${key}: missing`);
      continue;
    }
    report.found++;
    const before = last.get(key) ?? -1;
    if (seen < 0 || seen < before) {
      if (report.anomalies.length < 10) report.anomalies.push(`${key}: saw ${seen} after ${before}`);
      continue;
    }
    if (seen !== before) report.changes++;
    last.set(key, seen);
  }
  return report;
}

if (!isMainThread && parentPort !== null) {
  parentPort.postMessage(run(workerData as ReaderData));
}
